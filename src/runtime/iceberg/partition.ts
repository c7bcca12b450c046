/**
 * A data file's partition tuple: the values of the table's partition fields for a Tributary partition
 * key, checked against the file's own minimum and maximum of each source column, and how the tuple is
 * typed in manifests and summarised in manifest lists.
 *
 * A spec (table-schema.ts `partitionSources`) has at most one time field (day or hour of a column) and
 * one identity field (the static dimension's column). For partition "2026-11-01|acme" of a table
 * partitioned by day(order_date), identity(tenant_id), the tuple is { order_date_day: 20758,
 * tenant_id: "acme" }, and every row of the file must have an order_date on 2026-11-01 and tenant_id
 * "acme": a file that breaks that cannot be described by the spec (the engine then drops the field).
 */
import type { IcebergPrimitive, IcebergSchema } from "../../contract/table-schema.ts";
import { MULTI_SEPARATOR, type Partitions, timeDimension } from "../../kit/partitions.ts";
import type { AvroSchema, FieldSummaryRecord, PartitionAvroField } from "./avro.ts";
import type { PartitionField, PartitionSpec } from "./metadata.ts";
import type { FileMetrics } from "./stats.ts";
import { deserialize, serialize, timeKeyValue, timeTransform, type Value } from "./values.ts";

/** The time and static parts of a Tributary partition key. */
export function keyParts(
  partitions: Partitions | undefined,
  key: string,
): { readonly time?: string; readonly static?: string } {
  if (!partitions || key === "") return {};
  if (partitions.kind === "multi") {
    const [time, stat] = key.split(MULTI_SEPARATOR);
    return { time: time!, static: stat! };
  }
  return timeDimension(partitions) ? { time: key } : { static: key };
}

/**
 * The type a field's values have: day → date (days), hour → int (hours), identity → its column's type,
 * looked up in the table's schemas, newest first (the column may have been dropped since).
 */
export function resultType(
  field: PartitionField,
  schemas: readonly IcebergSchema[],
): IcebergPrimitive | "int" {
  if (field.transform === "day") return "date";
  if (field.transform === "hour") return "int";
  for (const schema of [...schemas].reverse()) {
    const source = schema.fields.find((f) => f.id === field["source-id"]);
    if (source && typeof source.type === "string") return source.type;
  }
  return "string";
}

/** The Avro fields of the `partition` record of a spec's manifests. */
export function partitionAvroFields(
  spec: PartitionSpec,
  schemas: readonly IcebergSchema[],
): PartitionAvroField[] {
  return spec.fields.map((f) => {
    const type = resultType(f, schemas);
    const avroType: AvroSchema = type === "date" ? { type: "int", logicalType: "date" } : type;
    return { name: f.name, fieldId: f["field-id"], avroType };
  });
}

/** The tuple of a Tributary partition under a spec, by field name. */
export function partitionTuple(
  spec: PartitionSpec,
  parts: { readonly time?: string; readonly static?: string },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) {
    out[f.name] =
      f.transform === "identity"
        ? (parts.static ?? null)
        : parts.time === undefined
          ? null
          : (timeKeyValue(f.transform, parts.time) ?? null);
  }
  return out;
}

/**
 * The columns of the spec whose values in a file do not all transform to the file's tuple: a null, or
 * a minimum or maximum outside it (or unknown). Empty when the file fits its partition.
 */
export function misfits(
  spec: PartitionSpec,
  schema: IcebergSchema,
  tuple: Readonly<Record<string, unknown>>,
  metrics: FileMetrics,
): string[] {
  const out: string[] = [];
  for (const f of spec.fields) {
    const source = schema.fields.find((c) => c.id === f["source-id"]);
    if (!source || typeof source.type !== "string") continue;
    const range = metrics.ranges.get(source.id);
    const nulls = metrics.nullValueCounts.get(source.id) ?? 0;
    const want = tuple[f.name];
    const of = (v: Value | undefined) =>
      v === undefined
        ? undefined
        : f.transform === "identity"
          ? v
          : timeTransform(f.transform, source.type as IcebergPrimitive, v);
    const fits = nulls === 0 && want !== null && of(range?.min) === want && of(range?.max) === want;
    if (!fits) out.push(source.name);
  }
  return out;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "string" && typeof b === "string") return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return Number(a) - Number(b);
}

/** The manifest list's summary of one field over the tuples of a manifest's entries. */
export function fieldSummaries(
  spec: PartitionSpec,
  schemas: readonly IcebergSchema[],
  tuples: readonly Readonly<Record<string, unknown>>[],
): FieldSummaryRecord[] {
  return spec.fields.map((f) => {
    const type = resultType(f, schemas);
    const values = tuples.map((t) => t[f.name]);
    const present = values.filter((v) => v !== null && v !== undefined).sort(compare);
    return {
      contains_null: present.length < values.length,
      contains_nan: false,
      lower_bound: present.length ? (serialize(type, present[0] as Value) ?? null) : null,
      upper_bound: present.length ? (serialize(type, present.at(-1) as Value) ?? null) : null,
    };
  });
}

/** Whether a manifest, by its field summaries, may hold a file with this tuple. */
export function mayHold(
  spec: PartitionSpec,
  schemas: readonly IcebergSchema[],
  summaries: readonly FieldSummaryRecord[] | null,
  tuple: Readonly<Record<string, unknown>>,
): boolean {
  if (!summaries) return true;
  return spec.fields.every((f, i) => {
    const s = summaries[i];
    const v = tuple[f.name];
    if (!s) return true;
    if (v === null || v === undefined) return s.contains_null;
    const type = resultType(f, schemas);
    const lo = s.lower_bound ? deserialize(type, s.lower_bound) : undefined;
    const hi = s.upper_bound ? deserialize(type, s.upper_bound) : undefined;
    if (lo === undefined || hi === undefined) return true;
    return compare(v, lo) >= 0 && compare(v, hi) <= 0;
  });
}
