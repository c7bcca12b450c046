import { randomUUID } from "node:crypto";
import { partitionPath } from "../../contract/storage-layout.ts";
import type { TableCatalogRef } from "../../contract/table-names.ts";
import type { AssetDef } from "../../kit/asset.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import type { TableCatalog } from "../iceberg/catalog.ts";
import { assetRun, type LineageContext, runComplete, runFail, runStart } from "../openlineage/events.ts";
import type { LineageTransport } from "../openlineage/transport.ts";
import { environmentSecrets, type SecretSource } from "../secrets/source.ts";
import type { ObjectStore } from "../storage/port.ts";
import { vectorsConfigFromEnv } from "../vectors/config.ts";
import { type VectorsRuntime, vectorsRuntime } from "../vectors/sync.ts";
import { type CatalogContext, settle, settleLocked } from "./commit.ts";
import { Duck } from "./duckdb.ts";
import { type ExecuteContext, execute, type Outcome } from "./executor.ts";
import { Scratch } from "./files.ts";
import { acquireLock } from "./lock.ts";
import type { Outbox } from "./outbox.ts";
import { StoreState } from "./state.ts";
import { partitionLabel, type Step, type StepOptions, steps } from "./steps.ts";
import { registerTokenFunction, TokenKeys, type TokenScope } from "./tokens.ts";

/** What a caller (the CLI, a cloud handler, lineage) hears while a run goes on. */
export interface RunObserver {
  planned?(items: readonly Step[]): void | Promise<void>;
  started?(item: Step): void | Promise<void>;
  finished?(outcome: RunOutcome): void | Promise<void>;
}

/** The fate of one plan item in a run. */
export type RunOutcome =
  | Outcome
  | {
      readonly item: Step;
      readonly status: "fresh" | "skipped";
      readonly reason: string;
      readonly ms: 0;
    };

export interface RunResult {
  readonly runId: string;
  readonly outcomes: readonly RunOutcome[];
  readonly counts: {
    readonly materialized: number;
    readonly fresh: number;
    readonly failed: number;
    readonly skipped: number;
  };
  readonly ms: number;
}

export interface MaterializeOptions extends StepOptions {
  readonly runId?: string;
  readonly observer?: RunObserver;
  /** How long to wait for another run's lock on a partition (default 10 minutes). */
  readonly lockTimeoutMs?: number;
  /**
   * Age after which another host's lock is taken as abandoned (default 6 hours). Cloud functions set
   * it just above their longest possible run: a lock older than that outlived its function.
   */
  readonly lockStaleAfterMs?: number;
  /**
   * Where the secrets the assets declare come from (default: `TRIBUTARY_SECRET_<NAME>` variables). The
   * CLI gives the store's key files; a cloud function, the references in its environment.
   */
  readonly secrets?: SecretSource;
  /** Record each commit's announcement in this outbox before committing (functions that publish). */
  readonly outbox?: Outbox;
  /** Where OpenLineage events of each asset partition go, with the context (parent run) they carry. */
  readonly lineage?: {
    readonly transport: LineageTransport;
    readonly context: Omit<LineageContext, "store" | "engine">;
  };
  /** The stack's table catalog (Glue, BigQuery), told of every commit; absent locally. */
  readonly catalog?: TableCatalog;
  /**
   * Where the tables are catalogued, which names them in the catalog's commits and in lineage
   * (default: the store itself, as a Hadoop catalog).
   */
  readonly catalogRef?: TableCatalogRef;
}

const id = (asset: string, partition: string) => `${asset}\u0000${partition}`;

/**
 * Plan and run: every stale asset partition of the selection, in topological order, each committed on
 * its own. A failure (a blocking check, bad output) skips everything that reads the failed partition.
 */
