/**
 * A curated asset's TypeBox schema as an Apache Iceberg schema, how it evolves, and which columns its
 * partitions are: the engine writes tables with it, the preview judges schema changes with it.
 *
 *   JSON Schema (TypeBox)               Iceberg        (DuckDB, runtime/engine/types.ts)
 *   string; enum or literal union       string         VARCHAR
 *   string, format date-time            timestamptz    TIMESTAMP WITH TIME ZONE
 *   string, format date                 date           DATE
 *   integer                             long           BIGINT
 *   number                              double         DOUBLE
 *   boolean                             boolean        BOOLEAN
 *   array of T                          list<T>        T[]
 *   object {…}                          struct<…>      STRUCT(…)
 *   T or null                           optional       nullable
 *
 * Field ids: a struct's own fields are numbered before anything nested in them (top-level columns are
 * 1…n, as Iceberg's Java library numbers a new table). A table's next schema keeps the id of every
 * column by its path (`a`, `a.b`, `a.element`) as long as its type is the same; a new column, or a
 * column whose type changed, gets a new id above the table's last one (Iceberg cannot change a type
 * except int → long and float → double, none of which a TypeBox schema can express: the old column is
 * dropped and a new one of the same name added). A column added to an existing table is optional
 * whatever the asset declares (Iceberg v2 cannot add a required column: its old files have no value for
 * it), and a column never becomes required again once optional.
 */
import type { TObject } from "@sinclair/typebox";
import { type Partitions, staticDimension, timeDimension } from "../kit/partitions.ts";

export type IcebergPrimitive = "string" | "long" | "double" | "boolean" | "date" | "timestamptz";
export type IcebergType = IcebergPrimitive | IcebergStruct | IcebergList;

export interface IcebergField {
  readonly id: number;
  readonly name: string;
  readonly required: boolean;
  readonly type: IcebergType;
  readonly doc?: string;
}
export interface IcebergStruct {
  readonly type: "struct";
  readonly fields: readonly IcebergField[];
}
export interface IcebergList {
  readonly type: "list";
  readonly "element-id": number;
  readonly "element-required": boolean;
  readonly element: IcebergType;
}
export interface IcebergSchema extends IcebergStruct {
  readonly "schema-id": number;
}

/** A JSON Schema as TypeBox writes it: the parts that decide a column's type. */
export interface JsonSchemaNode {
  type?: string | string[];
  format?: string;
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  properties?: Record<string, JsonSchemaNode>;
  enum?: unknown[];
  const?: unknown;
  description?: string;
}

/** A JSON scalar type, or a string literal. */
function isScalar(s: JsonSchemaNode): boolean {
  return (
    s.type === "string" ||
    s.type === "boolean" ||
    s.type === "number" ||
    s.type === "integer" ||
    typeof s.const === "string"
  );
}

/**
 * A schema without its "or null": `T | null` (anyOf, or a `type` array) is T and nullable; a union of
 * string literals is a string, and so is a string-or-scalar union (read as its JSON text). The one
 * reading of nullability for DuckDB types and Iceberg types alike.
 */
export function unwrapNullable(s: JsonSchemaNode): { inner: JsonSchemaNode; nullable: boolean } {
  if (s.anyOf) {
    const rest = s.anyOf.filter((b) => b.type !== "null");
    if (rest.length === 1) return { inner: rest[0]!, nullable: rest.length < s.anyOf.length };
    if (rest.every((b) => typeof b.const === "string"))
      return { inner: { type: "string" }, nullable: rest.length < s.anyOf.length };
    // A string or another scalar (Debezium's `source.snapshot`, "true" or true) is read as its JSON text.
    if (rest.some((b) => b.type === "string" && b.format === undefined) && rest.every(isScalar))
      return { inner: { type: "string" }, nullable: rest.length < s.anyOf.length };
  }
  if (Array.isArray(s.type)) {
    const rest = s.type.filter((t) => t !== "null");
    if (rest.length === 1) return { inner: { ...s, type: rest[0] }, nullable: rest.length < s.type.length };
  }
  return { inner: s, nullable: false };
}

/** A column whose schema has no Iceberg type (the engine refuses it earlier, with its DuckDB type). */
export class TableSchemaError extends Error {
  override name = "TableSchemaError";
}

/** A type tree with ids still to assign: what the TypeBox schema says. */
type Draft =
  | { readonly kind: "primitive"; readonly type: IcebergPrimitive }
  | { readonly kind: "list"; readonly elementRequired: boolean; readonly element: Draft }
  | { readonly kind: "struct"; readonly fields: readonly DraftField[] };
interface DraftField {
  readonly name: string;
  readonly nullable: boolean;
  readonly type: Draft;
  readonly doc?: string;
}

