/**
 * What every cloud function does, whatever the cloud: a cloud entry point (aws.ts, gcp.ts, azure.ts)
 * turns its event into `Work` items, `perform` runs each one on the engine, and the announcements of
 * what was committed go to the asset-events bus through the cloud's `Publisher`.
 *
 * Delivery is at least once everywhere, so every step is idempotent:
 * - an ingest batch's id is derived from the message id: a redelivered message finds its batch
 *   committed and ingests nothing (and records repeated across messages are deduplicated by event id);
 * - an asset partition whose data version is already committed is not materialised again (the
 *   manifest decides), and two invocations for one partition serialise on its lock;
 * - every commit records the announcements it owes in the store's outbox before it is made
 *   (runtime/engine/outbox.ts); a publish that succeeds deletes them, and every invocation first
 *   announces what its function's earlier commits still owe (outbox.ts here), as does the stack's
 *   sweeper for everything nobody retried: a crash or a failed publish between commit and publish does
 *   not strand the downstream;
 * - announcements are repeated on redelivery, and consumers of a repeated announcement find their
 *   partitions fresh.
 * A message that cannot be understood is a `PoisonMessageError`: it fails alone, is retried by the
 * cloud and ends in the dead-letter queue. Failed checks are recorded in the store and reported, not
 * retried: the same inputs would fail the same way.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { MESSAGES } from "../../contract/bus-messages.ts";
import { FUNCTION_ENV, type FunctionKind } from "../../contract/function-env.ts";
import { layout, partitionPath, STORE_ZONES } from "../../contract/storage-layout.ts";
import { type CatalogRef, parseCatalogRef } from "../../contract/table-names.ts";
import type { AssetDef, SourceDef } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { upstreamKeys } from "../../kit/partitions.ts";
import { IngestError, ingest, type SourcePartition, sourcePartitions } from "../engine/ingest.ts";
import { maintainTables } from "../engine/maintenance.ts";
import type { BatchManifest } from "../engine/manifest.ts";
import { materialize } from "../engine/materialize.ts";
import { type Announcement, Outbox } from "../engine/outbox.ts";
import { partitionLabel, partitionsFor } from "../engine/steps.ts";
import type { TableCatalog } from "../iceberg/catalog.ts";
import { ingestRun, runComplete, runFail, runStart } from "../openlineage/events.ts";
import { httpTransportFromEnv, type LineageTransport } from "../openlineage/transport.ts";
import { functionSecrets, type SecretReader } from "../secrets/cloud.ts";
import type { SecretSource } from "../secrets/source.ts";
import type { ObjectStore } from "../storage/port.ts";
import { ZonedStore } from "../storage/zoned.ts";
import { MAINTAINED_EVENT, type MaintainTables } from "./maintain.ts";
import { publishWithin, sweep } from "./outbox.ts";
import type { Publisher } from "./publish.ts";

/** Records of a stream could not be landed: the invocation fails, and the stream redelivers them. */
export class StreamLandingError extends TributaryError {
  override name = "StreamLandingError";
}

/** The function's environment is wrong: a deployment mistake, named by variable. */
export class HandlerConfigError extends TributaryError {
  override name = "HandlerConfigError";
}

/** A message no retry can make sense of: it fails alone and goes to the dead-letter queue. */
export class PoisonMessageError extends TributaryError {
  override name = "PoisonMessageError";
}

export type { Announcement } from "../engine/outbox.ts";

/** What infra/plan gives every function as environment variables (FunctionPlan.environment). */
export interface FunctionEnv {
  /** The asset the function materialises, or the source it ingests (the sweeper: OUTBOX_SWEEPER). */
  readonly asset: string;
  readonly kind: FunctionKind;
  readonly environment: string;
  /** Store URIs per zone group: s3://…, gs://…, https://<account>.blob.core.windows.net/<container>. */
  readonly stores: { readonly raw: string; readonly curated: string; readonly quarantine: string };
  /** The asset-events bus: an EventBridge bus name, a Pub/Sub topic id, a Service Bus topic name. */
  readonly assetEvents: string;
  /** The function's timeout (default 300 s, when an older deployment does not say). */
  readonly timeoutSeconds: number;
  /** Whole vCPUs its memory buys (default 1): ingest validates on worker threads from 2. */
  readonly cpus: number;
  /** The catalog its table commits are published to, when it commits tables on a cloud with one. */
  readonly catalog?: CatalogRef;
}

