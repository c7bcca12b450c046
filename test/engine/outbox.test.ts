import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import type { SourceDef } from "../../src/kit/asset.ts";
import { ingest, sourcePartitions } from "../../src/runtime/engine/ingest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { OUTBOX_GRACE_MS, Outbox, type OutboxEntry } from "../../src/runtime/engine/outbox.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { Body, ObjectStore } from "../../src/runtime/storage/port.ts";
import { orderRecords } from "../handlers/helpers.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-outbox-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const T0 = new Date("2026-12-01T10:00:00.000Z");
const at = (ms: number) => () => new Date(T0.getTime() + ms);
const announcement = { asset: "curated_orders", partition: "acme", dataVersion: "v2" };
const manifest = (dataVersion: string) =>
  JSON.stringify({ dataVersion, timings: { finishedAt: "2026-12-01T10:00:03.000Z" } });

/** The orders of one day as an NDJSON file's lines. */
function ordersFile(): string {
  return `${orderRecords()
    .map((r) => JSON.stringify(r))
    .join("\n")}\n`;
}

describe("an outbox entry", () => {
  it("is owed exactly when the commit it names exists with its data version", async () => {
    const store = new LocalStore(join(dir, "states"));
    const outbox = new Outbox(store, { now: at(0) });
    const key = await outbox.oweAsset("curated_orders", "acme", announcement);
    expect(key).toBe("_outbox/curated_orders/acme/v2.json");
    expect(JSON.parse((await store.get(key))!.toString())).toEqual({
      format: 1,
      commit: "_manifests/curated_orders/acme/manifest.json",
      dataVersion: "v2",
      announcements: [announcement],
      at: "2026-12-01T10:00:00.000Z",
    } satisfies OutboxEntry);

    const stateAt = async (ms: number) =>
      (await new Outbox(store, { now: at(ms) }).scan("curated_orders")).map((s) => [s.state, s.key, s.ageMs]);
    // No commit yet: a run may be committing it now.
    expect(await stateAt(60_000)).toEqual([["pending", key, 60_000]]);
    // The previous version is committed: still pending, and abandoned past the grace period.
    await store.put("_manifests/curated_orders/acme/manifest.json", manifest("v1"));
    expect(await stateAt(OUTBOX_GRACE_MS - 1)).toEqual([["pending", key, OUTBOX_GRACE_MS - 1]]);
    expect(await stateAt(OUTBOX_GRACE_MS)).toEqual([["abandoned", key, OUTBOX_GRACE_MS]]);
    // Committed with the entry's version: owed, aged from the commit, whatever the entry's age.
    await store.put("_manifests/curated_orders/acme/manifest.json", manifest("v2"));
    expect(await stateAt(OUTBOX_GRACE_MS * 2)).toEqual([["owed", key, OUTBOX_GRACE_MS * 2 - 3000]]);
    const [owed] = await new Outbox(store, { now: at(10_000) }).scan();
    expect(owed).toMatchObject({ state: "owed", committedAt: "2026-12-01T10:00:03.000Z", ageMs: 7000 });

    await outbox.settle([key]);
    expect(await outbox.scan()).toEqual([]);
  });

  it("that is not one is reported damaged, with why", async () => {
    const store = new LocalStore(join(dir, "damaged"));
    await store.put("_outbox/orders_cdc/_batches/b.json", "{not json");
    await store.put(
      "_outbox/orders_cdc/_batches/c.json",
      JSON.stringify({ format: 1, commit: "curated/x", at: "2026-12-01T10:00:00.000Z", announcements: [] }),
    );
    expect(
      (await new Outbox(store).scan()).map((s) => [s.state, s.key, s.state === "damaged" ? s.reason : ""]),
    ).toEqual([
      ["damaged", "_outbox/orders_cdc/_batches/b.json", "not JSON"],
      ["damaged", "_outbox/orders_cdc/_batches/c.json", "not an outbox entry of format 1"],
    ]);
  });

  it("is scanned in key order, at most `limit` of them", async () => {
    const store = new LocalStore(join(dir, "limit"));
    const outbox = new Outbox(store, { now: at(0) });
    for (const p of ["c", "a", "b"])
      await outbox.oweAsset("daily_revenue", p, { ...announcement, partition: p });
    expect((await outbox.scan(undefined, { limit: 2 })).map((s) => s.key)).toEqual([
      "_outbox/daily_revenue/a/v2.json",
      "_outbox/daily_revenue/b/v2.json",
    ]);
  });
});

