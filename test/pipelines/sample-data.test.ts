import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TSchema, Type } from "@sinclair/typebox";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CUSTOMER_FAULTS,
  DEBEZIUM,
  type FaultKind,
  generateSample,
  ORDER_FAULTS,
  SAMPLE_SOURCES,
  type SampleLine,
  type SampleOptions,
  type SampleSource,
  type SampleStats,
  sampleDays,
  UNKNOWN_TENANT,
  writeSample,
} from "../../examples/commerce/assets/commerce/sample-data.ts";
import {
  CustomerRow,
  ORDER_STATUSES,
  OrderRow,
  TENANTS,
} from "../../examples/commerce/assets/commerce/schemas.ts";

/**
 * The sample as an independent reader sees it: every line checked against Debezium's own envelope (the
 * Postgres connector's schema-less JSON value, written out here from Debezium's source and its captured
 * events in ../shared/fixtures/cdc), never against the generator's code.
 */

// ajv-formats is CommonJS: under NodeNext its plugin is the `default` of the imported module object.
const addFormats = addFormatsModule.default;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);

const FIXTURES = join(import.meta.dirname, "../../../shared/fixtures/cdc");
const ENVELOPE_KEYS = ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"];
const SOURCE_KEYS = [
  "version",
  "connector",
  "name",
  "ts_ms",
  "snapshot",
  "db",
  "sequence",
  "ts_us",
  "ts_ns",
  "schema",
  "table",
  "txId",
  "lsn",
  "xmin",
];
const SNAPSHOT_MARKS = ["true", "first", "first_in_data_collection", "last_in_data_collection", "last"];
const Int = Type.Integer({ minimum: 0 });
const Source = (table: string) =>
  Type.Object(
    {
      version: Type.Literal(DEBEZIUM.version),
      connector: Type.Literal("postgresql"),
      name: Type.Literal("shop"),
      ts_ms: Int,
      snapshot: Type.Union([...SNAPSHOT_MARKS, "false"].map((m) => Type.Literal(m))),
      db: Type.Literal("shop"),
      sequence: Type.String({ pattern: '^\\[(null|"[0-9]+"),"[0-9]+"\\]$' }),
      ts_us: Int,
      ts_ns: Int,
      schema: Type.Literal("public"),
      table: Type.Literal(table),
      txId: Int,
      lsn: Int,
      xmin: Type.Null(),
    },
    { additionalProperties: false },
  );
const Envelope = (row: TSchema, table: string) =>
  Type.Object(
    {
      before: Type.Union([row, Type.Null()]),
      after: Type.Union([row, Type.Null()]),
      source: Source(table),
      transaction: Type.Null(),
      op: Type.Union(["c", "u", "d", "r"].map((op) => Type.Literal(op))),
      ts_ms: Int,
      ts_us: Int,
      ts_ns: Int,
    },
    { additionalProperties: false },
  );
const validators: Record<SampleSource, ValidateFunction> = {
  orders_cdc: ajv.compile(Envelope(OrderRow, "orders")),
  customers_cdc: ajv.compile(Envelope(CustomerRow, "customers")),
};
const KEY: Record<SampleSource, "order_id" | "customer_id"> = {
  orders_cdc: "order_id",
  customers_cdc: "customer_id",
};

const DAYS = [
  "2026-11-01",
  "2026-11-02",
  "2026-11-03",
  "2026-11-04",
  "2026-11-05",
  "2026-11-06",
  "2026-11-07",
];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The columns of a row the checks below read, once a line has passed ajv. */
interface Row {
  order_id?: string;
  customer_id: string;
  tenant_id: string;
  status?: string;
  amount_cents?: number;
  currency?: string;
  created_at: string;
  updated_at: string;
  /** Only with `couponsFrom`: the column the orders table gains. */
  coupon_code?: string | null;
}
/** A change event; the nanosecond times are past 2^53, so they are read exactly, as bigints. */
interface Event {
  before: Row | null;
  after: Row | null;
  source: {
    ts_ms: number;
    snapshot: string;
    sequence: string;
    ts_us: number;
    ts_ns: bigint;
    table: string;
    txId: number;
    lsn: number;
  };
  op: string;
  ts_ms: number;
  ts_us: number;
  ts_ns: bigint;
}

