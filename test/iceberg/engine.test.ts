/**
 * The engine's one commit point (runtime/engine/records.ts, commit.ts) at the moments a crash can strike
 * it, the catalog told of every commit, and a table whose asset's schema changes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { asset, daily, defineGraph, source, Type } from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { Scratch } from "../../src/runtime/engine/files.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { Outbox } from "../../src/runtime/engine/outbox.ts";
import { readRecordFile } from "../../src/runtime/engine/records.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { steps } from "../../src/runtime/engine/steps.ts";
import type { TableCatalog, TableCommit } from "../../src/runtime/iceberg/catalog.ts";
import { currentSchema, currentSnapshot } from "../../src/runtime/iceberg/metadata.ts";
import { readTable } from "../../src/runtime/iceberg/read.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { Body, ObjectStore, Written } from "../../src/runtime/storage/port.ts";
import { icebirdRows, rowSet } from "./readers.ts";

const days = daily({ start: "2026-11-01", end: "2026-11-02" });
const Event = Type.Object({
  id: Type.String(),
  ts: Type.String({ format: "date-time" }),
  amount: Type.Integer(),
});
const events = source("events", { schema: Event, eventId: "id", eventTime: "ts", partitions: days });
const Totals = Type.Object({ day: Type.String({ format: "date" }), total: Type.Integer() });
const graphOf = (sql = "SELECT CAST(ts AS DATE) AS day, sum(amount) AS total FROM events GROUP BY ALL") =>
  defineGraph([events, asset("totals", { deps: [events], schema: Totals, partitions: days, sql })]);
const line = (id: string, at: string, amount: number) => JSON.stringify({ id, ts: at, amount });

/** A local store whose puts fail, once each, where `failOn` says: a crash at that moment. */
class Crashing implements ObjectStore {
  readonly uri: string;
  readonly inner: LocalStore;
  failOn: ((key: string, opts?: { ifAbsent?: boolean }) => boolean) | undefined;
  constructor(inner: LocalStore) {
    this.inner = inner;
    this.uri = inner.uri;
  }
  async put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    if (this.failOn?.(key, opts)) {
      this.failOn = undefined;
      throw new Error(`crash before writing ${key}`);
    }
    return this.inner.put(key, body, opts);
  }
  get = (key: string) => this.inner.get(key);
  read = (key: string) => this.inner.read(key);
  head = (key: string) => this.inner.head(key);
  list = (prefix: string) => this.inner.list(prefix);
  delete = (key: string) => this.inner.delete(key);
  localPath = (key: string) => this.inner.localPath(key);
}

let dir: string;
let local: LocalStore;
let store: Crashing;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-engine-tables-"));
  local = new LocalStore(dir);
  store = new Crashing(local);
  const lines = [line("e1", "2026-11-01T10:00:00Z", 40), line("e2", "2026-11-02T10:00:00Z", 5)];
  await ingest(local, events, [{ name: "events.ndjson", stream: Readable.from([`${lines.join("\n")}\n`]) }]);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** What each view says of totals: the record's data version per partition, `query`'s rows, icebird's rows. */
async function views(graph = graphOf()) {
  const state = new StoreState(local);
  const a = graph.get("totals") as Parameters<typeof readTable>[2];
  const versions = await Promise.all(
    ["2026-11-01", "2026-11-02"].map(async (p) => (await state.manifest(a, p))?.dataVersion ?? null),
  );
  const latest = await state.tables.latest("totals");
  const scratch = new Scratch(local);
  const read = await readTable(state, scratch, a, undefined);
  const duck = await Duck.open();
  try {
    const rows = read ? rowSet(await duck.jsonRows(read.sql), currentSchema(latest!.metadata)) : [];
    return {
      versions,
      rows,
      icebird: latest ? await icebirdRows(state.tables.table("totals").location) : [],
      unsettled: state.unsettled(),
    };
  } finally {
    duck.close();
  }
}

