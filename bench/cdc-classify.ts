/**
 * The classifier of ingest on one thread, for Debezium events against the plain path: how many records a
 * second `RecordClassifier.classify` judges (parse, schema, event id, partition), without reading files,
 * deduplicating or writing. Both run in this process, alternately, on blocks of 1 MiB.
 *
 *   npx tsx bench/cdc-classify.ts              200,000 events each, 5 rounds
 *   npx tsx bench/cdc-classify.ts 500000 --rounds 3
 *
 * - cdc: Postgres Debezium events (schema-less, Debezium 2.x's source block) of an orders table with a
 *   tenant column, 3% invalid, into a day × tenant source declared with debezium.postgres().
 * - plain: the reference pipeline's orders_cdc events (its own envelope with event_id/event_time), the
 *   path every source took before CDC sources, 3% invalid.
 * - plain, first error only: the same with ajv's allErrors off, as ingest validated before it reported
 *   every error of a record: what allErrors costs the valid path.
 * - JSON.parse alone of each path's lines: Debezium's events are larger (two rows and a larger source
 *   block), so "classify / parse" is what each classifier adds to the floor of reading its own events.
 * Prints events/s and the ratios, the plain path and JSON.parse being the baselines.
 */
import { daily, debezium, multiPartitions, source, staticPartitions, Type } from "tributary";
import { ordersCdc } from "../examples/commerce/assets/commerce/index.ts";
import { generateSample } from "../examples/commerce/assets/commerce/sample-data.ts";
import { OrderRow } from "../examples/commerce/assets/commerce/schemas.ts";
import { sourceSpec } from "../src/runtime/engine/ingest.ts";
import { compileRowSchema, RecordClassifier } from "../src/runtime/engine/ingest-validate.ts";

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 200_000);
const roundsAt = args.indexOf("--rounds");
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5;

const TENANTS = ["acme", "globex", "initech"];
const Row = Type.Object({ ...OrderRow.properties, tenant_id: Type.String() });
const orders = source("orders", {
  cdc: debezium.postgres({
    table: "public.orders",
    key: ["order_id"],
    row: Row,
    tenant: { column: "tenant_id" },
  }),
  partitions: multiPartitions(daily({ start: "2026-11-01" }), staticPartitions("tenant", TENANTS)),
});

/** A deterministic UUID from a number. */
const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;

/** `n` Debezium events as NDJSON lines, 3% of them invalid in one way or another. */
function debeziumLines(count: number): string[] {
  const out: string[] = [];
  const day0 = Date.parse("2026-11-02T00:00:00Z");
  for (let i = 0; i < count; i++) {
    const ts = day0 + i * 997;
    const at = new Date(ts).toISOString();
    const op = i % 10 === 0 ? "c" : i % 10 === 9 ? "d" : "u";
    const row = {
      order_id: uuid(i % 50_000),
      customer_id: uuid(1_000_000 + (i % 7919)),
      status: "paid",
      amount_cents: 1999 + (i % 100),
      currency: "EUR",
      created_at: at,
      updated_at: at,
      tenant_id: TENANTS[i % 3],
    };
    const event: Record<string, unknown> = {
      before: op === "c" ? null : { ...row, status: "pending" },
      after: op === "d" ? null : row,
      source: {
        version: "2.7.3.Final",
        connector: "postgresql",
        name: "shop",
        ts_ms: ts,
        snapshot: "false",
        db: "shop",
        sequence: `["${40_000_000 + 8 * i - 8}","${40_000_000 + 8 * i}"]`,
        ts_us: ts * 1000,
        ts_ns: ts * 1_000_000,
        schema: "public",
        table: "orders",
        txId: 1000 + i,
        lsn: 40_000_000 + 8 * i,
        xmin: null,
      },
      transaction: null,
      op,
      ts_ms: ts + 120,
      ts_us: (ts + 120) * 1000,
      ts_ns: (ts + 120) * 1_000_000,
    };
    if (i % 100 === 7) event.after = { ...row, amount_cents: "12" };
    if (i % 100 === 37) (event.source as Record<string, unknown>).table = "customers";
    if (i % 100 === 77) event.op = "x";
    out.push(JSON.stringify(event));
  }
  return out;
}

function plainLines(count: number): string[] {
  const out: string[] = [];
  for (const l of generateSample({ seed: 1, orderLines: count, invalidShare: 0.03, duplicateShare: 0 })) {
    if (l.source === "orders_cdc") out.push(l.line);
    if (out.length === count) break;
  }
  return out;
}

