import { describeTable } from "../../runtime/iceberg/describe.ts";
import { Tables } from "../../runtime/iceberg/tables.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface TablesOptions {
  graph?: string;
  config?: string;
  store?: string;
  json?: boolean;
}

/**
 * `tributary tables`: each selected asset's Apache Iceberg table: its location (what DuckDB, Spark or
 * Trino open), its current snapshot, and the rows and files that snapshot holds.
 */
export async function tablesCommand(
  selection: string | undefined,
  opts: TablesOptions,
  io: Io,
): Promise<number> {
  const graph = await commandGraph(opts);
  const tables = new Tables(await openStore(opts.store, opts));
  const keys = graph.select(selection).filter((k) => graph.get(k).kind === "asset");
  const infos = await Promise.all(keys.map((k) => describeTable(tables, k)));
  if (opts.json) {
    io.out(`${JSON.stringify(infos, null, 2)}\n`);
    return 0;
  }
  io.out(
    formatTable(
      ["table", "snapshot", "rows", "files", "partitioned by", "location"],
      infos.map((t) => [
        `${t.namespace}.${t.name}`,
        t.snapshotId ?? "-",
        String(t.rows),
        String(t.files),
        t.partitionedBy.join(", ") || "-",
        t.location,
      ]),
    ),
  );
  return 0;
}
