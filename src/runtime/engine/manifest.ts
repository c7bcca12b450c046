import { createHash } from "node:crypto";
import type { CommittedObject, ObjectRecord } from "./integrity.ts";

/** The outcome of one check on one asset partition. */
export interface CheckResult {
  readonly name: string;
  readonly kind: string;
  readonly blocking: boolean;
  readonly passed: boolean;
  /** How many rows fail (for row_count and freshness: 0 or 1). */
  readonly failingRows: number;
  /** Up to five failing rows, as JSON values. */
  readonly sample: readonly Record<string, unknown>[];
  /** What failed, in a sentence, when it failed. */
  readonly message?: string;
}

/** One upstream partition an asset partition was computed from. */
export interface InputVersion {
  readonly asset: string;
  readonly partition: string;
  readonly dataVersion: string;
}

/**
 * Tributary's record of one materialised asset partition: its files, checks, data version and inputs.
 * It is committed with the asset's Iceberg table: the snapshot it names (`snapshot`) is in the table
 * (see records.ts for how the record and the table's commit stay one).
 */
export interface AssetManifest {
  readonly format: 1;
  readonly asset: string;
  readonly partition: string;
  /** Its data objects, each with its size and checksums (see integrity.ts). */
  readonly files: readonly (CommittedObject & { readonly rows: number; readonly bytes: number })[];
  readonly rowCount: number;
  /** Column names and DuckDB types of the written data. */
  readonly schema: readonly { readonly name: string; readonly type: string }[];
  /** Nulls per top-level column of the written data (from the Parquet footer). */
  readonly nullCounts: Readonly<Record<string, number>>;
  readonly dataVersion: string;
  readonly codeVersion: string;
  /**
   * The id of the tokenisation key its tokens were made with, by secret name (never the key); present
   * only for an asset that declares a tokenisation secret.
   */
  readonly keys?: Readonly<Record<string, string>>;
  readonly inputs: readonly InputVersion[];
  readonly checks: readonly CheckResult[];
  /** An embedding asset's vector tables as this commit left them (runtime/vectors/); absent otherwise. */
  readonly vectors?: VectorsRecord;
  readonly runId: string;
  /**
   * The id (decimal) of the table snapshot that committed it; absent in records written before curated
   * assets were Iceberg tables, which the planner materialises again into their table.
   */
  readonly snapshot?: string;
  readonly timings: {
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly computeMs: number;
    readonly checksMs: number;
  };
}

/** What an embedding asset partition's commit says of its vectors. */
export interface VectorsRecord {
  /** The model that embedded them, as `provider:name/dimension` (runtime/vectors/config.ts `modelTag`). */
  readonly model: string;
  /** False for the local hashing embedder: its vectors match tokens, not meaning. */
  readonly semantic: boolean;
  /** Rows embedded by this run (new or changed text), kept as they were, and keys deleted. */
  readonly embedded: number;
  readonly unchanged: number;
  readonly deleted: number;
  /** Each tenant's table: its rows, its LanceDB version after the commit, whether it has its ANN index. */
  readonly tables: Readonly<
    Record<string, { readonly rows: number; readonly version: number; readonly indexed: boolean }>
  >;
}

/** The commit of one ingest batch of a source. */
export interface BatchManifest {
  readonly format: 1;
  readonly source: string;
  readonly batch: string;
  readonly committedAt: string;
  /** The input files, as given on the command line (or "-" for standard input). */
  readonly inputs: readonly string[];
  /** One raw NDJSON object per partition the batch wrote to, each with its size and checksums. */
  readonly files: readonly (CommittedObject & {
    readonly partition: string;
    readonly rows: number;
    readonly bytes: number;
  })[];
  readonly quarantine?: CommittedObject & { readonly rows: number };
  /** The object listing the event ids this batch committed, one per line. */
  readonly ids: string;
  /** The ids object's size and checksums (absent in batches committed before Tributary recorded them). */
  readonly idsObject?: ObjectRecord;
  readonly counts: {
    readonly read: number;
    readonly written: number;
    readonly quarantined: number;
    readonly duplicates: number;
  };
  /**
   * Proposed schema changes of a CDC source: columns its rows had that its declared row does not
   * (accepted and landed; the declaration can add them). Absent when there were none.
   */
  readonly schemaChanges?: readonly SchemaChange[];
}

/** A column a CDC source's rows have and its declared row does not. */
export interface SchemaChange {
  readonly column: string;
  /** The JSON types its values had: "string", "integer", "number", "boolean", "null", "object", "array". */
  readonly types: readonly string[];
  /** How many valid events of the batch had it. */
  readonly count: number;
  /** Where the first of them is: the input file (as given) and its line. */
  readonly first: { readonly file: string; readonly line: number };
}

/** A short, stable hash of JSON-able parts: the building block of data versions. */
export function versionHash(...parts: readonly unknown[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

/**
 * Data version of an asset partition = hash(code version, input data versions, partition), and the ids
 * of the tokenisation keys it uses when it uses any: a new key is new data, as new code is; for an
 * embedding asset, the model that embeds (`provider:name/dimension`): another model is new data too.
 */
export function assetDataVersion(
  codeVersion: string,
  inputs: readonly InputVersion[],
  partition: string,
  keys?: Readonly<Record<string, string>>,
  model?: string,
): string {
  const sorted = [...inputs].sort((a, b) =>
    a.asset === b.asset ? (a.partition < b.partition ? -1 : 1) : a.asset < b.asset ? -1 : 1,
  );
  const parts: unknown[] = [codeVersion, sorted.map((i) => [i.asset, i.partition, i.dataVersion]), partition];
  if (keys !== undefined) parts.push(Object.entries(keys).sort(([a], [b]) => (a < b ? -1 : 1)));
  // An embedding asset's vectors are the model's that embeds them (runtime/vectors/config.ts).
  if (model !== undefined) parts.push({ model });
  return versionHash(...parts);
}

/** Data version of a source partition = hash of the batches (and their objects) that landed data in it. */
export function sourceDataVersion(files: readonly { readonly key: string; readonly rows: number }[]): string {
  if (files.length === 0) return "empty";
  return versionHash([...files].map((f) => [f.key, f.rows]).sort());
}

/** Every object a batch commits: its raw objects, its quarantine object and its ids object. */
export function batchObjects(m: BatchManifest): CommittedObject[] {
  return [...m.files, ...(m.quarantine ? [m.quarantine] : []), { key: m.ids, ...(m.idsObject ?? {}) }];
}
