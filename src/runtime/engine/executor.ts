import {
  type DuckDBAppender,
  dateValueFromDate,
  jsToDuckDBValue,
  timestampTZValueFromDate,
} from "@duckdb/node-api";
import type { TSchema } from "@sinclair/typebox";
import { layout, partitionPath } from "../../contract/storage-layout.ts";
import type { AnyAsset, AssetDef, ComputeContext } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { MULTI_SEPARATOR, staticDimension, timeDimension, upstreamKeys } from "../../kit/partitions.ts";
import { CommitConflictError } from "../iceberg/commit.ts";
import { dataFileCopyOptions, readFilesSql } from "../iceberg/duck.ts";
import { currentSchema, newSnapshotId, prepareMetadata } from "../iceberg/metadata.ts";
import { metricsOf, type ReturnStatsRow } from "../iceberg/stats.ts";
import { tableDefinition } from "../iceberg/tables.ts";
import type { ObjectStore } from "../storage/port.ts";
import { dropEmbedding, ledgerSql, prepareEmbedding, syncEmbedding } from "../vectors/materialize.ts";
import { type VectorsRuntime, vectorsRuntime } from "../vectors/sync.ts";
import { runCheck } from "./checks.ts";
import { type CatalogContext, commitPartition } from "./commit.ts";
import type { Duck } from "./duckdb.ts";
import type { Scratch } from "./files.ts";
import { compileRowSchema } from "./ingest-validate.ts";
import type { AssetManifest, CheckResult, VectorsRecord } from "./manifest.ts";
import type { Outbox } from "./outbox.ts";
import type { FailureRecord, StoreState } from "./state.ts";
import type { Step } from "./steps.ts";
import type { TokenKeys, TokenScope } from "./tokens.ts";
import { type ColumnType, castable, columnTypes, fromDuck, ident, jsonColumns, literal } from "./types.ts";

/** A materialisation that could not produce valid output: wrong columns, wrong types, bad rows. */
export class MaterializeError extends TributaryError {
  override name = "MaterializeError";
}

export interface Outcome {
  readonly item: Step;
  readonly status: "materialized" | "failed";
  readonly manifest?: AssetManifest;
  readonly checks: readonly CheckResult[];
  readonly error?: string;
  /** Committed, but something after the commit did not happen (the catalog was not told). */
  readonly warning?: string;
  readonly ms: number;
}

const APPEND_CHUNK = 10_000;

/** Create the views an asset's SQL reads: one per dependency over its mapped partitions, and this_partition. */
export async function registerInputs(
  graph: AssetGraph,
  state: StoreState,
  duck: Duck,
  scratch: Scratch,
  a: AssetDef,
  partition: string,
): Promise<void> {
  for (const edge of graph.inputs(a.key)) {
    const up = graph.get(edge.from);
    const upKeys = upstreamKeys(up.partitions, a.partitions, edge.mapping, partition);
    if (up.kind === "asset") {
      for (const k of upKeys) {
        if (!(await state.manifest(up, k))) {
          throw new MaterializeError(
            `upstream "${up.key}" partition ${JSON.stringify(k)} has no committed data.`,
          );
        }
      }
    }
    const files = await Promise.all(
      (await state.committedObjects(up, upKeys)).map((o) => scratch.readable(o)),
    );
    await duck.run(`CREATE OR REPLACE TEMP VIEW ${ident(up.key)} AS ${await committedSql(state, up, files)}`);
  }
  const time = timeDimension(a.partitions);
  const stat = staticDimension(a.partitions);
  const [timeKey, staticKey] =
    a.partitions?.kind === "multi"
      ? partition.split(MULTI_SEPARATOR)
      : time
        ? [partition, undefined]
        : [undefined, stat ? partition : undefined];
  const nullable = (v: string | undefined) => (v === undefined ? "CAST(NULL AS VARCHAR)" : literal(v));
  await duck.run(
    `CREATE OR REPLACE TEMP VIEW this_partition AS SELECT ${literal(partition)} AS key, ${nullable(timeKey)} AS time_key, ${nullable(staticKey)} AS static_key`,
  );
}

