/**
 * Compaction (runtime/engine/compact.ts): a partition whose folder holds many small files, as another
 * writer of the table leaves it, is rewritten as one file in a "replace" snapshot; the rows, the record's
 * data version and every other partition stay as they were.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { asset, daily, defineGraph, source, Type } from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { layout } from "../../src/contract/storage-layout.ts";
import { compact } from "../../src/runtime/engine/compact.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { Scratch } from "../../src/runtime/engine/files.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { maintainTables } from "../../src/runtime/engine/maintenance.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { steps } from "../../src/runtime/engine/steps.ts";
import type { TableCatalog, TableCommit } from "../../src/runtime/iceberg/catalog.ts";
import { commitTable } from "../../src/runtime/iceberg/commit.ts";
import { dataFileCopyOptions } from "../../src/runtime/iceberg/duck.ts";
import { currentSchema, currentSnapshot, newSnapshotId } from "../../src/runtime/iceberg/metadata.ts";
import { reachableKeys } from "../../src/runtime/iceberg/reachable.ts";
import { readTable } from "../../src/runtime/iceberg/read.ts";
import { metricsOf, type ReturnStatsRow } from "../../src/runtime/iceberg/stats.ts";
import { tableDefinition } from "../../src/runtime/iceberg/tables.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { cli } from "../cli/in-process.ts";
import { icebirdRows, rowSet } from "./readers.ts";

const days = daily({ start: "2026-11-01", end: "2026-11-02" });
const events = source("events", {
  schema: Type.Object({
    id: Type.String(),
    ts: Type.String({ format: "date-time" }),
    amount: Type.Integer(),
  }),
  eventId: "id",
  eventTime: "ts",
  partitions: days,
});
const totals = asset("totals", {
  deps: [events],
  schema: Type.Object({ day: Type.String({ format: "date" }), total: Type.Integer() }),
  partitions: days,
  sql: "SELECT CAST(ts AS DATE) AS day, sum(amount) AS total FROM events GROUP BY ALL",
});
const graph = defineGraph([events, totals]);

let dir: string;
let store: LocalStore;
let duck: Duck;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-compact-"));
  store = new LocalStore(dir);
  duck = await Duck.open();
  const lines = ["2026-11-01T10:00:00Z", "2026-11-02T10:00:00Z"].map((ts, i) =>
    JSON.stringify({ id: `e${i}`, ts, amount: 10 * (i + 1) }),
  );
  await ingest(store, events, [{ name: "e.ndjson", stream: Readable.from([`${lines.join("\n")}\n`]) }]);
  await materialize(graph, store);
});
afterEach(async () => {
  duck.close();
  await rm(dir, { recursive: true, force: true });
});

/** Another writer appends `n` one-row files to the 2026-11-01 partition's folder. */
async function appendSmallFiles(n: number): Promise<void> {
  const state = new StoreState(store);
  const latest = (await state.tables.latest("totals"))!;
  const schema = currentSchema(latest.metadata);
  const add = [];
  for (let i = 0; i < n; i++) {
    const key = layout.curated("totals", "2026-11-01", `other-writer-${i}`);
    await mkdir(dirname(store.localPath(key)), { recursive: true });
    const [row] = await duck.rows(
      `COPY (SELECT DATE '2026-11-01' AS day, ${i}::BIGINT AS total) TO '${store.localPath(key)}' (${dataFileCopyOptions(schema)})`,
    );
    add.push({ key, partition: "2026-11-01", metrics: metricsOf(row as unknown as ReturnStatsRow, schema) });
  }
  await commitTable(state.tables.table("totals"), {
    definition: tableDefinition(store, totals),
    partitions: days,
    replace: [],
    add,
    snapshotId: newSnapshotId(),
  });
}

/** The table's rows as query reads them, and its files by partition folder. */
async function seen() {
  const state = new StoreState(store);
  const latest = (await state.tables.latest("totals"))!;
  const read = (await readTable(state, new Scratch(store), totals, undefined))!;
  const rows = rowSet(await duck.jsonRows(read.sql), currentSchema(latest.metadata));
  const files = (await state.tables.table("totals").liveFiles(currentSnapshot(latest.metadata))).map(
    (f) => f.key,
  );
  const folder = (p: string) => files.filter((k) => k.includes(`/data/${p}/`)).sort();
  return {
    rows,
    day1: folder("2026-11-01"),
    day2: folder("2026-11-02"),
    snapshot: currentSnapshot(latest.metadata)!,
  };
}

