import type { TSchema } from "@sinclair/typebox";
import type { AnyAsset } from "./asset.ts";
import type { AssetGraph, Edge } from "./graph.ts";
import { describeMapping, describePartitions } from "./partitions.ts";

/** Static lineage: what the graph itself says, before anything runs. */
export interface LineageDocument {
  readonly nodes: readonly LineageNode[];
  readonly edges: readonly LineageEdge[];
}

/**
 * A node of the graph as every view of it shows one (the lineage document, `tributary ui`, the
 * pull-request preview): declared once here, extended by each view.
 */
export interface GraphNode {
  readonly key: string;
  readonly kind: "source" | "asset";
  readonly group: string;
  readonly owners: readonly string[];
  readonly tags: readonly string[];
}

export interface LineageNode extends GraphNode {
  readonly level: number;
  readonly description?: string;
  readonly partitions: string;
  readonly columns: readonly { readonly name: string; readonly type: string; readonly nullable: boolean }[];
  readonly checks: readonly string[];
  readonly codeVersion?: string;
}

export interface LineageEdge {
  readonly from: string;
  readonly to: string;
  readonly mapping: string;
  readonly columns?: readonly string[];
}

/** JSON Schema type of a column as one word, with nullability: `{ type: "string", nullable: true }`. */
export function columnType(schema: TSchema): { type: string; nullable: boolean } {
  const s = schema as { type?: string | string[]; format?: string; anyOf?: TSchema[] };
  if (s.anyOf) {
    const nonNull = s.anyOf.filter((b) => (b as { type?: string }).type !== "null");
    const inner = nonNull.length === 1 ? columnType(nonNull[0]!) : { type: "any", nullable: false };
    return { type: inner.type, nullable: nonNull.length < s.anyOf.length || inner.nullable };
  }
  if (Array.isArray(s.type)) {
    const nonNull = s.type.filter((t) => t !== "null");
    return { type: nonNull.length === 1 ? nonNull[0]! : "any", nullable: nonNull.length < s.type.length };
  }
  const type = s.type ?? "any";
  return { type: s.format && type === "string" ? `string(${s.format})` : type, nullable: false };
}

function chosen(graph: AssetGraph, keys: readonly string[] | undefined): Set<string> {
  return new Set(keys ?? graph.order);
}

export function toLineage(graph: AssetGraph, keys?: readonly string[]): LineageDocument {
  const keep = chosen(graph, keys);
  const level = new Map<string, number>();
  graph.levels.forEach((l, i) => {
    for (const k of l) level.set(k, i);
  });
  const nodes = graph
    .assets()
    .filter((a) => keep.has(a.key))
    .map((a) => node(a, level.get(a.key) ?? 0));
  const edges = graph
    .edges()
    .filter((e) => keep.has(e.from) && keep.has(e.to))
    .map(lineageEdge);
  return { nodes, edges };
}

/** An edge as lineage says it: its partition mapping in words, and the columns read when declared. */
export function lineageEdge(e: Edge): LineageEdge {
  return {
    from: e.from,
    to: e.to,
    mapping: describeMapping(e.mapping),
    ...(e.columns ? { columns: e.columns } : {}),
  };
}

function node(a: AnyAsset, level: number): LineageNode {
  return {
    key: a.key,
    kind: a.kind,
    level,
    group: a.group,
    owners: a.owners,
    tags: a.tags,
    ...(a.description === undefined ? {} : { description: a.description }),
    partitions: describePartitions(a.partitions),
    columns: Object.entries(a.schema.properties).map(([name, s]) => ({ name, ...columnType(s) })),
    checks: a.checks.map((c) => c.name),
    ...(a.kind === "asset" ? { codeVersion: a.codeVersion } : {}),
  };
}

// Words Mermaid's flowchart parser takes as keywords: such a key gets a suffix as its node id.
const MERMAID_KEYWORDS = new Set([
  "end",
  "graph",
  "subgraph",
  "flowchart",
  "style",
  "class",
  "classdef",
  "click",
  "linkstyle",
  "direction",
  "default",
]);

/** A key as a Mermaid node id: a key Mermaid reads as a keyword gets a suffix. */
export function mermaidId(key: string): string {
  return MERMAID_KEYWORDS.has(key) ? `${key}_` : key;
}

/** A Mermaid flowchart (renders in GitHub Markdown): sources as cylinders, one subgraph per group. */
export function toMermaid(graph: AssetGraph, keys?: readonly string[]): string {
  const doc = toLineage(graph, keys);
  const lines = ["flowchart LR"];
  const groups = new Map<string, LineageNode[]>();
  for (const n of doc.nodes) groups.set(n.group, [...(groups.get(n.group) ?? []), n]);
  // Group names are free text: the subgraph id is its position, the label is escaped.
  [...groups]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .forEach(([group, nodes], i) => {
      lines.push(`  subgraph group_${i}["${group.replaceAll('"', "#quot;")}"]`);
      for (const n of nodes) {
        lines.push(
          n.kind === "source"
            ? `    ${mermaidId(n.key)}[("${n.key}")]`
            : `    ${mermaidId(n.key)}["${n.key}"]`,
        );
      }
      lines.push("  end");
    });
  for (const e of doc.edges) {
    const label = e.mapping === "identity()" ? "" : `|"${e.mapping}"|`;
    lines.push(`  ${mermaidId(e.from)} -->${label} ${mermaidId(e.to)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Graphviz DOT, left to right: sources as cylinders, partition mappings as edge labels. */
export function toDot(graph: AssetGraph, keys?: readonly string[]): string {
  const doc = toLineage(graph, keys);
  const lines = ["digraph tributary {", "  rankdir=LR;", "  node [shape=box, fontname=Helvetica];"];
  for (const n of doc.nodes) {
    const tooltip = n.group.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
    lines.push(`  "${n.key}" [${n.kind === "source" ? "shape=cylinder, " : ""}tooltip="${tooltip}"];`);
  }
  for (const e of doc.edges) {
    lines.push(`  "${e.from}" -> "${e.to}"${e.mapping === "identity()" ? "" : ` [label="${e.mapping}"]`};`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