/** A function's timeout when its environment does not say: the stacks' default. */
export const DEFAULT_TIMEOUT_SECONDS = 300;

export function functionEnv(env: Readonly<Record<string, string | undefined>> = process.env): FunctionEnv {
  const need = (name: string): string => {
    const v = env[name]?.trim();
    if (!v) {
      throw new HandlerConfigError(
        `handler: environment variable ${name} is not set; the function was not deployed by Tributary's infra (or with a stale plan). Deploy it with pulumi up.`,
      );
    }
    return v;
  };
  const kind = need(FUNCTION_ENV.kind);
  if (kind !== "asset" && kind !== "ingest" && kind !== "sweep" && kind !== "maintain") {
    throw new HandlerConfigError(
      `handler: ${FUNCTION_ENV.kind} is ${JSON.stringify(kind)}; expected asset, ingest, sweep or maintain.`,
    );
  }
  const catalogText = env[FUNCTION_ENV.catalog]?.trim();
  const catalog = catalogText ? parseCatalogRef(catalogText) : undefined;
  if (typeof catalog === "string") {
    throw new HandlerConfigError(
      `handler: ${FUNCTION_ENV.catalog} ${catalog}; deploy the function with pulumi up.`,
    );
  }
  const timeout = env[FUNCTION_ENV.timeout]?.trim();
  const timeoutSeconds = timeout ? Number(timeout) : DEFAULT_TIMEOUT_SECONDS;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
    throw new HandlerConfigError(
      `handler: ${FUNCTION_ENV.timeout} is ${JSON.stringify(timeout)}; expected the function's timeout in whole seconds.`,
    );
  }
  const cpusText = env[FUNCTION_ENV.cpus]?.trim();
  const cpus = cpusText ? Number(cpusText) : 1;
  if (!Number.isInteger(cpus) || cpus < 0) {
    throw new HandlerConfigError(
      `handler: ${FUNCTION_ENV.cpus} is ${JSON.stringify(cpusText)}; expected the function's whole vCPUs, 0 or more.`,
    );
  }
  return {
    asset: need(FUNCTION_ENV.asset),
    kind,
    environment: need(FUNCTION_ENV.environment),
    stores: {
      raw: need(FUNCTION_ENV.raw),
      curated: need(FUNCTION_ENV.curated),
      quarantine: need(FUNCTION_ENV.quarantine),
    },
    assetEvents: need(FUNCTION_ENV.assetEvents),
    timeoutSeconds,
    cpus,
    ...(catalog ? { catalog } : {}),
  };
}

/** The engine's one store over the stack's three: each zone to the store that holds it. */
export function functionStore(fn: FunctionEnv, open: (uri: string) => ObjectStore): ObjectStore {
  const stores = new Map<string, ObjectStore>();
  const byUri = (uri: string) => {
    let s = stores.get(uri);
    if (!s) {
      s = open(uri);
      stores.set(uri, s);
    }
    return s;
  };
  const zones: Record<string, ObjectStore> = {};
  for (const [group, names] of Object.entries(STORE_ZONES)) {
    for (const zone of names) zones[zone] = byUri(fn.stores[group as keyof typeof STORE_ZONES]);
  }
  return new ZonedStore(zones, "curated");
}

