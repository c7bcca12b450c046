import type { AssetGraph, SourceDef } from "tributary";
import { formatDuration } from "../../kit/duration.ts";
import { damaged, type ObjectCheck } from "../../runtime/engine/integrity.ts";
import { Outbox } from "../../runtime/engine/outbox.ts";
import { type ProposedColumn, proposedColumns } from "../../runtime/engine/schema-changes.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import { freshnessOf, type PartitionStatus, partitionStatus } from "../../runtime/engine/status.ts";
import { partitionLabel, steps } from "../../runtime/engine/steps.ts";
import { TokenKeys } from "../../runtime/engine/tokens.ts";
import { commitLabel, verifyCommitted } from "../../runtime/engine/verify.ts";
import type { ObjectStore } from "../../runtime/storage/port.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore, storeSecrets } from "../store.ts";
import { formatTable } from "../table.ts";

export interface StatusOptions {
  graph?: string;
  config?: string;
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
  corrupt: number;
  never: number;
  blocked: number;
  lastMaterialized: string | null;
  rows: number;
  freshness: string;
}

/**
 * A commit whose announcement has not gone out yet: its outbox entry is owed (runtime/engine/outbox.ts).
 * A deployed stack announces it at its function's next invocation or the stack's next sweep.
 */
export interface UnannouncedCommit {
  asset: string;
  partition: string;
  dataVersion: string;
  committedAt: string;
  /** How long it has waited, in seconds. */
  waitingSeconds: number;
}

/**
 * The store status reads: a folder, or a store URI (the curated store of a deployed stack, which holds
 * the manifests and the outbox), opened with the cloud SDKs only when one is given.
 */
export async function statusStore(
  store: string | undefined,
  opts: { config?: string; graph?: string },
): Promise<ObjectStore> {
  if (store !== undefined && /^[a-z][a-z0-9+.-]*:\/\//.test(store) && !store.startsWith("file:")) {
    const { openStoreUri } = await import("../../runtime/storage/open.ts");
    return openStoreUri(store);
  }
  return openStore(store, opts);
}

/** The owed outbox entries of the selected assets and sources, oldest first. */
async function unannouncedCommits(
  store: ObjectStore,
  keys: ReadonlySet<string>,
  now: Date,
): Promise<UnannouncedCommit[]> {
  const states = await new Outbox(store, { now: () => now }).scan(undefined, { limit: 100_000 });
  const out: UnannouncedCommit[] = [];
  for (const s of states) {
    if (s.state !== "owed") continue;
    for (const a of s.entry.announcements) {
      if (!keys.has(a.asset)) continue;
      out.push({ ...a, committedAt: s.committedAt, waitingSeconds: Math.floor(s.ageMs / 1000) });
    }
  }
  return out.sort((a, b) => b.waitingSeconds - a.waitingSeconds);
}

