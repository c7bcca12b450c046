/**
 * The rows of one asset at two revisions, compared in DuckDB: which rows were added, removed and
 * changed (matched by key, the partition always part of it, or as multisets when there is no key), each
 * column's null rate, distinct count, min/max/mean (numbers), the most frequent value changes, a
 * checksum per revision, and the first differing rows. One full outer join writes only the rows that
 * differ into a temporary table; everything else is read from that table or from one aggregate pass
 * over each revision's rows.
 */
import type { TObject, TSchema } from "@sinclair/typebox";
import type {
  AssetDataDiff,
  ColumnDataDiff,
  ColumnStats,
  DataExpectation,
  ExampleRow,
  RowMatch,
} from "../../contract/data-diff.ts";
import type { Duck } from "./duckdb.ts";
import { type ColumnType, columnTypes, fromDuck, ident } from "./types.ts";

/** The column holding each row's partition in the SQL given to `compareRows`. */
export const PARTITION_COLUMN = "__partition";

export interface CompareInput {
  /** The asset's key (for messages) and output schema. */
  readonly asset: string;
  readonly schema: TObject;
  /** SQL of each revision's rows: the schema's columns and `PARTITION_COLUMN`. */
  readonly base: string;
  readonly head: string;
  /** Key columns, and where they come from; none: compared as multisets. */
  readonly key?: { readonly columns: readonly string[]; readonly from: "declared" | "unique check" };
  /** Example rows to keep (default 20). */
  readonly examples?: number;
  /** What the change was declared to do to the data. */
  readonly expect?: DataExpectation["expect"];
}

const NUMERIC = new Set(["BIGINT", "DOUBLE"]);
const TOP = 5;
const CHANGE_ORDER = "CASE __change WHEN 'changed' THEN 0 WHEN 'removed' THEN 1 ELSE 2 END";

interface Side {
  readonly rows: number;
  readonly checksum: string;
  /** Without distinct counts: those are counted apart, for the columns that differ. */
  readonly stats: readonly Omit<ColumnStats, "distinct">[];
}

