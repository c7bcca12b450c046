/**
 * A preview as the Markdown of one pull-request comment. Risks (breaking schema changes, data loss,
 * privilege widening) come first and are never cut. The rest fits GitHub's 65,536-character limit by
 * giving up detail in a fixed order: the resources of unflagged changes, then per-asset detail, then
 * the graph, then the tail of long tables, each step saying what was left out and how to see it all.
 */

import { typeText } from "./graph-diff.ts";
import { previewMermaid } from "./mermaid.ts";
import type {
  AssetModification,
  ColumnChange,
  PlanItemChange,
  Preview,
  ResourceChange,
  Risk,
  StackPreview,
} from "./types.ts";

export const COMMENT_LIMIT = 65_536;
export const MARKER = "<!-- tributary-preview -->";
const ALL = "run `tributary diff --format json` for all";

export interface MarkdownOptions {
  /** Characters the comment may have (default GitHub's 65,536, less a margin). */
  readonly limit?: number;
  readonly title?: string;
  /** The first line, by which the workflow finds its comment again. */
  readonly marker?: string;
}

/** Detail given up, in order, until the comment fits. */
interface Level {
  /** List each resource of changes that carry no risk (else a count per asset). */
  readonly resources: boolean;
  /** A details block per modified asset. */
  readonly assetDetail: boolean;
  readonly mermaid: boolean;
  /** Rows of long tables and lists (assets, impact, plan, resources); Infinity: all. */
  readonly rows: number;
  /** Risks as one short line each. */
  readonly shortRisks: boolean;
}

export function renderMarkdown(preview: Preview, opts: MarkdownOptions = {}): string {
  const limit = Math.floor((opts.limit ?? COMMENT_LIMIT) * 0.99);
  const levels: Level[] = [
    { resources: true, assetDetail: true, mermaid: true, rows: Number.POSITIVE_INFINITY, shortRisks: false },
    { resources: false, assetDetail: true, mermaid: true, rows: Number.POSITIVE_INFINITY, shortRisks: false },
    {
      resources: false,
      assetDetail: false,
      mermaid: true,
      rows: Number.POSITIVE_INFINITY,
      shortRisks: false,
    },
    {
      resources: false,
      assetDetail: false,
      mermaid: false,
      rows: Number.POSITIVE_INFINITY,
      shortRisks: false,
    },
  ];
  for (const level of levels) {
    const text = render(preview, opts, level);
    if (text.length <= limit) return text;
  }
  // Cut long tables: the most rows that fit, found by halving.
  for (const shortRisks of [false, true]) {
    let lo = 0;
    let hi = 2_000;
    let best: string | undefined;
    while (lo <= hi) {
      const rows = Math.floor((lo + hi) / 2);
      const text = render(preview, opts, {
        resources: false,
        assetDetail: false,
        mermaid: false,
        rows,
        shortRisks,
      });
      if (text.length <= limit) {
        best = text;
        lo = rows + 1;
      } else hi = rows - 1;
    }
    if (best) return best;
  }
  // Only the risks are left, and they alone are too long: each as short as it can be, every one kept.
  return render(preview, opts, {
    resources: false,
    assetDetail: false,
    mermaid: false,
    rows: 0,
    shortRisks: true,
  });
}

/** Text for a table cell or list item: no line breaks, no HTML, no column separators. */
export function cell(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll("|", "\\|");
}

