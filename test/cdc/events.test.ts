/**
 * What ingest makes of each kind of Debezium event: every fixture of ../shared/fixtures/cdc accepted, the
 * `{schema, payload}` envelope landed as its payload, truncates recorded and applied, every schema error
 * of a record given, new columns proposed, events past the horizon quarantined.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  asset,
  DeclarationError,
  daily,
  debezium,
  defineGraph,
  dep,
  latest,
  mapping,
  multiPartitions,
  source,
  staticPartitions,
  Type,
} from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import type { BatchManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

const FIXTURES = join(import.meta.dirname, "../../../shared/fixtures/cdc");

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
const CustomerRow = Type.Object({
  id: Type.Integer(),
  first_name: Type.String(),
  last_name: Type.String(),
  email: Type.String(),
});
const customers = source("customers", {
  cdc: debezium.postgres({ table: "public.customers", key: ["id"], row: CustomerRow }),
  partitions: daily({ start: "2019-05-01" }),
});

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-cdc-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A pretty-printed fixture as the one line a stream carries: its bytes with the line breaks and indentation taken out. */
async function fixtureLine(name: string): Promise<string> {
  return (await readFile(join(FIXTURES, name), "utf8")).replace(/\n\s*/g, "");
}

async function ingestLines(
  into: Parameters<typeof ingest>[1],
  lines: readonly string[],
  opts: Parameters<typeof ingest>[3] = {},
  name = "events.ndjson",
) {
  const file = join(dir, name);
  await writeFile(file, `${lines.join("\n")}\n`);
  return ingest(store, into, [file], opts);
}

async function quarantined(m: BatchManifest): Promise<{ line: number; reason: string }[]> {
  const body = (await store.get(m.quarantine!.key))!.toString("utf8");
  return body
    .split("\n")
    .slice(0, -1)
    .map((l) => JSON.parse(l) as { line: number; reason: string })
    .map(({ line, reason }) => ({ line, reason }));
}

async function landed(m: BatchManifest): Promise<string[]> {
  const out: string[] = [];
  for (const f of m.files) {
    // Raw objects are gzip-compressed NDJSON.
    const body = gunzipSync((await store.get(f.key))!);
    out.push(...body.toString("utf8").split("\n").slice(0, -1));
  }
  return out;
}

/** The rows of an asset partition's Parquet, ordered by `order`. */
async function rowsOf(a: Parameters<StoreState["manifest"]>[0], partition: string, order: string) {
  const manifest = (await new StoreState(store).manifest(a, partition))!;
  // A partition without rows commits no data file (its table's snapshot deletes the partition's files).
  if (manifest.files.length === 0) return [];
  const duck = await Duck.open();
  try {
    const files = manifest.files.map((f) => `'${join(dir, "store", f.key)}'`);
    const reader = await duck.connection.runAndReadAll(
      `SELECT * FROM read_parquet([${files.join(", ")}]) ORDER BY ${order}`,
    );
    return reader.getRowObjectsJson();
  } finally {
    duck.close();
  }
}

/** A products event at `lsn` (JSON text, Debezium's field order). */
function productEvent(
  op: string,
  lsn: number,
  row: Record<string, unknown> | null,
  before: Record<string, unknown> | null = null,
): string {
  return JSON.stringify({
    before,
    after: row,
    source: {
      version: "2.7.0.Final",
      connector: "postgresql",
      name: "fullfillment",
      ts_ms: 1596020000000 + lsn,
      snapshot: op === "r" ? "true" : "false",
      db: "postgres",
      sequence: `["${lsn - 8}","${lsn}"]`,
      ts_us: (1596020000000 + lsn) * 1000,
      ts_ns: (1596020000000 + lsn) * 1000000,
      schema: "inventory",
      table: "products",
      txId: 700 + lsn,
      lsn,
      xmin: null,
    },
    transaction: null,
    op,
    ts_ms: 1596020000100 + lsn,
  });
}

