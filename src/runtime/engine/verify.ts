/**
 * Every committed object of some assets and sources, checked against what its commit recorded (see
 * integrity.ts): the data files of every committed partition of an asset; the raw, quarantine and ids
 * objects of every committed batch of a source. `tributary verify` reads every byte; `tributary status`
 * checks sources the quick way.
 */
import type { AssetGraph } from "../../kit/graph.ts";
import { committedBatches } from "./ingest.ts";
import { type CheckDepth, checkObject, type ObjectCheck } from "./integrity.ts";
import { batchObjects } from "./manifest.ts";
import type { StoreState } from "./state.ts";

/** One committed object and its check, with the commit that names it. */
export interface VerifiedObject extends ObjectCheck {
  /** The asset or source it belongs to. */
  readonly asset: string;
  /** The commit that names it: an asset's partition ("" when unpartitioned), or a source's batch. */
  readonly commit: { readonly partition: string } | { readonly batch: string };
}

/** Check every committed object of the assets and sources `keys` names, in key order. */
export async function verifyCommitted(
  graph: AssetGraph,
  state: StoreState,
  keys: readonly string[],
  depth: CheckDepth,
): Promise<VerifiedObject[]> {
  const lists = await Promise.all(
    keys.map(async (key): Promise<Promise<VerifiedObject>[]> => {
      const a = graph.get(key);
      if (a.kind === "source") {
        const batches = await committedBatches(state.store, key);
        return batches.flatMap((m) =>
          batchObjects(m).map(async (o) => ({
            ...(await checkObject(state.store, o, depth)),
            asset: key,
            commit: { batch: m.batch },
          })),
        );
      }
      const manifests = await state.allManifests(key);
      return manifests.flatMap((m) =>
        m.files.map(async (o) => ({
          ...(await checkObject(state.store, o, depth)),
          asset: key,
          commit: { partition: m.partition },
        })),
      );
    }),
  );
  const out = await Promise.all(lists.flat());
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The commit that names an object, in words: "daily_revenue 2026-11-01|acme", "orders_cdc batch b1". */
export function commitLabel(o: Pick<VerifiedObject, "asset" | "commit">): string {
  if ("batch" in o.commit) return `${o.asset} batch ${o.commit.batch}`;
  return o.commit.partition ? `${o.asset} ${o.commit.partition}` : o.asset;
}
