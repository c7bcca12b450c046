/**
 * `latest(source)`: the SQL of a CDC source's table as the database holds it now, the first thing almost
 * every CDC consumer writes. One row per primary key (per tenant database, when tenants have their own),
 * the last change by log position wins, deletes remove the row and a truncate removes every row changed
 * before it. Ordered by the log position (Postgres `source.lsn`; MySQL the binlog file's sequence number,
 * `source.pos`, `source.row`), never by arrival or wall clock: a change delivered late, or twice, cannot
 * bring back a row a later change deleted.
 *
 *   sql: latest(products)                                   // SELECT id, name, … of the live rows
 *   sql: `WITH p AS (${latest(products)}) SELECT count(*) AS n FROM p`
 */
import type { SourceDef } from "./asset.ts";
import type { CdcSpec } from "./cdc.ts";
import { DeclarationError } from "./errors.ts";

export interface LatestOptions {
  /**
   * Add a column of this name holding when the row last changed in the database (`source.ts_ms` of its
   * last change, a TIMESTAMP; declare it `Type.String({ format: "date-time" })`).
   */
  changedAt?: string;
}

/** The column `latest()` adds for the tenant of a source whose tenants have a database each. */
export const LATEST_TENANT_COLUMN = "tenant";

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The SQL sort key of a change's log position, most significant first. */
function positionTerms(cdc: CdcSpec, e: string): string[] {
  if (cdc.connector === "mysql") {
    // Binlog files are "<base>.<sequence number>"; ingest refuses a file name without one.
    return [
      `CAST(regexp_extract(${e}.source.file, '[0-9]+$') AS BIGINT)`,
      `${e}.source.pos`,
      `${e}.source.row`,
    ];
  }
  return [`${e}.source.lsn`];
}

/**
 * The latest state per key of a CDC source's table, deletes and truncates applied, as a SELECT of the
 * row's columns (and `tenant` first, when each tenant has a database). Usable as an asset's whole SQL or
 * as a CTE.
 */
export function latest(source: SourceDef, opts: LatestOptions = {}): string {
  if (!source || typeof source.key !== "string") {
    throw new DeclarationError(
      `latest(): the source is ${source === undefined ? "undefined" : JSON.stringify(source)}, not a source. If it is declared in another module, look for a circular import.`,
      [],
    );
  }
  const cdc = source.cdc;
  if (cdc === undefined) {
    throw new DeclarationError(
      `latest(): source "${source.key}" is not a CDC source; latest state per key needs change events, declared with cdc: debezium.postgres({ table, key, row }) or debezium.mysql({...}).`,
      [source.key],
    );
  }
  const columns = Object.keys(cdc.row.properties);
  const byDatabase = cdc.tenant !== undefined && "database" in cdc.tenant;
  const extra = [...(byDatabase ? [LATEST_TENANT_COLUMN] : []), ...(opts.changedAt ? [opts.changedAt] : [])];
  for (const name of extra) {
    if (columns.includes(name)) {
      throw new DeclarationError(
        `latest(): source "${source.key}": its row has a column "${name}" already, which latest() would add${name === opts.changedAt ? " for changedAt; give changedAt another name" : " for the tenant database (source.db)"}.`,
        [source.key],
      );
    }
  }
  if (opts.changedAt !== undefined && (typeof opts.changedAt !== "string" || opts.changedAt === "")) {
    throw new DeclarationError(
      `latest(): source "${source.key}": changedAt must be a column name, not ${JSON.stringify(opts.changedAt)}.`,
      [source.key],
    );
  }
  const table = quote(source.key);
  const position = positionTerms(cdc, "e");
  const key = cdc.key.map(
    (k) => `CASE WHEN e.op = 'd' THEN e.before.${quote(k)} ELSE e.after.${quote(k)} END`,
  );
  const scope = byDatabase ? ["e.source.db"] : [];
  // At one position a snapshot read is the state before any change there.
  const order = [...position.map((p) => `${p} DESC`), "(e.op <> 'r') DESC"];
  const changes = [
    "e.op AS __op",
    "e.after AS __row",
    `[${position.join(", ")}] AS __position`,
    ...(byDatabase ? ["e.source.db AS __db"] : []),
    ...(opts.changedAt ? ["e.source.ts_ms AS __ts_ms"] : []),
    `row_number() OVER (PARTITION BY ${[...scope, ...key].join(", ")} ORDER BY ${order.join(", ")}) AS __n`,
  ];
  const truncated = [
    `SELECT 1 FROM ${table} AS t WHERE t.op = 't'`,
    ...(byDatabase ? ["t.source.db = c.__db"] : []),
    `[${positionTerms(cdc, "t").join(", ")}] > c.__position`,
  ].join(" AND ");
  const select = [
    ...(byDatabase ? [`c.__db AS ${quote(LATEST_TENANT_COLUMN)}`] : []),
    ...columns.map((col) => `c.__row.${quote(col)} AS ${quote(col)}`),
    ...(opts.changedAt ? [`make_timestamp(c.__ts_ms * 1000) AS ${quote(opts.changedAt)}`] : []),
  ];
  return [
    `SELECT ${select.join(", ")}`,
    `FROM (SELECT ${changes.join(", ")} FROM ${table} AS e WHERE e.op <> 't') AS c`,
    `WHERE c.__n = 1 AND c.__op <> 'd' AND NOT EXISTS (${truncated})`,
  ].join(" ");
}
