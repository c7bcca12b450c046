import type { AbstractGraph } from "graphology-types";

/**
 * The nodes reachable from `start` along in-edges (upstream) or out-edges (downstream), up to `depth`
 * steps (all when undefined), without `start` itself. Shared by the kit's graph and the asset-graph page.
 */
export function walk(
  graph: AbstractGraph,
  start: string,
  direction: "in" | "out",
  depth = Number.POSITIVE_INFINITY,
): Set<string> {
  const seen = new Set<string>();
  let frontier = [start];
  for (let level = 0; level < depth && frontier.length > 0; level++) {
    const next: string[] = [];
    for (const node of frontier) {
      const visit = (n: string) => {
        if (!seen.has(n) && n !== start) {
          seen.add(n);
          next.push(n);
        }
      };
      if (direction === "in") graph.forEachInNeighbor(node, visit);
      else graph.forEachOutNeighbor(node, visit);
    }
    frontier = next;
  }
  return seen;
}
