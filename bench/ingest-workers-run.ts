/**
 * One ingest of a landed NDJSON object as a source's function runs it (a stream of unknown size, workers
 * "auto" counted on the function's CPUs), bundled by bench/ingest-workers.ts with its worker the way
 * `tributary bundle` bundles them: `node run.mjs <file> <cpus>` prints `RESULT {"ms": …, "workers": …}`.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ordersCdc } from "../examples/commerce/assets/commerce/index.ts";
import { ingest } from "../src/runtime/engine/ingest.ts";
import { LocalStore } from "../src/runtime/storage/local.ts";

const [file, cpus] = process.argv.slice(2);
const root = await mkdtemp(join(tmpdir(), "tributary-bench-ingest-run-"));
try {
  const started = performance.now();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const result = await ingest(
    new LocalStore(root),
    ordersCdc,
    [{ name: "landed", stream: createReadStream(file!) }],
    {
      workers: "auto",
      cores: Number(cpus),
    },
  );
  const ms = performance.now() - started;
  // The main thread's busy time (what bounds the ingest when the workers have cores of their own), and
  // the CPU time of the whole process (main thread and workers).
  const main = performance.eventLoopUtilization(elu).active;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  const read = result.manifest.counts.read;
  console.log(`RESULT ${JSON.stringify({ ms, main, cpuMs, workers: result.workers, read })}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
