/**
 * A data file's metrics for its manifest entry, from what DuckDB's `COPY … (RETURN_STATS true)` returns:
 * one row per file with `count`, `file_size_bytes` and `column_statistics`, a map from the quoted path
 * of every leaf column (`"id"`, `"source"."lsn"`, `"features"."element"`) to `num_values`, `null_count`,
 * `column_size_bytes`, `min`, `max` (as text) and, for floating point, `has_nan`. No second pass over
 * the file, no footer read.
 *
 *   value_counts       num_values (nulls included; a list element counts element slots)
 *   null_value_counts  null_count
 *   column_sizes       column_size_bytes
 *   lower/upper bounds min/max, parsed and serialized (values.ts); none for leaves inside a list, as
 *                      Iceberg's Java writer keeps none; a bound DuckDB renders in a way that cannot be
 *                      read back is left out (a missing bound is always correct)
 *   nan_value_counts   not written: DuckDB says whether there is a NaN, not how many (and leaves NaN out
 *                      of min and max, as Iceberg does)
 */
import type { IcebergPrimitive, IcebergStruct, IcebergType } from "../../contract/table-schema.ts";
import { parseStatistic, serialize, type Value } from "./values.ts";

/** One primitive column of a Parquet file: its Iceberg id and type, and where it is. */
export interface Leaf {
  readonly id: number;
  readonly type: IcebergPrimitive;
  readonly path: readonly string[];
  /** Inside a list: no bounds are kept for it. */
  readonly repeated: boolean;
}

/** Every primitive column of a schema, depth first. */
export function leaves(
  t: IcebergType,
  path: readonly string[] = [],
  repeated = false,
  out: Leaf[] = [],
): Leaf[] {
  if (typeof t === "string") return out;
  if (t.type === "struct") {
    for (const f of t.fields) {
      if (typeof f.type === "string") out.push({ id: f.id, type: f.type, path: [...path, f.name], repeated });
      else leaves(f.type, [...path, f.name], repeated, out);
    }
  } else if (typeof t.element === "string") {
    out.push({ id: t["element-id"], type: t.element, path: [...path, "element"], repeated: true });
  } else {
    leaves(t.element, [...path, "element"], true, out);
  }
  return out;
}

/** What a manifest entry says of a data file's columns, by field id. */
export interface FileMetrics {
  readonly recordCount: number;
  readonly fileSizeInBytes: number;
  readonly columnSizes: ReadonlyMap<number, number>;
  readonly valueCounts: ReadonlyMap<number, number>;
  readonly nullValueCounts: ReadonlyMap<number, number>;
  readonly lowerBounds: ReadonlyMap<number, Buffer>;
  readonly upperBounds: ReadonlyMap<number, Buffer>;
  /** Minimum and maximum of each top-level primitive column, untruncated: partition values are checked on them. */
  readonly ranges: ReadonlyMap<number, { readonly min?: Value; readonly max?: Value }>;
}

/** The row COPY … RETURN_STATS returns for a file, as DuckDB's JS values. */
export interface ReturnStatsRow {
  readonly count: unknown;
  readonly file_size_bytes: unknown;
  readonly column_statistics: unknown;
}

type Stats = Readonly<Record<string, string>>;

/** A DuckDB MAP as its JS value (an array of key/value entries). */
function entries(m: unknown): [string, unknown][] {
  if (Array.isArray(m)) return m.map((e: { key: string; value: unknown }) => [e.key, e.value]);
  if (m && typeof m === "object") return Object.entries(m);
  return [];
}

/** DuckDB's key of a column path in RETURN_STATS: each name double-quoted, joined by dots. */
export function statsKey(path: readonly string[]): string {
  return path.map((p) => `"${p.replaceAll('"', '""')}"`).join(".");
}

/** The metrics of a file written with COPY … RETURN_STATS, for the columns of `schema`. */
export function metricsOf(row: ReturnStatsRow, schema: IcebergStruct): FileMetrics {
  const stats = new Map<string, Stats>();
  for (const [k, v] of entries(row.column_statistics)) {
    stats.set(k, Object.fromEntries(entries(v).map(([sk, sv]) => [sk, String(sv)])));
  }
  const columnSizes = new Map<number, number>();
  const valueCounts = new Map<number, number>();
  const nullValueCounts = new Map<number, number>();
  const lowerBounds = new Map<number, Buffer>();
  const upperBounds = new Map<number, Buffer>();
  const ranges = new Map<number, { min?: Value; max?: Value }>();
  for (const leaf of leaves(schema)) {
    const s = stats.get(statsKey(leaf.path));
    if (!s) continue;
    if (s.column_size_bytes !== undefined) columnSizes.set(leaf.id, Number(s.column_size_bytes));
    if (s.num_values !== undefined) valueCounts.set(leaf.id, Number(s.num_values));
    if (s.null_count !== undefined) nullValueCounts.set(leaf.id, Number(s.null_count));
    if (leaf.repeated) continue;
    const min = s.min === undefined ? undefined : parseStatistic(leaf.type, s.min);
    const max = s.max === undefined ? undefined : parseStatistic(leaf.type, s.max);
    if (leaf.path.length === 1) {
      ranges.set(leaf.id, { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) });
    }
    const lower = min === undefined ? undefined : serialize(leaf.type, min, "lower");
    const upper = max === undefined ? undefined : serialize(leaf.type, max, "upper");
    if (lower) lowerBounds.set(leaf.id, lower);
    if (upper) upperBounds.set(leaf.id, upper);
  }
  return {
    recordCount: Number(row.count),
    fileSizeInBytes: Number(row.file_size_bytes),
    columnSizes,
    valueCounts,
    nullValueCounts,
    lowerBounds,
    upperBounds,
    ranges,
  };
}
