import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { daily, hourly, multiPartitions, source, staticPartitions, Type } from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ordersCdc as debeziumOrders } from "../../examples/commerce/assets/commerce/index.ts";
import {
  generateSample,
  ORDER_FAULTS,
  type SampleLine,
} from "../../examples/commerce/assets/commerce/sample-data.ts";
import { layout } from "../../src/contract/storage-layout.ts";
import {
  committedBatches,
  DEFAULT_MAX_RECORD_BYTES,
  IngestError,
  ingest,
  sourcePartitions,
  sourceSpec,
} from "../../src/runtime/engine/ingest.ts";
import { eventUuid } from "../../src/runtime/engine/ingest-cdc.ts";
import {
  encodeUuid,
  isDate,
  isDateTime,
  isUuid,
  parseTimestamp,
} from "../../src/runtime/engine/ingest-formats.ts";
import { IdIndex, writeUuid } from "../../src/runtime/engine/ingest-ids.ts";
import { RecordClassifier } from "../../src/runtime/engine/ingest-validate.ts";
import { type BatchManifest, sourceDataVersion } from "../../src/runtime/engine/manifest.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

/**
 * A source of change events with their event id, time and tenant as fields (no CDC envelope to derive
 * them from): what the engine's own tests ingest by hand. The reference pipeline's Debezium source is
 * `debeziumOrders`, fed by the sample generator below.
 */
