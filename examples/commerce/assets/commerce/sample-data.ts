/**
 * Deterministic sample data for the reference pipeline's two CDC sources, `orders_cdc` and `customers_cdc`:
 * what Debezium Server writes to its sink for the shop's `public.orders` and `public.customers` tables.
 *
 * The generator simulates the shop's one Postgres database (every tenant's rows, told apart by their
 * `tenant_id` column) and emits its change stream exactly as Debezium 3 emits it with the Postgres
 * connector (pgoutput), the JSON converter and `value.converter.schemas.enable=false`: one schema-less
 * value per line, `{"before","after","source","transaction","op","ts_ms","ts_us","ts_ns"}`, nothing added.
 *
 * - day 1 opens with the connector's initial snapshot (`op: "r"`): every customer, then the orders still
 *   in flight, all read in one transaction at one log position (`source.snapshot` "first", "true",
 *   "last_in_data_collection", "first_in_data_collection", … "last");
 * - customers sign up (`c`), change their e-mail, name or country (`u`) and are rarely erased (`d`);
 * - orders are placed `pending` (`c`) by a live customer, then move to paid, shipped, cancelled or
 *   refunded (`u`); a few abandoned or cancelled ones are purged (`d`). The tables have REPLICA IDENTITY
 *   FULL, so `before` is the whole old row;
 * - each change is its own transaction (`source.txId`, with gaps for the transactions of tables nobody
 *   captures); `source.lsn` is the change's position in the database's one write-ahead log, growing in
 *   commit order, and `source.sequence` is `["<last commit LSN>","<LSN>"]`;
 * - `source.ts_ms`/`ts_us`/`ts_ns` is the commit time (the row's `updated_at`), the top-level ones when
 *   Debezium processed the change: a few milliseconds later, or the next morning for a late event.
 *
 * Column values are what the Postgres connector sends for them (see schemas.ts): uuids and enums as text,
 * `bigint` as a number, `timestamptz` as ISO-8601 with six fractional digits.
 *
 * On top of that stream, the way real landing zones look:
 *
 * - invalid lines (`invalidShare` of all lines), each a change at a position of its own: truncated JSON,
 *   an envelope field missing, a required column missing from the row (dropped upstream), a column whose
 *   type changed (an amount sent as a string, a timestamp as epoch microseconds), a status outside the
 *   enum, a negative amount, a malformed e-mail, and a row of a tenant that is not one of the partitions.
 *   That last one passes the row schema (its id is well-formed): ingest quarantines it as outside the
 *   source's partitions, and the stats count it as invalid;
 * - duplicates (`duplicateShare` of all lines): an earlier valid line delivered again, byte for byte
 *   (Debezium Server is at-least-once: after a restart it resends what it had not yet acknowledged);
 * - late events (`lateShare` of the valid events not on the last day): written to the file of day + 1 (or
 *   + 2) instead of the file of their commit time.
 *
 * Everything derives from one seeded PRNG (pure-rand's xoroshiro128+), so one seed always yields the same
 * bytes. Each row version is serialised once and reused as the `after` of one event and the `before` of
 * the next; the envelope around it is plain concatenation (see `changeLine`). That, a calendar queue and
 * flat strings for what stays in memory keep 1M order lines to a few seconds.
 */
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import {
  CURRENCIES,
  CUSTOMERS_TABLE,
  type CustomerRow,
  ORDERS_TABLE,
  type OrderRow,
  SHOP_DATABASE,
  TENANTS,
} from "./schemas.ts";

// ---------------------------------------------------------------------------------------------------------
// Public API

/** The two sources the generator writes, in the order of their folders. */
export const SAMPLE_SOURCES = ["orders_cdc", "customers_cdc"] as const;
export type SampleSource = (typeof SAMPLE_SOURCES)[number];

/** The faults injected into `orders_cdc`; every one appears once per cycle of invalid lines. */
export const ORDER_FAULTS = [
  "not_json",
  "missing_field",
  "dropped_column",
  "wrong_type",
  "bad_enum",
  "negative_amount",
  "unknown_tenant",
] as const;
/** The faults injected into `customers_cdc`. */
export const CUSTOMER_FAULTS = [
  "not_json",
  "missing_field",
  "dropped_column",
  "wrong_type",
  "bad_email",
  "unknown_tenant",
] as const;
export type FaultKind = (typeof ORDER_FAULTS)[number] | (typeof CUSTOMER_FAULTS)[number];

/** The tenant id of the `unknown_tenant` fault: well-formed, but not one of the partitions. */
export const UNKNOWN_TENANT = "umbrella";

/**
 * The Debezium Server the sample imitates: its version, its `topic.prefix` (the envelope's
 * `source.name`) and the database it captures (`source.db`).
 */
export const DEBEZIUM = { version: "3.1.0.Final", name: "shop", db: SHOP_DATABASE } as const;

export interface SampleOptions {
  /** The PRNG seed (a 32-bit integer): the same seed and options give byte-identical output. */
  seed: number;
  /** First day, "YYYY-MM-DD" (inclusive). */
  from?: string;
  /** Last day, "YYYY-MM-DD" (inclusive). */
  to?: string;
  tenants?: readonly string[];
  /** Customers in each tenant's initial snapshot; each day adds about a tenth as many sign-ups. */
  customersPerTenant?: number;
  /** Orders placed per day and tenant (day 1 also snapshots half as many in-flight orders). */
  ordersPerDayPerTenant?: number;
  /**
   * Exactly this many `orders_cdc` lines (all kinds): sizes `ordersPerDayPerTenant` to overshoot a little
   * and stops writing order lines once the count is reached (customers still cover every day).
   */
  orderLines?: number;
  /** Share of all lines that are invalid, in [0, 0.5]. */
  invalidShare?: number;
  /** Share of all lines that repeat an earlier valid line, in [0, 0.5]; with invalidShare at most 0.5. */
  duplicateShare?: number;
  /** Probability that a valid event (not on the last day) is written to a later day's file. */
  lateShare?: number;
  /**
   * The day ("YYYY-MM-DD", within the range) the shop adds a nullable `coupon_code` column to its orders
   * table, at noon UTC: the order rows of later changes carry it (null, or the code of one order in five
   * placed since), and the old rows of their `before` have it as null. The declared row does not have the
   * column, so ingest accepts it as a proposed schema change. Absent: the table never changes.
   */
  couponsFrom?: string;
}

export const SAMPLE_DEFAULTS = {
  from: "2026-11-01",
  to: "2026-11-07",
  tenants: TENANTS,
  customersPerTenant: 40,
  ordersPerDayPerTenant: 30,
  invalidShare: 0.03,
  duplicateShare: 0.03,
  lateShare: 0.05,
} as const;