/** One thing a message asks of the function. `id` is the message's own id, stable across redeliveries. */
export type Work =
  | {
      readonly kind: "source-events";
      readonly id: string;
      readonly source: string;
      readonly records: readonly unknown[];
    }
  | {
      readonly kind: "asset-materialised";
      readonly id: string;
      readonly asset: string;
      readonly partition: string;
      readonly dataVersion: string;
    }
  | { readonly kind: "schedule"; readonly id: string; readonly asset: string; readonly scheduledTime: Date }
  /** An NDJSON object landed in a store under `landing/<source>/`: ingest it as one batch. */
  | {
      readonly kind: "object-created";
      readonly id: string;
      readonly store: string;
      readonly key: string;
    }
  | { readonly kind: "ignored"; readonly id: string; readonly reason: string };

export type WorkStatus =
  | "ingested"
  | "duplicate"
  | "materialised"
  | "fresh"
  | "waiting"
  | "failed-checks"
  | "ignored"
  | "swept"
  | "maintained";

export interface WorkReport {
  readonly id: string;
  readonly kind: Work["kind"];
  readonly status: WorkStatus;
  /** One sentence: what happened and why. */
  readonly detail: string;
  readonly announced: readonly Announcement[];
}

export interface Runtime {
  readonly graph: AssetGraph;
  readonly store: ObjectStore;
  readonly fn: FunctionEnv;
  readonly publisher: Publisher;
  /** The store's outbox: where commits record what they owe the bus. */
  readonly outbox: Outbox;
  /** How long one publish call may take, connection and retries included (`publishBudgetMs`). */
  readonly publishBudgetMs: number;
  /** Structured log lines (one JSON object each); the cloud entry decides how they are written. */
  readonly log: (record: Readonly<Record<string, unknown>>) => void;
  /** Opens the store an object-created event names (the function's own raw store, usually). */
  readonly openStore?: (uri: string) => ObjectStore;
  /** How long to wait for another invocation's lock on a partition before failing for a retry. */
  readonly lockTimeoutMs?: number;
  /** Where OpenLineage events go (OPENLINEAGE_URL); none when unset. */
  readonly lineage?: LineageTransport;
  /** The secrets its asset declares (the references in its environment, read with the cloud's SDK). */
  readonly secrets?: SecretSource;
  /** The stack's table catalog (its environment's FUNCTION_ENV.catalog), told about each table commit. */
  readonly catalog?: TableCatalog;
  /** The table maintenance the maintenance function runs (default: the engine's, maintain.ts). */
  readonly maintainTables?: MaintainTables;
}

/**
 * A lock older than this outlived the function that took it: no function runs longer than 15 minutes
 * (Lambda's limit; stack configs cap timeouts at 900 s on every cloud), and a crashed or timed-out
 * invocation leaves its lock behind, on a host that will never come back to release it.
 */
export const CLOUD_LOCK_STALE_MS = 16 * 60_000;

/**
 * The event every commit is logged as, named like the message that announces it: the freshness alerts
 * of every cloud count these lines (infra/gcp/alerts.ts filters on the same constant).
 */
export const MATERIALISED_EVENT = MESSAGES.assetMaterialised;
/** Logged when an ingest validated on worker threads, with how many. */
export const INGEST_WORKERS_EVENT = "tributary.ingest.workers";

/**
 * Run one piece of work on the engine and announce what it committed; throws what a retry may fix
 * (PublishError among them: the commit is made, its outbox entry stays for the retry, the function's
 * next invocation or the sweep), and PoisonMessageError.
 */
export async function perform(rt: Runtime, work: Work): Promise<WorkReport> {
  /** The outbox entries of the commits this work makes, settled once their announcements are out. */
  const owed: string[] = [];
  const report = await dispatch(rt, work, owed);
  if (report.announced.length > 0) {
    await publishWithin(rt, report.announced);
    await rt.outbox.settle(owed);
  }
  rt.log({
    event: "tributary.work",
    id: work.id,
    kind: work.kind,
    status: report.status,
    detail: report.detail,
  });
  return report;
}

