import { type DuckDBPreparedStatement, StatementType } from "@duckdb/node-api";
import { TributaryError } from "../../kit/errors.ts";
import { namesWord, sqlCode } from "../../kit/sql.ts";
import { Duck } from "../../runtime/engine/duckdb.ts";
import { Scratch } from "../../runtime/engine/files.ts";
import { committedRows } from "../../runtime/engine/read.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import { ident } from "../../runtime/engine/types.ts";
import { readTable, resolveAsOf } from "../../runtime/iceberg/read.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface QueryOptions {
  graph?: string;
  config?: string;
  store?: string;
  json?: boolean;
  /** Most rows to print in a table (JSON prints all). */
  limit?: string;
  /** Read the assets' tables as of this snapshot id or time. */
  asOf?: string;
}

export class QueryError extends TributaryError {
  override name = "QueryError";
}

/**
 * `tributary query "<sql>"`: one read statement of DuckDB SQL over the committed assets, each a view
 * named by its key over its Iceberg table's current snapshot (or the one `--as-of` names), read as any
 * Iceberg reader reads it: the snapshot's live data files, by field id (sources: every committed raw
 * batch). Only committed snapshots are visible, so nothing half-written ever is; each file is checked
 * before DuckDB opens it; and DuckDB runs sandboxed (Duck.sandboxed): it may read those files and
 * nothing else, and the statement must be one SELECT, as DuckDB itself classifies it.
 */
export async function queryCommand(sql: string, opts: QueryOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const store = await openStore(opts.store, opts);
  const state = new StoreState(store);
  const scratch = new Scratch(store);
  let duck: Duck | undefined;
  try {
    const code = sqlCode(sql);
    if (code.replace(/[\s;]/g, "") === "") throw new QueryError("query: no SQL statement was given.");
    const views: string[] = [];
    const files: string[] = [];
    const named = graph.order.filter((key) => namesWord(code, key));
    const tables = named.filter((key) => graph.get(key).kind === "asset");
    const asOf = await resolveAsOf(state, tables, opts.asOf);
    for (const key of named) {
      const a = graph.get(key);
      const table = a.kind === "asset" ? await readTable(state, scratch, a, asOf.get(key)) : undefined;
      if (table) {
        files.push(...table.files);
        views.push(`CREATE TEMP VIEW ${ident(key)} AS ${table.sql}`);
        continue;
      }
      // A source's raw batches; an asset that has no table yet (never materialised, or before tables).
      const rows = await committedRows(state, scratch, a);
      files.push(...rows.files);
      views.push(`CREATE TEMP VIEW ${ident(key)} AS ${rows.sql}`);
    }
    duck = await Duck.sandboxed(files);
    for (const view of views) await duck.run(view);
    const statement = await readStatement(duck, sql);
    let rows: Record<string, unknown>[];
    let columns: string[];
    try {
      const reader = await statement.runAndReadAll();
      rows = reader.getRowObjectsJson() as Record<string, unknown>[];
      columns = reader.columnNames();
    } catch (e) {
      throw new QueryError(`query failed: ${firstLine(e)}`);
    } finally {
      statement.destroySync();
    }
    if (opts.json) {
      io.out(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    const limit = Number(opts.limit ?? 50);
    const shown = rows.slice(0, limit);
    const cell = (v: unknown) =>
      v === null ? "NULL" : typeof v === "object" ? JSON.stringify(v) : String(v);
    io.out(
      formatTable(
        columns,
        shown.map((r) => columns.map((c) => cell(r[c]))),
      ),
    );
    io.out(
      `(${rows.length} row${rows.length === 1 ? "" : "s"}${rows.length > limit ? `, first ${limit} shown` : ""})\n`,
    );
    return 0;
  } finally {
    duck?.close();
    await scratch.cleanup();
  }
}

const READS = "query runs one read statement (SELECT, FROM, WITH, VALUES, DESCRIBE, SHOW or SUMMARIZE)";

/** Each kind of statement query refuses, as DuckDB classifies it, in the words a user would write. */
const KINDS: Partial<Record<StatementType, string>> = {
  [StatementType.INSERT]: "an INSERT statement",
  [StatementType.UPDATE]: "an UPDATE statement",
  [StatementType.DELETE]: "a DELETE statement",
  [StatementType.MERGE_INTO]: "a MERGE statement",
  [StatementType.CREATE]: "a CREATE statement",
  [StatementType.CREATE_FUNC]: "a CREATE MACRO statement",
  [StatementType.DROP]: "a DROP statement",
  [StatementType.ALTER]: "an ALTER statement",
  [StatementType.COPY]: "a COPY statement",
  [StatementType.COPY_DATABASE]: "a COPY FROM DATABASE statement",
  [StatementType.EXPORT]: "an EXPORT DATABASE statement",
  [StatementType.ATTACH]: "an ATTACH statement",
  [StatementType.DETACH]: "a DETACH statement",
  [StatementType.LOAD]: "an INSTALL or LOAD statement",
  [StatementType.UPDATE_EXTENSIONS]: "an UPDATE EXTENSIONS statement",
  [StatementType.SET]: "a SET, RESET or USE statement",
  [StatementType.VARIABLE_SET]: "a SET VARIABLE statement",
  [StatementType.PRAGMA]: "a PRAGMA statement",
  [StatementType.CALL]: "a CALL (or CHECKPOINT) statement",
  [StatementType.TRANSACTION]: "a transaction statement",
  [StatementType.EXPLAIN]: "an EXPLAIN statement (EXPLAIN ANALYZE runs the statement it explains)",
  [StatementType.PREPARE]: "a PREPARE statement",
  [StatementType.EXECUTE]: "an EXECUTE statement",
  [StatementType.VACUUM]: "a VACUUM statement",
  [StatementType.ANALYZE]: "an ANALYZE statement",
};

/**
 * The statement prepared, when it is exactly one statement that DuckDB classifies as a SELECT (which
 * DESCRIBE, SHOW, SUMMARIZE and table-valued PRAGMAs also become). Preparing binds but runs nothing;
 * a statement that names a file outside the sandbox already fails here, with DuckDB's Permission Error.
 */
async function readStatement(duck: Duck, sql: string): Promise<DuckDBPreparedStatement> {
  let extracted: Awaited<ReturnType<Duck["connection"]["extractStatements"]>>;
  try {
    extracted = await duck.connection.extractStatements(sql);
  } catch (e) {
    throw new QueryError(`query failed: ${firstLine(e).replace(/^Failed to extract statements: /, "")}`);
  }
  if (extracted.count !== 1) {
    throw new QueryError(`query refused: the SQL holds ${extracted.count} statements; ${READS}.`);
  }
  let statement: DuckDBPreparedStatement;
  try {
    statement = await extracted.prepare(0);
  } catch (e) {
    const message = firstLine(e);
    if (message.startsWith("Permission Error:")) {
      throw new QueryError(
        `query refused: ${message}; query reads only the committed files of the assets it names, and writes none.`,
      );
    }
    throw new QueryError(`query failed: ${message}`);
  }
  if (statement.statementType !== StatementType.SELECT) {
    const kind = KINDS[statement.statementType] ?? `a ${StatementType[statement.statementType]} statement`;
    statement.destroySync();
    throw new QueryError(`query refused: this is ${kind}; ${READS}, and changes nothing.`);
  }
  return statement;
}

/** DuckDB's message without its second and later lines (the SQL quoted with a caret under it). */
function firstLine(e: unknown): string {
  return (e as Error).message.split("\n")[0]!.trim();
}
