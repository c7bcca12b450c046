/**
 * Writing manifests and manifest lists for a commit: a manifest (Avro, `manifest_entry`) lists data
 * files of one partition spec, each ADDED, EXISTING or DELETED by the snapshot that wrote it; a manifest
 * list (`manifest_file`) names a snapshot's manifests with counts and partition summaries.
 *
 *   metadata/<snapshot id>-<attempt>-<uuid>-m<n>.avro    a manifest
 *   metadata/snap-<snapshot id>-<attempt>-<uuid>.avro    a manifest list
 *
 * ADDED entries leave their snapshot id and sequence numbers null, inherited from the manifest list's
 * record, so a manifest of added files is written once and reused by every retry of its commit; EXISTING
 * and DELETED entries carry theirs.
 */
import { randomUUID } from "node:crypto";
import type { IcebergSchema } from "../../contract/table-schema.ts";
import {
  ADDED,
  type DataFileRecord,
  DELETED,
  EXISTING,
  encodeAvro,
  intMap,
  MANIFEST_FILE_SCHEMA,
  type ManifestEntryRecord,
  type ManifestFileRecord,
  manifestEntrySchema,
} from "./avro.ts";
import type { PartitionSpec, Snapshot, TableMetadata } from "./metadata.ts";
import { fieldSummaries, partitionAvroFields } from "./partition.ts";
import type { FileMetrics } from "./stats.ts";
import type { IcebergTable } from "./table.ts";

/** A data file's manifest record: where it is, its partition tuple and its metrics. */
export function dataFileRecord(
  uri: string,
  tuple: Readonly<Record<string, unknown>>,
  m: FileMetrics,
): DataFileRecord {
  return {
    content: 0,
    file_path: uri,
    file_format: "PARQUET",
    partition: { ...tuple },
    record_count: m.recordCount,
    file_size_in_bytes: m.fileSizeInBytes,
    column_sizes: intMap(m.columnSizes),
    value_counts: intMap(m.valueCounts),
    null_value_counts: intMap(m.nullValueCounts),
    nan_value_counts: null,
    lower_bounds: intMap(m.lowerBounds),
    upper_bounds: intMap(m.upperBounds),
    key_metadata: null,
    split_offsets: null,
    equality_ids: null,
    sort_order_id: 0,
    referenced_data_file: null,
  };
}

/** Who writes manifests for one attempt of one commit. */
export interface ManifestWriter {
  readonly table: IcebergTable;
  readonly metadata: TableMetadata;
  readonly snapshotId: number;
  readonly attempt: number;
  /** Keys written by this attempt: deleted when the attempt loses its race. */
  readonly written: string[];
}

/**
 * Write a manifest of `entries` under `spec`, and return its manifest-list record. `sequence` is the
 * commit's sequence number (a manifest of only ADDED entries is listed with it when the list is
 * written: pass 0 and set it then).
 */
export async function writeManifest(
  w: ManifestWriter,
  spec: PartitionSpec,
  entries: ManifestEntryRecord[],
  sequence: number,
): Promise<ManifestFileRecord> {
  const schema: IcebergSchema = w.metadata.schemas.find(
    (s) => s["schema-id"] === w.metadata["current-schema-id"],
  )!;
  const key = w.table.metadataKey(`${w.snapshotId}-${w.attempt}-${randomUUID()}-m${w.written.length}.avro`);
  const body = await encodeAvro(manifestEntrySchema(partitionAvroFields(spec, w.metadata.schemas)), entries, {
    schema: JSON.stringify(schema),
    "schema-id": String(schema["schema-id"]),
    "partition-spec": JSON.stringify(spec.fields),
    "partition-spec-id": String(spec["spec-id"]),
    "format-version": "2",
    content: "data",
  });
  await w.table.store.put(key, body);
  w.written.push(key);
  const uri = w.table.uri(key);
  w.table.remember(uri, entries);
  const of = (status: number) => entries.filter((e) => e.status === status);
  const rows = (es: readonly ManifestEntryRecord[]) => es.reduce((n, e) => n + e.data_file.record_count, 0);
  const live = entries.filter((e) => e.status !== DELETED && e.sequence_number !== null);
  return {
    manifest_path: uri,
    manifest_length: body.length,
    partition_spec_id: spec["spec-id"],
    content: 0,
    sequence_number: sequence,
    min_sequence_number: live.length ? Math.min(...live.map((e) => e.sequence_number!)) : sequence,
    added_snapshot_id: w.snapshotId,
    added_files_count: of(ADDED).length,
    existing_files_count: of(EXISTING).length,
    deleted_files_count: of(DELETED).length,
    added_rows_count: rows(of(ADDED)),
    existing_rows_count: rows(of(EXISTING)),
    deleted_rows_count: rows(of(DELETED)),
    partitions: spec.fields.length
      ? fieldSummaries(
          spec,
          w.metadata.schemas,
          entries.map((e) => e.data_file.partition),
        )
      : null,
    key_metadata: null,
  };
}

/** Write the manifest list of a snapshot. */
export async function writeManifestList(
  w: ManifestWriter,
  manifests: readonly ManifestFileRecord[],
  sequence: number,
  parent: Snapshot | undefined,
): Promise<string> {
  const key = w.table.metadataKey(`snap-${w.snapshotId}-${w.attempt}-${randomUUID()}.avro`);
  const meta: Record<string, string> = {
    "snapshot-id": String(w.snapshotId),
    "sequence-number": String(sequence),
    "format-version": "2",
  };
  if (parent) meta["parent-snapshot-id"] = String(parent["snapshot-id"]);
  await w.table.store.put(key, await encodeAvro(MANIFEST_FILE_SCHEMA, manifests, meta));
  w.written.push(key);
  return w.table.uri(key);
}

/**
 * Merge a snapshot's manifests of each spec into one, once it lists more than `above` (Java merges
 * appends the same way, past `commit.manifest.min-count-to-merge`, 100): one small manifest per commit
 * would otherwise pile up. Entries this snapshot added or deleted keep their status (an ADDED one its
 * inherited numbers); every other live entry becomes EXISTING; older DELETED ones are dropped.
 */
export async function mergeManifests(
  w: ManifestWriter,
  manifests: readonly ManifestFileRecord[],
  sequence: number,
  above: number,
): Promise<ManifestFileRecord[]> {
  if (manifests.length <= above) return [...manifests];
  const out: ManifestFileRecord[] = [];
  for (const specId of [...new Set(manifests.map((m) => m.partition_spec_id))]) {
    const group = manifests.filter((m) => m.partition_spec_id === specId);
    if (group.length === 1) {
      out.push(group[0]!);
      continue;
    }
    const merged: ManifestEntryRecord[] = [];
    for (const m of group) {
      const entries = await w.table.entries({
        ...m,
        sequence_number: m.sequence_number || sequence,
        min_sequence_number: m.min_sequence_number || sequence,
      });
      for (const e of entries) {
        const ours = e.snapshot_id === w.snapshotId;
        if (ours && e.status === ADDED) {
          merged.push({ ...e, snapshot_id: null, sequence_number: null, file_sequence_number: null });
        } else if (ours && e.status === DELETED) merged.push(e);
        else if (e.status !== DELETED) merged.push({ ...e, status: EXISTING });
      }
    }
    const spec = w.metadata["partition-specs"].find((s) => s["spec-id"] === specId)!;
    out.push(await writeManifest(w, spec, merged, sequence));
  }
  return out;
}