/** The counts of one source. `lines = valid + invalid + duplicates`; `late` is a subset of `valid`. */
export interface SourceStats {
  lines: number;
  /** Distinct valid events (schema-valid, known tenant), each counted once. */
  valid: number;
  invalid: number;
  /** Valid lines identical to an earlier line (same log position and key, same bytes). */
  duplicates: number;
  /** Valid events written to a file of a later day than their commit time (`source.ts_ms`). */
  late: number;
}
export type SampleStats = Record<SampleSource, SourceStats>;

/** One NDJSON line (without its newline) and where it goes: `<source>/<date>.ndjson`. */
export interface SampleLine {
  source: SampleSource;
  /** The day of the file the line is written to. */
  date: string;
  line: string;
  kind: "valid" | "invalid" | "duplicate";
  /** The injected fault of an invalid line, else null. */
  fault: FaultKind | null;
  /** True for a valid event committed (`source.ts_ms`) on an earlier day than `date`. */
  late: boolean;
}

/** The days from `from` to `to`, both inclusive, as "YYYY-MM-DD". */
export function sampleDays(from: string, to: string): string[] {
  const start = parseDay(from, "from");
  const end = parseDay(to, "to");
  if (end < start) throw new RangeError(`sample data: "from" (${from}) is after "to" (${to})`);
  const days: string[] = [];
  for (let t = start; t <= end; t += DAY) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/**
 * Yields the sample lines day by day (both sources of a day, then the next day); within a day and
 * source, in the order they are to be written. The generator's return value is the stats of what it
 * yielded.
 */
export function* generateSample(opts: SampleOptions): Generator<SampleLine, SampleStats, undefined> {
  const sim = new Simulation(resolveOptions(opts));
  const out = sim.out;
  for (let d = 0; d < sim.days.length; d++) {
    sim.startDay(d);
    while (sim.step()) {
      for (let i = 0; i < out.length; i++) yield out[i]!;
      out.length = 0;
    }
  }
  return sim.stats;
}

/**
 * Writes `<dir>/orders_cdc/<date>.ndjson` and `<dir>/customers_cdc/<date>.ndjson` (one file per day
 * and source, even when empty; tenants mixed) through write streams, and returns the exact stats.
 */
export async function writeSample(dir: string, opts: SampleOptions): Promise<SampleStats> {
  const options = resolveOptions(opts);
  const days = sampleDays(options.from, options.to);
  for (const source of SAMPLE_SOURCES) await mkdir(join(dir, source), { recursive: true });
  const open = (date: string): Record<SampleSource, LineWriter> => ({
    orders_cdc: new LineWriter(join(dir, "orders_cdc", `${date}.ndjson`)),
    customers_cdc: new LineWriter(join(dir, "customers_cdc", `${date}.ndjson`)),
  });
  const closeAll = async (ws: Record<SampleSource, LineWriter>) => {
    await Promise.all([ws.orders_cdc.close(), ws.customers_cdc.close()]);
  };

  let day = 0;
  let writers = open(days[0]!);
  const lines = generateSample(opts);
  let next = lines.next();
  try {
    while (!next.done) {
      const { source, date, line } = next.value;
      while (date !== days[day]) {
        await closeAll(writers);
        day++;
        writers = open(days[day]!);
      }
      const pending = writers[source].write(line);
      if (pending) await pending;
      next = lines.next();
    }
    await closeAll(writers);
    for (day++; day < days.length; day++) await closeAll(open(days[day]!));
  } catch (error) {
    writers.orders_cdc.destroy();
    writers.customers_cdc.destroy();
    throw error;
  }
  return next.value;
}

// ---------------------------------------------------------------------------------------------------------
// Options

interface ResolvedOptions {
  seed: number;
  from: string;
  to: string;
  tenants: readonly string[];
  customersPerTenant: number;
  ordersPerDayPerTenant: number;
  orderLines: number;
  invalidShare: number;
  duplicateShare: number;
  lateShare: number;
  /** When `coupon_code` is added (epoch ms), or +Infinity. */
  couponsAt: number;
}

/**
 * Valid order lines per order placed (`ordersPerDayPerTenant × tenants × days`), measured on the
 * lifecycle below: 2.74 to 2.76 for 2 to 30 days, 2.85 for one day (the snapshot weighs more).
 */
const ORDER_LINES_PER_ORDER = 2.74;
/** How much `orderLines` overshoots before the cap cuts it to the exact count. */
const ORDER_LINES_MARGIN = 1.05;

function resolveOptions(opts: SampleOptions): ResolvedOptions {
  const d = SAMPLE_DEFAULTS;
  const o = {
    seed: opts.seed,
    from: opts.from ?? d.from,
    to: opts.to ?? d.to,
    tenants: opts.tenants ?? d.tenants,
    customersPerTenant: opts.customersPerTenant ?? d.customersPerTenant,
    ordersPerDayPerTenant: opts.ordersPerDayPerTenant ?? d.ordersPerDayPerTenant,
    orderLines: opts.orderLines ?? Number.POSITIVE_INFINITY,
    invalidShare: opts.invalidShare ?? d.invalidShare,
    duplicateShare: opts.duplicateShare ?? d.duplicateShare,
    lateShare: opts.lateShare ?? d.lateShare,
  };
  if (!Number.isInteger(o.seed)) throw new RangeError(`sample data: seed must be an integer, got ${o.seed}`);
  const days = sampleDays(o.from, o.to).length;
  if (o.tenants.length === 0) throw new RangeError("sample data: at least one tenant is needed");
  for (const t of o.tenants) {
    if (!/^[a-z][a-z0-9-]*$/.test(t) || t === UNKNOWN_TENANT) {
      throw new RangeError(`sample data: tenant "${t}" is not a valid tenant id (or is "${UNKNOWN_TENANT}")`);
    }
  }
  if (new Set(o.tenants).size !== o.tenants.length) throw new RangeError("sample data: tenants repeat");
  for (const key of ["customersPerTenant", "ordersPerDayPerTenant"] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) {
      throw new RangeError(`sample data: ${key} must be a positive integer, got ${o[key]}`);
    }
  }
  for (const key of ["invalidShare", "duplicateShare", "lateShare"] as const) {
    if (!(o[key] >= 0 && o[key] <= 0.5))
      throw new RangeError(`sample data: ${key} must be in [0, 0.5], got ${o[key]}`);
  }
  if (o.invalidShare + o.duplicateShare > 0.5) {
    throw new RangeError("sample data: invalidShare + duplicateShare must be at most 0.5");
  }
  let couponsAt = Number.POSITIVE_INFINITY;
  if (opts.couponsFrom !== undefined) {
    couponsAt = parseDay(opts.couponsFrom, "couponsFrom") + DAY / 2;
    if (!(couponsAt > parseDay(o.from, "from") && couponsAt < parseDay(o.to, "to") + DAY)) {
      throw new RangeError(
        `sample data: couponsFrom (${opts.couponsFrom}) must be a day from "from" (${o.from}) to "to" (${o.to})`,
      );
    }
  }
  let ordersPerDayPerTenant = o.ordersPerDayPerTenant;
  if (opts.orderLines !== undefined) {
    if (!Number.isInteger(o.orderLines) || o.orderLines < 1) {
      throw new RangeError(`sample data: orderLines must be a positive integer, got ${o.orderLines}`);
    }
    const validLines = o.orderLines * (1 - o.invalidShare - o.duplicateShare);
    const orders = (validLines * ORDER_LINES_MARGIN) / ORDER_LINES_PER_ORDER;
    ordersPerDayPerTenant = Math.max(1, Math.ceil(orders / (o.tenants.length * days)));
  }
  return { ...o, ordersPerDayPerTenant, couponsAt };
}