/**
 * SQL reading committed files of an asset or source as its declared columns: an asset's by the field ids
 * of its table (a column added since a file was written reads as null there), a source's raw NDJSON by
 * name (and an asset's that has no table yet, committed before tables).
 */
export async function committedSql(
  state: StoreState,
  a: AnyAsset,
  files: readonly string[],
): Promise<string> {
  if (a.kind === "source") return readSql(a, files);
  const latest = await state.tables.latest(a.key);
  // Files committed before the asset had a table carry no field ids: read by name.
  if (!latest) return readSql(a, files);
  return readFilesSql(
    currentSchema(prepareMetadata(latest?.metadata, tableDefinition(state.store, a))),
    files,
  );
}

/** SQL reading an asset's or source's committed files with its declared column types, by name. */
export function readSql(a: AnyAsset, files: readonly string[]): string {
  const columns = columnTypes(a.schema, a.key);
  if (files.length === 0) {
    return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${ident(c.name)}`).join(", ")} WHERE false`;
  }
  const list = `[${files.map(literal).join(", ")}]`;
  if (a.kind === "source") {
    return `SELECT * FROM read_json(${list}, format = 'newline_delimited', columns = ${jsonColumns(columns)})`;
  }
  return `SELECT ${columns.map((c) => ident(c.name)).join(", ")} FROM read_parquet(${list})`;
}

/** Drop what one materialisation created (its views are named by the asset, its inputs and its checks). */
async function dropViews(duck: Duck, graph: AssetGraph, a: AssetDef): Promise<void> {
  const views = [
    ...graph.inputs(a.key).map((e) => e.from),
    "this_partition",
    a.key,
    ...a.checks.flatMap((c) => (c.kind === "references" ? [`__ref_${c.asset}`] : [])),
  ];
  await duck.run(
    [...views.map((v) => `DROP VIEW IF EXISTS ${ident(v)}`), "DROP TABLE IF EXISTS __tributary_out"].join(
      "; ",
    ),
  );
}

/** The user's SQL as one statement (a trailing semicolon is allowed). */
function oneStatement(a: AssetDef): string {
  const sql = a.sql!.trim().replace(/;\s*$/, "");
  return sql;
}

/** Check the columns a query produces against the declared schema; return the SELECT list that casts them. */
function castList(
  a: AssetDef,
  produced: readonly { name: string; type: string }[],
  declared: readonly ColumnType[],
): string {
  const have = new Map(produced.map((c) => [c.name, c.type]));
  const problems: string[] = [];
  for (const c of declared) {
    const t = have.get(c.name);
    if (t === undefined) problems.push(`column "${c.name}" (${c.type}) is declared but not produced`);
    else if (!castable(t, c.type)) problems.push(`column "${c.name}" is ${t}, declared ${c.type}`);
  }
  const extra = produced.filter((c) => !declared.some((d) => d.name === c.name)).map((c) => `"${c.name}"`);
  if (extra.length > 0)
    problems.push(
      `column${extra.length === 1 ? "" : "s"} ${extra.join(", ")} ${extra.length === 1 ? "is" : "are"} produced but not declared in the schema`,
    );
  if (problems.length > 0) {
    throw new MaterializeError(`the output of "${a.key}" does not match its schema: ${problems.join("; ")}.`);
  }
  return declared
    .map((c) =>
      have.get(c.name) === c.type ? ident(c.name) : `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`,
    )
    .join(", ");
}

