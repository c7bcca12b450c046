/**
 * The data the asset-graph page shows: the graph as drawn (levels, positions, state from the store) and
 * one asset's details. Built from the graph, the store (when there is one), and each stack's plan.
 */

import type { Readable } from "node:stream";
import type { AnyAsset, AssetGraph } from "tributary";
import { layout as storeLayout } from "../../contract/storage-layout.ts";
import {
  type DeploymentPlan,
  describeTrigger,
  type FunctionPlan,
  type StorePlan,
  type TriggerPlan,
} from "../../infra/plan/types.ts";
import type { AssetDef } from "../../kit/asset.ts";
import { formatDuration } from "../../kit/duration.ts";
import { columnType, lineageEdge, toLineage } from "../../kit/lineage.ts";
import { describePartitions } from "../../kit/partitions.ts";
import { committedBatches, partitionsOf, type SourcePartition } from "../../runtime/engine/ingest.ts";
import type { CheckResult } from "../../runtime/engine/manifest.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import {
  freshnessLimit,
  freshnessOf,
  type PartitionRecords,
  type PartitionStatus,
  partitionRecords,
} from "../../runtime/engine/status.ts";
import { partitionsFor, steps } from "../../runtime/engine/steps.ts";
import { TokenKeys } from "../../runtime/engine/tokens.ts";
import { storeSecrets } from "../../runtime/secrets/local.ts";
import type { Body, ObjectInfo, ObjectStore, Written } from "../../runtime/storage/port.ts";
import {
  type NodeState,
  STRIP_MAX,
  UI_VERSION,
  type UiAssetDetails,
  type UiCheck,
  type UiColumnLineage,
  type UiGraph,
  type UiMaterialisation,
  type UiNode,
  type UiPartition,
  type UiStackPlacement,
} from "./types.ts";

export interface ModelOptions {
  /**
   * The store; without it the page is the static graph. Read afresh on each call, through one listing
   * per asset (its StoreState's own cache is not used).
   */
  store?: StoreState;
  /** Each stack's deployment plan, for where an asset lives. */
  stacks?: readonly { name: string; plan: DeploymentPlan }[];
  /** The graph module's path, as the page names it. */
  module: string;
  now?: Date;
  /** Column lineage of a SQL asset (called for SQL assets only). */
  columnLineage?: (asset: AnyAsset) => Promise<UiColumnLineage | undefined>;
  /**
   * The store's tokenisation keys, which tokenising assets' data versions include; default: read afresh
   * from the store's own (never made here).
   */
  keys?: TokenKeys;
}

function keysOf(graph: AssetGraph, opts: ModelOptions): TokenKeys | undefined {
  if (opts.keys || !opts.store) return opts.keys;
  return new TokenKeys(graph, storeSecrets(opts.store.store, { create: false }));
}

/** Horizontal distance between levels and vertical distance between rows, in the page's graph units. */
const LEVEL_GAP = 300;
const ROW_GAP = 40;
const MATERIALISATIONS_MAX = 20;
const PARTITIONS_MAX = 500;

/** Worse first: a node shows its worst partition. */
const SEVERITY: Readonly<Record<NodeState, number>> = { failed: 4, blocked: 3, stale: 2, never: 1, fresh: 0 };

/** One partition as the page needs it, whatever it was read from. */
interface PartState {
  readonly partition: string;
  readonly state: NodeState;
  readonly why: string;
}

/**
 * The store as the page reads it: each asset's manifests are listed once, not probed partition by
 * partition (most probes find nothing in a sparse store), and failure records (rare) in one listing.
 * A listing is a snapshot: what commits after it shows at the next read. (The local store bounds how
 * many files it opens at once, so a plan's reads all starting together cannot run out of handles.)
 */
class ListedStore implements ObjectStore {
  readonly uri: string;
  readonly localPath?: (key: string) => string;
  readonly #inner: ObjectStore;
  readonly #listed = new Map<string, Promise<Set<string>>>();

  constructor(inner: ObjectStore) {
    this.#inner = inner;
    this.uri = inner.uri;
    if (inner.localPath) this.localPath = (key) => inner.localPath!(key);
  }

