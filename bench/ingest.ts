/**
 * Ingest benchmark: Tributary's ingest (validate every record with ajv, check its partition, deduplicate by
 * event id, land valid lines as NDJSON per day × tenant, quarantine the rest, commit a manifest) against
 * raw DuckDB on the same file without validation: read_json with explicit columns, QUALIFY row_number()
 * to deduplicate, COPY to Parquet partitioned by day (zstd). Both run in this process, alternately.
 *
 *   npx tsx bench/ingest.ts                  1,000,000 orders_cdc events, 3 rounds
 *   npx tsx bench/ingest.ts 200000 --rounds 5
 *
 * The input is generated once with the commerce sample generator (3% invalid lines, 3% duplicates, late
 * events) and cached in bench/.data/. Targets: at least 250,000 events/s, and Tributary / DuckDB ≤ 2.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { ordersCdc } from "../examples/commerce/assets/commerce/index.ts";
import { generateSample } from "../examples/commerce/assets/commerce/sample-data.ts";
import { ingest } from "../src/runtime/engine/ingest.ts";
import { columnTypes, jsonColumns, literal } from "../src/runtime/engine/types.ts";
import { LocalStore } from "../src/runtime/storage/local.ts";

const TARGET_EVENTS_PER_S = 250_000;
const TARGET_RATIO = 2;
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

async function baseline(file: string, out: string): Promise<{ ms: number; rows: number }> {
  await rm(out, { recursive: true, force: true });
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  const columns = jsonColumns(columnTypes(ordersCdc.schema, ordersCdc.key));
  const started = performance.now();
  await con.run(`
    COPY (
      SELECT *, CAST(make_timestamp(source.ts_ms * 1000) AS DATE) AS day
      FROM read_json(${literal(file)}, format = 'newline_delimited', columns = ${columns}, ignore_errors = true)
      QUALIFY row_number() OVER (
        PARTITION BY source.db, source.lsn, source.txId, op, coalesce(after.order_id, before.order_id)
        ORDER BY source.ts_ms
      ) = 1
    ) TO ${literal(out)} (FORMAT parquet, PARTITION_BY (day), COMPRESSION zstd)`);
  const ms = performance.now() - started;
  const reader = await con.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM read_parquet(${literal(`${out}/**/*.parquet`)})`,
  );
  const rows = Number((reader.getRowObjectsJS()[0] as { n: number }).n);
  con.closeSync();
  db.closeSync();
  return { ms, rows };
}

async function ours(file: string, root: string) {
  await rm(root, { recursive: true, force: true });
  const store = new LocalStore(root);
  const started = performance.now();
  const result = await ingest(store, ordersCdc, [file]);
  return { ms: performance.now() - started, result };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 3;
  const events = Number(args[0] ?? 1_000_000);
  if (!Number.isInteger(events) || events < 1 || !Number.isInteger(rounds) || rounds < 1) {
    throw new Error("usage: npx tsx bench/ingest.ts [events] [--rounds N]");
  }
  const file = await ordersFile(events);
  const size = (await stat(file)).size;
  console.log(
    `ingest benchmark: ${fmt(events)} orders_cdc events, ${(size / 2 ** 20).toFixed(0)} MiB NDJSON, ${availableParallelism()} cores, ${rounds} rounds`,
  );

  const base: number[] = [];
  const mine: number[] = [];
  let last: Awaited<ReturnType<typeof ours>>["result"] | undefined;
  let baseRows = 0;
  for (let r = 0; r < rounds; r++) {
    const b = await baseline(file, join(DATA, "ingest-baseline"));
    base.push(b.ms);
    baseRows = b.rows;
    const o = await ours(file, join(DATA, "ingest-store"));
    mine.push(o.ms);
    last = o.result;
    console.log(
      `  round ${r + 1}: duckdb ${fmt(Math.round(b.ms))} ms, tributary ${fmt(Math.round(o.ms))} ms (${o.result.workers} workers)`,
    );
  }
  await rm(join(DATA, "ingest-baseline"), { recursive: true, force: true });
  await rm(join(DATA, "ingest-store"), { recursive: true, force: true });

  const b = median(base);
  const o = median(mine);
  const ratio = o / b;
  const c = last!.manifest.counts;
  console.log(
    `  duckdb (no validation):  ${fmt(Math.round(b))} ms  ${fmt(rate(events, b))} events/s  (${fmt(baseRows)} rows)`,
  );
  console.log(
    `  tributary ingest:        ${fmt(Math.round(o))} ms  ${fmt(rate(events, o))} events/s  (written ${fmt(c.written)}, quarantined ${fmt(c.quarantined)}, duplicates ${fmt(c.duplicates)})`,
  );
  console.log(`  ratio tributary / duckdb: ${ratio.toFixed(2)}`);
  const fast = rate(events, o) >= TARGET_EVENTS_PER_S;
  console.log(`  target ≥ ${fmt(TARGET_EVENTS_PER_S)} events/s: ${fast ? "holds" : "MISSED"}`);
  console.log(`  target ratio ≤ ${TARGET_RATIO}: ${ratio <= TARGET_RATIO ? "holds" : "MISSED"}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await main();
}
