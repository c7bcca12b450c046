/**
 * Personal data following the lineage. A source's `pii` fields mark where personal data enters; each
 * SQL asset's column lineage (DuckDB's parse tree, columns.ts) says which output columns are computed
 * from them, field by field (`after.email`, not all of `after`), and a value that passed through
 * `pii_token` carries a keyed token, not the data. An asset that outputs such a column untokenised is
 * an error unless it declares itself a holder of personal data (`pii: true` or its columns), and a
 * holder's personal data is personal data to its consumers. A compute function cannot be traced: one
 * that reads personal data must declare what it holds. What cannot be traced is never assumed clean.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import type { AssetDef } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { Duck } from "../engine/duckdb.ts";
import { type ColumnSource, columnSources } from "./columns.ts";

/** Where an asset's personal data is: dotted paths (a column, or a field in a struct column) and their origins. */
export type PiiPaths = ReadonlyMap<string, readonly string[]>;

export interface PiiProblem {
  readonly asset: string;
  /** The output column at fault; absent when every column is (untraceable lineage, a compute function). */
  readonly column?: string;
  /** The personal data it comes from, as `<source>.<field>` (or `<asset>.<column>` of a holder). */
  readonly origins: readonly string[];
  readonly message: string;
}

export interface PiiFlows {
  /** Every asset and source that holds personal data, with where in it: sources by their pii fields. */
  readonly holders: ReadonlyMap<string, PiiPaths>;
  readonly problems: readonly PiiProblem[];
}

