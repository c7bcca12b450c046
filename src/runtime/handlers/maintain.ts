/**
 * The stack's table maintenance function (TABLE_MAINTENANCE, planned by infra/plan/build.ts): on each tick
 * of its schedule (nightly by default) it runs the engine's maintenance of every curated table
 * (runtime/engine/maintenance.ts), which compacts the small files of partitions past the engine's
 * threshold, expires snapshots past the grace period and removes the files no snapshot names, committing
 * each table as a materialisation does (a new snapshot, its catalog pointer moved).
 *
 * The runtime is handed the step as `Runtime.maintainTables` (the engine's unless a test gives another).
 */
import type { maintainTables } from "../engine/maintenance.ts";

/** The engine's maintenance of every curated table of the graph in the store. */
export type MaintainTables = typeof maintainTables;

/** Event of the log line each maintenance run writes. */
export const MAINTAINED_EVENT = "tributary.tables.maintained";
