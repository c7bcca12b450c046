/**
 * Iceberg table metadata (format version 2) as Tributary writes it: the JSON document of
 * `metadata/v<N>.metadata.json`, a new table's, and the next one's when an asset's schema or partition
 * spec changes. Pure: no store.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { TObject } from "@sinclair/typebox";
import {
  type IcebergPrimitive,
  type IcebergSchema,
  icebergSchema,
  type PartitionSource,
  sameSchema,
} from "../../contract/table-schema.ts";
import { TributaryError } from "../../kit/errors.ts";

export type Transform = "identity" | "day" | "hour";

export interface PartitionField {
  readonly "source-id": number;
  readonly "field-id": number;
  readonly name: string;
  readonly transform: Transform;
}
export interface PartitionSpec {
  readonly "spec-id": number;
  readonly fields: readonly PartitionField[];
}
export interface SortOrder {
  readonly "order-id": number;
  readonly fields: readonly unknown[];
}
export type Operation = "append" | "replace" | "overwrite" | "delete";
export interface Snapshot {
  readonly "snapshot-id": number;
  readonly "parent-snapshot-id"?: number;
  readonly "sequence-number": number;
  readonly "timestamp-ms": number;
  readonly "manifest-list": string;
  readonly summary: Readonly<Record<string, string>> & { readonly operation: Operation };
  readonly "schema-id": number;
}
export interface TableMetadata {
  readonly "format-version": 2;
  readonly "table-uuid": string;
  readonly location: string;
  readonly "last-sequence-number": number;
  readonly "last-updated-ms": number;
  readonly "last-column-id": number;
  readonly "current-schema-id": number;
  readonly schemas: readonly IcebergSchema[];
  readonly "default-spec-id": number;
  readonly "partition-specs": readonly PartitionSpec[];
  readonly "last-partition-id": number;
  readonly "default-sort-order-id": number;
  readonly "sort-orders": readonly SortOrder[];
  readonly properties: Readonly<Record<string, string>>;
  readonly "current-snapshot-id"?: number;
  readonly refs: Readonly<
    Record<string, { readonly "snapshot-id": number; readonly type: "branch" | "tag" }>
  >;
  readonly snapshots: readonly Snapshot[];
  readonly "snapshot-log": readonly { readonly "snapshot-id": number; readonly "timestamp-ms": number }[];
  readonly "metadata-log": readonly { readonly "metadata-file": string; readonly "timestamp-ms": number }[];
}

/** A table cannot be read as asked: no such snapshot, an unreadable metadata file. A user error. */
export class TableError extends TributaryError {
  override name = "TableError";
}

/**
 * The table property listing the columns whose data did not fit a partition field (a file with rows
 * outside its partition's value): the spec leaves them out from then on.
 */
export const EXCLUDED_PARTITION_COLUMNS = "tributary.partition.excluded-columns";

const BASE_PROPERTIES = {
  "write.format.default": "parquet",
  "write.parquet.compression-codec": "zstd",
  "write.metadata.previous-versions-max": "100",
} as const;

/** Positive snapshot ids below 2^53: exact as JS numbers, in JSON.parse and in avsc's longs. */
export function newSnapshotId(): number {
  const b = randomBytes(8);
  b[0] = 0;
  b[1] = b[1]! & 0x1f;
  const id = Number(b.readBigUInt64BE());
  return id === 0 ? 1 : id;
}

export function currentSchema(m: TableMetadata): IcebergSchema {
  return m.schemas.find((s) => s["schema-id"] === m["current-schema-id"])!;
}

export function defaultSpec(m: TableMetadata): PartitionSpec {
  return m["partition-specs"].find((s) => s["spec-id"] === m["default-spec-id"])!;
}

export function specById(m: TableMetadata, id: number): PartitionSpec {
  const spec = m["partition-specs"].find((s) => s["spec-id"] === id);
  if (!spec) throw new TableError(`table ${m.location} has no partition spec ${id}.`);
  return spec;
}

export function currentSnapshot(m: TableMetadata): Snapshot | undefined {
  const id = m["current-snapshot-id"];
  return id === undefined ? undefined : m.snapshots.find((s) => s["snapshot-id"] === id);
}

/** The columns the table's partition fields must leave out (EXCLUDED_PARTITION_COLUMNS). */
export function excludedColumns(m: TableMetadata | undefined): string[] {
  const v = m?.properties[EXCLUDED_PARTITION_COLUMNS];
  return v ? v.split(",") : [];
}

/** What the table should be: the asset's schema, its partition fields, where it lives. */
export interface TableDefinition {
  readonly location: string;
  readonly schema: TObject;
  readonly partitions: readonly PartitionSource[];
}

/** The name of a partition field: the column for identity, `<column>_<transform>` otherwise (Java's names). */
function fieldName(s: PartitionSource): string {
  return s.transform === "identity" ? s.column : `${s.column}_${s.transform}`;
}

/**
 * The metadata a commit builds on: `base` (undefined for a new table) with the definition's schema and
 * partition spec made current. The schema keeps field ids by column (table-schema.ts); an unchanged
 * schema keeps its id, a schema equal to an older one takes that one's. The spec is the definition's
 * fields but those whose column is excluded (`exclude`, and the table's EXCLUDED_PARTITION_COLUMNS
 * property, to which `exclude` is added); a spec equal to an older one takes its id, and a field keeps
 * its field id across specs.
 */
