/**
 * OpenLineage RunEvents (spec 2-0-2) for what Tributary runs: the materialisation of one asset
 * partition, the ingest of one source batch, and the CLI invocation that runs them (their parent).
 *
 * Naming, chosen so that Marquez shows one node per table and the graph joins up across jobs:
 *   job namespace   "tributary" (configurable with `namespace`)
 *   job name        the asset key ("curated_orders"), "ingest.<source>", or "tributary.<command>"
 *   dataset         an asset: its Iceberg table, named as its catalog names it (contract/table-names.ts
 *                   `lineageTable`): locally its location (namespace "file" or "s3://bucket", name the
 *                   table's path), in a stack its Glue or BigQuery table; a source: namespace = the
 *                   store's URI (file:///…/.tributary, s3://bucket/prefix), name = its key. The same
 *                   for every partition, so each materialisation is a new version of one dataset. The partition
 *                   is in the custom dataset facet `tributary_partitions` (and, for time partitions, in
 *                   the run facet `nominalTime`); the data version in the `version` facet.
 *                   Rejected records of an ingest: "quarantine/<source>" (their folder in the store).
 *                   Input files of an ingest: namespace "file" and the absolute path, or for a URI
 *                   (s3://bucket/key) namespace "s3://bucket" and name "key" (OpenLineage naming).
 * Every facet carries `_producer` and `_schemaURL`: the `$id` of its facet schema plus `#/$defs/<Facet>`.
 */
import { randomFillSync } from "node:crypto";
import { resolve } from "node:path";
import type { TSchema } from "@sinclair/typebox";
// Imported, not read at run time: a cloud function's bundle has no package.json beside it.
import pkg from "../../../package.json" with { type: "json" };
import {
  lineageTable,
  locationDataset,
  type TableCatalogRef,
  warehouseUri,
} from "../../contract/table-names.ts";
import type { AnyAsset, AssetDef, SourceDef } from "../../kit/asset.ts";
import { type CheckSpec, checkColumns } from "../../kit/checks.ts";
import { columnType } from "../../kit/lineage.ts";
import { MULTI_SEPARATOR, type Partitions, shiftTimeKey, timeDimension } from "../../kit/partitions.ts";
import type { AssetManifest, BatchManifest, CheckResult, InputVersion } from "../engine/manifest.ts";

/** Tributary's version, from package.json. */
export const TRIBUTARY_VERSION: string = typeof pkg.version === "string" ? pkg.version : "0.0.0";
/** The `producer` of every event and the `_producer` of every facet: the source tree of this version. */
export const PRODUCER = `https://github.com/tributary-data/tributary/tree/v${TRIBUTARY_VERSION}`;
export const RUN_EVENT_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
export const DEFAULT_JOB_NAMESPACE = "tributary";
/** The `integration` of the jobType facet. */
export const INTEGRATION = "TRIBUTARY";

const spec = (version: string, facet: string) =>
  `https://openlineage.io/spec/facets/${version}/${facet}.json#/$defs/${facet}`;

/** The `_schemaURL` of every facet Tributary emits, by the name the facet has in an event. */
export const FACET_SCHEMA_URLS = {
  // run facets
  parent: spec("1-2-0", "ParentRunFacet"),
  nominalTime: spec("1-0-1", "NominalTimeRunFacet"),
  processing_engine: spec("1-1-1", "ProcessingEngineRunFacet"),
  errorMessage: spec("1-0-1", "ErrorMessageRunFacet"),
  // job facets
  jobType: spec("2-0-4", "JobTypeJobFacet"),
  sql: spec("1-1-0", "SQLJobFacet"),
  documentation: spec("1-1-0", "DocumentationJobFacet"),
  ownership: spec("1-0-1", "OwnershipJobFacet"),
  tags: spec("1-0-0", "TagsJobFacet"),
  // dataset facets
  schema: spec("1-2-0", "SchemaDatasetFacet"),
  dataSource: spec("1-0-1", "DatasourceDatasetFacet"),
  version: spec("1-0-1", "DatasetVersionDatasetFacet"),
  dataQualityAssertions: spec("1-1-0", "DataQualityAssertionsDatasetFacet"),
  // input and output dataset facets
  dataQualityMetrics: spec("1-0-3", "DataQualityMetricsInputDatasetFacet"),
  outputStatistics: spec("1-0-2", "OutputStatisticsOutputDatasetFacet"),
  // Tributary's own (custom facets are prefixed with the producer's name)
  tributary_partitions:
    "https://github.com/tributary-data/tributary/blob/main/spec/facets/1-0-0/TributaryPartitionsDatasetFacet.json#/$defs/TributaryPartitionsDatasetFacet",
} as const;

