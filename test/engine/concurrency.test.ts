/**
 * Concurrency: two `materialize` runs at once on one store never write the same asset partition (a
 * per-partition lock, and a second look at the manifest once the lock is held), both succeed, and the
 * tables equal a clean single run's. And the lock itself: waiting, release, takeover of dead holders,
 * timeout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { acquireLock, type LockBody, LockTimeoutError } from "../../src/runtime/engine/lock.ts";
import type { AssetManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize, type RunObserver, type RunOutcome } from "../../src/runtime/engine/materialize.ts";
import type { Step } from "../../src/runtime/engine/steps.ts";
import { Tables } from "../../src/runtime/iceberg/tables.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { Body, ObjectInfo, ObjectStore, Written } from "../../src/runtime/storage/port.ts";
import {
  alive,
  CliServer,
  copyStore,
  graph,
  ingestedStore,
  partId,
  type ReferencePartition,
  readCommitted,
  readLocks,
  readManifests,
  spawnTributary,
  TEST_KEY,
  tempDir,
} from "./helpers/store.ts";
import { checkTables } from "./helpers/tables.ts";

let root: string;
let base: string;
let duck: Duck;
let server: CliServer;
/** Every asset partition of a clean single in-process run, by "asset/partition". */
let reference: Map<string, ReferencePartition>;
let partitions: string[];

/** A record without what differs between two runs of the same data: run id, timings, snapshot, file names. */
function comparable(m: AssetManifest) {
  const { runId: _r, timings: _t, snapshot: _s, files, ...rest } = m;
  return { ...rest, files: files.map((f) => ({ rows: f.rows })) };
}

/**
 * What both runs must leave: one record per partition, written by the run `writer` names; its file (none
 * for a partition without rows) the only data file in the partition's folder (the other run wrote nothing
 * there); no lock and no failure record left; every partition's rows equal to the clean run's; and in
 * each asset's Iceberg table one version per partition commit, whichever run made it (neither run lost
 * the other's commits in a race for the next version), agreeing with the records, icebird and query.
 */
async function expectWrittenOnce(
  store: LocalStore,
  writer: ReadonlyMap<string, string>,
): Promise<Map<string, AssetManifest>> {
  const manifests = await readManifests(store);
  expect([...manifests.keys()].sort()).toEqual([...partitions].sort());
  expect([...manifests].map(([id, m]) => [id, m.runId])).toEqual(
    [...manifests.keys()].map((id) => [id, writer.get(id)]),
  );
  const named = [...manifests.values()].flatMap((m) => m.files.map((f) => f.key)).sort();
  expect(named).toHaveLength([...manifests.values()].filter((m) => m.rowCount > 0).length);
  expect((await store.list("curated/")).map((o) => o.key).filter((k) => k.includes("/data/"))).toEqual(named);
  const seen = await checkTables(store.root, store, manifests, server);
  expect(seen.lagging).toBe(0);
  const tables = new Tables(store);
  for (const a of new Set(partitions.map((id) => id.split("/")[0]!))) {
    const latest = (await tables.latest(a))!;
    const commits = partitions.filter((id) => id.startsWith(`${a}/`)).length;
    // One snapshot per commit, each the parent of the next: a chain no commit is missing from.
    const chain = latest.metadata.snapshots.map((x) => [
      x["sequence-number"],
      x["parent-snapshot-id"] ?? null,
    ]);
    expect({ a, version: latest.version, snapshots: chain.length }).toEqual({
      a,
      version: commits,
      snapshots: commits,
    });
    expect(chain.map(([, parent]) => parent)).toEqual([
      null,
      ...latest.metadata.snapshots.slice(0, -1).map((x) => x["snapshot-id"]),
    ]);
    expect(new Set(latest.metadata.snapshots.map((x) => x.summary["tributary.partition"])).size).toBe(
      commits,
    );
  }
  expect(await readLocks(store)).toEqual(new Map());
  expect(await store.list("_failures/")).toEqual([]);
  const committed = await readCommitted(store, duck);
  for (const id of partitions) {
    expect({ id, rows: committed.get(id)!.rows }).toEqual({ id, rows: reference.get(id)!.rows });
  }
  return manifests;
}

interface JsonRun {
  runId: string;
  counts: { materialized: number; fresh: number; failed: number; skipped: number };
  outcomes: { asset: string; partition: string; status: string; reason: string; files?: string[] }[];
}