export function prepareMetadata(
  base: TableMetadata | undefined,
  def: TableDefinition,
  exclude: readonly string[] = [],
): TableMetadata {
  const now = Date.now();
  const excluded = [...new Set([...excludedColumns(base), ...exclude])].sort();
  const properties = {
    ...BASE_PROPERTIES,
    ...base?.properties,
    ...(excluded.length > 0 ? { [EXCLUDED_PARTITION_COLUMNS]: excluded.join(",") } : {}),
  };
  // The schema.
  let schemas: readonly IcebergSchema[];
  let schema: IcebergSchema;
  let lastColumnId: number;
  if (!base) {
    ({ schema, lastColumnId } = icebergSchema(def.schema));
    schemas = [schema];
  } else {
    const current = currentSchema(base);
    const next = icebergSchema(def.schema, { previous: current, lastColumnId: base["last-column-id"] });
    lastColumnId = next.lastColumnId;
    const same = base.schemas.find((s) => sameSchema(s, next.schema));
    if (same) {
      schema = same;
      schemas = base.schemas;
    } else {
      schema = { ...next.schema, "schema-id": Math.max(...base.schemas.map((s) => s["schema-id"])) + 1 };
      schemas = [...base.schemas, schema];
    }
  }
  // The partition spec.
  const wanted = def.partitions.filter((p) => !excluded.includes(p.column));
  const sourceId = (column: string) => {
    const f = schema.fields.find((x) => x.name === column && typeof x.type === "string");
    return f as { id: number; type: IcebergPrimitive } | undefined;
  };
  const specs = base?.["partition-specs"] ?? [];
  let lastPartitionId = base?.["last-partition-id"] ?? 999;
  const fields: PartitionField[] = [];
  for (const p of wanted) {
    const source = sourceId(p.column);
    if (!source) continue;
    const known = specs
      .flatMap((s) => s.fields)
      .find((f) => f["source-id"] === source.id && f.transform === p.transform);
    fields.push({
      "source-id": source.id,
      "field-id": known?.["field-id"] ?? ++lastPartitionId,
      name: fieldName(p),
      transform: p.transform,
    });
  }
  const sameFields = (s: PartitionSpec) => JSON.stringify(s.fields) === JSON.stringify(fields);
  let spec = specs.find(sameFields);
  const partitionSpecs = [...specs];
  if (!spec) {
    spec = { "spec-id": specs.length === 0 ? 0 : Math.max(...specs.map((s) => s["spec-id"])) + 1, fields };
    partitionSpecs.push(spec);
  }
  if (!base) {
    return {
      "format-version": 2,
      "table-uuid": randomUUID(),
      location: def.location,
      "last-sequence-number": 0,
      "last-updated-ms": now,
      "last-column-id": lastColumnId,
      "current-schema-id": schema["schema-id"],
      schemas,
      "default-spec-id": spec["spec-id"],
      "partition-specs": partitionSpecs,
      "last-partition-id": lastPartitionId,
      "default-sort-order-id": 0,
      "sort-orders": [{ "order-id": 0, fields: [] }],
      properties,
      refs: {},
      snapshots: [],
      "snapshot-log": [],
      "metadata-log": [],
    };
  }
  return {
    ...base,
    "last-column-id": lastColumnId,
    "current-schema-id": schema["schema-id"],
    schemas,
    "default-spec-id": spec["spec-id"],
    "partition-specs": partitionSpecs,
    "last-partition-id": lastPartitionId,
    properties,
  };
}

/**
 * The snapshot `--as-of` names: a snapshot id of the table, else a time (ISO 8601, e.g. 2026-11-01 or
 * 2026-11-01T10:00:00Z), for which the snapshot that was current then (the last snapshot-log entry at or
 * before it, the spec's rule for time travel). Undefined asks for the current snapshot.
 */
export function snapshotAsOf(
  m: TableMetadata,
  asOf: string | undefined,
  table: string,
): Snapshot | undefined {
  if (asOf === undefined) return currentSnapshot(m);
  if (/^\d+$/.test(asOf)) {
    const s = m.snapshots.find((x) => String(x["snapshot-id"]) === asOf);
    if (s) return s;
    if (asOf.length > 8) {
      throw new TableError(
        `table "${table}" has no snapshot ${asOf}; its snapshots: ${m.snapshots.map((x) => x["snapshot-id"]).join(", ") || "none"} (see tributary tables).`,
      );
    }
  }
  const t = Date.parse(asOf);
  if (Number.isNaN(t)) {
    throw new TableError(
      `--as-of ${JSON.stringify(asOf)} is neither a snapshot id nor a time like 2026-11-01T10:00:00Z.`,
    );
  }
  const before = m["snapshot-log"].filter((l) => l["timestamp-ms"] <= t);
  if (before.length === 0) {
    const first = m["snapshot-log"][0];
    throw new TableError(
      `table "${table}" has no snapshot at or before ${new Date(t).toISOString()}${first ? `; its first is from ${new Date(first["timestamp-ms"]).toISOString()}` : ""}.`,
    );
  }
  const id = before.at(-1)!["snapshot-id"];
  const s = m.snapshots.find((x) => x["snapshot-id"] === id);
  if (!s) {
    throw new TableError(
      `table "${table}": snapshot ${id}, current at ${new Date(t).toISOString()}, has expired (tributary gc).`,
    );
  }
  return s;
}