export type FacetName = keyof typeof FACET_SCHEMA_URLS;

/**
 * The JSON Schema of the custom `tributary_partitions` dataset facet: the partition keys a run wrote
 * (outputs) or read (inputs). Keys are as Tributary spells them: "2026-11-01|acme", "acme", "2026-11-01".
 */
export const PARTITIONS_FACET_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://github.com/tributary-data/tributary/blob/main/spec/facets/1-0-0/TributaryPartitionsDatasetFacet.json",
  $defs: {
    TributaryPartitionsDatasetFacet: {
      allOf: [
        { $ref: "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet" },
        {
          type: "object",
          properties: {
            keys: {
              description: "The partition keys written or read.",
              type: "array",
              items: { type: "string" },
            },
          },
          required: ["keys"],
        },
      ],
      type: "object",
    },
  },
  type: "object",
  properties: { tributary_partitions: { $ref: "#/$defs/TributaryPartitionsDatasetFacet" } },
} as const;

// ---------------------------------------------------------------------------------------------------
// The event model (the parts of OpenLineage 2-0-2 Tributary uses)

export type EventType = "START" | "RUNNING" | "COMPLETE" | "ABORT" | "FAIL" | "OTHER";

export interface Facet {
  readonly _producer: string;
  readonly _schemaURL: string;
  readonly [field: string]: unknown;
}

export type Facets = Readonly<Record<string, Facet>>;

export interface Dataset {
  readonly namespace: string;
  readonly name: string;
  readonly facets?: Facets;
}

export interface InputDataset extends Dataset {
  readonly inputFacets?: Facets;
}

export interface OutputDataset extends Dataset {
  readonly outputFacets?: Facets;
}

export interface RunEvent {
  readonly eventType: EventType;
  readonly eventTime: string;
  readonly producer: string;
  readonly schemaURL: string;
  readonly run: { readonly runId: string; readonly facets?: Facets };
  readonly job: { readonly namespace: string; readonly name: string; readonly facets?: Facets };
  readonly inputs: readonly InputDataset[];
  readonly outputs: readonly OutputDataset[];
}

// ---------------------------------------------------------------------------------------------------
// What the builders take

/** The run that started this one: the CLI invocation (job "tributary.<command>"). */
export interface ParentRun {
  readonly runId: string;
  /** The parent's job name, e.g. "tributary.materialize". */
  readonly name: string;
  /** The parent's job namespace; default: the child's. */
  readonly namespace?: string;
  /** The root of the tree when the parent has a parent itself; default: the parent. */
  readonly root?: { readonly runId: string; readonly name: string; readonly namespace?: string };
}

/** What every event of a run shares. */
export interface LineageContext {
  /** The store the datasets live in: its URI is every source dataset's namespace. */
  readonly store: { readonly uri: string };
  /** Where the assets' tables are catalogued (default: the store itself, as a Hadoop catalog). */
  readonly tables?: TableCatalogRef;
  /** The job namespace; default "tributary". */
  readonly namespace?: string;
  /** Default `PRODUCER`. */
  readonly producer?: string;
  /** The engine that computes: `{ version: await duckdb.version() }` (name default "duckdb"; a leading "v" is dropped). */
  readonly engine?: { readonly name?: string; readonly version: string };
  readonly parent?: ParentRun;
  /** Default: now. */
  readonly eventTime?: Date;
}

/** The materialisation of one partition of an asset. */
export interface AssetRun {
  readonly kind: "asset";
  readonly runId: string;
  readonly asset: AssetDef;
  /** The partition key ("" when unpartitioned). */
  readonly partition: string;
  /** The upstream declarations, for their schemas and checks; inputs not given are named by key only. */
  readonly upstream?: readonly AnyAsset[];
}

/** The ingest of one batch of a source. */
export interface IngestRun {
  readonly kind: "ingest";
  readonly runId: string;
  readonly source: SourceDef;
  readonly batch: string;
  /** The files read, as given on the command line or as URIs; "-" (standard input) is left out. */
  readonly files?: readonly string[];
}

