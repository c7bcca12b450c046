import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { asset, daily, defineGraph, dep, mapping, source, Type } from "tributary";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { IngestError, ingest } from "../../src/runtime/engine/ingest.ts";
import { CorruptObjectError, checkObject } from "../../src/runtime/engine/integrity.ts";
import type { AssetManifest, BatchManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { steps } from "../../src/runtime/engine/steps.ts";
import { verifyCommitted } from "../../src/runtime/engine/verify.ts";
import { GcsStore } from "../../src/runtime/storage/gcs.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { ObjectStore } from "../../src/runtime/storage/port.ts";
import { S3Store } from "../../src/runtime/storage/s3.ts";
import { type S3Emulator, startS3 } from "../storage/emulators.ts";
import { type GcsFake, startGcsFake } from "../storage/gcs-fake.ts";

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
const Totals = Type.Object({ day: Type.String({ format: "date" }), total: Type.Integer() });

function graphOf(reportVersion = "1") {
  const totals = asset("totals", {
    deps: [events],
    schema: Totals,
    partitions: days,
    sql: "SELECT CAST(ts AS DATE) AS day, sum(amount) AS total FROM events GROUP BY ALL",
  });
  const report = asset("report", {
    deps: [dep(totals, { partitions: mapping.all() })],
    schema: Type.Object({ total: Type.Integer() }),
    codeVersion: reportVersion,
    sql: "SELECT CAST(sum(total) AS BIGINT) AS total FROM totals",
  });
  return defineGraph([events, totals, report]);
}

const LINES = [
  { id: "e1", ts: "2026-11-01T10:00:00Z", amount: 40 },
  { id: "e2", ts: "2026-11-01T11:00:00Z", amount: 2 },
  { id: "e3", ts: "2026-11-02T09:00:00Z", amount: 100 },
].map((e) => JSON.stringify(e));

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const short = (hex: string) => `${hex.slice(0, 12)}…`;
const json = async <T>(store: ObjectStore, key: string) =>
  JSON.parse((await store.get(key))!.toString()) as T;
const totalsFile = async (store: ObjectStore, day: string) =>
  (await json<AssetManifest>(store, `_manifests/totals/${day}/manifest.json`)).files[0]!;
/** The one report row, as committed. */
async function reportTotal(store: LocalStore): Promise<number> {
  const m = await json<AssetManifest>(store, "_manifests/report/_all/manifest.json");
  const duck = await Duck.open();
  try {
    return Number(
      (await duck.rows(`SELECT total FROM read_parquet('${store.localPath(m.files[0]!.key)}')`))[0]!.total,
    );
  } finally {
    duck.close();
  }
}

/** Overwrite an object with bytes of the same length, one byte changed: only a hash can tell. */
async function flipByte(store: ObjectStore, key: string, at = 8): Promise<Buffer> {
  const bytes = Buffer.from((await store.get(key))!);
  bytes[at] = bytes[at]! ^ 0xff;
  await store.put(key, bytes);
  return bytes;
}

async function ingested(store: ObjectStore): Promise<BatchManifest> {
  return (
    await ingest(
      store,
      events,
      [{ name: "events.ndjson", stream: Readable.from([`${LINES.join("\n")}\n`]) }],
      {
        batch: "b1",
        workers: 0,
      },
    )
  ).manifest;
}

describe("tamper-evident commits on a local store", () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-integrity-"));
    store = new LocalStore(dir);
    await ingested(store);
    const r = await materialize(graphOf(), store);
    expect(r.counts).toEqual({ materialized: 3, fresh: 0, failed: 0, skipped: 0 });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("records each data file's size and SHA-256 in its manifest, and each batch object's in its batch", async () => {
    const f = await totalsFile(store, "2026-11-01");
    const bytes = await readFile(store.localPath(f.key));
    expect(f).toEqual({ key: f.key, rows: 1, bytes: bytes.length, sha256: sha256(bytes) });
    const b = await json<BatchManifest>(store, "_manifests/events/_batches/b1.json");
    for (const o of b.files) expect(o.sha256).toBe(sha256(await readFile(store.localPath(o.key))));
    expect(b.idsObject!.sha256).toBe(sha256(await readFile(store.localPath(b.ids))));
  });

  it("finds a changed byte that keeps the size, by its SHA-256, quick or full", async () => {
    const f = await totalsFile(store, "2026-11-01");
    const changed = await flipByte(store, f.key);
    const expected = {
      key: f.key,
      state: "corrupt",
      why: `its SHA-256 (${short(sha256(changed))}) is not the one its commit recorded (${short(f.sha256!)})`,
    };
    expect(await checkObject(store, f, "quick")).toEqual(expected);
    expect(await checkObject(store, f, "full")).toEqual(expected);
    await store.delete(f.key);
    expect(await checkObject(store, f, "quick")).toEqual({
      key: f.key,
      state: "missing",
      why: "no object has its key",
    });
  });

  it("never serves a corrupt file: a reader that finds one fails, naming it", async () => {
    const f = await totalsFile(store, "2026-11-02");
    const changed = await flipByte(store, f.key);
    // Planned without checking files (as if the file changed after the plan), the reader still checks.
    const r = await materialize(graphOf("2"), store, { selection: "report", checkFiles: false });
    expect(r.counts).toEqual({ materialized: 0, fresh: 0, failed: 1, skipped: 0 });
    expect(r.outcomes[0]).toMatchObject({
      status: "failed",
      error: `${f.key} is corrupt: its SHA-256 (${short(sha256(changed))}) is not the one its commit recorded (${short(f.sha256!)}); tributary materialize re-materialises it`,
    });
    expect(await reportTotal(store)).toBe(142);
  });

  it("re-materialises a corrupt partition before what reads it, with the same data version", async () => {
    const f = await totalsFile(store, "2026-11-02");
    await flipByte(store, f.key);
    const state = new StoreState(store);
    const items = await steps(graphOf("2"), state);
    expect(items.map((i) => [i.asset, i.partition, i.action, i.reason])).toEqual([
      ["totals", "2026-11-01", "skip", "fresh"],
      [
        "totals",
        "2026-11-02",
        "run",
        `committed file ${f.key} is corrupt: its SHA-256 (${short(sha256((await store.get(f.key))!))}) is not the one its commit recorded (${short(f.sha256!)})`,
      ],
      ["report", "", "run", "code version changed (1 → 2)"],
    ]);
    const r = await materialize(graphOf("2"), store);
    expect(r.counts).toEqual({ materialized: 2, fresh: 1, failed: 0, skipped: 0 });
    const again = await totalsFile(store, "2026-11-02");
    expect(again.key).not.toBe(f.key);
    expect(again.sha256).toBe(sha256(await readFile(store.localPath(again.key))));
    expect(await reportTotal(store)).toBe(142);
    expect((await materialize(graphOf("2"), store)).counts).toMatchObject({ materialized: 0, fresh: 3 });
  });

  it("refuses to read a corrupt raw file, which nothing can recompute, and verify names it", async () => {
    const b = await json<BatchManifest>(store, "_manifests/events/_batches/b1.json");
    const raw = b.files.find((o) => o.partition === "2026-11-01")!;
    const changed = await flipByte(store, raw.key, 2);
    const r = await materialize(graphOf(), store, {
      selection: "totals",
      partition: "2026-11-01",
      force: true,
    });
    expect(r.outcomes[0]).toMatchObject({
      status: "failed",
      error: `${raw.key} is corrupt: its SHA-256 (${short(sha256(changed))}) is not the one its commit recorded (${short(raw.sha256!)}); raw data cannot be recomputed: restore the file from a backup, or ingest its events again into a new batch`,
    });
    const checks = await verifyCommitted(graphOf(), new StoreState(store), ["events", "totals"], "full");
    expect(checks.filter((c) => c.state !== "ok")).toEqual([
      {
        key: raw.key,
        state: "corrupt",
        why: `its SHA-256 (${short(sha256(changed))}) is not the one its commit recorded (${short(raw.sha256!)})`,
        asset: "events",
        commit: { batch: "b1" },
      },
    ]);
    expect(checks.map((c) => c.key)).toEqual([...checks.map((c) => c.key)].sort());
    expect(checks.length).toBe(b.files.length + 1 + 2);
  });

  it("refuses to deduplicate against an ids object that is not the committed one", async () => {
    const b = await json<BatchManifest>(store, "_manifests/events/_batches/b1.json");
    // One id less: its event would be landed again as new.
    await store.put(b.ids, "e1\ne2\n");
    const changed = (await store.get(b.ids))!;
    const again = ingest(
      store,
      events,
      [{ name: "again.ndjson", stream: Readable.from([`${LINES[2]}\n`]) }],
      {
        batch: "b2",
        workers: 0,
      },
    );
    await expect(again).rejects.toThrow(
      new IngestError(
        `ingest events: batch b1's ids, which deduplication reads, are damaged: ${b.ids} is corrupt: it is ${changed.length} bytes, its commit recorded ${b.idsObject!.bytes}; it cannot be recomputed: restore it from a backup`,
      ),
    );
    expect(await store.get("_manifests/events/_batches/b2.json")).toBe(undefined);
  });

  it("reads files committed before checksums, and reports them as unverified", async () => {
    // Manifests as Tributary wrote them before it recorded checksums.
    const key = "_manifests/totals/2026-11-01/manifest.json";
    const m = await json<AssetManifest>(store, key);
    await store.put(key, JSON.stringify({ ...m, files: m.files.map(({ sha256: _, ...f }) => f) }));
    const bkey = "_manifests/events/_batches/b1.json";
    const b = await json<BatchManifest>(store, bkey);
    const { idsObject: _, ...old } = b;
    await store.put(bkey, JSON.stringify({ ...old, files: b.files.map(({ sha256: _s, ...f }) => f) }));
    expect((await materialize(graphOf(), store)).counts).toMatchObject({ materialized: 0, fresh: 3 });
    const checks = await verifyCommitted(graphOf(), new StoreState(store), ["events", "totals"], "full");
    expect(checks.filter((c) => c.state === "unverified").map((c) => c.key)).toEqual(
      [...b.files.map((f) => f.key), b.ids, m.files[0]!.key].sort(),
    );
    expect(new Set(checks.map((c) => c.state))).toEqual(new Set(["ok", "unverified"]));
    expect(checks.find((c) => c.state === "unverified")!.why).toBe(
      "it was committed before Tributary recorded checksums",
    );
    const r = await materialize(graphOf("2"), store, { selection: "report" });
    expect(r.counts).toMatchObject({ materialized: 1, failed: 0 });
  });
});

