/**
 * The outbox through each cloud's entry point: a commit whose announcement could not be published is
 * announced later, by a retry of the same delivery, by the next invocation of the same function, or by
 * the stack's sweeper; and the downstream function then materialises. The same for a scheduled run, a
 * source ingest and an upstream-triggered run, on all three clouds.
 */
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import { OUTBOX_SWEEPER } from "../../src/contract/function-env.ts";
import type { SourceDef } from "../../src/kit/asset.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { Outbox } from "../../src/runtime/engine/outbox.ts";
import {
  type Announcement,
  functionEnv,
  functionStore,
  publishBudgetMs,
} from "../../src/runtime/handlers/core.ts";
import { type BusMessage, type Cloud, envelope } from "../../src/runtime/handlers/envelopes.ts";
import { entryPoint, failedItems } from "../../src/runtime/handlers/local.ts";
import {
  OUTBOX_DRAINED_EVENT,
  OUTBOX_SWEPT_EVENT,
  publishWithin,
} from "../../src/runtime/handlers/outbox.ts";
import { PublishError, type Publisher } from "../../src/runtime/handlers/publish.ts";
import { secretValues } from "../../src/runtime/secrets/source.ts";
import type { ObjectStore } from "../../src/runtime/storage/port.ts";
import { DAY, graph, orderRecords, stack, tempDir } from "./helpers.ts";

const URIS = { raw: "s3://trib-test-raw", curated: "s3://trib-test-curated", quarantine: "s3://trib-test-q" };
/** 03:00 in Berlin on a winter day: customer_features' schedule ("0 3 * * *", Europe/Berlin). */
const TICK = "2026-12-02T02:00:00.000Z";

/** A bus that refuses while `down` is set, and records what it accepts. */
function bus() {
  const accepted: Announcement[] = [];
  const state = { down: false };
  const publisher: Publisher = {
    publish: async (announcements) => {
      if (state.down) throw new PublishError("test: the asset-events bus is down.");
      accepted.push(...announcements);
    },
  };
  return { accepted, state, publisher };
}

/** The orders (and, with `customers`, the customers) of one day, ingested by the local engine. */
async function ingestedStack(root: string, customers = false) {
  const s = stack(root, URIS);
  const store = functionStore(functionEnv(s.env("orders_cdc")), (uri) => s.openStore(uri));
  const sample = [
    ...generateSample({
      seed: 11,
      from: DAY,
      to: DAY,
      customersPerTenant: 2,
      ordersPerDayPerTenant: 2,
      invalidShare: 0,
      duplicateShare: 0,
      lateShare: 0,
    }),
  ];
  for (const source of customers ? ["orders_cdc", "customers_cdc"] : ["orders_cdc"]) {
    const lines = sample.filter((l) => l.source === source).map((l) => l.line);
    await ingest(store, graph.get(source) as SourceDef, [
      { name: source, stream: Readable.from([`${lines.join("\n")}\n`]) },
    ]);
  }
  if (customers) {
    const run = await materialize(graph, store, {
      selection: "curated_orders,curated_customers",
      secrets: SECRETS,
    });
    expect(run.counts.materialized).toBe(6);
    expect(run.counts.failed).toBe(0);
  }
  return { s, store };
}

/** The stack's tokenisation key, for curated_customers (here and in its function). */
const SECRETS = secretValues({ pii_token_key: "the outbox tests' tokenisation key" });