describe("every fixture of Debezium's Postgres connector", () => {
  it("is accepted: the single events, the {schema, payload} envelopes and the truncate", async () => {
    const productsLines = await Promise.all(
      ["read", "create", "update", "delete", "read.schema-envelope"].map((n) =>
        fixtureLine(`debezium-postgres-${n}.json`),
      ),
    );
    const p = await ingestLines(products, productsLines);
    // The read and its {schema, payload} form are one change: the second is a duplicate.
    expect(p.manifest.counts).toEqual({ read: 5, written: 4, quarantined: 0, duplicates: 1 });
    const c = await ingestLines(customers, [
      await fixtureLine("debezium-postgres-create.schema-envelope.json"),
      await fixtureLine("debezium-postgres-truncate.json"),
    ]);
    expect(c.manifest.counts).toEqual({ read: 2, written: 2, quarantined: 0, duplicates: 0 });
  });

  it("lands a {schema, payload} envelope as the bytes of its payload, so raw has one shape", async () => {
    const line = await fixtureLine("debezium-postgres-create.schema-envelope.json");
    const m = (await ingestLines(customers, [line])).manifest;
    const payloadAt = line.indexOf('"payload": ') + '"payload": '.length;
    expect(await landed(m)).toEqual([line.slice(payloadAt, -1)]);
    expect(JSON.parse((await landed(m))[0]!).after).toEqual({
      id: 1,
      first_name: "Anne",
      last_name: "Kretchmar",
      email: "annek@noanswer.org",
    });
  });

  it("gives the same verdicts on worker threads as on this one", async () => {
    const lines = (await readFile(join(FIXTURES, "flink-debezium-postgres.ndjson"), "utf8"))
      .split("\n")
      .filter(Boolean);
    const envelope = await fixtureLine("debezium-postgres-read.schema-envelope.json");
    const bad = productEvent("u", 34200000, { id: 200, name: 5, description: null });
    const one = await ingestLines(products, [...lines, envelope, bad], { workers: 0 });
    const onThread = { landed: await landed(one.manifest), quarantined: await quarantined(one.manifest) };
    store = new LocalStore(join(dir, "second"));
    const two = await ingestLines(products, [...lines, envelope, bad], { workers: 2 });
    expect(two.workers).toBe(2);
    expect(two.manifest.counts).toEqual(one.manifest.counts);
    expect(two.manifest.counts).toEqual({ read: 18, written: 16, quarantined: 1, duplicates: 1 });
    expect({ landed: await landed(two.manifest), quarantined: await quarantined(two.manifest) }).toEqual(
      onThread,
    );
  });
});

