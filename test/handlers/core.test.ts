import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import graph from "../../examples/commerce/assets/index.ts";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import type { AssetDef } from "../../src/kit/asset.ts";
import { partitionKeys } from "../../src/kit/partitions.ts";
import { sourcePartitions } from "../../src/runtime/engine/ingest.ts";
import { Outbox } from "../../src/runtime/engine/outbox.ts";
import {
  type Announcement,
  batchIdOf,
  functionEnv,
  functionStore,
  HandlerConfigError,
  PoisonMessageError,
  perform,
  type Runtime,
  readersOf,
} from "../../src/runtime/handlers/core.ts";
import { functionEnvironment } from "../../src/runtime/handlers/local.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { tree } from "./helpers.ts";

let dir: string;
let day1: { orders: string[]; customers: string[] };
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-core-"));
  await writeSample(join(dir, "sample"), {
    seed: 7,
    from: "2026-11-01",
    to: "2026-11-02",
    customersPerTenant: 4,
    ordersPerDayPerTenant: 3,
  });
  const lines = async (f: string) =>
    (await readFile(join(dir, "sample", f), "utf8")).split("\n").filter((l) => l !== "");
  day1 = {
    orders: await lines("orders_cdc/2026-11-01.ndjson"),
    customers: await lines("customers_cdc/2026-11-01.ndjson"),
  };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function env(asset: string, root: string) {
  const stores = {
    raw: join(root, "raw"),
    curated: join(root, "curated"),
    quarantine: join(root, "quarantine"),
  };
  return functionEnvironment(graph, asset, stores, "test");
}

function runtime(
  asset: string,
  root: string,
): Runtime & { published: Announcement[]; logs: Record<string, unknown>[] } {
  const fn = functionEnv(env(asset, root));
  const published: Announcement[] = [];
  const logs: Record<string, unknown>[] = [];
  const store = functionStore(fn, (uri) => new LocalStore(uri));
  return {
    graph,
    fn,
    store,
    outbox: new Outbox(store),
    publishBudgetMs: 1000,
    publisher: { publish: async (a) => void published.push(...a) },
    log: (r) => void logs.push(r),
    published,
    logs,
  };
}

describe("the function environment", () => {
  it("names the variable that is missing", () => {
    const e = env("orders_cdc", "/x");
    delete (e as Record<string, string | undefined>).TRIBUTARY_STORE_RAW;
    expect(() => functionEnv(e)).toThrow(
      new HandlerConfigError(
        "handler: environment variable TRIBUTARY_STORE_RAW is not set; the function was not deployed by Tributary's infra (or with a stale plan). Deploy it with pulumi up.",
      ),
    );
    expect(() => functionEnv({ ...env("orders_cdc", "/x"), TRIBUTARY_KIND: "job" })).toThrow(
      'handler: TRIBUTARY_KIND is "job"; expected asset, ingest, sweep or maintain.',
    );
  });

  it("splits the store by zone across the stack's three stores", async () => {
    const root = join(dir, "zones");
    const rt = runtime("orders_cdc", root);
    await rt.store.put("raw/orders_cdc/x", "1");
    await rt.store.put("_manifests/orders_cdc/y", "2");
    await rt.store.put("quarantine/orders_cdc/z", "3");
    expect(await tree(root)).toEqual([
      "curated/_manifests/orders_cdc/y",
      "quarantine/quarantine/orders_cdc/z",
      "raw/raw/orders_cdc/x",
    ]);
  });
});

