/**
 * The tables' maintenance, as a stack runs it on a schedule (the stack's table maintenance function) and
 * as `tributary compact` and `tributary gc` run its two halves by hand: compact every partition past the
 * compaction threshold (compact.ts), then settle what crashes left unsettled, expire the snapshots older
 * than the grace period and remove the objects no remaining snapshot or record names (gc.ts). Each
 * commit it makes is told to the stack's catalog, the expiries' before the files they leave go.
 */
import type { TableCatalogRef } from "../../contract/table-names.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import type { TableCatalog } from "../iceberg/catalog.ts";
import type { ObjectStore } from "../storage/port.ts";
import type { CatalogContext } from "./commit.ts";
import { compact } from "./compact.ts";
import { collectGarbage } from "./gc.ts";

export interface MaintenanceOptions {
  /** The tick's time: what the grace period is measured from (default now). */
  readonly now?: Date;
  /** Snapshots and unreferenced objects younger than this stay (default 1 hour, as `tributary gc`). */
  readonly graceMs?: number;
  /** Compact a partition holding at least this many small files (default 8, as `tributary compact`). */
  readonly minFiles?: number;
  /** The stack's catalog, told about each commit; none locally or on a cloud without one. */
  readonly catalog?: TableCatalog;
  /** How the catalog names tables (default: the store itself). */
  readonly catalogRef?: TableCatalogRef;
  /** Age after which another invocation's partition lock counts as abandoned. */
  readonly lockStaleAfterMs?: number;
}

export interface MaintenanceReport {
  /** What the run did, in a sentence for the function's log. */
  readonly detail: string;
  readonly compacted: number;
  readonly expired: number;
  readonly removed: number;
}

/** Maintain every curated table of the graph in the store. */
export async function maintainTables(
  graph: AssetGraph,
  store: ObjectStore,
  opts: MaintenanceOptions = {},
): Promise<MaintenanceReport> {
  const catalog: CatalogContext = {
    ...(opts.catalog ? { catalog: opts.catalog } : {}),
    ...(opts.catalogRef ? { ref: opts.catalogRef } : {}),
  };
  const stale = opts.lockStaleAfterMs === undefined ? {} : { lockStaleAfterMs: opts.lockStaleAfterMs };
  const c = await compact(graph, store, {
    catalog,
    ...stale,
    ...(opts.minFiles ? { minFiles: opts.minFiles } : {}),
  });
  const g = await collectGarbage(graph, store, {
    catalog,
    ...stale,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.graceMs === undefined ? {} : { graceMs: opts.graceMs }),
  });
  const bytes = g.removed.reduce((n, o) => n + o.size, 0);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const busy = c.busy.length > 0 ? `; ${plural(c.busy.length, "partition")} busy, left for the next run` : "";
  return {
    detail:
      `compacted ${plural(c.compacted.length, "partition")}, expired ${plural(g.expired, "snapshot")}, ` +
      `removed ${plural(g.removed.length, "unreferenced object")} (${bytes} bytes)${busy}`,
    compacted: c.compacted.length,
    expired: g.expired,
    removed: g.removed.length,
  };
}
