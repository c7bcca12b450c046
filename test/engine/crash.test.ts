/**
 * Crash safety: `tributary materialize` is killed with SIGKILL at seeded random points of its run, many
 * times on the same store. After every kill the store must show committed data only (records that
 * parse, name files that exist whole with the recorded size and rows, `status` and `query` agree with
 * them), and so must its Iceberg tables: each holds exactly the committed records' files, and icebird,
 * opening it by its folder, reads a whole snapshot, exactly what `query` shows of it; leftover locks
 * belong to killed processes and never block the next run; and the run that finally completes leaves
 * tables identical to a clean run's, with every table's hint current.
 *
 * CRASH_ITERATIONS (default 8) sets the number of kills, CRASH_SEED (default 20261128) the kill points.
 */
import { rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIRST_DAY } from "../../examples/commerce/assets/commerce/index.ts";
import { TENANTS } from "../../examples/commerce/assets/commerce/schemas.ts";
import { partitionPath } from "../../src/contract/storage-layout.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import type { LockBody } from "../../src/runtime/engine/lock.ts";
import type { AssetManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import type { LocalStore } from "../../src/runtime/storage/local.ts";
import {
  ASSETS,
  alive,
  CliServer,
  copyStore,
  expectedRows,
  graph,
  ingestedStore,
  lockKey,
  partId,
  type ReferencePartition,
  readCommitted,
  readLocks,
  readManifests,
  rowsOf,
  seededRandom,
  spawnTributary,
  TEST_KEY,
  tempDir,
} from "./helpers/store.ts";
import { checkTables } from "./helpers/tables.ts";

const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? "8");
const SEED = Number(process.env.CRASH_SEED ?? "20261128");

/** Rows of each asset in a clean run of the sample data (seeded: always the same). */
const REFERENCE_ROWS = {
  curated_customers: 194,
  curated_orders: 645,
  customer_features: 194,
  daily_revenue: 50,
  recommendation_features: 194,
  recommendation_vectors: 194,
};

let root: string;
let base: string;
let refDir: string;
let duck: Duck;
let server: CliServer;
/** Every asset partition of a clean in-process run, by "asset/partition": its manifest and rows. */
let reference: Map<string, ReferencePartition>;
/** The asset partitions in plan order. */
let order: { asset: string; partition: string; id: string }[];
/** A clean run of the CLI (the process the crash test kills): its committed partitions, and its timing. */
let cliRun: { committed: Map<string, ReferencePartition>; planMs: number; workMs: number; stdout: string };

beforeAll(async () => {
  // One tokenisation key for the in-process runs and the CLI processes (which inherit it): same tokens.
  process.env[TEST_KEY.variable] = TEST_KEY.value;
  root = await tempDir("tributary-crash-");
  base = join(root, "base");
  await ingestedStore(base);
  refDir = join(root, "reference");
  const ref = await copyStore(base, refDir);
  const result = await materialize(graph, ref);
  order = result.outcomes.map((o) => ({
    asset: o.item.asset,
    partition: o.item.partition,
    id: partId(o.item.asset, o.item.partition),
  }));
  expect(result.counts).toEqual({ materialized: order.length, fresh: 0, failed: 0, skipped: 0 });
  duck = await Duck.open();
  reference = await readCommitted(ref, duck);
  server = new CliServer();

  // A clean run of the bin in a child process: the measure of how long a run takes, and the reference
  // for what the CLI commits (its manifests; the rows are compared with the in-process run's below).
  const dir = join(root, "measure");
  const store = await copyStore(base, dir);
  const child = spawnTributary(["materialize", "--store", dir, "--no-sample"]);
  const plan = await child.planned;
  const done = await child.exited;
  expect({ code: done.code, signal: done.signal, stderr: child.stderr(), planned: plan.runs }).toEqual({
    code: 0,
    signal: null,
    stderr: "",
    planned: order.length,
  });
  cliRun = {
    committed: await readCommitted(store, duck),
    planMs: plan.ms,
    workMs: done.ms - plan.ms,
    stdout: child.stdout(),
  };
  console.info(
    `crash test: a full CLI run plans in ${Math.round(plan.ms)} ms and materialises in ${Math.round(cliRun.workMs)} ms`,
  );
}, 180_000);

