/**
 * Ingest of the reference pipeline's sample: what Debezium Server sends for the shop's orders table,
 * with every kind of fault the generator injects. Each line ends up exactly where an independent
 * reading of it says: written once in the partition of its commit day and tenant, counted as a
 * duplicate, or quarantined with the reason for its fault.
 */

import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ordersCdc } from "../../examples/commerce/assets/commerce/index.ts";
import { generateSample, type SampleLine } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { committedBatches, ingest } from "../../src/runtime/engine/ingest.ts";
import type { BatchManifest } from "../../src/runtime/engine/manifest.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-ingest-sample-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const text = async (key: string) => (await store.get(key))!.toString("utf8");
const keys = async (prefix: string) => (await store.list(prefix)).map((o) => o.key);
const quarantined = async (m: BatchManifest) =>
  (await store.get(m.quarantine!.key))!
    .toString("utf8")
    .split("\n")
    .slice(0, -1)
    .map((l) => JSON.parse(l) as { file: string; line: number; reason: string; record: string });
const FIXED = () => new Date("2026-11-28T01:02:03.456Z");
/** What a batch manifest must record of an object: its key, size and SHA-256. */
const recorded = async (key: string) => {
  const bytes = (await store.get(key))!;
  return { key, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
};

/** The sample generator's orders_cdc lines with 5% invalid lines and 5% duplicates. */
function sample(orderLines: number, seed = 7): SampleLine[] {
  const out: SampleLine[] = [];
  for (const l of generateSample({ seed, orderLines, invalidShare: 0.05, duplicateShare: 0.05 })) {
    if (l.source === "orders_cdc") out.push(l);
  }
  return out;
}

interface Row {
  [column: string]: unknown;
  tenant_id: string;
}
interface Change {
  before: Row | null;
  after: Row | null;
  source: { ts_ms: number; lsn: number };
  op: string;
}

/** The partition of a valid line: the day of its commit (`source.ts_ms`, UTC) and its row's tenant. */
const partitionOf = (line: string) => {
  const e = JSON.parse(line) as Change;
  return `${new Date(e.source.ts_ms).toISOString().slice(0, 10)}|${(e.after ?? e.before)!.tenant_id}`;
};

const ROW = [
  "order_id",
  "tenant_id",
  "customer_id",
  "status",
  "amount_cents",
  "currency",
  "created_at",
  "updated_at",
];

/** The reason ingest must give for an invalid sample line, from its fault. */
function expectedReason(l: SampleLine): string {
  const record = (() => {
    try {
      return JSON.parse(l.line) as Record<string, unknown>;
    } catch (e) {
      // The parser's message, as Node 22 words it: without the " (line 1 column N)" Node 24 adds.
      return `not JSON: ${(e as Error).message.replace(/ \(line 1 column \d+\)$/, "")}`;
    }
  })();
  if (typeof record === "string") return record;
  const before = record["before"] as Row | null;
  switch (l.fault) {
    case "missing_field": {
      if (!("op" in record)) return "/ must have required property 'op'";
      if (!("source" in record)) return "/ must have required property 'source'";
      return "/source must have required property 'lsn'";
    }
    case "dropped_column": {
      const after = record["after"] as Row;
      return `/after must have required property '${ROW.find((k) => !(k in after))}'`;
    }
    case "wrong_type":
      // A changed column type is in the old row too (a `before` column may also be null).
      return before === null
        ? "/after/amount_cents must be integer"
        : "/after/amount_cents must be integer; /before/amount_cents must be integer or null";
    case "bad_enum":
      return '/after/status must be equal to one of the allowed values: "pending", "paid", "shipped", "cancelled", "refunded"';
    case "negative_amount":
      return "/after/amount_cents must be >= 0";
    case "unknown_tenant":
      return 'tenant "umbrella" is not a partition of orders_cdc (acme, globex, initech)';
    default:
      throw new Error(`unexpected fault ${l.fault}`);
  }
}

describe("ingest of the reference pipeline's Debezium events (5% invalid, 5% duplicates)", () => {
  it("counts every line, quarantines every invalid one with its reason and lands the rest by commit day and tenant", async () => {
    const sampleLines = sample(3000);
    const path = join(dir, "orders.ndjson");
    await writeFile(path, sampleLines.map((l) => `${l.line}\n`).join(""));
    const stats = { valid: 0, invalid: 0, duplicate: 0 };
    for (const l of sampleLines) stats[l.kind]++;
    expect(stats.invalid).toBe(150);
    expect(stats.duplicate).toBe(150);

    const result = await ingest(store, ordersCdc, [path], { batch: "b1", now: FIXED, workers: 0 });
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
      // Raw objects are gzip-compressed NDJSON.
      const body = gunzipSync((await store.get(f.key))!).toString("utf8");
      expect(body).toBe(`${expected.get(f.partition)!.join("\n")}\n`);
      expect(f).toEqual({ partition: f.partition, rows: f.rows, ...(await recorded(f.key)) });
    }
    expect(await keys("raw/")).toEqual(m.files.map((f) => f.key));

    // Late events land in the partition of their commit time, not of the file day they came with.
    const late = sampleLines.filter((l) => l.late);
    expect(late.length).toBeGreaterThan(10);
    for (const l of late) expect(expected.get(partitionOf(l.line))).toContain(l.line);

    // Quarantine: one record per invalid line, with its line number, reason and text.
    expect(m.quarantine).toEqual({ rows: 150, ...(await recorded("quarantine/orders_cdc/b1.ndjson")) });
    const q = await quarantined(m);
    const invalid = sampleLines.flatMap((l, i) => (l.kind === "invalid" ? [{ l, line: i + 1 }] : []));
    expect(q).toEqual(
      invalid.map(({ l, line }) => ({ file: path, line, reason: expectedReason(l), record: l.line })),
    );
    const faults = new Set(invalid.map(({ l }) => l.fault));
    expect([...faults].sort()).toEqual([
      "bad_enum",
      "dropped_column",
      "missing_field",
      "negative_amount",
      "not_json",
      "unknown_tenant",
      "wrong_type",
    ]);
    // The table never changed shape: no column is proposed.
    expect(m.schemaChanges).toBeUndefined();
    expect(m.inputs).toEqual([path]);
    expect(m.committedAt).toBe("2026-11-28T01:02:03.456Z");
  });

  it("writes nothing new when the same file is ingested again", async () => {
    const sampleLines = sample(1000, 11);
    const path = join(dir, "orders.ndjson");
    await writeFile(path, sampleLines.map((l) => `${l.line}\n`).join(""));
    const first = await ingest(store, ordersCdc, [path], { batch: "b1", workers: 0 });
    const rawBefore = await store.list("raw/");
    const second = await ingest(store, ordersCdc, [path], { batch: "b2", workers: 0 });

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
    const one = await ingest(store, ordersCdc, [path], { batch: "one", workers: 0 });
    const other = new LocalStore(join(dir, "other"));
    const two = await ingest(other, ordersCdc, [path], { batch: "one", workers: 2 });
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

  it("proposes the column the orders table gains, once, with the rows that carry it", async () => {
    const lines: SampleLine[] = [];
    // No duplicates: a redelivered line's row is not landed again (what the count counts).
    for (const l of generateSample({ seed: 5, couponsFrom: "2026-11-07", duplicateShare: 0 }))
      if (l.source === "orders_cdc") lines.push(l);
    const path = join(dir, "orders.ndjson");
    await writeFile(path, lines.map((l) => `${l.line}\n`).join(""));
    const { manifest: m } = await ingest(store, ordersCdc, [path], { batch: "b1", workers: 0 });
    const carrying = lines.flatMap((l, i) =>
      l.kind === "valid" && (JSON.parse(l.line) as Change).after?.coupon_code !== undefined ? [i + 1] : [],
    );
    expect(carrying.length).toBeGreaterThan(50);
    expect(m.schemaChanges).toEqual([
      {
        column: "coupon_code",
        types: ["null", "string"],
        count: carrying.length,
        first: { file: path, line: carrying[0] },
      },
    ]);
    expect(m.counts.written).toBe(lines.filter((l) => l.kind === "valid").length);
  });
});
