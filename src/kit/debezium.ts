/**
 * Debezium change events in the kit: `debezium.postgres({...})` and `debezium.mysql({...})` declare what
 * a CDC source captures, and `debeziumEnvelope` turns that declaration into the source's schema, the
 * value Debezium's JSON converter writes for one change of the table (docs/cdc.md).
 *
 *   { before: row | null, after: row | null, source: { ...the connector's position... },
 *     op: "c" | "u" | "d" | "r" | "t", ts_ms?, ts_us?, ts_ns?, transaction?: {...} | null }
 *
 * Debezium adds fields from one version to the next: no object of the envelope refuses a field it does
 * not name, so a newer connector's events are accepted as they are.
 */
import { type TObject, type TSchema, Type } from "@sinclair/typebox";
import type { CdcConnector, CdcSpec, CdcTenant } from "./cdc.ts";
import { DeclarationError } from "./errors.ts";

/** What `debezium.postgres()` and `debezium.mysql()` take. */
export interface DebeziumOptions<R extends TObject> {
  /** The captured table: "schema.table" for Postgres ("inventory.products"), "database.table" for MySQL. */
  table: string;
  /** The table's primary key columns, in key order. */
  key: readonly (keyof R["properties"] & string)[];
  /** One row of the table, as Debezium's JSON converter writes it (what `before` and `after` hold). */
  row: R;
  /**
   * Where the tenant of a multi-tenant table comes from: a column of the row, or `source.db` when each
   * tenant has a database of its own.
   */
  tenant?: { readonly column: keyof R["properties"] & string } | { readonly database: true };
}

/** A CDC declaration with its row type kept, so the source's schema is typed from it. */
export interface DebeziumCdc<R extends TObject = TObject, C extends CdcConnector = CdcConnector>
  extends CdcSpec {
  readonly format: "debezium";
  readonly connector: C;
  readonly row: R;
}

function declare<R extends TObject, C extends CdcConnector>(
  connector: C,
  opts: DebeziumOptions<R>,
): DebeziumCdc<R, C> {
  const what = `debezium.${connector === "postgresql" ? "postgres" : "mysql"}()`;
  if (typeof opts !== "object" || opts === null) {
    throw new DeclarationError(`${what}: give { table, key, row } (and optionally tenant).`, []);
  }
  const spec: { -readonly [P in keyof DebeziumCdc<R, C>]: DebeziumCdc<R, C>[P] } = {
    format: "debezium",
    connector,
    table: opts.table,
    key: Object.freeze([...((opts.key as readonly string[] | undefined) ?? [])]),
    row: opts.row,
  };
  if (opts.tenant !== undefined) spec.tenant = Object.freeze({ ...opts.tenant }) as CdcTenant;
  return Object.freeze(spec);
}

/** Debezium's change events of one table, by connector: `cdc: debezium.postgres({ table, key, row })`. */
export const debezium = Object.freeze({
  /** Debezium's PostgreSQL connector: positions are `source.lsn` (and `source.txId`). */
  postgres<R extends TObject>(opts: DebeziumOptions<R>): DebeziumCdc<R, "postgresql"> {
    return declare("postgresql", opts);
  },
  /** Debezium's MySQL connector: positions are `source.file`, `source.pos` and `source.row`. */
  mysql<R extends TObject>(opts: DebeziumOptions<R>): DebeziumCdc<R, "mysql"> {
    return declare("mysql", opts);
  },
});

// ---------------------------------------------------------------------------------------------------------
// The envelope

const nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** The fields every connector's `source` block has. */
function commonSource() {
  return {
    version: Type.String(),
    connector: Type.String(),
    name: Type.String(),
    /** When the database made the change (epoch ms): the event time. */
    ts_ms: Type.Integer(),
    ts_us: Type.Optional(Type.Integer()),
    ts_ns: Type.Optional(Type.Integer()),
    /** A string enum ("true", "last", "false", "incremental", …) in real events, a boolean in some docs. */
    snapshot: Type.Optional(Type.Union([Type.String(), Type.Boolean(), Type.Null()])),
    db: Type.String(),
    sequence: Type.Optional(nullable(Type.String())),
    table: Type.String(),
  };
}

/** The `source` block of Debezium's PostgreSQL connector. */
export function postgresSource() {
  return Type.Object({
    ...commonSource(),
    schema: Type.String(),
    txId: Type.Optional(nullable(Type.Integer())),
    /** The change's log sequence number: its position in the write-ahead log, which orders changes. */
    lsn: Type.Integer(),
    xmin: Type.Optional(nullable(Type.Integer())),
  });
}

/** The `source` block of Debezium's MySQL connector. */
export function mysqlSource() {
  return Type.Object({
    ...commonSource(),
    server_id: Type.Integer(),
    gtid: Type.Optional(nullable(Type.String())),
    /** The binlog file ("mysql-bin.000003"), the event's position in it and the row within the event. */
    file: Type.String(),
    pos: Type.Integer(),
    row: Type.Integer(),
    thread: Type.Optional(nullable(Type.Integer())),
    query: Type.Optional(nullable(Type.String())),
  });
}

export type PostgresSource = ReturnType<typeof postgresSource>;
export type MysqlSource = ReturnType<typeof mysqlSource>;

function envelopeOf<R extends TObject, S extends TObject>(row: R, source: S) {
  return Type.Object({
    before: Type.Optional(nullable(row)),
    after: Type.Optional(nullable(row)),
    source,
    op: Type.Union([
      Type.Literal("c"),
      Type.Literal("u"),
      Type.Literal("d"),
      Type.Literal("r"),
      Type.Literal("t"),
    ]),
    /** When Debezium processed the change (not when the database made it: that is `source.ts_ms`). */
    ts_ms: Type.Optional(Type.Integer()),
    ts_us: Type.Optional(Type.Integer()),
    ts_ns: Type.Optional(Type.Integer()),
    transaction: Type.Optional(
      nullable(
        Type.Object({
          id: Type.String(),
          total_order: Type.Integer(),
          data_collection_order: Type.Integer(),
        }),
      ),
    ),
  });
}

