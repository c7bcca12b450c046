/**
 * Column lineage for the page, asset by asset: one in-memory DuckDB parses every SQL asset (opening a
 * database per asset costs more than the parse), each once per process, against its upstreams' columns.
 */
import type { AnyAsset, AssetGraph } from "tributary";
import { columnsOf } from "../../kit/asset.ts";
import { Duck } from "../../runtime/engine/duckdb.ts";
import { columnLineage } from "../../runtime/lineage/columns.ts";
import type { UiColumnLineage } from "./types.ts";

export interface ColumnLineageSource {
  (a: AnyAsset): Promise<UiColumnLineage | undefined>;
  /** Close the database, when it was opened. */
  close(): Promise<void>;
}

export function columnLineageOf(graph: AssetGraph): ColumnLineageSource {
  const cache = new Map<string, Promise<UiColumnLineage>>();
  let duck: Promise<Duck> | undefined;
  const lineage = (a: AnyAsset): Promise<UiColumnLineage | undefined> => {
    if (a.kind !== "asset" || typeof a.sql !== "string") return Promise.resolve(undefined);
    let found = cache.get(a.key);
    if (!found) {
      const upstreams = graph
        .inputs(a.key)
        .map((e) => ({ key: e.from, columns: columnsOf(graph.get(e.from)) }));
      // Only parsed, never run; sandboxed all the same, since the SQL is not ours.
      duck ??= Duck.sandboxed([], { threads: 1 });
      const sql = a.sql;
      found = duck.then((d) => columnLineage(sql, upstreams, d.connection));
      cache.set(a.key, found);
    }
    return found;
  };
  return Object.assign(lineage, {
    async close() {
      if (duck) (await duck).close();
      duck = undefined;
    },
  });
}
