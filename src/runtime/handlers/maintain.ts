/**
 * The stack's table maintenance function (TABLE_MAINTENANCE, planned by infra/plan/build.ts): on each tick
 * of its schedule (nightly by default) it runs the engine's maintenance of every curated table, which
 * compacts the small files of partitions past the engine's threshold and expires snapshots past the grace
 * period, committing each table as a materialisation does (a new snapshot, its catalog pointer moved).
 *
 * The step itself is the engine's (issue 18's Iceberg engine): the runtime is handed it as
 * `Runtime.maintainTables`, with this signature. A function deployed as the maintenance whose bundle has no
 * such step fails every tick with a HandlerConfigError, so its errors alarm says so.
 */
import type { AssetGraph } from "../../kit/graph.ts";
import type { TableCatalog } from "../iceberg/catalog.ts";
import type { ObjectStore } from "../storage/port.ts";

export interface MaintenanceOptions {
  /** The tick's time: what "past the grace period" is measured from. */
  readonly now: Date;
  /** The stack's catalog, told about each commit the maintenance makes; none on a cloud without one. */
  readonly catalog?: TableCatalog;
  /** Age after which another invocation's partition lock counts as abandoned (CLOUD_LOCK_STALE_MS). */
  readonly lockStaleAfterMs: number;
}

/** What one run did, in a sentence for the function's log and report. */
export interface MaintenanceReport {
  readonly detail: string;
}

/** The engine's maintenance of every curated table of the graph in the store. */
export type MaintainTables = (
  graph: AssetGraph,
  store: ObjectStore,
  opts: MaintenanceOptions,
) => Promise<MaintenanceReport>;

/** Event of the log line each maintenance run writes. */
export const MAINTAINED_EVENT = "tributary.tables.maintained";