describe("what ingest quarantines of a CDC source, and why", () => {
  it("gives every schema error of a record, capped at eight", async () => {
    const m = (
      await ingestLines(products, [
        productEvent("c", 34200000, { id: "201", name: 5, description: null }),
        productEvent(
          "c",
          34200008,
          { id: 202, name: "x", description: 7, weight: "heavy" },
          { id: 202, name: 1, weight: "light" },
        ),
        productEvent("c", 34200016, {}),
        JSON.stringify({ op: "x", source: { connector: "postgresql", ts_ms: "now" }, after: 1 }),
        productEvent("u", 34200024, null),
        productEvent("d", 34200032, null, { name: "gone" }),
        productEvent("c", 34200040, { id: 203, name: "x", description: null, weight: 1 }).replace(
          '"table":"products"',
          '"table":"orders"',
        ),
      ])
    ).manifest;
    expect(m.counts).toEqual({ read: 7, written: 0, quarantined: 7, duplicates: 0 });
    expect(await quarantined(m)).toEqual([
      {
        line: 1,
        reason:
          "/after must have required property 'weight'; /after/id must be integer; /after/name must be string",
      },
      {
        line: 2,
        reason:
          "/after/description must be string or null; /after/weight must be number; /before/name must be string or null; /before/weight must be number or null",
      },
      {
        line: 3,
        reason:
          "/after must have required property 'id'; /after must have required property 'name'; /after must have required property 'description'; /after must have required property 'weight'",
      },
      {
        line: 4,
        reason:
          "/after must be object or null; /source must have required property 'version'; /source must have required property 'name'; /source must have required property 'db'; /source must have required property 'table'; /source must have required property 'schema'; /source must have required property 'lsn'; /source/ts_ms must be integer; … and 1 more",
      },
      { line: 5, reason: '/after must be an object for op "u" (the row after the change)' },
      { line: 6, reason: "/before/id is required: it says which row was deleted" },
      { line: 7, reason: "the event is of table inventory.orders, not of inventory.products" },
    ]);
  });

  it("quarantines events dated after now + the horizon, as before the first partition", async () => {
    const lines = [productEvent("c", 100, { id: 1, name: "a", description: null, weight: 1 })];
    const event = "1596020000100 (2020-07-29T10:53:20.100Z)";
    // Now is two days before the event: past the default horizon of one day.
    const early = await ingestLines(products, lines, { now: () => new Date("2020-07-27T12:00:00Z") });
    expect(await quarantined(early.manifest)).toEqual([
      {
        line: 1,
        reason: `event time ${event} is in partition 2020-07-29, after the last partition products can have now (2020-07-28, now + its horizon 1d)`,
      },
    ]);
    const onTime = await ingestLines(products, lines, { now: () => new Date("2020-07-28T12:00:00Z") });
    expect(onTime.manifest.counts.written).toBe(1);
    // A declared horizon; and a plain (non-CDC) source is held to it too.
    const plain = source("plain", {
      schema: Type.Object({ id: Type.String(), at: Type.String({ format: "date-time" }) }),
      eventId: "id",
      eventTime: "at",
      partitions: daily({ start: "2026-11-01" }),
      horizon: "2h",
    });
    const m = (
      await ingestLines(
        plain,
        [
          JSON.stringify({ id: "a", at: "2026-11-28T23:59:00Z" }),
          JSON.stringify({ id: "b", at: "2026-11-29T00:00:00Z" }),
        ],
        { now: () => new Date("2026-11-28T21:30:00Z") },
      )
    ).manifest;
    expect(m.counts).toEqual({ read: 2, written: 1, quarantined: 1, duplicates: 0 });
    expect(await quarantined(m)).toEqual([
      {
        line: 2,
        reason:
          "event time 2026-11-29T00:00:00Z is in partition 2026-11-29, after the last partition plain can have now (2026-11-28, now + its horizon 2h)",
      },
    ]);
    const tooEarly = await ingestLines(products, [
      productEvent("c", -1_500_000_000_000, { id: 1, name: "a", description: null, weight: 1 }),
    ]);
    expect(await quarantined(tooEarly.manifest)).toEqual([
      {
        line: 1,
        reason:
          "event time 96020000000 (1973-01-16T08:13:20.000Z) is in partition 1973-01-16, before the first partition of products (2020-07-01)",
      },
    ]);
  });
});

describe("schema evolution", () => {
  it("accepts a new column and records it as a proposed schema change; a changed type or a dropped column is quarantined", async () => {
    const m = (
      await ingestLines(products, [
        productEvent("c", 100, { id: 1, name: "a", description: null, weight: 1 }),
        productEvent("c", 108, { id: 2, name: "b", description: null, weight: 2, color: "red" }),
        productEvent("u", 116, { id: 2, name: "b", description: null, weight: 2, color: null, tags: ["x"] }),
        productEvent("c", 124, { id: 3, name: "c", description: null, weight: "heavy", color: "blue" }),
        productEvent("c", 132, { id: 4, name: "d", description: null }),
      ])
    ).manifest;
    expect(m.counts).toEqual({ read: 5, written: 3, quarantined: 2, duplicates: 0 });
    expect(m.schemaChanges).toEqual([
      {
        column: "color",
        types: ["string", "null"],
        count: 2,
        first: { file: join(dir, "events.ndjson"), line: 2 },
      },
      { column: "tags", types: ["array"], count: 1, first: { file: join(dir, "events.ndjson"), line: 3 } },
    ]);
    expect(await quarantined(m)).toEqual([
      { line: 4, reason: "/after/weight must be number" },
      { line: 5, reason: "/after must have required property 'weight'" },
    ]);
  });
});