/** Append a compute function's rows into a typed table, validating each against the schema. */
async function appendRows(
  duck: Duck,
  a: AssetDef,
  declared: readonly ColumnType[],
  rows: Iterable<unknown> | AsyncIterable<unknown>,
): Promise<number> {
  await duck.run(
    `CREATE TEMP TABLE __tributary_out (${declared.map((c) => `${ident(c.name)} ${c.type}`).join(", ")})`,
  );
  const appender = await duck.connection.createAppender("__tributary_out");
  const validate = compileRowSchema(a.schema, "fast");
  const writers = declared.map((c, i) => writerFor(appender, c, i));
  let n = 0;
  try {
    for await (const row of rows as AsyncIterable<unknown>) {
      if (!validate(row)) {
        const e = validate.errors![0]!;
        throw new MaterializeError(
          `row ${n + 1} returned by the compute function of "${a.key}" does not match its schema: ${e.instancePath || "/"} ${e.message}.`,
        );
      }
      const r = row as Record<string, unknown>;
      for (let i = 0; i < declared.length; i++) {
        const v = r[declared[i]!.name];
        if (v === null || v === undefined) appender.appendNull();
        else writers[i]!(v);
      }
      appender.endRow();
      if (++n % APPEND_CHUNK === 0) appender.flushSync();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return n;
}

function writerFor(appender: DuckDBAppender, c: ColumnType, index: number): (v: unknown) => void {
  switch (c.type) {
    case "VARCHAR":
      return (v) => appender.appendVarchar(String(v));
    case "BIGINT":
      return (v) => appender.appendBigInt(BigInt(v as number));
    case "DOUBLE":
      return (v) => appender.appendDouble(Number(v));
    case "BOOLEAN":
      return (v) => appender.appendBoolean(Boolean(v));
    case "DATE":
      return (v) => appender.appendDate(dateValueFromDate(new Date(`${String(v)}T00:00:00Z`)));
    case "TIMESTAMP WITH TIME ZONE":
      return (v) => appender.appendTimestampTZ(timestampTZValueFromDate(new Date(String(v))));
    default: {
      const type = appender.columnType(index);
      return (v) => appender.appendValue(jsToDuckDBValue(v as never, type), type);
    }
  }
}

export interface ExecuteContext {
  readonly graph: AssetGraph;
  readonly state: StoreState;
  readonly duck: Duck;
  readonly scratch: Scratch;
  readonly runId: string;
  /** The run's tokenisation keys and secret source. */
  readonly keys: TokenKeys;
  /** What the database's `pii_token` tokenises with (registerTokenFunction): set for each asset here. */
  readonly tokens: TokenScope;
  /** Where the commit records the announcement it owes, when the run announces its commits. */
  readonly outbox?: Outbox;
  /** Embedders and backpressure of the run's embedding assets (default: from $TRIBUTARY_VECTORS). */
  readonly vectors?: VectorsRuntime;
  /** The stack's table catalog, told of every commit, and how it names tables. */
  readonly catalog?: CatalogContext;
}

/** What a compute function may ask of the run: the secrets its asset declares, and tokens. */
function computeContext(ctx: ExecuteContext, a: AssetDef, partition: string): ComputeContext {
  return {
    partition,
    key: a.key,
    secret: async (name) => {
      const def = ctx.graph.secretsOf(a.key).find((s) => s.name === name);
      if (def === undefined) {
        const declared = a.secrets?.length
          ? `it declares ${a.secrets.map((n) => `"${n}"`).join(", ")}`
          : "it declares none";
        throw new MaterializeError(
          `the compute function of "${a.key}" asked for secret "${name}", which the asset does not declare (${declared}): add it to its secrets.`,
        );
      }
      return ctx.keys.source.read(def);
    },
    token: (tenant, value) => {
      if (ctx.tokens.key === undefined) {
        throw new MaterializeError(
          `the compute function of "${a.key}" asked for a token, but the asset declares no tokenisation secret: add one to its secrets.`,
        );
      }
      return ctx.tokens.key.token(tenant, value);
    },
  };
}

/**
 * Materialise one asset partition: read its inputs, compute, write one Parquet file (zstd) with its
 * table's field ids and statistics, verify the schema and non-null columns, run its checks, and commit
 * it into the asset's Iceberg table with its record (commit.ts). A partition with no rows commits no
 * file (its old files are removed all the same). A failing blocking check leaves the previous commit in
 * place and records the failure.
 */
export async function execute(ctx: ExecuteContext, item: Step): Promise<Outcome> {
  const { graph, state, duck, scratch, runId } = ctx;
  const a = graph.get(item.asset) as AssetDef;
  ctx.tokens.asset = a.key;
  ctx.tokens.key = item.keys === undefined ? undefined : (await ctx.keys.of(a.key))?.key;
  const store = state.store;
  const ppath = partitionPath(a.partitions, item.partition, a.key);
  const started = new Date();
  const t0 = performance.now();
  const fileKey = layout.curated(a.key, ppath, `${item.dataVersion}-${runId.slice(-8)}`);
  const declared = columnTypes(a.schema, a.key);
  /**
   * Where the data file is: maybe being written (ours to delete on failure), given to the commit
   * (deleted only when the commit gave up), or in the table (never deleted here).
   */
  const file: { at: "none" | "written" | "committing" | "committed" } = { at: "none" };
  try {
    // The field ids the file gets: the table's, kept by column across schema changes.
    const schema = currentSchema(
      prepareMetadata((await state.tables.latest(a.key))?.metadata, tableDefinition(store, a)),
    );
    await registerInputs(graph, state, duck, scratch, a, item.partition);
    const out = await scratch.writable(fileKey);
    const copyOptions = `(${dataFileCopyOptions(schema)})`;
    let stats: Record<string, unknown>[];
    if (a.embedding !== undefined) {
      // The ledger of its vectors (the asset's table); the vectors themselves are written once its checks pass.
      await prepareEmbedding(duck, a, item.partition);
      file.at = "written";
      stats = await duck.rows(`COPY (${ledgerSql(a)}) TO ${literal(out.path)} ${copyOptions}`);
    } else if (a.sql !== undefined) {
      const sql = oneStatement(a);
      const produced = await duck.describe(`SELECT * FROM (${sql})`);
      const select = castList(a, produced, declared);
      file.at = "written";
      stats = await duck.rows(`COPY (SELECT ${select} FROM (${sql})) TO ${literal(out.path)} ${copyOptions}`);
    } else {
      const inputs: Record<string, unknown[]> = {};
      for (const edge of graph.inputs(a.key)) {
        const up = graph.get(edge.from);
        const props = up.schema.properties as Record<string, TSchema>;
        const rows = await duck.rows(`SELECT * FROM ${ident(up.key)}`);
        inputs[up.key] = rows.map((r) => {
          const o: Record<string, unknown> = {};
          for (const [k, s] of Object.entries(props)) o[k] = fromDuck(r[k], s);
          return o;
        });
      }
      const rows = await a.compute!(inputs, computeContext(ctx, a, item.partition));
      await appendRows(duck, a, declared, rows);
      file.at = "written";
      stats = await duck.rows(`COPY __tributary_out TO ${literal(out.path)} ${copyOptions}`);
    }
    const metrics = metricsOf(stats[0] as unknown as ReturnStatsRow, schema);
    const computeMs = performance.now() - t0;
    const nulls = new Map(
      schema.fields.map((f) => [
        f.name,
        typeof f.type === "string" ? (metrics.nullValueCounts.get(f.id) ?? 0) : 0,
      ]),
    );
    const nullViolations = declared.filter((c) => !c.nullable && (nulls.get(c.name) ?? 0) > 0);
    if (nullViolations.length > 0) {
      throw new MaterializeError(
        `the output of "${a.key}" has nulls in non-nullable column${nullViolations.length === 1 ? "" : "s"} ${nullViolations
          .map((c) => `"${c.name}" (${nulls.get(c.name)} rows)`)
          .join(", ")}; declare them Type.Union([..., Type.Null()]) or filter the nulls.`,
      );
    }
    // Checks read the new data under the asset's own name.
    await duck.run(
      `CREATE OR REPLACE TEMP VIEW ${ident(a.key)} AS SELECT * FROM read_parquet(${literal(out.path)})`,
    );
    const t1 = performance.now();
    const checks: CheckResult[] = [];
    for (const check of a.checks) {
      if (check.kind === "freshness") continue;
      let reference: string | undefined;
      if (check.kind === "references")
        reference = await registerReference(ctx, a, check.asset, item.partition);
      checks.push(await runCheck(duck, check, a.key, reference));
    }
    const checksMs = performance.now() - t1;
    const failed = checks.filter((c) => !c.passed && c.blocking);
    if (failed.length > 0) {
      await store.delete(fileKey);
      await recordFailure(store, a, ppath, { partition: item.partition, runId, checks });
      const error = failed.map((c) => `check "${c.name}" failed: ${c.message}`).join("; ");
      return { item, status: "failed", checks, error, ms: performance.now() - t0 };
    }
    // A partition without rows has no data file: its commit removes its old files and adds none.
    const rows = metrics.recordCount;
    let files: AssetManifest["files"] = [];
    if (rows > 0) files = [{ key: fileKey, rows, ...(await out.publish()) }];
    else await store.delete(fileKey);
    let vectors: VectorsRecord | undefined;
    if (a.embedding !== undefined) {
      const previous = (await state.manifest(a, item.partition))?.vectors;
      const rt = ctx.vectors ?? vectorsRuntime();
      vectors = await syncEmbedding(duck, a, item.partition, store.uri, rt, previous);
    }
    const manifest: AssetManifest = {
      format: 1,
      asset: a.key,
      partition: item.partition,
      files,
      rowCount: rows,
      schema: declared.map((c) => ({ name: c.name, type: c.type })),
      nullCounts: Object.fromEntries(declared.map((c) => [c.name, nulls.get(c.name) ?? 0])),
      dataVersion: item.dataVersion,
      codeVersion: a.codeVersion,
      ...(item.keys === undefined ? {} : { keys: item.keys }),
      inputs: item.inputs,
      checks,
      ...(vectors === undefined ? {} : { vectors }),
      runId,
      snapshot: String(newSnapshotId()),
      timings: {
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        computeMs: Math.round(computeMs),
        checksMs: Math.round(checksMs),
      },
    };
    const done = await commitPartition(
      state,
      {
        asset: a,
        record: manifest,
        ...(rows > 0 ? { file: { key: fileKey, partition: item.partition, metrics } } : {}),
        schema,
        // What the commit owes the asset-events bus, recorded before it: owed once it is committed.
        before: async () => {
          file.at = "committing";
          await ctx.outbox?.oweAsset(a.key, ppath, {
            asset: a.key,
            partition: item.partition,
            dataVersion: item.dataVersion,
          });
        },
        onCommitted: () => {
          file.at = "committed";
        },
      },
      ctx.catalog,
    );
    await store.delete(layout.failure(a.key, ppath));
    return {
      item,
      status: "materialized",
      manifest,
      checks,
      ...(done.catalogError ? { warning: done.catalogError } : {}),
      ms: performance.now() - t0,
    };
  } catch (e) {
    if (file.at === "written" || (file.at === "committing" && e instanceof CommitConflictError)) {
      await store.delete(fileKey);
    }
    if (!(e instanceof TributaryError) && !isDuckError(e)) throw e;
    const error = (e as Error).message;
    await recordFailure(store, a, ppath, { partition: item.partition, runId, error, checks: [] });
    return { item, status: "failed", checks: [], error, ms: performance.now() - t0 };
  } finally {
    ctx.tokens.asset = undefined;
    ctx.tokens.key = undefined;
    await dropViews(duck, graph, a);
    if (a.embedding !== undefined) await dropEmbedding(duck);
  }
}

/** Keep the last failed attempt where `status` finds it, until a commit replaces it. */
async function recordFailure(
  store: ObjectStore,
  a: AssetDef,
  ppath: string,
  attempt: Omit<FailureRecord, "asset" | "at">,
): Promise<void> {
  const record: FailureRecord = { asset: a.key, ...attempt, at: new Date().toISOString() };
  await store.put(layout.failure(a.key, ppath), JSON.stringify(record, null, 2));
}

function isDuckError(e: unknown): boolean {
  // DuckDB reports SQL problems (a syntax error, an unknown column) as plain Errors with a kind prefix.
  return (
    e instanceof Error &&
    /^(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Range|Constraint|IO) Error/.test(e.message)
  );
}

/** A view over the committed data of a references check's target: the same partition when it has one, else everything. */
async function registerReference(
  ctx: ExecuteContext,
  a: AssetDef,
  target: string,
  partition: string,
): Promise<string> {
  const t = ctx.graph.get(target);
  const name = `__ref_${target}`;
  const samePartitions = t.kind === "asset" && JSON.stringify(t.partitions) === JSON.stringify(a.partitions);
  const objects = await ctx.state.committedObjects(t, samePartitions ? [partition] : undefined);
  const files = await Promise.all(objects.map((o) => ctx.scratch.readable(o)));
  await ctx.duck.run(
    `CREATE OR REPLACE TEMP VIEW ${ident(name)} AS ${await committedSql(ctx.state, t, files)}`,
  );
  return name;
}