const code = (s: string) => `\`${s.replaceAll("`", "'")}\``;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function render(p: Preview, opts: MarkdownOptions, level: Level): string {
  const out: string[] = [opts.marker ?? MARKER, `## ${opts.title ?? "Tributary preview"}`, ""];
  if (p.base && p.head) {
    out.push(
      `${code(p.base.ref)} ${p.base.commit.slice(0, 7)} → ${code(p.head.ref)} ${p.head.commit.slice(0, 7)}`,
      "",
    );
  }
  out.push(summaryLine(p), "");
  if (p.risks.length > 0) out.push(...risks(p.risks, level.shortRisks));
  const g = p.graph;
  const nothing =
    (!g || g.added.length + g.removed.length + g.modified.length === 0) &&
    p.stacks.every((s) => (s.plan?.length ?? 0) + (s.resources?.length ?? 0) === 0);
  if (nothing) {
    out.push("No changes: the graph and every stack are the same at both revisions.", "");
    for (const s of p.stacks) for (const n of s.notes ?? []) out.push(`- ${code(s.stack)}: ${cell(n)}`);
    return `${out.join("\n").trimEnd()}\n`;
  }
  if (g) {
    out.push(...assets(p, level));
    out.push(...impact(p, level));
    if (level.mermaid && g.edges.length + g.added.length + g.removed.length + g.modified.length > 0) {
      const m = previewMermaid(g);
      const fence = ["```mermaid", m.text.trimEnd(), "```"];
      const note = m.omitted > 0 ? [`${m.omitted} more impacted assets are not drawn.`, ""] : [];
      out.push(
        "### Graph",
        "",
        ...(m.shown > 40
          ? [
              "<details><summary>The changed assets and their downstream</summary>",
              "",
              ...fence,
              "",
              "</details>",
            ]
          : fence),
        "",
        ...note,
      );
    } else if (g.modified.length + g.added.length + g.removed.length > 0) {
      out.push("### Graph", "", `Not drawn, to fit one comment: ${ALL}, or \`tributary lineage\`.`, "");
    }
  }
  for (const s of p.stacks) out.push(...stack(s, level, p.risks));
  return `${out.join("\n").trimEnd()}\n`;
}

function summaryLine(p: Preview): string {
  const parts: string[] = [];
  const g = p.graph;
  if (g) {
    parts.push(
      `assets: ${g.added.length} added, ${g.removed.length} removed, ${g.modified.length} modified`,
      `${plural(g.impact.length, "asset")} to re-materialise`,
    );
  }
  for (const s of p.stacks) parts.push(`${code(s.stack)}: ${counts(s.summary) || "no change"}`);
  const verdict =
    p.risks.length === 0
      ? "✅ No breaking change, data loss or privilege widening."
      : `⚠️ **${plural(p.risks.length, "risk")}** to review: ${riskCounts(p.risks)}.`;
  return `${verdict}\n\n${parts.join(" · ")}`;
}

function counts(summary: Readonly<Record<string, number>>): string {
  return ["create", "update", "replace", "delete", "add", "change", "remove"]
    .filter((op) => (summary[op] ?? 0) > 0)
    .map((op) => `${summary[op]} to ${op}`)
    .join(", ");
}

const RISK_TITLES: Readonly<Record<Risk["kind"], string>> = {
  "breaking-schema": "Breaking schema changes",
  "data-loss": "Data loss",
  "privilege-widening": "Privilege widening",
};

/** A count of risks of one kind: "1 breaking schema change", "2 data-loss risks". */
const RISK_COUNTS: Readonly<Record<Risk["kind"], readonly [string, string]>> = {
  "breaking-schema": ["breaking schema change", "breaking schema changes"],
  "data-loss": ["data-loss risk", "data-loss risks"],
  "privilege-widening": ["privilege widening", "privilege widenings"],
};

