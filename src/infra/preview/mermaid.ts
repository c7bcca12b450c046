/**
 * The changed part of the graph as a Mermaid flowchart (GitHub renders it in a comment): the assets
 * added, removed and modified, everything downstream that goes stale, and the edges between them,
 * styled by kind of change. Removed assets and edges are dashed; a producer whose change breaks a
 * consumer, and the broken consumer, are drawn thick red.
 *
 * Mermaid refuses a diagram past 500 edges or 50,000 characters (its `maxEdges` and `maxTextSize`) and
 * shows an error box instead, so a large change is drawn in part: the changed assets first, then their
 * direct consumers, as many as the limits allow, and the caller is told how many were left out.
 */
import { mermaidId } from "../../kit/lineage.ts";
import type { GraphDiff } from "./types.ts";

export type NodeKind = "added" | "removed" | "modified" | "breaking" | "impacted" | "context";

/** The node styles, in the order their `classDef` lines are written. */
const CLASSES: Readonly<Record<Exclude<NodeKind, "context">, string>> = {
  added: "fill:#dafbe1,stroke:#1a7f37,color:#000",
  removed: "fill:#ffebe9,stroke:#cf222e,stroke-dasharray:5 5,color:#000",
  modified: "fill:#fff8c5,stroke:#9a6700,color:#000",
  breaking: "fill:#ffebe9,stroke:#cf222e,stroke-width:3px,color:#000",
  impacted: "fill:#f6f8fa,stroke:#8c959f,color:#000",
};

/** Which nodes are drawn first when not all fit: what changed, breaking first; then what it impacts. */
const RANK: Readonly<Record<NodeKind, number>> = {
  breaking: 0,
  modified: 1,
  removed: 2,
  added: 3,
  impacted: 4,
  context: 5,
};

const CHANGED: ReadonlySet<NodeKind> = new Set(["breaking", "modified", "removed", "added"]);

/**
 * How each asset of the diff is drawn. A modified asset that breaks a consumer, and a consumer it
 * breaks, are `breaking`; an asset at the end of an edge that neither changed nor goes stale (an
 * unchanged upstream) is `context`, drawn unstyled.
 */
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

export interface MermaidOptions {
  /**
   * Assets drawn at most (default 300). Past it only the changed assets and their direct consumers are
   * drawn; the changed assets are drawn even past it, as long as Mermaid's own limits allow.
   */
  readonly maxNodes?: number;
  /** Edges drawn at most (default 500, Mermaid's `maxEdges`). */
  readonly maxEdges?: number;
  /** Characters of the diagram at most (default 50,000, Mermaid's `maxTextSize`). */
  readonly maxChars?: number;
}

export interface PreviewMermaid {
  /** The diagram, without the ```mermaid fence, ending in a newline. */
  readonly text: string;
  /** Assets drawn. */
  readonly shown: number;
  /** Assets of the diff not drawn. */
  readonly omitted: number;
  /** Edges of the diff not drawn (those of an asset left out included). */
  readonly omittedEdges: number;
}

type Edge = GraphDiff["edges"][number];

const label = (key: string) => key.replaceAll('"', "#quot;");
const nodeLine = (key: string, kind: NodeKind) =>
  kind === "removed" ? `  ${mermaidId(key)}(["${label(key)}"])` : `  ${mermaidId(key)}["${label(key)}"]`;
const edgeLine = (e: Edge) => `  ${mermaidId(e.from)} ${e.removed ? "-.->" : "-->"} ${mermaidId(e.to)}`;

/** The flowchart of the changed assets and their downstream. Deterministic: same diff, same text. */
export function previewMermaid(graph: GraphDiff, opts: MermaidOptions = {}): PreviewMermaid {
  const maxNodes = opts.maxNodes ?? 300;
  const maxEdges = opts.maxEdges ?? 500;
  const maxChars = opts.maxChars ?? 50_000;
  const kinds = nodeKinds(graph);
  const ordered = [...kinds.keys()].sort((a, b) => RANK[kinds.get(a)!] - RANK[kinds.get(b)!]);

  const all = draw(ordered, graph.edges, kinds);
  if (ordered.length <= maxNodes && graph.edges.length <= maxEdges && all.length <= maxChars) {
    return { text: all, shown: ordered.length, omitted: 0, omittedEdges: 0 };
  }

  // The changed assets, then their direct consumers in edge order, each while the limits allow.
  const changed = ordered.filter((k) => CHANGED.has(kinds.get(k)!));
  const changedSet = new Set(changed);
  const consumers = new Set<string>();
  for (const e of graph.edges) if (changedSet.has(e.from) && !changedSet.has(e.to)) consumers.add(e.to);
  const incident = new Map<string, Edge[]>();
  for (const e of graph.edges) {
    for (const end of [e.from, e.to]) {
      const list = incident.get(end);
      if (list) list.push(e);
      else incident.set(end, [e]);
    }
  }
  const keep = new Set<string>();
  let edges = 0;
  // What the text costs beyond its nodes and edges: the header and the classDef lines, and a class
  // line's ids (counted with each node).
  let chars = "flowchart LR\n".length;
  for (const [kind, style] of Object.entries(CLASSES)) {
    chars += `  classDef ${kind} ${style}\n  class  ${kind}\n`.length;
  }
  const tryAdd = (key: string): void => {
    const joining = (incident.get(key) ?? []).filter(
      (e) => (e.from === key || keep.has(e.from)) && (e.to === key || keep.has(e.to)),
    );
    const cost =
      nodeLine(key, kinds.get(key)!).length +
      1 +
      (kinds.get(key) === "context" ? 0 : mermaidId(key).length + 1) +
      joining.reduce((n, e) => n + edgeLine(e).length + 1, 0);
    if (edges + joining.length > maxEdges || chars + cost > maxChars) return;
    keep.add(key);
    edges += joining.length;
    chars += cost;
  };
  for (const key of changed) tryAdd(key);
  for (const key of consumers) {
    if (keep.size >= maxNodes) break;
    tryAdd(key);
  }
  const shownKeys = ordered.filter((k) => keep.has(k));
  const shownEdges = graph.edges.filter((e) => keep.has(e.from) && keep.has(e.to));
  return {
    text: draw(shownKeys, shownEdges, kinds),
    shown: shownKeys.length,
    omitted: ordered.length - shownKeys.length,
    omittedEdges: graph.edges.length - shownEdges.length,
  };
}

function draw(keys: readonly string[], edges: readonly Edge[], kinds: ReadonlyMap<string, NodeKind>): string {
  const lines = ["flowchart LR"];
  for (const key of keys) lines.push(nodeLine(key, kinds.get(key)!));
  for (const e of edges) lines.push(edgeLine(e));
  for (const [kind, style] of Object.entries(CLASSES)) {
    const members = keys.filter((k) => kinds.get(k) === kind);
    if (members.length === 0) continue;
    lines.push(`  classDef ${kind} ${style}`, `  class ${members.map(mermaidId).join(",")} ${kind}`);
  }
  return `${lines.join("\n")}\n`;
}