describe("truncates", () => {
  it("are recorded, and latest() keeps only what changed after them", async () => {
    const truncate = (await fixtureLine("debezium-postgres-truncate.json"))
      .replace('"schema": "public"', '"schema": "inventory"')
      .replace('"table": "customers"', '"table": "products"')
      .replace('"ts_ms": 1559033904863', '"ts_ms": 1596020000150')
      .replace('"lsn": 46523128', '"lsn": 150');
    const m = (
      await ingestLines(products, [
        productEvent("r", 100, { id: 1, name: "a", description: null, weight: 1 }),
        productEvent("r", 100, { id: 2, name: "b", description: null, weight: 2 }),
        productEvent("c", 120, { id: 3, name: "c", description: null, weight: 3 }),
        truncate,
        productEvent("c", 200, { id: 2, name: "b again", description: "after the truncate", weight: 2.5 }),
      ])
    ).manifest;
    expect(m.counts).toEqual({ read: 5, written: 5, quarantined: 0, duplicates: 0 });
    const now = asset("products_now", {
      deps: [products],
      schema: Type.Object({ ...ProductRow.properties, changed_at: Type.String({ format: "date-time" }) }),
      sql: latest(products, { changedAt: "changed_at" }),
    });
    await materialize(defineGraph([products, now]), store, { runId: "r1" });
    expect(await rowsOf(now, "", "id")).toEqual([
      {
        id: "2",
        name: "b again",
        description: "after the truncate",
        weight: 2.5,
        changed_at: "2020-07-29 10:53:20.2+00",
      },
    ]);
  });

  it("of a table whose tenant is a column land in every tenant's partition, and empty each (and so do deletes naming no tenant)", async () => {
    const Row = Type.Object({ id: Type.Integer(), tenant_id: Type.String(), total: Type.Integer() });
    const tenants = staticPartitions("tenant", ["acme", "globex"]);
    const orders = source("orders", {
      cdc: debezium.postgres({
        table: "public.orders",
        key: ["id"],
        row: Row,
        tenant: { column: "tenant_id" },
      }),
      partitions: multiPartitions(daily({ start: "2020-07-01" }), tenants),
    });
    const event = (op: string, lsn: number, row: Record<string, unknown> | null) =>
      productEvent(op, lsn, row).replace(
        '"schema":"inventory","table":"products"',
        '"schema":"public","table":"orders"',
      );
    const m = (
      await ingestLines(orders, [
        event("c", 100, { id: 1, tenant_id: "acme", total: 10 }),
        event("c", 110, { id: 2, tenant_id: "globex", total: 20 }),
        event("t", 120, null).replace('"before":null,"after":null,', ""),
        event("c", 130, { id: 3, tenant_id: "globex", total: 30 }),
        event("c", 140, { id: 4, tenant_id: "acme", total: 40 }),
        // A delete whose before holds only the key (REPLICA IDENTITY DEFAULT) names no tenant: it lands
        // in every tenant's partition, and removes id 4 from acme's.
        event("d", 150, null).replace('"before":null', '"before":{"id":4,"tenant_id":null,"total":null}'),
      ])
    ).manifest;
    expect(m.counts).toEqual({ read: 6, written: 6, quarantined: 0, duplicates: 0 });
    expect(m.files.map((f) => [f.partition, f.rows])).toEqual([
      ["2020-07-29|acme", 4],
      ["2020-07-29|globex", 4],
    ]);
    const perTenant = asset("orders_now", {
      deps: [dep(orders, { partitions: mapping.allTime() })],
      schema: Row,
      partitions: tenants,
      sql: latest(orders),
    });
    await materialize(defineGraph([orders, perTenant]), store, { runId: "r1" });
    expect(await rowsOf(perTenant, "acme", "id")).toEqual([]);
    expect(await rowsOf(perTenant, "globex", "id")).toEqual([{ id: "3", tenant_id: "globex", total: "30" }]);
    const bad = (
      await ingestLines(orders, [
        event("c", 160, { id: 5, tenant_id: "umbrella", total: 1 }),
        event("d", 170, null).replace('"before":null', '"before":{"id":5,"tenant_id":7}'),
      ])
    ).manifest;
    expect(await quarantined(bad)).toEqual([
      { line: 1, reason: 'tenant "umbrella" is not a partition of orders (acme, globex)' },
      { line: 2, reason: "/before/tenant_id must be string or null" },
    ]);
  });
});

