import { layout } from "../../contract/storage-layout.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { expireSnapshots, withoutExpired } from "../iceberg/expire.ts";
import { reachableKeys } from "../iceberg/reachable.ts";
import type { ObjectInfo, ObjectStore } from "../storage/port.ts";
import { type CatalogContext, publish, settleLocked } from "./commit.ts";
import { readRecordFile } from "./records.ts";
import { StoreState } from "./state.ts";

export interface GcResult {
  /** Objects of the assets' tables no version needs, older than the grace period: deleted (or, on a dry run, to delete). */
  readonly removed: readonly ObjectInfo[];
  /** Objects no version needs but younger than the grace period: a run may still be writing them. */
  readonly kept: number;
  /** Snapshots older than the grace period that left their tables (or would, on a dry run): all but each current one. */
  readonly expired: number;
}

/**
 * Keep each asset's table small: settle commits a crash left unsettled (records.ts), expire the
 * snapshots older than the grace period (but the current one), then delete the objects under the table's
 * folder that neither a remaining snapshot nor a record of Tributary's names: outputs of crashed runs,
 * attempts that lost a commit race, versions later commits replaced. Objects younger than `graceMs` are
 * kept: a running materialisation writes its files before its commit, and a reader may still hold an
 * older snapshot.
 */
export async function collectGarbage(
  graph: AssetGraph,
  store: ObjectStore,
  opts: {
    graceMs?: number;
    dryRun?: boolean;
    now?: Date;
    /** The stack's catalog, told of each expiry's version before the files it no longer names go. */
    catalog?: CatalogContext;
    /** Age after which another run's partition lock counts as abandoned (see lock.ts). */
    lockStaleAfterMs?: number;
  } = {},
): Promise<GcResult> {
  const state = new StoreState(store);
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.graceMs ?? 3600_000);
  const removed: ObjectInfo[] = [];
  let kept = 0;
  let expired = 0;
  for (const key of graph.order) {
    const a = graph.get(key);
    if (a.kind !== "asset") continue;
    await state.allManifests(key);
    if (!opts.dryRun) {
      for (const u of state.unsettled().filter((x) => x.asset === key)) {
        await settleLocked(state, a, u.partition, "gc", opts.catalog, opts.lockStaleAfterMs);
      }
    }
    const table = state.tables.table(key);
    let version = await table.latest();
    let keepVersions = false;
    /** On a dry run: the metadata file an expiry would replace, when the new one would not log it. */
    let superseded: string | undefined;
    if (opts.dryRun) {
      const next = version && withoutExpired(version.metadata, cutoff);
      if (version && next) {
        expired += version.metadata.snapshots.length - next.snapshots.length;
        if (version.metadata["last-updated-ms"] < cutoff) superseded = table.versionKey(version.version);
        version = { version: version.version, metadata: next };
      }
    } else {
      const e = await expireSnapshots(table, cutoff);
      expired += e.snapshots.length;
      version = e.version ?? version;
      if (e.version) {
        // The catalog must point at the new version before the old ones may go; if it cannot be told,
        // every version file stays (a catalog may point at any of them).
        try {
          await publish(table, e.version, opts.catalog ?? {});
        } catch {
          keepVersions = true;
        }
      }
    }
    const needed = await reachableKeys(table, version);
    if (superseded) needed.delete(superseded);
    for (const k of await namedKeys(store, key)) needed.add(k);
    for (const o of await store.list(layout.curatedPrefix(key))) {
      if (needed.has(o.key) || (keepVersions && /\/metadata\/v\d+\.metadata\.json$/.test(o.key))) continue;
      if (o.modified.getTime() > cutoff) {
        kept++;
        continue;
      }
      if (!opts.dryRun) await store.delete(o.key);
      removed.push(o);
    }
  }
  return { removed, kept, expired };
}

/** The data objects an asset's record files name, committed or pending. */
async function namedKeys(store: ObjectStore, asset: string): Promise<string[]> {
  const out: string[] = [];
  for (const o of await store.list(layout.manifestPrefix(asset))) {
    if (!o.key.endsWith("/manifest.json")) continue;
    const f = await readRecordFile(store, o.key);
    for (const m of [f?.committed, f?.pending]) for (const file of m?.files ?? []) out.push(file.key);
  }
  return out;
}
