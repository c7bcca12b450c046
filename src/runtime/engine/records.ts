/**
 * One commit point for an asset partition's two views: its Iceberg table (what any Iceberg reader
 * sees) and Tributary's record of it (`_manifests/<asset>/<partition>/manifest.json`: data version,
 * checks, inputs, files), which the planner, `status`, lineage and the outbox read.
 *
 * The table's commit (creating `metadata/v<N+1>.metadata.json`, iceberg/commit.ts) is the commit point.
 * The record file holds the committed record and, while a commit is under way, the record being
 * committed (`pending`), which names the snapshot its commit makes (`snapshot`, chosen before the commit):
 *
 *   1. the data file is written (named by no one yet);
 *   2. the record file gets `pending` (the committed record stays as it is);
 *   3. the table commits the snapshot (the data file replaces the partition's files);
 *   4. the record file is settled: `pending` becomes the committed record.
 *
 * A reader of a record file with `pending` asks the table whether that snapshot is in it (the latest
 * version's snapshots): if so, `pending` is the committed record; if not, the one beside it is. So the
 * two views agree whatever moment a crash strikes: before 3 the partition is its old self everywhere
 * (the data file an orphan for `gc`), from 3 on its new self everywhere; the next run under the
 * partition's lock settles what a crash left unsettled (and writes the table's version hint).
 * A record written before curated assets were Iceberg tables (no `snapshot`) counts as committed; the
 * planner materialises its partition again into its table.
 */
import type { ObjectStore } from "../storage/port.ts";
import type { AssetManifest } from "./manifest.ts";

/** What a record file holds: the committed record (absent before the first commit) and the pending one. */
export interface RecordFile {
  readonly committed?: AssetManifest;
  readonly pending?: AssetManifest;
}

/** The text of a record file: the committed record's fields, with `pending` beside them. */
export function recordFileText(file: RecordFile): string {
  const { committed, pending } = file;
  const stub = pending && !committed ? { format: 1, asset: pending.asset, partition: pending.partition } : {};
  return JSON.stringify({ ...stub, ...committed, ...(pending ? { pending } : {}) }, null, 2);
}

/** A record file's text read back (a file without a data version holds no committed record). */
export function parseRecordFile(body: Buffer): RecordFile {
  const { pending, ...rest } = JSON.parse(body.toString("utf8")) as Partial<AssetManifest> & {
    pending?: AssetManifest;
  };
  return {
    ...(rest.dataVersion === undefined ? {} : { committed: rest as AssetManifest }),
    ...(pending ? { pending } : {}),
  };
}

export async function readRecordFile(store: ObjectStore, key: string): Promise<RecordFile | undefined> {
  const body = await store.get(key);
  return body === undefined ? undefined : parseRecordFile(body);
}

/** What a reader takes a record file to say now. */
export interface Resolved {
  /** The committed record, if any. */
  readonly record: AssetManifest | undefined;
  /** Whether the file must be settled: its pending record is committed but still marked pending. */
  readonly unsettled: boolean;
}

/**
 * The committed record of a file: its pending one when `committed(snapshot)` says the table holds that
 * snapshot, else the one beside it.
 */
export async function resolveRecord(
  file: RecordFile | undefined,
  committed: (snapshot: string) => Promise<boolean>,
): Promise<Resolved> {
  if (!file?.pending) return { record: file?.committed, unsettled: false };
  const snapshot = file.pending.snapshot;
  if (snapshot !== undefined && (await committed(snapshot))) return { record: file.pending, unsettled: true };
  return { record: file.committed, unsettled: false };
}
