import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CUSTOMER_FAULTS,
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
  CDC_OPS,
  CustomerEvent,
  ORDER_STATUSES,
  OrderEvent,
  TENANTS,
} from "../../examples/commerce/assets/commerce/schemas.ts";

// ajv-formats is CommonJS: under NodeNext its plugin is the `default` of the imported module object.
const addFormats = addFormatsModule.default;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validators: Record<SampleSource, ValidateFunction> = {
  orders_cdc: ajv.compile(OrderEvent),
  customers_cdc: ajv.compile(CustomerEvent),
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

/** The fields of a change event the checks below read, once a line has passed ajv. */
interface Row {
  order_id?: string;
  customer_id: string;
  status?: string;
  amount_cents?: number;
  currency?: string;
  created_at: string;
  updated_at: string;
}
interface Event {
  event_id: string;
  event_time: string;
  tenant_id: string;
  op: string;
  before: Row | null;
  after: Row | null;
  source: { db: string; table: string; lsn: number };
}

/** One line as an independent reader sees it: parsed, validated and deduplicated from scratch. */
interface Seen {
  source: SampleSource;
  date: string;
  line: string;
  kind: "valid" | "invalid" | "duplicate";
  fault: FaultKind | "unclassified" | null;
  late: boolean;
  event: Event | null;
  /** For a duplicate: whether it is byte-identical to the first line with its event_id. */
  identical: boolean;
}

/** Which injected fault explains ajv's errors (each fault breaks exactly one thing). */
function faultOf(errors: ErrorObject[]): FaultKind | "unclassified" {
  const has = (keyword: string, path?: string) =>
    errors.some((e) => e.keyword === keyword && (path === undefined || e.instancePath === path));
  if (has("additionalProperties")) return "extra_property";
  if (has("required")) return "missing_field";
  if (has("type", "/after/amount_cents")) return "wrong_type";
  if (has("minimum", "/after/amount_cents")) return "negative_amount";
  if (has("enum", "/after/status")) return "bad_enum";
  if (has("format", "/after/email")) return "bad_email";
  return "unclassified";
}

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
        record = JSON.parse(line);
      } catch {
        seen.push({ ...base, kind: "invalid", fault: "not_json" });
        continue;
      }
      if (!validate(record)) {
        seen.push({ ...base, kind: "invalid", fault: faultOf(validate.errors ?? []) });
        continue;
      }
      const event = record as Event;
      if (!(TENANTS as readonly string[]).includes(event.tenant_id)) {
        seen.push({ ...base, kind: "invalid", fault: "unknown_tenant", event });
        continue;
      }
      const first = firstLine.get(event.event_id);
      if (first !== undefined) {
        seen.push({ ...base, kind: "duplicate", fault: null, event, identical: first === line });
        continue;
      }
      firstLine.set(event.event_id, line);
      seen.push({ ...base, kind: "valid", fault: null, late: event.event_time.slice(0, 10) < date, event });
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

const rowOf = (e: Event): Row => (e.after ?? e.before)!;

let root: string;
const dirs = { a: "", b: "", c: "", shares: "" };
let stats: SampleStats;
let files: Record<SampleSource, { date: string; text: string }[]>;
let seen: Record<SampleSource, Seen[]>;

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
      const ids = (s: Seen[]) => new Set(s.flatMap((x) => (x.kind === "valid" ? [x.event!.event_id] : [])));
      const mine = ids(seen[source]);
      const theirs = [...ids(recount(source, other[source]))].filter((id) => mine.has(id));
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