/** JSON.parse that keeps integers past 2^53 exact (as bigints), with the source text of each value. */
function parseExact(line: string): unknown {
  const reviver = (_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined
      ? BigInt(context.source)
      : value;
  return JSON.parse(line, reviver as Parameters<typeof JSON.parse>[1]);
}
/** JSON.stringify that writes bigints as the integers they are. */
function stringifyExact(value: unknown): string {
  const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? raw(v.toString()) : v));
}
/** ajv checks the parsed event; it has no bigint, so the exact times are checked as numbers. */
const loose = (event: unknown) => JSON.parse(stringifyExact(event));

/** One line as an independent reader sees it: parsed, validated and deduplicated from scratch. */
interface Seen {
  source: SampleSource;
  date: string;
  line: string;
  kind: "valid" | "invalid" | "duplicate";
  fault: FaultKind | "unclassified" | null;
  late: boolean;
  event: Event | null;
  /** For a duplicate: whether it is byte-identical to the first line with its log position and key. */
  identical: boolean;
}

/** Which injected fault explains ajv's errors (each fault breaks exactly one thing). */
function faultOf(errors: ErrorObject[]): FaultKind | "unclassified" {
  const has = (keyword: string, paths: string[]) =>
    errors.some((e) => e.keyword === keyword && paths.includes(e.instancePath));
  const inRows = (column: string) => [`/before/${column}`, `/after/${column}`];
  if (has("required", ["", "/source"])) return "missing_field";
  if (has("required", ["/before", "/after"])) return "dropped_column";
  if (has("type", [...inRows("amount_cents"), ...inRows("created_at")])) return "wrong_type";
  if (has("minimum", ["/after/amount_cents"])) return "negative_amount";
  if (has("enum", ["/after/status"])) return "bad_enum";
  if (has("format", ["/after/email"])) return "bad_email";
  return "unclassified";
}

const rowOf = (e: Event): Row => (e.after ?? e.before)!;
/** What identifies a Postgres change event: its position and its row's key (a snapshot's reads share one). */
const idOf = (source: SampleSource, e: Event) => `${e.source.lsn}/${rowOf(e)[KEY[source]]}`;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** Microseconds since the epoch as Debezium writes a timestamptz. */
const isoMicros = (us: number) =>
  `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 23)}${String(us % 1000).padStart(3, "0")}Z`;

/** Classifies every line of a source, in file order (days ascending). */
function recount(source: SampleSource, files: { date: string; text: string }[]): Seen[] {
  const firstLine = new Map<string, string>();
  const seen: Seen[] = [];
  const validate = validators[source];
  for (const { date, text } of files) {
    expect(text.endsWith("\n") || text === "").toBe(true);
    for (const line of text.split("\n").slice(0, -1)) {
      const base = { source, date, line, late: false, event: null, identical: false };
      let record: unknown;
      try {
        record = parseExact(line);
      } catch {
        seen.push({ ...base, kind: "invalid", fault: "not_json" });
        continue;
      }
      if (!validate(loose(record))) {
        seen.push({ ...base, kind: "invalid", fault: faultOf(validate.errors ?? []) });
        continue;
      }
      const event = record as Event;
      if (!(TENANTS as readonly string[]).includes(rowOf(event).tenant_id)) {
        seen.push({ ...base, kind: "invalid", fault: "unknown_tenant", event });
        continue;
      }
      const id = idOf(source, event);
      const first = firstLine.get(id);
      if (first !== undefined) {
        seen.push({ ...base, kind: "duplicate", fault: null, event, identical: first === line });
        continue;
      }
      firstLine.set(id, line);
      seen.push({ ...base, kind: "valid", fault: null, late: dayOf(event.source.ts_ms) < date, event });
    }
  }
  return seen;
}