function parseDay(day: string, name: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== day) {
    throw new RangeError(`sample data: "${name}" must be a day "YYYY-MM-DD", got "${day}"`);
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------------
// Randomness

const HEX_CODES = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
/** A scratch buffer of a uuid's character codes; the dashes stay, the hex digits are overwritten. */
const UUID_CODES = Array.from("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", (c) => c.charCodeAt(0));
const UUID_HEX_AT = [...UUID_CODES.keys()].filter((i) => UUID_CODES[i] !== 45);

/**
 * V8 keeps `a + b` as a rope of its pieces until something reads the characters; reading one flattens
 * it in place. Strings that outlive many events (rows of orders in flight, held-back lines) are
 * flattened so the collector tracks one object each instead of a tree, which kept 1M events from
 * spending most of their time in GC. The sink only keeps the read from being optimised away.
 */
const flatSink = { value: 0 };
function flat(s: string): string {
  flatSink.value ^= s.charCodeAt(0);
  return s;
}

/** A thin, allocation-free layer over pure-rand's mutable generator. */
class Rng {
  readonly #g: RandomGenerator;
  constructor(seed: number) {
    this.#g = xoroshiro128plus(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return (this.#g.next() >>> 0) / 4294967296;
  }
  /** An integer in [min, max], uniformly. */
  int(min: number, max: number): number {
    return uniformInt(this.#g, min, max);
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(values: readonly T[]): T {
    return values[uniformInt(this.#g, 0, values.length - 1)]!;
  }
  /** A random (version 4, RFC 4122 variant) UUID. */
  uuid(): string {
    let k = 0;
    for (let word = 0; word < 4; word++) {
      let x = this.#g.next();
      if (word === 1) x = (x & 0xffff0fff) | 0x4000; // version 4: the 13th hex digit
      if (word === 2) x = (x & 0x3fffffff) | 0x80000000; // variant 10xx: the 17th hex digit
      for (let shift = 28; shift >= 0; shift -= 4)
        UUID_CODES[UUID_HEX_AT[k++]!] = HEX_CODES[(x >>> shift) & 15]!;
    }
    // One flat string straight from the codes.
    return String.fromCharCode.apply(null, UUID_CODES);
  }
}

const SLOT_VALID = 0;
const SLOT_INVALID = 1;
const SLOT_DUPLICATE = 2;
const BLOCK = 100;

/**
 * Decides which line positions of a source are invalid or duplicates: each block of 100 positions holds
 * exactly the share's count (fractions carried to the next block), shuffled. Observed shares then stay
 * within a line or two of the requested ones instead of wandering like independent coin flips.
 */
class SlotPlan {
  readonly #slots = new Uint8Array(BLOCK);
  #pos = BLOCK;
  #carryInvalid = 0;
  #carryDuplicate = 0;
  readonly invalidShare: number;
  readonly duplicateShare: number;
  constructor(invalidShare: number, duplicateShare: number) {
    this.invalidShare = invalidShare;
    this.duplicateShare = duplicateShare;
  }

  next(rng: Rng): number {
    if (this.#pos === BLOCK) this.#refill(rng);
    return this.#slots[this.#pos++]!;
  }

  #refill(rng: Rng): void {
    this.#carryInvalid += this.invalidShare * BLOCK;
    this.#carryDuplicate += this.duplicateShare * BLOCK;
    const invalid = Math.floor(this.#carryInvalid + 1e-9);
    const duplicate = Math.floor(this.#carryDuplicate + 1e-9);
    this.#carryInvalid -= invalid;
    this.#carryDuplicate -= duplicate;
    const slots = this.#slots;
    slots.fill(SLOT_VALID);
    slots.fill(SLOT_INVALID, 0, invalid);
    slots.fill(SLOT_DUPLICATE, invalid, invalid + duplicate);
    for (let i = BLOCK - 1; i > 0; i--) {
      const j = rng.int(0, i);
      const s = slots[i]!;
      slots[i] = slots[j]!;
      slots[j] = s;
    }
    this.#pos = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The simulated shop

type OrderStatus = OrderRow["status"];
type Currency = OrderRow["currency"];
/** Debezium's operations: create, update, delete, read (a snapshot's). */
type Op = "c" | "u" | "d" | "r";
/**
 * `source.snapshot` as Debezium 3 sends it: "false" for a streamed change; for a snapshot read "first"
 * (the snapshot's first record), "first_in_data_collection" / "last_in_data_collection" (a table's first
 * and last), "last" (the snapshot's last) and "true" for the others.
 */
type SnapshotMark =
  | "false"
  | "true"
  | "first"
  | "first_in_data_collection"
  | "last_in_data_collection"
  | "last";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const FIRST_NAMES: readonly (readonly [string, string])[] = [
  ["Ada", "ada"],
  ["Amara", "amara"],
  ["Björn", "bjorn"],
  ["Chen", "chen"],
  ["Chloé", "chloe"],
  ["Dmitri", "dmitri"],
  ["Elena", "elena"],
  ["Farah", "farah"],
  ["Giulia", "giulia"],
  ["Hannah", "hannah"],
  ["Ines", "ines"],
  ["Jonas", "jonas"],
  ["Kenji", "kenji"],
  ["Lena", "lena"],
  ["Malik", "malik"],
  ["Nora", "nora"],
  ["Oskar", "oskar"],
  ["Priya", "priya"],
  ["Rafael", "rafael"],
  ["Sofia", "sofia"],
  ["Tomás", "tomas"],
  ["Yara", "yara"],
  ["Zoë", "zoe"],
];
const LAST_NAMES: readonly (readonly [string, string])[] = [
  ["Andersson", "andersson"],
  ["Bianchi", "bianchi"],
  ["Dubois", "dubois"],
  ["García", "garcia"],
  ["Haddad", "haddad"],
  ["Ivanova", "ivanova"],
  ["Jansen", "jansen"],
  ["Kowalski", "kowalski"],
  ["Müller", "muller"],
  ["Nakamura", "nakamura"],
  ["O'Brien", "obrien"],
  ["Okafor", "okafor"],
  ["Patel", "patel"],
  ["Rossi", "rossi"],
  ["Schmidt", "schmidt"],
  ["Silva", "silva"],
  ["Smith", "smith"],
  ["Van der Berg", "vanderberg"],
  ["Wong", "wong"],
  ["Yılmaz", "yilmaz"],
];
const EMAIL_DOMAINS = [
  "gmail.com",
  "outlook.com",
  "proton.me",
  "web.de",
  "yahoo.co.uk",
  "icloud.com",
  "orange.fr",
];
const COUNTRIES = ["DE", "FR", "GB", "US", "NL", "ES", "IT", "PL", "SE", "AT", "IE", "JP"];
/** The codes of the orders placed with a coupon once the orders table has a `coupon_code` column. */
const COUPONS = ["WELCOME10", "BLACKFRIDAY26", "FREESHIP"];
/** The end of an order row's JSON after its `updated_at` value: without `coupon_code`, and with it null. */
const NO_COUPON_COLUMN = '"}';
const NULL_COUPON = '","coupon_code":null}';

/** The columns a `dropped_column` fault may remove: required, but neither the key nor the tenant. */
const DROPPABLE = {
  orders_cdc: ["customer_id", "status", "amount_cents", "currency", "created_at", "updated_at"],
  customers_cdc: ["email", "name", "country", "created_at", "updated_at"],
} as const;
/** The envelope fields a `missing_field` fault leaves out ("source.lsn": the position inside `source`). */
const MISSING_FIELDS = ["op", "source", "source.lsn"] as const;

/**
 * The stretches of a line that depend only on its table, snapshot mark or operation, concatenated once:
 * a line is these around the row JSON and the numbers (see `changeLine`).
 */
const [SCHEMA_NAME, ORDERS_TABLE_NAME] = ORDERS_TABLE.split(".") as [string, string];
const CUSTOMERS_TABLE_NAME = CUSTOMERS_TABLE.split(".")[1]!;
const SOURCE_HEAD = `,"source":{"version":"${DEBEZIUM.version}","connector":"postgresql","name":"${DEBEZIUM.name}","ts_ms":`;
const snapshotPart = (mark: SnapshotMark) => `,"snapshot":"${mark}","db":"${DEBEZIUM.db}","sequence":"[`;
const SNAPSHOT_PART: Record<SnapshotMark, string> = {
  false: snapshotPart("false"),
  true: snapshotPart("true"),
  first: snapshotPart("first"),
  first_in_data_collection: snapshotPart("first_in_data_collection"),
  last_in_data_collection: snapshotPart("last_in_data_collection"),
  last: snapshotPart("last"),
};
const tablePart = (table: string) => `000,"schema":"${SCHEMA_NAME}","table":"${table}","txId":`;
const TABLE_PART: Record<SampleSource, string> = {
  orders_cdc: tablePart(ORDERS_TABLE_NAME),
  customers_cdc: tablePart(CUSTOMERS_TABLE_NAME),
};
const opPart = (op: Op) => `,"xmin":null},"transaction":null,"op":"${op}","ts_ms":`;
const OP_PART: Record<Op, string> = { c: opPart("c"), u: opPart("u"), d: opPart("d"), r: opPart("r") };

/**
 * One change event, exactly as Debezium's JSON converter writes it (schema-less): `before`, `after`,
 * `source`, `transaction`, `op`, `ts_ms`, `ts_us`, `ts_ns`, in that order. `us` is the commit (or read)
 * time, `processed` when Debezium handled the change (both in microseconds) and `ns` the nanoseconds past
 * `processed`. None of the values needs escaping, so the concatenation is `JSON.stringify` of the event,
 * except that the nanosecond times stay exact (past 2^53, a JavaScript number would round them).
 */
function changeLine(
  source: SampleSource,
  before: string | null,
  after: string | null,
  us: number,
  mark: SnapshotMark,
  lastCommit: number | null,
  txId: number,
  lsn: number,
  op: Op,
  processed: number,
  ns: number,
): string {
  // Each number is converted once; the milliseconds are the microseconds' text less its last 3 digits.
  const usText = String(us);
  const lsnText = String(lsn);
  const processedText = String(processed);
  return (
    '{"before":' +
    (before ?? "null") +
    ',"after":' +
    (after ?? "null") +
    SOURCE_HEAD +
    usText.slice(0, -3) +
    SNAPSHOT_PART[mark] +
    (lastCommit === null ? "null" : '\\"' + lastCommit + '\\"') +
    ',\\"' +
    lsnText +
    '\\"]","ts_us":' +
    usText +
    ',"ts_ns":' +
    usText +
    TABLE_PART[source] +
    txId +
    ',"lsn":' +
    lsnText +
    OP_PART[op] +
    processedText.slice(0, -3) +
    ',"ts_us":' +
    processedText +
    ',"ts_ns":' +
    processedText +
    PAD3[ns]! +
    "}"
  );
}

/** One version of a row and its JSON, serialised once: it is the `after` of one event, the `before` of the next. */
interface Version<R> {
  readonly row: R;
  readonly json: string;
}
const customerVersion = (row: CustomerRow): Version<CustomerRow> => ({ row, json: JSON.stringify(row) });

interface CustomerState {
  current: Version<CustomerRow>;
  /** Position in the tenant's `live` list, -1 once deleted. */
  slot: number;
  /** The ascii e-mail local part. */
  handle: string;
}

/**
 * An order in flight, kept as JSON only (orders are the volume: no row objects to allocate or
 * collect). It is also its own pending `order_step` task: an order has at most one next change.
 *
 * The JSON is `JSON.stringify` of the row, byte for byte: every value is a uuid, a tenant id, an enum
 * member, an ISO timestamp, an integer or a coupon code, none of which needs escaping. `head` and `tail`
 * are the parts around the status that never change, `end` what follows `updated_at` (the coupon
 * column, once the table has it); `json` is the current version.
 */
interface OrderState {
  t: number;
  next: Task | null;
  kind: "order_step";
  tenant: TenantState;
  /** The status of the next change; null for a delete. */
  to: OrderStatus | null;
  status: OrderStatus;
  head: string;
  tail: string;
  end: string;
  json: string;
}

interface TenantState {
  id: string;
  currency: Currency;
  live: CustomerState[];
  /** A running number that keeps e-mail addresses unique within the tenant. */
  signups: number;
}

type TenantTaskKind =
  | "customer_snapshot"
  | "customer_signup"
  | "customer_update"
  | "customer_delete"
  | "order_snapshot"
  | "order_create";
/** A scheduled piece of work; `next` links the tasks of one calendar bucket, in time order. */
type Task =
  | { t: number; next: Task | null; kind: TenantTaskKind; tenant: TenantState; mark: SnapshotMark }
  | OrderState
  | { t: number; next: Task | null; kind: "deliver"; source: SampleSource; line: string };

/**
 * The simulation's clock: a calendar queue, one bucket per second of the range (per minute past a
 * month), each a linked list sorted by time, ties in insertion order. A bucket holds a task or two, so
 * pushing is O(1) in practice and popping walks the range once; a binary heap of the ~100k tasks in
 * flight at 1M events spent most of its time on cache misses.
 */
class TaskQueue {
  readonly #origin: number;
  readonly #width: number;
  readonly #heads: (Task | null)[];
  /** The bucket the clock is in. */
  #current = 0;

  /** Tasks at or after `end` are dropped: they would happen after the range. */
  constructor(origin: number, end: number) {
    this.#origin = origin;
    // Both widths divide a day, so no bucket straddles midnight (see popBefore).
    this.#width = end - origin <= 31 * DAY ? SECOND : MINUTE;
    this.#heads = new Array<Task | null>(Math.ceil((end - origin) / this.#width)).fill(null);
  }

  push(task: Task): void {
    const b = Math.floor((task.t - this.#origin) / this.#width);
    if (b >= this.#heads.length) return;
    if (b < this.#current) throw new Error(`internal: task at ${isoAny(task.t)} scheduled in the past`);
    const head = this.#heads[b] ?? null;
    if (head === null || task.t < head.t) {
      task.next = head;
      this.#heads[b] = task;
      return;
    }
    let at = head;
    while (at.next !== null && at.next.t <= task.t) at = at.next;
    task.next = at.next;
    at.next = task;
  }

  /**
   * Removes and returns the earliest task if it is before `limit` (a midnight), never moving the clock
   * into a bucket at or after it: the next day's tasks are pushed after this returns undefined.
   */
  popBefore(limit: number): Task | undefined {
    const heads = this.#heads;
    for (;;) {
      if (this.#current >= heads.length || this.#origin + this.#current * this.#width >= limit)
        return undefined;
      const head = heads[this.#current] ?? null;
      if (head !== null) {
        heads[this.#current] = head.next;
        head.next = null;
        return head;
      }
      this.#current++;
    }
  }
}

/** The latest valid event of a source with a row after the change: what its invalid lines are made from. */
interface Template {
  present: boolean;
  op: Op;
  before: string | null;
  after: string;
  /** Commit time, microseconds. */
  us: number;
}

interface SourceState {
  readonly source: SampleSource;
  readonly stats: SourceStats;
  readonly plan: SlotPlan;
  readonly maxLines: number;
  /** The fault kinds left in the current cycle; refilled (shuffled) when empty. */
  faults: FaultKind[];
  readonly template: Template;
  /** Recently written valid lines: what duplicates repeat. */
  readonly recent: string[];
  recentNext: number;
}

const RECENT = 128;

class Simulation {
  readonly days: string[];
  readonly stats: SampleStats;
  /** The lines produced by the last `step()`, in write order. */
  readonly out: SampleLine[] = [];
  readonly #o: ResolvedOptions;
  readonly #rng: Rng;
  readonly #queue: TaskQueue;
  readonly #tenants: TenantState[];
  readonly #sources: Record<SampleSource, SourceState>;
  #day = 0;
  #date = "";
  #dayEnd = 0;
  /** The database's write-ahead log: where the next record goes, and the last commit's position. */
  #wal: number;
  #lastCommit: number;
  /** The last transaction id handed out (transactions on tables nobody captures take ids in between). */
  #txId: number;
  /** The last change's log position, and the commit before it. */
  #lsn = 0;
  #prevCommit = 0;
  /** The last commit time, microseconds: commits are stamped in log order. */
  #lastUs = 0;
  /** The initial snapshot's transaction and log position, shared by all of its reads. */
  #snapshotTx = 0;
  #snapshotLsn = 0;

  constructor(options: ResolvedOptions) {
    this.#o = options;
    this.#rng = new Rng(options.seed);
    this.days = sampleDays(options.from, options.to);
    const origin = parseDay(this.days[0]!, "from");
    this.#queue = new TaskQueue(origin, origin + this.days.length * DAY);
    const rng = this.#rng;
    this.#wal = rng.int(20_000_000, 60_000_000);
    this.#lastCommit = this.#wal;
    this.#txId = rng.int(500, 5_000);
    this.#tenants = options.tenants.map((id, i) => ({
      id,
      currency: CURRENCIES[i % CURRENCIES.length]!,
      live: [],
      signups: 0,
    }));
    const sourceState = (source: SampleSource, maxLines: number): SourceState => ({
      source,
      stats: { lines: 0, valid: 0, invalid: 0, duplicates: 0, late: 0 },
      plan: new SlotPlan(options.invalidShare, options.duplicateShare),
      maxLines,
      faults: [],
      template: { present: false, op: "c", before: null, after: "", us: 0 },
      recent: [],
      recentNext: 0,
    });
    this.#sources = {
      orders_cdc: sourceState("orders_cdc", options.orderLines),
      customers_cdc: sourceState("customers_cdc", Number.POSITIVE_INFINITY),
    };
    this.stats = {
      orders_cdc: this.#sources.orders_cdc.stats,
      customers_cdc: this.#sources.customers_cdc.stats,
    };
  }

  /** Schedules the spontaneous activity of day `d` (snapshot, sign-ups, edits, orders) for every tenant. */
  startDay(d: number): void {
    const rng = this.#rng;
    const o = this.#o;
    this.#day = d;
    this.#date = this.days[d]!;
    const dayStart = parseDay(this.#date, "day");
    this.#dayEnd = dayStart + DAY;
    let start = dayStart;
    if (d === 0) start = this.#startSnapshot(dayStart) + SECOND;
    for (const tenant of this.#tenants) {
      const spread = (kind: TenantTaskKind, mean: number) => {
        const n =
          mean >= 1 ? rng.int(Math.floor(mean / 2), Math.ceil((mean * 3) / 2)) : rng.chance(mean) ? 1 : 0;
        for (let i = 0; i < n; i++) this.#at(rng.int(start, this.#dayEnd - 1), kind, tenant);
      };
      spread("customer_signup", o.customersPerTenant / 10);
      spread("customer_update", o.customersPerTenant / 20);
      spread("customer_delete", 0.3);
      for (let i = 0; i < o.ordersPerDayPerTenant; i++)
        this.#at(rng.int(start, this.#dayEnd - 1), "order_create", tenant);
    }
  }

  /**
   * Debezium's initial snapshot of the database, in one transaction at one log position: the customers
   * table (every tenant's rows, in table order), then the orders still in flight. Returns when it ends.
   */
  #startSnapshot(dayStart: number): number {
    const rng = this.#rng;
    const o = this.#o;
    const rows = (perTenant: number) => {
      const tenants = this.#tenants.flatMap((tenant) => Array<TenantState>(perTenant).fill(tenant));
      for (let i = tenants.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [tenants[i], tenants[j]] = [tenants[j]!, tenants[i]!];
      }
      return tenants;
    };
    const customers = rows(o.customersPerTenant);
    const orders = rows(Math.ceil(o.ordersPerDayPerTenant / 2));
    this.#snapshotTx = this.#txId += rng.int(1, 12);
    this.#snapshotLsn = this.#wal;
    let t = dayStart + rng.int(0, 999);
    const tables: [TenantTaskKind, TenantState[]][] = [
      ["customer_snapshot", customers],
      ["order_snapshot", orders],
    ];
    for (const [k, [kind, tenants]] of tables.entries()) {
      for (const [i, tenant] of tenants.entries()) {
        const firstTable = k === 0;
        const lastTable = k === tables.length - 1;
        const first = i === 0;
        const last = i === tenants.length - 1;
        const mark: SnapshotMark =
          firstTable && first
            ? "first"
            : lastTable && last
              ? "last"
              : first
                ? "first_in_data_collection"
                : last
                  ? "last_in_data_collection"
                  : "true";
        this.#queue.push({ t, next: null, kind, tenant, mark });
        t += rng.int(1, 9);
      }
    }
    return t;
  }

  /** Runs the next task of the current day into `out`; false when the day is over. */
  step(): boolean {
    const next = this.#queue.popBefore(this.#dayEnd);
    if (next === undefined) return false;
    this.#run(next);
    return true;
  }

  #at(t: number, kind: TenantTaskKind, tenant: TenantState): void {
    this.#queue.push({ t, next: null, kind, tenant, mark: "false" });
  }

  #run(task: Task): void {
    switch (task.kind) {
      case "customer_snapshot":
        this.#customerSnapshot(task.t, task.tenant, task.mark);
        break;
      case "customer_signup":
        this.#customerSignup(task.t, task.tenant);
        break;
      case "customer_update":
        this.#customerUpdate(task.t, task.tenant);
        break;
      case "customer_delete":
        this.#customerDelete(task.t, task.tenant);
        break;
      case "order_snapshot":
        this.#orderSnapshot(task.t, task.tenant, task.mark);
        break;
      case "order_create":
        this.#orderCreate(task.t, task.tenant);
        break;
      case "order_step":
        this.#orderStep(task);
        break;
      case "deliver":
        this.#emit(this.#sources[task.source], task.line, true);
        break;
    }
  }

  /** The commit time of a change at `t` (ms), in microseconds, never before the previous commit. */
  #commitTime(t: number): number {
    const us = Math.max(t * 1000 + this.#rng.int(0, 999), this.#lastUs);
    this.#lastUs = us;
    return us;
  }

  /** A historical instant (of a row the snapshot reads) at `t` ms, with microseconds, as ISO text. */
  #past(t: number): string {
    return isoUs(t * 1000 + this.#rng.int(0, 999));
  }

  // -- customers ------------------------------------------------------------------------------------------

  #newCustomer(tenant: TenantState, createdAt: string, updatedAt: string): CustomerState {
    const rng = this.#rng;
    const [first, firstSlug] = rng.pick(FIRST_NAMES);
    const [last, lastSlug] = rng.pick(LAST_NAMES);
    const handle = `${firstSlug}.${lastSlug}${++tenant.signups}`;
    const customer: CustomerState = {
      current: customerVersion({
        customer_id: rng.uuid(),
        tenant_id: tenant.id,
        email: `${handle}@${rng.pick(EMAIL_DOMAINS)}`,
        name: `${first} ${last}`,
        country: rng.pick(COUNTRIES),
        created_at: createdAt,
        updated_at: updatedAt,
      }),
      slot: tenant.live.length,
      handle,
    };
    tenant.live.push(customer);
    return customer;
  }

  #customerSnapshot(t: number, tenant: TenantState, mark: SnapshotMark): void {
    const rng = this.#rng;
    const created = t - rng.int(DAY, 900 * DAY);
    const createdAt = this.#past(created);
    const updatedAt = rng.chance(0.3) ? this.#past(rng.int(created, t - HOUR)) : createdAt;
    const customer = this.#newCustomer(tenant, createdAt, updatedAt);
    this.#change("customers_cdc", this.#commitTime(t), "r", null, customer.current.json, mark);
  }

  #customerSignup(t: number, tenant: TenantState): void {
    const us = this.#commitTime(t);
    const at = isoUs(us);
    const customer = this.#newCustomer(tenant, at, at);
    this.#change("customers_cdc", us, "c", null, customer.current.json, "false");
  }

  #customerUpdate(t: number, tenant: TenantState): void {
    if (tenant.live.length === 0) return;
    const rng = this.#rng;
    const customer = rng.pick(tenant.live);
    const old = customer.current;
    const us = this.#commitTime(t);
    const at = isoUs(us);
    const r = rng.float();
    const row: CustomerRow =
      r < 0.6
        ? { ...old.row, email: `${customer.handle}@${rng.pick(EMAIL_DOMAINS)}`, updated_at: at }
        : r < 0.8
          ? { ...old.row, country: rng.pick(COUNTRIES), updated_at: at }
          : { ...old.row, name: `${old.row.name.split(" ")[0]} ${rng.pick(LAST_NAMES)[0]}`, updated_at: at };
    customer.current = customerVersion(row);
    this.#change("customers_cdc", us, "u", old.json, customer.current.json, "false");
  }

  #customerDelete(t: number, tenant: TenantState): void {
    const live = tenant.live;
    if (live.length <= 1) return;
    const customer = this.#rng.pick(live);
    const moved = live.pop()!;
    if (moved !== customer) {
      live[customer.slot] = moved;
      moved.slot = customer.slot;
    }
    customer.slot = -1;
    this.#change("customers_cdc", this.#commitTime(t), "d", customer.current.json, null, "false");
  }

  // -- orders ---------------------------------------------------------------------------------------------

  #amount(): number {
    // Price points from 4.99 to ~499.99, log-uniform: many small baskets, a long tail of large ones.
    return Math.floor(Math.exp(Math.log(5) + this.#rng.float() * Math.log(100))) * 100 - 1;
  }

  #currency(tenant: TenantState): Currency {
    return this.#rng.chance(0.85) ? tenant.currency : this.#rng.pick(CURRENCIES);
  }

  #orderSnapshot(t: number, tenant: TenantState, mark: SnapshotMark): void {
    if (tenant.live.length === 0) return;
    const rng = this.#rng;
    const created = t - rng.int(10 * MINUTE, DAY);
    const paid = rng.chance(0.4);
    const createdAt = this.#past(created);
    const order = this.#newOrder(tenant, paid ? "paid" : "pending", createdAt);
    const updatedAt = paid ? this.#past(rng.int(created + MINUTE, t - 1)) : createdAt;
    order.json = flat(order.head + order.status + order.tail + updatedAt + order.end);
    this.#change("orders_cdc", this.#commitTime(t), "r", null, order.json, mark);
    this.#scheduleOrder(t, order);
  }

  #orderCreate(t: number, tenant: TenantState): void {
    if (tenant.live.length === 0) return;
    const us = this.#commitTime(t);
    const at = isoUs(us);
    const order = this.#newOrder(tenant, "pending", at);
    if (t >= this.#o.couponsAt) {
      order.end = this.#rng.chance(0.2) ? `","coupon_code":"${this.#rng.pick(COUPONS)}"}` : NULL_COUPON;
    }
    order.json = flat(order.head + order.status + order.tail + at + order.end);
    this.#change("orders_cdc", us, "c", null, order.json, "false");
    this.#scheduleOrder(t, order);
  }

  /** A new order of a live customer; the caller sets `json` with the first updated_at. */
  #newOrder(tenant: TenantState, status: OrderStatus, createdAt: string): OrderState {
    const rng = this.#rng;
    const orderId = rng.uuid();
    const customerId = rng.pick(tenant.live).current.row.customer_id;
    const amount = this.#amount();
    const currency = this.#currency(tenant);
    return {
      t: 0,
      next: null,
      kind: "order_step",
      tenant,
      to: null,
      status,
      head: flat(
        '{"order_id":"' +
          orderId +
          '","tenant_id":"' +
          tenant.id +
          '","customer_id":"' +
          customerId +
          '","status":"',
      ),
      tail: flat(
        '","amount_cents":' +
          amount +
          ',"currency":"' +
          currency +
          '","created_at":"' +
          createdAt +
          '","updated_at":"',
      ),
      end: NO_COUPON_COLUMN,
      json: "",
    };
  }

  #orderStep(order: OrderState): void {
    const { t, to } = order;
    let old = order.json;
    if (t >= this.#o.couponsAt && order.end === NO_COUPON_COLUMN) {
      // The row predates the column: its old tuple reads it as null.
      old = flat(old.slice(0, -1) + NULL_COUPON.slice(1));
      order.end = NULL_COUPON;
    }
    const us = this.#commitTime(t);
    if (to === null) {
      this.#change("orders_cdc", us, "d", old, null, "false");
      return;
    }
    order.status = to;
    order.json = flat(order.head + to + order.tail + isoUs(us) + order.end);
    this.#change("orders_cdc", us, "u", old, order.json, "false");
    this.#scheduleOrder(t, order);
  }

  /** The order's next change, if any: the lifecycle pending → paid → shipped, with its side exits. */
  #scheduleOrder(t: number, order: OrderState): void {
    const rng = this.#rng;
    const r = rng.float();
    const then = (to: OrderStatus | null, min: number, max: number) => {
      order.t = t + rng.int(min, max);
      order.to = to;
      this.#queue.push(order);
    };
    switch (order.status) {
      case "pending":
        if (r < 0.78) then("paid", 2 * MINUTE, 3 * HOUR);
        else if (r < 0.93) then("cancelled", 10 * MINUTE, 2 * DAY);
        else if (r < 0.965) then(null, DAY, 3 * DAY); // abandoned, then purged
        return;
      case "paid":
        if (r < 0.92) then("shipped", 3 * HOUR, 2 * DAY);
        else if (r < 0.96) then("refunded", HOUR, 3 * DAY);
        return;
      case "shipped":
        if (r < 0.05) then("refunded", DAY, 6 * DAY);
        return;
      case "cancelled":
        if (r < 0.1) then(null, DAY, 3 * DAY);
        return;
      case "refunded":
        return;
    }
  }

  // -- output ---------------------------------------------------------------------------------------------

  /**
   * Starts a new transaction of one change: its id (`#txId`) and the change's log position (`#lsn`),
   * after the last commit (`#prevCommit`, what the change's `sequence` names). Its commit record follows
   * the change.
   */
  #transaction(): void {
    const rng = this.#rng;
    this.#prevCommit = this.#lastCommit;
    this.#txId += rng.int(1, 12);
    this.#lsn = this.#wal + rng.int(24, 480);
    this.#lastCommit = this.#lsn + rng.int(40, 200);
    this.#wal = this.#lastCommit + rng.int(24, 96);
  }

  /**
   * One change of one row committed at `us`, written today or held back as a late event. A snapshot read
   * (`mark` other than "false") takes the snapshot's transaction and position; any other change is a
   * transaction of its own.
   */
  #change(
    source: SampleSource,
    us: number,
    op: Op,
    before: string | null,
    after: string | null,
    mark: SnapshotMark,
  ): void {
    const rng = this.#rng;
    let txId = this.#snapshotTx;
    let lsn = this.#snapshotLsn;
    let lastCommit: number | null = null;
    if (mark === "false") {
      this.#transaction();
      txId = this.#txId;
      lsn = this.#lsn;
      lastCommit = this.#prevCommit;
    }
    const state = this.#sources[source];
    if (after !== null) {
      const tpl = state.template;
      tpl.present = true;
      tpl.op = op;
      tpl.before = before;
      tpl.after = after;
      tpl.us = us;
    }
    if (this.#day < this.days.length - 1 && rng.chance(this.#o.lateShare)) {
      // Held back (the connector was down overnight): processed after midnight of the next day, sometimes
      // the one after.
      const dayStart = this.#dayEnd + (this.#day < this.days.length - 2 && rng.chance(0.2) ? DAY : 0);
      const t = dayStart + rng.int(0, 6 * HOUR);
      const processed = t * 1000 + rng.int(0, 999);
      const held = changeLine(
        source,
        before,
        after,
        us,
        mark,
        lastCommit,
        txId,
        lsn,
        op,
        processed,
        rng.int(0, 999),
      );
      this.#queue.push({ t, next: null, kind: "deliver", source, line: flat(held) });
      return;
    }
    const processed = us + rng.int(800, 250_000);
    this.#emit(
      state,
      changeLine(source, before, after, us, mark, lastCommit, txId, lsn, op, processed, rng.int(0, 999)),
      false,
    );
  }

  /** Writes a valid line, preceded by the invalid lines and duplicates its source's plan puts first. */
  #emit(state: SourceState, line: string, late: boolean): void {
    const stats = state.stats;
    for (;;) {
      if (stats.lines >= state.maxLines) return;
      const slot = state.plan.next(this.#rng);
      if (slot === SLOT_VALID) break;
      if (slot === SLOT_INVALID && state.template.present) {
        const fault = this.#nextFault(state);
        this.#push(state.source, this.#invalid(state.source, state.template, fault), "invalid", fault, false);
        stats.invalid++;
      } else if (slot === SLOT_DUPLICATE && state.recent.length > 0) {
        this.#push(state.source, this.#rng.pick(state.recent), "duplicate", null, false);
        stats.duplicates++;
      }
    }
    this.#push(state.source, line, "valid", null, late);
    stats.valid++;
    if (late) stats.late++;
    // Every fourth valid line is kept as a candidate for duplicates: enough variety, less to retain.
    if ((stats.valid & 3) === 1) {
      if (state.recent.length < RECENT) state.recent.push(flat(line));
      else state.recent[state.recentNext] = flat(line);
      state.recentNext = (state.recentNext + 1) % RECENT;
    }
  }

  #push(
    source: SampleSource,
    line: string,
    kind: SampleLine["kind"],
    fault: FaultKind | null,
    late: boolean,
  ): void {
    this.#sources[source].stats.lines++;
    this.out.push({ source, date: this.#date, line, kind, fault, late });
  }

  #nextFault(state: SourceState): FaultKind {
    if (state.faults.length === 0) {
      const kinds: FaultKind[] = [...(state.source === "orders_cdc" ? ORDER_FAULTS : CUSTOMER_FAULTS)];
      for (let i = kinds.length - 1; i > 0; i--) {
        const j = this.#rng.int(0, i);
        [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
      }
      state.faults = kinds;
    }
    return state.faults.pop()!;
  }

  /**
   * A change like `template`'s, in a transaction and at a log position of its own (a snapshot read's
   * copy becomes an insert), with one fault injected. A fault in a column's type or presence is in
   * `before` too (the old row is decoded with the table's new definition); a bad value only in `after`.
   */
  #invalid(source: SampleSource, template: Template, fault: FaultKind): string {
    const rng = this.#rng;
    const op = template.op === "r" ? "c" : template.op;
    // The rows are mutated column by column below, so they are handled as plain JSON objects.
    const after: Record<string, unknown> = JSON.parse(template.after);
    const before: Record<string, unknown> | null =
      template.before === null ? null : JSON.parse(template.before);
    const rows = before === null ? [after] : [before, after];
    switch (fault) {
      case "dropped_column": {
        const column = rng.pick(DROPPABLE[source]);
        for (const row of rows) delete row[column];
        break;
      }
      case "wrong_type":
        if (source === "orders_cdc") {
          // amount_cents altered to numeric, which Debezium sends as text with decimal.handling.mode=string.
          for (const row of rows) row["amount_cents"] = String(row["amount_cents"]);
        } else {
          // created_at altered to timestamp (without time zone): Debezium sends epoch microseconds.
          for (const row of rows) row["created_at"] = epochMicros(String(row["created_at"]));
        }
        break;
      case "bad_enum":
        after["status"] = "lost";
        break;
      case "negative_amount":
        after["amount_cents"] = -Number(after["amount_cents"]);
        break;
      case "bad_email": {
        const email = String(after["email"]);
        const [local = "", domain = ""] = email.split("@");
        after["email"] = rng.pick([
          `${local} at ${domain}`,
          `${local}@@${domain}`,
          `${local}@`,
          `${local}.${domain}`,
        ]);
        break;
      }
      case "unknown_tenant":
        for (const row of rows) row["tenant_id"] = UNKNOWN_TENANT;
        break;
    }
    this.#transaction();
    const lsn = this.#lsn;
    const us = template.us;
    const whole = changeLine(
      source,
      before === null ? null : JSON.stringify(before),
      JSON.stringify(after),
      us,
      "false",
      this.#prevCommit,
      this.#txId,
      lsn,
      op,
      us + rng.int(800, 250_000),
      rng.int(0, 999),
    );
    if (fault === "not_json") {
      // A line cut short (a crashed writer): a proper prefix of an object is never JSON.
      return whole.slice(0, rng.int(Math.floor(whole.length / 4), whole.length - 2));
    }
    if (fault === "missing_field") {
      switch (rng.pick(MISSING_FIELDS)) {
        case "op":
          return whole.replace(`,"op":"${op}"`, "");
        case "source": {
          const from = whole.indexOf(',"source":{');
          return whole.slice(0, from) + whole.slice(whole.indexOf("}", from) + 1);
        }
        case "source.lsn":
          return whole.replace(`,"lsn":${lsn}`, "");
      }
    }
    return whole;
  }
}