/** One invocation of the command line: the parent of the runs it starts. */
export interface CommandRun {
  readonly kind: "command";
  readonly runId: string;
  /** "materialize", "ingest", … ("asset materialize" becomes "tributary.asset.materialize"). */
  readonly command: string;
}

export type LineageRun = AssetRun | IngestRun | CommandRun;

/** Column metrics as the dataQualityMetrics facet has them. */
export interface ColumnMetric {
  readonly nullCount?: number;
  readonly distinctCount?: number;
  readonly sum?: number;
  readonly count?: number;
  readonly min?: number;
  readonly max?: number;
  readonly quantiles?: Readonly<Record<string, number>>;
}

/** What is known about one dataset a run read or wrote, beyond its manifest. */
export interface DatasetMetrics {
  readonly rowCount?: number;
  readonly bytes?: number;
  readonly fileCount?: number;
  readonly lastUpdated?: string;
  /** By column name. */
  readonly columns?: Readonly<Record<string, ColumnMetric>>;
  /** The checks run on it (for an input: its own checks, from its manifest). */
  readonly checks?: readonly CheckResult[];
}

/** What a materialisation produced (COMPLETE), or got as far as (FAIL). */
export interface AssetOutcome {
  /** The manifest committed; it gives row count, files, schema, data version, inputs and checks. */
  readonly manifest?: AssetManifest;
  /** The upstream partitions read; default `manifest.inputs`. */
  readonly inputs?: readonly InputVersion[];
  /** The checks' results; default `manifest.checks` (a failed blocking check leaves no manifest). */
  readonly checks?: readonly CheckResult[];
  /** Column metrics of the data written. */
  readonly output?: DatasetMetrics;
  /** Metrics of the upstream data read, by upstream key. */
  readonly upstream?: Readonly<Record<string, DatasetMetrics>>;
}

export interface IngestOutcome {
  readonly manifest?: BatchManifest;
}

export type OutcomeOf<R extends LineageRun> = R extends AssetRun
  ? AssetOutcome
  : R extends IngestRun
    ? IngestOutcome
    : never;

// ---------------------------------------------------------------------------------------------------
// Run ids and run descriptions