/** One function of `cloud` as its entry point, with the bus and log lines of the test. */
async function fn(cloud: Cloud, s: ReturnType<typeof stack>, key: string, b: ReturnType<typeof bus>) {
  const lines: Record<string, unknown>[] = [];
  const timer =
    key === "customer_features"
      ? { TRIBUTARY_SCHEDULE_CRON: "0 3 * * *", TRIBUTARY_SCHEDULE_TIMEZONE: "Europe/Berlin" }
      : key === OUTBOX_SWEEPER
        ? { TRIBUTARY_SCHEDULE_CRON: "*/5 * * * *", TRIBUTARY_SCHEDULE_TIMEZONE: "UTC" }
        : {};
  const invoke = await entryPoint(cloud, graph, key, {
    env: { ...s.env(key), ...(cloud === "azure" ? timer : {}) },
    openStore: (uri) => s.openStore(uri),
    publisher: b.publisher,
    secrets: SECRETS,
    write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  /** Deliver one message; resolves to the error the cloud sees, or undefined when it succeeded. */
  const deliver = async (message: BusMessage): Promise<string | undefined> => {
    try {
      const failed = failedItems(await invoke(envelope(cloud, message, key)));
      return failed.length > 0 ? `failed: ${failed.join(", ")}` : undefined;
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  };
  return { deliver, lines };
}

const announcementOf = (body: Announcement): BusMessage => ({
  type: MESSAGES.assetMaterialised,
  id: `${body.asset}/${body.partition}/${body.dataVersion}`,
  body,
});

async function owed(store: ObjectStore): Promise<string[]> {
  return (await new Outbox(store).scan()).map((e) => `${e.state} ${e.key}`);
}

async function manifests(store: ObjectStore, asset: string): Promise<Announcement[]> {
  const out: Announcement[] = [];
  for (const o of await store.list(`_manifests/${asset}/`)) {
    const m = JSON.parse((await store.get(o.key))!.toString()) as Announcement;
    out.push({ asset: m.asset, partition: m.partition, dataVersion: m.dataVersion });
  }
  return out;
}

let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir("outbox-handlers");
});
afterAll(() => dir.remove());

describe.each<Cloud>(["aws", "gcp", "azure"])("on %s, a commit whose announcement failed", (cloud) => {
  it("of a scheduled run fails the invocation, and its retry announces the committed data version", async () => {
    const { s, store } = await ingestedStack(`${dir.path}/${cloud}-schedule`, true);
    const b = bus();
    const features = await fn(cloud, s, "customer_features", b);
    const tick: BusMessage = {
      type: "schedule",
      id: "tick",
      asset: "customer_features",
      scheduledTime: TICK,
    };

    b.state.down = true;
    expect(await features.deliver(tick)).toBe("test: the asset-events bus is down.");
    const committed = await manifests(store, "customer_features");
    expect(committed.map((m) => m.partition)).toEqual(["acme", "globex", "initech"]);
    expect(await owed(store)).toEqual(
      committed.map((m) => `owed _outbox/customer_features/${m.partition}/${m.dataVersion}.json`),
    );

    // The platform retries the tick: the partitions are fresh, and what their commits owe is announced.
    b.state.down = false;
    expect(await features.deliver(tick)).toBeUndefined();
    expect(b.accepted).toEqual(committed);
    expect(await owed(store)).toEqual([]);
    const drained = features.lines.filter((l) => l.event === OUTBOX_DRAINED_EVENT);
    expect(drained.map(({ severity: _, ...l }) => l)).toEqual([
      {
        event: OUTBOX_DRAINED_EVENT,
        asset: "customer_features",
        settled: 3,
        announced: 3,
        discarded: 0,
        unannounced: 0,
      },
    ]);

    // The consumer downstream materialises from the announcements.
    const recommend = await fn(cloud, s, "recommendation_features", b);
    for (const a of committed) expect(await recommend.deliver(announcementOf(a))).toBeUndefined();
    expect((await manifests(store, "recommendation_features")).map((m) => m.partition)).toEqual([
      "acme",
      "globex",
      "initech",
    ]);
  });

  it("of a source ingest is announced by the function's next invocation, when the retries ran out", async () => {
    const s = stack(`${dir.path}/${cloud}-ingest`, URIS);
    const store = functionStore(functionEnv(s.env("orders_cdc")), (uri) => s.openStore(uri));
    const b = bus();
    const orders = await fn(cloud, s, "orders_cdc", b);
    const records = orderRecords();
    const first: BusMessage = {
      type: MESSAGES.sourceEvents,
      id: "m-1",
      body: { source: "orders_cdc", records: records.slice(0, 4) },
    };
    b.state.down = true;
    const failure = await orders.deliver(first);
    expect(failure).toBe(cloud === "aws" ? "failed: m-1" : "test: the asset-events bus is down.");
    const [entry] = await new Outbox(store).scan("orders_cdc");
    expect(entry?.state).toBe("owed");
    const owedFirst = entry!.state === "owed" ? entry!.entry.announcements : [];

    // Another message, another batch: the first batch's announcements go out before its own.
    b.state.down = false;
    const second: BusMessage = {
      type: MESSAGES.sourceEvents,
      id: "m-2",
      body: { source: "orders_cdc", records: records.slice(4) },
    };
    expect(await orders.deliver(second)).toBeUndefined();
    expect(b.accepted.slice(0, owedFirst.length)).toEqual(owedFirst);
    expect(b.accepted.length).toBeGreaterThan(owedFirst.length);
    expect(await owed(store)).toEqual([]);

    // The announced partitions reach the consumer, which materialises them.
    const curated = await fn(cloud, s, "curated_orders", b);
    for (const a of b.accepted) expect(await curated.deliver(announcementOf(a))).toBeUndefined();
    expect((await manifests(store, "curated_orders")).map((m) => m.partition).sort()).toEqual([
      "acme",
      "globex",
      "initech",
    ]);
  });

  it("of an upstream-triggered run is announced by the stack's sweeper", async () => {
    const { s, store } = await ingestedStack(`${dir.path}/${cloud}-sweep`);
    const b = bus();
    const curated = await fn(cloud, s, "curated_orders", b);
    const [orders] = await new Outbox(store).scan("orders_cdc");
    expect(orders).toBeUndefined();
    const upstream = (await store.list("_manifests/orders_cdc/_batches/")).length;
    expect(upstream).toBe(1);
    b.state.down = true;
    const partition = `${DAY}|acme`;
    const failure = await curated.deliver(
      announcementOf({ asset: "orders_cdc", partition, dataVersion: "any" }),
    );
    expect(failure).toBe(
      cloud === "aws" ? "failed: orders_cdc/2026-11-01|acme/any" : "test: the asset-events bus is down.",
    );
    const [committed] = await manifests(store, "curated_orders");
    expect(committed?.partition).toBe("acme");

    b.state.down = false;
    const sweeper = await fn(cloud, s, OUTBOX_SWEEPER, b);
    const sweep: BusMessage = {
      type: "schedule",
      id: "sweep",
      asset: OUTBOX_SWEEPER,
      scheduledTime: "2026-12-02T02:05:00.000Z",
    };
    expect(await sweeper.deliver(sweep)).toBeUndefined();
    expect(b.accepted).toEqual([committed]);
    expect(await owed(store)).toEqual([]);
    const [swept] = sweeper.lines.filter((l) => l.event === OUTBOX_SWEPT_EVENT);
    expect(swept).toMatchObject({
      event: OUTBOX_SWEPT_EVENT,
      environment: "test",
      inspected: 1,
      owed: 1,
      settled: 1,
      announced: 1,
      pending: 0,
      discarded: 0,
      unannounced: 0,
      oldestSeconds: 0,
    });
    const downstream = await fn(cloud, s, "daily_revenue", b);
    expect(await downstream.deliver(announcementOf(committed!))).toBeUndefined();
    expect((await manifests(store, "daily_revenue")).length).toBeGreaterThan(0);
  });
});

describe("publishing", () => {
  it("stops waiting for a bus that never answers when the budget is spent, and the entry stays owed", async () => {
    const never: Publisher = { publish: () => new Promise<void>(() => {}) };
    const rt = { publisher: never, publishBudgetMs: 50, fn: { assetEvents: "trib-test-asset-events" } };
    await expect(
      publishWithin(rt as Parameters<typeof publishWithin>[0], [
        { asset: "a", partition: "", dataVersion: "v" },
      ]),
    ).rejects.toThrow(
      new PublishError(
        "publish: the asset-events bus trib-test-asset-events did not take 1 announcement within 50 ms; they stay in the outbox for the next attempt.",
      ),
    );
  });

  it("has a fifteenth of the function's timeout for one call, between half a second and 10 seconds", () => {
    expect([5, 10, 30, 60, 150, 300, 900].map(publishBudgetMs)).toEqual([
      500, 666, 2000, 4000, 10000, 10000, 10000,
    ]);
  });
});