describe("Debezium's MySQL connector", () => {
  const Row = Type.Object({ id: Type.Integer(), sku: Type.String(), qty: Type.Integer() });
  const stock = source("stock", {
    cdc: debezium.mysql({ table: "inventory.stock", key: ["id"], row: Row, tenant: { database: true } }),
    partitions: daily({ start: "2021-03-01" }),
  });
  /** A MySQL change event as Debezium's documentation shows one, at binlog `file`/`pos`/`row`. */
  const event = (
    db: string,
    op: string,
    [file, pos, row]: [string, number, number],
    after: Record<string, unknown> | null,
    before: Record<string, unknown> | null = null,
  ) =>
    JSON.stringify({
      before,
      after,
      source: {
        version: "2.7.0.Final",
        connector: "mysql",
        name: "dbserver1",
        ts_ms: 1615928467000 + pos,
        snapshot: op === "r" ? "true" : "false",
        db,
        table: "stock",
        server_id: 223344,
        gtid: null,
        file,
        pos,
        row,
        thread: op === "r" ? null : 36,
        query: null,
      },
      op,
      ts_ms: 1615928467236 + pos,
      transaction: null,
    });

  it("orders changes by binlog file number, position and row, per tenant database", async () => {
    const snapshot: [string, number, number] = ["mysql-bin.999999", 154, 0];
    const m = (
      await ingestLines(stock, [
        // The newest first: arrival order must not matter.
        event("shop_acme", "d", ["mysql-bin.1000000", 4, 0], null, { id: 1, sku: "a", qty: 7 }),
        event(
          "shop_acme",
          "u",
          ["mysql-bin.999999", 900, 1],
          { id: 2, sku: "b", qty: 5 },
          { id: 2, sku: "b", qty: 4 },
        ),
        event(
          "shop_acme",
          "u",
          ["mysql-bin.999999", 900, 0],
          { id: 1, sku: "a", qty: 7 },
          { id: 1, sku: "a", qty: 1 },
        ),
        event(
          "shop_acme",
          "u",
          ["mysql-bin.999999", 500, 0],
          { id: 2, sku: "b", qty: 3 },
          { id: 2, sku: "b", qty: 2 },
        ),
        // A snapshot's reads share one position; the key tells them apart.
        event("shop_acme", "r", snapshot, { id: 1, sku: "a", qty: 1 }),
        event("shop_acme", "r", snapshot, { id: 2, sku: "b", qty: 2 }),
        event("shop_globex", "r", snapshot, { id: 1, sku: "g", qty: 9 }),
        event("shop_globex", "t", ["mysql-bin.999999", 700, 0], null).replace(
          '"before":null,"after":null,',
          "",
        ),
        event("shop_globex", "c", ["mysql-bin.999999", 800, 0], { id: 5, sku: "h", qty: 1 }),
        event("shop_acme", "c", ["mysql-bin", 1, 0], { id: 9, sku: "x", qty: 1 }),
      ])
    ).manifest;
    expect(m.counts).toEqual({ read: 10, written: 9, quarantined: 1, duplicates: 0 });
    expect(await quarantined(m)).toEqual([
      {
        line: 10,
        reason:
          '/source/file "mysql-bin" must end with the binlog file\'s sequence number, which orders changes',
      },
    ]);
    const now = asset("stock_now", {
      deps: [stock],
      schema: Type.Object({ tenant: Type.String(), ...Row.properties }),
      sql: latest(stock),
    });
    await materialize(defineGraph([stock, now]), store, { runId: "r1" });
    expect(await rowsOf(now, "", "tenant, id")).toEqual([
      { tenant: "shop_acme", id: "2", sku: "b", qty: "5" },
      { tenant: "shop_globex", id: "5", sku: "h", qty: "1" },
    ]);
  });

  it("refuses a latest() column that collides with the row's", () => {
    const clash = source("clash", {
      cdc: debezium.mysql({
        table: "inventory.clash",
        key: ["id"],
        row: Type.Object({ id: Type.Integer(), tenant: Type.String() }),
        tenant: { database: true },
      }),
    });
    expect(() => latest(clash)).toThrow(
      new DeclarationError(
        'latest(): source "clash": its row has a column "tenant" already, which latest() would add for the tenant database (source.db).',
        ["clash"],
      ),
    );
  });
});