afterAll(async () => {
  duck?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A record without what differs between two runs of the same data: run id, timings, snapshot, file names. */
function comparable(m: AssetManifest) {
  const { runId: _r, timings: _t, snapshot: _s, files, ...rest } = m;
  return { ...rest, files: files.map((f) => ({ rows: f.rows })) };
}

/** What a check of the store saw. */
interface Seen {
  readonly manifests: Map<string, AssetManifest>;
  readonly locks: Map<string, LockBody>;
  readonly orphans: readonly string[];
  /** Record files holding a pending record (a kill during a commit), and tables whose hint lags. */
  readonly pending: number;
  readonly lagging: number;
}

/**
 * Everything a reader can see of `dir` is committed, whole and equal to a clean run: every manifest
 * parses, equals the clean CLI run's (but for run id and timings) and names one file of the recorded size
 * and row count holding the clean run's rows; `status --json` reports exactly the committed partitions as
 * fresh and the others as never materialised; `query` of each asset returns exactly the clean rows of its
 * committed partitions; every lock left belongs to a killed (dead) process of this host.
 */
async function checkStore(dir: string, store: LocalStore, deadPids: ReadonlySet<number>): Promise<Seen> {
  // Every object a reader may open is whole: each manifest (of assets and of ingest batches) parses, and
  // so does every line of the OpenLineage files the runs wrote. No run failed.
  for (const o of await store.list("_manifests/")) {
    const parsed = await store.get(o.key).then((b) => JSON.parse(b!.toString()) as { format?: number });
    expect({ key: o.key, format: parsed.format }).toEqual({ key: o.key, format: 1 });
  }
  for (const o of await store.list("_lineage/")) {
    const lines = (await store.get(o.key))!.toString().split("\n");
    expect({ key: o.key, last: lines.at(-1) }).toEqual({ key: o.key, last: "" });
    const types = lines.slice(0, -1).map((line) => (JSON.parse(line) as { eventType: string }).eventType);
    expect({ key: o.key, odd: types.filter((t) => !["START", "COMPLETE", "FAIL"].includes(t)) }).toEqual({
      key: o.key,
      odd: [],
    });
  }
  expect(await store.list("_failures/")).toEqual([]);
  const counts: { pending?: number } = {};
  const manifests = await readManifests(store, counts);
  for (const [id, m] of manifests) {
    const clean = cliRun.committed.get(id);
    expect(clean === undefined ? `${id}: not a partition of the clean run` : id).toBe(id);
    expect(comparable(m)).toEqual(comparable(clean!.manifest));
    const a = graph.get(m.asset) as (typeof ASSETS)[number];
    const ppath = partitionPath(a.partitions, m.partition, a.key);
    // One file, but for a partition with no rows, which has none.
    expect(m.files.map((f) => f.key)).toEqual(
      m.rowCount === 0
        ? []
        : [`curated/${m.asset}/data/${ppath}/${m.dataVersion}-${m.runId.slice(-8)}.parquet`],
    );
    if (m.rowCount === 0) {
      expect(reference.get(id)!.rows).toEqual([]);
      continue;
    }
    const f = m.files[0]!;
    expect({ id, size: (await store.head(f.key))?.size }).toEqual({ id, size: f.bytes });
    const path = store.localPath(f.key);
    const [meta] = await duck.rows(`SELECT num_rows FROM parquet_file_metadata('${path}')`);
    expect({ id, rows: Number(meta!.num_rows) }).toEqual({ id, rows: f.rows });
    expect(await rowsOf(duck, a, [path])).toEqual(reference.get(id)!.rows);
  }

  const status = await server.run(["status", "--json", "--store", dir]);
  expect({ code: status.code, err: status.err }).toEqual({ code: 0, err: "" });
  const reported = (
    JSON.parse(status.out) as {
      partitions: {
        asset: string;
        partition: string;
        state: string;
        rows: number | null;
        dataVersion: string | null;
      }[];
    }
  ).partitions.map((p) => [partId(p.asset, p.partition), p.state, p.rows, p.dataVersion]);
  expect(reported).toEqual(
    order.map(({ id }) => {
      const m = manifests.get(id);
      return m ? [id, "fresh", m.rowCount, m.dataVersion] : [id, "never", null, null];
    }),
  );

  for (const a of ASSETS) {
    const committed = order.filter((o) => o.asset === a.key && manifests.has(o.id));
    const rows = await server.rows(dir, a.key);
    expect({ asset: a.key, rows: rows.length }).toEqual({
      asset: a.key,
      rows: committed.reduce((n, o) => n + manifests.get(o.id)!.rowCount, 0),
    });
    expect(rows).toEqual(
      expectedRows(
        reference,
        a.key,
        committed.map((o) => o.partition),
      ),
    );
  }

  const locks = await readLocks(store);
  const lockKeys = new Set(order.map((o) => lockKey(o.asset, o.partition)));
  for (const [key, body] of locks) {
    expect({
      key,
      known: lockKeys.has(key),
      killed: deadPids.has(body.pid),
      alive: alive(body.pid),
      host: body.host,
    }).toEqual({
      key,
      known: true,
      killed: true,
      alive: false,
      host: hostname(),
    });
  }

  // The Iceberg view agrees with the records and with query.
  const tables = await checkTables(dir, store, manifests, server);

  const named = new Set([...manifests.values()].flatMap((m) => m.files.map((f) => f.key)));
  const curated = (await store.list("curated/")).map((o) => o.key).filter((k) => k.includes("/data/"));
  for (const key of named) expect(curated.includes(key) ? key : `${key} is missing`).toBe(key);
  // Data files of killed runs that no record names: invisible to readers (no table holds them), and
  // named like the engine names them, in the folder of a partition of the graph (gc collects them).
  const orphans = curated.filter((k) => !named.has(k));
  const folders = new Set(
    order.map(
      (o) => `curated/${o.asset}/data/${partitionPath(graph.get(o.asset).partitions, o.partition, o.asset)}/`,
    ),
  );
  for (const k of orphans) {
    const folder = k.slice(0, k.lastIndexOf("/") + 1);
    expect({
      k,
      folder: folders.has(folder),
      name: /^[0-9a-f]{16}-[0-9a-f]{8}\.parquet$/.test(k.slice(folder.length)),
    }).toEqual({
      k,
      folder: true,
      name: true,
    });
  }
  return { manifests, locks, orphans, pending: counts.pending ?? 0, lagging: tables.lagging };
}

describe("materialize killed with SIGKILL", () => {
  it("a clean run has every partition, with the sample data's rows", () => {
    const days = Math.floor(
      (Date.parse(new Date().toISOString().slice(0, 10)) - Date.parse(FIRST_DAY)) / 86_400_000,
    );
    // curated_customers, curated_orders, customer_features, recommendation_features,
    // recommendation_vectors: one per tenant; daily_revenue: one per day up to yesterday and tenant.
    expect(order.length).toBe(5 * TENANTS.length + days * TENANTS.length);
    expect(reference.size).toBe(order.length);
    const rows = Object.fromEntries(
      ASSETS.map((a) => [
        a.key,
        order.filter((o) => o.asset === a.key).reduce((n, o) => n + reference.get(o.id)!.rows.length, 0),
      ]),
    );
    expect(rows).toEqual(REFERENCE_ROWS);
  });

  it("the CLI commits the same rows and manifests as an in-process run", () => {
    expect(cliRun.stdout).toMatch(
      new RegExp(
        `^${order.length} materialised, 0 fresh, 0 failed, 0 skipped in [0-9.]+ s \\(run [0-9a-f-]{36}\\)$`,
        "m",
      ),
    );
    expect([...cliRun.committed.keys()].sort()).toEqual([...reference.keys()].sort());
    const versions = ({ codeVersion: _c, dataVersion: _d, inputs, ...rest }: AssetManifest) => ({
      ...comparable({ ...rest, codeVersion: "", dataVersion: "", inputs: [] } as AssetManifest),
      inputs: inputs.map((i) => ({ asset: i.asset, partition: i.partition })),
    });
    for (const [id, c] of cliRun.committed) {
      const inProcess = reference.get(id)!;
      expect({ id, rows: c.rows }).toEqual({ id, rows: inProcess.rows });
      // Equal but for the versions: see the next test.
      expect(versions(c.manifest)).toEqual(versions(inProcess.manifest));
    }
  });

  // A compute asset's code version is declared, not derived from its function's text (which differs
  // between tsx, vitest and a bundler): the CLI's and the in-process run's manifests must agree.
  it("a compute asset's code version does not depend on how the graph module was loaded", () => {
    for (const [id, c] of cliRun.committed) {
      expect({ id, codeVersion: c.manifest.codeVersion }).toEqual({
        id,
        codeVersion: reference.get(id)!.manifest.codeVersion,
      });
    }
  });

  it(
    `${ITERATIONS} kills at random points never expose partial output; the rerun equals a clean run`,
    async () => {
      const P = order.length;
      const W = cliRun.workMs;
      const dir = join(root, "crash");
      const store = await copyStore(base, dir);
      const random = seededRandom(SEED);
      const killedPids = new Set<number>();
      let committed = new Map<string, AssetManifest>();
      let locks = new Map<string, LockBody>();
      let kills = 0;
      let takenOver = 0;
      const log: string[] = [];

      for (let i = 0; i < ITERATIONS; i++) {
        // Stratified kill points over a full run's timeline: iteration i kills somewhere in the i-th
        // slice of the work, of which the store has already done `committed.size / P`.
        const target = (i + random()) / ITERATIONS;
        const done = committed.size / P;
        const delay = target > done ? (target - done) * W : (random() * W) / ITERATIONS;
        const child = spawnTributary(["materialize", "--store", dir, "--no-sample"]);
        const plan = await Promise.race([child.planned, child.exited.then(() => undefined)]);
        // Everything committed is fresh; everything else is planned (no stale lock makes a run fail).
        expect(plan === undefined ? `exited before planning: ${child.stderr()}` : plan.runs).toBe(
          P - committed.size,
        );
        await sleep(delay);
        child.child.kill("SIGKILL");
        const exit = await child.exited;
        if (exit.signal === "SIGKILL") {
          kills++;
          killedPids.add(child.pid);
        } else {
          // It finished before the kill: then it must have succeeded.
          expect({ code: exit.code, stderr: child.stderr() }).toEqual({ code: 0, stderr: "" });
        }

        const seen = await checkStore(dir, store, killedPids);
        // Progress is never lost: what was committed stays, untouched (fresh partitions are not rewritten).
        for (const [id, m] of committed)
          expect({ id, runId: seen.manifests.get(id)?.runId }).toEqual({ id, runId: m.runId });
        // A stale lock on a partition this run committed was taken over: now released, or this run's own.
        for (const [key, body] of locks) {
          const o = order.find((x) => lockKey(x.asset, x.partition) === key)!;
          if (committed.has(o.id) || !seen.manifests.has(o.id)) continue;
          const now = seen.locks.get(key);
          expect({ key, holder: now?.pid ?? "released" }).toEqual({
            key,
            holder: now ? child.pid : "released",
          });
          if (now?.pid !== body.pid) takenOver++;
        }
        log.push(
          `#${i} killed ${Math.round(delay)} ms after planning ${plan!.runs}: ${exit.signal ?? `exit ${exit.code}`}, ` +
            `${seen.manifests.size}/${P} committed, ${seen.locks.size} stale lock(s), ${seen.orphans.length} orphan file(s), ` +
            `${seen.pending} pending record(s), ${seen.lagging} lagging hint(s)`,
        );
        committed = seen.manifests;
        locks = seen.locks;
      }

      // Make sure the final run meets a stale lock of a dead process on a partition it has to run (the
      // last kill left one only if it struck while that partition was locked).
      const next = order.find((o) => !committed.has(o.id));
      const deadPid = [...killedPids].at(-1);
      if (next && deadPid !== undefined && !locks.has(lockKey(next.asset, next.partition))) {
        const body: LockBody = {
          runId: "killed-run",
          pid: deadPid,
          host: hostname(),
          at: new Date().toISOString(),
        };
        await store.put(lockKey(next.asset, next.partition), JSON.stringify(body));
        locks.set(lockKey(next.asset, next.partition), body);
      }

      const final = spawnTributary(["materialize", "--store", dir, "--no-sample", "--json"]);
      const exit = await final.exited;
      expect({ code: exit.code, signal: exit.signal, stderr: final.stderr() }).toEqual({
        code: 0,
        signal: null,
        stderr: "",
      });
      const result = JSON.parse(final.stdout()) as { runId: string; counts: Record<string, number> };
      expect(result.counts).toEqual({
        materialized: P - committed.size,
        fresh: committed.size,
        failed: 0,
        skipped: 0,
      });
      const seen = await checkStore(dir, store, killedPids);
      expect(seen.manifests.size).toBe(P);
      // The completed run settled what the kills left: no pending record, every hint current.
      expect({ pending: seen.pending, lagging: seen.lagging }).toEqual({ pending: 0, lagging: 0 });
      for (const key of locks.keys()) {
        const o = order.find((x) => lockKey(x.asset, x.partition) === key)!;
        if (committed.has(o.id)) continue;
        // The final run took this stale lock over, and released it.
        expect({ key, lock: seen.locks.get(key) ?? "released" }).toEqual({ key, lock: "released" });
        takenOver++;
      }
      for (const [id, m] of seen.manifests) {
        expect({ id, runId: m.runId }).toEqual({ id, runId: committed.get(id)?.runId ?? result.runId });
      }
      // Each table, as `query` shows it, equals the clean in-process run's, row for row.
      for (const a of ASSETS) {
        expect({ asset: a.key, rows: await server.rows(dir, a.key) }).toEqual({
          asset: a.key,
          rows: await server.rows(refDir, a.key),
        });
      }

      // And a further run finds everything fresh.
      const again = await server.run(["materialize", "--store", dir, "--no-sample", "--json"]);
      expect({ code: again.code, err: again.err }).toEqual({ code: 0, err: "" });
      expect((JSON.parse(again.out) as { counts: Record<string, number> }).counts).toEqual({
        materialized: 0,
        fresh: P,
        failed: 0,
        skipped: 0,
      });

      log.push(
        `final run: ${P - committed.size} materialised, ${committed.size} fresh; ${kills} kills, ${takenOver} stale lock(s) taken over, ` +
          `${seen.orphans.length} orphan file(s) under curated/ (seed ${SEED})`,
      );
      console.info(`crash test:\n  ${log.join("\n  ")}`);
      expect(kills).toBeGreaterThanOrEqual(Math.ceil(ITERATIONS / 2));
    },
    120_000 + ITERATIONS * 20_000,
  );
});
