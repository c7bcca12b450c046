import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { asset, daily, defineGraph, source, Type } from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ordersCdc } from "../../examples/commerce/assets/commerce/index.ts";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { layout } from "../../src/contract/storage-layout.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { ingest, sourcePartitions } from "../../src/runtime/engine/ingest.ts";
import { checkObject } from "../../src/runtime/engine/integrity.ts";
import type { BatchManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { verifyCommitted } from "../../src/runtime/engine/verify.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-raw-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("raw objects are gzip-compressed NDJSON", () => {
  it("holds each partition's records byte for byte, readable by zlib and DuckDB, with the SHA-256 of the stored bytes", async () => {
    const lines: string[] = [];
    for (const l of generateSample({ seed: 5, orderLines: 2000, invalidShare: 0, duplicateShare: 0 })) {
      if (l.source === "orders_cdc") lines.push(l.line);
    }
    const input = join(dir, "orders.ndjson");
    await writeFile(input, `${lines.join("\n")}\n`);
    const { manifest: m } = await ingest(store, ordersCdc, [input], { batch: "b1", workers: 0 });
    expect(m.counts).toEqual({ read: 2000, written: 2000, quarantined: 0, duplicates: 0 });

    const expected = new Map<string, string[]>();
    for (const line of lines) {
      // Debezium's Postgres events: the day of source.ts_ms, the tenant column of the row.
      const e = JSON.parse(line) as {
        source: { ts_ms: number };
        after: { tenant_id: string } | null;
        before: { tenant_id: string } | null;
      };
      const p = `${new Date(e.source.ts_ms).toISOString().slice(0, 10)}|${(e.after ?? e.before)!.tenant_id}`;
      expected.set(p, [...(expected.get(p) ?? []), line]);
    }
    expect(m.files.map((f) => f.partition)).toEqual([...expected.keys()].sort());

    const duck = await Duck.open();
    try {
      for (const f of m.files) {
        expect(f.key).toBe(`raw/orders_cdc/${f.partition.replace("|", "/")}/b1.ndjson.gz`);
        const stored = (await store.get(f.key))!;
        // gzip's magic bytes and deflate, then exactly the records that arrived, in input order.
        expect([...stored.subarray(0, 3)]).toEqual([0x1f, 0x8b, 8]);
        const want = expected.get(f.partition)!;
        expect(gunzipSync(stored).toString("utf8")).toBe(`${want.join("\n")}\n`);
        // The manifest records what the store holds: the compressed bytes.
        expect({ bytes: f.bytes, sha256: f.sha256 }).toEqual({
          bytes: stored.length,
          sha256: sha256(stored),
        });
        expect(await checkObject(store, f, "full")).toEqual({ key: f.key, state: "ok" });
        // DuckDB reads the object as it is, by its name.
        const rows = await duck.rows(
          `SELECT source.lsn AS lsn, after.amount_cents AS amount FROM read_json('${store.localPath(f.key)}', format = 'newline_delimited')`,
        );
        expect(rows).toEqual(
          want.map((l) => {
            const e = JSON.parse(l) as { source: { lsn: number }; after: { amount_cents: number } | null };
            return {
              lsn: BigInt(e.source.lsn),
              amount: e.after === null ? null : BigInt(e.after.amount_cents),
            };
          }),
        );
      }
    } finally {
      duck.close();
    }
    // Quarantine and ids objects stay plain text.
    expect((await store.get(m.ids))!.toString("utf8").split("\n").length).toBe(2001);
  });

  it("reports a raw object whose compressed bytes changed as corrupt", async () => {
    const at = "2026-11-02T10:00:00.000Z";
    await writeFile(join(dir, "a.ndjson"), `${JSON.stringify({ id: "a", at })}\n`);
    const clicks = source("clicks", {
      schema: Type.Object({ id: Type.String(), at: Type.String({ format: "date-time" }) }),
      eventId: "id",
      eventTime: "at",
    });
    const { manifest: m } = await ingest(store, clicks, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    const [f] = m.files;
    const path = store.localPath(f!.key);
    const body = await readFile(path);
    // The gzip header's modification time: the object still decompresses to the same record.
    body[4] = 1;
    await writeFile(path, body);
    expect(gunzipSync(body).toString("utf8")).toBe(`${JSON.stringify({ id: "a", at })}\n`);
    expect(await checkObject(store, f!, "full")).toEqual({
      key: f!.key,
      state: "corrupt",
      why: `its SHA-256 (${sha256(body).slice(0, 12)}…) is not the one its commit recorded (${f!.sha256!.slice(0, 12)}…)`,
    });
  });
});