async function dispatch(rt: Runtime, work: Work, owed: string[]): Promise<WorkReport> {
  const done: Done = (status, detail, announced = []) => ({
    id: work.id,
    kind: work.kind,
    status,
    detail,
    announced,
  });
  const { fn } = rt;
  switch (work.kind) {
    case "ignored":
      return done("ignored", work.reason);
    case "source-events": {
      if (fn.kind !== "ingest" || work.source !== fn.asset) {
        return done(
          "ignored",
          `source events of "${work.source}" are not for this function (it ${role(fn)}).`,
        );
      }
      const lines = work.records.map((r, i) => recordLine(r, work.id, i));
      return ingestBatch(
        rt,
        work,
        done,
        owed,
        `message ${work.id}`,
        Readable.from(lines.length ? [`${lines.join("\n")}\n`] : []),
      );
    }
    case "object-created": {
      const source = work.key.split("/")[1];
      if (fn.kind !== "ingest" || !work.key.startsWith("landing/") || source !== fn.asset) {
        return done(
          "ignored",
          `object ${work.key} in ${work.store} is not a landing object of this function (it ${role(fn)}: landing/${fn.asset}/…).`,
        );
      }
      const store = (rt.openStore ?? (() => rt.store))(work.store);
      const body = await store.read(work.key);
      if (!body) return done("ignored", `object ${work.key} in ${work.store} no longer exists.`);
      return ingestBatch(rt, work, done, owed, `${work.store}/${work.key}`, body);
    }
    case "asset-materialised": {
      if (fn.kind !== "asset")
        return done("ignored", `this function ${role(fn)}; it consumes no asset events.`);
      const a = rt.graph.get(fn.asset) as AssetDef;
      if (!rt.graph.inputs(a.key).some((e) => e.from === work.asset)) {
        return done("ignored", `"${fn.asset}" does not read "${work.asset}".`);
      }
      const partitions = readersOf(rt.graph, a, work.asset, work.partition);
      if (partitions.length === 0) {
        return done(
          "ignored",
          `no partition of "${a.key}" reads ${partitionLabel(work.asset, work.partition)}.`,
        );
      }
      return run(rt, done, owed, { partitions }, true);
    }
    case "schedule": {
      if (fn.kind === "sweep" && work.asset === fn.asset) {
        const swept = await sweep(rt);
        return done("swept", swept.detail);
      }
      if (fn.kind === "maintain" && work.asset === fn.asset) {
        const report = await (rt.maintainTables ?? maintainTables)(rt.graph, rt.store, {
          now: work.scheduledTime,
          lockStaleAfterMs: CLOUD_LOCK_STALE_MS,
          ...(rt.catalog ? { catalog: rt.catalog } : {}),
          ...(fn.catalog ? { catalogRef: fn.catalog } : {}),
        });
        rt.log({ event: MAINTAINED_EVENT, detail: report.detail, environment: fn.environment });
        return done("maintained", report.detail);
      }
      if (fn.kind !== "asset" || work.asset !== fn.asset) {
        return done("ignored", `the schedule of "${work.asset}" is not for this function (it ${role(fn)}).`);
      }
      // A partition the tick finds fresh is not announced again: if its commit's announcement was lost,
      // its outbox entry is still owed, and this invocation announced it before the work began.
      return run(rt, done, owed, { now: work.scheduledTime }, false);
    }
  }
}

function role(fn: FunctionEnv): string {
  return fn.kind === "ingest"
    ? `ingests "${fn.asset}"`
    : fn.kind === "sweep"
      ? "sweeps the outbox"
      : fn.kind === "maintain"
        ? "maintains the stack's tables"
        : `materialises "${fn.asset}"`;
}

/** A source-events record as one NDJSON line: an object as JSON, a string as it is (one line). */
function recordLine(record: unknown, id: string, i: number): string {
  if (typeof record === "string") {
    if (/[\r\n]/.test(record)) {
      throw new PoisonMessageError(
        `message ${id}: records[${i}] is a string with a line break; send one record per element.`,
      );
    }
    return record;
  }
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    throw new PoisonMessageError(
      `message ${id}: records[${i}] is ${record === null ? "null" : Array.isArray(record) ? "an array" : `a ${typeof record}`}, not an object or an NDJSON line.`,
    );
  }
  return JSON.stringify(record);
}

