/**
 * The commit of an Iceberg table in a store: one new snapshot that adds data files and removes every
 * live file of the Tributary partitions it replaces, made current by creating the next
 * `metadata/v<N+1>.metadata.json` only if it does not exist (the store's put-if-absent: link(2) locally,
 * `If-None-Match: *` on S3 and Azure, `ifGenerationMatch=0` on GCS). That create is the commit point:
 * before it nobody sees anything of the commit; after it everybody who looks for the latest version does.
 *
 * Optimistic and retried: load the latest version N, build the snapshot on it, create v<N+1>. When
 * another writer created v<N+1> first, reload and build again on theirs (the data files and the
 * manifest of added files are reused; the rest is rebuilt), so two writers never lose each other's
 * commits: two partitions' commits both land, two commits of one partition land one after the other.
 * A create whose answer was lost and retried by the store answers "exists" for our own write: the
 * version is ours when it holds our snapshot.
 *
 * A partition's files are its folder's (`data/<partition>/`): replacing a partition removes every live
 * file under it, whatever its partition tuple; manifests whose partition summaries rule the partition
 * out are carried over unread. Then version-hint.text is written for readers that trust it.
 */
import { layout, partitionPath } from "../../contract/storage-layout.ts";
import { type IcebergStruct, sameSchema } from "../../contract/table-schema.ts";
import type { Partitions } from "../../kit/partitions.ts";
import { ADDED, DELETED, EXISTING, type ManifestEntryRecord, type ManifestFileRecord } from "./avro.ts";
import {
  dataFileRecord,
  type ManifestWriter,
  mergeManifests,
  writeManifest,
  writeManifestList,
} from "./manifests.ts";
import {
  currentSchema,
  currentSnapshot,
  defaultSpec,
  type Operation,
  prepareMetadata,
  type Snapshot,
  specById,
  type TableDefinition,
  TableError,
  type TableMetadata,
} from "./metadata.ts";
import { keyParts, mayHold, misfits, partitionTuple } from "./partition.ts";
import type { FileMetrics } from "./stats.ts";
import type { IcebergTable, TableVersion } from "./table.ts";
import { CommitConflictError, createNextVersion, type VersionOptions } from "./versions.ts";

/** A data file written into the table's data folder, not yet committed. */
export interface NewDataFile {
  readonly key: string;
  /** The Tributary partition key it holds ("2026-11-01|acme", "" when unpartitioned). */
  readonly partition: string;
  readonly metrics: FileMetrics;
}

export interface CommitRequest {
  readonly definition: TableDefinition;
  /** The asset's partitions, to read partition keys. */
  readonly partitions: Partitions | undefined;
  /** The partition keys whose live files (those in their data folders) this commit removes. */
  readonly replace: readonly string[];
  readonly add: readonly NewDataFile[];
  /** The new snapshot's id (newSnapshotId): known before the commit, kept by its retries. */
  readonly snapshotId: number;
  /** Entries for the snapshot summary (`tributary.*`). */
  readonly summary?: Readonly<Record<string, string>>;
  /** Default: append when nothing is removed, overwrite when something is, delete when nothing is added. */
  readonly operation?: Operation;
  /**
   * The schema the added files were written with (their field ids): the commit is refused when the
   * table's schema is another by then (a writer with another version of the asset changed it).
   */
  readonly schema?: IcebergStruct;
}

export interface CommitOptions extends VersionOptions {
  /** Merge a snapshot's manifests of one spec past this many (default 100). */
  readonly mergeAbove?: number;
}

export interface CommitResult extends TableVersion {
  readonly snapshot: Snapshot;
  /** The key of the metadata file made current, and of the one it replaced. */
  readonly metadataKey: string;
  readonly previousKey?: string;
  readonly attempts: number;
  /** The columns dropped from the partition spec by this commit (their values did not fit). */
  readonly excluded: readonly string[];
}

export { CommitConflictError };

