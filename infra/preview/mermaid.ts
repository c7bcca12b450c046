/**
 * The changed part of the graph as a Mermaid flowchart (GitHub renders it in a comment): the assets
 * added, removed and modified, everything downstream that goes stale, and the edges between them,
 * styled by kind of change. Removed assets and edges are dashed; a producer whose change breaks a
 * consumer, and the broken consumer, are drawn thick red.
 */
import { mermaidId } from "../../assets/graph/lineage.ts";
import type { GraphDiff } from "./types.ts";

export type NodeKind = "added" | "removed" | "modified" | "breaking" | "impacted" | "context";

const CLASSES: Readonly<Record<Exclude<NodeKind, "context">, string>> = {
  added: "fill:#dafbe1,stroke:#1a7f37,color:#000",
  removed: "fill:#ffebe9,stroke:#cf222e,stroke-dasharray:5 5,color:#000",
  modified: "fill:#fff8c5,stroke:#9a6700,color:#000",
  breaking: "fill:#ffebe9,stroke:#cf222e,stroke-width:3px,color:#000",
  impacted: "fill:#f6f8fa,stroke:#8c959f,color:#000",
};

/** How each shown asset is drawn. */
export function nodeKinds(graph: GraphDiff): Map<string, NodeKind> {
  const kinds = new Map<string, NodeKind>();
  for (const i of graph.impact) kinds.set(i.key, i.broken ? "breaking" : "impacted");
  for (const m of graph.modified) {
    const breaks = m.schema?.consumers.some((c) => c.verdict === "breaking") ?? false;
    if (kinds.get(m.key) !== "breaking") kinds.set(m.key, breaks ? "breaking" : "modified");
  }
  for (const a of graph.added) kinds.set(a.key, "added");
  for (const a of graph.removed) kinds.set(a.key, "removed");
  for (const e of graph.edges) {
    if (!kinds.has(e.from)) kinds.set(e.from, "context");
    if (!kinds.has(e.to)) kinds.set(e.to, "context");
  }
  return kinds;
}

export interface PreviewMermaid {
  readonly text: string;
  readonly shown: number;
  readonly omitted: number;
}

/**
 * The flowchart; with more than `maxNodes` assets (default 300) only the changed ones and their direct
 * consumers are drawn, and `omitted` says how many were left out.
 */
export function previewMermaid(graph: GraphDiff, opts: { maxNodes?: number } = {}): PreviewMermaid {
  const max = opts.maxNodes ?? 300;
  const kinds = nodeKinds(graph);
  let keep = new Set(kinds.keys());
  if (keep.size > max) {
    const changed = new Set(
      [...kinds]
        .filter(([, k]) => k === "added" || k === "removed" || k === "modified" || k === "breaking")
        .map(([key]) => key),
    );
    keep = new Set(changed);
    for (const e of graph.edges) if (changed.has(e.from) && keep.size < max) keep.add(e.to);
  }
  const lines = ["flowchart LR"];
  const ids = [...keep];
  for (const key of ids) {
    const kind = kinds.get(key)!;
    lines.push(kind === "removed" ? `  ${mermaidId(key)}(["${key}"])` : `  ${mermaidId(key)}["${key}"]`);
  }
  for (const e of graph.edges) {
    if (!keep.has(e.from) || !keep.has(e.to)) continue;
    lines.push(`  ${mermaidId(e.from)} ${e.removed ? "-.->" : "-->"} ${mermaidId(e.to)}`);
  }
  for (const [kind, style] of Object.entries(CLASSES)) {
    const members = ids.filter((k) => kinds.get(k) === kind);
    if (members.length === 0) continue;
    lines.push(`  classDef ${kind} ${style}`);
    lines.push(`  class ${members.map(mermaidId).join(",")} ${kind}`);
  }
  return { text: `${lines.join("\n")}\n`, shown: ids.length, omitted: kinds.size - ids.length };
}