export async function statusCommand(
  selection: string | undefined,
  opts: StatusOptions,
  io: Io,
  now = new Date(),
): Promise<number> {
  const graph = await commandGraph(opts);
  const store = await statusStore(opts.store, opts);
  const state = new StoreState(store);
  const keys = new TokenKeys(graph, storeSecrets(store, { create: false }));
  // The plan checks the files of fresh asset partitions (a corrupt one is planned to run again); the
  // files of sources, which nothing recomputes, are checked here.
  const items = await steps(graph, state, { ...(selection === undefined ? {} : { selection }), keys });
  const sources = graph.select(selection).filter((k) => graph.get(k).kind === "source");
  const [partitions, sourceChecks, assetChecks, schemaChanges] = await Promise.all([
    Promise.all(items.map((i) => partitionStatus(graph, state, i))),
    verifyCommitted(graph, state, sources, "quick"),
    // The plan's own checks of fresh partitions (kept by the state): only read again here.
    Promise.all(
      items.filter((i) => i.action === "skip").map((i) => state.integrity(graph.get(i.asset), i.partition)),
    ),
    proposedSchemaChanges(graph, state, sources),
  ]);
  const unverified = [...sourceChecks, ...assetChecks.flat()].filter((c) => c.state === "unverified").length;
  const assets = summarise(graph, partitions, now);
  const corrupt: CorruptFile[] = [
    ...partitions.flatMap((p, i) =>
      (items[i]!.corrupt ?? []).map((c) => ({
        ...c,
        of: commitLabel({ asset: p.asset, commit: { partition: p.partition } }),
      })),
    ),
    ...sourceChecks
      .filter(damaged)
      .map((c) => ({ key: c.key, state: c.state, why: c.why, of: commitLabel(c) })),
  ];
  const unannounced = await unannouncedCommits(store, new Set(graph.select(selection)), now);
  const code = corrupt.length > 0 ? 1 : 0;
  if (opts.json) {
    io.out(
      `${JSON.stringify({ assets, partitions, corrupt, unverified, unannounced, schemaChanges }, null, 2)}\n`,
    );
    return code;
  }
  io.out(
    formatTable(
      [
        "asset",
        "partitions",
        "fresh",
        "stale",
        "failed",
        "corrupt",
        "never",
        "rows",
        "last materialised",
        "freshness",
      ],
      assets.map((a) => [
        a.asset,
        String(a.partitions),
        String(a.fresh),
        String(a.stale),
        String(a.failed),
        String(a.corrupt),
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
  if (unannounced.length > 0) {
    io.out("\n");
    io.out(
      `${unannounced.length} commit${unannounced.length === 1 ? " is" : "s are"} not announced yet (the function's next invocation or the stack's outbox sweep announces ${unannounced.length === 1 ? "it" : "them"}):\n`,
    );
    io.out(
      formatTable(
        ["asset partition", "data version", "committed", "waiting"],
        unannounced.map((u) => [
          partitionLabel(u.asset, u.partition),
          u.dataVersion,
          u.committedAt,
          formatDuration(Math.floor(u.waitingSeconds / 60)),
        ]),
      ),
    );
  }
  if (schemaChanges.length > 0) {
    io.out("\n");
    io.out(
      `proposed schema change${schemaChanges.length === 1 ? "" : "s"}: ${schemaChanges.length === 1 ? "a column" : "columns"} the events have and the declared row does not (landed; add ${schemaChanges.length === 1 ? "it" : "them"} to the row to read ${schemaChanges.length === 1 ? "it" : "them"}):\n`,
    );
    io.out(
      formatTable(
        ["source", "column", "types", "events", "first seen"],
        schemaChanges.map((c) => [
          c.source,
          c.column,
          c.types.join(", "),
          String(c.events),
          `${c.first.file}:${c.first.line} (batch ${c.first.batch})`,
        ]),
      ),
    );
  }
  if (corrupt.length > 0) {
    io.out("\n");
    io.out(
      formatTable(
        ["corrupt file", "of", "why"],
        corrupt.map((c) => [c.key, c.of, `${c.state}: ${c.why}`]),
      ),
    );
    io.out(
      `\n${corrupt.length} committed file${corrupt.length === 1 ? " is" : "s are"} not what ${corrupt.length === 1 ? "its commit" : "their commits"} recorded: tributary materialize re-materialises an asset's; a source's raw data cannot be recomputed (restore it from a backup).\n`,
    );
  }
  if (unverified > 0) {
    io.out(
      `\n${unverified} committed file${unverified === 1 ? " has" : "s have"} no checksum (committed before Tributary recorded them): read unchecked; tributary verify lists them, and tributary materialize --force re-commits an asset's with one.\n`,
    );
  }
  return code;
}

/** The proposed schema changes of the selected CDC sources (engine/schema-changes.ts). */
export async function proposedSchemaChanges(
  graph: AssetGraph,
  state: StoreState,
  sources: readonly string[],
): Promise<ProposedColumn[]> {
  const cdc = sources.map((k) => graph.get(k)).filter((s) => s.kind === "source" && s.cdc !== undefined);
  const lists = await Promise.all(
    cdc.map(async (s) => proposedColumns(s as SourceDef, await state.batches(s.key))),
  );
  return lists.flat();
}

/** A committed file whose bytes are damaged or gone, and the commit that names it. */
type CorruptFile = Pick<ObjectCheck, "key" | "state" | "why"> & { readonly of: string };

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
        corrupt: 0,
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
