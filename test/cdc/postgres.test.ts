/**
 * Acceptance: Debezium's own Postgres events (../shared/fixtures/cdc/, captured by Flink's tests from a
 * real connector) ingest unchanged into a graph declared as docs/cdc.md declares it, and latest() over
 * them is the table Postgres holds after the 16 changes, whatever order the lines arrive in.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asset, daily, debezium, defineGraph, latest, source, Type } from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

const FIXTURES = join(import.meta.dirname, "../../../shared/fixtures/cdc");
const FLINK = join(FIXTURES, "flink-debezium-postgres.ndjson");

// The graph of docs/cdc.md.
const ProductRow = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  weight: Type.Number(),
});
const products = source("products", {
  cdc: debezium.postgres({ table: "inventory.products", key: ["id"], row: ProductRow }),
  partitions: daily({ start: "2020-07-01" }),
});
const productsNow = asset("products_now", { deps: [products], schema: ProductRow, sql: latest(products) });
const graph = defineGraph([products, productsNow]);

/**
 * What Postgres holds after the 16 changes, read off the fixture: the nine snapshot rows (101–109), 106's
 * description and 107's weight updated, 110 created and updated, 111 created, updated and deleted.
 */
const TABLE = [
  { id: 101, name: "scooter", description: "Small 2-wheel scooter", weight: 3.14 },
  { id: 102, name: "car battery", description: "12V car battery", weight: 8.1 },
  {
    id: 103,
    name: "12-pack drill bits",
    description: "12-pack of drill bits with sizes ranging from #40 to #3",
    weight: 0.8,
  },
  { id: 104, name: "hammer", description: "12oz carpenter's hammer", weight: 0.75 },
  { id: 105, name: "hammer", description: "14oz carpenter's hammer", weight: 0.875 },
  { id: 106, name: "hammer", description: "18oz carpenter hammer", weight: 1 },
  { id: 107, name: "rocks", description: "box of assorted rocks", weight: 5.1 },
  { id: 108, name: "jacket", description: "water resistent black wind breaker", weight: 0.1 },
  { id: 109, name: "spare tire", description: "24 inch spare tire", weight: 22.2 },
  { id: 110, name: "jacket", description: "new water resistent white wind breaker", weight: 0.5 },
];

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-cdc-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The rows of products_now, by id. */
async function productsNowRows(): Promise<unknown[]> {
  const state = new StoreState(store);
  const manifest = (await state.manifest(productsNow, ""))!;
  const duck = await Duck.open();
  try {
    const files = manifest.files.map((f) => join(dir, "store", f.key));
    const reader = await duck.connection.runAndReadAll(
      `SELECT * FROM read_parquet([${files.map((f) => `'${f}'`).join(", ")}]) ORDER BY id`,
    );
    return reader.getRowObjectsJS().map((r) => ({ ...r, id: Number(r.id) }));
  } finally {
    duck.close();
  }
}

/** A permutation of `items` from a seeded generator (mulberry32). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("Debezium's Postgres events", () => {
  it("ingest unchanged: 16 read, 16 written, 0 quarantined, landed byte for byte", async () => {
    const result = await ingest(store, products, [FLINK]);
    expect(result.manifest.counts).toEqual({ read: 16, written: 16, quarantined: 0, duplicates: 0 });
    expect(result.manifest.files.map((f) => [f.partition, f.rows])).toEqual([["2020-07-29", 16]]);
    expect(await store.get(result.manifest.files[0]!.key)).toEqual(await readFile(FLINK));
    expect(result.manifest.schemaChanges).toBeUndefined();
  });

  it("latest() is the table Postgres holds after the 16 changes", async () => {
    await ingest(store, products, [FLINK]);
    const run = await materialize(graph, store, { runId: "run-1" });
    expect(run.counts).toMatchObject({ materialized: 1, failed: 0 });
    expect(await productsNowRows()).toEqual(TABLE);
  });

  it("latest() is the same whatever order the lines arrive in, in one batch or in many", async () => {
    const lines = (await readFile(FLINK, "utf8")).split("\n").filter((l) => l !== "");
    for (const seed of [1, 2, 3, 42]) {
      await rm(join(dir, "store"), { recursive: true, force: true });
      const order = shuffled(lines, seed);
      // Half the seeds as one batch, half as four batches in the shuffled order.
      const batches =
        seed % 2 === 0
          ? [order]
          : [order.slice(0, 4), order.slice(4, 8), order.slice(8, 12), order.slice(12)];
      for (const [i, batch] of batches.entries()) {
        const file = join(dir, `batch-${i}.ndjson`);
        await writeFile(file, `${batch.join("\n")}\n`);
        await ingest(store, products, [file]);
      }
      await materialize(graph, store, { runId: `run-${seed}` });
      expect(await productsNowRows(), `seed ${seed}`).toEqual(TABLE);
    }
  });

  it("a redelivered change writes nothing, and a late one cannot bring back a deleted row", async () => {
    await ingest(store, products, [FLINK]);
    const lines = (await readFile(FLINK, "utf8")).split("\n");
    // 111's create and update arrive again after its delete: duplicates by event id.
    const again = join(dir, "again.ndjson");
    await writeFile(again, `${lines[12]}\n${lines[14]}\n${lines[15]}\n`);
    const redelivered = await ingest(store, products, [again]);
    expect(redelivered.manifest.counts).toEqual({ read: 3, written: 0, quarantined: 0, duplicates: 3 });
    // The same create captured twice by two connectors' runs lands twice (a different txId): the log
    // position, not arrival, still says the delete came last.
    const replayed = join(dir, "replayed.ndjson");
    await writeFile(replayed, `${lines[12]!.replace('"txId":605', '"txId":6050')}\n`);
    expect((await ingest(store, products, [replayed])).manifest.counts.written).toBe(1);
    await materialize(graph, store, { runId: "run-2" });
    expect(await productsNowRows()).toEqual(TABLE);
  });
});