describe("compact", () => {
  it("rewrites a partition's many small files as one, in a replace snapshot, rows and record's version unchanged", async () => {
    await appendSmallFiles(8);
    const before = await seen();
    expect([before.day1.length, before.day2.length, before.rows.length]).toEqual([9, 1, 10]);
    const recordBefore = await new StoreState(store).manifest(totals, "2026-11-01");

    const dry = await compact(graph, store, { dryRun: true });
    expect(dry).toEqual({
      compacted: [{ asset: "totals", partition: "2026-11-01", files: 9, rows: 9, bytes: expect.any(Number) }],
      busy: [],
    });
    expect(await seen()).toEqual(before);

    const done = await compact(graph, store);
    expect(done.compacted).toEqual([{ ...dry.compacted[0], into: expect.any(Number) }]);
    const after = await seen();
    expect(after.rows).toEqual(before.rows);
    expect(await icebirdRows(new StoreState(store).tables.table("totals").location)).toEqual(before.rows);
    expect(after.day2).toEqual(before.day2);
    expect(after.day1).toHaveLength(1);
    expect(after.snapshot.summary).toMatchObject({
      operation: "replace",
      "added-data-files": "1",
      "deleted-data-files": "9",
      "added-records": "9",
      "deleted-records": "9",
    });
    const record = (await new StoreState(store).manifest(totals, "2026-11-01"))!;
    expect({ ...record, files: record.files.map((f) => f.key), snapshot: record.snapshot }).toEqual({
      ...recordBefore,
      files: after.day1,
      rowCount: 9,
      snapshot: String(after.snapshot["snapshot-id"]),
    });
    // Still fresh: compaction is no change of data.
    const plan = await steps(graph, new StoreState(store));
    expect(plan.map((s) => s.action)).toEqual(["skip", "skip"]);
    // Nothing more to do.
    expect(await compact(graph, store)).toEqual({ compacted: [], busy: [] });
  });

  it("maintainTables, the stacks' nightly step: compacts, expires, removes, and tells the catalog each version", async () => {
    await appendSmallFiles(8);
    const rows = (await seen()).rows;
    const told: TableCommit[] = [];
    const catalog: TableCatalog = { namespace: "trib_dev", publish: async (c) => void told.push(c) };
    const report = await maintainTables(graph, store, { now: new Date(Date.now() + 2 * 3600_000), catalog });
    // 2 materialisations, the other writer's append and the compaction: all but the current expire.
    expect(report).toMatchObject({ compacted: 1, expired: 3 });
    expect(report.detail).toMatch(
      /^compacted 1 partition, expired 3 snapshots, removed \d+ unreferenced objects \(\d+ bytes\)$/,
    );
    expect(told.map((c) => [c.namespace, c.name, c.version])).toEqual([
      ["trib_dev", "totals", 4],
      ["trib_dev", "totals", 5],
    ]);
    const after = await seen();
    expect([after.rows, after.day1.length]).toEqual([rows, 1]);
    // What is left is what the one remaining snapshot needs.
    const table = new StoreState(store).tables.table("totals");
    expect((await store.list("curated/totals/")).map((o) => o.key)).toEqual(
      [...(await reachableKeys(table))].sort(),
    );
  });

  it("leaves partitions under the threshold alone, and refuses a threshold under 2", async () => {
    await appendSmallFiles(2);
    expect(await compact(graph, store, { minFiles: 4 })).toEqual({ compacted: [], busy: [] });
    expect(
      (await compact(graph, store, { minFiles: 3 })).compacted.map((c) => [c.partition, c.files]),
    ).toEqual([["2026-11-01", 3]]);
    const r = await cli("compact", "--min-files", "1", "--store", dir);
    expect([r.code, r.stderr]).toEqual([
      1,
      'tributary: --min-files "1" is not a whole number of at least 2.\n',
    ]);
  });
});
