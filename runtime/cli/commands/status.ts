import type { AnyAsset, AssetGraph } from "tributary";
import { formatDuration } from "../../../assets/graph/duration.ts";
import type { AssetManifest } from "../../engine/manifest.ts";
import { type PlanItem, plan } from "../../engine/planner.ts";
import { type FailureRecord, StoreState } from "../../engine/state.ts";
import { loadGraph } from "../graph-module.ts";
import type { Io } from "../io.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface StatusOptions {
  graph?: string;
  store?: string;
  json?: boolean;
  /** Print every partition, not only those that need attention. */
  all?: boolean;
}

/** The state of one asset partition as `status` reports it. */
export interface PartitionStatus {
  asset: string;
  partition: string;
  state: "fresh" | "stale" | "failed" | "never" | "blocked";
  why: string;
  lastMaterialized: string | null;
  rows: number | null;
  dataVersion: string | null;
  checks: { name: string; passed: boolean; blocking: boolean; message?: string }[];
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
  const state = new StoreState(openStore(opts.store));
  const items = await plan(graph, state, selection === undefined ? {} : { selection });
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

async function partitionStatus(
  graph: AssetGraph,
  state: StoreState,
  item: PlanItem,
): Promise<PartitionStatus> {
  const a = graph.get(item.asset);
  const manifest: AssetManifest | undefined = await state.manifest(a, item.partition);
  const failure: FailureRecord | undefined = await state.failure(a, item.partition);
  // A failure recorded after the last commit is what the partition is now.
  const failedLast = failure !== undefined && (!manifest || failure.at > manifest.timings.finishedAt);
  const checks = (failedLast ? failure.checks : (manifest?.checks ?? [])).map((c) => ({
    name: c.name,
    passed: c.passed,
    blocking: c.blocking,
    ...(c.message ? { message: c.message } : {}),
  }));
  let s: PartitionStatus["state"];
  let why: string;
  if (failedLast) {
    s = "failed";
    why =
      failure.error ??
      failure.checks
        .filter((c) => !c.passed && c.blocking)
        .map((c) => `check ${c.name}: ${c.message}`)
        .join("; ");
  } else if (item.action === "blocked") {
    s = "blocked";
    why = item.reason;
  } else if (!manifest) {
    s = "never";
    why = "never materialised";
  } else if (item.action === "skip") {
    s = "fresh";
    why = "up to date";
  } else {
    s = "stale";
    why = item.reason;
  }
  return {
    asset: a.key,
    partition: item.partition,
    state: s,
    why,
    lastMaterialized: manifest?.timings.finishedAt ?? null,
    rows: manifest?.rowCount ?? null,
    dataVersion: manifest?.dataVersion ?? null,
    checks,
  };
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

/** Whether the asset's freshness SLA (its `freshness` option or freshness check) holds now. */
export function freshnessOf(a: AnyAsset, last: string | null, now: Date): string {
  const fromCheck = a.checks.find((c) => c.kind === "freshness");
  const limit = a.freshnessMinutes ?? (fromCheck?.kind === "freshness" ? fromCheck.maxLagMinutes : undefined);
  if (limit === undefined) return "-";
  if (!last) return `overdue (SLA ${formatDuration(limit)})`;
  const age = Math.floor((now.getTime() - Date.parse(last)) / 60_000);
  return age <= limit
    ? `ok (${formatDuration(Math.max(age, 1))} old, SLA ${formatDuration(limit)})`
    : `overdue by ${formatDuration(age - limit)} (SLA ${formatDuration(limit)})`;
}
