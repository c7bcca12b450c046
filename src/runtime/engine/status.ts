/**
 * What one asset partition is now, from the plan and the store: shared by `tributary status` and the
 * asset-graph page, so both say the same state and the same reason.
 */

import { formatDuration } from "../../kit/duration.ts";
import type { AnyAsset, AssetGraph } from "../../kit/index.ts";
import type { AssetManifest } from "./manifest.ts";
import type { FailureRecord, StoreState } from "./state.ts";
import type { Step } from "./steps.ts";

/** The state of one asset partition as `status` reports it. */
export interface PartitionStatus {
  asset: string;
  partition: string;
  /** "corrupt": its committed files are not the committed bytes (the plan runs it again). */
  state: "fresh" | "stale" | "failed" | "never" | "blocked" | "corrupt";
  why: string;
  lastMaterialized: string | null;
  rows: number | null;
  dataVersion: string | null;
  checks: { name: string; passed: boolean; blocking: boolean; message?: string }[];
}

/** A partition's status with the records it was read from (the page also shows their history). */
export interface PartitionRecords {
  readonly status: PartitionStatus;
  readonly manifest: AssetManifest | undefined;
  readonly failure: FailureRecord | undefined;
}

export async function partitionStatus(
  graph: AssetGraph,
  state: StoreState,
  item: Step,
): Promise<PartitionStatus> {
  return (await partitionRecords(graph, state, item)).status;
}

export async function partitionRecords(
  graph: AssetGraph,
  state: StoreState,
  item: Step,
): Promise<PartitionRecords> {
  const a = graph.get(item.asset);
  const [manifest, failure] = await Promise.all([
    state.manifest(a, item.partition),
    state.failure(a, item.partition),
  ]);
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
  if (item.corrupt) {
    s = "corrupt";
    why = item.reason;
  } else if (failedLast) {
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
  const status: PartitionStatus = {
    asset: a.key,
    partition: item.partition,
    state: s,
    why,
    lastMaterialized: manifest?.timings.finishedAt ?? null,
    rows: manifest?.rowCount ?? null,
    dataVersion: manifest?.dataVersion ?? null,
    checks,
  };
  return { status, manifest, failure };
}

/** The asset's freshness SLA in minutes: its `freshness` option, else its freshness check's; undefined without one. */
export function freshnessLimit(a: AnyAsset): number | undefined {
  const fromCheck = a.checks.find((c) => c.kind === "freshness");
  return a.freshnessMinutes ?? (fromCheck?.kind === "freshness" ? fromCheck.maxLagMinutes : undefined);
}

/** Whether the asset's freshness SLA (its `freshness` option or freshness check) holds now. */
export function freshnessOf(a: AnyAsset, last: string | null, now: Date): string {
  const limit = freshnessLimit(a);
  if (limit === undefined) return "-";
  if (!last) return `overdue (SLA ${formatDuration(limit)})`;
  const age = Math.floor((now.getTime() - Date.parse(last)) / 60_000);
  return age <= limit
    ? `ok (${formatDuration(Math.max(age, 1))} old, SLA ${formatDuration(limit)})`
    : `overdue by ${formatDuration(age - limit)} (SLA ${formatDuration(limit)})`;
}