describe("perform", () => {
  it("ingests a message's records as one batch named after the message, and announces each partition", async () => {
    const root = join(dir, "ingest");
    const rt = runtime("orders_cdc", root);
    const work = { kind: "source-events", id: "msg-1", source: "orders_cdc", records: day1.orders } as const;
    const report = await perform(rt, work);
    const versions = await sourcePartitions(rt.store, { key: "orders_cdc" });
    expect(report.status).toBe("ingested");
    expect(report.detail).toMatch(
      new RegExp(
        `^batch ${batchIdOf("msg-1")} of "orders_cdc": read ${day1.orders.length} = written \\d+ \\+ quarantined \\d+ \\+ duplicates \\d+\\.$`,
      ),
    );
    expect(report.announced).toEqual(
      [...versions].map(([partition, v]) => ({ asset: "orders_cdc", partition, dataVersion: v.dataVersion })),
    );
    expect(report.announced.map((a) => a.partition)).toEqual([
      "2026-11-01|acme",
      "2026-11-01|globex",
      "2026-11-01|initech",
    ]);
    expect(rt.published).toEqual(report.announced);
    expect(rt.logs.filter((l) => l.event === MESSAGES.assetMaterialised)).toEqual(
      report.announced.map((a) => ({ event: MESSAGES.assetMaterialised, ...a, environment: "test" })),
    );

    // The same message again: nothing is written; the announcements are repeated.
    const before = await tree(root);
    const again = await perform(rt, work);
    expect(again.status).toBe("duplicate");
    expect(again.announced).toEqual(report.announced);
    expect(await tree(root)).toEqual(before);

    // The same records in another message: a new batch of duplicates only, and no new data.
    const other = await perform(rt, { ...work, id: "msg-2" });
    expect(other.detail).toContain(`written 0 + quarantined`);
    expect(await sourcePartitions(rt.store, { key: "orders_cdc" })).toEqual(versions);
  });

  it("materialises the partitions that read an announced upstream partition, once", async () => {
    const root = join(dir, "asset");
    const ingester = runtime("orders_cdc", root);
    const ingested = await perform(ingester, {
      kind: "source-events",
      id: "m",
      source: "orders_cdc",
      records: day1.orders,
    });
    const acme = ingested.announced.find((a) => a.partition === "2026-11-01|acme")!;
    const rt = runtime("curated_orders", root);
    const work = { kind: "asset-materialised", id: "e1", ...acme } as const;
    const report = await perform(rt, work);
    expect(report.status).toBe("materialised");
    expect(report.detail).toBe('"curated_orders": 1 materialised, 0 fresh, 0 failed, 0 waiting.');
    expect(report.announced).toHaveLength(1);
    expect(report.announced[0]).toMatchObject({ asset: "curated_orders", partition: "acme" });
    const manifest = JSON.parse(
      (await rt.store.get("_manifests/curated_orders/acme/manifest.json"))!.toString(),
    );
    expect(report.announced[0]!.dataVersion).toBe(manifest.dataVersion);

    const again = await perform(rt, work);
    expect(again.status).toBe("fresh");
    expect(again.announced).toEqual(report.announced);
    const after = JSON.parse(
      (await rt.store.get("_manifests/curated_orders/acme/manifest.json"))!.toString(),
    );
    expect(after.runId).toBe(manifest.runId);

    // customer_features also reads curated_customers, which has never been materialised: it waits.
    const features = runtime("customer_features", root);
    const waiting = await perform(features, {
      kind: "asset-materialised",
      id: "e2",
      ...report.announced[0]!,
    });
    expect(waiting.status).toBe("waiting");
    expect(waiting.detail).toBe(
      '"customer_features": 0 materialised, 0 fresh, 0 failed, 1 waiting: customer_features/acme: upstream curated_customers/acme has never been materialised; select it too (+customer_features).',
    );
    expect(waiting.announced).toEqual([]);
  });

  it("ignores work meant for another function, and fails alone on a record it cannot take", async () => {
    const rt = runtime("orders_cdc", join(dir, "ignored"));
    expect(
      await perform(rt, { kind: "source-events", id: "x", source: "customers_cdc", records: [] }),
    ).toEqual({
      id: "x",
      kind: "source-events",
      status: "ignored",
      detail: 'source events of "customers_cdc" are not for this function (it ingests "orders_cdc").',
      announced: [],
    });
    const asset = runtime("daily_revenue", join(dir, "ignored"));
    expect(
      (
        await perform(asset, {
          kind: "asset-materialised",
          id: "y",
          asset: "curated_customers",
          partition: "acme",
          dataVersion: "v",
        })
      ).detail,
    ).toBe('"daily_revenue" does not read "curated_customers".');
    await expect(
      perform(rt, { kind: "source-events", id: "p", source: "orders_cdc", records: [day1.orders[0], 42] }),
    ).rejects.toThrow(
      new PoisonMessageError("message p: records[1] is a number, not an object or an NDJSON line."),
    );
    await expect(
      perform(rt, { kind: "source-events", id: "q", source: "orders_cdc", records: ["a\nb"] }),
    ).rejects.toThrow("message q: records[0] is a string with a line break; send one record per element.");
  });
});

describe("lineage from a function", () => {
  it("sends OpenLineage events of each ingest and asset run to the transport the environment names", async () => {
    const root = join(dir, "lineage");
    const events: { eventType: string; job: { name: string } }[] = [];
    const transport = {
      warnings: [] as string[],
      emit: async (e: unknown) => void events.push(e as (typeof events)[number]),
      close: async () => {},
    };
    const ingester = { ...runtime("orders_cdc", root), lineage: transport };
    const ingested = await perform(ingester, {
      kind: "source-events",
      id: "l1",
      source: "orders_cdc",
      records: day1.orders,
    });
    const asset = { ...runtime("curated_orders", root), lineage: transport };
    await perform(asset, { kind: "asset-materialised", id: "l2", ...ingested.announced[0]! });
    expect(events.map((e) => `${e.eventType} ${e.job.name}`)).toEqual([
      "START ingest.orders_cdc",
      "COMPLETE ingest.orders_cdc",
      "START curated_orders",
      "COMPLETE curated_orders",
    ]);
  });
});

describe("readersOf", () => {
  it("maps an upstream partition to the partitions that read it", () => {
    const daily = graph.get("daily_revenue") as AssetDef;
    const days = partitionKeys(daily.partitions).filter((k) => k.endsWith("|acme"));
    expect(readersOf(graph, daily, "curated_orders", "acme")).toEqual(days);
    expect(days[0]).toBe("2026-11-01|acme");
    expect(
      readersOf(graph, graph.get("curated_orders") as AssetDef, "orders_cdc", "2026-11-03|globex"),
    ).toEqual(["globex"]);
    expect(
      readersOf(graph, graph.get("curated_orders") as AssetDef, "orders_cdc", "1999-01-01|globex"),
    ).toEqual([]);
  });
});
