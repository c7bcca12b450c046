/**
 * Ingest benchmark: Tributary's ingest of the reference pipeline's `orders_cdc` events (Debezium's
 * Postgres change events, as the sample generator emits them) against DuckDB doing the equivalent work
 * on the same file, alternately in this process.
 *
 *   Tributary   read, validate every event (envelope and row, ajv), derive its event id, time, tenant and
 *               partition, deduplicate by the event id, land each partition's original lines as gzip
 *               NDJSON (day × tenant), quarantine the invalid ones, commit a manifest with SHA-256s.
 *   DuckDB      read_json with the source's columns (no validation; bad lines skipped), deduplicate by the
 *               same event id (db / lsn / txId / op / key, QUALIFY row_number()), COPY partitioned by the
 *               same day × tenant to Parquet (zstd), on all cores.
 *
 * Why Parquet for DuckDB: it is DuckDB's fastest compressed output, and the fair (hard) baseline. Its own
 * gzip NDJSON writer is single-threaded and takes 6 times as long on this file (19 s against 3 s here),
 * and it cannot partition JSON output: measuring against it would flatter ingest.
 *
 *   npx tsx bench/ingest.ts                       1,000,000 events, 3 rounds, both sides
 *   npx tsx bench/ingest.ts 200000 --rounds 5
 *   npx tsx bench/ingest.ts --only tributary      one side (say under node --cpu-prof --import tsx)
 *   npx tsx bench/ingest.ts --memory              peak RSS of one ingest of 5,000,000 events
 *   npx tsx bench/ingest.ts --memory 1000000
 *
 * The input is generated once with the commerce sample generator (seed 1, 3% invalid lines, 3%
 * duplicates, late events) and cached in bench/.data/. Besides wall time each side's CPU time is printed
 * (process.cpuUsage: every thread, DuckDB's, the workers' and zlib's pool included), which a loaded
 * machine disturbs less. Targets: at least 250,000 events/s, Tributary / DuckDB ≤ 1.25, and a peak
 * resident memory under 1 GiB for 5,000,000 events.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { ordersCdc } from "../examples/commerce/assets/commerce/index.ts";
import { generateSample } from "../examples/commerce/assets/commerce/sample-data.ts";
import type { SourceDef } from "../src/kit/asset.ts";
import { ingest } from "../src/runtime/engine/ingest.ts";
import { columnTypes, ident, jsonColumns, literal } from "../src/runtime/engine/types.ts";
import { LocalStore } from "../src/runtime/storage/local.ts";

const TARGET_EVENTS_PER_S = 250_000;
const TARGET_RATIO = 1.25;
const TARGET_PEAK_BYTES = 2 ** 30;
export const DATA = join(import.meta.dirname, ".data");

/**
 * bench/.data/orders-debezium-<n>.ndjson: exactly `n` orders_cdc lines from the sample generator (seed
 * 1, 3% invalid, 3% duplicates), Debezium's change events, written once.
 */