describe("commits that announce", () => {
  it("record each asset partition's announcement before its manifest; a local run records none", async () => {
    const store = new LocalStore(join(dir, "materialize"));
    const orders = graph.get("orders_cdc") as SourceDef;
    const file = join(dir, "orders.ndjson");
    await writeFile(file, ordersFile());
    await ingest(store, orders, [file]);
    const local = await materialize(graph, store, { selection: "curated_orders" });
    expect(local.counts.materialized).toBe(3);
    expect(await store.list("_outbox/")).toEqual([]);

    // Each record write finds its outbox entry already there: the record file is written with the pending
    // record before the table's commit, and settled after it.
    const order: string[] = [];
    const watching: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      put: async (key: string, body: Body, opts?: { ifAbsent?: boolean }) => {
        if (key.startsWith("_manifests/") || key.startsWith("_outbox/")) order.push(key);
        return store.put(key, body, opts);
      },
    });
    const run = await materialize(graph, watching, {
      selection: "curated_orders",
      force: true,
      outbox: new Outbox(watching),
    });
    expect(order).toEqual(
      run.outcomes.flatMap((o) => [
        `_outbox/curated_orders/${o.item.partition}/${o.item.dataVersion}.json`,
        `_manifests/curated_orders/${o.item.partition}/manifest.json`,
        `_manifests/curated_orders/${o.item.partition}/manifest.json`,
      ]),
    );
    const owed = await new Outbox(store).scan("curated_orders");
    expect(owed.map((s) => (s.state === "owed" ? s.entry.announcements : s.state))).toEqual(
      run.outcomes.map((o) => [
        { asset: "curated_orders", partition: o.item.partition, dataVersion: o.item.dataVersion },
      ]),
    );
  });

  it("record an ingest batch's announcements, one per partition it wrote, with the versions it made", async () => {
    const store = new LocalStore(join(dir, "ingest"));
    const orders = graph.get("orders_cdc") as SourceDef;
    const result = await ingest(store, orders, [{ name: "m", stream: Readable.from([ordersFile()]) }], {
      batch: "b1",
      outbox: new Outbox(store, { now: at(0) }),
    });
    const versions = await sourcePartitions(store, orders);
    const [state] = await new Outbox(store).scan("orders_cdc");
    expect(state).toMatchObject({
      state: "owed",
      key: "_outbox/orders_cdc/_batches/b1.json",
      committedAt: result.manifest.committedAt,
      entry: {
        commit: "_manifests/orders_cdc/_batches/b1.json",
        announcements: [...versions].map(([partition, v]) => ({
          asset: "orders_cdc",
          partition,
          dataVersion: v.dataVersion,
        })),
      },
    });
    // A batch that writes nothing new owes nothing.
    await ingest(store, orders, [{ name: "m", stream: Readable.from([ordersFile()]) }], {
      batch: "b2",
      outbox: new Outbox(store),
    });
    expect((await store.list("_outbox/")).map((o) => o.key)).toEqual(["_outbox/orders_cdc/_batches/b1.json"]);
  });

  it("leave a pending entry and nothing visible when the commit itself fails", async () => {
    const store = new LocalStore(join(dir, "crash"));
    const orders = graph.get("orders_cdc") as SourceDef;
    await ingest(store, orders, [{ name: "m", stream: Readable.from([ordersFile()]) }], { batch: "b1" });
    const failing: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      put: async (key: string, body: Body, opts?: { ifAbsent?: boolean }) => {
        if (key.startsWith("_manifests/curated_orders/acme/")) throw new Error("connection reset");
        return store.put(key, body, opts);
      },
    });
    await expect(
      materialize(graph, failing, {
        selection: "curated_orders",
        partitions: ["acme"],
        outbox: new Outbox(failing),
      }),
    ).rejects.toThrow("connection reset");
    expect(await store.get("_manifests/curated_orders/acme/manifest.json")).toBeUndefined();
    expect((await new Outbox(store).scan()).map((s) => s.state)).toEqual(["pending"]);
  });
});