function statsOf(lines: Seen[]) {
  const count = (p: (s: Seen) => boolean) => lines.filter(p).length;
  return {
    lines: lines.length,
    valid: count((s) => s.kind === "valid"),
    invalid: count((s) => s.kind === "invalid"),
    duplicates: count((s) => s.kind === "duplicate"),
    late: count((s) => s.late),
  };
}

async function readSample(dir: string): Promise<Record<SampleSource, { date: string; text: string }[]>> {
  const read = async (source: SampleSource) => {
    const names = (await readdir(join(dir, source))).sort();
    return Promise.all(
      names.map(async (name) => ({
        date: name.replace(/\.ndjson$/, ""),
        text: await readFile(join(dir, source, name), "utf8"),
      })),
    );
  };
  return { orders_cdc: await read("orders_cdc"), customers_cdc: await read("customers_cdc") };
}

function collect(opts: SampleOptions): { lines: SampleLine[]; stats: SampleStats } {
  const lines: SampleLine[] = [];
  const it = generateSample(opts);
  for (let next = it.next(); ; next = it.next()) {
    if (next.done) return { lines, stats: next.value };
    lines.push(next.value);
  }
}

let root: string;
const dirs = { a: "", b: "", c: "", shares: "" };
let stats: SampleStats;
let files: Record<SampleSource, { date: string; text: string }[]>;
let seen: Record<SampleSource, Seen[]>;
const valid = (source: SampleSource) => seen[source].filter((s) => s.kind === "valid");

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "tributary-sample-"));
  for (const key of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[key] = join(root, key);
  stats = await writeSample(dirs.a, { seed: 42 });
  files = await readSample(dirs.a);
  seen = {
    orders_cdc: recount("orders_cdc", files.orders_cdc),
    customers_cdc: recount("customers_cdc", files.customers_cdc),
  };
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("sample data: files and determinism", () => {
  it("writes one file per day and source", async () => {
    expect(sampleDays("2026-11-01", "2026-11-07")).toEqual(DAYS);
    for (const source of SAMPLE_SOURCES) {
      expect(await readdir(join(dirs.a, source))).toEqual(DAYS.map((d) => `${d}.ndjson`));
      for (const { text } of files[source]) expect(text.length).toBeGreaterThan(1000);
    }
  });

  it("writes the same bytes for the same seed, and exactly what generateSample yields", async () => {
    const again = await writeSample(dirs.b, { seed: 42 });
    expect(again).toEqual(stats);
    const other = await readSample(dirs.b);
    const generated = collect({ seed: 42 });
    expect(generated.stats).toEqual(stats);
    for (const source of SAMPLE_SOURCES) {
      for (const [i, { date, text }] of files[source].entries()) {
        expect(other[source][i]!.text === text).toBe(true);
        const expected = generated.lines
          .filter((l) => l.source === source && l.date === date)
          .map((l) => `${l.line}\n`)
          .join("");
        expect(expected === text).toBe(true);
      }
    }
  });

  it("writes different data for a different seed", async () => {
    const otherStats = await writeSample(dirs.c, { seed: 43 });
    const other = await readSample(dirs.c);
    for (const source of SAMPLE_SOURCES) {
      for (const [i, { text }] of files[source].entries())
        expect(other[source][i]!.text === text).toBe(false);
      const keys = (s: Seen[]) =>
        new Set(s.flatMap((x) => (x.kind === "valid" ? [rowOf(x.event!)[KEY[source]]!] : [])));
      const mine = keys(seen[source]);
      const theirs = [...keys(recount(source, other[source]))].filter((key) => mine.has(key));
      expect(theirs).toEqual([]);
    }
    expect(otherStats).not.toEqual(stats);
  });
});

describe("sample data: counts", () => {
  it("returns stats that add up and match a recount of the files", () => {
    for (const source of SAMPLE_SOURCES) {
      const s = stats[source];
      expect(s.lines).toBe(s.valid + s.invalid + s.duplicates);
      expect(statsOf(seen[source])).toEqual(s);
    }
    expect(stats.orders_cdc.lines).toBeGreaterThan(1500);
    expect(stats.customers_cdc.lines).toBeGreaterThan(200);
  });

  it("labels every line as an independent reader classifies it", () => {
    const { lines } = collect({ seed: 42 });
    for (const source of SAMPLE_SOURCES) {
      const labels = lines.filter((l) => l.source === source).map((l) => [l.kind, l.fault, l.late]);
      expect(seen[source].map((s) => [s.kind, s.fault, s.late])).toEqual(labels);
    }
  });

  it("keeps the observed shares within half a point of 5% invalid and 5% duplicates", async () => {
    const shares = await writeSample(dirs.shares, {
      seed: 7,
      invalidShare: 0.05,
      duplicateShare: 0.05,
      customersPerTenant: 200,
      ordersPerDayPerTenant: 200,
    });
    const reread = await readSample(dirs.shares);
    for (const source of SAMPLE_SOURCES) {
      const s = shares[source];
      expect(statsOf(recount(source, reread[source]))).toEqual(s);
      expect(Math.abs(s.invalid / s.lines - 0.05)).toBeLessThan(0.005);
      expect(Math.abs(s.duplicates / s.lines - 0.05)).toBeLessThan(0.005);
    }
    expect(shares.orders_cdc.lines).toBeGreaterThan(10_000);
    expect(Math.abs(shares.orders_cdc.invalid / shares.orders_cdc.lines - 0.05)).toBeLessThan(0.001);
  });

  it("writes exactly `orderLines` order lines", () => {
    const { lines, stats: s } = collect({ seed: 5, orderLines: 5000 });
    expect(s.orders_cdc.lines).toBe(5000);
    expect(lines.filter((l) => l.source === "orders_cdc").length).toBe(5000);
    expect(s.orders_cdc.valid + s.orders_cdc.invalid + s.orders_cdc.duplicates).toBe(5000);
    expect(lines.filter((l) => l.source === "orders_cdc" && l.date === "2026-11-07").length).toBeGreaterThan(
      0,
    );
  });
});

describe("sample data: Debezium's envelope", () => {
  it("validates every valid record and duplicate against the Postgres connector's envelope and the table's row", () => {
    for (const source of SAMPLE_SOURCES) {
      const good = seen[source].filter((s) => s.kind !== "invalid");
      expect(good.length).toBe(stats[source].valid + stats[source].duplicates);
      const failing = good.filter((s) => !validators[source](loose(parseExact(s.line))));
      expect(failing).toEqual([]);
    }
  });

  it("has the fields of Debezium's captured events, in the order Debezium 3 writes them, and nothing else", async () => {
    // The documentation's create event (Debezium 2.x/3.x fields) and a captured 1.2 event (with `transaction`).
    const docs = JSON.parse(
      await readFile(join(FIXTURES, "debezium-postgres-create.schema-envelope.json"), "utf8"),
    ).payload;
    const captured = JSON.parse(await readFile(join(FIXTURES, "debezium-postgres-update.json"), "utf8"));
    const sorted = (keys: string[]) => [...keys].sort();
    expect(sorted(ENVELOPE_KEYS)).toEqual(sorted([...Object.keys(docs), "transaction"]));
    expect(Object.keys(captured).every((k) => ENVELOPE_KEYS.includes(k))).toBe(true);
    expect(sorted(SOURCE_KEYS)).toEqual(sorted(Object.keys(docs.source)));
    for (const source of SAMPLE_SOURCES) {
      const shapes = new Set(
        seen[source]
          .filter((s) => s.kind === "valid")
          .map((s) => JSON.stringify([Object.keys(s.event!), Object.keys(s.event!.source)])),
      );
      expect([...shapes]).toEqual([JSON.stringify([ENVELOPE_KEYS, SOURCE_KEYS])]);
    }
  });

  it("serialises each line as JSON.stringify does, keeping the nanoseconds exact, with v4 uuids", () => {
    for (const source of SAMPLE_SOURCES) {
      const good = valid(source);
      expect(good.filter((s) => stringifyExact(parseExact(s.line)) !== s.line)).toEqual([]);
      const ids = good.flatMap((s) => {
        const row = rowOf(s.event!);
        return [row.customer_id, ...(row.order_id ? [row.order_id] : [])];
      });
      expect(ids.filter((id) => !UUID_V4.test(id))).toEqual([]);
      const times = good.filter(({ event: e }) => {
        const s = e!.source;
        return !(
          s.ts_ns === BigInt(s.ts_us) * 1000n &&
          Math.floor(s.ts_us / 1000) === s.ts_ms &&
          e!.ts_ns / 1000n === BigInt(e!.ts_us) &&
          Math.floor(e!.ts_us / 1000) === e!.ts_ms &&
          e!.ts_us > s.ts_us
        );
      });
      expect(times).toEqual([]);
    }
  });

  it("sends timestamptz columns as ISO-8601 with six fractional digits, updated_at being the commit time", () => {
    const micros = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
    for (const source of SAMPLE_SOURCES) {
      const bad = valid(source).flatMap(({ event: e }) =>
        [e!.before, e!.after].flatMap((row) =>
          row === null ? [] : [row.created_at, row.updated_at].filter((t) => !micros.test(t)),
        ),
      );
      expect(bad).toEqual([]);
      const notCommit = valid(source).filter(
        ({ event: e }) =>
          e!.op !== "r" && e!.op !== "d" && e!.after!.updated_at !== isoMicros(e!.source.ts_us),
      );
      expect(notCommit).toEqual([]);
    }
  });
});

describe("sample data: the log", () => {
  /** Every valid event of both tables, in log order (a snapshot's reads in read order). */
  const byLog = () =>
    SAMPLE_SOURCES.flatMap((source) => valid(source).map((s) => s.event!)).sort(
      (a, b) => a.source.lsn - b.source.lsn || a.source.ts_us - b.source.ts_us,
    );

  it("reads the snapshot in one transaction at one position, customers then orders, marked as Debezium marks them", () => {
    const reads = byLog().filter((e) => e.op === "r");
    expect(reads.length).toBe(3 * 40 + 3 * 15);
    expect(new Set(reads.map((e) => `${e.source.txId}@${e.source.lsn}`)).size).toBe(1);
    expect(new Set(reads.map((e) => e.source.sequence))).toEqual(
      new Set([`[null,"${reads[0]!.source.lsn}"]`]),
    );
    expect(reads.map((e) => e.source.table)).toEqual([
      ...Array(120).fill("customers"),
      ...Array(45).fill("orders"),
    ]);
    expect(reads.map((e) => e.source.snapshot)).toEqual([
      "first",
      ...Array(118).fill("true"),
      "last_in_data_collection",
      "first_in_data_collection",
      ...Array(43).fill("true"),
      "last",
    ]);
    const streamed = byLog().filter((e) => e.op !== "r");
    expect(streamed.filter((e) => e.source.snapshot !== "false")).toEqual([]);
    expect(streamed[0]!.source.lsn).toBeGreaterThan(reads[0]!.source.lsn);
  });

  it("numbers the database's changes with one write-ahead log that grows in commit order, a transaction each", () => {
    const streamed = byLog().filter((e) => e.op !== "r");
    const broken: string[] = [];
    for (const [i, e] of streamed.entries()) {
      const prev = streamed[i - 1];
      const [lastCommit, lsn] = JSON.parse(e.source.sequence) as [string, string];
      if (lsn !== String(e.source.lsn)) broken.push(`${e.source.lsn}: sequence ${e.source.sequence}`);
      if (!(Number(lastCommit) < e.source.lsn)) broken.push(`${e.source.lsn}: last commit after the change`);
      if (prev === undefined) continue;
      if (e.source.lsn === prev.source.lsn) broken.push(`${e.source.lsn}: shared by two changes`);
      if (!(e.source.txId > prev.source.txId)) broken.push(`${e.source.lsn}: transaction ${e.source.txId}`);
      if (e.source.ts_us < prev.source.ts_us)
        broken.push(`${e.source.lsn}: committed before its predecessor`);
      if (!(Number(lastCommit) > prev.source.lsn))
        broken.push(`${e.source.lsn}: skips its predecessor's commit`);
    }
    expect(broken).toEqual([]);
    // In file order, leaving late arrivals aside, each table's changes come in log order too.
    for (const source of SAMPLE_SOURCES) {
      const lsns = valid(source)
        .filter((s) => !s.late && s.event!.op !== "r")
        .map((s) => s.event!.source.lsn);
      expect(lsns).toEqual([...lsns].sort((a, b) => a - b));
    }
  });

  it("writes late events to a later day's file, everything else to the day it was committed", () => {
    for (const source of SAMPLE_SOURCES) {
      const events = valid(source);
      const late = events.filter((s) => s.late);
      expect(late.length).toBe(stats[source].late);
      expect(late.length).toBeGreaterThan(0);
      expect(late.filter((s) => !(dayOf(s.event!.source.ts_ms) < s.date))).toEqual([]);
      // Debezium processed them when they arrived: the envelope's own time is on the day of the file.
      expect(late.filter((s) => dayOf(s.event!.ts_ms) !== s.date)).toEqual([]);
      expect(events.filter((s) => !s.late && dayOf(s.event!.source.ts_ms) !== s.date)).toEqual([]);
      expect(late.filter((s) => s.date === "2026-11-01")).toEqual([]);
    }
    // About 5% of the events of the first six days.
    const share = stats.orders_cdc.late / stats.orders_cdc.valid;
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.06);
  });
});

