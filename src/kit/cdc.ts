/**
 * Change data capture in the kit: what a source declares when its records are change events of a table.
 *
 * The shape here is the contract between the declaration kit, ingest (which derives each event's id, time,
 * operation, key, tenant and log position from the envelope), the typed CDC helpers (latest state per
 * key) and the cloud adapters (one stream per CDC source, keyed as Debezium Server's sinks key it).
 * Everything is plain data, so a worker thread can be given it.
 */
import type { TObject } from "@sinclair/typebox";

/** The change-event formats ingest understands. Debezium's JSON converter first; DMS or Datastream may follow. */
export type CdcFormat = "debezium";

/** The Debezium connectors whose `source` block ingest reads positions from. */
export type CdcConnector = "postgresql" | "mysql";

/**
 * Where a change event's tenant comes from: a column of the row (`after`, or `before` for a delete), or
 * the envelope's `source.db` where each tenant has a database of its own.
 */
export type CdcTenant = { readonly column: string } | { readonly database: true };

/** A source's change-data-capture declaration, as it is stored on the `SourceDef` (`SourceDef.cdc`). */
export interface CdcSpec {
  readonly format: CdcFormat;
  readonly connector: CdcConnector;
  /** The captured table as the connector names it: "schema.table" (Postgres) or "database.table" (MySQL). */
  readonly table: string;
  /** The table's primary key columns, in key order. */
  readonly key: readonly string[];
  /** The schema of one row of the table (what `before` and `after` hold). */
  readonly row: TObject;
  /** Where the tenant comes from, for multi-tenant sources. */
  readonly tenant?: CdcTenant;
}
