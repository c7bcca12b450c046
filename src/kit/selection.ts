import { SelectionError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** What a selection needs of a graph: `AssetGraph` is one, and so is the asset-graph page's own graph. */
export interface Selectable {
  readonly order: readonly string[];
  has(key: string): boolean;
  upstream(key: string, depth?: number): string[];
  downstream(key: string, depth?: number): string[];
  sort(keys: Iterable<string>): string[];
  assets(): readonly SelectableAsset[];
}

export interface SelectableAsset {
  readonly key: string;
  readonly kind: "source" | "asset";
  readonly group: string;
  readonly owners: readonly string[];
  readonly tags: readonly string[];
}

/**
 * Dagster-style selection, terms joined by commas (union):
 *   key        the asset itself
 *   +key       with everything upstream;   2+key  with two levels upstream
 *   key+       with everything downstream; key+1  with one level downstream
 *   +key+      both
 *   tag:NAME, group:NAME, owner:NAME, kind:source|asset   attribute filters (the +/N+ modifiers apply too)
 *   *          everything
 * An empty or absent selection means everything.
 */
export function select(graph: Selectable, expression: string | undefined): string[] {
  if (expression === undefined || expression.trim() === "") return [...graph.order];
  const chosen = new Set<string>();
  const terms = expression.split(",").map((t) => t.trim());
  if (terms.includes("")) throw new SelectionError(`selection "${expression}": empty term between commas.`);
  for (const term of terms) {
    const m = /^(?:(\d*)\+)?(.*?)(?:\+(\d*))?$/.exec(term)!;
    const up = m[1] === undefined ? 0 : m[1] === "" ? Number.POSITIVE_INFINITY : Number(m[1]);
    const down = m[3] === undefined ? 0 : m[3] === "" ? Number.POSITIVE_INFINITY : Number(m[3]);
    const base = m[2]!;
    if (base === "") throw new SelectionError(`selection "${term}": names no asset.`);
    for (const key of baseKeys(graph, base, term)) {
      chosen.add(key);
      if (up > 0) for (const k of graph.upstream(key, up)) chosen.add(k);
      if (down > 0) for (const k of graph.downstream(key, down)) chosen.add(k);
    }
  }
  return graph.sort(chosen);
}

const ATTRIBUTES = ["tag", "group", "owner", "kind"] as const;

function baseKeys(graph: Selectable, base: string, term: string): string[] {
  if (base === "*") return [...graph.order];
  const colon = base.indexOf(":");
  if (colon < 0) {
    if (!graph.has(base)) {
      throw new SelectionError(
        `selection "${term}": unknown asset "${base}".${didYouMean(base, graph.order)}`,
      );
    }
    return [base];
  }
  const attr = base.slice(0, colon);
  const value = base.slice(colon + 1);
  if (!(ATTRIBUTES as readonly string[]).includes(attr)) {
    throw new SelectionError(
      `selection "${term}": unknown filter "${attr}:"; use one of ${ATTRIBUTES.map((a) => `${a}:`).join(", ")}.${didYouMean(attr, ATTRIBUTES)}`,
    );
  }
  const values = (a: SelectableAsset): readonly string[] =>
    attr === "tag" ? a.tags : attr === "owner" ? a.owners : attr === "group" ? [a.group] : [a.kind];
  if (attr === "kind" && value !== "source" && value !== "asset") {
    throw new SelectionError(`selection "${term}": kind must be "source" or "asset".`);
  }
  const assets = graph.assets();
  const keys = assets.filter((a) => values(a).includes(value)).map((a) => a.key);
  if (keys.length === 0 && attr !== "kind") {
    const known = new Set(assets.flatMap((a) => values(a)));
    throw new SelectionError(
      `selection "${term}": no asset has ${attr} "${value}".${didYouMean(value, known) || ` Known: ${[...known].sort().join(", ") || "none"}.`}`,
    );
  }
  return keys;
}
