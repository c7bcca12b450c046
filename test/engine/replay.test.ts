import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  asset,
  daily,
  defineGraph,
  dep,
  mapping,
  multiPartitions,
  source,
  staticPartitions,
  Type,
} from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { acquireLock } from "../../src/runtime/engine/lock.ts";
import type { AssetManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { replay, replayScope } from "../../src/runtime/engine/replay.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { ObjectInfo } from "../../src/runtime/storage/port.ts";

const NOW = new Date("2026-11-07T12:00:00Z");
const days = daily({ start: "2026-11-01", end: "2026-11-06" });
const tenants = staticPartitions("tenant", ["acme", "globex"]);
const events = source("events", {
  schema: Type.Object({
    id: Type.String(),
    ts: Type.String({ format: "date-time" }),
    tenant: Type.String(),
    amount: Type.Integer(),
  }),
  eventId: "id",
  eventTime: "ts",
  tenant: "tenant",
  partitions: multiPartitions(days, tenants),
});
/** Per day and tenant: identity. */
const totals = asset("totals", {
  deps: [events],
  schema: Type.Object({ n: Type.Integer(), total: Type.Integer() }),
  partitions: multiPartitions(days, tenants),
  sql: "SELECT count(*) AS n, coalesce(sum(amount), 0) AS total FROM events",
});
/** Per day and tenant, over the last three days of totals. */
const rolling = asset("rolling", {
  deps: [dep(totals, { partitions: mapping.window(3) })],
  schema: Type.Object({ total: Type.Integer() }),
  partitions: multiPartitions(days, tenants),
  sql: "SELECT coalesce(sum(total), 0) AS total FROM totals",
});
/** Per tenant, over all time. */
const lifetime = asset("lifetime", {
  deps: [dep(totals, { partitions: mapping.allTime() })],
  schema: Type.Object({ total: Type.Integer() }),
  partitions: tenants,
  sql: "SELECT coalesce(sum(total), 0) AS total FROM totals",
});
/** Reads nothing of events: never replayed. */
const other = source("other", {
  schema: Type.Object({ id: Type.String(), ts: Type.String() }),
  eventId: "id",
  eventTime: "ts",
});
const graph = defineGraph([events, totals, rolling, lifetime, other]);

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-replay-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const event = (n: number, day: number, tenant: string) =>
  JSON.stringify({ id: `e${n}`, ts: `2026-11-0${day}T0${n % 10}:00:00Z`, tenant, amount: n });

/** Lands events on days 1 to 5 for both tenants, in two batches with fixed ids, into `into`. */
async function land(into: LocalStore): Promise<void> {
  const first = [1, 2, 3].flatMap((d) => [event(10 * d, d, "acme"), event(10 * d + 1, d, "globex")]);
  const second = [4, 5].flatMap((d) => [event(10 * d, d, "acme"), event(10 * d + 2, d, "acme")]);
  await writeFile(join(dir, "a.ndjson"), first.join("\n"));
  await writeFile(join(dir, "b.ndjson"), second.join("\n"));
  await ingest(into, events, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
  await ingest(into, events, [join(dir, "b.ndjson")], { batch: "b2", workers: 0 });
}

async function manifests(from: LocalStore): Promise<Map<string, AssetManifest>> {
  const state = new StoreState(from);
  const out = new Map<string, AssetManifest>();
  for (const a of ["totals", "rolling", "lifetime"]) {
    for (const m of await state.allManifests(a)) out.set(`${a}/${m.partition}`, m);
  }
  return out;
}

/** The rows of a committed asset partition. */
async function rows(from: LocalStore, m: AssetManifest): Promise<Record<string, unknown>[]> {
  const duck = await Duck.open();
  try {
    return await duck.rows(`SELECT * FROM read_parquet('${from.localPath(m.files[0]!.key)}')`);
  } finally {
    duck.close();
  }
}

const raw = async (from: LocalStore): Promise<[string, number, number][]> =>
  (await from.list("raw/")).map((o: ObjectInfo) => [o.key, o.size, o.modified.getTime()]);

describe("replay", () => {
  it("finds the raw partitions in the range and every asset partition downstream of them", async () => {
    await land(store);
    const scope = await replayScope(graph, new StoreState(store), "events", {
      from: "2026-11-02",
      to: "2026-11-03",
      now: NOW,
    });
    expect(scope.raw).toEqual([
      "2026-11-02|acme",
      "2026-11-02|globex",
      "2026-11-03|acme",
      "2026-11-03|globex",
    ]);
    expect(Object.fromEntries(scope.targets)).toEqual({
      totals: ["2026-11-02|acme", "2026-11-02|globex", "2026-11-03|acme", "2026-11-03|globex"],
      // A three-day window reads day 2 from days 2 to 4 and day 3 from days 3 to 5.
      rolling: [
        "2026-11-02|acme",
        "2026-11-02|globex",
        "2026-11-03|acme",
        "2026-11-03|globex",
        "2026-11-04|acme",
        "2026-11-04|globex",
        "2026-11-05|acme",
        "2026-11-05|globex",
      ],
      lifetime: ["acme", "globex"],
    });
  });

  it("re-derives them from raw, forced: the same data versions and rows as a fresh materialisation, nothing written to raw", async () => {
    await land(store);
    const first = await materialize(graph, store, { now: NOW });
    expect(first.counts.failed).toBe(0);
    const before = await manifests(store);
    const rawBefore = await raw(store);
    const batchesBefore = await store.list("_manifests/events/_batches/");

    const { scope, run } = await replay(graph, store, "events", {
      from: "2026-11-02",
      to: "2026-11-03",
      now: NOW,
    });
    // Everything in scope ran, though it was fresh; nothing else did.
    expect(run.outcomes.map((o) => [o.item.asset, o.item.partition, o.status, o.item.reason])).toEqual(
      [...scope.targets].flatMap(([a, keys]) => keys.map((k) => [a, k, "materialized", "forced"])),
    );
    const after = await manifests(store);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [key, m] of after) {
      const [a, partition] = key.split("/") as [string, string];
      const replayed = scope.targets.get(a)?.includes(partition) ?? false;
      const was = before.get(key)!;
      // A replayed partition is a new commit (its run) of the same data version and the same rows.
      expect([key, m.runId === was.runId]).toEqual([key, !replayed]);
      expect([key, m.dataVersion, m.rowCount, m.inputs]).toEqual([
        key,
        was.dataVersion,
        was.rowCount,
        was.inputs,
      ]);
      expect(await rows(store, m)).toEqual(await rows(store, was));
    }
    // Raw is read, never written.
    expect(await raw(store)).toEqual(rawBefore);
    expect(await store.list("_manifests/events/_batches/")).toEqual(batchesBefore);

    // A fresh store landed from the same inputs and materialised once agrees, partition for partition.
    const fresh = new LocalStore(join(dir, "fresh"));
    await land(fresh);
    await materialize(graph, fresh, { now: NOW });
    const again = await manifests(fresh);
    for (const [key, m] of after) {
      expect([key, again.get(key)!.dataVersion]).toEqual([key, m.dataVersion]);
      expect(await rows(fresh, again.get(key)!)).toEqual(await rows(store, m));
    }
  });

  it("waits for a partition another run holds, and gives up as a materialisation does", async () => {
    await land(store);
    await materialize(graph, store, { now: NOW });
    const release = await acquireLock(store, "totals", "2026-11-02/acme", "another-run");
    await expect(
      replay(graph, store, "events", { from: "2026-11-02", to: "2026-11-02", now: NOW, lockTimeoutMs: 300 }),
    ).rejects.toThrow(
      /^"totals" partition 2026-11-02\/acme is being materialised by run another-run \(pid \d+ on .+\) since .+; gave up waiting\. Retry when it has finished\.$/,
    );
    setTimeout(() => void release(), 300);
    const { run } = await replay(graph, store, "events", { from: "2026-11-02", to: "2026-11-02", now: NOW });
    // Totals of day 2 (2), the windows that read it (days 2 to 4, 6), lifetime (2).
    expect(run.counts).toEqual({ materialized: 10, fresh: 0, failed: 0, skipped: 0 });
  });

  it("says what is wrong with the source or the range", async () => {
    await land(store);
    const scope = (source: string, from: string, to: string) =>
      replayScope(graph, new StoreState(store), source, { from, to, now: NOW });
    await expect(scope("event", "2026-11-01", "2026-11-02")).rejects.toThrow(
      'replay: unknown source "event"; replay re-derives what reads a source\'s raw data (sources: events, other). Did you mean "events"?',
    );
    await expect(scope("totals", "2026-11-01", "2026-11-02")).rejects.toThrow(
      'replay: "totals" is an asset, not a source; replay re-derives what reads a source\'s raw data (sources: events, other).',
    );
    await expect(scope("other", "2026-11-01", "2026-11-02")).rejects.toThrow(
      'replay other: the source has no time partitions, so no range of raw data to replay; re-derive what reads it with: tributary materialize "other+" --force',
    );
    await expect(scope("events", "2026-11-31", "2026-12-02")).rejects.toThrow(
      'replay events: --from "2026-11-31" is not a date like 2026-11-01.',
    );
    await expect(scope("events", "2026-11-01", "yesterday")).rejects.toThrow(
      'replay events: --to "yesterday" is not a date like 2026-11-01.',
    );
    await expect(scope("events", "2026-11-03", "2026-11-02")).rejects.toThrow(
      "replay events: --from 2026-11-03 is after --to 2026-11-02.",
    );
    await expect(scope("events", "2026-11-06", "2026-11-30")).rejects.toThrow(
      "replay events: no raw data between 2026-11-06 and 2026-11-30; its raw data spans 2026-11-01 to 2026-11-05.",
    );
  });
});
