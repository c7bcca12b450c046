/**
 * Shared by the crash and concurrency tests: a store with the reference sample data ingested, the
 * `tributary` bin in a child process that can be killed at a chosen moment, the CLI in a long-lived child, and
 * readers of what a store has committed (manifests, their files, their rows).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import graph, { sampleData } from "../../../examples/commerce/assets/index.ts";
import { ensureSampleData, sampleHookOf } from "../../../src/cli/samples.ts";
import { layout, partitionPath } from "../../../src/contract/storage-layout.ts";
import type { AssetDef } from "../../../src/kit/asset.ts";
import type { Duck } from "../../../src/runtime/engine/duckdb.ts";
import { readSql } from "../../../src/runtime/engine/executor.ts";
import type { LockBody } from "../../../src/runtime/engine/lock.ts";
import type { AssetManifest } from "../../../src/runtime/engine/manifest.ts";
import { parseRecordFile, type RecordFile, resolveRecord } from "../../../src/runtime/engine/records.ts";
import { Tables } from "../../../src/runtime/iceberg/tables.ts";
import { LocalStore } from "../../../src/runtime/storage/local.ts";
import type { CliReply, CliRequest } from "./cli-server.ts";

export { graph };

/** The repository root (absolute, without a trailing slash). */
export const REPO = fileURLToPath(new URL("../../..", import.meta.url)).replace(/\/$/, "");
export const BIN = `${REPO}/bin/tributary.js`;
/**
 * The tokenisation key of the reference pipeline in runs that must give the same tokens in this process
 * and in the CLI processes it starts (which inherit the environment).
 */
export const TEST_KEY = {
  variable: "TRIBUTARY_SECRET_PII_TOKEN_KEY",
  value: "the engine tests' tokenisation key, 32+ bytes long",
} as const;

const SERVER = fileURLToPath(new URL("./cli-server.ts", import.meta.url));

/** The graph's assets (not sources), in topological order. */
export const ASSETS: readonly AssetDef[] = graph.order
  .map((k) => graph.get(k))
  .filter((a): a is AssetDef => a.kind === "asset");

export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), prefix));

/** A store in `dir` holding the graph module's sample data, ingested in-process (as `materialize` does). */
export async function ingestedStore(dir: string): Promise<LocalStore> {
  const store = new LocalStore(dir);
  const did = await ensureSampleData(graph, store, sampleHookOf(undefined, { sampleData }), undefined);
  if (!did) throw new Error(`the store ${dir} already had data`);
  // The generated input files are not part of the store's data; copies need not carry them.
  await rm(join(dir, "samples"), { recursive: true, force: true });
  return store;
}

export async function copyStore(from: string, to: string): Promise<LocalStore> {
  await cp(from, to, { recursive: true });
  return new LocalStore(to);
}

/**
 * The CLI in a long-lived child process loaded by tsx, as the bin is (see cli-server.ts): checks run
 * `status`, `query` and `materialize` exactly as `node bin/tributary.js` would, without a process start
 * each. (Not in the test's own process: vitest transforms the graph module differently from tsx, and a
 * compute asset's default code version is a hash of its function's transformed source.)
 */
export class CliServer {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (reply: CliReply) => void>();
  #next = 0;