/** Compare the two revisions' rows of an asset; the verdict is identical or changed. */
export async function compareRows(duck: Duck, input: CompareInput): Promise<AssetDataDiff> {
  const columns = columnTypes(input.schema, input.asset);
  const props = input.schema.properties as Record<string, TSchema>;
  const keyIdx = (input.key?.columns ?? []).map((k) => columns.findIndex((c) => c.name === k));
  await duck.run(`CREATE OR REPLACE TEMP VIEW __base AS ${input.base}`);
  await duck.run(`CREATE OR REPLACE TEMP VIEW __head AS ${input.head}`);
  try {
    const [[b], [h]] = await Promise.all([
      duck.rows("SELECT count(*)::BIGINT AS n FROM __base"),
      duck.rows("SELECT count(*)::BIGINT AS n FROM __head"),
    ]);
    const rows = { base: Number(b!.n), head: Number(h!.n) };
    let match: RowMatch;
    let stats: { base: Side; head: Side } | undefined;
    let keyedBase: Side | undefined;
    if (!input.key) {
      match = { by: "multiset", reason: "no key: declare diff.key or a unique check" };
    } else {
      // One pass: the join finds the differing rows, counts each revision's rows and aggregates the
      // base's stats (every row of a revision is in the join's output once, when the key is unique; the
      // counts say whether it is).
      const joined = await keyedDiff(duck, columns, keyIdx);
      if (joined.base.rows === rows.base && joined.headRows === rows.head) {
        match = { by: "key", columns: input.key.columns, from: input.key.from };
        keyedBase = joined.base;
      } else {
        const where = joined.base.rows !== rows.base ? "head" : "base";
        match = {
          by: "multiset",
          reason: `the key (${input.key.columns.join(", ")}) is not unique at the ${where} revision`,
        };
      }
    }
    if (match.by === "multiset") {
      await multisetDiff(
        duck,
        columns,
        columns.map((_, i) => i),
      );
      stats = { base: await side(duck, "__base", columns), head: await side(duck, "__head", columns) };
    }
    const counts = await duck.rows(
      `SELECT __partition AS p, __change AS c, sum(__rows)::BIGINT AS n FROM __diff GROUP BY ALL ORDER BY p, c`,
    );
    const byPartition = new Map<string, { added: number; removed: number; changed: number }>();
    const total = { added: 0, removed: 0, changed: 0 };
    for (const r of counts) {
      const p = String(r.p);
      const c = r.c as "added" | "removed" | "changed";
      const n = Number(r.n);
      const entry = byPartition.get(p) ?? { added: 0, removed: 0, changed: 0 };
      entry[c] += n;
      total[c] += n;
      byPartition.set(p, entry);
    }
    const changedBy = match.by === "key" ? await changedPerColumn(duck, columns) : columns.map(() => 0);
    // A column no differing row touches has the same values at both revisions: its distinct count
    // is the same too, and not counted (the one statistic that costs a pass of its own).
    const touched = columns
      .map((_, i) => i)
      .filter((i) => total.added + total.removed > 0 || changedBy[i]! > 0);
    let distinct: Map<number, { base: number; head: number }>;
    if (keyedBase) {
      const h = await headSide(duck, columns, keyedBase, rows.head, touched);
      stats = { base: keyedBase, head: h.head };
      distinct = h.distinct;
    } else distinct = await distinctCounts(duck, columns, touched);
    const cols: ColumnDataDiff[] = [];
    for (const [i, c] of columns.entries()) {
      const top =
        changedBy[i]! > 0
          ? (
              await duck.rows(
                `SELECT b_${i} AS f, h_${i} AS t, count(*)::BIGINT AS n FROM __diff WHERE __change = 'changed' AND b_${i} IS DISTINCT FROM h_${i} GROUP BY ALL ORDER BY n DESC, f NULLS FIRST, t NULLS FIRST LIMIT ${TOP}`,
              )
            ).map((r) => ({
              from: fromDuck(r.f, props[c.name]!),
              to: fromDuck(r.t, props[c.name]!),
              rows: Number(r.n),
            }))
          : [];
      const d = distinct.get(i);
      cols.push({
        name: c.name,
        changed: changedBy[i]!,
        base: { ...stats!.base.stats[i]!, ...(d ? { distinct: d.base } : {}) },
        head: { ...stats!.head.stats[i]!, ...(d ? { distinct: d.head } : {}) },
        top,
      });
    }
    const examples = await exampleRows(duck, columns, props, keyIdx, match, input.examples ?? 20);
    const differs = total.added + total.removed + total.changed > 0;
    const expectation = input.expect
      ? await expectationOf(duck, input, columns, props, keyIdx, match, total, changedBy, examples)
      : undefined;
    return {
      key: input.asset,
      verdict: differs ? "changed" : "identical",
      match,
      rows: { ...rows, ...total },
      partitions: [...byPartition].map(([partition, n]) => ({ partition, ...n })),
      columns: cols.sort((x, y) => y.changed - x.changed || shift(y) - shift(x)),
      checksum: { base: stats!.base.checksum, head: stats!.head.checksum },
      examples,
      ...(expectation ? { expectation } : {}),
    };
  } finally {
    await duck.run(
      "DROP VIEW IF EXISTS __base; DROP VIEW IF EXISTS __head; DROP TABLE IF EXISTS __diff; DROP TABLE IF EXISTS __agg",
    );
  }
}

/** How far a column's distribution moved: null rate, distinct count and mean, each relative. */
function shift(c: ColumnDataDiff): number {
  const rel = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  return (
    Math.abs(c.base.nullRate - c.head.nullRate) +
    rel(c.base.distinct, c.head.distinct) +
    rel(c.base.mean, c.head.mean) +
    rel(c.base.min, c.head.min) +
    rel(c.base.max, c.head.max)
  );
}