/** The batch id of a message: the same for every delivery of it. */
export function batchIdOf(messageId: string): string {
  return `m-${createHash("sha256").update(messageId).digest("hex").slice(0, 24)}`;
}

/** What a piece of work did: its report, with the work's id and kind. */
type Done = (status: WorkStatus, detail: string, announced?: readonly Announcement[]) => WorkReport;

async function ingestBatch(
  rt: Runtime,
  work: Work,
  done: Done,
  owed: string[],
  name: string,
  stream: Readable | AsyncIterable<Uint8Array | string>,
): Promise<WorkReport> {
  const source = rt.graph.get(rt.fn.asset) as SourceDef;
  const batch = batchIdOf(work.id);
  const key = layout.batch(source.key, batch);
  let manifest: BatchManifest;
  let status: WorkStatus = "ingested";
  /** The data versions of the partitions the batch wrote (ingest returns them with a new commit). */
  let versions: ReadonlyMap<string, SourcePartition> | undefined;
  const committed = await rt.store.get(key);
  if (committed) {
    manifest = JSON.parse(committed.toString()) as BatchManifest;
    status = "duplicate";
  } else {
    const run = ingestRun(source, batch, { files: [name] });
    const ctx = { store: rt.store };
    await rt.lineage?.emit(runStart(run, ctx));
    try {
      // Worker threads when the function has two vCPUs or more and the input is large (a landed
      // object over 16 MiB); a bus message is far smaller and validates on this thread.
      const result = await ingest(rt.store, source, [{ name, stream }], {
        batch,
        workers: "auto",
        cores: rt.fn.cpus,
        lockStaleAfterMs: CLOUD_LOCK_STALE_MS,
        outbox: rt.outbox,
      });
      if (result.partitions.size > 0) owed.push(layout.outboxBatch(source.key, batch));
      if (result.workers > 0) rt.log({ event: INGEST_WORKERS_EVENT, batch, workers: result.workers });
      manifest = result.manifest;
      versions = result.partitions;
      await rt.lineage?.emit(runComplete(run, ctx, { manifest }));
    } catch (e) {
      // Two deliveries of one message at once: the other committed the batch first.
      const again = e instanceof IngestError ? await rt.store.get(key) : undefined;
      if (!again) {
        await rt.lineage?.emit(runFail(run, ctx, e));
        throw e;
      }
      manifest = JSON.parse(again.toString()) as BatchManifest;
      status = "duplicate";
    }
  }
  versions ??= await sourcePartitions(rt.store, source);
  const announced = [...new Set(manifest.files.map((f) => f.partition))].sort().map((partition) => ({
    asset: source.key,
    partition,
    dataVersion: versions.get(partition)!.dataVersion,
  }));
  // Only a commit counts for the freshness alerts: a redelivered message announces again, but logs nothing.
  if (status === "ingested") {
    for (const a of announced) rt.log({ event: MATERIALISED_EVENT, ...a, environment: rt.fn.environment });
  }
  const c = manifest.counts;
  const counts = `read ${c.read} = written ${c.written} + quarantined ${c.quarantined} + duplicates ${c.duplicates}`;
  return done(
    status,
    status === "duplicate"
      ? `batch ${batch} of "${source.key}" was already committed (${counts}); announced again.`
      : `batch ${batch} of "${source.key}": ${counts}.`,
    announced,
  );
}

/**
 * The partitions of `consumer` that read partition `partition` of `upstream`, through the edge's
 * partition mapping, among the partitions that exist now.
 */
export function readersOf(
  graph: AssetGraph,
  consumer: AssetDef,
  upstream: string,
  partition: string,
): string[] {
  const up = graph.get(upstream);
  const edges = graph.inputs(consumer.key).filter((e) => e.from === upstream);
  const own = partitionsFor(consumer.partitions, {});
  return own.filter((k) =>
    edges.some((e) => upstreamKeys(up.partitions, consumer.partitions, e.mapping, k).includes(partition)),
  );
}