describe("sample data: the shop's rows", () => {
  it("references only customers created (or snapshotted) in the data, within the tenant", () => {
    const customers = new Set(
      valid("customers_cdc")
        .filter((s) => s.event!.op === "c" || s.event!.op === "r")
        .map((s) => `${s.event!.after!.tenant_id}/${s.event!.after!.customer_id}`),
    );
    expect(customers.size).toBeGreaterThan(120);
    const dangling = valid("orders_cdc").filter(
      (s) => !customers.has(`${rowOf(s.event!).tenant_id}/${rowOf(s.event!).customer_id}`),
    );
    expect(dangling).toEqual([]);
    const tenants = new Set(
      SAMPLE_SOURCES.flatMap((source) => valid(source).map((s) => rowOf(s.event!).tenant_id)),
    );
    expect([...tenants].sort()).toEqual([...TENANTS].sort());
  });

  it("tells each row's story: created or snapshotted first, every change starting from the whole last state", () => {
    for (const source of SAMPLE_SOURCES) {
      const key = KEY[source];
      const byRow = new Map<string, Event[]>();
      for (const s of valid(source)) {
        const id = rowOf(s.event!)[key]!;
        byRow.set(id, [...(byRow.get(id) ?? []), s.event!]);
      }
      const broken: string[] = [];
      for (const [id, events] of byRow) {
        events.sort((a, b) => a.source.lsn - b.source.lsn);
        const [first, ...rest] = events;
        if (!(first!.op === "c" || first!.op === "r") || first!.before !== null)
          broken.push(`${id}: starts ${first!.op}`);
        for (const [i, e] of rest.entries()) {
          const prev = events[i]!;
          if (prev.op === "d") broken.push(`${id}: change after delete`);
          if (e.op !== "u" && e.op !== "d") broken.push(`${id}: ${e.op} in the middle`);
          // REPLICA IDENTITY FULL: the old row is whole.
          if (JSON.stringify(e.before) !== JSON.stringify(prev.after))
            broken.push(`${id}: before is not the last after`);
          if (e.op === "u" && JSON.stringify(e.after) === JSON.stringify(e.before))
            broken.push(`${id}: empty update`);
          if (rowOf(e).tenant_id !== rowOf(prev).tenant_id) broken.push(`${id}: moved tenant`);
        }
      }
      expect(broken).toEqual([]);
      const ops = new Set(valid(source).map((s) => s.event!.op));
      expect([...ops].sort()).toEqual(["c", "d", "r", "u"]);
    }
    // Orders only move along the lifecycle, and an update changes the status and updated_at only.
    const allowed = [
      "pending>paid",
      "pending>cancelled",
      "paid>shipped",
      "paid>refunded",
      "shipped>refunded",
    ];
    const fixed = ["order_id", "tenant_id", "customer_id", "amount_cents", "currency", "created_at"] as const;
    const illegal: string[] = [];
    for (const s of valid("orders_cdc")) {
      const { op, before, after } = s.event!;
      if (op === "u") {
        const move = `${before!.status}>${after!.status}`;
        if (!allowed.includes(move)) illegal.push(move);
        for (const f of fixed) if (after![f] !== before![f]) illegal.push(`${after!.order_id}: ${f} changed`);
      }
      if (op === "d" && !["pending", "cancelled"].includes(before!.status!))
        illegal.push(`delete ${before!.status}`);
    }
    expect(illegal).toEqual([]);
    const statuses = new Set(valid("orders_cdc").map((s) => rowOf(s.event!).status));
    expect([...statuses].sort()).toEqual([...ORDER_STATUSES].sort());
  });
});

