/**
 * The DuckDB side of a table: the COPY options that make a Parquet file an Iceberg data file, and the
 * read_parquet call that reads data files by Iceberg field id.
 *
 * Written: `FIELD_IDS` stamps every column's field id into the Parquet schema (a nested column is a
 * struct literal with `__duckdb_field_id` for its own id; a list's child is `element`). A column missing
 * from FIELD_IDS would be written silently without an id, and Iceberg readers would read it as absent:
 * the literal is always generated from the table's schema, and the COPY's SELECT produces exactly its
 * columns. `KV_METADATA` puts the schema in the footer as `iceberg.schema` (as Java's writer does; some
 * readers map columns through it). `RETURN_STATS` hands back every statistic the manifest needs.
 *
 * Read: `read_parquet([...], schema = MAP {<id>: {name, type, default_value}})` maps each column by its
 * field id, so a renamed column, or a column added after a file was written (null there), reads right.
 */
import type { IcebergSchema, IcebergStruct, IcebergType } from "../../contract/table-schema.ts";
import { ident, literal } from "../engine/types.ts";

/** DuckDB's spelling of an Iceberg type, as DESCRIBE prints it (and runtime/engine/types.ts writes it). */
export function duckTypeOf(t: IcebergType): string {
  if (typeof t === "string") {
    return {
      string: "VARCHAR",
      long: "BIGINT",
      double: "DOUBLE",
      boolean: "BOOLEAN",
      date: "DATE",
      timestamptz: "TIMESTAMP WITH TIME ZONE",
    }[t];
  }
  if (t.type === "list") return `${duckTypeOf(t.element)}[]`;
  return `STRUCT(${t.fields.map((f) => `${ident(f.name)} ${duckTypeOf(f.type)}`).join(", ")})`;
}

/** COPY's FIELD_IDS: `{"a": 1, "s": {__duckdb_field_id: 2, "x": 5}, "l": {__duckdb_field_id: 3, element: 6}}`. */
export function fieldIds(schema: IcebergStruct): string {
  const nested = (id: number, t: IcebergType): string => {
    if (typeof t === "string") return String(id);
    if (t.type === "list")
      return `{__duckdb_field_id: ${id}, element: ${nested(t["element-id"], t.element)}}`;
    return `{__duckdb_field_id: ${id}, ${t.fields.map((f) => `${ident(f.name)}: ${nested(f.id, f.type)}`).join(", ")}}`;
  };
  return `{${schema.fields.map((f) => `${ident(f.name)}: ${nested(f.id, f.type)}`).join(", ")}}`;
}

/** The options of a COPY that writes one Iceberg data file of `schema` (zstd, as the table says). */
export function dataFileCopyOptions(schema: IcebergSchema): string {
  return [
    "FORMAT parquet",
    "COMPRESSION zstd",
    `FIELD_IDS ${fieldIds(schema)}`,
    `KV_METADATA {'iceberg.schema': ${literal(JSON.stringify(schema))}}`,
    "RETURN_STATS true",
  ].join(", ");
}

/**
 * SQL reading data files as `schema`'s columns, by field id; an empty relation of them when no file.
 * `evolved: false` says every file was written with this very schema (the table has had no other): then
 * the columns are read by name, which DuckDB does a little faster (about 5 % of a scan's CPU).
 */
export function readFilesSql(schema: IcebergStruct, paths: readonly string[], evolved = true): string {
  if (paths.length === 0) {
    return `SELECT ${schema.fields.map((f) => `CAST(NULL AS ${duckTypeOf(f.type)}) AS ${ident(f.name)}`).join(", ")} WHERE false`;
  }
  if (!evolved) {
    return `SELECT ${schema.fields.map((f) => ident(f.name)).join(", ")} FROM read_parquet([${paths.map(literal).join(", ")}])`;
  }
  const map = schema.fields
    .map(
      (f) => `${f.id}: {name: ${literal(f.name)}, type: ${literal(duckTypeOf(f.type))}, default_value: NULL}`,
    )
    .join(", ");
  return `SELECT * FROM read_parquet([${paths.map(literal).join(", ")}], schema = MAP {${map}})`;
}