/** A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits; sorts by time. */
export function newRunId(now: number = Date.now()): string {
  const b = randomFillSync(new Uint8Array(16));
  let ms = Math.floor(now);
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Buffer.from(b).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function assetRun(
  asset: AssetDef,
  partition: string,
  opts: { upstream?: readonly AnyAsset[]; runId?: string } = {},
): AssetRun {
  return {
    kind: "asset",
    runId: opts.runId ?? newRunId(),
    asset,
    partition,
    ...(opts.upstream ? { upstream: opts.upstream } : {}),
  };
}

export function ingestRun(
  source: SourceDef,
  batch: string,
  opts: { files?: readonly string[]; runId?: string } = {},
): IngestRun {
  return {
    kind: "ingest",
    runId: opts.runId ?? newRunId(),
    source,
    batch,
    ...(opts.files ? { files: opts.files } : {}),
  };
}

export function commandRun(command: string, opts: { runId?: string } = {}): CommandRun {
  return { kind: "command", runId: opts.runId ?? newRunId(), command };
}

/** The job name of a run: "<asset>", "ingest.<source>" or "tributary.<command>". */
export function jobName(run: LineageRun): string {
  switch (run.kind) {
    case "asset":
      return run.asset.key;
    case "ingest":
      return `ingest.${run.source.key}`;
    case "command":
      return `tributary.${run.command.trim().split(/\s+/).join(".")}`;
  }
}

/** The parent reference the runs a command starts carry. */
export function parentOf(run: CommandRun, namespace?: string): ParentRun {
  return { runId: run.runId, name: jobName(run), ...(namespace === undefined ? {} : { namespace }) };
}

// ---------------------------------------------------------------------------------------------------
// The builders

/** The START event of a run. */
export function runStart(run: LineageRun, ctx: LineageContext): RunEvent {
  return build("START", run, ctx, undefined, undefined);
}

/** The COMPLETE event of a run, with what it produced. */
export function runComplete<R extends LineageRun>(
  run: R,
  ctx: LineageContext,
  outcome?: OutcomeOf<R>,
): RunEvent {
  return build("COMPLETE", run, ctx, outcome, undefined);
}

/** The FAIL event of a run: the error in the `errorMessage` facet, plus whatever is known (e.g. failed checks). */
export function runFail<R extends LineageRun>(
  run: R,
  ctx: LineageContext,
  error: unknown,
  outcome?: OutcomeOf<R>,
): RunEvent {
  return build("FAIL", run, ctx, outcome, error);
}

function build(
  eventType: EventType,
  run: LineageRun,
  ctx: LineageContext,
  outcome: AssetOutcome | IngestOutcome | undefined,
  error: unknown,
): RunEvent {
  const f = new FacetMaker(ctx.producer ?? PRODUCER);
  const namespace = ctx.namespace ?? DEFAULT_JOB_NAMESPACE;
  const runFacets: Record<string, Facet> = {};
  if (ctx.parent && ctx.parent.runId !== run.runId) {
    runFacets["parent"] = parentFacet(f, ctx.parent, namespace);
  }
  if (run.kind === "asset") {
    const nominal = nominalTime(run.asset.partitions, run.partition);
    if (nominal) runFacets["nominalTime"] = f.make("nominalTime", nominal);
  }
  if (ctx.engine) {
    runFacets["processing_engine"] = f.make("processing_engine", {
      // DuckDB's version() says "v1.4.2"; the facet's examples are bare ("2.5.0").
      version: ctx.engine.version.replace(/^v(?=\d)/, ""),
      name: ctx.engine.name ?? "duckdb",
      openlineageAdapterVersion: TRIBUTARY_VERSION,
    });
  }
  if (eventType === "FAIL") runFacets["errorMessage"] = f.make("errorMessage", errorFields(error));

  let jobFacets: Record<string, Facet>;
  let inputs: InputDataset[] = [];
  let outputs: OutputDataset[] = [];
  const done = eventType === "COMPLETE";
  if (run.kind === "asset") {
    jobFacets = declarationFacets(f, run.asset, "ASSET");
    if (run.asset.sql !== undefined) {
      jobFacets["sql"] = f.make("sql", { query: dedent(run.asset.sql), dialect: "duckdb" });
    }
    ({ inputs, outputs } = assetDatasets(
      f,
      run,
      ctx.store.uri,
      ctx.tables ?? { kind: "hadoop", warehouse: ctx.store.uri },
      (outcome ?? {}) as AssetOutcome,
      done,
    ));
  } else if (run.kind === "ingest") {
    jobFacets = declarationFacets(f, run.source, "INGEST");
    ({ inputs, outputs } = ingestDatasets(f, run, ctx.store.uri, (outcome ?? {}) as IngestOutcome, done));
  } else {
    jobFacets = { jobType: jobTypeFacet(f, "COMMAND") };
  }

  return {
    eventType,
    eventTime: (ctx.eventTime ?? new Date()).toISOString(),
    producer: ctx.producer ?? PRODUCER,
    schemaURL: RUN_EVENT_SCHEMA_URL,
    run: { runId: run.runId, facets: runFacets },
    job: { namespace, name: jobName(run), facets: jobFacets },
    inputs,
    outputs,
  };
}

/** SQL as declared in a template literal, without its common indentation and surrounding blank lines. */
function dedent(text: string): string {
  const lines = text.replace(/\s+$/, "").split("\n");
  while (lines.length > 0 && lines[0]!.trim() === "") lines.shift();
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length);
  const cut = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(Math.min(cut, /^[ \t]*/.exec(l)![0].length))).join("\n");
}

class FacetMaker {
  readonly producer: string;

  constructor(producer: string) {
    this.producer = producer;
  }

  make(name: FacetName, fields: Record<string, unknown>): Facet {
    return { _producer: this.producer, _schemaURL: FACET_SCHEMA_URLS[name], ...fields };
  }
}

function parentFacet(f: FacetMaker, p: ParentRun, namespace: string): Facet {
  const root = p.root ?? p;
  return f.make("parent", {
    run: { runId: p.runId },
    job: { namespace: p.namespace ?? namespace, name: p.name },
    root: {
      run: { runId: root.runId },
      job: { namespace: root.namespace ?? p.namespace ?? namespace, name: root.name },
    },
  });
}

/** JSON for a thrown value that is no Error (a BigInt or a cycle cannot be JSON: then String). */
function stringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function errorFields(error: unknown): Record<string, unknown> {
  const message =
    error instanceof Error ? error.message : typeof error === "string" ? error : stringify(error);
  return {
    message,
    programmingLanguage: "TypeScript",
    ...(error instanceof Error && error.stack ? { stackTrace: error.stack } : {}),
  };
}