const Uuid = Type.String({ format: "uuid" });
const Timestamp = Type.String({ format: "date-time" });
const OrderRow = Type.Object(
  {
    order_id: Uuid,
    customer_id: Uuid,
    status: Type.Unsafe<string>({
      type: "string",
      enum: ["pending", "paid", "shipped", "cancelled", "refunded"],
    }),
    amount_cents: Type.Integer({ minimum: 0 }),
    currency: Type.Unsafe<string>({ type: "string", enum: ["EUR", "USD", "GBP"] }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);
const ordersCdc = source("orders_cdc", {
  schema: Type.Object(
    {
      event_id: Uuid,
      event_time: Timestamp,
      tenant_id: Type.String({ pattern: "^[a-z][a-z0-9-]*$", maxLength: 64 }),
      op: Type.Unsafe<string>({ type: "string", enum: ["c", "u", "d", "r"] }),
      before: Type.Union([OrderRow, Type.Null()]),
      after: Type.Union([OrderRow, Type.Null()]),
      source: Type.Object({ db: Type.String(), table: Type.String(), lsn: Type.Integer({ minimum: 0 }) }),
    },
    { additionalProperties: false },
  ),
  eventId: "event_id",
  eventTime: "event_time",
  tenant: "tenant_id",
  partitions: multiPartitions(
    daily({ start: "2026-11-01" }),
    staticPartitions("tenant", ["acme", "globex", "initech"]),
  ),
});

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-ingest-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** An object's text; a raw object (gzip) is decompressed, after checking that it is gzip. */
const text = async (key: string) => {
  const body = (await store.get(key))!;
  if (!key.endsWith(".gz")) return body.toString("utf8");
  expect([body[0], body[1]]).toEqual([0x1f, 0x8b]);
  return gunzipSync(body).toString("utf8");
};
const lines = async (key: string) => (await text(key)).split("\n").slice(0, -1);
const keys = async (prefix: string) => (await store.list(prefix)).map((o) => o.key);
const quarantined = async (m: BatchManifest, from: LocalStore = store) =>
  (await from.get(m.quarantine!.key))!
    .toString("utf8")
    .split("\n")
    .slice(0, -1)
    .map((l) => JSON.parse(l) as { file: string; line: number; reason: string; record: string });
const FIXED = () => new Date("2026-11-28T01:02:03.456Z");
/** What a batch manifest must record of an object: its key, size and SHA-256 (a folder keeps no checksum). */
const recorded = async (key: string, from: LocalStore = store) => {
  const bytes = (await from.get(key))!;
  return { key, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
};

/** A deterministic UUID: n in the last group. */
const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/** A valid orders_cdc event; `over` replaces top-level fields, `after` fields of the row. */
function order(n: number, over: Record<string, unknown> = {}, after: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_id: uuid(n),
    event_time: "2026-11-02T10:00:00.000Z",
    tenant_id: "acme",
    op: "c",
    before: null,
    after: {
      order_id: uuid(100_000 + n),
      customer_id: uuid(200_000 + n),
      status: "pending",
      amount_cents: 1999,
      currency: "EUR",
      created_at: "2026-11-02T10:00:00.000Z",
      updated_at: "2026-11-02T10:00:00.000Z",
      ...after,
    },
    source: { db: "shop_acme", table: "orders", lsn: n },
    ...over,
  });
}

/**
 * How the ids object holds an event id: a UUID as itself, any other id (a Debezium position) as the UUID
 * ingest hashes it to (ingest-cdc.ts `eventUuid`).
 */
function idsObjectLine(id: string): string {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return id;
  const keys = new Int32Array(4);
  eventUuid(id, keys, 0);
  const out = new Uint8Array(36);
  writeUuid(keys, 0, out, 0);
  return Buffer.from(out).toString("latin1");
}

/** The sample generator's orders_cdc lines with 5% invalid lines and 5% duplicates. */
function sample(orderLines: number, seed = 7): SampleLine[] {
  const out: SampleLine[] = [];
  for (const l of generateSample({ seed, orderLines, invalidShare: 0.05, duplicateShare: 0.05 })) {
    if (l.source === "orders_cdc") out.push(l);
  }
  return out;
}

/** The partition of a valid Debezium sample line: the day of source.ts_ms and the row's tenant. */
const partitionOf = (line: string) => {
  const e = JSON.parse(line) as {
    source: { ts_ms: number };
    after: { tenant_id: string } | null;
    before: { tenant_id: string } | null;
  };
  return `${new Date(e.source.ts_ms).toISOString().slice(0, 10)}|${(e.after ?? e.before)!.tenant_id}`;
};

/**
 * The reason the source's classifier gives a line on its own: what ingest must quarantine it with, at
 * its line, whichever thread classified it and however its input was cut into blocks. (The reasons'
 * wording is tested with the classifier, test/cdc/.)
 */
let classifier: RecordClassifier | undefined;
function verdictOf(line: string): ReturnType<RecordClassifier["check"]> {
  classifier ??= new RecordClassifier(sourceSpec(debeziumOrders, DEFAULT_MAX_RECORD_BYTES, "fast", FIXED()));
  return classifier.check(line);
}
function expectedReason(l: SampleLine): string {
  const verdict = verdictOf(l.line);
  if (!("reason" in verdict)) throw new Error(`sample line is valid: ${l.line}`);
  return verdict.reason;
}

describe("ingest of generated CDC events (5% invalid, 5% duplicates)", () => {
  it("counts every line, quarantines every invalid one with its reason and lands the rest by day and tenant", async () => {
    const sampleLines = sample(3000);
    const path = join(dir, "orders.ndjson");
    await writeFile(path, sampleLines.map((l) => `${l.line}\n`).join(""));
    const stats = { valid: 0, invalid: 0, duplicate: 0 };
    for (const l of sampleLines) stats[l.kind]++;
    expect(stats.invalid).toBe(150);
    expect(stats.duplicate).toBe(150);

    const result = await ingest(store, debeziumOrders, [path], { batch: "b1", now: FIXED, workers: 0 });
    const m = result.manifest;
    expect(m.counts).toEqual({ read: 3000, written: stats.valid, quarantined: 150, duplicates: 150 });
    expect(result.blankLines).toBe(0);
    expect(result.manifestKey).toBe("_manifests/orders_cdc/_batches/b1.json");
    expect(JSON.parse(await text(result.manifestKey))).toEqual(m);

    // Every valid line, first occurrence only, byte for byte, in the object of its day and tenant.
    const expected = new Map<string, string[]>();
    for (const l of sampleLines) {
      if (l.kind !== "valid") continue;
      const p = partitionOf(l.line);
      expected.set(p, [...(expected.get(p) ?? []), l.line]);
    }
    const partitions = [...expected.keys()].sort();
    expect(partitions.length).toBeGreaterThanOrEqual(21);
    expect(m.files.map((f) => [f.partition, f.key, f.rows])).toEqual(
      partitions.map((p) => [
        p,
        `raw/orders_cdc/${p.replace("|", "/")}/b1.ndjson.gz`,
        expected.get(p)!.length,
      ]),
    );
    for (const f of m.files) {
      const body = await text(f.key);
      expect(body).toBe(`${expected.get(f.partition)!.join("\n")}\n`);
      expect(f).toEqual({ partition: f.partition, rows: f.rows, ...(await recorded(f.key)) });
    }
    expect(await keys("raw/")).toEqual(m.files.map((f) => f.key));

    // Late events land in the partition of their event time, not of the file day they came with.
    const late = sampleLines.filter((l) => l.late);
    expect(late.length).toBeGreaterThan(10);
    for (const l of late) expect(expected.get(partitionOf(l.line))).toContain(l.line);

    // Quarantine: one record per invalid line, with its line number, reason and text.
    expect(m.quarantine).toEqual({ rows: 150, ...(await recorded("quarantine/orders_cdc/b1.ndjson")) });
    const { key: _, ...idsObject } = await recorded("_index/orders_cdc/b1.ids");
    expect([m.ids, m.idsObject]).toEqual(["_index/orders_cdc/b1.ids", idsObject]);
    const q = await quarantined(m);
    const invalid = sampleLines.flatMap((l, i) => (l.kind === "invalid" ? [{ l, line: i + 1 }] : []));
    expect(q).toEqual(
      invalid.map(({ l, line }) => ({ file: path, line, reason: expectedReason(l), record: l.line })),
    );
    const faults = new Set(invalid.map(({ l }) => l.fault));
    expect([...faults].sort()).toEqual([...ORDER_FAULTS].sort());

    // The ids object: the written event ids, in input order.
    expect(m.ids).toBe("_index/orders_cdc/b1.ids");
    const written = sampleLines
      .filter((l) => l.kind === "valid")
      .map((l) => verdictOf(l.line))
      .map((v) => ("id" in v ? v.id : ""))
      .map(idsObjectLine);
    expect(await lines(m.ids)).toEqual(written);
    expect(m.inputs).toEqual([path]);
    expect(m.committedAt).toBe("2026-11-28T01:02:03.456Z");
  });

  it("writes nothing new when the same file is ingested again", async () => {
    const sampleLines = sample(1000, 11);
    const path = join(dir, "orders.ndjson");
    await writeFile(path, sampleLines.map((l) => `${l.line}\n`).join(""));
    const first = await ingest(store, debeziumOrders, [path], { batch: "b1", workers: 0 });
    const rawBefore = await store.list("raw/");
    const second = await ingest(store, debeziumOrders, [path], { batch: "b2", workers: 0 });

    expect(second.manifest.counts).toEqual({
      read: 1000,
      written: 0,
      quarantined: 50,
      duplicates: first.manifest.counts.written + first.manifest.counts.duplicates,
    });
    expect(second.manifest.files).toEqual([]);
    expect(await store.list("raw/")).toEqual(rawBefore);
    expect(await text("_index/orders_cdc/b2.ids")).toBe("");
    // The quarantine is the batch's own: the same invalid lines again.
    expect(await quarantined(second.manifest)).toEqual(await quarantined(first.manifest));
    expect((await committedBatches(store, "orders_cdc")).map((b) => b.batch)).toEqual(["b1", "b2"]);
  });

  it("gives the same result with worker threads as on one thread", async () => {
    const sampleLines = sample(4000, 3);
    const path = join(dir, "orders.ndjson");
    await writeFile(path, sampleLines.map((l) => `${l.line}\n`).join(""));
    const one = await ingest(store, debeziumOrders, [path], { batch: "one", workers: 0 });
    const other = new LocalStore(join(dir, "other"));
    const two = await ingest(other, debeziumOrders, [path], { batch: "one", workers: 2 });
    expect(one.workers).toBe(0);
    expect(two.workers).toBe(2);
    expect({ ...two.manifest, committedAt: "" }).toEqual({ ...one.manifest, committedAt: "" });
    for (const f of one.manifest.files)
      expect((await other.get(f.key))!.equals((await store.get(f.key))!)).toBe(true);
    expect(
      (await other.get(one.manifest.quarantine!.key))!.equals(
        (await store.get(one.manifest.quarantine!.key))!,
      ),
    ).toBe(true);
    expect((await other.get(one.manifest.ids))!.equals((await store.get(one.manifest.ids))!)).toBe(true);
  });
});

describe("ingest: what is quarantined and why", () => {
  it("gives the exact reason for each kind of bad record and skips blank lines", async () => {
    const big = order(90, {}, { status: "pending", order_id: uuid(190) }).replace(
      '"op":"c"',
      `"op":"c","pad":"${"x".repeat(400)}"`,
    );
    const badUtf8 = Buffer.concat([
      Buffer.from(order(91).slice(0, 30)),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(order(91).slice(30)),
    ]);
    const body = Buffer.concat([
      Buffer.from(
        [
          order(1),
          '{"event_id": "x",',
          order(2, {}, { amount_cents: undefined }),
          order(3, {}, { amount_cents: "1999" }),
          order(4, {}, { status: "lost" }),
          order(5, { tenant_id: "umbrella" }),
          "",
          "   ",
          big,
          order(6, { ts_ms: 1 }),
          order(7, { event_time: "2026-10-31T23:59:59.999Z" }),
          order(8, { event_time: "2026-11-02T25:00:00Z" }),
          "[1,2]",
          `${order(9, { event_time: "2026-11-03T00:30:00+01:00" })}\r`,
          "",
        ].join("\n"),
      ),
      badUtf8,
      Buffer.from(`\n${order(10)}`),
    ]);
    const path = join(dir, "bad.ndjson");
    await writeFile(path, body);
    const { manifest: m, blankLines } = await ingest(store, ordersCdc, [path], {
      batch: "b1",
      maxRecordBytes: 800,
      workers: 0,
    });
    expect(blankLines).toBe(2);
    expect(m.counts).toEqual({ read: 14, written: 3, quarantined: 11, duplicates: 0 });
    expect(Buffer.byteLength(big)).toBeGreaterThan(800);
    const q = (line: number, reason: string, record: string) => ({ file: path, line, reason, record });
    expect(await quarantined(m)).toEqual([
      q(2, "not JSON: Expected double-quoted property name in JSON at position 17", '{"event_id": "x",'),
      q(3, "/after must have required property 'amount_cents'", order(2, {}, { amount_cents: undefined })),
      q(4, "/after/amount_cents must be integer", order(3, {}, { amount_cents: "1999" })),
      q(
        5,
        '/after/status must be equal to one of the allowed values: "pending", "paid", "shipped", "cancelled", "refunded"',
        order(4, {}, { status: "lost" }),
      ),
      q(
        6,
        'tenant "umbrella" is not a partition of orders_cdc (acme, globex, initech)',
        order(5, { tenant_id: "umbrella" }),
      ),
      q(9, "record larger than 800 bytes", big),
      q(10, '/ must NOT have additional properties: "ts_ms"', order(6, { ts_ms: 1 })),
      q(
        11,
        "event time 2026-10-31T23:59:59.999Z is in partition 2026-10-31, before the first partition of orders_cdc (2026-11-01)",
        order(7, { event_time: "2026-10-31T23:59:59.999Z" }),
      ),
      q(12, '/event_time must match format "date-time"', order(8, { event_time: "2026-11-02T25:00:00Z" })),
      q(13, "/ must be object", "[1,2]"),
      q(15, "invalid UTF-8", badUtf8.toString("utf8")),
    ]);
    // Valid: line 1, the CRLF line 14 (its "\r" dropped; +01:00 puts it on 2 November UTC) and line 16.
    expect(m.files.map((f) => [f.partition, f.rows])).toEqual([["2026-11-02|acme", 3]]);
    expect(await lines(m.files[0]!.key)).toEqual([
      order(1),
      order(9, { event_time: "2026-11-03T00:30:00+01:00" }),
      order(10),
    ]);
  });

  it("quarantines a line longer than the limit without holding it in memory, keeping its first KiB", async () => {
    const long = `{"event_id":"${"a".repeat(9000)}"}`;
    const chunks = [
      `${order(1)}\n`,
      long.slice(0, 3000),
      long.slice(3000, 6000),
      long.slice(6000),
      `\n${order(2)}\n`,
    ];
    const { manifest: m } = await ingest(
      store,
      ordersCdc,
      [{ name: "chunks", stream: Readable.from(chunks) }],
      {
        batch: "b1",
        maxRecordBytes: 2000,
        workers: 0,
      },
    );
    expect(m.counts).toEqual({ read: 3, written: 2, quarantined: 1, duplicates: 0 });
    expect(await quarantined(m)).toEqual([
      { file: "chunks", line: 2, reason: "record larger than 2000 bytes", record: long.slice(0, 1024) },
    ]);
    expect(m.inputs).toEqual(["chunks"]);
  });
});

describe("ingest inputs", () => {
  const plain = () => [order(1), order(2, { tenant_id: "globex" }), "not json", order(1)].join("\n");

  it("reads gzip files, by their magic bytes whatever their name", async () => {
    await writeFile(join(dir, "a.ndjson.gz"), gzipSync(plain()));
    await writeFile(join(dir, "b.data"), gzipSync(plain()));
    const a = await ingest(store, ordersCdc, [join(dir, "a.ndjson.gz")], { batch: "a", workers: 0 });
    expect(a.manifest.counts).toEqual({ read: 4, written: 2, quarantined: 1, duplicates: 1 });
    expect(await lines("raw/orders_cdc/2026-11-02/globex/a.ndjson.gz")).toEqual([
      order(2, { tenant_id: "globex" }),
    ]);
    const other = new LocalStore(join(dir, "other"));
    const b = await ingest(other, ordersCdc, [join(dir, "b.data")], { batch: "a", workers: 0 });
    expect(b.manifest.counts).toEqual(a.manifest.counts);
    expect(await quarantined(b.manifest, other)).toEqual([
      {
        file: join(dir, "b.data"),
        line: 3,
        reason: "not JSON: Unexpected token 'o', \"not json\" is not valid JSON",
        record: "not json",
      },
    ]);
  });

  it("reads a directory's *.ndjson and *.ndjson.gz files in name order", async () => {
    const data = join(dir, "landing");
    await mkdir(data);
    await writeFile(join(data, "2026-11-02.ndjson.gz"), gzipSync(`${order(3)}\nbad\n`));
    await writeFile(join(data, "2026-11-01.ndjson"), `${order(1)}\n${order(2)}\n`);
    await writeFile(join(data, "notes.txt"), "not data\n");
    const { manifest: m } = await ingest(store, ordersCdc, [data], { batch: "b1", workers: 0 });
    expect(m.inputs).toEqual([data]);
    expect(m.counts).toEqual({ read: 4, written: 3, quarantined: 1, duplicates: 0 });
    expect(await lines("raw/orders_cdc/2026-11-02/acme/b1.ndjson.gz")).toEqual([
      order(1),
      order(2),
      order(3),
    ]);
    expect((await quarantined(m)).map((q) => [q.file, q.line])).toEqual([
      [join(data, "2026-11-02.ndjson.gz"), 2],
    ]);
  });

  it('reads "-" from standard input and named streams, whatever the chunk boundaries', async () => {
    const bytes = Buffer.from(`${order(1, {}, { currency: "GBP" })}\n${order(2)}\n\n${order(3)}`);
    // Cut every 7 bytes: through records, and through nothing in particular.
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) =>
      bytes.subarray(i * 7, i * 7 + 7),
    );
    const result = await ingest(
      store,
      ordersCdc,
      ["-", { name: "more", stream: Readable.from([Buffer.from(order(4))]) }],
      {
        batch: "b1",
        stdin: Readable.from(chunks),
        workers: 0,
      },
    );
    expect(result.manifest.inputs).toEqual(["-", "more"]);
    expect(result.manifest.counts).toEqual({ read: 4, written: 4, quarantined: 0, duplicates: 0 });
    expect(result.blankLines).toBe(1);
    expect(await lines("raw/orders_cdc/2026-11-02/acme/b1.ndjson.gz")).toEqual([
      order(1, {}, { currency: "GBP" }),
      order(2),
      order(3),
      order(4),
    ]);
  });

  it("names what is wrong with the inputs before writing anything", async () => {
    await expect(ingest(store, ordersCdc, [join(dir, "missing.ndjson")])).rejects.toThrow(
      new IngestError(`ingest orders_cdc: input "${join(dir, "missing.ndjson")}" does not exist.`),
    );
    await mkdir(join(dir, "empty"));
    await expect(ingest(store, ordersCdc, [join(dir, "empty")])).rejects.toThrow(
      `ingest orders_cdc: directory "${join(dir, "empty")}" has no *.ndjson or *.ndjson.gz files.`,
    );
    await expect(ingest(store, ordersCdc, ["-", "-"], { stdin: Readable.from([]) })).rejects.toThrow(
      'ingest orders_cdc: "-" (standard input) is given twice.',
    );
    expect(await keys("")).toEqual([]);
  });

  it("commits nothing when an input fails half way", async () => {
    const broken = gzipSync(`${order(1)}\n${order(2)}\n`).subarray(0, 30);
    await writeFile(join(dir, "good.ndjson"), `${order(3)}\n`);
    await writeFile(join(dir, "broken.ndjson.gz"), broken);
    const error = await ingest(store, ordersCdc, [join(dir, "good.ndjson"), join(dir, "broken.ndjson.gz")], {
      batch: "b1",
      workers: 0,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IngestError);
    expect((error as Error).message).toBe(
      `ingest orders_cdc: input "${join(dir, "broken.ndjson.gz")}" is not a valid gzip file: unexpected end of file`,
    );
    expect(await keys("")).toEqual([]);
  });
});

