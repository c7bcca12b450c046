/**
 * Ingest memory benchmark: the peak resident memory of a process that ingests 5,000,000 orders_cdc events
 * (default) into an empty local store. Ingest streams its inputs and outputs, so its memory is the event
 * id index plus buffers: the target is under 1 GiB.
 *
 *   npx tsx bench/ingest-memory.ts            5,000,000 events
 *   npx tsx bench/ingest-memory.ts 1000000
 *
 * The ingest runs in a child process, so the generator and this process do not count; the peak is the
 * child's getrusage maximum resident set size (worker threads included), checked against RSS sampled
 * every 50 ms. The input is generated once and cached in bench/.data/ (about 2.9 GB for 5M events).
 */
import { execFile } from "node:child_process";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ordersCdc } from "../examples/commerce/assets/commerce/index.ts";
import { ingest } from "../src/runtime/engine/ingest.ts";
import { LocalStore } from "../src/runtime/storage/local.ts";
import { DATA, ordersFile } from "./ingest.ts";

const TARGET_BYTES = 2 ** 30;

interface ChildReport {
  readonly maxRss: number;
  readonly sampledRss: number;
  readonly ms: number;
  readonly counts: { read: number; written: number; quarantined: number; duplicates: number };
  readonly workers: number;
}

async function child(file: string, root: string): Promise<void> {
  let sampled = process.memoryUsage().rss;
  const timer = setInterval(() => {
    sampled = Math.max(sampled, process.memoryUsage().rss);
  }, 50);
  const started = performance.now();
  const result = await ingest(new LocalStore(root), ordersCdc, [file]);
  const ms = performance.now() - started;
  clearInterval(timer);
  const report: ChildReport = {
    // getrusage reports kilobytes.
    maxRss: process.resourceUsage().maxRSS * 1024,
    sampledRss: Math.max(sampled, process.memoryUsage().rss),
    ms,
    counts: result.manifest.counts,
    workers: result.workers,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const events = Number(process.argv[2] ?? 5_000_000);
  if (!Number.isInteger(events) || events < 1)
    throw new Error("usage: npx tsx bench/ingest-memory.ts [events]");
  const file = await ordersFile(events);
  const size = (await stat(file)).size;
  const root = join(DATA, "ingest-memory-store");
  await rm(root, { recursive: true, force: true });
  console.log(
    `ingest memory benchmark: ${events.toLocaleString("en")} orders_cdc events, ${mib(size)} of NDJSON`,
  );
  const script = fileURLToPath(import.meta.url);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...process.execArgv, script, "--child", file, root],
    {
      maxBuffer: 1 << 20,
    },
  );
  await rm(root, { recursive: true, force: true });
  const report = JSON.parse(stdout.trim().split("\n").pop()!) as ChildReport;
  const c = report.counts;
  console.log(
    `  ingested in ${(report.ms / 1000).toFixed(1)} s (${report.workers} workers): read ${c.read.toLocaleString("en")}, written ${c.written.toLocaleString("en")}, quarantined ${c.quarantined.toLocaleString("en")}, duplicates ${c.duplicates.toLocaleString("en")}`,
  );
  console.log(
    `  peak RSS: ${mib(report.maxRss)} (getrusage), ${mib(report.sampledRss)} (sampled every 50 ms)`,
  );
  console.log(`  target < ${mib(TARGET_BYTES)}: ${report.maxRss < TARGET_BYTES ? "holds" : "MISSED"}`);
}

if (process.argv[2] === "--child") {
  await child(process.argv[3]!, process.argv[4]!);
} else {
  await main();
}