describe("a crash at each moment of a partition's commit", () => {
  it("after the table's commit, before the record is settled: both views show the commit; the next run settles it", async () => {
    await materialize(graphOf(), store);
    const before = await views();
    // The changed code's commit of 2026-11-01 lands in the table; the process dies before settling the record.
    const graph = graphOf(
      "SELECT CAST(ts AS DATE) AS day, sum(amount) * 2 AS total FROM events GROUP BY ALL",
    );
    // The record file is written twice: with the pending record before the commit, settled after it.
    let writes = 0;
    store.failOn = (key) => key === "_manifests/totals/2026-11-01/manifest.json" && ++writes === 2;
    await expect(
      materialize(graph, store, { partition: "2026-11-01", outbox: new Outbox(store) }),
    ).rejects.toThrow("crash before writing _manifests/totals/2026-11-01/manifest.json");
    const file = await readRecordFile(local, "_manifests/totals/2026-11-01/manifest.json");
    expect([file?.committed?.dataVersion, file?.pending?.dataVersion !== undefined]).toEqual([
      before.versions[0],
      true,
    ]);
    const after = await views(graph);
    // Every reader takes the pending record as committed: its snapshot is in the table.
    expect(after.versions[0]).toBe(file!.pending!.dataVersion);
    expect(after.versions[1]).toBe(before.versions[1]);
    expect(after.rows).toEqual(['{"day":"2026-11-01","total":"80"}', '{"day":"2026-11-02","total":"5"}']);
    expect(after.icebird).toEqual(after.rows);
    expect(after.unsettled).toEqual([{ asset: "totals", partition: "2026-11-01" }]);
    // The announcement the commit owes is owed: its record is committed, though not yet settled.
    const owed = await new Outbox(local).scan("totals");
    expect(owed.map((e) => [e.state, e.state === "owed" ? e.entry.dataVersion : undefined])).toEqual([
      ["owed", file!.pending!.dataVersion],
    ]);
    // The next run finds it fresh and settles it.
    const next = await materialize(graph, store, { partition: "2026-11-01" });
    expect(next.counts).toEqual({ materialized: 0, fresh: 1, failed: 0, skipped: 0 });
    const settled = await readRecordFile(local, "_manifests/totals/2026-11-01/manifest.json");
    expect([settled?.committed?.dataVersion, settled?.pending]).toEqual([
      file!.pending!.dataVersion,
      undefined,
    ]);
  });

  it("before the table's commit: both views show the old data; the next run commits it", async () => {
    await materialize(graphOf(), store);
    const before = await views();
    const graph = graphOf(
      "SELECT CAST(ts AS DATE) AS day, sum(amount) * 2 AS total FROM events GROUP BY ALL",
    );
    const prior = await readRecordFile(local, "_manifests/totals/2026-11-01/manifest.json");
    store.failOn = (key, opts) => key.startsWith("curated/totals/metadata/v") && opts?.ifAbsent === true;
    await expect(materialize(graph, store, { partition: "2026-11-01" })).rejects.toThrow(
      "crash before writing curated/totals/metadata/v3.metadata.json",
    );
    const file = await readRecordFile(local, "_manifests/totals/2026-11-01/manifest.json");
    // The new record waits beside the committed one, which is still the last run's.
    expect([file?.pending?.asset, file?.pending?.partition, file?.committed]).toEqual([
      "totals",
      "2026-11-01",
      prior?.committed,
    ]);
    expect(file?.pending?.dataVersion).not.toBe(prior?.committed?.dataVersion);
    const after = await views(graph);
    expect({ ...after, unsettled: after.unsettled.length }).toEqual({ ...before, unsettled: 0 });
    const state = new StoreState(local);
    const plan = await steps(graph, state, { partition: "2026-11-01" });
    expect(plan.map((s) => [s.asset, s.action])).toEqual([["totals", "run"]]);
    const next = await materialize(graph, store, { partition: "2026-11-01" });
    expect(next.counts).toEqual({ materialized: 1, fresh: 0, failed: 0, skipped: 0 });
    expect((await views(graph)).rows).toEqual([
      '{"day":"2026-11-01","total":"80"}',
      '{"day":"2026-11-02","total":"5"}',
    ]);
  });
});

/** A catalog that records what it is told, and can be made to fail. */
class RecordingCatalog implements TableCatalog {
  readonly told: TableCommit[] = [];
  failing = false;
  async publish(commit: TableCommit): Promise<void> {
    if (this.failing) throw new Error("the catalog is unreachable");
    this.told.push(commit);
  }
}

