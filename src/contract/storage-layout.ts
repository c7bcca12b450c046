import { TributaryError } from "../kit/errors.ts";
import { isPartitionKey, MULTI_SEPARATOR, type Partitions } from "../kit/partitions.ts";
import { tablePrefix } from "./table-names.ts";

/**
 * Where everything lives in a store, the same in every store:
 *   raw/<source>/<partition>/<batch>.ndjson.gz       validated events as they arrived, gzip (immutable)
 *   curated/<asset>/                                 the asset's Apache Iceberg table (table-names.ts):
 *     data/<partition>/<data version>-<run>.parquet    its data files, one per materialised partition
 *     metadata/v<N>.metadata.json, version-hint.text   its versions; a commit creates v<N+1> if absent
 *     metadata/*.avro                                  its manifests and manifest lists
 *   quarantine/<source>/<batch>.ndjson               rejected records with their reason
 *   _manifests/<asset>/<partition>/manifest.json     Tributary's record of one asset partition (checks,
 *                                                    data version, lineage), kept with its table's commit
 *   _manifests/<source>/_batches/<batch>.json        the commit of one ingest batch
 *   _failures/<asset>/<partition>/failure.json       the last failed attempt (checks that failed), until a commit
 *   _index/<source>/<batch>.ids                      the event ids a batch committed (dedupe)
 *   _index/<source>/<batch>=<n>.attempt              attempt n of a batch has claimed its object names
 *   _locks/<asset>/<partition>.lock                  who is materialising an asset partition
 *   _outbox/<asset>/<partition>/<data version>.json  announcements an asset partition's commit owes
 *   _outbox/<source>/_batches/<batch>.json           announcements an ingest batch's commit owes
 *   _lineage/<day>/<run>.ndjson                      OpenLineage events
 *   vectors/<asset>/tenant=<tenant>/                 an embedding asset's vector table of one tenant (LanceDB)
 * A partition's path is its key with "|" as "/" ("2026-11-01/acme"); unpartitioned assets use "_all".
 * Raw objects are gzip-compressed NDJSON, each line a record's original bytes; stores written before
 * raw was compressed hold `<batch>.ndjson` objects, which their batch manifests name and readers still
 * read (a reader goes by the key a manifest names: a `.gz` object is gzip, as DuckDB takes it).
 *
 * Raw and quarantine objects are append-only: nothing that ingests deletes them (expiry is the store's
 * lifecycle rule). An ingest attempt that fails after writing some of its objects leaves them, named by
 * no manifest, and the next attempt of the same batch writes under names of its own: attempt 1 uses the
 * batch id (`<batch>.ndjson.gz`), attempt n the stem `<batch>=<n>` (`=` is no character of a batch id, so
 * no batch's names meet another's). The manifest names the files of the attempt that committed.
 */
export const UNPARTITIONED = "_all";

/** A store refused a key, a name or an operation (every adapter in runtime/storage/ throws it). */
export class StorageError extends TributaryError {
  override name = "StorageError";
}

/** The path segment(s) of a partition key, after checking that it is a key of `partitions`. */
export function partitionPath(partitions: Partitions | undefined, key: string, owner: string): string {
  if (!isPartitionKey(partitions, key)) {
    throw new StorageError(`"${owner}" has no partition ${JSON.stringify(key)}.`);
  }
  return key === "" ? UNPARTITIONED : key.split(MULTI_SEPARATOR).join("/");
}

export const layout = {
  raw: (source: string, ppath: string, batch: string) => `raw/${source}/${ppath}/${batch}.ndjson.gz`,
  rawPrefix: (source: string) => `raw/${source}/`,
  curated: (asset: string, ppath: string, version: string) =>
    `curated/${asset}/data/${ppath}/${version}.parquet`,
  /** The folder of a partition's data files: a commit of the partition replaces every file in it. */
  curatedPartition: (asset: string, ppath: string) => `curated/${asset}/data/${ppath}/`,
  curatedPrefix: (asset: string) => `curated/${asset}/`,
  /** The asset's Iceberg table: its root, and a file of its metadata folder. */
  table: (asset: string) => tablePrefix(asset).slice(0, -1),
  tableMetadata: (asset: string, file: string) => `curated/${asset}/metadata/${file}`,
  quarantine: (source: string, batch: string) => `quarantine/${source}/${batch}.ndjson`,
  manifest: (asset: string, ppath: string) => `_manifests/${asset}/${ppath}/manifest.json`,
  manifestPrefix: (asset: string) => `_manifests/${asset}/`,
  batch: (source: string, batch: string) => `_manifests/${source}/_batches/${batch}.json`,
  batchPrefix: (source: string) => `_manifests/${source}/_batches/`,
  ids: (source: string, batch: string) => `_index/${source}/${batch}.ids`,
  /** The stem of attempt `n` of a batch's objects: the batch id, then `<batch>=<n>`. */
  attemptStem: (batch: string, n: number) => (n === 1 ? batch : `${batch}=${n}`),
  attempt: (source: string, batch: string, n: number) => `_index/${source}/${batch}=${n}.attempt`,
  failure: (asset: string, ppath: string) => `_failures/${asset}/${ppath}/failure.json`,
  lock: (asset: string, ppath: string) => `_locks/${asset}/${ppath}.lock`,
  outbox: (asset: string, ppath: string, version: string) => `_outbox/${asset}/${ppath}/${version}.json`,
  outboxBatch: (source: string, batch: string) => `_outbox/${source}/_batches/${batch}.json`,
  /** Every outbox entry of one asset or source; without one, of the whole store. */
  outboxPrefix: (asset?: string) => (asset === undefined ? "_outbox/" : `_outbox/${asset}/`),
  lineage: (day: string, run: string) => `_lineage/${day}/${run}.ndjson`,
  /** Every vector table of an embedding asset: the prefix its function may read and write. */
  vectorsPrefix: (asset: string) => `vectors/${asset}/`,
  /** The LanceDB database of one tenant's vectors (its table is `vectors.lance/` under it). */
  vectors: (asset: string, tenant: string) => `vectors/${asset}/tenant=${tenant}`,
} as const;

/**
 * Which zones live together when a deployed stack splits the store in three (a bucket or container
 * each): raw events, which cannot be recomputed; curated data with the state that commits it; and
 * quarantined records. Locally all zones share one folder.
 */
export const STORE_ZONES = {
  raw: ["raw"],
  curated: ["curated", "_manifests", "_failures", "_index", "_locks", "_lineage", "_outbox", "vectors"],
  quarantine: ["quarantine"],
} as const satisfies Record<string, readonly string[]>;