function jobTypeFacet(f: FacetMaker, jobType: "ASSET" | "INGEST" | "COMMAND"): Facet {
  return f.make("jobType", { processingType: "BATCH", integration: INTEGRATION, jobType });
}

/** jobType, documentation, ownership and tags from an asset's or source's declaration. */
function declarationFacets(f: FacetMaker, a: AnyAsset, jobType: "ASSET" | "INGEST"): Record<string, Facet> {
  const facets: Record<string, Facet> = { jobType: jobTypeFacet(f, jobType) };
  if (a.description !== undefined) {
    facets["documentation"] = f.make("documentation", {
      description: a.description,
      contentType: "text/plain",
    });
  }
  if (a.owners.length > 0)
    facets["ownership"] = f.make("ownership", { owners: a.owners.map((name) => ({ name })) });
  facets["tags"] = f.make("tags", {
    tags: [
      ...a.tags.map((key) => ({ key, value: "true", source: "USER" })),
      { key: "group", value: a.group, source: "USER" },
    ],
  });
  return facets;
}

// ---------------------------------------------------------------------------------------------------
// Datasets

function assetDatasets(
  f: FacetMaker,
  run: AssetRun,
  uri: string,
  tables: TableCatalogRef,
  outcome: AssetOutcome,
  done: boolean,
): { inputs: InputDataset[]; outputs: OutputDataset[] } {
  /** An asset's dataset is its table; a source's (or an input given by key only), the store's key. */
  const datasetOf = (key: string, kind: "asset" | "source" | undefined) => {
    if (kind !== "asset") return { id: { namespace: uri, name: key }, source: { name: uri, uri } };
    // The data source: the catalog (or the store's scheme) by name, and the store the data is in.
    const id = lineageTable(tables, key, uri);
    return { id, source: { name: id.namespace, uri: warehouseUri(uri) } };
  };
  const { asset, partition } = run;
  const m = outcome.manifest;
  const read = outcome.inputs ?? m?.inputs ?? [];
  const keys = asset.deps.map((d) => d.key);
  for (const i of read) if (!keys.includes(i.asset)) keys.push(i.asset);

  const inputs = keys.map((key): InputDataset => {
    const decl = run.upstream?.find((u) => u.key === key);
    const parts = read.filter((i) => i.asset === key);
    const metrics = outcome.upstream?.[key];
    const facets: Record<string, Facet> = {};
    const dataset = datasetOf(key, decl?.kind);
    if (decl) facets["schema"] = f.make("schema", { fields: typeboxFields(decl.schema.properties) });
    facets["dataSource"] = f.make("dataSource", dataset.source);
    if (parts.length === 1) facets["version"] = f.make("version", { datasetVersion: parts[0]!.dataVersion });
    const partitionKeys = parts.map((p) => p.partition).filter((k) => k !== "");
    if (partitionKeys.length > 0)
      facets["tributary_partitions"] = f.make("tributary_partitions", { keys: partitionKeys });
    const inputFacets: Record<string, Facet> = {};
    if (metrics) {
      const q = qualityFacets(f, metrics, decl?.checks ?? []);
      Object.assign(inputFacets, q);
    }
    return {
      namespace: dataset.id.namespace,
      name: dataset.id.name,
      facets,
      ...(Object.keys(inputFacets).length > 0 ? { inputFacets } : {}),
    };
  });

  const output = datasetOf(asset.key, "asset");
  const facets: Record<string, Facet> = {
    schema: f.make("schema", {
      fields: m
        ? m.schema.map((c, i) => ({ name: c.name, type: c.type, ordinal_position: i + 1 }))
        : typeboxFields(asset.schema.properties),
    }),
    dataSource: f.make("dataSource", output.source),
  };
  if (done && m) facets["version"] = f.make("version", { datasetVersion: m.dataVersion });
  if (partition !== "")
    facets["tributary_partitions"] = f.make("tributary_partitions", { keys: [partition] });
  const checks = outcome.checks ?? m?.checks;
  // Data quality of the data written goes in the dataset's own facets: the spec has no output variant of
  // these facets, and OpenLineage treats dataQualityAssertions as a facet of any dataset (issue #1876).
  Object.assign(facets, qualityFacets(f, { ...outcome.output, ...(checks ? { checks } : {}) }, asset.checks));
  const outputFacets: Record<string, Facet> = {};
  if (done) {
    const stats = outputStatistics(m, outcome.output);
    if (stats) outputFacets["outputStatistics"] = f.make("outputStatistics", stats);
  }
  return {
    inputs,
    outputs: [
      {
        namespace: output.id.namespace,
        name: output.id.name,
        facets,
        ...(Object.keys(outputFacets).length > 0 ? { outputFacets } : {}),
      },
    ],
  };
}