describe("two materialize runs at once on one store", () => {
  beforeAll(async () => {
    // One tokenisation key for the in-process runs and the CLI processes (which inherit it): same tokens.
    process.env[TEST_KEY.variable] = TEST_KEY.value;
    root = await tempDir("tributary-concurrency-");
    base = join(root, "base");
    await ingestedStore(base);
    const ref = await copyStore(base, join(root, "reference"));
    const result = await materialize(graph, ref);
    partitions = result.outcomes.map((o) => partId(o.item.asset, o.item.partition));
    expect(result.counts).toEqual({ materialized: partitions.length, fresh: 0, failed: 0, skipped: 0 });
    duck = await Duck.open();
    reference = await readCommitted(ref, duck);
    server = new CliServer();
  }, 120_000);

  afterAll(async () => {
    duck?.close();
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("two CLI processes started together both succeed, write each partition once, and equal a clean run", async () => {
    const P = partitions.length;
    const dir = join(root, "two-processes");
    const store = await copyStore(base, dir);
    const a = spawnTributary(["materialize", "--store", dir, "--no-sample", "--json"]);
    const b = spawnTributary(["materialize", "--store", dir, "--no-sample", "--json"]);
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect([ea.code, a.stderr(), eb.code, b.stderr()]).toEqual([0, "", 0, ""]);
    const runs = [JSON.parse(a.stdout()) as JsonRun, JSON.parse(b.stdout()) as JsonRun];
    for (const r of runs) {
      expect(r.outcomes.map((o) => partId(o.asset, o.partition))).toEqual(partitions);
      expect(r.counts.materialized + r.counts.fresh).toBe(P);
      expect([r.counts.failed, r.counts.skipped]).toEqual([0, 0]);
    }
    expect(runs[0]!.counts.materialized + runs[1]!.counts.materialized).toBe(P);
    // Each partition: materialised by one run, found fresh by the other.
    const writer = new Map<string, string>();
    const files = new Map<string, string[]>();
    for (let i = 0; i < P; i++) {
      const [oa, ob] = [runs[0]!.outcomes[i]!, runs[1]!.outcomes[i]!];
      expect({ id: partitions[i], statuses: [oa.status, ob.status].sort() }).toEqual({
        id: partitions[i],
        statuses: ["fresh", "materialized"],
      });
      const w = oa.status === "materialized" ? 0 : 1;
      writer.set(partitions[i]!, runs[w]!.runId);
      files.set(partitions[i]!, (w === 0 ? oa : ob).files!);
    }
    const manifests = await expectWrittenOnce(store, writer);
    for (const [id, m] of manifests)
      expect({ id, files: m.files.map((f) => f.key) }).toEqual({ id, files: files.get(id) });
    // How much the two runs contended: "fresh" outcomes of partitions planned to run (the lock held them
    // off until the other run committed) rather than seen committed at planning.
    const contended = runs
      .flatMap((r) => r.outcomes)
      .filter((o) => o.status === "fresh" && o.reason !== "fresh").length;
    console.info(
      `concurrency test: run A materialised ${runs[0]!.counts.materialized}, run B ${runs[1]!.counts.materialized}; ` +
        `${contended} partitions waited for the other run's lock`,
    );
  }, 90_000);

  it("two in-process runs that planned the same work: each partition is written by exactly one of them", async () => {
    const P = partitions.length;
    const dir = join(root, "two-in-process");
    await copyStore(base, dir);
    // Both runs plan before either runs anything (the observer's `planned` is awaited), so both mean to
    // materialise every partition and contend for every lock.
    const planned: number[] = [];
    let go = () => {};
    const together = new Promise<void>((resolve) => {
      go = resolve;
    });
    const outcomes = new Map<string, RunOutcome[]>([
      ["a", []],
      ["b", []],
    ]);
    const observer = (run: string): RunObserver => ({
      planned: async (items: readonly Step[]) => {
        planned.push(items.filter((i) => i.action === "run").length);
        if (planned.length === 2) go();
        await together;
      },
      finished: (o) => void outcomes.get(run)!.push(o),
    });
    // Separate stores (and so separate StoreState and DuckDB) on the same folder.
    const [ra, rb] = await Promise.all([
      materialize(graph, new LocalStore(dir), { runId: "concurrent-run-0000000a", observer: observer("a") }),
      materialize(graph, new LocalStore(dir), { runId: "concurrent-run-0000000b", observer: observer("b") }),
    ]);
    expect(planned).toEqual([P, P]);
    expect([ra.counts.failed, ra.counts.skipped, rb.counts.failed, rb.counts.skipped]).toEqual([0, 0, 0, 0]);
    expect(ra.counts.materialized + rb.counts.materialized).toBe(P);
    expect(ra.counts.fresh + rb.counts.fresh).toBe(P);
    const writer = new Map<string, string>();
    const written = new Map<string, AssetManifest>();
    for (let i = 0; i < P; i++) {
      const id = partitions[i]!;
      const pair = [outcomes.get("a")![i]!, outcomes.get("b")![i]!];
      expect(pair.map((o) => partId(o.item.asset, o.item.partition))).toEqual([id, id]);
      const w = pair.findIndex((o) => o.status === "materialized");
      const other = pair[1 - w]!;
      expect({ id, other: [other.status, "reason" in other ? other.reason : undefined] }).toEqual({
        id,
        other: ["fresh", "materialised by another run"],
      });
      const won = pair[w] as Extract<RunOutcome, { status: "materialized" | "failed" }>;
      writer.set(id, w === 0 ? ra.runId : rb.runId);
      written.set(id, won.manifest!);
    }
    const manifests = await expectWrittenOnce(new LocalStore(dir), writer);
    for (const [id, m] of manifests) {
      expect(m).toEqual(written.get(id));
      expect(comparable(m)).toEqual(comparable(reference.get(id)!.manifest));
    }
    console.info(
      `concurrency test: in-process run A materialised ${ra.counts.materialized}, run B ${rb.counts.materialized}`,
    );
  }, 90_000);
});

describe("acquireLock", () => {
  let dir: string;
  let store: LocalStore;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await tempDir("tributary-lock-");
    store = new LocalStore(dir);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        const gone = once(c, "exit");
        c.kill("SIGKILL");
        await gone;
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  const KEY = "_locks/curated_orders/acme.lock";
  const lockOnDisk = async (key = KEY) => {
    const body = await store.get(key);
    return body === undefined ? undefined : (JSON.parse(body.toString()) as LockBody);
  };
  const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

  /** The pid of a process that has exited (and been reaped). */
  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await once(child, "close");
    expect(alive(child.pid!)).toBe(false);
    return child.pid!;
  }

  /** A process that lives until the test ends. */
  async function livePid(): Promise<{ pid: number; child: ChildProcess }> {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    children.push(child);
    await once(child, "spawn");
    return { pid: child.pid!, child };
  }

  it("a second acquirer waits until the holder releases; a release never frees another run's lock", async () => {
    const releaseA = await acquireLock(store, "curated_orders", "acme", "run-a", { pollMs: 10 });
    const a = await lockOnDisk();
    expect({ ...a, at: ISO.test(a!.at) }).toEqual({
      runId: "run-a",
      pid: process.pid,
      host: hostname(),
      at: true,
    });
    let bHolds = false;
    const b = acquireLock(store, "curated_orders", "acme", "run-b", { pollMs: 10 }).then((release) => {
      bHolds = true;
      return release;
    });
    await sleep(300);
    expect(bHolds).toBe(false);
    expect((await lockOnDisk())?.runId).toBe("run-a");
    await releaseA();
    const releaseB = await b;
    expect(bHolds).toBe(true);
    expect((await lockOnDisk())?.runId).toBe("run-b");
    await releaseA();
    expect((await lockOnDisk())?.runId).toBe("run-b");
    await releaseB();
    expect(await lockOnDisk()).toBe(undefined);
    expect(await store.list("_locks/")).toEqual([]);
  });

  it("takes over, without waiting, a lock whose process on this host is dead", async () => {
    const pid = await deadPid();
    await store.put(
      KEY,
      JSON.stringify({ runId: "killed-run", pid, host: hostname(), at: new Date().toISOString() }),
    );
    const release = await acquireLock(store, "curated_orders", "acme", "run-new", {
      timeoutMs: 0,
      pollMs: 10,
    });
    expect((await lockOnDisk())?.runId).toBe("run-new");
    expect((await lockOnDisk())?.pid).toBe(process.pid);
    await release();
    expect(await lockOnDisk()).toBe(undefined);
  });

  it("takes over an unreadable lock, and one older than staleAfterMs whatever its host", async () => {
    await store.put(KEY, "{not json");
    const r1 = await acquireLock(store, "curated_orders", "acme", "run-1", { timeoutMs: 0 });
    expect((await lockOnDisk())?.runId).toBe("run-1");
    await r1();
    const old = new Date(Date.now() - 5_000).toISOString();
    await store.put(
      KEY,
      JSON.stringify({ runId: "old-run", pid: process.pid, host: "build-agent-7", at: old }),
    );
    const r2 = await acquireLock(store, "curated_orders", "acme", "run-2", {
      timeoutMs: 0,
      staleAfterMs: 1_000,
    });
    expect((await lockOnDisk())?.runId).toBe("run-2");
    await r2();
    expect(await lockOnDisk()).toBe(undefined);
  });

  it("gives up on a live holder after timeoutMs with LockTimeoutError, and takes over once it died", async () => {
    const key = "_locks/daily_revenue/2026-11-01/acme.lock";
    const holder = await livePid();
    const at = new Date().toISOString();
    await store.put(key, JSON.stringify({ runId: "run-holder", pid: holder.pid, host: hostname(), at }));
    const t0 = performance.now();
    const error = await acquireLock(store, "daily_revenue", "2026-11-01/acme", "run-waiter", {
      timeoutMs: 400,
      pollMs: 20,
    }).catch((e: unknown) => e);
    const waited = performance.now() - t0;
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as LockTimeoutError).name).toBe("LockTimeoutError");
    expect((error as LockTimeoutError).message).toBe(
      `"daily_revenue" partition 2026-11-01/acme is being materialised by run run-holder (pid ${holder.pid} on ${hostname()}) since ${at}; gave up waiting. Retry when it has finished.`,
    );
    expect(waited).toBeGreaterThanOrEqual(400);
    // The holder's lock is untouched.
    expect(await lockOnDisk(key)).toEqual({ runId: "run-holder", pid: holder.pid, host: hostname(), at });

    const gone = once(holder.child, "close");
    holder.child.kill("SIGKILL");
    await gone;
    const release = await acquireLock(store, "daily_revenue", "2026-11-01/acme", "run-waiter", {
      timeoutMs: 0,
    });
    expect((await lockOnDisk(key))?.runId).toBe("run-waiter");
    await release();
  });

  it("waits for a recent lock of another host even if its pid is not alive here", async () => {
    const pid = await deadPid();
    const at = new Date().toISOString();
    await store.put(KEY, JSON.stringify({ runId: "remote-run", pid, host: "build-agent-7", at }));
    await expect(
      acquireLock(store, "curated_orders", "acme", "run-local", { timeoutMs: 100, pollMs: 20 }),
    ).rejects.toThrow(
      new LockTimeoutError(
        `"curated_orders" partition acme is being materialised by run remote-run (pid ${pid} on build-agent-7) since ${at}; gave up waiting. Retry when it has finished.`,
      ),
    );
    expect((await lockOnDisk())?.runId).toBe("remote-run");
  });

  /**
   * Engine bug (runtime/engine/lock.ts, the `if (stale) { await store.delete(key); continue; }` branch):
   * taking over a stale lock deletes whatever lock object is there *now*, not the stale one that was read.
   * Two runs that both read the same stale lock (say both started after a crash): A deletes it and creates
   * its own; B, whose read answered later, then deletes A's live lock and creates its own. Both hold the
   * partition's lock and both materialise it. Here B's store answers reads 150 ms late, as a remote object
   * store may; two processes on the local store hit the same window when B is descheduled between its
   * read and its delete.
   */
  it("of two runs taking over the same stale lock, only one holds it", async () => {
    await store.put(
      KEY,
      JSON.stringify({
        runId: "killed-run",
        pid: await deadPid(),
        host: hostname(),
        at: new Date().toISOString(),
      }),
    );
    const slow = new SlowReads(store, 150);
    const b = acquireLock(slow, "curated_orders", "acme", "run-b", { timeoutMs: 500, pollMs: 10 });
    await slow.firstRead; // B has read the stale lock
    const releaseA = await acquireLock(store, "curated_orders", "acme", "run-a", {
      timeoutMs: 500,
      pollMs: 10,
    });
    const a = await lockOnDisk();
    // A holds the lock now: B must wait for it and give up after its timeout.
    const bGot = await b.then(
      async () =>
        `run-b acquired the lock while run-a held it (the lock object now names ${(await lockOnDisk())?.runId})`,
      (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
    );
    expect(bGot).toBe(
      `LockTimeoutError: "curated_orders" partition acme is being materialised by run run-a (pid ${process.pid} on ${hostname()}) since ${a!.at}; gave up waiting. Retry when it has finished.`,
    );
    await releaseA();
  });
});

/** A store whose reads answer late: the object is read at once, the answer arrives `delayMs` later. */
class SlowReads implements ObjectStore {
  readonly uri: string;
  readonly firstRead: Promise<void>;
  readonly #inner: ObjectStore;
  readonly #delayMs: number;
  #read = () => {};
  constructor(inner: ObjectStore, delayMs: number) {
    this.#inner = inner;
    this.#delayMs = delayMs;
    this.uri = inner.uri;
    this.firstRead = new Promise((resolve) => {
      this.#read = resolve;
    });
  }
  put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    return this.#inner.put(key, body, opts);
  }
  async get(key: string): Promise<Buffer | undefined> {
    const body = await this.#inner.get(key);
    this.#read();
    await sleep(this.#delayMs);
    return body;
  }
  read(key: string): Promise<Readable | undefined> {
    return this.#inner.read(key);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.#inner.head(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.#inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
}
