import { TributaryError } from "../../../assets/graph/errors.ts";
import { namesWord, sqlCode } from "../../../assets/graph/sql.ts";
import { Duck } from "../../engine/duckdb.ts";
import { readSql } from "../../engine/executor.ts";
import { Scratch } from "../../engine/files.ts";
import { StoreState } from "../../engine/state.ts";
import { loadGraph } from "../graph-module.ts";
import type { Io } from "../io.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface QueryOptions {
  graph?: string;
  store?: string;
  json?: boolean;
  /** Most rows to print in a table (JSON prints all). */
  limit?: string;
}

export class QueryError extends TributaryError {
  override name = "QueryError";
}

/**
 * `tributary query "<sql>"`: DuckDB SQL over the committed assets, each a view named by its key over
 * every partition's committed files (sources: every committed raw batch). Readers read manifests, so
 * nothing half-written is ever visible.
 */
export async function queryCommand(sql: string, opts: QueryOptions, io: Io): Promise<number> {
  const graph = await loadGraph(opts.graph);
  const store = openStore(opts.store);
  const state = new StoreState(store);
  const scratch = new Scratch(store);
  const duck = await Duck.open();
  try {
    const code = sqlCode(sql);
    for (const key of graph.order) {
      if (!namesWord(code, key)) continue;
      const a = graph.get(key);
      const files = await Promise.all((await state.committedKeys(a)).map((k) => scratch.readable(k)));
      await duck.run(`CREATE TEMP VIEW "${key}" AS ${readSql(a, files)}`);
    }
    let rows: Record<string, unknown>[];
    let columns: string[];
    try {
      const reader = await duck.connection.runAndReadAll(sql);
      rows = reader.getRowObjectsJson() as Record<string, unknown>[];
      columns = reader.columnNames();
    } catch (e) {
      throw new QueryError(`query failed: ${(e as Error).message}`);
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
    duck.close();
    await scratch.cleanup();
  }
}
