import type { AssetGraph } from "tributary";
import { plan } from "../../engine/planner.ts";
import { StoreState } from "../../engine/state.ts";
import { freshnessOf, type PartitionStatus, partitionStatus } from "../../engine/status.ts";
import { TokenKeys } from "../../engine/tokens.ts";
import { loadGraph } from "../graph-module.ts";
import type { Io } from "../io.ts";
import { openStore, storeSecrets } from "../store.ts";
import { formatTable } from "../table.ts";

export interface StatusOptions {
  graph?: string;
  store?: string;
  json?: boolean;
  /** Print every partition, not only those that need attention. */
  all?: boolean;
}

/** Per asset: how many partitions are in each state, and whether its freshness SLA holds. */
export interface AssetStatus {
  asset: string;
  partitions: number;
  fresh: number;
  stale: number;
  failed: number;
  never: number;
  blocked: number;
  lastMaterialized: string | null;
  rows: number;
  freshness: string;
}

export async function statusCommand(
  selection: string | undefined,
  opts: StatusOptions,
  io: Io,
  now = new Date(),
): Promise<number> {
  const graph = await loadGraph(opts.graph);
  const store = openStore(opts.store);
  const state = new StoreState(store);
  const keys = new TokenKeys(graph, storeSecrets(store, { create: false }));
  const items = await plan(graph, state, { ...(selection === undefined ? {} : { selection }), keys });
  const partitions = await Promise.all(items.map((i) => partitionStatus(graph, state, i)));
  const assets = summarise(graph, partitions, now);
  if (opts.json) {
    io.out(`${JSON.stringify({ assets, partitions }, null, 2)}\n`);
    return 0;
  }
  io.out(
    formatTable(
      ["asset", "partitions", "fresh", "stale", "failed", "never", "rows", "last materialised", "freshness"],
      assets.map((a) => [
        a.asset,
        String(a.partitions),
        String(a.fresh),
        String(a.stale),
        String(a.failed),
        String(a.never + a.blocked),
        String(a.rows),
        a.lastMaterialized ?? "-",
        a.freshness,
      ]),
    ),
  );
  const shown = opts.all ? partitions : partitions.filter((p) => p.state !== "fresh");
  if (shown.length > 0) {
    io.out("\n");
    io.out(
      formatTable(
        ["asset", "partition", "state", "why", "rows", "checks"],
        shown.map((p) => [
          p.asset,
          p.partition || "-",
          p.state,
          p.why,
          p.rows === null ? "-" : String(p.rows),
          checksText(p.checks),
        ]),
      ),
    );
  }
  return 0;
}

function checksText(checks: PartitionStatus["checks"]): string {
  if (checks.length === 0) return "-";
  const failed = checks.filter((c) => !c.passed);
  if (failed.length === 0) return `${checks.length} passed`;
  return failed.map((c) => `${c.blocking ? "FAILED" : "warning"} ${c.name}`).join(", ");
}

function summarise(graph: AssetGraph, partitions: readonly PartitionStatus[], now: Date): AssetStatus[] {
  const out = new Map<string, AssetStatus>();
  for (const p of partitions) {
    const s =
      out.get(p.asset) ??
      ({
        asset: p.asset,
        partitions: 0,
        fresh: 0,
        stale: 0,
        failed: 0,
        never: 0,
        blocked: 0,
        lastMaterialized: null,
        rows: 0,
        freshness: "-",
      } as AssetStatus);
    s.partitions++;
    s[p.state]++;
    s.rows += p.rows ?? 0;
    if (p.lastMaterialized && (!s.lastMaterialized || p.lastMaterialized > s.lastMaterialized))
      s.lastMaterialized = p.lastMaterialized;
    out.set(p.asset, s);
  }
  for (const s of out.values()) s.freshness = freshnessOf(graph.get(s.asset), s.lastMaterialized, now);
  return [...out.values()];
}
