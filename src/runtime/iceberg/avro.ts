/**
 * Iceberg v2 manifests and manifest lists: Avro object container files, written and read with avsc.
 *
 * - Every record field carries its Iceberg field id as the attribute `field-id`; a list's element id is
 *   `element-id` on the array (spec, Appendix A).
 * - Optional fields are `["null", T]` unions with default null.
 * - Maps with int keys (column_sizes, value_counts, …, lower_bounds, upper_bounds) are arrays of
 *   key/value records with `logicalType: "map"`, named `k<key id>_v<value id>` (record names must be
 *   unique within a schema).
 * - The schema goes to avsc's BlockEncoder as a plain object, so the file's `avro.schema` header keeps
 *   the custom attributes (a parsed avsc Type would drop them).
 * - Longs are JS numbers: exact below 2^53, which is why snapshot ids are made below 2^53.
 * Only v2 columns are written (no block_size_in_bytes, file_ordinal, sort_columns, distinct_counts).
 */
import { PassThrough } from "node:stream";
import avro from "avsc";

export type AvroSchema = Record<string, unknown> | string | unknown[];

const optional = (type: AvroSchema) => ["null", type];

function intMapField(
  name: string,
  fieldId: number,
  keyId: number,
  valueId: number,
  valueType: "long" | "bytes",
) {
  return {
    name,
    type: optional({
      type: "array",
      logicalType: "map",
      items: {
        type: "record",
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: "key", type: "int", "field-id": keyId },
          { name: "value", type: valueType, "field-id": valueId },
        ],
      },
    }),
    default: null,
    "field-id": fieldId,
  };
}

/** A field of a data file's `partition` record: the partition field and its transform's result type. */
export interface PartitionAvroField {
  readonly name: string;
  readonly fieldId: number;
  readonly avroType: AvroSchema;
}

/** The `manifest_entry` schema of a manifest whose files have this partition tuple. */
export function manifestEntrySchema(partition: readonly PartitionAvroField[]): Record<string, unknown> {
  return {
    type: "record",
    name: "manifest_entry",
    fields: [
      { name: "status", type: "int", "field-id": 0 },
      { name: "snapshot_id", type: optional("long"), default: null, "field-id": 1 },
      { name: "sequence_number", type: optional("long"), default: null, "field-id": 3 },
      { name: "file_sequence_number", type: optional("long"), default: null, "field-id": 4 },
      {
        name: "data_file",
        "field-id": 2,
        type: {
          type: "record",
          name: "r2",
          fields: [
            { name: "content", type: "int", "field-id": 134 },
            { name: "file_path", type: "string", "field-id": 100 },
            { name: "file_format", type: "string", "field-id": 101 },
            {
              name: "partition",
              "field-id": 102,
              type: {
                type: "record",
                name: "r102",
                fields: partition.map((p) => ({
                  name: p.name,
                  type: optional(p.avroType),
                  default: null,
                  "field-id": p.fieldId,
                })),
              },
            },
            { name: "record_count", type: "long", "field-id": 103 },
            { name: "file_size_in_bytes", type: "long", "field-id": 104 },
            intMapField("column_sizes", 108, 117, 118, "long"),
            intMapField("value_counts", 109, 119, 120, "long"),
            intMapField("null_value_counts", 110, 121, 122, "long"),
            intMapField("nan_value_counts", 137, 138, 139, "long"),
            intMapField("lower_bounds", 125, 126, 127, "bytes"),
            intMapField("upper_bounds", 128, 129, 130, "bytes"),
            { name: "key_metadata", type: optional("bytes"), default: null, "field-id": 131 },
            {
              name: "split_offsets",
              type: optional({ type: "array", items: "long", "element-id": 133 }),
              default: null,
              "field-id": 132,
            },
            {
              name: "equality_ids",
              type: optional({ type: "array", items: "int", "element-id": 136 }),
              default: null,
              "field-id": 135,
            },
            { name: "sort_order_id", type: optional("int"), default: null, "field-id": 140 },
            { name: "referenced_data_file", type: optional("string"), default: null, "field-id": 143 },
          ],
        },
      },
    ],
  };
}