function draft(s: JsonSchemaNode, where: string): Draft {
  const { inner } = unwrapNullable(s);
  const type = Array.isArray(inner.type)
    ? undefined
    : (inner.type ?? (typeof inner.const === "string" ? "string" : undefined));
  switch (type) {
    case "string":
      return {
        kind: "primitive",
        type: inner.format === "date-time" ? "timestamptz" : inner.format === "date" ? "date" : "string",
      };
    case "integer":
      return { kind: "primitive", type: "long" };
    case "number":
      return { kind: "primitive", type: "double" };
    case "boolean":
      return { kind: "primitive", type: "boolean" };
    case "array":
      if (!inner.items) break;
      return {
        kind: "list",
        elementRequired: !unwrapNullable(inner.items).nullable,
        element: draft(inner.items, `${where}[]`),
      };
    case "object":
      if (!inner.properties) break;
      return { kind: "struct", fields: draftFields(inner.properties, where) };
  }
  throw new TableSchemaError(`column "${where}": its schema ${JSON.stringify(s)} has no Iceberg type.`);
}

function draftFields(properties: Record<string, JsonSchemaNode>, where: string): DraftField[] {
  return Object.entries(properties).map(([name, v]) => {
    const doc = v.description ?? unwrapNullable(v).inner.description;
    return {
      name,
      nullable: unwrapNullable(v).nullable,
      type: draft(v, where ? `${where}.${name}` : name),
      ...(doc ? { doc } : {}),
    };
  });
}

/** What a table's previous schema says of each column path: its id, its type's shape, whether required. */
interface Known {
  readonly id: number;
  readonly shape: string;
  readonly required: boolean;
}

/** A type's shape: the primitive, or "struct" / "list" (nested fields are compared by their own paths). */
function shapeOf(t: IcebergType | Draft): string {
  if (typeof t === "string") return t;
  if ("kind" in t) return t.kind === "primitive" ? t.type : t.kind;
  return t.type;
}

function knownPaths(t: IcebergType, prefix: string, out: Map<string, Known>): Map<string, Known> {
  if (typeof t === "string") return out;
  if (t.type === "struct") {
    for (const f of t.fields) {
      const p = prefix ? `${prefix}.${f.name}` : f.name;
      out.set(p, { id: f.id, shape: shapeOf(f.type), required: f.required });
      knownPaths(f.type, p, out);
    }
  } else {
    const p = `${prefix}.element`;
    out.set(p, { id: t["element-id"], shape: shapeOf(t.element), required: t["element-required"] });
    knownPaths(t.element, p, out);
  }
  return out;
}

/**
 * The Iceberg schema of an asset's object schema. Without `previous`, a new table's (ids from 1).
 * With the table's current schema and last column id, the next schema: ids kept by path and type, new
 * ones above `lastColumnId`, added columns optional. Returns the schema (with `schemaId`) and the new
 * last column id.
 */
export function icebergSchema(
  schema: TObject,
  opts: { schemaId?: number; previous?: IcebergStruct; lastColumnId?: number } = {},
): { schema: IcebergSchema; lastColumnId: number } {
  const root = draftFields(schema.properties as Record<string, JsonSchemaNode>, "");
  const known = opts.previous ? knownPaths(opts.previous, "", new Map()) : undefined;
  let last = opts.lastColumnId ?? 0;
  const take = (
    path: string,
    shape: string,
    declaredRequired: boolean,
  ): { id: number; required: boolean } => {
    if (!known) return { id: ++last, required: declaredRequired };
    const k = known.get(path);
    if (k && k.shape === shape) return { id: k.id, required: k.required && declaredRequired };
    return { id: ++last, required: false };
  };
  // Breadth-first within a struct: its own fields take ids before anything nested in them.
  const struct = (fields: readonly DraftField[], prefix: string): IcebergField[] => {
    const ids = fields.map((f) => {
      const p = prefix ? `${prefix}.${f.name}` : f.name;
      return take(p, shapeOf(f.type), !f.nullable);
    });
    return fields.map((f, i) => ({
      id: ids[i]!.id,
      name: f.name,
      required: ids[i]!.required,
      type: build(f.type, prefix ? `${prefix}.${f.name}` : f.name),
      ...(f.doc ? { doc: f.doc } : {}),
    }));
  };
  const build = (d: Draft, path: string): IcebergType => {
    if (d.kind === "primitive") return d.type;
    if (d.kind === "struct") return { type: "struct", fields: struct(d.fields, path) };
    const p = `${path}.element`;
    const element = take(p, shapeOf(d.element), d.elementRequired);
    return {
      type: "list",
      "element-id": element.id,
      "element-required": element.required,
      element: build(d.element, p),
    };
  };
  const fields = struct(root, "");
  return { schema: { type: "struct", "schema-id": opts.schemaId ?? 0, fields }, lastColumnId: last };
}