/** The commit of `req` to `table`: a new version, or a CommitConflictError. */
export async function commitTable(
  table: IcebergTable,
  req: CommitRequest,
  opts: CommitOptions = {},
): Promise<CommitResult> {
  /** The manifest of added files, by the spec and schema it was written for: reused by retries. */
  let added: Built["added"];
  let excluded: readonly string[] = [];
  const done = await createNextVersion(
    table,
    async (loaded, attempt) => {
      const built = await build(table, req, loaded, attempt, added, opts.mergeAbove ?? 100);
      added = built.added;
      excluded = built.excluded;
      return { metadata: built.metadata, written: built.writer.written };
    },
    (m) => m.snapshots.some((s) => s["snapshot-id"] === req.snapshotId),
    opts,
  );
  const { version, previous, attempts } = done!;
  return {
    ...version,
    snapshot: currentSnapshot(version.metadata)!,
    metadataKey: table.versionKey(version.version),
    ...(previous ? { previousKey: table.versionKey(previous.version) } : {}),
    attempts,
    excluded,
  };
}

interface Built {
  readonly metadata: TableMetadata;
  readonly writer: ManifestWriter;
  readonly added: { key: string; record: ManifestFileRecord; excluded: readonly string[] } | undefined;
  readonly excluded: readonly string[];
}

