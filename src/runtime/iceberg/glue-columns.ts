/**
 * An Iceberg schema (its JSON, as table metadata holds it) as the columns of a Glue table. Athena reads
 * an Iceberg table's schema from its metadata file; the Glue columns are what the Glue console, Lake
 * Formation and crawler-minded tools show, so they follow each commit's schema. Types in Hive's notation,
 * as Iceberg's own Glue catalog writes them; each column carries its Iceberg field id.
 */
import type { Column } from "@aws-sdk/client-glue";

const PRIMITIVES: Readonly<Record<string, string>> = {
  boolean: "boolean",
  int: "int",
  long: "bigint",
  float: "float",
  double: "double",
  date: "date",
  time: "string",
  timestamp: "timestamp",
  timestamptz: "timestamp",
  timestamp_ns: "timestamp",
  timestamptz_ns: "timestamp",
  string: "string",
  uuid: "string",
  binary: "binary",
};

type Json = Readonly<Record<string, unknown>>;

/** One Iceberg type as a Hive type name. */
export function hiveType(type: unknown): string {
  if (typeof type === "string") {
    const primitive = PRIMITIVES[type];
    if (primitive) return primitive;
    if (/^decimal\(\s*\d+\s*,\s*\d+\s*\)$/.test(type)) return type.replace(/\s+/g, "");
    if (/^fixed\[\d+\]$/.test(type)) return "binary";
    throw new Error(`glue columns: the Iceberg type ${JSON.stringify(type)} has no Hive name`);
  }
  const t = (type ?? {}) as Json;
  switch (t.type) {
    case "struct":
      return `struct<${((t.fields ?? []) as Json[]).map((f) => `${String(f.name)}:${hiveType(f.type)}`).join(",")}>`;
    case "list":
      return `array<${hiveType(t.element)}>`;
    case "map":
      return `map<${hiveType(t.key)},${hiveType(t.value)}>`;
    default:
      throw new Error(`glue columns: ${JSON.stringify(type)} is no Iceberg type`);
  }
}

/** The top-level fields of an Iceberg schema as Glue columns. */
export function glueColumns(schema: Json): Column[] {
  return ((schema.fields ?? []) as Json[]).map((f) => ({
    Name: String(f.name),
    Type: hiveType(f.type),
    ...(typeof f.doc === "string" ? { Comment: f.doc } : {}),
    Parameters: {
      "iceberg.field.id": String(f.id),
      "iceberg.field.optional": String(f.required !== true),
      "iceberg.field.current": "true",
    },
  }));
}