/** The `manifest_file` schema: one record per manifest in a manifest list. */
export const MANIFEST_FILE_SCHEMA: Record<string, unknown> = {
  type: "record",
  name: "manifest_file",
  fields: [
    { name: "manifest_path", type: "string", "field-id": 500 },
    { name: "manifest_length", type: "long", "field-id": 501 },
    { name: "partition_spec_id", type: "int", "field-id": 502 },
    { name: "content", type: "int", "field-id": 517 },
    { name: "sequence_number", type: "long", "field-id": 515 },
    { name: "min_sequence_number", type: "long", "field-id": 516 },
    { name: "added_snapshot_id", type: "long", "field-id": 503 },
    { name: "added_files_count", type: "int", "field-id": 504 },
    { name: "existing_files_count", type: "int", "field-id": 505 },
    { name: "deleted_files_count", type: "int", "field-id": 506 },
    { name: "added_rows_count", type: "long", "field-id": 512 },
    { name: "existing_rows_count", type: "long", "field-id": 513 },
    { name: "deleted_rows_count", type: "long", "field-id": 514 },
    {
      name: "partitions",
      type: optional({
        type: "array",
        "element-id": 508,
        items: {
          type: "record",
          name: "r508",
          fields: [
            { name: "contains_null", type: "boolean", "field-id": 509 },
            { name: "contains_nan", type: optional("boolean"), default: null, "field-id": 518 },
            { name: "lower_bound", type: optional("bytes"), default: null, "field-id": 510 },
            { name: "upper_bound", type: optional("bytes"), default: null, "field-id": 511 },
          ],
        },
      }),
      default: null,
      "field-id": 507,
    },
    { name: "key_metadata", type: optional("bytes"), default: null, "field-id": 519 },
  ],
};

/** An int-keyed map as Avro writes it. */
export type IntMap<V> = { key: number; value: V }[] | null;

export interface DataFileRecord {
  content: number;
  file_path: string;
  file_format: string;
  partition: Record<string, unknown>;
  record_count: number;
  file_size_in_bytes: number;
  column_sizes: IntMap<number>;
  value_counts: IntMap<number>;
  null_value_counts: IntMap<number>;
  nan_value_counts: IntMap<number>;
  lower_bounds: IntMap<Buffer>;
  upper_bounds: IntMap<Buffer>;
  key_metadata: Buffer | null;
  split_offsets: number[] | null;
  equality_ids: number[] | null;
  sort_order_id: number | null;
  referenced_data_file: string | null;
}

/** A manifest entry's status. */
export const EXISTING = 0;
export const ADDED = 1;
export const DELETED = 2;

export interface ManifestEntryRecord {
  status: number;
  snapshot_id: number | null;
  sequence_number: number | null;
  file_sequence_number: number | null;
  data_file: DataFileRecord;
}

export interface FieldSummaryRecord {
  contains_null: boolean;
  contains_nan: boolean | null;
  lower_bound: Buffer | null;
  upper_bound: Buffer | null;
}

export interface ManifestFileRecord {
  manifest_path: string;
  manifest_length: number;
  partition_spec_id: number;
  content: number;
  sequence_number: number;
  min_sequence_number: number;
  added_snapshot_id: number;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: number;
  existing_rows_count: number;
  deleted_rows_count: number;
  partitions: FieldSummaryRecord[] | null;
  key_metadata: Buffer | null;
}

/** An Avro object container file (deflate, as Java writes them) with string header metadata. */
export async function encodeAvro(
  schema: Record<string, unknown>,
  records: readonly unknown[],
  metadata: Readonly<Record<string, string>>,
): Promise<Buffer> {
  const meta = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, Buffer.from(v, "utf8")]));
  // avsc honours `metadata` (the header's key/values), which its typings leave out.
  const encoder = new avro.streams.BlockEncoder(
    schema as avro.Schema,
    {
      metadata: meta,
      codec: "deflate",
      writeHeader: true,
    } as never,
  );
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    sink.on("end", resolve);
    encoder.on("error", reject);
  });
  encoder.pipe(sink);
  for (const r of records) encoder.write(r);
  encoder.end();
  await done;
  return Buffer.concat(chunks);
}

/** The records and header metadata of an Avro object container file. */
export async function decodeAvro<T>(
  buf: Buffer,
): Promise<{ records: T[]; metadata: Record<string, string> }> {
  const decoder = new avro.streams.BlockDecoder();
  const records: T[] = [];
  let metadata: Record<string, string> = {};
  decoder.on("metadata", (_type: unknown, _codec: string, header: { meta: Record<string, Buffer> }) => {
    metadata = Object.fromEntries(Object.entries(header.meta).map(([k, v]) => [k, v.toString("utf8")]));
  });
  decoder.on("data", (r: T) => records.push(r));
  const done = new Promise<void>((resolve, reject) => {
    decoder.on("end", resolve);
    decoder.on("error", reject);
  });
  decoder.end(buf);
  await done;
  return { records, metadata };
}

/** A map by int key as Avro's key/value array, by ascending key; null when empty. */
export function intMap<V>(m: ReadonlyMap<number, V>): IntMap<V> {
  return m.size ? [...m].sort((a, b) => a[0] - b[0]).map(([key, value]) => ({ key, value })) : null;
}