/** One attempt's snapshot on `loaded`: its manifests, its manifest list and the next metadata. */
async function build(
  table: IcebergTable,
  req: CommitRequest,
  loaded: TableVersion | undefined,
  attempt: number,
  previous: Built["added"],
  mergeAbove: number,
): Promise<Built> {
  // The spec must describe every added file: a column whose values do not fit leaves the spec.
  const excluded: string[] = [];
  let base = prepareMetadata(loaded?.metadata, req.definition);
  const tuples = () =>
    req.add.map((f) => partitionTuple(defaultSpec(base), keyParts(req.partitions, f.partition)));
  for (;;) {
    const t = tuples();
    const bad = req.add.flatMap((f, i) => misfits(defaultSpec(base), currentSchema(base), t[i]!, f.metrics));
    if (bad.length === 0) break;
    excluded.push(...bad.filter((c) => !excluded.includes(c)));
    base = prepareMetadata(loaded?.metadata, req.definition, excluded);
  }
  if (req.schema && !sameSchema(currentSchema(base), req.schema)) {
    throw new TableError(
      `table "${table.asset}": its schema changed while this commit's files were written (another version of the asset committed meanwhile); run it again.`,
    );
  }
  const spec = defaultSpec(base);
  const sequence = base["last-sequence-number"] + 1;
  const writer: ManifestWriter = { table, metadata: base, snapshotId: req.snapshotId, attempt, written: [] };

  // The manifest of added files: reused by a retry when the spec and schema are the same.
  let added = previous;
  const sameAs = (a: NonNullable<Built["added"]>) =>
    a.record.partition_spec_id === spec["spec-id"] && a.excluded.join() === excluded.join();
  if (req.add.length > 0 && !(added && sameAs(added))) {
    const t = tuples();
    const entries: ManifestEntryRecord[] = req.add.map((f, i) => ({
      status: ADDED,
      snapshot_id: null,
      sequence_number: null,
      file_sequence_number: null,
      data_file: dataFileRecord(table.uri(f.key), t[i]!, f.metrics),
    }));
    const record = await writeManifest(writer, spec, entries, 0);
    // Not this attempt's alone: kept when the attempt loses.
    added = { key: writer.written.pop()!, record, excluded: [...excluded] };
  }

  // The parent's manifests: carried over, or rewritten without the replaced files.
  const parent = currentSnapshot(base);
  const manifests: ManifestFileRecord[] = [];
  const removed = { files: 0, records: 0, size: 0 };
  const folders = req.replace.map((k) =>
    layout.curatedPartition(table.asset, partitionPath(req.partitions, k, table.asset)),
  );
  const replaced = req.replace.map((k) => keyParts(req.partitions, k));
  for (const m of parent ? await table.manifestList(parent) : []) {
    if (m.added_files_count + m.existing_files_count === 0) continue;
    const mSpec = specById(base, m.partition_spec_id);
    const candidate =
      folders.length > 0 &&
      replaced.some((parts) => mayHold(mSpec, base.schemas, m.partitions, partitionTuple(mSpec, parts)));
    if (!candidate) {
      manifests.push(m);
      continue;
    }
    const entries = await table.entries(m);
    const hit = (e: ManifestEntryRecord) =>
      e.status !== DELETED && folders.some((f) => table.keyOf(e.data_file.file_path).startsWith(f));
    if (!entries.some(hit)) {
      manifests.push(m);
      continue;
    }
    const rewritten: ManifestEntryRecord[] = [];
    for (const e of entries) {
      if (e.status === DELETED) continue; // reported once, by the snapshot that deleted it
      if (hit(e)) {
        rewritten.push({ ...e, status: DELETED, snapshot_id: req.snapshotId });
        removed.files++;
        removed.records += e.data_file.record_count;
        removed.size += e.data_file.file_size_in_bytes;
      } else rewritten.push({ ...e, status: EXISTING });
    }
    manifests.push(await writeManifest(writer, mSpec, rewritten, sequence));
  }
  if (added) manifests.push({ ...added.record, sequence_number: sequence, min_sequence_number: sequence });
  const listed = await mergeManifests(writer, manifests, sequence, mergeAbove);
  const manifestList = await writeManifestList(writer, listed, sequence, parent);

  // The snapshot and the metadata that makes it current.
  const now = Math.max(Date.now(), base["last-updated-ms"] + 1);
  const addedSize = req.add.reduce((n, f) => n + f.metrics.fileSizeInBytes, 0);
  const addedRecords = req.add.reduce((n, f) => n + f.metrics.recordCount, 0);
  const before: Readonly<Record<string, string>> = parent?.summary ?? {};
  const total = (k: string, plus: number, minus: number) => String(Number(before[k] ?? 0) + plus - minus);
  const operation: Operation =
    req.operation ?? (removed.files === 0 ? "append" : req.add.length > 0 ? "overwrite" : "delete");
  const snapshot: Snapshot = {
    "snapshot-id": req.snapshotId,
    ...(parent ? { "parent-snapshot-id": parent["snapshot-id"] } : {}),
    "sequence-number": sequence,
    "timestamp-ms": now,
    "manifest-list": manifestList,
    summary: {
      operation,
      "added-data-files": String(req.add.length),
      "added-records": String(addedRecords),
      "added-files-size": String(addedSize),
      ...(removed.files > 0
        ? {
            "deleted-data-files": String(removed.files),
            "deleted-records": String(removed.records),
            "removed-files-size": String(removed.size),
          }
        : {}),
      "changed-partition-count": String(new Set([...req.replace, ...req.add.map((f) => f.partition)]).size),
      "total-data-files": total("total-data-files", req.add.length, removed.files),
      "total-records": total("total-records", addedRecords, removed.records),
      "total-files-size": total("total-files-size", addedSize, removed.size),
      "total-delete-files": "0",
      "total-position-deletes": "0",
      "total-equality-deletes": "0",
      "engine-name": "tributary",
      ...req.summary,
    },
    "schema-id": base["current-schema-id"],
  };
  const keep = Number(base.properties["write.metadata.previous-versions-max"] ?? 100);
  const metadata: TableMetadata = {
    ...base,
    "last-sequence-number": sequence,
    "last-updated-ms": now,
    "current-snapshot-id": req.snapshotId,
    refs: { ...base.refs, main: { "snapshot-id": req.snapshotId, type: "branch" } },
    snapshots: [...base.snapshots, snapshot],
    "snapshot-log": [...base["snapshot-log"], { "snapshot-id": req.snapshotId, "timestamp-ms": now }],
    "metadata-log": loaded
      ? [
          ...base["metadata-log"],
          {
            "metadata-file": table.uri(table.versionKey(loaded.version)),
            "timestamp-ms": loaded.metadata["last-updated-ms"],
          },
        ].slice(-keep)
      : [],
  };
  return { metadata, writer, added, excluded };
}