  async get(key: string): Promise<Buffer | undefined> {
    const owner = LISTED.exec(key)?.[0];
    if (owner === undefined) return this.#inner.get(key);
    let keys = this.#listed.get(owner);
    if (!keys) {
      keys = this.#inner.list(owner).then((os) => new Set(os.map((o) => o.key)));
      this.#listed.set(owner, keys);
    }
    return (await keys).has(key) ? this.#inner.get(key) : undefined;
  }

  put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    return this.#inner.put(key, body, opts);
  }
  read(key: string): Promise<Readable | undefined> {
    return this.#inner.read(key);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.#inner.head(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.#inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
}

/** What is listed rather than probed: each asset's `_manifests/<asset>/`, and all of `_failures/` (few). */
const LISTED = /^_failures\/|^_manifests\/[^/]+\//;

/** A fresh reader of the caller's store, through one listing per asset (see ListedStore). */
const listed = (state: StoreState): StoreState => new StoreState(new ListedStore(state.store));

export async function uiGraph(graph: AssetGraph, opts: ModelOptions): Promise<UiGraph> {
  const now = opts.now ?? new Date();
  const doc = toLineage(graph);
  const positions = layout(graph);
  const states = opts.store
    ? await storeStates(graph, listed(opts.store), now, keysOf(graph, opts))
    : undefined;
  const nodes = doc.nodes.map((n): UiNode => {
    const a = graph.get(n.key);
    const p = positions.get(n.key)!;
    const base = {
      key: n.key,
      kind: n.kind,
      group: n.group,
      owners: n.owners,
      tags: n.tags,
      level: n.level,
      x: p.x,
      y: p.y,
    };
    if (!states) return { ...base, partitions: partitionsFor(a.partitions, { now }).length };
    const parts = states.get(n.key) ?? [];
    return {
      ...base,
      ...summary(parts),
      ...(a.partitions ? { strip: parts.slice(-STRIP_MAX).map((s) => s.state) } : {}),
      partitions: parts.length,
    };
  });
  return {
    version: UI_VERSION,
    module: opts.module,
    at: now.toISOString(),
    live: opts.store !== undefined,
    nodes,
    edges: doc.edges,
    stacks: (opts.stacks ?? []).map((s) => s.name),
  };
}

/**
 * Every partition's state, per asset, oldest first: assets as `tributary status` says them (one plan
 * of the whole graph, every partition's records read at once), sources by what was ingested.
 */
async function storeStates(
  graph: AssetGraph,
  store: StoreState,
  now: Date,
  keys: TokenKeys | undefined,
): Promise<Map<string, PartState[]>> {
  // Files are not checked against their commits here: the page plans every few seconds.
  const items = await steps(graph, store, { now, checkFiles: false, ...(keys ? { keys } : {}) });
  const sources = graph.assets().filter((a) => a.kind === "source");
  const [records, ingested] = await Promise.all([
    Promise.all(items.map((i) => partitionRecords(graph, store, i))),
    Promise.all(sources.map((s) => store.sourcePartitions(s.key))),
  ]);
  const out = new Map<string, PartState[]>();
  for (const { status } of records) {
    let list = out.get(status.asset);
    if (!list) {
      list = [];
      out.set(status.asset, list);
    }
    list.push({ ...status, state: nodeState(status.state) });
  }
  sources.forEach((s, i) => {
    out.set(s.key, sourceStates(partitionsFor(s.partitions, { now }), ingested[i]!));
  });
  return out;
}

/**
 * A source partition is as fresh as what was ingested: a partition without events reads as empty
 * (the steps say so too), so only a source with nothing ingested at all is never materialised.
 */
function sourceStates(
  keys: readonly string[],
  ingested: ReadonlyMap<string, SourcePartition>,
  times?: ReadonlyMap<string, string>,
): UiPartition[] {
  return keys.map((partition) => {
    const p = ingested.get(partition);
    if (ingested.size === 0)
      return { partition, state: "never", why: "nothing ingested", rows: null, at: null };
    if (!p) return { partition, state: "fresh", why: "no events (read as empty)", rows: 0, at: null };
    const rows = p.files.reduce((n, f) => n + f.rows, 0);
    return {
      partition,
      state: "fresh",
      why: `${rows} rows ingested`,
      rows,
      at: times?.get(partition) ?? null,
    };
  });
}