describe("the stack's catalog", () => {
  it("is told of every commit, with the table's names, location and metadata files", async () => {
    const catalog = new RecordingCatalog();
    const ref = { kind: "glue", region: "eu-west-1", account: "123456789012", database: "trib_dev" } as const;
    await materialize(graphOf(), store, { catalog, catalogRef: ref });
    const latest = (await new StoreState(local).tables.latest("totals"))!;
    const location = `${local.uri}/curated/totals`;
    expect(catalog.told.map((c) => ({ ...c, schema: c.schema["schema-id"] }))).toEqual([
      {
        namespace: "trib_dev",
        name: "totals",
        location,
        metadataLocation: `${location}/metadata/v1.metadata.json`,
        version: 1,
        snapshotId: String(latest.metadata.snapshots[0]!["snapshot-id"]),
        schema: 0,
      },
      {
        namespace: "trib_dev",
        name: "totals",
        location,
        metadataLocation: `${location}/metadata/v2.metadata.json`,
        previousMetadataLocation: `${location}/metadata/v1.metadata.json`,
        version: 2,
        snapshotId: String(latest.metadata.snapshots[1]!["snapshot-id"]),
        schema: 0,
      },
    ]);
    expect(catalog.told[1]!.schema).toEqual(currentSchema(latest.metadata));
  });

  it("unreachable: the commit stands, with a warning; the next run tells it the latest version", async () => {
    const catalog = new RecordingCatalog();
    catalog.failing = true;
    const r = await materialize(graphOf(), store, { catalog });
    expect(
      r.outcomes.map((o) => [o.item.partition, o.status, "warning" in o ? o.warning : undefined]),
    ).toEqual([
      [
        "2026-11-01",
        "materialized",
        "totals: committed to its table (version 1), but the catalog was not told: the catalog is unreachable; the next run tells it",
      ],
      [
        "2026-11-02",
        "materialized",
        "totals: committed to its table (version 2), but the catalog was not told: the catalog is unreachable; the next run tells it",
      ],
    ]);
    catalog.failing = false;
    const next = await materialize(graphOf(), store, { catalog });
    expect(next.counts).toEqual({ materialized: 0, fresh: 2, failed: 0, skipped: 0 });
    expect(catalog.told.map((c) => [c.namespace, c.version])).toEqual([
      ["curated", 2],
      ["curated", 2],
    ]);
    expect((await views()).unsettled).toEqual([]);
  });
});

describe("a change of an asset's schema", () => {
  it("evolves its table: a new schema keeping the ids, old files read with the new column null", async () => {
    await materialize(graphOf(), store);
    const Wider = Type.Object({
      day: Type.String({ format: "date" }),
      total: Type.Integer(),
      note: Type.Union([Type.String(), Type.Null()]),
    });
    const wider = defineGraph([
      events,
      asset("totals", {
        deps: [events],
        schema: Wider,
        partitions: days,
        sql: "SELECT CAST(ts AS DATE) AS day, sum(amount) AS total, 'new' AS note FROM events GROUP BY ALL",
      }),
    ]);
    await materialize(wider, store, { partition: "2026-11-02" });
    const latest = (await new StoreState(local).tables.latest("totals"))!;
    expect(
      latest.metadata.schemas.map((s) => [s["schema-id"], s.fields.map((f) => `${f.id}:${f.name}`)]),
    ).toEqual([
      [0, ["1:day", "2:total"]],
      [1, ["1:day", "2:total", "3:note"]],
    ]);
    expect(currentSnapshot(latest.metadata)!["schema-id"]).toBe(1);
    expect((await views(wider)).rows).toEqual([
      '{"day":"2026-11-01","total":"40","note":null}',
      '{"day":"2026-11-02","total":"5","note":"new"}',
    ]);
    expect((await views(wider)).icebird).toEqual((await views(wider)).rows);
  });

  it("a record committed before its asset was a table is materialised again into its table", async () => {
    await materialize(graphOf(), store);
    const key = "_manifests/totals/2026-11-01/manifest.json";
    const { snapshot: _s, ...legacy } = (await readRecordFile(local, key))!.committed!;
    await local.put(key, JSON.stringify(legacy));
    const plan = await steps(graphOf(), new StoreState(local), {});
    expect(plan.map((s) => [s.asset, s.partition, s.action, s.reason])).toEqual([
      ["totals", "2026-11-01", "run", "committed before curated assets were Iceberg tables"],
      ["totals", "2026-11-02", "skip", "fresh"],
    ]);
  });
});