describe("sample data: faults", () => {
  it("injects every kind of fault into each source", () => {
    const expected = { orders_cdc: ORDER_FAULTS, customers_cdc: CUSTOMER_FAULTS };
    for (const source of SAMPLE_SOURCES) {
      const kinds = new Set(seen[source].filter((s) => s.kind === "invalid").map((s) => s.fault));
      expect([...kinds].sort()).toEqual([...expected[source]].sort());
    }
  });

  it("gives each invalid change a log position of its own, so it never passes for a redelivery", () => {
    for (const source of SAMPLE_SOURCES) {
      const positions = new Set(valid(source).map((s) => s.event!.source.lsn));
      const parsed = seen[source]
        .filter((s) => s.kind === "invalid" && s.fault !== "not_json")
        .map((s) => parseExact(s.line) as { source?: { lsn?: number } });
      expect(parsed.filter((e) => e.source?.lsn !== undefined && positions.has(e.source.lsn))).toEqual([]);
    }
  });

  it("uses a well-formed tenant id that no partition has, so only the partition check rejects it", () => {
    const strays = SAMPLE_SOURCES.flatMap((source) =>
      seen[source].filter((s) => s.fault === "unknown_tenant"),
    );
    expect(strays.length).toBeGreaterThan(1);
    for (const s of strays) {
      expect(rowOf(s.event!).tenant_id).toBe(UNKNOWN_TENANT);
      expect(validators[s.source](loose(parseExact(s.line)))).toBe(true);
    }
  });
});