/** Lines cut into blocks of about 1 MiB of whole lines. */
function blocks(lines: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  let chunk: string[] = [];
  let size = 0;
  for (const l of lines) {
    chunk.push(l);
    size += l.length + 1;
    if (size >= 1 << 20) {
      out.push(Buffer.from(`${chunk.join("\n")}\n`));
      chunk = [];
      size = 0;
    }
  }
  if (chunk.length > 0) out.push(Buffer.from(`${chunk.join("\n")}\n`));
  return out;
}

const now = new Date("2026-12-01T00:00:00Z");
const cdcBlocks = blocks(debeziumLines(n));
const plainBlocks = blocks(plainLines(n));
const cdcClassifier = new RecordClassifier(sourceSpec(orders, 1 << 20, "fast", now));
const plainClassifier = new RecordClassifier(sourceSpec(ordersCdc, 1 << 20, "fast", now));
const firstError = compileRowSchema(ordersCdc.schema, "fast", false);
const everyError = compileRowSchema(ordersCdc.schema, "fast", true);

function classifyAll(classifier: RecordClassifier, bs: readonly Buffer[]): { ms: number; valid: number } {
  const t0 = performance.now();
  let valid = 0;
  for (const b of bs) {
    const c = classifier.classify(b);
    valid += c.lines - c.reasons.length;
  }
  return { ms: performance.now() - t0, valid };
}

/** JSON.parse and ajv alone over the plain lines, with one validator. */
function validateAll(
  validate: (v: unknown) => boolean,
  bs: readonly Buffer[],
): { ms: number; valid: number } {
  const t0 = performance.now();
  let valid = 0;
  for (const b of bs) {
    const text = b.toString("latin1");
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      let v: unknown;
      try {
        v = JSON.parse(text.slice(start, nl));
      } catch {
        v = undefined;
      }
      if (v !== undefined && validate(v)) valid++;
      start = nl + 1;
    }
  }
  return { ms: performance.now() - t0, valid };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perS = (ms: number) => Math.round(n / (ms / 1000)).toLocaleString("en");
const times = {
  cdc: [] as number[],
  plain: [] as number[],
  first: [] as number[],
  every: [] as number[],
  parseCdc: [] as number[],
  parsePlain: [] as number[],
};
const parseOnly = () => true;
let valid = { cdc: 0, plain: 0 };
for (let r = 0; r < rounds + 1; r++) {
  const c = classifyAll(cdcClassifier, cdcBlocks);
  const p = classifyAll(plainClassifier, plainBlocks);
  const f = validateAll(firstError, plainBlocks);
  const e = validateAll(everyError, plainBlocks);
  const pc = validateAll(parseOnly, cdcBlocks);
  const pp = validateAll(parseOnly, plainBlocks);
  if (r === 0) {
    valid = { cdc: c.valid, plain: p.valid };
    continue; // warm-up
  }
  times.cdc.push(c.ms);
  times.plain.push(p.ms);
  times.first.push(f.ms);
  times.every.push(e.ms);
  times.parseCdc.push(pc.ms);
  times.parsePlain.push(pp.ms);
}
const cdc = median(times.cdc);
const plain = median(times.plain);
console.log(`${n.toLocaleString("en")} events per path, ${rounds} rounds, medians, one thread`);
console.log(`  cdc (Debezium)          ${perS(cdc)} events/s  (${valid.cdc.toLocaleString("en")} valid)`);
console.log(`  plain (orders_cdc)      ${perS(plain)} events/s  (${valid.plain.toLocaleString("en")} valid)`);
console.log(`  ratio cdc / plain       ${(cdc / plain).toFixed(2)}`);
const parseCdc = median(times.parseCdc);
const parsePlain = median(times.parsePlain);
console.log(
  `  JSON.parse alone: cdc ${perS(parseCdc)} events/s (${(cdcBlocks.reduce((s, b) => s + b.length, 0) / n).toFixed(0)} bytes each), plain ${perS(parsePlain)} events/s (${(plainBlocks.reduce((s, b) => s + b.length, 0) / n).toFixed(0)} bytes each)`,
);
console.log(
  `  classify / parse: cdc ${(cdc / parseCdc).toFixed(2)}, plain ${(plain / parsePlain).toFixed(2)} (what the classifier adds to parsing)`,
);
console.log(
  `  parse + ajv, plain: first error ${perS(median(times.first))} events/s, every error ${perS(median(times.every))} events/s (ratio ${(median(times.every) / median(times.first)).toFixed(2)})`,
);