/**
 * On a cloud store the manifest also records the store's own checksum (from the put's answer), so the
 * quick check of an intact object is a head; where the store keeps none (s3rver), or keeps another one
 * than at commit, the quick check reads the bytes.
 */
describe("tamper-evident commits on cloud stores", () => {
  let gcs: GcsFake;
  let s3: S3Emulator;
  beforeAll(async () => {
    [gcs, s3] = await Promise.all([startGcsFake(), startS3()]);
    for (const [k, v] of Object.entries(gcs.env)) vi.stubEnv(k, v);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await Promise.all([gcs?.stop(), s3?.stop()]);
  });
  let n = 0;
  const fast = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };

  it("GCS: records the store's MD5, passes an intact object by it without a download, and reads an overwritten one", async () => {
    const store = new GcsStore({ bucket: gcs.bucket, prefix: `integrity-${++n}`, retry: fast });
    await ingested(store);
    expect((await materialize(graphOf(), store)).counts.materialized).toBe(3);
    const f = await totalsFile(store, "2026-11-01");
    const bytes = (await store.get(f.key))!;
    expect(f.checksum).toBe(`md5:${createHash("md5").update(bytes).digest("base64")}`);
    const downloads = (from: number) => gcs.log.slice(from).filter((l) => l.includes("alt=media")).length;
    let from = gcs.log.length;
    expect(await checkObject(store, f, "quick")).toEqual({ key: f.key, state: "ok" });
    expect(downloads(from)).toBe(0);
    const changed = await flipByte(store, f.key);
    const why = `its SHA-256 (${short(sha256(changed))}) is not the one its commit recorded (${short(f.sha256!)})`;
    // Another MD5 than the recorded one is not proof by itself: the bytes are read, and their SHA-256 decides.
    from = gcs.log.length;
    expect(await checkObject(store, f, "quick")).toEqual({ key: f.key, state: "corrupt", why });
    expect(downloads(from)).toBe(1);
    expect(await checkObject(store, f, "full")).toEqual({ key: f.key, state: "corrupt", why });
    const r = await materialize(graphOf(), store);
    expect(r.counts).toEqual({ materialized: 1, fresh: 2, failed: 0, skipped: 0 });
    expect(r.outcomes.find((o) => o.status === "materialized")!.item.reason).toBe(
      `committed file ${f.key} is corrupt: ${why}`,
    );
  });

  it("S3 on s3rver (no checksums kept): the quick check reads the bytes, and a reader refuses them", async () => {
    const store = new S3Store({
      bucket: s3.bucket,
      prefix: `integrity-${++n}`,
      endpoint: s3.endpoint,
      region: "us-east-1",
      credentials: s3.credentials,
      retry: fast,
    });
    try {
      await ingested(store);
      expect((await materialize(graphOf(), store)).counts.materialized).toBe(3);
      const f = await totalsFile(store, "2026-11-02");
      expect(f.checksum).toBe(undefined);
      const changed = await flipByte(store, f.key);
      const why = `its SHA-256 (${short(sha256(changed))}) is not the one its commit recorded (${short(f.sha256!)})`;
      expect(await checkObject(store, f, "quick")).toEqual({ key: f.key, state: "corrupt", why });
      const r = await materialize(graphOf("2"), store, { selection: "report", checkFiles: false });
      expect(r.outcomes[0]).toMatchObject({
        status: "failed",
        error: new CorruptObjectError({ key: f.key, state: "corrupt", why }).message,
      });
    } finally {
      store.destroy();
    }
  });
});
