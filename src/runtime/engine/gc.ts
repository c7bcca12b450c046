import { layout } from "../../contract/storage-layout.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import type { ObjectInfo, ObjectStore } from "../storage/port.ts";
import { StoreState } from "./state.ts";

export interface GcResult {
  /** Data objects no manifest names, older than the grace period: deleted (or, on a dry run, to delete). */
  readonly removed: readonly ObjectInfo[];
  /** Data objects no manifest names but younger than the grace period: a run may still be writing them. */
  readonly kept: number;
}

/**
 * Remove curated data objects that no committed manifest names: outputs of crashed runs, and versions a
 * later commit replaced. Objects younger than `graceMs` are kept, since a running materialisation writes
 * its data before its manifest, and a reader may still hold a replaced version.
 */
export async function collectGarbage(
  graph: AssetGraph,
  store: ObjectStore,
  opts: { graceMs?: number; dryRun?: boolean; now?: Date } = {},
): Promise<GcResult> {
  const state = new StoreState(store);
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.graceMs ?? 3600_000);
  const removed: ObjectInfo[] = [];
  let kept = 0;
  for (const key of graph.order) {
    if (graph.get(key).kind !== "asset") continue;
    const named = new Set((await state.allManifests(key)).flatMap((m) => m.files.map((f) => f.key)));
    for (const o of await store.list(layout.curatedPrefix(key))) {
      if (named.has(o.key)) continue;
      if (o.modified.getTime() > cutoff) {
        kept++;
        continue;
      }
      if (!opts.dryRun) await store.delete(o.key);
      removed.push(o);
    }
  }
  return { removed, kept };
}