describe("stores written before raw was compressed", () => {
  const days = daily({ start: "2026-11-01", end: "2026-11-03" });
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
    schema: Type.Object({ n: Type.Integer(), total: Type.Integer() }),
    partitions: days,
    sql: "SELECT count(*) AS n, coalesce(sum(amount), 0) AS total FROM events",
  });
  const graph = defineGraph([events, totals]);
  const event = (id: string, amount: number) => JSON.stringify({ id, ts: "2026-11-02T08:00:00Z", amount });

  /** Turns a committed batch into what ingest wrote before compressing: plain `<batch>.ndjson` objects. */
  async function asWrittenBefore(batch: string): Promise<void> {
    const key = layout.batch("events", batch);
    const m = JSON.parse((await store.get(key))!.toString("utf8")) as BatchManifest;
    const files = [];
    for (const f of m.files) {
      const plain = gunzipSync((await store.get(f.key))!);
      const old = f.key.replace(/\.gz$/, "");
      await store.put(old, plain);
      await store.delete(f.key);
      files.push({ ...f, key: old, bytes: plain.length, sha256: sha256(plain) });
    }
    await store.put(key, `${JSON.stringify({ ...m, files }, null, 2)}\n`);
  }

  it("still reads their plain NDJSON objects, beside compressed ones in the same partition", async () => {
    await writeFile(join(dir, "a.ndjson"), [event("a", 1), event("b", 2)].join("\n"));
    await ingest(store, events, [join(dir, "a.ndjson")], { batch: "b1", workers: 0 });
    await asWrittenBefore("b1");
    await writeFile(join(dir, "b.ndjson"), [event("b", 2), event("c", 40)].join("\n"));
    const second = await ingest(store, events, [join(dir, "b.ndjson")], { batch: "b2", workers: 0 });
    // Deduplication still reads the old batch's ids: "b" is a duplicate.
    expect(second.manifest.counts).toEqual({ read: 2, written: 1, quarantined: 0, duplicates: 1 });

    const files = (await sourcePartitions(store, events)).get("2026-11-02")!.files;
    expect(files.map((f) => [f.key, f.rows])).toEqual([
      ["raw/events/2026-11-02/b1.ndjson", 2],
      ["raw/events/2026-11-02/b2.ndjson.gz", 1],
    ]);
    for (const f of files) expect(await checkObject(store, f, "full")).toEqual({ key: f.key, state: "ok" });
    const verified = await verifyCommitted(graph, new StoreState(store), ["events"], "full");
    expect(verified.map((v) => [v.key, v.state])).toEqual([
      ["_index/events/b1.ids", "ok"],
      ["_index/events/b2.ids", "ok"],
      ["raw/events/2026-11-02/b1.ndjson", "ok"],
      ["raw/events/2026-11-02/b2.ndjson.gz", "ok"],
    ]);

    const run = await materialize(graph, store, { partition: "2026-11-02" });
    expect(run.counts).toEqual({ materialized: 1, fresh: 0, failed: 0, skipped: 0 });
    const duck = await Duck.open();
    try {
      const o = run.outcomes[0]!;
      expect(o.status).toBe("materialized");
      const path = store.localPath("manifest" in o ? o.manifest!.files[0]!.key : "");
      expect(await duck.rows(`SELECT n, total FROM read_parquet('${path}')`)).toEqual([
        { n: 3n, total: 43n },
      ]);
    } finally {
      duck.close();
    }
  });
});