/** A partition's state as the page colours it; the page plans without checking files, so "corrupt" is `tributary status`'s. */
const nodeState = (state: PartitionStatus["state"]): NodeState => (state === "corrupt" ? "failed" : state);

/** The node's state and why: its worst partition, the newest of those, and how many more share it. */
function summary(parts: readonly PartState[]): { state: NodeState; why: string } {
  if (parts.length === 0) return { state: "never", why: "no partitions yet" };
  let worst: PartState = parts[0]!;
  let count = 0;
  for (const p of parts) {
    const d = SEVERITY[p.state] - SEVERITY[worst.state];
    if (d > 0) count = 0;
    if (d >= 0) {
      worst = p;
      count++;
    }
  }
  if (worst.state === "fresh") return { state: "fresh", why: "up to date" };
  const where = worst.partition === "" ? worst.why : `${worst.partition}: ${worst.why}`;
  return { state: worst.state, why: count > 1 ? `${where} (and ${count - 1} more)` : where };
}

export async function uiDetails(graph: AssetGraph, key: string, opts: ModelOptions): Promise<UiAssetDetails> {
  const a = graph.get(key);
  const now = opts.now ?? new Date();
  const live = opts.store
    ? await liveDetails(graph, a, listed(opts.store), now, keysOf(graph, opts))
    : undefined;
  const limit = freshnessLimit(a);
  let freshness: string | undefined;
  if (live) freshness = freshnessOf(a, live.last, now);
  else if (limit !== undefined) freshness = `SLA ${formatDuration(limit)}`;
  const automation = automationOf(a);
  const columnLineage = a.kind === "asset" && a.sql !== undefined ? await opts.columnLineage?.(a) : undefined;
  return {
    key: a.key,
    kind: a.kind,
    ...(a.description === undefined ? {} : { description: a.description }),
    group: a.group,
    owners: a.owners,
    tags: a.tags,
    schema: Object.entries(a.schema.properties).map(([name, s]) => ({ name, ...columnType(s) })),
    ...(a.kind === "asset" && a.sql !== undefined ? { sql: a.sql } : {}),
    ...(a.kind === "asset" ? { codeVersion: a.codeVersion } : {}),
    partitioning: describePartitions(a.partitions),
    ...(automation === undefined ? {} : { automation }),
    ...(freshness === undefined || freshness === "-" ? {} : { freshness }),
    checks: a.checks.map((c): UiCheck => {
      const last = live?.checks.get(c.name);
      return { name: c.name, kind: c.kind, blocking: c.blocking, ...(last ? { last } : {}) };
    }),
    materialisations: live?.materialisations ?? [],
    partitions: live ? live.partitions.slice(-PARTITIONS_MAX).reverse() : [],
    upstream: graph.inputs(a.key).map(lineageEdge),
    downstream: graph
      .sort(graph.graph.outNeighbors(a.key))
      .flatMap((d) => graph.inputs(d).filter((e) => e.from === a.key))
      .map(lineageEdge),
    ...(columnLineage === undefined ? {} : { columnLineage }),
    stacks: (opts.stacks ?? []).flatMap((s) => placement(s.name, s.plan, a) ?? []),
  };
}

interface LiveDetails {
  /** Oldest first. */
  readonly partitions: UiPartition[];
  readonly materialisations: UiMaterialisation[];
  readonly checks: Map<string, NonNullable<UiCheck["last"]>>;
  /** The newest materialisation (or ingest), for the freshness SLA. */
  readonly last: string | null;
}