export async function ordersFile(n: number): Promise<string> {
  const path = join(DATA, `orders-debezium-${n}.ndjson`);
  if (await stat(path).catch(() => undefined)) return path;
  await mkdir(DATA, { recursive: true });
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  const started = performance.now();
  let buffer = "";
  let lines = 0;
  for (const l of generateSample({ seed: 1, orderLines: n, invalidShare: 0.03, duplicateShare: 0.03 })) {
    if (l.source !== "orders_cdc") continue;
    buffer += `${l.line}\n`;
    if (++lines % 250_000 === 0)
      process.stderr.write(`  generating ${path}: ${lines.toLocaleString("en")} lines\n`);
    if (buffer.length >= 1 << 20) {
      if (!out.write(buffer)) await once(out, "drain");
      buffer = "";
    }
  }
  out.end(buffer);
  await finished(out);
  await rename(tmp, path);
  process.stderr.write(
    `  generated ${lines.toLocaleString("en")} lines in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  return path;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const fmt = (n: number) => n.toLocaleString("en");
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** CPU seconds of the whole process (every thread) spent in `fn`, and its wall time. */
async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { value, ms, cpu: (cpu.user + cpu.system) / 1e6 };
}

/**
 * The SQL of a source's event id, event day and tenant, as ingest derives them: for a Debezium source
 * db / lsn / txId / op / key, source.ts_ms and the tenant column of the row (after, or before for a
 * delete); for another source its declared fields.
 */
export function derivedSql(source: SourceDef): { id: string; day: string; tenant: string } {
  const cdc = source.cdc;
  if (!cdc) {
    return {
      id: ident(source.eventId),
      day: `CAST(timezone('UTC', ${ident(source.eventTime)}) AS DATE)`,
      tenant: source.tenant === undefined ? "''" : ident(source.tenant),
    };
  }
  const rowColumn = (c: string) => `coalesce(after.${ident(c)}, before.${ident(c)})`;
  const position =
    cdc.connector === "postgresql"
      ? "source.lsn, source.txId"
      : `source.${ident("file")}, source.pos, source.${ident("row")}`;
  return {
    id: `source.db, ${position}, op, ${cdc.key.map(rowColumn).join(", ")}`,
    day: "CAST(make_timestamp(source.ts_ms * 1000) AS DATE)",
    tenant:
      cdc.tenant === undefined ? "''" : "database" in cdc.tenant ? "source.db" : rowColumn(cdc.tenant.column),
  };
}

async function baseline(source: SourceDef, file: string, out: string): Promise<number> {
  await rm(out, { recursive: true, force: true });
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  try {
    const columns = jsonColumns(columnTypes(source.schema, source.key));
    const d = derivedSql(source);
    await con.run(`
      COPY (
        SELECT *, ${d.day} AS __day, ${d.tenant} AS __tenant
        FROM read_json(${literal(file)}, format = 'newline_delimited', columns = ${columns}, ignore_errors = true)
        QUALIFY row_number() OVER (PARTITION BY ${d.id}) = 1
      ) TO ${literal(out)} (FORMAT parquet, PARTITION_BY (__day, __tenant), COMPRESSION zstd)`);
    const reader = await con.runAndReadAll(
      `SELECT count(*)::INTEGER AS n FROM read_parquet(${literal(`${out}/**/*.parquet`)})`,
    );
    return Number((reader.getRowObjectsJS()[0] as { n: number }).n);
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

async function ours(source: SourceDef, file: string, root: string) {
  await rm(root, { recursive: true, force: true });
  return ingest(new LocalStore(root), source, [file]);
}

async function throughput(args: string[]): Promise<void> {
  const roundsAt = args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 3;
  const onlyAt = args.indexOf("--only");
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
  const events = Number(args[0] ?? 1_000_000);
  if (
    !Number.isInteger(events) ||
    events < 1 ||
    !Number.isInteger(rounds) ||
    rounds < 1 ||
    (only !== undefined && only !== "tributary" && only !== "duckdb")
  ) {
    throw new Error("usage: npx tsx bench/ingest.ts [events] [--rounds N] [--only tributary|duckdb]");
  }
  const file = await ordersFile(events);
  const size = (await stat(file)).size;
  console.log(
    `ingest benchmark: ${fmt(events)} orders_cdc events (Debezium), ${mib(size)} NDJSON, ${availableParallelism()} cores, ${rounds} rounds`,
  );
  const base: { ms: number; cpu: number }[] = [];
  const mine: { ms: number; cpu: number }[] = [];
  let counts: { written: number; quarantined: number; duplicates: number } | undefined;
  let stored = 0;
  let baseRows = 0;
  for (let r = 0; r < rounds; r++) {
    const line: string[] = [];
    if (only !== "tributary") {
      const b = await timed(() => baseline(ordersCdc, file, join(DATA, "ingest-baseline")));
      base.push(b);
      baseRows = b.value;
      line.push(`duckdb ${fmt(Math.round(b.ms))} ms (${b.cpu.toFixed(1)} s CPU)`);
    }
    if (only !== "duckdb") {
      const o = await timed(() => ours(ordersCdc, file, join(DATA, "ingest-store")));
      mine.push(o);
      counts = o.value.manifest.counts;
      stored = o.value.manifest.files.reduce((n, f) => n + f.bytes, 0);
      line.push(
        `tributary ${fmt(Math.round(o.ms))} ms (${o.cpu.toFixed(1)} s CPU, ${o.value.workers} workers)`,
      );
    }
    console.log(`  round ${r + 1}: ${line.join(", ")}`);
  }
  await rm(join(DATA, "ingest-baseline"), { recursive: true, force: true });
  await rm(join(DATA, "ingest-store"), { recursive: true, force: true });

  const b = base.length > 0 ? median(base.map((x) => x.ms)) : undefined;
  const o = mine.length > 0 ? median(mine.map((x) => x.ms)) : undefined;
  if (b !== undefined) {
    const cpu = median(base.map((x) => x.cpu));
    console.log(
      `  duckdb (read, dedupe, Parquet by day × tenant): ${fmt(Math.round(b))} ms  ${fmt(rate(events, b))} events/s  ${cpu.toFixed(1)} s CPU  (${fmt(baseRows)} rows)`,
    );
  }
  if (o !== undefined && counts) {
    const cpu = median(mine.map((x) => x.cpu));
    console.log(
      `  tributary ingest (gzip NDJSON by day × tenant): ${fmt(Math.round(o))} ms  ${fmt(rate(events, o))} events/s  ${cpu.toFixed(1)} s CPU  (written ${fmt(counts.written)}, quarantined ${fmt(counts.quarantined)}, duplicates ${fmt(counts.duplicates)}; raw ${mib(stored)} stored)`,
    );
    const fast = rate(events, o) >= TARGET_EVENTS_PER_S;
    console.log(`  target ≥ ${fmt(TARGET_EVENTS_PER_S)} events/s: ${fast ? "holds" : "MISSED"}`);
  }
  if (b !== undefined && o !== undefined) {
    const ratio = o / b;
    const cpuRatio = median(mine.map((x) => x.cpu)) / median(base.map((x) => x.cpu));
    console.log(`  ratio tributary / duckdb: ${ratio.toFixed(2)} (CPU time: ${cpuRatio.toFixed(2)})`);
    console.log(`  target ratio ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? "holds" : "MISSED"}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// --memory: the peak resident memory of one ingest, in a child process (the generator and this process
// do not count): getrusage's maximum resident set size (worker threads included), checked against RSS
// sampled every 50 ms.

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

async function memory(args: string[]): Promise<void> {
  const events = Number(args[0] ?? 5_000_000);
  if (!Number.isInteger(events) || events < 1)
    throw new Error("usage: npx tsx bench/ingest.ts --memory [events]");
  const file = await ordersFile(events);
  const size = (await stat(file)).size;
  const root = join(DATA, "ingest-memory-store");
  await rm(root, { recursive: true, force: true });
  console.log(`ingest memory benchmark: ${fmt(events)} orders_cdc events (Debezium), ${mib(size)} of NDJSON`);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), "--child", file, root],
    { maxBuffer: 1 << 20 },
  );
  await rm(root, { recursive: true, force: true });
  const report = JSON.parse(stdout.trim().split("\n").pop()!) as ChildReport;
  const c = report.counts;
  console.log(
    `  ingested in ${(report.ms / 1000).toFixed(1)} s (${report.workers} workers): read ${fmt(c.read)}, written ${fmt(c.written)}, quarantined ${fmt(c.quarantined)}, duplicates ${fmt(c.duplicates)}`,
  );
  console.log(
    `  peak RSS: ${mib(report.maxRss)} (getrusage), ${mib(report.sampledRss)} (sampled every 50 ms)`,
  );
  console.log(
    `  target < ${mib(TARGET_PEAK_BYTES)}: ${report.maxRss < TARGET_PEAK_BYTES ? "holds" : "MISSED"}`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  if (args[0] === "--child") await child(args[1]!, args[2]!);
  else if (args[0] === "--memory") await memory(args.slice(1));
  else await throughput(args);
}