/** The aggregates of one revision's rows: count, checksum, and each column's nulls and min/max/mean. */
function sideAggregates(columns: readonly ColumnType[], s: string, filter: string): string[] {
  const col = (name: string) => (s === "" ? ident(name) : `${s}.${ident(name)}`);
  const all = [PARTITION_COLUMN, ...columns.map((c) => c.name)].map(col).join(", ");
  const where = filter === "" ? "" : ` FILTER (WHERE ${filter})`;
  const p = s === "" ? "" : `${s}_`;
  return [
    `count(*)${where}::BIGINT AS ${p}n`,
    `sum(hash(${all}))${where}::HUGEINT AS ${p}h`,
    ...columnAggregates(
      columns,
      s,
      columns.map((_, i) => i),
    ),
  ];
}

/**
 * Each of the columns `idx`: its non-null count and min/max/mean. These skip NULLs, which is all the
 * absent side of a full join has: they need no filter.
 */
function columnAggregates(columns: readonly ColumnType[], s: string, idx: readonly number[]): string[] {
  const col = (name: string) => (s === "" ? ident(name) : `${s}.${ident(name)}`);
  const p = s === "" ? "" : `${s}_`;
  return idx.flatMap((i) => {
    const c = columns[i]!;
    const parts = [`count(${col(c.name)})::BIGINT AS ${p}nn_${i}`];
    if (NUMERIC.has(c.type)) {
      parts.push(
        `min(${col(c.name)})::DOUBLE AS ${p}min_${i}`,
        `max(${col(c.name)})::DOUBLE AS ${p}max_${i}`,
        `avg(${col(c.name)})::DOUBLE AS ${p}mean_${i}`,
      );
    }
    return parts;
  });
}

/** A revision's count, checksum and column stats from the row `r` of `sideAggregates` (prefix `p`). */
function sideOf(r: Record<string, unknown>, columns: readonly ColumnType[], p: string): Side {
  const rows = Number(r[`${p}n`]);
  const sum = r[`${p}h`] === null ? 0n : BigInt(r[`${p}h`] as bigint);
  return { rows, checksum: checksumOf(sum), stats: columns.map((c, i) => columnStatsOf(r, c, i, p, rows)) };
}

/** The checksum: the sum of the rows' 64-bit hashes, modulo 2^64, in hex. */
const checksumOf = (sum: bigint) => BigInt.asUintN(64, sum).toString(16).padStart(16, "0");

/** Column `i`'s stats from the row `r` of `columnAggregates` (prefix `p`), of `rows` rows. */
function columnStatsOf(
  r: Record<string, unknown>,
  c: ColumnType,
  i: number,
  p: string,
  rows: number,
): Omit<ColumnStats, "distinct"> {
  const num = (v: unknown) => (v === null || v === undefined ? undefined : round(Number(v), 6));
  const nulls = rows - Number(r[`${p}nn_${i}`]);
  const numeric: { min?: number; max?: number; mean?: number } = {};
  if (NUMERIC.has(c.type)) {
    for (const k of ["min", "max", "mean"] as const) {
      const v = num(r[`${p}${k}_${i}`]);
      if (v !== undefined) numeric[k] = v;
    }
  }
  return { nulls, nullRate: rows === 0 ? 0 : round(nulls / rows, 4), ...numeric };
}

/**
 * The head revision's side of a comparison by key, from the base's and `__diff`: when every row is
 * matched by key once, the head's rows are the base's, less the differing rows' base values, plus their
 * head values. So its checksum is the base's less those rows' hashes plus theirs (exact: sums modulo
 * 2^64), and a column no differing row touches has the base's stats; the columns `touched` are
 * aggregated over the head's rows, with the distinct counts (of the head's and the base's rows).
 */