async function run(
  rt: Runtime,
  done: Done,
  owed: string[],
  opts: { partitions?: readonly string[]; now?: Date },
  announceFresh: boolean,
): Promise<WorkReport> {
  const key = rt.fn.asset;
  const result = await materialize(rt.graph, rt.store, {
    selection: key,
    ...opts,
    lockStaleAfterMs: CLOUD_LOCK_STALE_MS,
    outbox: rt.outbox,
    ...(rt.lineage ? { lineage: { transport: rt.lineage, context: {} } } : {}),
    ...(rt.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: rt.lockTimeoutMs }),
    ...(rt.secrets ? { secrets: rt.secrets } : {}),
    ...(rt.catalog ? { catalog: rt.catalog } : {}),
    ...(rt.fn.catalog ? { catalogRef: rt.fn.catalog } : {}),
  });
  const announced: Announcement[] = [];
  const failed: string[] = [];
  const waiting: string[] = [];
  for (const o of result.outcomes) {
    const at = partitionLabel(o.item.asset, o.item.partition);
    const a = { asset: o.item.asset, partition: o.item.partition, dataVersion: o.item.dataVersion };
    if (o.status === "materialized") {
      announced.push(a);
      const asset = rt.graph.get(a.asset);
      owed.push(layout.outbox(a.asset, partitionPath(asset.partitions, a.partition, a.asset), a.dataVersion));
      rt.log({
        event: MATERIALISED_EVENT,
        ...a,
        rows: o.manifest?.rowCount ?? 0,
        environment: rt.fn.environment,
      });
    } else if (o.status === "fresh") {
      if (announceFresh) announced.push(a);
    } else if (o.status === "failed") {
      failed.push(
        `${at}: ${
          o.error ??
          o.checks
            .filter((c) => !c.passed)
            .map((c) => c.message ?? c.name)
            .join("; ")
        }`,
      );
      rt.log({
        event: "tributary.asset.failed",
        asset: o.item.asset,
        partition: o.item.partition,
        error: o.error,
        checks: o.checks.filter((c) => !c.passed).map((c) => c.name),
        environment: rt.fn.environment,
      });
    } else if (o.status === "skipped") {
      waiting.push(`${at}: ${o.reason}`);
    }
  }
  const c = result.counts;
  const summary = `"${key}": ${c.materialized} materialised, ${c.fresh} fresh, ${c.failed} failed, ${c.skipped} waiting`;
  if (failed.length > 0) return done("failed-checks", `${summary}. ${failed.join(" ")}`, announced);
  if (c.materialized > 0) return done("materialised", `${summary}.`, announced);
  if (waiting.length > 0 && c.fresh === 0) return done("waiting", `${summary}: ${waiting[0]}.`, announced);
  if (result.outcomes.length === 0) {
    const at = opts.now ? ` at ${opts.now.toISOString()}` : "";
    return done("fresh", `${summary}: nothing to run${at}.`, announced);
  }
  return done("fresh", `${summary}.`, announced);
}

/** What a cloud entry may be given instead of its defaults: for tests and `tributary invoke`. */
export interface HandlerDeps {
  /** The function's environment (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Opens a store URI (default: runtime/storage/uri.ts, the cloud SDKs). */
  readonly openStore?: (uri: string) => ObjectStore;
  /** Where announcements go (default: the cloud's bus client, built from the environment). */
  readonly publisher?: Publisher;
  /** Where log lines go (default: console.log, which every cloud collects). */
  readonly write?: (line: string) => void;
  readonly lockTimeoutMs?: number;
  /** Where secrets come from (default: the references in the environment, read with the cloud's SDK). */
  readonly secrets?: SecretSource;
  /** How long one publish call may take (default: `publishBudgetMs` of the function's timeout). */
  readonly publishBudgetMs?: number;
  /** The table catalog (default: the one its environment names, with the cloud's SDK). */
  readonly catalog?: TableCatalog;
  /** The table maintenance step (default: the engine's). */
  readonly maintainTables?: MaintainTables;
}