function outputStatistics(
  m: AssetManifest | undefined,
  o: DatasetMetrics | undefined,
): Record<string, number> | undefined {
  const rowCount = o?.rowCount ?? m?.rowCount;
  const size = o?.bytes ?? m?.files.reduce((n, file) => n + file.bytes, 0);
  const fileCount = o?.fileCount ?? m?.files.length;
  if (rowCount === undefined && size === undefined && fileCount === undefined) return undefined;
  return {
    ...(rowCount === undefined ? {} : { rowCount }),
    ...(size === undefined ? {} : { size }),
    ...(fileCount === undefined ? {} : { fileCount }),
  };
}

/** dataQualityMetrics (when column metrics are known) and dataQualityAssertions (when checks ran). */
function qualityFacets(f: FacetMaker, m: DatasetMetrics, specs: readonly CheckSpec[]): Record<string, Facet> {
  const out: Record<string, Facet> = {};
  if (m.columns !== undefined) {
    out["dataQualityMetrics"] = f.make("dataQualityMetrics", {
      ...(m.rowCount === undefined ? {} : { rowCount: m.rowCount }),
      ...(m.bytes === undefined ? {} : { bytes: m.bytes }),
      ...(m.fileCount === undefined ? {} : { fileCount: m.fileCount }),
      ...(m.lastUpdated === undefined ? {} : { lastUpdated: m.lastUpdated }),
      columnMetrics: m.columns,
    });
  }
  if (m.checks !== undefined && m.checks.length > 0) {
    out["dataQualityAssertions"] = f.make("dataQualityAssertions", {
      assertions: m.checks.map((r) => assertion(r, specs)),
    });
  }
  return out;
}

/** The spec's classification of a check kind ("custom_sql" for SQL checks, as the spec's example has it). */
function classification(kind: string): string {
  return kind === "sql" ? "custom_sql" : kind;
}

function expected(spec: CheckSpec): string | undefined {
  switch (spec.kind) {
    case "accepted_values":
      return spec.values.map(String).join(", ");
    case "row_count":
      return spec.min !== undefined && spec.max !== undefined
        ? `${spec.min}..${spec.max}`
        : spec.min !== undefined
          ? `>= ${spec.min}`
          : spec.max !== undefined
            ? `<= ${spec.max}`
            : undefined;
    case "references":
      return `${spec.asset}.${spec.assetColumn}`;
    case "freshness":
      return `<= ${spec.maxLagMinutes} minutes`;
    default:
      return undefined;
  }
}

/**
 * One assertion per check: `assertion` is the kind of check (the spec's "classification of the test"),
 * `name` the check's name, `column` when the check reads exactly one column (several are in `params`).
 */
function assertion(r: CheckResult, specs: readonly CheckSpec[]): Record<string, unknown> {
  const spec = specs.find((s) => s.name === r.name);
  const columns = spec ? checkColumns(spec) : [];
  const exp = spec ? expected(spec) : undefined;
  const description = r.message ?? spec?.description;
  return {
    assertion: classification(r.kind),
    success: r.passed,
    ...(columns.length === 1 ? { column: columns[0] } : {}),
    severity: r.blocking ? "error" : "warn",
    name: r.name,
    ...(description === undefined ? {} : { description }),
    ...(exp === undefined ? {} : { expected: exp }),
    ...(spec?.kind === "sql" ? { content: spec.sql, contentType: "sql" } : {}),
    params: { failingRows: r.failingRows, ...(columns.length > 1 ? { columns: [...columns] } : {}) },
  };
}

interface SchemaField {
  readonly name: string;
  readonly type: string;
  readonly description?: string;
  readonly ordinal_position: number;
  readonly fields?: readonly SchemaField[];
}

/** The properties of an object schema, or of the object branch of a nullable object. */
function objectProperties(s: TSchema): Record<string, TSchema> | undefined {
  const o = s as { type?: unknown; properties?: Record<string, TSchema>; anyOf?: TSchema[] };
  if (o.type === "object" && o.properties) return o.properties;
  if (o.anyOf) {
    const branches = o.anyOf.filter((b) => (b as { type?: unknown }).type !== "null");
    if (branches.length === 1) return objectProperties(branches[0]!);
  }
  return undefined;
}