/** "2026-11-01T10:00:00.123456Z" as microseconds since the epoch. */
function epochMicros(iso: string): number {
  return Date.parse(`${iso.slice(0, 23)}Z`) * 1000 + Number(iso.slice(23, 26));
}

/** Any instant (milliseconds) as ISO 8601 with milliseconds and Z. */
const isoAny = (t: number) => new Date(t).toISOString();

let isoMinute = Number.NaN;
let isoPrefix = "";
const PAD2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
/**
 * An instant in microseconds as Debezium writes a `timestamptz`: "2026-11-01T10:00:00.123456Z". The
 * "YYYY-MM-DDTHH:MM:" prefix is cached per minute (the simulation clock mostly moves forward; a pure
 * cache, shared safely by concurrent generators).
 */
function isoUs(us: number): string {
  const minute = Math.floor(us / 60_000_000);
  if (minute !== isoMinute) {
    isoMinute = minute;
    isoPrefix = isoAny(minute * MINUTE).slice(0, 17);
  }
  const rest = us - minute * 60_000_000;
  const second = Math.floor(rest / 1_000_000);
  const micros = rest - second * 1_000_000;
  const ms = Math.floor(micros / 1000);
  return isoPrefix + PAD2[second]! + "." + PAD3[ms]! + PAD3[micros - ms * 1000]! + "Z";
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** Buffers lines into chunks for a write stream and honours its backpressure. */
class LineWriter {
  readonly #stream: WriteStream;
  #buffer = "";
  #error: Error | null = null;

  constructor(path: string) {
    this.#stream = createWriteStream(path);
    this.#stream.on("error", (error) => {
      this.#error ??= error;
    });
  }

  /** Queues a line; returns a promise only when the caller must wait (the stream is full). */
  write(line: string): Promise<void> | undefined {
    this.#buffer += line + "\n";
    return this.#buffer.length >= 1 << 16 ? this.#flush() : undefined;
  }

  async #flush(): Promise<void> {
    if (this.#error) throw this.#error;
    const chunk = this.#buffer;
    this.#buffer = "";
    if (!this.#stream.write(chunk)) await once(this.#stream, "drain");
  }

  async close(): Promise<void> {
    if (this.#buffer.length > 0) await this.#flush();
    if (this.#error) throw this.#error;
    this.#stream.end();
    await finished(this.#stream);
  }

  destroy(): void {
    this.#stream.destroy();
  }
}