function riskCounts(risks: readonly Risk[]): string {
  return (Object.keys(RISK_TITLES) as Risk["kind"][])
    .map((k) => [k, risks.filter((r) => r.kind === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${RISK_COUNTS[k][n === 1 ? 0 : 1]}`)
    .join(", ");
}

function risks(list: readonly Risk[], short: boolean): string[] {
  const out = ["### ⚠️ Risks", ""];
  for (const kind of Object.keys(RISK_TITLES) as Risk["kind"][]) {
    const of = list.filter((r) => r.kind === kind);
    if (of.length === 0) continue;
    out.push(`**${RISK_TITLES[kind]}**`, "");
    for (const r of of) {
      const where = [
        r.stack ? code(r.stack) : undefined,
        r.asset && !r.subject.includes(r.asset) ? code(r.asset) : undefined,
      ]
        .filter(Boolean)
        .join(" · ");
      const subject = r.subject.startsWith("urn:") ? code(r.subject.split("::").pop()!) : code(r.subject);
      out.push(`- ${where ? `${where} · ` : ""}${subject}${short ? "" : `: ${cell(r.message)}`}`);
    }
    out.push("");
  }
  return out;
}

function what(m: AssetModification): string {
  const parts: string[] = [];
  if (m.schema) parts.push(`schema (${m.schema.verdict})`);
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

function more(total: number, shown: number): string[] {
  return total > shown ? [`… and ${total - shown} more (${ALL}).`, ""] : [];
}

function assets(p: Preview, level: Level): string[] {
  const g = p.graph!;
  const rows: string[][] = [
    ...g.added.map((a) => [code(a.key), "added", a.owners.join(", "), `${a.kind}, ${a.partitions}`]),
    ...g.removed.map((a) => [code(a.key), "removed", a.owners.join(", "), `${a.kind}, ${a.partitions}`]),
    ...g.modified.map((m) => [code(m.key), "modified", m.owners.join(", "), what(m)]),
  ];
  if (rows.length === 0) return [];
  // Breaking producers first, so a cut table still shows them.
  const breaking = (r: string[]) => (r[3]!.includes("(breaking)") ? 0 : 1);
  const sorted = [...rows].sort((a, b) => breaking(a) - breaking(b));
  const shown = sorted.slice(0, level.rows);
  const out = [
    "### Assets",
    "",
    "| asset | change | owners | what changed |",
    "| --- | --- | --- | --- |",
    ...shown.map((r) => `| ${r[0]} | ${r[1]} | ${cell(r[2]!) || "-"} | ${cell(r[3]!)} |`),
    "",
    ...more(rows.length, shown.length),
  ];
  if (level.assetDetail) for (const m of g.modified) out.push(...assetDetail(m));
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
  const out = [`<details><summary><code>${m.key}</code>: ${cell(what(m))}</summary>`, ""];
  if (m.schema) {
    out.push(`Schema, ${m.schema.verdict}:`, "", ...m.schema.columns.map((c) => `- ${column(c)}`), "");
    if (m.schema.consumers.length > 0) {
      out.push("| consumer | verdict | reads | why |", "| --- | --- | --- | --- |");
      for (const c of m.schema.consumers) {
        out.push(
          `| ${code(c.consumer)} | ${c.verdict} | ${c.reads.join(", ") || "-"} (${c.readsFrom}) | ${cell(c.reason)} |`,
        );
      }
      out.push("");
    }
  }
  const line = (label: string, text: string) => out.push(`- ${label}: ${text}`);
  if (m.code)
    line(
      m.code.sql ? "SQL changed, code version" : "code version",
      `${code(m.code.from)} → ${code(m.code.to)}`,
    );
  if (m.dependencies) {
    const d = m.dependencies;
    if (d.added.length) line("reads also", d.added.map(code).join(", "));
    if (d.removed.length) line("reads no more", d.removed.map(code).join(", "));
    for (const c of d.changed) line("dependency", cell(c));
  }
  if (m.partitions) line("partitions", `${cell(m.partitions.from)} → ${cell(m.partitions.to)}`);
  if (m.checks) {
    for (const c of m.checks.added) line("check added", cell(c));
    for (const c of m.checks.removed) line("check removed", cell(c));
    for (const c of m.checks.changed) line("check changed", cell(c));
  }
  if (m.schedule) line("schedule", `${cell(m.schedule.from)} → ${cell(m.schedule.to)}`);
  if (m.ownership)
    line("owners", `${cell(m.ownership.from.join(", ") || "-")} → ${cell(m.ownership.to.join(", ") || "-")}`);
  if (m.tags)
    line("tags", [...m.tags.added.map((t) => `+${t}`), ...m.tags.removed.map((t) => `−${t}`)].join(", "));
  for (const o of m.other ?? []) line(o.field, `${cell(o.from)} → ${cell(o.to)}`);
  out.push("", "</details>", "");
  return out;
}

function impact(p: Preview, level: Level): string[] {
  const list = p.graph!.impact;
  if (list.length === 0) return [];
  // Broken consumers first, so a cut table still shows them.
  const sorted = [...list.filter((i) => i.broken), ...list.filter((i) => !i.broken)];
  const shown = sorted.slice(0, level.rows);
  const table = [
    "| asset | owners | because of | re-materialised | |",
    "| --- | --- | --- | --- | --- |",
    ...shown.map(
      (i) =>
        `| ${code(i.key)} | ${cell(i.owners.join(", ")) || "-"} | ${i.because.map(code).join(", ")} | ${cell(i.partitions)} | ${i.broken ? "**breaks**" : ""} |`,
    ),
  ];
  const partitions = list.reduce((n, i) => n + i.partitionCount, 0);
  const head = `${plural(list.length, "asset")}, ${plural(partitions, "partition")} in all.`;
  return [
    "### Downstream impact",
    "",
    head,
    "",
    ...(shown.length > 15
      ? ["<details><summary>Every impacted asset</summary>", "", ...table, "", "</details>"]
      : table),
    "",
    ...more(list.length, shown.length),
  ];
}

const SOURCE: Readonly<Record<StackPreview["source"], string>> = {
  synth: "the Pulumi program synthesised at both revisions",
  plan: "the deployment plans",
  "pulumi-preview": "`pulumi preview`",
};

function stack(s: StackPreview, level: Level, allRisks: readonly Risk[]): string[] {
  const out = [
    `### Stack ${code(s.stack)}${s.cloud ? ` (${s.cloud})` : ""}`,
    "",
    `From ${SOURCE[s.source]}: ${counts(s.summary) || "no change"}${s.summary.same ? `, ${s.summary.same} unchanged` : ""}.`,
    "",
  ];
  for (const n of s.notes ?? []) out.push(`> ${cell(n)}`, "");
  const plan = s.plan ?? [];
  if (plan.length > 0) {
    const shown = plan.slice(0, level.rows);
    out.push(`<details><summary>Plan: ${plural(plan.length, "change")}</summary>`, "");
    for (const c of shown) out.push(planLine(c));
    out.push("", ...more(plan.length, shown.length), "</details>", "");
  }
  const resources = s.resources ?? [];
  if (resources.length > 0) {
    const flagged = new Set(allRisks.filter((r) => r.stack === s.stack).map((r) => r.subject));
    const isRisky = (r: ResourceChange) =>
      r.dataLoss === true || r.widensPrivilege === true || flagged.has(r.urn);
    const groups = new Map<string, ResourceChange[]>();
    for (const r of resources) {
      const list = groups.get(r.asset ?? "");
      if (list) list.push(r);
      else groups.set(r.asset ?? "", [r]);
    }
    // Groups holding a risk first: a cut list still shows them.
    const ordered = [...groups].sort(([, a], [, b]) => Number(b.some(isRisky)) - Number(a.some(isRisky)));
    let shown = 0;
    let left = 0;
    let leftChanges = 0;
    for (const [asset, list] of ordered) {
      const risky = list.filter(isRisky);
      if (risky.length === 0 && shown >= level.rows) {
        left++;
        leftChanges += list.length;
        continue;
      }
      shown++;
      const title = asset ? code(asset) : "stack-wide";
      const ops = counts(
        Object.fromEntries(
          ["create", "update", "replace", "delete"].map((op) => [op, list.filter((r) => r.op === op).length]),
        ),
      );
      const listed = level.resources ? list : risky;
      out.push(`<details><summary>${title.replaceAll("`", "")}: ${ops}</summary>`, "");
      for (const r of listed) out.push(resourceLine(r));
      if (listed.length < list.length) out.push(`- … and ${list.length - listed.length} more without risk`);
      out.push("", "</details>", "");
    }
    if (left > 0) {
      out.push(
        `… and ${plural(leftChanges, "resource change")} of ${plural(left, "more asset")}, none of them flagged (${ALL}).`,
        "",
      );
    }
    out.push("");
  }
  return out;
}

const ITEM: Readonly<Record<PlanItemChange["section"], string>> = {
  stack: "stack setting",
  stores: "store",
  buses: "bus",
  functions: "function",
  triggers: "trigger",
  grants: "grant",
  alarms: "alarm",
};

function planLine(c: PlanItemChange): string {
  const fields = c.fields && c.fields.length > 0 ? `: ${cell(c.fields.join("; "))}` : "";
  return `- ${c.op} ${ITEM[c.section]} ${code(c.id)}${fields}`;
}

function resourceLine(r: ResourceChange): string {
  const flags = [r.dataLoss ? "**data loss**" : "", r.widensPrivilege ? "**widens privilege**" : ""].filter(
    Boolean,
  );
  const detail = [
    r.replaceKeys?.length ? `replaced because ${r.replaceKeys.map(code).join(", ")} changed` : "",
    r.op === "update" && r.changed?.length
      ? `changes ${r.changed.slice(0, 8).map(code).join(", ")}${r.changed.length > 8 ? ` and ${r.changed.length - 8} more` : ""}`
      : "",
    r.unknown?.length ? `known after deploy: ${r.unknown.slice(0, 5).map(code).join(", ")}` : "",
  ].filter(Boolean);
  return `- ${r.op} ${code(r.type)} ${code(r.name)}${flags.length ? ` ${flags.join(" ")}` : ""}${detail.length ? ` (${detail.join("; ")})` : ""}`;
}