async function headSide(
  duck: Duck,
  columns: readonly ColumnType[],
  base: Side,
  rows: number,
  touched: readonly number[],
): Promise<{ head: Side; distinct: Map<number, { base: number; head: number }> }> {
  const values = (s: "b" | "h") => [PARTITION_COLUMN, ...columns.map((_, i) => `${s}_${i}`)].join(", ");
  const none: Record<string, unknown>[] = [{}];
  const [[d], [h], [b]] = await Promise.all([
    duck.rows(
      `SELECT (coalesce(sum(hash(${values("h")})) FILTER (WHERE __change <> 'removed'), 0)::HUGEINT
         - coalesce(sum(hash(${values("b")})) FILTER (WHERE __change <> 'added'), 0)::HUGEINT) AS d FROM __diff`,
    ),
    touched.length === 0
      ? none
      : duck.rows(
          `SELECT ${[...columnAggregates(columns, "", touched), ...distinctAggregates(columns, touched)].join(", ")} FROM __head`,
        ),
    touched.length === 0
      ? none
      : duck.rows(`SELECT ${distinctAggregates(columns, touched).join(", ")} FROM __base`),
  ]);
  const sum = BigInt(`0x${base.checksum}`) + BigInt(d!.d as bigint);
  const distinct = new Map(
    touched.map((i) => [i, { base: Number(b![`d_${i}`]), head: Number(h![`d_${i}`]) }]),
  );
  return {
    head: {
      rows,
      checksum: checksumOf(sum),
      stats: columns.map((c, i) =>
        touched.includes(i) ? columnStatsOf(h!, c, i, "", rows) : base.stats[i]!,
      ),
    },
    distinct,
  };
}

const distinctAggregates = (columns: readonly ColumnType[], idx: readonly number[]) =>
  idx.map((i) => `count(DISTINCT ${ident(columns[i]!.name)})::BIGINT AS d_${i}`);

/** One aggregate pass over a revision's rows (the comparison without a key). */
async function side(duck: Duck, table: string, columns: readonly ColumnType[]): Promise<Side> {
  const [r] = await duck.rows(`SELECT ${sideAggregates(columns, "", "").join(", ")} FROM ${table}`);
  return sideOf(r!, columns, "");
}

/** Exact distinct counts of the columns `idx` at both revisions, by column index. */
async function distinctCounts(
  duck: Duck,
  columns: readonly ColumnType[],
  idx: readonly number[],
): Promise<Map<number, { base: number; head: number }>> {
  const out = new Map<number, { base: number; head: number }>();
  if (idx.length === 0) return out;
  const list = distinctAggregates(columns, idx).join(", ");
  const [[b], [h]] = await Promise.all([
    duck.rows(`SELECT ${list} FROM __base`),
    duck.rows(`SELECT ${list} FROM __head`),
  ]);
  for (const i of idx) out.set(i, { base: Number(b![`d_${i}`]), head: Number(h![`d_${i}`]) });
  return out;
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * One full outer join on the partition and key: `__diff` gets the rows whose key is at one revision
 * only, or whose values differ, with each side's values; the same pass counts each revision's rows and
 * aggregates the base revision's checksum and column stats (the head's follow from them and `__diff`:
 * see `headSide`).
 */
