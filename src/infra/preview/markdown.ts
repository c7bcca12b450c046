/**
 * A preview as the Markdown of one pull-request comment. Risks (breaking schema changes, data loss,
 * privilege widening) come first and are never cut. The rest fits GitHub's 65,536-character limit by
 * giving up detail in a fixed order, each step saying what was left out and how to see it all:
 *
 *  0. the data section's details (`diff --data`: columns and example rows of each changed asset); its
 *     verdict lines are cut with the tables in step 4 (broken expectations kept) and go in step 5;
 *  1. the resources of changes that carry no risk: one line per asset instead of one per resource;
 *  2. the detail block of each modified asset that breaks nothing, then of those that break a consumer;
 *  3. the graph: first only the changed assets and their direct consumers, then no graph at all;
 *  4. the tail of long tables and lists (the most rows that fit, the same number for each), keeping
 *     every breaking producer, broken consumer, and flagged plan item and resource;
 *  5. when the risks alone are too long: everything but them, then each risk's message, shortened and
 *     then left out (its kind, stack, asset and subject stay), then the subjects of each stack and
 *     asset, and at last of each stack, written on one line. A risk is never dropped, so only past all
 *     that can the comment exceed the limit (GitHub then refuses it: the caller should check).
 *
 * Each section is rendered from the preview and the step alone, and measured; the sections a step does
 * not touch are reused, so the whole costs a few renders of the preview (a binary search for step 4).
 */

import { typeText } from "./graph-diff.ts";
import { dataSection } from "./markdown-data.ts";
import { type PreviewMermaid, previewMermaid } from "./mermaid.ts";
import type {
  AssetModification,
  ColumnChange,
  GraphDiff,
  Impact,
  PlanItemChange,
  Preview,
  ProposedSchemaChange,
  ResourceChange,
  Risk,
  StackPreview,
} from "./types.ts";

/** GitHub's limit on a comment's characters. */
export const COMMENT_LIMIT = 65_536;
/** The comment's first line, by which the workflow finds it again. */
export const MARKER = "<!-- tributary-preview -->";
const ALL = "run `tributary diff --format json` for all";
/** Assets in the graph past which it is drawn inside a `<details>` block. */
const GRAPH_OPEN_NODES = 40;
/** Nodes of the graph once it must shrink: the changed assets and their direct consumers. */
const GRAPH_SMALL_NODES = 60;
/** Rows of the impact table past which it is collapsed. */
const IMPACT_OPEN_ROWS = 15;

export interface MarkdownOptions {
  /**
   * Characters the comment may have (default `COMMENT_LIMIT`); the comment aims at 99% of it, for the
   * workflow's own additions. Exceeded only when the risks alone, each in its shortest form, are longer.
   */
  readonly limit?: number;
  /** The heading (default "Tributary preview"). */
  readonly title?: string;
  /** The first line (default `MARKER`). */
  readonly marker?: string;
}

/** How much detail a render keeps; `LADDER` gives it up step by step. */
interface Level {
  /** Each resource of an unflagged change ("all"), or one line per asset whose changes carry no risk. */
  readonly resources: "all" | "flagged";
  /** A details block per modified asset, only for those that break a consumer, or none. */
  readonly assetDetail: "all" | "breaking" | "none";
  readonly graph: "full" | "small" | "none";
  /** Rows of each long table or list beyond the flagged ones; Infinity: all. */
  readonly rows: number;
  /** Flagged rows (breaking, broken, data loss, privilege) kept beyond `rows`: false once the risks alone overflow. */
  readonly flagged: boolean;
  /** Characters of each risk's message; Infinity: whole, 0: none. */
  readonly riskMessage: number;
  /**
   * Risks one per line ("none"), or the subjects of each stack and asset, or of each stack, on one
   * line, without messages: the last resort when even the shortest lines do not fit.
   */
  readonly riskGrouping: "none" | "asset" | "stack";
  /** The data section (`diff --data`): verdict lines with each changed asset's details, the lines alone, or none. */
  readonly data: "all" | "verdicts" | "none";
}

const FULL: Level = {
  resources: "all",
  assetDetail: "all",
  graph: "full",
  rows: Number.POSITIVE_INFINITY,
  flagged: true,
  riskMessage: Number.POSITIVE_INFINITY,
  riskGrouping: "none",
  data: "all",
};