/** Personal data an asset outputs without declaring it: the CLI prints every problem and exits 1. */
export class PiiError extends TributaryError {
  override name = "PiiError";
  readonly problems: readonly PiiProblem[];
  constructor(problems: readonly PiiProblem[]) {
    const n = problems.length;
    super(
      `graph: ${n} personal-data error${n === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p.message}`).join("\n")}`,
    );
    this.problems = problems;
  }
}

/** Throws a PiiError when an asset outputs personal data it does not declare. */
export async function checkPii(graph: AssetGraph, connection?: DuckDBConnection): Promise<PiiFlows> {
  const flows = await piiFlows(graph, connection);
  if (flows.problems.length > 0) throw new PiiError(flows.problems);
  return flows;
}

/** The personal data of every asset, in topological order, and the assets that output it undeclared. */
export async function piiFlows(graph: AssetGraph, connection?: DuckDBConnection): Promise<PiiFlows> {
  const holders = new Map<string, PiiPaths>();
  for (const a of graph.assets()) {
    if (a.kind === "source" && a.pii.length > 0) {
      holders.set(a.key, new Map(a.pii.map((p) => [p.toLowerCase(), [`${a.key}.${p}`]])));
    }
  }
  const declaring = graph.assets().some((a) => a.kind === "asset" && a.pii !== undefined);
  if (holders.size === 0 && !declaring) return { holders, problems: [] };
  if (connection) return walk(graph, holders, connection);
  const duck = await Duck.open({ threads: 1 });
  try {
    return await walk(graph, holders, duck.connection);
  } finally {
    duck.close();
  }
}

async function walk(
  graph: AssetGraph,
  holders: Map<string, PiiPaths>,
  connection: DuckDBConnection,
): Promise<PiiFlows> {
  const problems: PiiProblem[] = [];
  for (const a of graph.assets()) {
    if (a.kind !== "asset") continue;
    const reads = graph.inputs(a.key).filter((e) => holders.has(e.from));
    if (reads.length === 0 && a.pii === undefined) continue;
    const found =
      reads.length === 0 ? { kind: "none" as const } : await derived(graph, a, holders, connection);
    const columns = Object.keys(a.schema.properties);
    if (a.pii !== undefined) {
      holders.set(a.key, held(a, columns, found));
      continue;
    }
    if (found.kind === "known") {
      for (const [column, origins] of found.columns) {
        problems.push({
          asset: a.key,
          column,
          origins,
          message: `asset "${a.key}" outputs column "${column}" computed from personal data (${origins.join(", ")}) without tokenising it: tokenise it with pii_token(tenant, value) (the asset needs a tokenisation secret in its secrets), drop it, or declare the asset pii: ["${column}"] if it must hold personal data.`,
        });
      }
    } else if (found.kind === "untraced") {
      problems.push({ asset: a.key, origins: found.origins, message: found.message });
    }
  }
  return { holders, problems };
}

type Derived =
  | { readonly kind: "none" }
  /** Output columns computed from personal data, untokenised, with its origins; empty when none is. */
  | { readonly kind: "known"; readonly columns: Map<string, string[]> }
  /** The asset reads personal data and its outputs cannot be traced. */
  | { readonly kind: "untraced"; readonly origins: string[]; readonly message: string };

/** Which of an asset's output columns carry its upstreams' personal data. */
async function derived(
  graph: AssetGraph,
  a: AssetDef,
  holders: ReadonlyMap<string, PiiPaths>,
  connection: DuckDBConnection,
): Promise<Derived> {
  const edges = graph.inputs(a.key);
  if (a.sql === undefined) {
    // A function sees every column it reads: the columns it declares, else all of them.
    const origins = edges.flatMap((e) => {
      const paths = holders.get(e.from);
      if (!paths) return [];
      const visible = e.columns?.map((c) => c.toLowerCase());
      return [...paths].filter(([p]) => !visible || visible.includes(p.split(".")[0]!)).flatMap(([, o]) => o);
    });
    const unique = [...new Set(origins)].sort();
    if (unique.length === 0) return { kind: "known", columns: new Map() };
    return {
      kind: "untraced",
      origins: unique,
      message: `asset "${a.key}" is a compute function that reads personal data (${unique.join(", ")}), so what it outputs cannot be traced: declare it pii: true (or the columns that hold personal data), or read only columns without personal data (dep(upstream, { columns: [...] })).`,
    };
  }
  const upstreams = edges.map((e) => ({
    key: e.from,
    columns: Object.keys(graph.get(e.from).schema.properties),
  }));
  const lineage = await columnSources(a.sql, upstreams, connection);
  if (!lineage.known) {
    const origins = [
      ...new Set(edges.flatMap((e) => [...(holders.get(e.from) ?? new Map()).values()].flat())),
    ].sort();
    return {
      kind: "untraced",
      origins,
      message: `asset "${a.key}" reads personal data (${origins.join(", ")}) and its column lineage is not known (${lineage.reason}), so any column may carry it: make the SQL traceable, or declare the asset pii: true if it holds personal data.`,
    };
  }
  const columns = new Map<string, string[]>();
  for (const c of lineage.columns) {
    const origins = new Set<string>();
    for (const r of c.from) for (const o of touched(r, holders)) origins.add(o);
    if (origins.size > 0) columns.set(c.column, [...origins].sort());
  }
  return { kind: "known", columns };
}

/** The personal data an untokenised source of a value touches: a field in it, or it within a field. */
function touched(r: ColumnSource, holders: ReadonlyMap<string, PiiPaths>): string[] {
  if (r.tokenised) return [];
  const paths = holders.get(r.asset);
  if (!paths) return [];
  const read = r.path === undefined ? r.column.toLowerCase() : `${r.column.toLowerCase()}.${r.path}`;
  const out: string[] = [];
  for (const [p, origins] of paths) {
    if (p === read || p.startsWith(`${read}.`) || read.startsWith(`${p}.`)) out.push(...origins);
  }
  return out;
}

/**
 * Where a declared holder keeps personal data, for its consumers: the columns its lineage finds carrying
 * it and the columns it lists; with `pii: true`, every column unless its lineage finds the ones.
 */
function held(a: AssetDef, columns: readonly string[], found: Derived): PiiPaths {
  const own = `${a.key} (declared pii)`;
  const out = new Map<string, readonly string[]>();
  if (found.kind === "known") for (const [c, o] of found.columns) out.set(c.toLowerCase(), o);
  if (a.pii === true) {
    if (found.kind === "untraced" || out.size === 0) {
      const origins = found.kind === "untraced" ? found.origins : [own];
      for (const c of columns) out.set(c.toLowerCase(), origins);
    }
  } else {
    for (const c of a.pii ?? []) if (!out.has(c.toLowerCase())) out.set(c.toLowerCase(), [own]);
  }
  return out;
}

/**
 * Where each asset keeps or outputs personal data, for the pull-request preview: "column ← origins" for
 * the columns of declared holders and the columns that leak it (which fail validation); "any column ←
 * origins" where it cannot be traced. Assets without personal data are absent.
 */
export function piiColumns(flows: PiiFlows): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (asset: string, line: string) => out.set(asset, [...(out.get(asset) ?? []), line]);
  for (const [asset, paths] of flows.holders) {
    for (const [column, origins] of paths) add(asset, `${column} ← ${origins.join(", ")}`);
  }
  for (const p of flows.problems) add(p.asset, `${p.column ?? "any column"} ← ${p.origins.join(", ")}`);
  for (const [k, v] of out) out.set(k, [...new Set(v)].sort());
  return out;
}