describe("sample data: a column added upstream", () => {
  it("adds a nullable coupon_code to the orders from noon of `couponsFrom`: null in the old rows, a code in some new ones", () => {
    const noon = Date.parse("2026-11-07T12:00:00Z");
    const { lines } = collect({ seed: 42, couponsFrom: "2026-11-07" });
    const events = lines
      .filter((l) => l.source === "orders_cdc" && l.kind === "valid")
      .map((l) => JSON.parse(l.line) as Event);
    const has = (row: object | null) => row !== null && "coupon_code" in row;
    const before = events.filter((e) => e.source.ts_ms < noon);
    const after = events.filter((e) => e.source.ts_ms >= noon);
    expect(before.length).toBeGreaterThan(1000);
    expect(after.length).toBeGreaterThan(50);
    expect(before.filter((e) => has(e.before) || has(e.after))).toEqual([]);
    // Every row of a later change has the column, as the table's last column.
    const rows = after.flatMap((e) => [e.before, e.after].filter((r) => r !== null));
    expect(rows.filter((r) => Object.keys(r).at(-1) !== "coupon_code")).toEqual([]);
    const codes = new Set(after.flatMap((e) => (e.after ? [e.after.coupon_code] : [])));
    expect([...codes].sort()).toEqual(["BLACKFRIDAY26", "FREESHIP", "WELCOME10", null].sort());
    // An order placed before the column changes later: its old row reads the column as null.
    const older = after.filter((e) => e.before !== null && e.before.created_at < "2026-11-07T12:00:00");
    expect(older.length).toBeGreaterThan(10);
    expect(older.filter((e) => e.before!.coupon_code !== null)).toEqual([]);
    // The declared row does not name the column, and does not refuse it.
    const validate = ajv.compile(OrderRow);
    expect(rows.filter((r) => !validate(r))).toEqual([]);
    // Customers never change shape; without the option, orders neither.
    const customerLines = lines.filter((l) => l.source === "customers_cdc");
    expect(customerLines.filter((l) => l.line.includes("coupon_code"))).toEqual([]);
    expect(seen.orders_cdc.filter((s) => s.line.includes("coupon_code"))).toEqual([]);
  });
});