async function keyedDiff(
  duck: Duck,
  columns: readonly ColumnType[],
  keyIdx: readonly number[],
): Promise<{ base: Side; headRows: number }> {
  const p = ident(PARTITION_COLUMN);
  const on = [
    `b.${p} = h.${p}`,
    ...keyIdx.map((i) => `b.${ident(columns[i]!.name)} IS NOT DISTINCT FROM h.${ident(columns[i]!.name)}`),
  ];
  const values = columns.flatMap((c, i) => [`b_${i}: b.${ident(c.name)}`, `h_${i}: h.${ident(c.name)}`]);
  const differs = columns
    .map((_, i) => i)
    .filter((i) => !keyIdx.includes(i))
    .map((i) => `b.${ident(columns[i]!.name)} IS DISTINCT FROM h.${ident(columns[i]!.name)}`);
  const change =
    "CASE WHEN b.__in IS NULL THEN 'added' WHEN h.__in IS NULL THEN 'removed' ELSE 'changed' END";
  const row = `{__change: ${change}, __partition: coalesce(b.${p}, h.${p}), __rows: 1, ${values.join(", ")}}`;
  const where = `b.__in IS NULL OR h.__in IS NULL${differs.length > 0 ? ` OR ${differs.join(" OR ")}` : ""}`;
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE __agg AS
     SELECT ${sideAggregates(columns, "b", "b.__in").join(", ")}, count(h.__in)::BIGINT AS h_n,
       list(${row}) FILTER (WHERE ${where}) AS __rows
     FROM (SELECT true AS __in, * FROM __base) b FULL JOIN (SELECT true AS __in, * FROM __head) h ON ${on.join(" AND ")}`,
  );
  await duck.run(
    "CREATE OR REPLACE TEMP TABLE __diff AS SELECT unnest(r) FROM (SELECT unnest(__rows) AS r FROM __agg)",
  );
  const [r] = await duck.rows(`SELECT * EXCLUDE (__rows) FROM __agg`);
  return { base: sideOf(r!, columns, "b_"), headRows: Number(r!.h_n) };
}

/**
 * `__diff` for rows without a key: each distinct row (of the columns `idx`) whose count differs, as
 * added (more at head) or removed (more at base), `__rows` times.
 */
async function multisetDiff(
  duck: Duck,
  columns: readonly ColumnType[],
  idx: readonly number[],
): Promise<void> {
  const p = ident(PARTITION_COLUMN);
  const list = [p, ...idx.map((i) => ident(columns[i]!.name))].join(", ");
  const on = [
    `b.${p} = h.${p}`,
    ...idx.map((i) => `b.${ident(columns[i]!.name)} IS NOT DISTINCT FROM h.${ident(columns[i]!.name)}`),
  ];
  const change = "CASE WHEN coalesce(h.__n, 0) > coalesce(b.__n, 0) THEN 'added' ELSE 'removed' END";
  const values = columns.flatMap((c, i) =>
    idx.includes(i)
      ? [
          `CASE WHEN ${change} = 'removed' THEN coalesce(b.${ident(c.name)}, h.${ident(c.name)}) END AS b_${i}`,
          `CASE WHEN ${change} = 'added' THEN coalesce(b.${ident(c.name)}, h.${ident(c.name)}) END AS h_${i}`,
        ]
      : [`NULL AS b_${i}`, `NULL AS h_${i}`],
  );
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE __diff AS
     WITH b AS (SELECT ${list}, count(*) AS __n FROM __base GROUP BY ALL),
          h AS (SELECT ${list}, count(*) AS __n FROM __head GROUP BY ALL)
     SELECT ${change} AS __change, coalesce(b.${p}, h.${p}) AS __partition,
       abs(coalesce(h.__n, 0) - coalesce(b.__n, 0)) AS __rows, ${values.join(", ")}
     FROM b FULL JOIN h ON ${on.join(" AND ")}
     WHERE coalesce(b.__n, 0) <> coalesce(h.__n, 0)`,
  );
}

async function changedPerColumn(duck: Duck, columns: readonly ColumnType[]): Promise<number[]> {
  const parts = columns.map(
    (_, i) => `count(*) FILTER (WHERE b_${i} IS DISTINCT FROM h_${i})::BIGINT AS c_${i}`,
  );
  const [r] = await duck.rows(`SELECT ${parts.join(", ")} FROM __diff WHERE __change = 'changed'`);
  return columns.map((_, i) => Number(r![`c_${i}`] ?? 0));
}