/** Whether two schemas are the same but for their schema ids. */
export function sameSchema(a: IcebergStruct, b: IcebergStruct): boolean {
  return JSON.stringify(a.fields) === JSON.stringify(b.fields);
}

/** A readable type: "long", "list<string>", "struct<a: long>". */
export function typeName(t: IcebergType): string {
  if (typeof t === "string") return t;
  if (t.type === "list") return `list<${typeName(t.element)}>`;
  return `struct<${t.fields.map((f) => `${f.name}: ${typeName(f.type)}`).join(", ")}>`;
}

/**
 * What Iceberg cannot evolve when an asset's table schema changes from `before` to `after` (each as
 * `icebergSchema` makes it of the asset's schema), one sentence per column (empty when the table
 * evolves): a column whose type changes (a narrowing, or any change but int → long and float →
 * double), a required column added without a default, an optional column made required. Removed
 * columns and new optional ones evolve.
 */
export function unevolvable(before: IcebergStruct, after: IcebergStruct): string[] {
  const b = knownPaths(before, "", new Map());
  const a = after;
  const out: string[] = [];
  const walk = (t: IcebergType, prefix: string, parentIsNew: boolean) => {
    if (typeof t === "string") return;
    const children: [string, IcebergType, boolean][] =
      t.type === "struct"
        ? t.fields.map((f) => [prefix ? `${prefix}.${f.name}` : f.name, f.type, f.required])
        : [[`${prefix}.element`, t.element, t["element-required"]]];
    for (const [path, type, required] of children) {
      const was = b.get(path);
      const shape = shapeOf(type);
      if (!was) {
        if (required && !parentIsNew)
          out.push(`required column "${path}" is added without a default, which Iceberg cannot evolve`);
        walk(type, path, true);
      } else if (was.shape !== shape) {
        out.push(`column "${path}" changes type from ${was.shape} to ${shape}, which Iceberg cannot evolve`);
        walk(type, path, true);
      } else {
        if (required && !was.required)
          out.push(`column "${path}" becomes required, which Iceberg cannot evolve`);
        walk(type, path, false);
      }
    }
  };
  walk(a, "", false);
  return out;
}

/** One field of a table's partition spec: a transform of a top-level column. */
export interface PartitionSource {
  readonly column: string;
  readonly transform: "day" | "hour" | "identity";
  /** Which of the asset's partition dimensions it stands for. */
  readonly dimension: "time" | "static";
}

/**
 * The partition spec of an asset's table, from its partitions and its schema. The columns are found by
 * these rules, and a dimension with no column that fits is left out of the spec (the table is still
 * whole and correct, only less prunable for other engines):
 * - the static dimension ("tenant"): identity of the required string column named like the dimension
 *   or the dimension with "_id" ("tenant", "tenant_id");
 * - a daily time dimension: `day` of the one required date column; failing that, when the partitions
 *   are in UTC, of the one required date-time column;
 * - an hourly time dimension in UTC: `hour` of the one required date-time column.
 * Iceberg's day and hour are UTC: a Europe/Berlin day spans two UTC days of a timestamp, so a daily
 * dimension in another time zone uses a date column only (a date is the zone's calendar day, as the
 * partition key is), and an hourly one in another zone gets no time field.
 * The engine checks every file against the spec (the column's minimum and maximum); a file whose rows
 * fall outside its partition's value drops that field from the table's spec (see the engine).
 */
export function partitionSources(schema: TObject, partitions: Partitions | undefined): PartitionSource[] {
  const columns = icebergSchema(schema).schema.fields.filter(
    (f): f is IcebergField & { type: IcebergPrimitive } => typeof f.type === "string" && f.required,
  );
  const only = (type: IcebergPrimitive) => {
    const found = columns.filter((c) => c.type === type);
    return found.length === 1 ? found[0]!.name : undefined;
  };
  const out: PartitionSource[] = [];
  const time = timeDimension(partitions);
  if (time) {
    const utc = time.timezone === "UTC";
    const column =
      time.granularity === "daily"
        ? (only("date") ?? (utc ? only("timestamptz") : undefined))
        : utc
          ? only("timestamptz")
          : undefined;
    if (column)
      out.push({ column, transform: time.granularity === "daily" ? "day" : "hour", dimension: "time" });
  }
  const stat = staticDimension(partitions);
  if (stat) {
    const names = [stat.dimension, `${stat.dimension}_id`];
    const column = names.find((n) => columns.some((c) => c.name === n && c.type === "string"));
    if (column) out.push({ column, transform: "identity", dimension: "static" });
  }
  return out;
}