  constructor() {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
    delete env.FORCE_COLOR;
    delete env.OPENLINEAGE_URL;
    // The CLI's sources, and `import "tributary"` (the graph module's) resolved to them: one copy of the kit.
    this.#child = spawn(process.execPath, ["--conditions=tributary:source", "--import", "tsx", SERVER], {
      cwd: REPO,
      env,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (reply: CliReply) => {
      this.#waiting.get(reply.id)?.(reply);
      this.#waiting.delete(reply.id);
    });
  }

  /** `tributary ...args`: the exit code and what it printed. */
  run(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
    const request: CliRequest = { id: ++this.#next, argv: args };
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the CLI server exited (${code}) during ${args.join(" ")}`));
      this.#child.once("exit", onExit);
      this.#waiting.set(request.id, ({ code, out, err }) => {
        this.#child.off("exit", onExit);
        resolve({ code, out, err });
      });
      this.#child.send(request);
    });
  }

  /** `tributary query "SELECT * FROM <asset>" --json`: the rows visible to readers, as sorted JSON texts. */
  async rows(dir: string, asset: string): Promise<string[]> {
    const r = await this.run(["query", `SELECT * FROM ${asset}`, "--json", "--store", dir]);
    if (r.code !== 0 || r.err !== "") throw new Error(`query of ${asset} exited ${r.code}: ${r.err}`);
    return (JSON.parse(r.out) as Record<string, unknown>[]).map((row) => JSON.stringify(row)).sort();
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const gone = new Promise((resolve) => this.#child.once("exit", resolve));
    this.#child.kill();
    await gone;
  }
}

/** `tributary materialize` in a child process. */
export interface ChildRun {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the run printed its plan ("plan: N of M ..."), with N and ms since the spawn. */
  readonly planned: Promise<{ runs: number; total: number; ms: number }>;
  /** Resolves when the process is gone (and reaped): its exit code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  stdout(): string;
  stderr(): string;
}

export function spawnTributary(args: readonly string[]): ChildRun {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  delete env.OPENLINEAGE_URL;
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onPlan: (p: { runs: number; total: number; ms: number }) => void = () => {};
  const planned = new Promise<{ runs: number; total: number; ms: number }>((resolve) => {
    onPlan = resolve;
  });
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    const m = /^plan: (\d+) of (\d+) asset partitions to materialise$/m.exec(stdout);
    if (m) onPlan({ runs: Number(m[1]), total: Number(m[2]), ms: performance.now() - t0 });
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>(
    (resolve, reject) => {
      child.on("error", reject);
      // "close": the process has exited, been reaped, and its output is drained.
      child.on("close", (code, signal) => resolve({ code, signal, ms: performance.now() - t0 }));
    },
  );
  if (child.pid === undefined) throw new Error("could not start the tributary bin");
  return { child, pid: child.pid, planned, exited, stdout: () => stdout, stderr: () => stderr };
}

/** A small seeded PRNG (mulberry32): the same seed gives the same kill points. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "asset/partition", the identity of one asset partition in these tests. */
export const partId = (asset: string, partition: string) => `${asset}/${partition}`;

/**
 * The committed record of every asset partition, keyed by asset partition: every record file under
 * `_manifests/<asset>/` parsed (a torn or unreadable one throws here), checked to sit at the key its asset
 * and partition name, and resolved against its table as every reader resolves it (records.ts): a pending
 * record counts once its snapshot is in the table. `pending` counts the files that hold one.
 */
export async function readManifests(
  store: LocalStore,
  counts: { pending?: number } = {},
): Promise<Map<string, AssetManifest>> {
  const out = new Map<string, AssetManifest>();
  const tables = new Tables(store);
  counts.pending = 0;
  for (const a of ASSETS) {
    for (const o of await store.list(layout.manifestPrefix(a.key))) {
      let file: RecordFile;
      try {
        file = parseRecordFile((await store.get(o.key))!);
      } catch (e) {
        throw new Error(`record file ${o.key} does not parse: ${(e as Error).message}`);
      }
      for (const m of [file.committed, file.pending]) {
        if (!m) continue;
        const expectedKey = layout.manifest(a.key, partitionPath(a.partitions, m.partition, a.key));
        if (o.key !== expectedKey || m.asset !== a.key || m.format !== 1) {
          throw new Error(
            `record ${o.key} names asset ${m.asset} partition ${m.partition} (format ${m.format})`,
          );
        }
      }
      if (file.pending) counts.pending++;
      const { record } = await resolveRecord(file, (snapshot) => tables.holds(a.key, snapshot));
      if (record) out.set(partId(a.key, record.partition), record);
    }
  }
  return out;
}

/** The rows of some Parquet files of an asset, read as `query` reads them, each as its JSON text, sorted. */
export async function rowsOf(duck: Duck, a: AssetDef, paths: readonly string[]): Promise<string[]> {
  const rows = await duck.jsonRows(`SELECT * FROM (${readSql(a, paths)})`);
  return rows.map((r) => JSON.stringify(r)).sort();
}

/** What one committed asset partition holds in the reference store. */
export interface ReferencePartition {
  readonly manifest: AssetManifest;
  readonly rows: readonly string[];
}

/** Every committed partition of a store with its rows, read from its manifests' files. */
export async function readCommitted(store: LocalStore, duck: Duck): Promise<Map<string, ReferencePartition>> {
  const manifests = await readManifests(store);
  const out = new Map<string, ReferencePartition>();
  for (const [id, m] of manifests) {
    const a = graph.get(m.asset) as AssetDef;
    out.set(id, {
      manifest: m,
      rows: await rowsOf(
        duck,
        a,
        m.files.map((f) => store.localPath(f.key)),
      ),
    });
  }
  return out;
}

/** The sorted union of the reference rows of some partitions of one asset. */
export function expectedRows(
  reference: ReadonlyMap<string, ReferencePartition>,
  asset: string,
  partitions: Iterable<string>,
): string[] {
  const rows: string[] = [];
  for (const p of partitions) rows.push(...reference.get(partId(asset, p))!.rows);
  return rows.sort();
}

/** Whether a process is alive (signal 0), as the lock module decides it. */
export function alive(processId: number): boolean {
  try {
    process.kill(processId, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Every lock object under `_locks/`, parsed, by key. */
export async function readLocks(store: LocalStore): Promise<Map<string, LockBody>> {
  const out = new Map<string, LockBody>();
  for (const o of await store.list("_locks/")) {
    if (!o.key.endsWith(".lock")) continue; // takeover markers
    out.set(o.key, JSON.parse((await store.get(o.key))!.toString()) as LockBody);
  }
  return out;
}

/** The lock key of one asset partition. */
export function lockKey(asset: string, partition: string): string {
  const a = graph.get(asset);
  return layout.lock(asset, partitionPath(a.partitions, partition, asset));
}