describe("retries: raw and quarantine are append-only", () => {
  /** A store that fails the batch manifest's first put, and records every delete asked of it. */
  class FailsCommitOnce extends LocalStore {
    readonly deleted: string[] = [];
    #failed = false;
    override async put(key: string, body: Parameters<LocalStore["put"]>[1], opts?: { ifAbsent?: boolean }) {
      if (key.startsWith(layout.batchPrefix("orders_cdc")) && !this.#failed) {
        this.#failed = true;
        throw new Error("connection reset while committing");
      }
      return super.put(key, body, opts);
    }
    override async delete(key: string): Promise<void> {
      this.deleted.push(key);
      return super.delete(key);
    }
  }

  it("leaves a failed attempt's objects, and the next attempt of the batch writes beside them", async () => {
    const flaky = new FailsCommitOnce(join(dir, "flaky"));
    await writeFile(join(dir, "a.ndjson"), `${order(1)}\n${order(2)}\nnot json\n`);
    await expect(
      ingest(flaky, ordersCdc, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 }),
    ).rejects.toThrow("connection reset while committing");
    const left = [
      "_index/orders_cdc/b1.ids",
      "_index/orders_cdc/b1=1.attempt",
      "quarantine/orders_cdc/b1.ndjson",
      "raw/orders_cdc/2026-11-02/acme/b1.ndjson.gz",
    ];
    expect((await flaky.list("")).map((o) => o.key)).toEqual(left);
    // The same batch again (a redelivered message): attempt 2 names its objects after itself.
    const again = await ingest(flaky, ordersCdc, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    expect(again.manifest.files.map((f) => f.key)).toEqual(["raw/orders_cdc/2026-11-02/acme/b1=2.ndjson.gz"]);
    expect(again.manifest.quarantine).toEqual({
      ...(await recorded("quarantine/orders_cdc/b1=2.ndjson", flaky)),
      rows: 1,
    });
    expect(again.manifest.ids).toBe("_index/orders_cdc/b1=2.ids");
    expect(again.manifest.counts).toEqual({ read: 3, written: 2, quarantined: 1, duplicates: 0 });
    expect((await flaky.list("")).map((o) => o.key)).toEqual([
      "_index/orders_cdc/b1.ids",
      "_index/orders_cdc/b1=1.attempt",
      "_index/orders_cdc/b1=2.ids",
      "_manifests/orders_cdc/_batches/b1.json",
      "quarantine/orders_cdc/b1.ndjson",
      "quarantine/orders_cdc/b1=2.ndjson",
      "raw/orders_cdc/2026-11-02/acme/b1.ndjson.gz",
      "raw/orders_cdc/2026-11-02/acme/b1=2.ndjson.gz",
    ]);
    // Only what a function may delete was deleted: claims and locks, nothing raw or quarantined.
    expect(flaky.deleted.filter((k) => !k.startsWith("_index/") && !k.startsWith("_locks/"))).toEqual([]);
    expect(flaky.deleted).toContain("_index/orders_cdc/b1=2.attempt");
    // A committed batch is refused before anything is written.
    const before = (await flaky.list("")).map((o) => o.key);
    await expect(
      ingest(flaky, ordersCdc, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 }),
    ).rejects.toThrow(
      new IngestError("ingest orders_cdc: batch b1 is already committed; give another batch id."),
    );
    expect((await flaky.list("")).map((o) => o.key)).toEqual(before);
  });
});