/** The rows of `__diff` matching `where`, first `limit` in change, partition and key (or row) order. */
async function exampleRows(
  duck: Duck,
  columns: readonly ColumnType[],
  props: Record<string, TSchema>,
  keyIdx: readonly number[],
  match: RowMatch,
  limit: number,
  where = "true",
): Promise<ExampleRow[]> {
  if (limit <= 0) return [];
  const order = (match.by === "key" ? keyIdx : columns.map((_, i) => i)).map(
    (i) => `coalesce(b_${i}, h_${i}) NULLS FIRST`,
  );
  const rows = await duck.rows(
    `SELECT * FROM __diff WHERE ${where} ORDER BY ${CHANGE_ORDER}, __partition, ${order.join(", ")} LIMIT ${limit}`,
  );
  return rows.map((r) => {
    const change = r.__change as ExampleRow["change"];
    const values = (prefix: "b" | "h") =>
      Object.fromEntries(columns.map((c, i) => [c.name, fromDuck(r[`${prefix}_${i}`], props[c.name]!)]));
    const before = change === "added" ? undefined : values("b");
    const after = change === "removed" ? undefined : values("h");
    const differing =
      change === "changed"
        ? columns
            .filter((c) => JSON.stringify(before![c.name]) !== JSON.stringify(after![c.name]))
            .map((c) => c.name)
        : undefined;
    return {
      change,
      partition: String(r.__partition),
      ...(before ? { before } : {}),
      ...(after ? { after } : {}),
      ...(differing ? { columns: differing } : {}),
    };
  });
}

/** One differing row in words: its partition, key and what differs. */
export function describeRow(row: ExampleRow, key: readonly string[]): string {
  const values = row.before ?? row.after ?? {};
  const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  const where = [
    row.partition === "" ? "" : `partition ${row.partition}`,
    key.map((k) => `${k}=${show(values[k])}`).join(", "),
  ]
    .filter(Boolean)
    .join(", ");
  if (row.change === "changed") {
    const what = (row.columns ?? []).map((c) => `${c} ${show(row.before![c])} → ${show(row.after![c])}`);
    return `${where}: ${what.join(", ")}`;
  }
  return `${row.change} ${JSON.stringify(values)}${where ? ` (${where})` : ""}`;
}

async function expectationOf(
  duck: Duck,
  input: CompareInput,
  columns: readonly ColumnType[],
  props: Record<string, TSchema>,
  keyIdx: readonly number[],
  match: RowMatch,
  total: { added: number; removed: number; changed: number },
  changedBy: readonly number[],
  examples: readonly ExampleRow[],
): Promise<DataExpectation> {
  const expect = input.expect!;
  const key = match.by === "key" ? match.columns : [];
  const counts = `${total.added} added, ${total.removed} removed, ${total.changed} changed rows`;
  if (expect === "unchanged") {
    if (examples.length === 0) return { expect, held: true };
    return {
      expect,
      held: false,
      message: `${input.asset} declares no data change, but ${counts}; first differing row: ${describeRow(examples[0]!, key)}`,
    };
  }
  const allowed = new Set(expect.only);
  const others = columns.map((_, i) => i).filter((i) => !allowed.has(columns[i]!.name));
  let first: ExampleRow | undefined;
  if (match.by === "key") {
    const bad = others.filter((i) => changedBy[i]! > 0);
    if (total.added + total.removed === 0 && bad.length === 0) return { expect, held: true };
    const where = `__change <> 'changed'${bad.map((i) => ` OR b_${i} IS DISTINCT FROM h_${i}`).join("")}`;
    [first] = await exampleRows(duck, columns, props, keyIdx, match, 1, where);
  } else {
    // Without a key: the rows must be the same multiset once the allowed columns are set aside.
    await multisetDiff(duck, columns, others);
    [first] = await exampleRows(duck, columns, props, keyIdx, match, 1);
    if (!first) return { expect, held: true };
  }
  const only = expect.only.join(", ");
  return {
    expect,
    held: false,
    message: `${input.asset} declares that only ${only} may change, but ${counts}; first differing row: ${describeRow(first!, key)}`,
  };
}