/** Steps 0 to 3, in order: the data section's details give way first. */
const LADDER: readonly Level[] = [
  FULL,
  ...(
    [
      { resources: "all" },
      { resources: "flagged" },
      { resources: "flagged", assetDetail: "breaking" },
      { resources: "flagged", assetDetail: "none" },
      { resources: "flagged", assetDetail: "none", graph: "small" },
      { resources: "flagged", assetDetail: "none", graph: "none" },
    ] as const
  ).map((step): Level => ({ ...FULL, data: "verdicts", ...step })),
];

/** Step 5: the shortest forms, tried in order. */
const RISKS_ONLY: readonly Level[] = (
  [
    [Number.POSITIVE_INFINITY, "none"],
    [160, "none"],
    [60, "none"],
    [0, "none"],
    [0, "asset"],
    [0, "stack"],
  ] as const
).map(([riskMessage, riskGrouping]) => ({
  resources: "flagged",
  assetDetail: "none",
  graph: "none",
  rows: 0,
  flagged: false,
  riskMessage,
  riskGrouping,
  data: "none",
}));

/**
 * The comment: marker, title and verdict; risks; assets; downstream impact; graph; one section per
 * stack. The most detailed rendering that fits the limit (see the steps above); deterministic.
 */
export function renderMarkdown(preview: Preview, opts: MarkdownOptions = {}): string {
  const limit = Math.floor((opts.limit ?? COMMENT_LIMIT) * 0.99);
  const r = new Renderer(preview, opts);
  for (const level of LADDER) {
    const text = r.render(level);
    if (text.length <= limit) return text;
  }
  // Step 4: the most rows per table that fit, found by halving between none and the longest table.
  const cut = LADDER[LADDER.length - 1]!;
  let lo = 0;
  let hi = r.longestList() - 1;
  let best: string | undefined;
  while (lo <= hi) {
    const rows = Math.floor((lo + hi) / 2);
    const text = r.render({ ...cut, rows });
    if (text.length <= limit) {
      best = text;
      lo = rows + 1;
    } else hi = rows - 1;
  }
  if (best !== undefined) return best;
  let text = "";
  for (const level of RISKS_ONLY) {
    text = r.render(level);
    if (text.length <= limit) return text;
  }
  return text;
}

// Text from the preview is written through one of these, by where it lands.

/**
 * Text for a table cell or a list item: one line, and nothing Markdown or HTML would read as syntax
 * (a `|` would split the cell, `<` open a tag, a backtick or `*` start a span).
 */
export function cell(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replaceAll("\\", "\\\\")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll("|", "\\|")
    .replaceAll("`", "\\`")
    .replaceAll("*", "\\*")
    .replaceAll("_", "\\_");
}