describe("sample data: valid records", () => {
  it("validates every valid record and duplicate against the source's schema", () => {
    for (const source of SAMPLE_SOURCES) {
      const good = seen[source].filter((s) => s.kind !== "invalid");
      expect(good.length).toBe(stats[source].valid + stats[source].duplicates);
      const failing = good.filter((s) => !validators[source](JSON.parse(s.line)));
      expect(failing).toEqual([]);
    }
  });

  it("serialises valid records exactly as JSON.stringify does, with v4 uuids", () => {
    for (const source of SAMPLE_SOURCES) {
      const good = seen[source].filter((s) => s.kind === "valid");
      expect(good.filter((s) => JSON.stringify(JSON.parse(s.line)) !== s.line)).toEqual([]);
      const ids = good.flatMap((s) => {
        const row = rowOf(s.event!);
        return [s.event!.event_id, row.customer_id, ...(row.order_id ? [row.order_id] : [])];
      });
      expect(ids.filter((id) => !UUID_V4.test(id))).toEqual([]);
    }
  });

  it("repeats duplicates byte for byte", () => {
    for (const source of SAMPLE_SOURCES) {
      const dups = seen[source].filter((s) => s.kind === "duplicate");
      expect(dups.length).toBe(stats[source].duplicates);
      expect(dups.filter((s) => !s.identical)).toEqual([]);
    }
  });

  it("writes late events to a later day's file, everything else to its own day", () => {
    for (const source of SAMPLE_SOURCES) {
      const valid = seen[source].filter((s) => s.kind === "valid");
      const late = valid.filter((s) => s.late);
      expect(late.length).toBe(stats[source].late);
      expect(late.length).toBeGreaterThan(0);
      expect(late.filter((s) => !(s.event!.event_time.slice(0, 10) < s.date))).toEqual([]);
      expect(valid.filter((s) => !s.late && s.event!.event_time.slice(0, 10) !== s.date)).toEqual([]);
      expect(late.filter((s) => s.date === "2026-11-01")).toEqual([]);
    }
    // About 5% of the events of the first six days.
    const share = stats.orders_cdc.late / stats.orders_cdc.valid;
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.06);
  });

  it("references only customers created (or snapshotted) in the data, within the tenant", () => {
    const customers = new Set(
      seen.customers_cdc
        .filter((s) => s.kind === "valid" && (s.event!.op === "c" || s.event!.op === "r"))
        .map((s) => `${s.event!.tenant_id}/${s.event!.after!.customer_id}`),
    );
    expect(customers.size).toBeGreaterThan(120);
    const orders = seen.orders_cdc.filter((s) => s.kind === "valid");
    const dangling = orders.filter(
      (s) => !customers.has(`${s.event!.tenant_id}/${rowOf(s.event!).customer_id}`),
    );
    expect(dangling).toEqual([]);
  });

  it("numbers each tenant's changes with a log sequence that grows with event time", () => {
    const byTenant = new Map<string, Event[]>();
    for (const source of SAMPLE_SOURCES) {
      for (const s of seen[source]) {
        if (s.kind !== "valid") continue;
        const list = byTenant.get(s.event!.tenant_id) ?? [];
        list.push(s.event!);
        byTenant.set(s.event!.tenant_id, list);
      }
      // In file order, leaving aside late arrivals: strictly increasing per tenant.
      const last = new Map<string, number>();
      const backwards: string[] = [];
      for (const s of seen[source]) {
        if (s.kind !== "valid" || s.late) continue;
        const { tenant_id, source: src, event_id } = s.event!;
        if (src.lsn <= (last.get(tenant_id) ?? -1)) backwards.push(event_id);
        last.set(tenant_id, src.lsn);
      }
      expect(backwards).toEqual([]);
    }
    expect([...byTenant.keys()].sort()).toEqual([...TENANTS].sort());
    for (const events of byTenant.values()) {
      events.sort((a, b) => a.source.lsn - b.source.lsn);
      const unordered = events.filter(
        (e, i) =>
          i > 0 && (e.source.lsn === events[i - 1]!.source.lsn || e.event_time < events[i - 1]!.event_time),
      );
      expect(unordered).toEqual([]);
    }
  });

  it("tells each row's story: created or snapshotted first, every change starting from the last state", () => {
    for (const source of SAMPLE_SOURCES) {
      const key = source === "orders_cdc" ? "order_id" : "customer_id";
      const byRow = new Map<string, Event[]>();
      for (const s of seen[source]) {
        if (s.kind !== "valid") continue;
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
          if (JSON.stringify(e.before) !== JSON.stringify(prev.after))
            broken.push(`${id}: before is not the last after`);
          if (e.op === "u" && JSON.stringify(e.after) === JSON.stringify(e.before))
            broken.push(`${id}: empty update`);
        }
      }
      expect(broken).toEqual([]);
      const ops = new Set(seen[source].filter((s) => s.kind === "valid").map((s) => s.event!.op));
      expect([...ops].sort()).toEqual([...CDC_OPS].sort());
    }
    // Orders only move along the lifecycle, and an update changes the status and updated_at only.
    const allowed = [
      "pending>paid",
      "pending>cancelled",
      "paid>shipped",
      "paid>refunded",
      "shipped>refunded",
    ];
    const fixed = ["order_id", "customer_id", "amount_cents", "currency", "created_at"] as const;
    const illegal: string[] = [];
    for (const s of seen.orders_cdc) {
      if (s.kind !== "valid") continue;
      const { op, before, after, event_time } = s.event!;
      if (op === "u") {
        const move = `${before!.status}>${after!.status}`;
        if (!allowed.includes(move)) illegal.push(move);
        for (const f of fixed) if (after![f] !== before![f]) illegal.push(`${after!.order_id}: ${f} changed`);
        if (after!.updated_at !== event_time)
          illegal.push(`${after!.order_id}: updated_at is not event_time`);
      }
      if (op === "d" && !["pending", "cancelled"].includes(before!.status!))
        illegal.push(`delete ${before!.status}`);
    }
    expect(illegal).toEqual([]);
    const statuses = new Set(
      seen.orders_cdc.filter((s) => s.kind === "valid").map((s) => rowOf(s.event!).status),
    );
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

  it("uses a well-formed tenant id that no partition has, so only the partition check rejects it", () => {
    const strays = SAMPLE_SOURCES.flatMap((source) =>
      seen[source].filter((s) => s.fault === "unknown_tenant"),
    );
    expect(strays.length).toBeGreaterThan(1);
    for (const s of strays) {
      expect(s.event!.tenant_id).toBe(UNKNOWN_TENANT);
      expect(validators[s.source](JSON.parse(s.line))).toBe(true);
    }
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
  });

  it("honours the date range and tenants", () => {
    const { lines, stats: s } = collect({ seed: 9, from: "2026-12-30", to: "2027-01-01", tenants: ["solo"] });
    expect([...new Set(lines.map((l) => l.date))]).toEqual(["2026-12-30", "2026-12-31", "2027-01-01"]);
    const tenants = new Set(
      lines.filter((l) => l.kind === "valid").map((l) => (JSON.parse(l.line) as Event).tenant_id),
    );
    expect([...tenants]).toEqual(["solo"]);
    expect(s.orders_cdc.lines).toBe(lines.filter((l) => l.source === "orders_cdc").length);
  });
});