/**
 * How long one publish call may take, connections and retries included: a fifteenth of the function's
 * timeout, between half a second and 10 seconds. An invocation publishes at most once per item of its batch (ten
 * SQS records at most) and once for what its function still owes, so all its publishing stays well
 * under its timeout, and under the trigger's acknowledgement deadline, which is never shorter (SQS
 * visibility timeout, Pub/Sub ack deadline and Service Bus lock are at least the function's timeout).
 * A call that runs out fails its own item; the commit's outbox entry is announced later.
 */
export function publishBudgetMs(timeoutSeconds: number): number {
  return Math.min(10_000, Math.max(500, Math.floor((timeoutSeconds * 1000) / 15)));
}

/**
 * The runtime of one function instance, built on its first invocation and kept while the instance
 * lives (the cloud reuses warm instances): environment read once, clients made once.
 */
export function lazyRuntime(
  graph: AssetGraph,
  deps: HandlerDeps,
  defaults: {
    openStore: (uri: string) => ObjectStore;
    publisher: (fn: FunctionEnv, env: Readonly<Record<string, string | undefined>>) => Publisher;
    /** How a structured record becomes a log line (AWS adds its embedded metric format). */
    format?: (record: Readonly<Record<string, unknown>>) => string;
    /** Reads a secret by reference with the cloud's SDK (made on the first read). */
    secretReader?: () => SecretReader;
    /** The cloud's table catalog, made for the reference a function's environment names. */
    catalogs?: CatalogMakers;
  },
): () => Runtime {
  let rt: Runtime | undefined;
  return () => {
    if (rt) return rt;
    const env = deps.env ?? process.env;
    const fn = functionEnv(env);
    if ((fn.kind === "asset" || fn.kind === "ingest") && !graph.has(fn.asset)) {
      throw new HandlerConfigError(
        `handler: TRIBUTARY_ASSET is "${fn.asset}", which the bundled graph does not have; rebuild the bundle (tributary bundle) from the graph the stack was deployed with.`,
      );
    }
    const open = deps.openStore ?? defaults.openStore;
    const write = deps.write ?? ((line: string) => console.log(line));
    const format = defaults.format ?? ((r) => JSON.stringify(r));
    const log = (record: Readonly<Record<string, unknown>>) => write(format(record));
    const lineage = httpTransportFromEnv(env, {
      onWarning: (warning) => log({ event: "tributary.lineage.warning", warning }),
    });
    const store = functionStore(fn, open);
    const catalog = deps.catalog ?? (fn.catalog ? cloudCatalog(fn.catalog, defaults.catalogs) : undefined);
    rt = {
      graph,
      store,
      fn,
      publisher: deps.publisher ?? defaults.publisher(fn, env),
      outbox: new Outbox(store),
      publishBudgetMs: deps.publishBudgetMs ?? publishBudgetMs(fn.timeoutSeconds),
      log,
      openStore: open,
      ...(lineage ? { lineage } : {}),
      ...(deps.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: deps.lockTimeoutMs }),
      ...(catalog ? { catalog } : {}),
      ...(deps.maintainTables ? { maintainTables: deps.maintainTables } : {}),
      ...(deps.secrets
        ? { secrets: deps.secrets }
        : defaults.secretReader
          ? { secrets: functionSecrets(env, defaults.secretReader) }
          : {}),
    };
    return rt;
  };
}

/** How a cloud's entry makes the catalogs its cloud has, by kind. */
export type CatalogMakers = {
  readonly [K in CatalogRef["kind"]]?: (ref: Extract<CatalogRef, { kind: K }>) => TableCatalog;
};

/** The catalog a function's environment names, made by its cloud's entry; a deployment mistake when it cannot. */
function cloudCatalog(ref: CatalogRef, makers: CatalogMakers = {}): TableCatalog {
  const make = makers[ref.kind] as ((ref: CatalogRef) => TableCatalog) | undefined;
  if (!make) {
    throw new HandlerConfigError(
      `handler: ${FUNCTION_ENV.catalog} names a ${ref.kind} catalog, which this cloud's functions cannot publish to; deploy the stack with pulumi up.`,
    );
  }
  return make(ref);
}