describe("sample data: options", () => {
  it("rejects options it cannot honour, naming them", () => {
    const gen = (opts: SampleOptions) => () => generateSample(opts).next();
    expect(gen({ seed: 1, from: "2026-11-07", to: "2026-11-01" })).toThrow(
      'sample data: "from" (2026-11-07) is after "to" (2026-11-01)',
    );
    expect(gen({ seed: 1, from: "2026-02-30" })).toThrow(
      'sample data: "from" must be a day "YYYY-MM-DD", got "2026-02-30"',
    );
    expect(gen({ seed: 1, invalidShare: 0.3, duplicateShare: 0.3 })).toThrow(
      "sample data: invalidShare + duplicateShare must be at most 0.5",
    );
    expect(gen({ seed: 1, tenants: ["acme", UNKNOWN_TENANT] })).toThrow(
      'sample data: tenant "umbrella" is not a valid tenant id (or is "umbrella")',
    );
    expect(gen({ seed: 1.5 })).toThrow("sample data: seed must be an integer, got 1.5");
    expect(gen({ seed: 1, ordersPerDayPerTenant: 0 })).toThrow(
      "sample data: ordersPerDayPerTenant must be a positive integer, got 0",
    );
    expect(gen({ seed: 1, couponsFrom: "2026-11-08" })).toThrow(
      'sample data: couponsFrom (2026-11-08) must be a day from "from" (2026-11-01) to "to" (2026-11-07)',
    );
  });

  it("honours the date range and tenants", () => {
    const { lines, stats: s } = collect({ seed: 9, from: "2026-12-30", to: "2027-01-01", tenants: ["solo"] });
    expect([...new Set(lines.map((l) => l.date))]).toEqual(["2026-12-30", "2026-12-31", "2027-01-01"]);
    const tenants = new Set(
      lines.filter((l) => l.kind === "valid").map((l) => rowOf(JSON.parse(l.line) as Event).tenant_id),
    );
    expect([...tenants]).toEqual(["solo"]);
    expect(s.orders_cdc.lines).toBe(lines.filter((l) => l.source === "orders_cdc").length);
  });
});