async function liveDetails(
  graph: AssetGraph,
  a: AnyAsset,
  store: StoreState,
  now: Date,
  tokenKeys: TokenKeys | undefined,
): Promise<LiveDetails> {
  const keys = partitionsFor(a.partitions, { now });
  if (a.kind === "source") return sourceDetails(a.key, keys, store);
  // The asset with its upstreams: planned as in the whole graph's plan, so the panel says what the node does.
  const items = (
    await steps(graph, store, {
      selection: `+${a.key}`,
      now,
      checkFiles: false,
      ...(tokenKeys ? { keys: tokenKeys } : {}),
    })
  ).filter((i) => i.asset === a.key);
  const records = await Promise.all(items.map((i) => partitionRecords(graph, store, i)));
  return {
    partitions: records.map(({ status: s }) => ({
      partition: s.partition,
      state: nodeState(s.state),
      why: s.why,
      rows: s.rows,
      at: s.lastMaterialized,
    })),
    materialisations: newest(
      records.flatMap(({ manifest: m }) =>
        m ? [materialisation(m.partition, m.timings, m.rowCount, m.dataVersion)] : [],
      ),
    ),
    checks: lastChecks(records),
    last: records.reduce<string | null>((t, r) => later(t, r.status.lastMaterialized), null),
  };
}

/** A source's partitions and "materialisations" are its ingests: what each partition holds, and when it last grew. */
async function sourceDetails(
  source: string,
  keys: readonly string[],
  store: StoreState,
): Promise<LiveDetails> {
  const batches = await committedBatches(store.store, source);
  const times = new Map<string, string>();
  for (const b of batches)
    for (const f of b.files) times.set(f.partition, later(times.get(f.partition) ?? null, b.committedAt)!);
  const ingested = partitionsOf(batches);
  const partitions = sourceStates(keys, ingested, times);
  return {
    partitions,
    materialisations: newest(
      [...ingested].map(([partition, p]) => ({
        partition,
        at: times.get(partition)!,
        rows: p.files.reduce((n, f) => n + f.rows, 0),
        dataVersion: p.dataVersion,
      })),
    ),
    checks: new Map(),
    last: batches.reduce<string | null>((t, b) => later(t, b.committedAt), null),
  };
}

function materialisation(
  partition: string,
  timings: { startedAt?: string; finishedAt: string } | undefined,
  rows: number,
  dataVersion: string,
): UiMaterialisation {
  const took = timings?.startedAt
    ? Date.parse(timings.finishedAt) - Date.parse(timings.startedAt)
    : Number.NaN;
  return {
    partition,
    at: timings?.finishedAt ?? "",
    rows,
    dataVersion,
    ...(Number.isFinite(took) ? { durationMs: took } : {}),
  };
}

/** Newest first, ties by partition; at most MATERIALISATIONS_MAX. */
function newest(ms: UiMaterialisation[]): UiMaterialisation[] {
  return ms
    .sort((x, y) => compare(y.at, x.at) || compare(x.partition, y.partition))
    .slice(0, MATERIALISATIONS_MAX);
}

/** Per check, its newest result over the partitions: from the commits, and from failed attempts since. */
function lastChecks(records: readonly PartitionRecords[]): Map<string, NonNullable<UiCheck["last"]>> {
  const out = new Map<string, NonNullable<UiCheck["last"]>>();
  const see = (partition: string, at: string, results: readonly CheckResult[]) => {
    for (const c of results) {
      const before = out.get(c.name);
      if (before && before.at >= at) continue;
      out.set(c.name, { passed: c.passed, ...(c.message ? { message: c.message } : {}), partition, at });
    }
  };
  for (const { manifest, failure } of records) {
    if (manifest) see(manifest.partition, manifest.timings.finishedAt, manifest.checks);
    if (failure) see(failure.partition, failure.at, failure.checks);
  }
  return out;
}

const later = (a: string | null, b: string | null): string | null =>
  a === null || (b !== null && b > a) ? b : a;
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The automation the graph declares, as a stack would deploy it (infra/plan/build.ts triggerOf). */
function automationOf(a: AnyAsset): string | undefined {
  if (a.kind === "source" && a.cdc) return describeTrigger({ kind: "stream", table: a.cdc.table });
  if (a.kind === "source") return describeTrigger({ kind: "source-event", source: a.key });
  if (a.schedule)
    return describeTrigger({ kind: "schedule", cron: a.schedule.cron, timezone: a.schedule.timezone });
  if (a.trigger?.on === "upstream") {
    return describeTrigger({ kind: "asset-materialised", upstream: upstreamKeysOf(a) });
  }
  return undefined;
}

