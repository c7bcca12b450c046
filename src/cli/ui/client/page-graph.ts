/**
 * The page's graph: a graphology graph of the nodes and edges it was given, which answers the
 * selection syntax exactly as the CLI does (`select` from the kit runs on it), and walks lineage.
 */
import { DirectedGraph } from "graphology";
import { type Selectable, type SelectableAsset, select } from "../../../kit/selection.ts";
import { walk } from "../../../kit/walk.ts";
import type { UiEdge, UiGraph, UiNode } from "../types.ts";

export class PageGraph implements Selectable {
  readonly graph = new DirectedGraph<UiNode & { index: number }, UiEdge>();
  readonly order: readonly string[];
  readonly #nodes: readonly UiNode[];

  constructor(data: UiGraph) {
    // Topological order, as the CLI lists: by level, then key.
    this.#nodes = [...data.nodes].sort(
      (a, b) => a.level - b.level || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
    this.order = this.#nodes.map((n) => n.key);
    this.#nodes.forEach((n, index) => {
      this.graph.addNode(n.key, { ...n, index });
    });
    for (const e of data.edges) this.graph.addDirectedEdge(e.from, e.to, e);
  }

  has(key: string): boolean {
    return this.graph.hasNode(key);
  }

  node(key: string): UiNode {
    return this.graph.getNodeAttributes(key);
  }

  assets(): readonly SelectableAsset[] {
    return this.#nodes;
  }

  sort(keys: Iterable<string>): string[] {
    return [...keys].sort(
      (a, b) => this.graph.getNodeAttribute(a, "index") - this.graph.getNodeAttribute(b, "index"),
    );
  }

  upstream(key: string, depth?: number): string[] {
    return this.sort(walk(this.graph, key, "in", depth));
  }

  downstream(key: string, depth?: number): string[] {
    return this.sort(walk(this.graph, key, "out", depth));
  }

  /** The keys a selection expression names; throws the kit's `SelectionError` with its message. */
  select(expression: string): string[] {
    return select(this, expression);
  }

  /** Keys matching a search: exact first, then prefix, then substring (case-insensitive), at most `limit`. */
  search(text: string, limit = 20): string[] {
    const q = text.trim().toLowerCase();
    if (q === "") return [];
    const exact: string[] = [];
    const prefix: string[] = [];
    const inside: string[] = [];
    for (const key of this.order) {
      const k = key.toLowerCase();
      if (k === q) exact.push(key);
      else if (k.startsWith(q)) prefix.push(key);
      else if (k.includes(q)) inside.push(key);
    }
    return [...exact, ...prefix, ...inside].slice(0, limit);
  }
}