export async function materialize(
  graph: AssetGraph,
  store: ObjectStore,
  opts: MaterializeOptions = {},
): Promise<RunResult> {
  const t0 = performance.now();
  const runId = opts.runId ?? randomUUID();
  const state = new StoreState(store);
  const keys = opts.keys ?? new TokenKeys(graph, opts.secrets ?? environmentSecrets());
  const items = await steps(graph, state, { ...opts, keys });
  const catalog: CatalogContext = {
    ...(opts.catalog ? { catalog: opts.catalog } : {}),
    ...(opts.catalogRef ? { ref: opts.catalogRef } : {}),
  };
  // Commits a crash (or an unreachable catalog) left unsettled are settled now (records.ts).
  await settleAll(graph, state, runId, catalog);
  await opts.observer?.planned?.(items);
  const outcomes: RunOutcome[] = [];
  const broken = new Map<string, string>(); // asset partition → why downstream is skipped
  const toRun = items.some((i) => i.action === "run");
  const duck = toRun ? await Duck.open() : undefined;
  const tokens: TokenScope = {};
  if (duck) registerTokenFunction(duck, tokens);
  const scratch = new Scratch(store);
  // Made when the first embedding asset runs: one set of limits and embedders for the whole run.
  let vectors: VectorsRuntime | undefined;
  const vectorsFor = (item: Step): { vectors?: VectorsRuntime } => {
    if ((graph.get(item.asset) as AssetDef).embedding === undefined) return {};
    vectors ??= vectorsRuntime(opts.vectors ?? vectorsConfigFromEnv());
    return { vectors };
  };
  try {
    for (const item of items) {
      let outcome: RunOutcome;
      const upstreamBroken = item.inputs
        .map((i) => broken.get(id(i.asset, i.partition)))
        .find((r) => r !== undefined);
      if (item.action === "blocked") {
        outcome = { item, status: "skipped", reason: item.reason, ms: 0 };
      } else if (upstreamBroken) {
        outcome = { item, status: "skipped", reason: upstreamBroken, ms: 0 };
      } else if (item.action === "skip") {
        outcome = { item, status: "fresh", reason: item.reason, ms: 0 };
      } else {
        await opts.observer?.started?.(item);
        outcome = await withLineage(graph, store, duck!, item, opts, () =>
          runLocked(
            {
              graph,
              state,
              duck: duck!,
              scratch,
              runId,
              keys,
              tokens,
              catalog,
              ...(opts.outbox ? { outbox: opts.outbox } : {}),
              ...vectorsFor(item),
            },
            store,
            item,
            opts,
          ),
        );
      }
      if (outcome.status === "failed") {
        broken.set(
          id(item.asset, item.partition),
          `upstream ${partitionLabel(item.asset, item.partition)} failed`,
        );
      } else if (outcome.status === "skipped") {
        broken.set(
          id(item.asset, item.partition),
          outcome.reason.startsWith("upstream") ? outcome.reason : `upstream ${item.asset} skipped`,
        );
      }
      outcomes.push(outcome);
      await opts.observer?.finished?.(outcome);
    }
  } finally {
    duck?.close();
    await scratch.cleanup();
  }
  const count = (s: string) => outcomes.filter((o) => o.status === s).length;
  return {
    runId,
    outcomes,
    counts: {
      materialized: count("materialized"),
      fresh: count("fresh"),
      failed: count("failed"),
      skipped: count("skipped"),
    },
    ms: performance.now() - t0,
  };
}

async function runLocked(
  ctx: ExecuteContext,
  store: ObjectStore,
  item: Step,
  opts: MaterializeOptions,
): Promise<RunOutcome> {
  const { graph, state, runId } = ctx;
  const a = graph.get(item.asset);
  const release = await acquireLock(store, a.key, partitionPath(a.partitions, item.partition, a.key), runId, {
    ...(opts.lockTimeoutMs === undefined ? {} : { timeoutMs: opts.lockTimeoutMs }),
    ...(opts.lockStaleAfterMs === undefined ? {} : { staleAfterMs: opts.lockStaleAfterMs }),
  });
  try {
    // Another run may have committed this partition while we waited for the lock (a corrupt one
    // runs again unless another run committed it anew), or left its commit unsettled.
    state.forget(a, item.partition);
    await settle(state, a as AssetDef, item.partition, ctx.catalog);
    const now = await state.manifest(a, item.partition);
    const repaired = !item.corrupt || !now?.files.some((f) => item.corrupt!.some((c) => c.key === f.key));
    if (!opts.force && now?.dataVersion === item.dataVersion && repaired) {
      return { item, status: "fresh", reason: "materialised by another run", ms: 0 };
    }
    return await execute(ctx, item);
  } finally {
    await release();
  }
}

/** Settle the commits the plan found unsettled (records.ts); a partition another run holds is its own. */
async function settleAll(graph: AssetGraph, state: StoreState, runId: string, catalog: CatalogContext) {
  for (const u of state.unsettled()) {
    const a = graph.has(u.asset) ? graph.get(u.asset) : undefined;
    if (a?.kind === "asset") await settleLocked(state, a, u.partition, runId, catalog);
  }
}

let engineVersion: string | undefined;

/** Run one asset partition between its OpenLineage START and COMPLETE (or FAIL) events. */
async function withLineage(
  graph: AssetGraph,
  store: ObjectStore,
  duck: Duck,
  item: Step,
  opts: MaterializeOptions,
  work: () => Promise<RunOutcome>,
): Promise<RunOutcome> {
  if (!opts.lineage) return work();
  engineVersion ??= await duck.version();
  const a = graph.get(item.asset) as AssetDef;
  const ctx: LineageContext = {
    ...opts.lineage.context,
    store,
    ...(opts.catalogRef ? { tables: opts.catalogRef } : {}),
    engine: { version: engineVersion },
  };
  const run = assetRun(a, item.partition, { upstream: graph.inputs(a.key).map((e) => graph.get(e.from)) });
  const { transport } = opts.lineage;
  await transport.emit(runStart(run, ctx));
  try {
    const outcome = await work();
    if (outcome.status === "failed") {
      await transport.emit(
        runFail(run, ctx, new Error(outcome.error), { checks: outcome.checks, inputs: item.inputs }),
      );
    } else {
      const m = outcome.status === "materialized" ? outcome.manifest : undefined;
      const output = m
        ? {
            rowCount: m.rowCount,
            bytes: m.files.reduce((n, f) => n + f.bytes, 0),
            fileCount: m.files.length,
            columns: Object.fromEntries(
              Object.entries(m.nullCounts).map(([c, n]) => [c, { nullCount: n, count: m.rowCount }]),
            ),
          }
        : undefined;
      await transport.emit(
        runComplete(run, ctx, {
          ...(m ? { manifest: m } : {}),
          inputs: item.inputs,
          ...(output ? { output } : {}),
        }),
      );
    }
    return outcome;
  } catch (e) {
    await transport.emit(runFail(run, ctx, e, { inputs: item.inputs }));
    throw e;
  }
}
