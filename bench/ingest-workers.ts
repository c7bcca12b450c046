/**
 * Whether a source's cloud function should validate on worker threads: its ingest of a landed object
 * (a stream of unknown size, as the handler reads it), bundled with its worker as `tributary bundle`
 * bundles them and run by a fresh node, with the CPUs a function's memory buys: one (no workers: the
 * baseline, measured in the same run) against two (two workers, a 3,538 MB Lambda or a 4 GiB Cloud
 * Function or Flex instance), alternately; and of a bus message (a few hundred KiB, which never starts
 * workers: no cost either way).
 *
 *   npx tsx bench/ingest-workers.ts               350,000 events (about 68 MiB), 3 rounds
 *   npx tsx bench/ingest-workers.ts 100000 --rounds 5
 *
 * Run it on a machine with at least two free cores: the ratio is what a function with two vCPUs gains.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as esbuild from "esbuild";
import { BANNER, DEFINE, NODE_MAJOR } from "../src/infra/bundle/build.ts";
import { ordersFile } from "./ingest.ts";

const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

/** The runner and the ingest worker, bundled as `tributary bundle` bundles a function and its worker. */
async function build(dir: string): Promise<string> {
  const common: esbuild.BuildOptions = {
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${NODE_MAJOR}`,
    banner: { js: BANNER },
    define: DEFINE,
    logLevel: "silent",
  };
  await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: [join(import.meta.dirname, "ingest-workers-run.ts")],
      outfile: join(dir, "run.mjs"),
    }),
    esbuild.build({
      ...common,
      entryPoints: [join(import.meta.dirname, "../src/runtime/engine/ingest-worker.ts")],
      outfile: join(dir, "ingest-worker.js"),
    }),
  ]);
  return join(dir, "run.mjs");
}

/** One ingest of `file` in a fresh node with `cpus`: milliseconds and the workers it used. */
interface Run {
  readonly ms: number;
  readonly main: number;
  readonly cpuMs: number;
  readonly workers: number;
}

async function landed(runner: string, file: string, cpus: number): Promise<Run> {
  const { stdout } = await run(process.execPath, [runner, file, String(cpus)], { maxBuffer: 1 << 20 });
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`bench: the runner printed no result:\n${stdout}`);
  return JSON.parse(line.slice("RESULT ".length)) as Run;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 3;
  const events = Number(args[0] ?? 350_000);
  const file = await ordersFile(events);
  const mib = (await stat(file)).size / 2 ** 20;
  const message = await ordersFile(1_300);
  console.log(
    `ingest workers benchmark: ${fmt(events)} events (${mib.toFixed(0)} MiB) landed, and a message of ${((await stat(message)).size / 1024).toFixed(0)} KiB; ${availableParallelism()} cores here, ${rounds} rounds`,
  );
  const dir = await mkdtemp(join(tmpdir(), "tributary-bench-workers-"));
  const runner = await build(dir);
  const one: Run[] = [];
  const two: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await landed(runner, file, 1);
    const b = await landed(runner, file, 2);
    one.push(a);
    two.push(b);
    console.log(
      `  round ${r + 1}: 1 vCPU ${fmt(a.ms)} ms (${a.workers} workers), 2 vCPUs ${fmt(b.ms)} ms (${b.workers} workers, main thread busy ${fmt(b.main)} ms)`,
    );
  }
  const of = (runs: Run[], k: "ms" | "main" | "cpuMs") => median(runs.map((r) => r[k]));
  const a = of(one, "ms");
  const b = of(two, "ms");
  const busy = of(two, "main");
  console.log(
    `  1 vCPU (baseline):  ${fmt(a)} ms, ${fmt(events / (a / 1000))} events/s, CPU ${fmt(of(one, "cpuMs"))} ms`,
  );
  console.log(
    `  2 vCPUs, measured:  ${fmt(b)} ms, ${fmt(events / (b / 1000))} events/s, CPU ${fmt(of(two, "cpuMs"))} ms, ${two[0]!.workers} workers`,
  );
  // With a core of their own the workers keep up, and the main thread's busy time bounds the ingest.
  console.log(`  2 vCPUs, main thread busy: ${fmt(busy)} ms (what two dedicated vCPUs would take)`);
  console.log(
    `  ratio 2 vCPUs / 1 vCPU: measured ${(b / a).toFixed(2)}, main thread ${(busy / a).toFixed(2)}`,
  );
  const small = [await landed(runner, message, 1), await landed(runner, message, 2)];
  console.log(
    `  a ${((await stat(message)).size / 1024).toFixed(0)} KiB message: ${fmt(small[0]!.ms)} ms / ${fmt(small[1]!.ms)} ms, workers ${small[0]!.workers} / ${small[1]!.workers}`,
  );
  await rm(dir, { recursive: true, force: true });
}

await main();