/** Schema facet fields from a TypeBox schema: JSON Schema types ("string(date-time)"), nested objects as `fields`. */
export function typeboxFields(properties: Readonly<Record<string, TSchema>>): SchemaField[] {
  return Object.entries(properties).map(([name, s], i) => {
    const nested = objectProperties(s);
    const description = (s as { description?: unknown }).description;
    return {
      name,
      type: columnType(s).type,
      ...(typeof description === "string" ? { description } : {}),
      ordinal_position: i + 1,
      ...(nested ? { fields: typeboxFields(nested) } : {}),
    };
  });
}

function ingestDatasets(
  f: FacetMaker,
  run: IngestRun,
  uri: string,
  outcome: IngestOutcome,
  done: boolean,
): { inputs: InputDataset[]; outputs: OutputDataset[] } {
  const { source, batch } = run;
  const m = outcome.manifest;
  const inputs = (run.files ?? (m ? m.inputs : [])).filter((p) => p !== "-").map(fileDataset);
  const dataSource = f.make("dataSource", { name: uri, uri });

  const rawFacets: Record<string, Facet> = {
    schema: f.make("schema", { fields: typeboxFields(source.schema.properties) }),
    dataSource,
  };
  if (done) rawFacets["version"] = f.make("version", { datasetVersion: batch });
  const partitions = m ? [...new Set(m.files.map((x) => x.partition))].filter((k) => k !== "") : [];
  if (partitions.length > 0)
    rawFacets["tributary_partitions"] = f.make("tributary_partitions", { keys: partitions });
  const raw: OutputDataset = {
    namespace: uri,
    name: source.key,
    facets: rawFacets,
    ...(done && m
      ? {
          outputFacets: {
            outputStatistics: f.make("outputStatistics", {
              rowCount: m.counts.written,
              size: m.files.reduce((n, x) => n + x.bytes, 0),
              fileCount: m.files.length,
            }),
          },
        }
      : {}),
  };
  const quarantine: OutputDataset = {
    namespace: uri,
    name: `quarantine/${source.key}`,
    facets: { dataSource, ...(done ? { version: f.make("version", { datasetVersion: batch }) } : {}) },
    ...(done && m
      ? {
          outputFacets: {
            outputStatistics: f.make("outputStatistics", {
              rowCount: m.counts.quarantined,
              fileCount: m.quarantine ? 1 : 0,
            }),
          },
        }
      : {}),
  };
  return { inputs, outputs: [raw, quarantine] };
}

/**
 * An input file as a dataset, by OpenLineage's naming: ("file", absolute path) for a local path or a
 * file: URI, ("s3://bucket", "key") for an object-store URI (with the container for abfss://c@account…).
 */
export function fileDataset(location: string): InputDataset {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(location)) return locationDataset(location);
  return { namespace: "file", name: resolve(location) };
}

// ---------------------------------------------------------------------------------------------------
// Nominal time of a time partition

const TIME_KEY = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?$/;

/** The UTC offset of `zone` at instant `ms`, in milliseconds. */
function offsetMs(ms: number, zone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const local = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return local - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The instant a time key starts in `zone`. */
function keyStart(key: string, zone: string): string {
  const m = TIME_KEY.exec(key)!;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0));
  let at = wall - offsetMs(wall, zone);
  const again = offsetMs(at, zone);
  if (wall - again !== at) at = wall - again;
  return new Date(at).toISOString();
}

/** nominalStartTime (included) and nominalEndTime (excluded) of a partition with a time dimension. */
export function nominalTime(
  partitions: Partitions | undefined,
  partition: string,
): { nominalStartTime: string; nominalEndTime: string } | undefined {
  const time = timeDimension(partitions);
  if (!time) return undefined;
  const key = partition.split(MULTI_SEPARATOR)[0] ?? "";
  if (!TIME_KEY.test(key)) return undefined;
  try {
    return {
      nominalStartTime: keyStart(key, time.timezone),
      nominalEndTime: keyStart(shiftTimeKey(time.granularity, key, 1), time.timezone),
    };
  } catch {
    // Not a key of these partitions ("2026-02-30", or a day key of hourly partitions): no nominal time.
    return undefined;
  }
}