/** The schema of a Debezium change event of a table whose rows are `R`, by connector. */
export type DebeziumEnvelope<R extends TObject, C extends CdcConnector> = ReturnType<
  typeof envelopeOf<R, C extends "mysql" ? MysqlSource : PostgresSource>
>;

/** The source schema of a CDC declaration: Debezium's envelope around the table's row. */
export function debeziumEnvelope<R extends TObject, C extends CdcConnector>(
  cdc: DebeziumCdc<R, C>,
): DebeziumEnvelope<R, C> {
  const source = cdc.connector === "mysql" ? mysqlSource() : postgresSource();
  return envelopeOf(cdc.row, source as TObject) as unknown as DebeziumEnvelope<R, C>;
}

// ---------------------------------------------------------------------------------------------------------
// Checking a declaration

const SCALARS = new Set(["string", "integer", "number", "boolean"]);

/** The JSON type of a key column, or undefined when it is not one scalar type (nullable or not). */
function scalarType(s: unknown): string | undefined {
  const schema = s as { type?: unknown; anyOf?: unknown[]; const?: unknown };
  if (typeof schema?.type === "string") return SCALARS.has(schema.type) ? schema.type : undefined;
  if (typeof schema?.const === "string") return "string";
  return undefined;
}

function listed(names: readonly string[]): string {
  return names.join(", ");
}

/**
 * Why a CDC declaration cannot be a source's, as one sentence naming `owner` and the option, or
 * undefined when it is sound.
 */
export function cdcProblem(owner: string, cdc: CdcSpec): string | undefined {
  const at = `source "${owner}": cdc`;
  if (cdc.format !== "debezium") {
    return `${at}: format ${JSON.stringify(cdc.format)} is not one Tributary reads; declare it with debezium.postgres({...}) or debezium.mysql({...}).`;
  }
  if (cdc.connector !== "postgresql" && cdc.connector !== "mysql") {
    return `${at}: connector ${JSON.stringify(cdc.connector)} is not one Tributary reads positions from (postgresql, mysql).`;
  }
  const row = cdc.row as { type?: unknown; properties?: Record<string, unknown> } | undefined;
  if (row?.type !== "object" || typeof row.properties !== "object" || row.properties === null) {
    return `${at}: row must be a TypeBox object schema (Type.Object({ ... })) of one row of ${JSON.stringify(cdc.table)}.`;
  }
  const columns = Object.keys(row.properties);
  const place = cdc.connector === "mysql" ? "database" : "schema";
  if (typeof cdc.table !== "string" || !/^[^.\s]+\.[^.\s]+$/.test(cdc.table)) {
    return `${at}: table must be "<${place}>.<table>" as the connector names it (e.g. ${cdc.connector === "mysql" ? '"inventory.products"' : '"public.orders"'}), not ${JSON.stringify(cdc.table)}.`;
  }
  if (!Array.isArray(cdc.key) || cdc.key.length === 0) {
    return `${at}: key must list the primary key columns of ${cdc.table} (e.g. key: ["id"]); latest state and event ids are per key.`;
  }
  const seen = new Set<string>();
  for (const k of cdc.key) {
    if (typeof k !== "string" || !(k in row.properties)) {
      return `${at}: key column ${JSON.stringify(k)} is not a column of the row (${listed(columns)}).`;
    }
    if (seen.has(k)) return `${at}: key column "${k}" is listed twice.`;
    seen.add(k);
    if (scalarType(row.properties[k]) === undefined) {
      return `${at}: key column "${k}" must be a string, integer, number or boolean that is never null, not ${JSON.stringify(row.properties[k])}.`;
    }
  }
  const tenant = cdc.tenant as { column?: unknown; database?: unknown } | undefined;
  if (tenant !== undefined) {
    if (typeof tenant === "object" && tenant !== null && "column" in tenant && !("database" in tenant)) {
      const column = tenant.column;
      if (typeof column !== "string" || !(column in row.properties)) {
        return `${at}: tenant column ${JSON.stringify(column)} is not a column of the row (${listed(columns)}).`;
      }
      if (scalarType(row.properties[column]) !== "string") {
        return `${at}: tenant column "${column}" must be a string column (partition keys are its values).`;
      }
    } else if (
      !(typeof tenant === "object" && tenant !== null && tenant.database === true && !("column" in tenant))
    ) {
      return `${at}: tenant must be { column: "<column of the row>" } or { database: true } (the tenant is source.db), not ${JSON.stringify(tenant)}.`;
    }
  }
  return undefined;
}

/** The dotted path of a CDC source's tenant, as `SourceDef.tenant` records it. */
export function cdcTenantPath(cdc: CdcSpec): string | undefined {
  if (cdc.tenant === undefined) return undefined;
  return "column" in cdc.tenant ? `after.${cdc.tenant.column}` : "source.db";
}

/** What a CDC source's event id is made of, as `SourceDef.eventId` records it (docs/cdc.md). */
export function cdcEventId(cdc: CdcSpec): string {
  const position = cdc.connector === "mysql" ? "source.file+source.pos+source.row" : "source.lsn+source.txId";
  return `source.db+${position}+op+key(${cdc.key.join(", ")})`;
}

/** Where a CDC source's event time comes from: when the database made the change. */
export const CDC_EVENT_TIME = "source.ts_ms";