/** Our own sentences with text from the preview in them (risk messages): one line, no HTML; their code spans kept. */
function prose(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

/** Text inside an HTML element (a `<summary>`), where Markdown is not read. */
function html(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * A code span, for keys, ids, types, paths, schedules. Markdown is not read inside it, but a table still
 * splits it at a `|`: in a table, only for asset keys, which hold none.
 */
const code = (s: string) => `\`${s.replace(/[\r\n]+/g, " ").replaceAll("`", "'")}\``;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const more = (total: number, shown: number): string[] =>
  total > shown ? [`… and ${total - shown} more (${ALL}).`, ""] : [];

/** The flagged items, then at most `rows` of the others (all of them when `flagged` is off), in that order. */
function pick<T>(items: readonly T[], isFlagged: (t: T) => boolean, level: Level): T[] {
  const shown: T[] = [];
  if (level.flagged) for (const t of items) if (isFlagged(t)) shown.push(t);
  let rest = 0;
  for (const t of items) {
    if (level.flagged && isFlagged(t)) continue;
    if (rest++ >= level.rows) break;
    shown.push(t);
  }
  return shown;
}

const RISK_TITLES: Readonly<Record<Risk["kind"], string>> = {
  "breaking-schema": "Breaking schema changes",
  "data-loss": "Data loss",
  "privilege-widening": "Privilege widening",
  "pii-flow": "New personal data flows",
  "data-expectation": "Broken data expectations",
};

/** A count of risks of one kind: "1 breaking schema change", "2 data-loss risks". */
const RISK_COUNTS: Readonly<Record<Risk["kind"], readonly [string, string]>> = {
  "breaking-schema": ["breaking schema change", "breaking schema changes"],
  "data-loss": ["data-loss risk", "data-loss risks"],
  "privilege-widening": ["privilege widening", "privilege widenings"],
  "pii-flow": ["new personal-data flow", "new personal-data flows"],
  "data-expectation": ["broken data expectation", "broken data expectations"],
};

/** How a flagged plan item or resource is marked, in words, the same everywhere. */
const FLAG: Readonly<Record<"data-loss" | "privilege-widening", string>> = {
  "data-loss": "**data loss**",
  "privilege-widening": "**widens privilege**",
};

const SOURCE: Readonly<Record<StackPreview["source"], string>> = {
  synth: "the Pulumi program synthesised at both revisions",
  plan: "the deployment plans",
  "pulumi-preview": "`pulumi preview`",
};

/** Plan sections in the order they are listed, with the word for one item. */
const SECTIONS: readonly (readonly [PlanItemChange["section"], string, string])[] = [
  ["stack", "Stack settings", "stack setting"],
  ["stores", "Stores", "store"],
  ["buses", "Buses", "bus"],
  ["streams", "Streams", "stream"],
  ["functions", "Functions", "function"],
  ["triggers", "Triggers", "trigger"],
  ["grants", "Grants", "grant"],
  ["secrets", "Secrets", "secret"],
  ["alarms", "Alarms", "alarm"],
];
const ITEM = new Map(SECTIONS.map(([s, , word]) => [s, word]));
const OPS = ["create", "update", "replace", "delete", "add", "change", "remove"] as const;

/** The resource changes of one asset (or of the stack as a whole) in one stack. */
interface Group {
  readonly asset: string | undefined;
  readonly changes: readonly ResourceChange[];
  readonly flagged: readonly ResourceChange[];
}

/** One stack, grouped and flagged once for every render. */
interface StackData {
  readonly stack: StackPreview;
  /** Plan items in section order, each with its risks' kinds. */
  readonly plan: readonly { readonly item: PlanItemChange; readonly flags: readonly Risk["kind"][] }[];
  /** Groups holding a flagged change first, then the others, each in order of first appearance. */
  readonly groups: readonly Group[];
  readonly flagsOf: (r: ResourceChange) => readonly Risk["kind"][];
}

class Renderer {
  private readonly cache = new Map<string, string>();
  private readonly stacks: readonly StackData[];
  private readonly mermaid = new Map<string, PreviewMermaid>();

  private readonly p: Preview;
  private readonly opts: MarkdownOptions;

  constructor(p: Preview, opts: MarkdownOptions) {
    this.p = p;
    this.opts = opts;
    this.stacks = p.stacks.map((s) => stackData(s, p.risks));
  }

  /** Rows of the longest table or list, past which cutting rows changes nothing. */
  longestList(): number {
    const g = this.p.graph;
    return Math.max(
      g ? g.added.length + g.removed.length + g.modified.length : 0,
      g ? g.impact.length : 0,
      this.p.data?.assets.length ?? 0,
      ...this.stacks.map((s) => Math.max(s.plan.length, s.groups.length)),
    );
  }

  render(level: Level): string {
    const p = this.p;
    const sections = [this.section(`head`, () => this.head())];
    if (p.risks.length > 0) {
      sections.push(
        this.section(`risks ${level.riskMessage} ${level.riskGrouping}`, () => risks(p.risks, level)),
      );
    }
    if (p.schemaChanges && p.schemaChanges.length > 0) {
      const changes = p.schemaChanges;
      sections.push(this.section("schema changes", () => proposedSchemaChanges(changes)));
    }
    if (nothingChanged(p)) {
      const notes = p.stacks.flatMap((s) => (s.notes ?? []).map((n) => `- ${code(s.stack)}: ${cell(n)}`));
      const what = p.graph ? "the graph and every stack are" : "every stack is";
      sections.push([`No changes: ${what} the same at both revisions.`, "", ...notes].join("\n"));
    } else {
      const g = p.graph;
      const rows = `${level.rows} ${level.flagged}`;
      if (g) {
        sections.push(this.section(`assets ${rows} ${level.assetDetail}`, () => assets(g, level)));
        sections.push(this.section(`impact ${rows}`, () => impact(g.impact, level)));
        const d = p.data;
        if (d && level.data !== "none") {
          sections.push(
            this.section(`data ${rows} ${level.data}`, () =>
              dataSection(d, { detail: level.data === "all", rows: level.rows }, cell, ALL),
            ),
          );
        }
        sections.push(this.section(`graph ${level.graph}`, () => this.graph(g, level.graph)));
      }
      this.stacks.forEach((s, i) => {
        sections.push(this.section(`stack ${i} ${rows} ${level.resources}`, () => stack(s, level)));
      });
    }
    return `${sections
      .filter((s) => s.length > 0)
      .join("\n\n")
      .trimEnd()}\n`;
  }

  private section(key: string, make: () => string | readonly string[]): string {
    let text = this.cache.get(key);
    if (text === undefined) {
      const made = make();
      text = (typeof made === "string" ? made : made.join("\n")).replace(/\n{3,}/g, "\n\n").trim();
      this.cache.set(key, text);
    }
    return text;
  }

  private head(): string[] {
    const p = this.p;
    const out = [this.opts.marker ?? MARKER, `## ${this.opts.title ?? "Tributary preview"}`, ""];
    const rev = (r: { readonly ref: string; readonly commit: string }) =>
      `${code(r.ref)} ${r.commit.slice(0, 7)}`;
    if (p.base && p.head) out.push(`${rev(p.base)} → ${rev(p.head)}`, "");
    else if (p.head) out.push(`at ${rev(p.head)}`, "");
    const verdict =
      p.risks.length === 0
        ? "✅ No breaking change, data loss or privilege widening."
        : `⚠️ **${plural(p.risks.length, "risk")}** to review: ${riskCounts(p.risks)}.`;
    const parts: string[] = [];
    const g = p.graph;
    if (g) {
      parts.push(
        `assets: ${g.added.length} added, ${g.removed.length} removed, ${g.modified.length} modified`,
        `${plural(g.impact.length, "asset")} to re-materialise`,
      );
    }
    for (const s of p.stacks) parts.push(`${code(s.stack)}: ${counts(s.summary) || "no change"}`);
    out.push(verdict, "", parts.join(" · "));
    return out;
  }

  private graph(g: GraphDiff, how: Level["graph"]): string[] {
    if (g.added.length + g.removed.length + g.modified.length + g.edges.length === 0) return [];
    if (how === "none") {
      return ["### Graph", "", `Not drawn, to fit one comment: ${ALL}, or \`tributary lineage\`.`];
    }
    let m = this.mermaid.get(how);
    if (!m) {
      m = previewMermaid(g, how === "small" ? { maxNodes: GRAPH_SMALL_NODES } : {});
      this.mermaid.set(how, m);
    }
    const fence = ["```mermaid", m.text.trimEnd(), "```"];
    const out = ["### Graph", ""];
    if (m.shown > GRAPH_OPEN_NODES) {
      out.push(
        `<details><summary>${plural(m.shown, "asset")}: the changed ones and their downstream</summary>`,
        "",
        ...fence,
        "",
        "</details>",
      );
    } else out.push(...fence);
    if (m.omitted + m.omittedEdges > 0) {
      out.push(
        "",
        `Drawn: the changed assets and their direct consumers, as many as fit; ${plural(m.omitted, "asset")} and ${plural(m.omittedEdges, "edge")} left out (\`tributary lineage\` draws the whole graph).`,
      );
    }
    return out;
  }
}

/** The proposed schema changes of CDC sources read from the store: never cut, one line each. */
function proposedSchemaChanges(list: readonly ProposedSchemaChange[]): string[] {
  const out = [
    "### Proposed schema changes",
    "",
    "Columns the sources' landed events have and their declared rows did not at the base (ingest accepted them):",
    "",
  ];
  for (const c of list) {
    const seen = `${plural(c.events, "event")}, first in ${code(c.first.file)} line ${c.first.line} (batch ${code(c.first.batch)})`;
    const what = c.declared
      ? "declared by this change"
      : `not declared: add it to the row of ${code(c.source)} to read it`;
    out.push(
      `- ${code(c.source)}: new column ${code(c.column)} (${cell(c.types.join(", "))}) in ${seen}: ${what}.`,
    );
  }
  return out;
}

function nothingChanged(p: Preview): boolean {
  const g = p.graph;
  return (
    (!g || g.added.length + g.removed.length + g.modified.length === 0) &&
    p.stacks.every((s) => (s.plan?.length ?? 0) + (s.resources?.length ?? 0) === 0)
  );
}

function counts(summary: Readonly<Record<string, number>>): string {
  return OPS.filter((op) => (summary[op] ?? 0) > 0)
    .map((op) => `${summary[op]} to ${op}`)
    .join(", ");
}

function opCounts(list: readonly ResourceChange[]): string {
  const by: Record<string, number> = {};
  for (const r of list) by[r.op] = (by[r.op] ?? 0) + 1;
  return counts(by);
}

function riskCounts(list: readonly Risk[]): string {
  return (Object.keys(RISK_TITLES) as Risk["kind"][])
    .map((k) => [k, list.filter((r) => r.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${RISK_COUNTS[k][n === 1 ? 0 : 1]}`)
    .join(", ");
}

/** A risk's subject as written: a URN by its logical name. */
function subjectText(subject: string): string {
  return subject.startsWith("urn:") ? subject.slice(subject.lastIndexOf("::") + 2) : subject;
}

function shorten(text: string, chars: number): string {
  const c = [...text];
  return c.length > chars
    ? `${c
        .slice(0, chars - 1)
        .join("")
        .trimEnd()}…`
    : text;
}

function risks(list: readonly Risk[], level: Level): string[] {
  const out = ["### ⚠️ Risks", ""];
  if (level.riskGrouping !== "none") {
    out.push(
      `Too many to list one by one in a comment: each stack's${level.riskGrouping === "asset" ? " and asset's" : ""} risks on one line (${ALL}).`,
      "",
    );
  }
  for (const kind of Object.keys(RISK_TITLES) as Risk["kind"][]) {
    const of = list.filter((r) => r.kind === kind);
    if (of.length === 0) continue;
    out.push(`**${RISK_TITLES[kind]}**`, "");
    if (level.riskGrouping !== "none") {
      // The subjects of each stack (and asset), in order of first appearance.
      const groups = new Map<string, { where: string[]; subjects: string[] }>();
      for (const r of of) {
        const where = [r.stack, level.riskGrouping === "asset" ? r.asset : undefined].filter(
          (w): w is string => w !== undefined,
        );
        const key = where.join("\0");
        const group = groups.get(key) ?? { where, subjects: [] };
        group.subjects.push(subjectText(r.subject));
        groups.set(key, group);
      }
      for (const { where, subjects } of groups.values()) {
        const head = where.map(code).join(" · ");
        out.push(`- ${head ? `${head}: ` : ""}${subjects.map(code).join(", ")}`);
      }
      out.push("");
      continue;
    }
    for (const r of of) {
      const subject = subjectText(r.subject);
      const named = new Set(subject.split(/[^a-z0-9_]+/));
      const where = [r.stack, r.asset && !named.has(r.asset) ? r.asset : undefined]
        .filter((w): w is string => w !== undefined)
        .map(code);
      const message = level.riskMessage > 0 ? `: ${prose(shorten(r.message, level.riskMessage))}` : "";
      out.push(`- ${[...where, code(subject)].join(" · ")}${message}`);
    }
    out.push("");
  }
  return out;
}

function what(m: AssetModification): string {
  const parts: string[] = [];
  if (m.schema) parts.push(`schema (${m.schema.verdict})`);
  if (m.table) parts.push("Iceberg table (cannot evolve)");
  if (m.code) parts.push(m.code.sql ? "SQL" : "code version");
  if (m.dependencies) parts.push("dependencies");
  if (m.partitions) parts.push("partitions");
  if (m.checks) parts.push("checks");
  if (m.schedule) parts.push("schedule");
  if (m.ownership) parts.push("owners");
  if (m.tags) parts.push("tags");
  for (const o of m.other ?? []) parts.push(o.field);
  return parts.join(", ");
}

const breaks = (m: AssetModification) =>
  m.table !== undefined || (m.schema?.consumers.some((c) => c.verdict === "breaking") ?? false);
const owners = (list: readonly string[]) => cell(list.join(", ")) || "-";

function assets(g: GraphDiff, level: Level): string[] {
  type Row = { readonly text: string; readonly breaking: boolean };
  const rows: Row[] = [
    ...g.modified.map((m) => ({
      text: `| ${code(m.key)} | modified | ${owners(m.owners)} | ${cell(what(m))} |`,
      breaking: breaks(m),
    })),
    ...g.added.map((a) => ({
      text: `| ${code(a.key)} | added | ${owners(a.owners)} | ${cell(`${a.kind}, ${a.partitions}`)} |`,
      breaking: false,
    })),
    ...g.removed.map((a) => ({
      text: `| ${code(a.key)} | removed | ${owners(a.owners)} | ${cell(`${a.kind}, ${a.partitions}`)} |`,
      breaking: false,
    })),
  ];
  if (rows.length === 0) return [];
  // Producers that break a consumer first: a cut table still shows them.
  const sorted = [...rows.filter((r) => r.breaking), ...rows.filter((r) => !r.breaking)];
  const shown = pick(sorted, (r) => r.breaking, level);
  const out = [
    "### Assets",
    "",
    "| asset | change | owners | what changed |",
    "| --- | --- | --- | --- |",
    ...shown.map((r) => r.text),
    "",
    ...more(rows.length, shown.length),
  ];
  if (level.assetDetail !== "none") {
    for (const m of g.modified) if (level.assetDetail === "all" || breaks(m)) out.push(...assetDetail(m));
  }
  return out;
}

function column(c: ColumnChange): string {
  switch (c.kind) {
    case "added":
      return `added ${code(c.column.name)} ${typeText(c.column)}`;
    case "removed":
      return `removed ${code(c.column.name)} ${typeText(c.column)}${c.renamedTo ? ` (renamed to ${code(c.renamedTo)}?)` : ""}`;
    case "retyped":
      return `retyped ${code(c.name)} ${typeText(c.from)} → ${typeText(c.to)}`;
  }
}

function assetDetail(m: AssetModification): string[] {
  const out = [`<details><summary><code>${html(m.key)}</code>: ${html(what(m))}</summary>`, ""];
  if (m.schema) {
    out.push(`Schema, ${m.schema.verdict}:`, "", ...m.schema.columns.map((c) => `- ${column(c)}`), "");
    if (m.schema.consumers.length > 0) {
      out.push("| consumer | verdict | reads | why |", "| --- | --- | --- | --- |");
      for (const c of m.schema.consumers) {
        const reads = cell(c.reads.join(", ")) || "-";
        out.push(
          `| ${code(c.consumer)} | ${c.verdict === "breaking" ? "**breaking**" : c.verdict} | ${reads} (${c.readsFrom}) | ${cell(c.reason)} |`,
        );
      }
      out.push("");
    }
  }
  if (m.table) {
    out.push("Its Iceberg table, **breaking**:", "", ...m.table.unevolvable.map((r) => `- ${cell(r)}`), "");
  }
  const line = (label: string, text: string) => out.push(`- ${label}: ${text}`);
  const fromTo = (from: string, to: string) => `${cell(from) || "-"} → ${cell(to) || "-"}`;
  if (m.code) {
    line(
      m.code.sql ? "SQL changed, code version" : "code version",
      `${code(m.code.from)} → ${code(m.code.to)}`,
    );
  }
  if (m.dependencies) {
    const d = m.dependencies;
    if (d.added.length) line("reads also", d.added.map(code).join(", "));
    if (d.removed.length) line("reads no more", d.removed.map(code).join(", "));
    for (const c of d.changed) line("dependency", cell(c));
  }
  if (m.partitions) line("partitions", `${code(m.partitions.from)} → ${code(m.partitions.to)}`);
  if (m.checks) {
    for (const c of m.checks.added) line("check added", cell(c));
    for (const c of m.checks.removed) line("check removed", cell(c));
    for (const c of m.checks.changed) line("check changed", cell(c));
  }
  if (m.schedule) line("schedule", `${code(m.schedule.from)} → ${code(m.schedule.to)}`);
  if (m.ownership) line("owners", fromTo(m.ownership.from.join(", "), m.ownership.to.join(", ")));
  if (m.tags) {
    line(
      "tags",
      cell([...m.tags.added.map((t) => `+${t}`), ...m.tags.removed.map((t) => `−${t}`)].join(", ")),
    );
  }
  for (const o of m.other ?? []) line(cell(o.field), fromTo(o.from, o.to));
  out.push("", "</details>", "");
  return out;
}

function impact(list: readonly Impact[], level: Level): string[] {
  if (list.length === 0) return [];
  // Broken consumers first: a cut table still shows them.
  const sorted = [...list.filter((i) => i.broken), ...list.filter((i) => !i.broken)];
  const shown = pick(sorted, (i) => i.broken, level);
  const table = [
    "| asset | owners | because of | re-materialised | |",
    "| --- | --- | --- | --- | --- |",
    ...shown.map(
      (i) =>
        `| ${code(i.key)} | ${owners(i.owners)} | ${i.because.map(code).join(", ")} | ${cell(i.partitions)} | ${i.broken ? "**breaks**" : ""} |`,
    ),
  ];
  const partitions = list.reduce((n, i) => n + i.partitionCount, 0);
  const broken = list.filter((i) => i.broken).length;
  const head = `${plural(list.length, "asset")}, ${plural(partitions, "partition")} in all${broken > 0 ? `; ${broken} broken` : ""}.`;
  return [
    "### Downstream impact",
    "",
    head,
    "",
    ...(shown.length > IMPACT_OPEN_ROWS
      ? ["<details><summary>Every impacted asset</summary>", "", ...table, "", "</details>"]
      : table),
    "",
    ...more(list.length, shown.length),
  ];
}

function stackData(s: StackPreview, all: readonly Risk[]): StackData {
  const mine = all.filter((r) => r.stack === s.stack && r.kind !== "breaking-schema");
  const byUrn = new Map<string, Risk["kind"][]>();
  for (const r of mine) byUrn.set(r.subject, [...(byUrn.get(r.subject) ?? []), r.kind]);
  const flagsOf = (r: ResourceChange): Risk["kind"][] => {
    const kinds = new Set(byUrn.get(r.urn) ?? []);
    if (r.dataLoss) kinds.add("data-loss");
    if (r.widensPrivilege) kinds.add("privilege-widening");
    return [...kinds].sort();
  };
  // A plan risk names its item "<item word> <id>", a store's with its physical name in parentheses.
  const byItem = new Map<string, Set<Risk["kind"]>>();
  for (const r of mine) {
    const item = r.subject.replace(/ \([^()]*\)$/, "");
    byItem.set(item, (byItem.get(item) ?? new Set()).add(r.kind));
  }
  const planFlags = (c: PlanItemChange): Risk["kind"][] =>
    [...(byItem.get(`${ITEM.get(c.section)} ${c.id}`) ?? [])].sort();
  const plan = SECTIONS.flatMap(([section]) =>
    (s.plan ?? []).filter((c) => c.section === section).map((item) => ({ item, flags: planFlags(item) })),
  );
  const byAsset = new Map<string | undefined, ResourceChange[]>();
  for (const r of s.resources ?? []) {
    const list = byAsset.get(r.asset);
    if (list) list.push(r);
    else byAsset.set(r.asset, [r]);
  }
  const groups = [...byAsset].map(([asset, changes]) => ({
    asset,
    changes,
    flagged: changes.filter((r) => flagsOf(r).length > 0),
  }));
  return {
    stack: s,
    plan,
    groups: [...groups.filter((g) => g.flagged.length > 0), ...groups.filter((g) => g.flagged.length === 0)],
    flagsOf,
  };
}

function stack(d: StackData, level: Level): string[] {
  const s = d.stack;
  const out = [
    `### Stack ${code(s.stack)}${s.cloud ? ` (${cell(s.cloud)})` : ""}`,
    "",
    `From ${SOURCE[s.source]}: ${counts(s.summary) || "no change"}${s.summary.same ? `, ${s.summary.same} unchanged` : ""}.`,
    "",
  ];
  for (const n of s.notes ?? []) out.push(`> ${cell(n)}`, "");

  if (d.plan.length > 0) {
    const shown = new Set(pick(d.plan, (c) => c.flags.length > 0, level));
    out.push(`<details><summary>Plan: ${plural(d.plan.length, "change")}</summary>`, "");
    for (const [section, title] of SECTIONS) {
      const items = d.plan.filter((c) => c.item.section === section && shown.has(c));
      if (items.length === 0) continue;
      out.push(`${title}:`, "", ...items.map(planLine), "");
    }
    out.push(...more(d.plan.length, shown.size), "</details>", "");
  }

  if (d.groups.length === 0) return out;
  const title = (g: Group) => (g.asset === undefined ? "stack-wide" : html(g.asset));
  if (level.resources === "all") {
    for (const g of d.groups) {
      out.push(`<details><summary>${title(g)}: ${opCounts(g.changes)}</summary>`, "");
      for (const r of g.changes) out.push(resourceLine(r, d.flagsOf(r)));
      out.push("", "</details>", "");
    }
    return out;
  }
  // Flagged resources listed in their asset's block; every other asset's changes as one line.
  const flaggedGroups = new Set(level.flagged ? d.groups.filter((g) => g.flagged.length > 0) : []);
  for (const g of flaggedGroups) {
    out.push(`<details><summary>${title(g)}: ${opCounts(g.changes)}</summary>`, "");
    for (const r of g.flagged) out.push(resourceLine(r, d.flagsOf(r)));
    const flagged = new Set(g.flagged);
    const rest = g.changes.filter((r) => !flagged.has(r));
    if (rest.length > 0) out.push(`- and ${opCounts(rest)}, none flagged`);
    out.push("", "</details>", "");
  }
  const others = d.groups.filter((g) => !flaggedGroups.has(g));
  if (others.length > 0) {
    const changes = others.flatMap((g) => g.changes);
    const shown = others.slice(0, level.rows);
    const whose = plural(others.length, flaggedGroups.size > 0 ? "other asset" : "asset");
    const label = level.flagged ? "none flagged" : "the flagged ones under Risks";
    out.push(
      `<details><summary>Resources of ${whose}, ${label}: ${opCounts(changes)}</summary>`,
      "",
      ...shown.map(
        (g) => `- ${g.asset === undefined ? "stack-wide" : code(g.asset)}: ${opCounts(g.changes)}`,
      ),
      "",
      ...more(others.length, shown.length),
      "</details>",
      "",
    );
  }
  return out;
}

function flagText(flags: readonly Risk["kind"][]): string {
  const words = flags.filter((f) => f !== "breaking-schema").map((f) => FLAG[f as keyof typeof FLAG]);
  return words.length > 0 ? ` ${words.join(" ")}` : "";
}

function planLine(c: { readonly item: PlanItemChange; readonly flags: readonly Risk["kind"][] }): string {
  const fields = c.item.fields && c.item.fields.length > 0 ? `: ${cell(c.item.fields.join("; "))}` : "";
  return `- ${c.item.op} ${ITEM.get(c.item.section)} ${code(c.item.id)}${fields}${flagText(c.flags)}`;
}

function paths(list: readonly string[], max: number): string {
  const shown = list.slice(0, max).map(code).join(", ");
  return list.length > max ? `${shown} and ${list.length - max} more` : shown;
}

function resourceLine(r: ResourceChange, flags: readonly Risk["kind"][]): string {
  const replaceKeys = r.replaceKeys ?? [];
  const changed = (r.changed ?? []).filter((c) => !replaceKeys.includes(c));
  const detail = [
    replaceKeys.length > 0 ? `replaced because ${paths(replaceKeys, 8)} changed` : "",
    (r.op === "update" || r.op === "replace") && changed.length > 0
      ? `${replaceKeys.length > 0 ? "also changes" : "changes"} ${paths(changed, 8)}`
      : "",
    r.unknown?.length ? `known after deploy: ${paths(r.unknown, 5)}` : "",
  ].filter(Boolean);
  return `- ${r.op} ${code(r.type)} ${code(r.name)}${flagText(flags)}${detail.length ? ` (${detail.join("; ")})` : ""}`;
}