describe("deduplication across batches", () => {
  it("drops events committed by earlier batches", async () => {
    await writeFile(join(dir, "a.ndjson"), [1, 2, 3].map((n) => order(n)).join("\n"));
    await writeFile(join(dir, "b.ndjson"), [3, 4, 2, 5, 5].map((n) => order(n)).join("\n"));
    await ingest(store, ordersCdc, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    const b = await ingest(store, ordersCdc, [join(dir, "b.ndjson")], { batch: "b2", workers: 0 });
    expect(b.manifest.counts).toEqual({ read: 5, written: 2, quarantined: 0, duplicates: 3 });
    expect(b.manifest.quarantine).toBe(undefined);
    expect(await lines("raw/orders_cdc/2026-11-02/acme/b2.ndjson.gz")).toEqual([order(4), order(5)]);
    expect(await lines("_index/orders_cdc/b2.ids")).toEqual([uuid(4), uuid(5)]);
  });

  it("keeps ids that are not UUIDs apart from ids that are", async () => {
    const orders = source("orders_plain", {
      schema: Type.Object({ id: Type.String(), at: Type.String() }),
      eventId: "id",
      eventTime: "at",
    });
    const at = "2026-11-02T10:00:00Z";
    const rows = [
      "ord-1",
      uuid(0xabc),
      uuid(0xabc).toUpperCase(),
      "ord-1",
      "00000000-0000-0000-0000-000000000000",
    ];
    await writeFile(join(dir, "a.ndjson"), rows.map((id) => JSON.stringify({ id, at })).join("\n"));
    const a = await ingest(store, orders, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    expect(a.manifest.counts).toEqual({ read: 5, written: 4, quarantined: 0, duplicates: 1 });
    expect(await lines("_index/orders_plain/b1.ids")).toEqual([
      "ord-1",
      uuid(0xabc),
      uuid(0xabc).toUpperCase(),
      "00000000-0000-0000-0000-000000000000",
    ]);
    const b = await ingest(store, orders, [join(dir, "a.ndjson")], { batch: "b2", workers: 0 });
    expect(b.manifest.counts).toEqual({ read: 5, written: 0, quarantined: 0, duplicates: 5 });
  });

  it("ignores the ids of a batch that crashed before its manifest", async () => {
    // A crashed batch: its data and ids objects exist, its manifest does not.
    await store.put(layout.ids("orders_cdc", "crashed"), `${uuid(1)}\n${uuid(2)}\n`);
    await store.put(layout.raw("orders_cdc", "2026-11-02/acme", "crashed"), `${order(1)}\n${order(2)}\n`);
    await writeFile(join(dir, "a.ndjson"), [1, 2].map((n) => order(n)).join("\n"));
    const { manifest: m } = await ingest(store, ordersCdc, [join(dir, "a.ndjson")], {
      batch: "b1",
      workers: 0,
    });
    expect(m.counts).toEqual({ read: 2, written: 2, quarantined: 0, duplicates: 0 });
    expect((await sourcePartitions(store, ordersCdc)).get("2026-11-02|acme")!.files).toEqual([
      { rows: 2, ...(await recorded("raw/orders_cdc/2026-11-02/acme/b1.ndjson.gz")) },
    ]);
  });

  it("refuses to go on when a committed batch's ids object is missing", async () => {
    await writeFile(join(dir, "a.ndjson"), order(1));
    await ingest(store, ordersCdc, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    await store.delete("_index/orders_cdc/b1.ids");
    await expect(
      ingest(store, ordersCdc, [join(dir, "a.ndjson")], { batch: "b2", workers: 0 }),
    ).rejects.toThrow(
      "ingest orders_cdc: batch b1 names ids object _index/orders_cdc/b1.ids, which is missing; the store is damaged.",
    );
  });
});

describe("sourcePartitions", () => {
  it("lists each partition's raw objects from committed batches, with its data version", async () => {
    await writeFile(join(dir, "a.ndjson"), [order(1), order(2, { tenant_id: "globex" })].join("\n"));
    await writeFile(
      join(dir, "b.ndjson"),
      [order(3), order(4, { event_time: "2026-11-03T08:00:00Z" }), order(5)].join("\n"),
    );
    await ingest(store, ordersCdc, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    const before = await sourcePartitions(store, ordersCdc);
    const second = await ingest(store, ordersCdc, [join(dir, "b.ndjson")], { batch: "b2", workers: 0 });
    const after = await sourcePartitions(store, ordersCdc);
    // The ingest says what it committed as sourcePartitions reads it back, for the partitions it wrote.
    expect(Object.fromEntries(second.partitions)).toEqual({
      "2026-11-02|acme": after.get("2026-11-02|acme"),
      "2026-11-03|acme": after.get("2026-11-03|acme"),
    });

    const acme2 = [
      { rows: 1, ...(await recorded("raw/orders_cdc/2026-11-02/acme/b1.ndjson.gz")) },
      { rows: 2, ...(await recorded("raw/orders_cdc/2026-11-02/acme/b2.ndjson.gz")) },
    ];
    const globex2 = [{ rows: 1, ...(await recorded("raw/orders_cdc/2026-11-02/globex/b1.ndjson.gz")) }];
    const acme3 = [{ rows: 1, ...(await recorded("raw/orders_cdc/2026-11-03/acme/b2.ndjson.gz")) }];
    expect([...after.entries()]).toEqual([
      ["2026-11-02|acme", { files: acme2, dataVersion: sourceDataVersion(acme2) }],
      ["2026-11-02|globex", { files: globex2, dataVersion: sourceDataVersion(globex2) }],
      ["2026-11-03|acme", { files: acme3, dataVersion: sourceDataVersion(acme3) }],
    ]);
    // A partition's version changes when a batch adds to it, and only then.
    expect(after.get("2026-11-02|acme")!.dataVersion).not.toBe(before.get("2026-11-02|acme")!.dataVersion);
    expect(after.get("2026-11-02|globex")!.dataVersion).toBe(before.get("2026-11-02|globex")!.dataVersion);
    expect(after.get("2026-11-02|globex")!.dataVersion).toMatch(/^[0-9a-f]{16}$/);

    // A batch whose id sorts before the others (cloud batches are named by message, not by time) is
    // placed where a listing puts it, in ingest's answer as in sourcePartitions.
    await writeFile(join(dir, "c.ndjson"), order(6));
    const early = await ingest(store, ordersCdc, [join(dir, "c.ndjson")], { batch: "a0", workers: 0 });
    expect(Object.fromEntries(early.partitions)).toEqual({
      "2026-11-02|acme": (await sourcePartitions(store, ordersCdc)).get("2026-11-02|acme"),
    });
    expect(early.partitions.get("2026-11-02|acme")!.files[0]!.key).toBe(
      "raw/orders_cdc/2026-11-02/acme/a0.ndjson.gz",
    );
  });
});

describe("partitions of other sources", () => {
  it("uses the hour in the partitions' time zone, and _all for an unpartitioned source", async () => {
    const schema = Type.Object({ id: Type.String(), at: Type.String({ format: "date-time" }) });
    const hourlyBerlin = source("clicks", {
      schema,
      eventId: "id",
      eventTime: "at",
      partitions: hourly({ start: "2026-11-01T00", timezone: "Europe/Berlin" }),
    });
    const rows = [
      { id: "a", at: "2026-11-01T10:30:00Z" },
      { id: "b", at: "2026-11-01T12:59:59+02:00" },
      { id: "c", at: "2026-10-31T22:59:00Z" },
    ];
    await writeFile(join(dir, "c.ndjson"), rows.map((r) => JSON.stringify(r)).join("\n"));
    const { manifest: m } = await ingest(store, hourlyBerlin, [join(dir, "c.ndjson")], {
      batch: "b1",
      workers: 0,
    });
    expect(m.files.map((f) => [f.partition, f.key, f.rows])).toEqual([
      ["2026-11-01T11", "raw/clicks/2026-11-01T11/b1.ndjson.gz", 2],
    ]);
    expect((await quarantined(m)).map((q) => q.reason)).toEqual([
      "event time 2026-10-31T22:59:00Z is in partition 2026-10-31T23, before the first partition of clicks (2026-11-01T00)",
    ]);

    const flat = source("flat", { schema, eventId: "id", eventTime: "at" });
    const f = await ingest(store, flat, [join(dir, "c.ndjson")], { batch: "b1", workers: 0 });
    expect(f.manifest.files.map((x) => [x.partition, x.key, x.rows])).toEqual([
      ["", "raw/flat/_all/b1.ndjson.gz", 3],
    ]);
  });

  it("stages partitions beyond the first 64 in temporary files and lands them all", async () => {
    const clicks = source("clicks", {
      schema: Type.Object({ id: Type.String(), at: Type.String({ format: "date-time" }) }),
      eventId: "id",
      eventTime: "at",
      partitions: hourly({ start: "2026-11-01T00" }),
    });
    // 100 hours, three events each, interleaved so every partition is written to again and again.
    const hours = Array.from({ length: 100 }, (_, h) => new Date(Date.UTC(2026, 10, 1, h)).toISOString());
    const rows = [0, 1, 2].flatMap((k) => hours.map((at, h) => JSON.stringify({ id: `e${h}-${k}`, at })));
    await writeFile(join(dir, "clicks.ndjson"), rows.join("\n"));
    const { manifest: m } = await ingest(store, clicks, [join(dir, "clicks.ndjson")], {
      batch: "b1",
      workers: 0,
    });
    expect(m.counts).toEqual({ read: 300, written: 300, quarantined: 0, duplicates: 0 });
    expect(m.files.length).toBe(100);
    expect(m.files[0]).toEqual({
      partition: "2026-11-01T00",
      rows: 3,
      ...(await recorded("raw/clicks/2026-11-01T00/b1.ndjson.gz")),
    });
    // The manifest records the stored (gzip) object; its records are 138 bytes of NDJSON.
    expect(gunzipSync((await store.get(m.files[0]!.key))!).length).toBe(138);
    // Partitions past the first 64 are staged in files and put whole; their records are the same.
    expect(m.files[99]).toEqual({
      partition: "2026-11-05T03",
      rows: 3,
      ...(await recorded("raw/clicks/2026-11-05T03/b1.ndjson.gz")),
    });
    for (const [h, at] of hours.entries()) {
      const key = at.slice(0, 13);
      expect(await lines(`raw/clicks/${key}/b1.ndjson.gz`)).toEqual(
        [0, 1, 2].map((k) => JSON.stringify({ id: `e${h}-${k}`, at })),
      );
    }
    expect(await keys("raw/")).toEqual(m.files.map((f) => f.key));
  });

  it("refuses a source partitioned by tenant that names no tenant field", async () => {
    const noTenant = source("no_tenant", {
      schema: Type.Object({ id: Type.String(), at: Type.String() }),
      eventId: "id",
      eventTime: "at",
      partitions: multiPartitions(daily({ start: "2026-11-01" }), staticPartitions("tenant", ["acme"])),
    });
    await expect(ingest(store, noTenant, ["-"], { stdin: Readable.from([]) })).rejects.toThrow(
      'ingest no_tenant: the source is partitioned by tenant (acme) but declares no tenant field; add tenant: "<column>" to its declaration.',
    );
  });
});

describe("batch ids", () => {
  it("are sortable by time and unique", async () => {
    await writeFile(join(dir, "a.ndjson"), order(1));
    const a = await ingest(store, ordersCdc, [join(dir, "a.ndjson")], { now: FIXED, workers: 0 });
    const b = await ingest(store, ordersCdc, [join(dir, "a.ndjson")], { now: FIXED, workers: 0 });
    expect(a.batch).toMatch(/^20261128T010203\.456Z-[0-9a-f]{8}$/);
    expect(b.batch).toMatch(/^20261128T010203\.456Z-[0-9a-f]{8}$/);
    expect(a.batch).not.toBe(b.batch);
    expect(
      await readFile(join(dir, "store", "_manifests", "orders_cdc", "_batches", `${a.batch}.json`), "utf8"),
    ).toBe(`${JSON.stringify(a.manifest, null, 2)}\n`);
  });
});

describe("the checks ingest does itself", () => {
  it("reads RFC 3339 timestamps to the same instant as Date.parse", () => {
    const instant = fc.integer({ min: Date.UTC(1970, 0, 2), max: Date.UTC(9999, 11, 30) });
    const offset = fc.integer({ min: -14 * 60, max: 14 * 60 });
    fc.assert(
      fc.property(
        instant,
        offset,
        fc.constantFrom("T", " ", "t"),
        fc.integer({ min: 0, max: 4 }),
        (ms, off, sep, digits) => {
          // The local time at `off` minutes from UTC, written with that offset.
          const local = new Date(ms + off * 60_000).toISOString();
          const fraction =
            digits === 0
              ? ""
              : `.${local.slice(20, 23)}${"0".repeat(Math.max(0, digits - 3))}`.slice(0, digits + 1);
          const zone =
            off === 0
              ? "Z"
              : `${off < 0 ? "-" : "+"}${String(Math.floor(Math.abs(off) / 60)).padStart(2, "0")}:${String(Math.abs(off) % 60).padStart(2, "0")}`;
          const text = `${local.slice(0, 10)}${sep}${local.slice(11, 19)}${fraction}${zone}`;
          const expected = Date.parse(text.replace(" ", "T").replace("t", "T"));
          expect(isDateTime(text)).toBe(true);
          expect(parseTimestamp(text)).toBe(expected);
        },
      ),
    );
  });

  it("refuses timestamps and dates DuckDB could not store", () => {
    for (const bad of [
      "2026-02-29T00:00:00Z",
      "2026-11-31T00:00:00Z",
      "2026-11-01T24:00:00Z",
      "2026-11-01T23:60:00Z",
      "2026-12-31T23:59:60Z",
      "2026-11-01T10:00:00",
      "2026-11-01T10:00:00.Z",
      "2026-11-01T10:00:00+2400",
      "2026-11-01T10:00:00+01:0",
      "2026-11-01",
      "11/01/2026 10:00:00Z",
    ]) {
      expect([bad, isDateTime(bad)]).toEqual([bad, false]);
    }
    expect(isDateTime("2024-02-29T23:59:59.999999+0530")).toBe(true);
    expect(isDateTime("2026-11-01T10:00:00-03")).toBe(true);
    expect([isDate("2024-02-29"), isDate("2026-02-29"), isDate("2026-13-01"), isDate("2026-1-01")]).toEqual([
      true,
      false,
      false,
      false,
    ]);
  });

  it("accepts exactly the UUIDs ajv-formats' expression accepts", () => {
    const ajvFormats = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;
    const near = fc.oneof(
      fc.uuid(),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.uuid().map((u) => `urn:uuid:${u}`),
      fc.uuid().map((u) => `URN:UUID:${u}`),
      fc
        .tuple(fc.uuid(), fc.nat({ max: 35 }), fc.constantFrom("g", "G", "-", "0", "F", " ", "é"))
        .map(([u, i, c]) => u.slice(0, i) + c + u.slice(i + 1)),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(near, (s) => {
        expect([s, isUuid(s)]).toEqual([s, ajvFormats.test(s)]);
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps canonical UUIDs as four integers and every other id as a string, like a Set", () => {
    const id = fc.oneof(
      fc.uuid(),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.constant("00000000-0000-0000-0000-000000000000"),
      fc.string({ maxLength: 8 }),
      // Any text, as its UTF-8 bytes (surrogate pairs included), and Debezium-like ids.
      fc.string({ unit: "binary", maxLength: 12 }),
      fc
        .tuple(fc.nat(), fc.constantFrom("c", "u", "d"), fc.uuid())
        .map(([lsn, op, key]) => `shop/${lsn}/7/${op}/"${key}"`),
    );
    fc.assert(
      fc.property(fc.array(id, { maxLength: 300 }), (ids) => {
        const index = new IdIndex();
        const model = new Set<string>();
        for (const x of [...ids, ...ids.slice(0, 50)]) {
          expect(index.add(x)).toBe(!model.has(x));
          model.add(x);
        }
        expect(index.size).toBe(model.size);
        for (const x of model) expect(index.has(x)).toBe(true);
      }),
    );
    // Past its first tables the index grows and keeps every id, UUIDs and others.
    const index = new IdIndex();
    for (let n = 1; n <= 50_000; n++) expect(index.add(`shop/${n}/${n >> 3}/u/${n % 7}`)).toBe(true);
    for (let n = 1; n <= 50_000; n += 997) expect(index.add(`shop/${n}/${n >> 3}/u/${n % 7}`)).toBe(false);
    for (let n = 1; n <= 100_000; n++) expect(index.add(uuid(n))).toBe(true);
    for (let n = 1; n <= 100_000; n += 997) expect(index.add(uuid(n))).toBe(false);
    expect(index.size).toBe(150_000);
    const keys = new Int32Array(4);
    const text = Buffer.alloc(36);
    expect(encodeUuid("0f8fad5b-d9cb-469f-a165-70867728950e", keys, 0)).toBe(true);
    writeUuid(keys, 0, text, 0);
    expect(text.toString()).toBe("0f8fad5b-d9cb-469f-a165-70867728950e");
  });
});

describe("concurrent batches of one source", () => {
  it("run one at a time, so the second sees the first's ids and lands no duplicate", async () => {
    const body = `${Array.from({ length: 500 }, (_, i) => order(i)).join("\n")}\n`;
    const input = (name: string) => [{ name, stream: Readable.from([body]) }];
    const [a, b] = await Promise.all([
      ingest(store, ordersCdc, input("a.ndjson"), { workers: 0 }),
      ingest(store, ordersCdc, input("b.ndjson"), { workers: 0 }),
    ]);
    const written = [a.manifest.counts, b.manifest.counts].map((c) => c.written).sort((x, y) => x - y);
    expect(written).toEqual([0, 500]);
    expect([a.manifest.counts, b.manifest.counts].map((c) => c.duplicates).sort((x, y) => x - y)).toEqual([
      0, 500,
    ]);
    expect(await keys("_locks/")).toEqual([]);
  });
});
