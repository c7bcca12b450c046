/**
 * The comment's data section (`tributary diff --data`): a verdict line per asset, and for each changed
 * asset the columns that moved most and up to five example rows before and after. The comment gives
 * these lines up first when it must shrink (markdown.ts): the details, then the verdict lines.
 */
import type {
  AssetDataDiff,
  ColumnDataDiff,
  ColumnStats,
  DataDiff,
  ExampleRow,
} from "../../contract/data-diff.ts";

/** Example rows shown per asset. */
export const EXAMPLE_ROWS = 5;
/** Columns shown per asset: those that moved most. */
const COLUMNS_SHOWN = 5;

export interface DataLevel {
  /** The details of each changed asset, or verdict lines only. */
  readonly detail: boolean;
  /** Verdict lines beyond the flagged ones (broken expectations); Infinity: all. */
  readonly rows: number;
}

type Cell = (text: string) => string;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const code = (s: string) => `\`${s.replaceAll("`", "'")}\``;

/** The input replayed, in words. */
function inputText(d: DataDiff): string {
  if (d.input.kind === "sample") return d.input.from;
  return `${d.input.kind === "store" ? "the store" : "the event files in"} ${code(d.input.from)}`;
}

/** The one-line verdict of an asset. */
export function verdictLine(a: AssetDataDiff, cell: Cell): string {
  const r = a.rows;
  let text: string;
  switch (a.verdict) {
    case "identical":
      text = `identical (${plural(r?.head ?? 0, "row")})`;
      break;
    case "changed":
      text = `**changed**: +${r!.added} −${r!.removed} ~${r!.changed} rows (${r!.base} → ${r!.head})`;
      break;
    case "added":
      text = `new at head (${plural(r?.head ?? 0, "row")})`;
      break;
    case "removed":
      text = `gone at head (${plural(r?.base ?? 0, "row")} at base)`;
      break;
    case "failed":
      text = `not compared: ${cell(a.error ?? "it failed")}`;
      break;
  }
  const how =
    a.match === undefined
      ? ""
      : a.match.by === "key"
        ? `, by key ${cell(a.match.columns.join(", "))}`
        : `, as multisets (${cell(a.match.reason)})`;
  const expect = a.expectation
    ? a.expectation.held
      ? ` · expectation held`
      : ` · ⚠️ **expectation broken**`
    : "";
  return `- ${code(a.key)}: ${text}${a.verdict === "changed" || a.verdict === "identical" ? how : ""}${expect}`;
}

function value(v: unknown, cell: Cell): string {
  if (v === undefined) return "";
  if (v === null) return "null";
  return cell(typeof v === "string" ? v : JSON.stringify(v));
}

function statsChange(b: ColumnStats, h: ColumnStats, field: keyof ColumnStats): string {
  const x = b[field];
  const y = h[field];
  if (x === undefined && y === undefined) return "";
  return x === y ? String(x) : `${x ?? "-"} → ${y ?? "-"}`;
}

function columnRow(c: ColumnDataDiff, cell: Cell): string {
  const top = c.top
    .slice(0, 3)
    .map((t) => `${value(t.from, cell)} → ${value(t.to, cell)} (${t.rows})`)
    .join(", ");
  const s = (f: keyof ColumnStats) => cell(statsChange(c.base, c.head, f));
  return `| ${code(c.name)} | ${c.changed} | ${s("nullRate")} | ${s("distinct")} | ${s("min")} | ${s("max")} | ${s("mean")} | ${top} |`;
}

function exampleRows(a: AssetDataDiff, examples: readonly ExampleRow[], cell: Cell): string[] {
  const columns = (a.columns ?? []).map((c) => c.name);
  const out = [
    `| | partition | ${columns.map(code).join(" | ")} |`,
    `| --- | --- | ${columns.map(() => "---").join(" | ")} |`,
  ];
  for (const e of examples) {
    const line = (label: string, row: Readonly<Record<string, unknown>>) =>
      `| ${label} | ${cell(e.partition) || "-"} | ${columns
        .map((c) => {
          const v = value(row[c], cell);
          return e.columns?.includes(c) ? `**${v}**` : v;
        })
        .join(" | ")} |`;
    if (e.before) out.push(line(e.change === "removed" ? "removed" : "before", e.before));
    if (e.after) out.push(line(e.change === "added" ? "added" : "after", e.after));
  }
  return out;
}

function detail(a: AssetDataDiff, cell: Cell): string[] {
  const r = a.rows!;
  const out = [
    `<details><summary><code>${a.key}</code>: +${r.added} −${r.removed} ~${r.changed} rows</summary>`,
    "",
  ];
  const parts = a.partitions ?? [];
  if (parts.length > 0) {
    const shown = parts
      .slice(0, 10)
      .map((p) => `${cell(p.partition) || "-"} (+${p.added} −${p.removed} ~${p.changed})`);
    out.push(
      `In ${plural(parts.length, "partition")}: ${shown.join(", ")}${parts.length > 10 ? `, … and ${parts.length - 10} more` : ""}.`,
      "",
    );
  }
  const moved = (a.columns ?? []).filter(
    (c) => c.changed > 0 || JSON.stringify(c.base) !== JSON.stringify(c.head),
  );
  if (moved.length > 0) {
    out.push(
      "Columns that moved most:",
      "",
      "| column | changed rows | null rate | distinct | min | max | mean | top changes |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...moved.slice(0, COLUMNS_SHOWN).map((c) => columnRow(c, cell)),
      "",
    );
  }
  const examples = (a.examples ?? []).slice(0, EXAMPLE_ROWS);
  if (examples.length > 0) {
    out.push(`First ${plural(examples.length, "differing row")} (changed values in bold):`, "");
    out.push(...exampleRows(a, examples, cell), "");
  }
  if (a.checksum) out.push(`Checksum: ${code(a.checksum.base)} → ${code(a.checksum.head)}`, "");
  out.push("</details>", "");
  return out;
}

/** The section: a verdict line per asset (broken expectations first when cut), then details. */
export function dataSection(d: DataDiff, level: DataLevel, cell: Cell, all: string): string[] {
  const changed = d.assets.filter((a) => a.verdict === "changed").length;
  const identical = d.assets.filter((a) => a.verdict === "identical").length;
  const head = [
    "### Data",
    "",
    `Replayed through both revisions: ${inputText(d)}. ${plural(d.assets.length, "asset")} compared: ${changed} changed, ${identical} identical${d.assets.length - changed - identical > 0 ? `, ${d.assets.length - changed - identical} new, gone or not compared` : ""}.`,
    "",
  ];
  if (d.assets.length === 0) return head;
  const broken = (a: AssetDataDiff) => a.expectation?.held === false;
  const flagged = d.assets.filter(broken);
  const rest = d.assets.filter((a) => !broken(a));
  const shown = [...flagged, ...rest.slice(0, level.rows)];
  const out = [...head, ...shown.map((a) => verdictLine(a, cell)), ""];
  if (shown.length < d.assets.length) out.push(`… and ${d.assets.length - shown.length} more (${all}).`, "");
  if (level.detail) for (const a of shown) if (a.verdict === "changed") out.push(...detail(a, cell));
  return out;
}
