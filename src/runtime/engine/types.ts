import type { TObject, TSchema } from "@sinclair/typebox";
import { type JsonSchemaNode as JsonSchema, unwrapNullable as nonNull } from "../../contract/table-schema.ts";
import { TributaryError } from "../../kit/errors.ts";

/**
 * How a TypeBox (JSON Schema) column is stored in DuckDB and Parquet, and back:
 *   string                       VARCHAR            string (format date-time) TIMESTAMP WITH TIME ZONE
 *   string (format date)         DATE               integer                   BIGINT
 *   number                       DOUBLE             boolean                   BOOLEAN
 *   array of T                   T[]                object                    STRUCT(...)
 *   T or null                    T, nullable        string or another scalar  VARCHAR (a source's JSON text)
 * Type names are DuckDB's own spelling, as DESCRIBE prints them, so they compare as strings.
 */
export interface ColumnType {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

export class SchemaTypeError extends TributaryError {
  override name = "SchemaTypeError";
}

/** The DuckDB type of a JSON Schema; `where` names the column in errors. */
export function duckType(schema: TSchema, where: string): string {
  const { inner } = nonNull(schema as JsonSchema);
  const type = Array.isArray(inner.type)
    ? undefined
    : (inner.type ?? (typeof inner.const === "string" ? "string" : undefined));
  switch (type) {
    case "string":
      return inner.format === "date-time"
        ? "TIMESTAMP WITH TIME ZONE"
        : inner.format === "date"
          ? "DATE"
          : "VARCHAR";
    case "integer":
      return "BIGINT";
    case "number":
      return "DOUBLE";
    case "boolean":
      return "BOOLEAN";
    case "array":
      if (!inner.items) break;
      return `${duckType(inner.items as TSchema, `${where}[]`)}[]`;
    case "object": {
      if (!inner.properties) break;
      const fields = Object.entries(inner.properties).map(
        ([k, v]) => `"${k.replaceAll('"', '""')}" ${duckType(v as TSchema, `${where}.${k}`)}`,
      );
      return `STRUCT(${fields.join(", ")})`;
    }
  }
  throw new SchemaTypeError(
    `column "${where}": its schema ${JSON.stringify(schema)} has no DuckDB type; use a string, integer, number, boolean, array or object schema (optionally or null).`,
  );
}

export function isNullable(schema: TSchema): boolean {
  return nonNull(schema as JsonSchema).nullable;
}

/** Every column of an object schema with its DuckDB type. */
export function columnTypes(schema: TObject, owner: string): ColumnType[] {
  return Object.entries(schema.properties).map(([name, s]) => ({
    name,
    type: duckType(s, `${owner}.${name}`),
    nullable: isNullable(s),
  }));
}

const INTEGERS = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "HUGEINT",
  "UBIGINT",
]);

/** Whether a value of DuckDB type `actual` can be cast to `expected` without changing its meaning. */
export function castable(actual: string, expected: string): boolean {
  if (actual === expected) return true;
  if (expected === "BIGINT") return INTEGERS.has(actual) || actual === '"NULL"';
  if (expected === "DOUBLE")
    return INTEGERS.has(actual) || actual === "FLOAT" || actual.startsWith("DECIMAL");
  if (expected === "TIMESTAMP WITH TIME ZONE") return actual === "TIMESTAMP" || actual === "DATE";
  return actual === '"NULL"';
}

/** Double-quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single-quoted SQL string literal. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** DuckDB's read_json `columns` argument for a schema: {'a': 'BIGINT', ...}. */
export function jsonColumns(columns: readonly ColumnType[]): string {
  return `{${columns.map((c) => `${literal(c.name)}: ${literal(c.type)}`).join(", ")}}`;
}

/** Convert a value read from DuckDB (getRowObjectsJS) to the JSON shape its schema describes. */
export function fromDuck(value: unknown, schema: TSchema): unknown {
  if (value === null || value === undefined) return null;
  const { inner } = nonNull(schema as JsonSchema);
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (value instanceof Date)
    return inner.format === "date" ? value.toISOString().slice(0, 10) : value.toISOString();
  if (Array.isArray(value))
    return inner.items ? value.map((v) => fromDuck(v, inner.items as TSchema)) : value;
  if (typeof value === "object" && inner.properties) {
    const out: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(inner.properties))
      out[k] = fromDuck((value as Record<string, unknown>)[k], s as TSchema);
    return out;
  }
  return value;
}