const upstreamKeysOf = (a: AssetDef): string[] => [...new Set(a.deps.map((d) => d.key))].sort(compare);

interface PlanIndex {
  readonly pipelines: ReadonlySet<string>;
  readonly functions: ReadonlyMap<string, FunctionPlan>;
  readonly triggers: ReadonlyMap<string, TriggerPlan>;
  /** The store holding each zone (first key segment). */
  readonly zones: ReadonlyMap<string, StorePlan>;
}

// Indexed once per plan: the static page asks for every asset's details.
const indexes = new WeakMap<DeploymentPlan, PlanIndex>();

function indexOf(p: DeploymentPlan): PlanIndex {
  let index = indexes.get(p);
  if (!index) {
    index = {
      pipelines: new Set(p.pipelines),
      functions: new Map(p.functions.map((f) => [f.id, f])),
      triggers: new Map(p.triggers.map((t) => [t.function, t])),
      zones: new Map(p.stores.flatMap((s) => s.zones.map((z) => [z, s] as const))),
    };
    indexes.set(p, index);
  }
  return index;
}

/** Where the asset's data lives in the stack, and its function; undefined when the stack leaves it out. */
function placement(stack: string, p: DeploymentPlan, a: AnyAsset): UiStackPlacement | undefined {
  const index = indexOf(p);
  if (!index.pipelines.has(a.group)) return undefined;
  // A source's events are raw objects; an asset's data is curated Parquet (contract/storage-layout.ts).
  const prefix = a.kind === "source" ? storeLayout.rawPrefix(a.key) : storeLayout.curatedPrefix(a.key);
  const store = index.zones.get(prefix.slice(0, prefix.indexOf("/")));
  if (!store) return undefined;
  const fn = index.functions.get(a.key);
  const trigger = index.triggers.get(a.key);
  return {
    stack,
    cloud: p.cloud,
    region: p.region,
    store: { id: store.id, name: store.name, prefix },
    ...(fn
      ? { function: { name: fn.name, runs: trigger ? describeTrigger(trigger) : "invoked by hand" } }
      : {}),
  };
}

/**
 * Positions: x by level, y by order within the level, centred on 0. Each level is ordered by the
 * barycentre (mean y) of its nodes' upstreams, then, sweeping back, of their downstreams, so edges stay
 * short (a third sweep made the generated graphs' edges longer, not shorter). Each sweep sorts each
 * level once: O((nodes + edges) · log nodes). Ties go by key, so the layout is the same on every run.
 */
export function layout(graph: AssetGraph): Map<string, { x: number; y: number }> {
  const g = graph.graph;
  const levels = graph.levels.map((l) => [...l]);
  const y = new Map<string, number>();
  const place = (keys: readonly string[]) => {
    const mid = (keys.length - 1) / 2;
    keys.forEach((k, i) => {
      y.set(k, (i - mid) * ROW_GAP);
    });
  };
  const order = (keys: string[], direction: "in" | "out") => {
    const centre = new Map<string, number>();
    for (const k of keys) {
      let sum = 0;
      let n = 0;
      const add = (other: string) => {
        sum += y.get(other)!;
        n++;
      };
      if (direction === "in") g.forEachInNeighbor(k, add);
      else g.forEachOutNeighbor(k, add);
      // A node with no neighbour that way stays where it is.
      centre.set(k, n > 0 ? sum / n : (y.get(k) ?? 0));
    }
    keys.sort((p, q) => centre.get(p)! - centre.get(q)! || compare(p, q));
    place(keys);
  };
  if (levels.length > 0) place(levels[0]!);
  for (let l = 1; l < levels.length; l++) order(levels[l]!, "in");
  for (let l = levels.length - 2; l >= 0; l--) order(levels[l]!, "out");
  const out = new Map<string, { x: number; y: number }>();
  levels.forEach((keys, l) => {
    for (const k of keys) out.set(k, { x: l * LEVEL_GAP, y: y.get(k)! });
  });
  return out;
}
