/**
 * Record validation for ingest: one line of NDJSON in, a verdict out (the partition it belongs to and its
 * event id, or the reason it is quarantined). Everything here is synchronous and self-contained so that
 * the same code runs on the ingest thread and in its worker threads (see ingest-worker.ts); a worker gets
 * a `SourceSpec`, which is plain, structured-clonable data.
 */
import { isAscii, isUtf8 } from "node:buffer";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
// Types only: a worker loads this module, and nothing of the declaration kit (cron-parser and all).
import { type StaticPartitions, type TimePartitions, timeKeyAt } from "../../kit/partitions.ts";
import {
  CdcEvents,
  type CdcSourceSpec,
  type ColumnSeen,
  eventUuid,
  isSchemaEnvelope,
  joinReasons,
  payloadSpan,
  schemaReasons,
} from "./ingest-cdc.ts";
import { encodeUuid, FIELDS, isDate, isDateTime, isUuid, timestampFields, utc } from "./ingest-formats.ts";

/**
 * How ajv checks `format`s: "fast" (ajv-formats' regular expressions) or "full" (its exact checks).
 * In both modes `date-time` and `date` use Tributary's own exact checks (a real calendar day, hours
 * 0–23, a time zone, no leap second): the fast regular expressions let "2026-02-31T29:00:00Z" through,
 * which DuckDB refuses later, when the partition is materialised. `uuid` uses a hand-written check that
 * accepts exactly what ajv-formats' expression accepts, at a fraction of its cost.
 */
export type FormatsMode = "fast" | "full";

/** What a worker needs to validate records of one source: plain data, no functions, no symbols. */
export interface SourceSpec {
  readonly key: string;
  /** The source's JSON Schema, as plain JSON. */
  readonly schema: Record<string, unknown>;
  readonly eventId: string;
  readonly eventTime: string;
  readonly tenant?: string;
  /** The time dimension of the source's partitions, if any. */
  readonly time?: TimePartitions;
  /** The static (tenant) dimension of the source's partitions, if any. */
  readonly static?: StaticPartitions;
  /** How a time key and a static key join in a partition key ("2026-11-01|acme"). */
  readonly separator: string;
  readonly maxRecordBytes: number;
  readonly formats: FormatsMode;
  /** Present for a CDC source: its table, key, row and tenant (ingest-cdc.ts). */
  readonly cdc?: CdcSourceSpec;
  /**
   * The last time partition an event may be in: the one of now + the source's horizon (and never past
   * the partitions' end). Later events are quarantined.
   */
  readonly lastKey?: string;
  /** The horizon as text ("1d"), for reasons. */
  readonly horizon?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Schema validation

type AddFormats = (ajv: Ajv, opts: { mode: FormatsMode; keywords: boolean }) => Ajv;
// ajv-formats is CommonJS with `exports.default`: under NodeNext the default import is the module object.
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ??
  (addFormatsModule as unknown as AddFormats);

/** One compiled validator per schema object, formats mode and error mode: ajv compiles a schema once. */
const compiled = new WeakMap<object, Map<string, ValidateFunction>>();

/**
 * The validator of rows of a schema: events at ingest, and rows a compute function returns. Date-time,
 * date and uuid are checked exactly, as DuckDB will read them. `allErrors`: report every error (ingest
 * quarantines a record with all its reasons), not only the first (enough to fail a compute function).
 */
export function compileRowSchema(schema: object, formats: FormatsMode, allErrors = false): ValidateFunction {
  let byMode = compiled.get(schema);
  if (!byMode) {
    byMode = new Map();
    compiled.set(schema, byMode);
  }
  const mode = allErrors ? `${formats}+all` : formats;
  let validate = byMode.get(mode);
  if (!validate) {
    // strict off: TypeBox schemas carry keywords ajv does not know.
    const ajv = new Ajv({ strict: false, allErrors });
    addFormats(ajv, { mode: formats, keywords: false });
    ajv.addFormat("date-time", { type: "string", validate: (s: string) => isDateTime(s) });
    ajv.addFormat("date", { type: "string", validate: (s: string) => isDate(s) });
    ajv.addFormat("uuid", { type: "string", validate: (s: string) => isUuid(s) });
    validate = ajv.compile(schema);
    byMode.set(mode, validate);
  }
  return validate;
}

/**
 * Every error of a record as one reason: "<instance path> <message>" each (the path "/" for the record
 * itself, naming the property or values involved), joined with "; ", at most MAX_REASONS of them.
 */
export function schemaReason(errors: readonly ErrorObject[]): string {
  const reasons: string[] = [];
  schemaReasons(errors, "", reasons);
  return joinReasons(reasons);
}

// ---------------------------------------------------------------------------------------------------------
// Partitions

function describe(value: unknown): string {
  return value === undefined ? "missing" : JSON.stringify(value);
}

/** An event time as a reason shows it: an epoch-ms time with its instant. Written only for events that fail. */
function shownTime(value: string | number): string {
  return typeof value === "number" ? `${value} (${new Date(value).toISOString()})` : value;
}

/** Maps an event time to its time partition key ("2026-11-01" or "2026-11-01T13") in the partitions' zone. */
class TimeKeys {
  readonly #t: TimePartitions;
  readonly #daily: boolean;
  readonly #utc: boolean;
  readonly #cache = new Map<number, string>();
  /** The last partition an event may be in now (the horizon's), when it comes before the partitions' end. */
  readonly #last: string | undefined;
  readonly #horizon: string;

  constructor(t: TimePartitions, lastKey?: string, horizon = "") {
    this.#t = t;
    this.#daily = t.granularity === "daily";
    this.#utc = t.timezone === "UTC" || t.timezone === "Etc/UTC";
    this.#last = lastKey !== undefined && (t.end === undefined || lastKey < t.end) ? lastKey : undefined;
    this.#horizon = horizon;
  }

  /** The key of an instant (epoch ms), remembered per period. */
  ofInstant(ms: number): string {
    // UTC: one entry per day or hour. Elsewhere per quarter hour, the finest step of any zone's offset.
    const bucket = Math.floor(ms / (this.#utc ? (this.#daily ? 86_400_000 : 3_600_000) : 900_000));
    let key = this.#cache.get(bucket);
    if (key === undefined) {
      key = timeKeyAt(this.#t, ms);
      this.#cache.set(bucket, key);
    }
    return key;
  }

  /** Why the last `of` found no key. */
  reason = "";

  /** The key of an event time (an RFC 3339 string, or epoch ms), or undefined with `reason` set. */
  of(value: unknown, field: string, source: string): string | undefined {
    if (typeof value === "number") {
      if (Number.isSafeInteger(value) && Math.abs(value) <= 8.64e15) {
        return this.#inRange(this.ofInstant(value), value, source);
      }
    } else if (typeof value === "string") {
      let key: string | undefined;
      if (timestampFields(value)) {
        const f = FIELDS;
        if (this.#utc && f[7] === 0) {
          // A UTC timestamp in UTC partitions: the key is its own text (checked above).
          key = this.#daily ? value.slice(0, 10) : `${value.slice(0, 10)}T${value.slice(11, 13)}`;
        } else {
          key = this.ofInstant(utc(f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!, f[6]!) - f[7]! * 60_000);
        }
      } else if (isDate(value)) {
        key = this.#daily ? value : `${value}T00`;
      }
      if (key !== undefined) return this.#inRange(key, value, source);
    }
    this.reason = `event time /${field} must be an RFC 3339 timestamp to choose a partition, not ${describe(value)}`;
    return undefined;
  }

  /** `key` when it is a partition an event may be in now, else undefined with `reason` set. */
  #inRange(key: string, value: string | number, source: string): string | undefined {
    const t = this.#t;
    if (key < t.start) {
      this.reason = `event time ${shownTime(value)} is in partition ${key}, before the first partition of ${source} (${t.start})`;
      return undefined;
    }
    if (this.#last !== undefined && key > this.#last) {
      this.reason = `event time ${shownTime(value)} is in partition ${key}, after the last partition ${source} can have now (${this.#last}, now + its horizon ${this.#horizon})`;
      return undefined;
    }
    if (t.end !== undefined && key > t.end) {
      this.reason = `event time ${shownTime(value)} is in partition ${key}, after the last partition of ${source} (${t.end})`;
      return undefined;
    }
    return key;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lines

/** `Classified.codes`: the line is blank (skipped, not a record). */
export const BLANK = -2;
/** `Classified.codes`: the line is quarantined; its reason is the next of `reasons`. */
export const INVALID = -1;

/**
 * The verdict on every line of a block of NDJSON. Lines end at "\n" (a "\r" before it is dropped); the
 * last line of a block may lack its "\n". A record's bytes are `block[bounds[2i], bounds[2i+1])`.
 */
export interface Classified {
  readonly lines: number;
  readonly bounds: Int32Array;
  /** Per line: BLANK, INVALID or, for a valid record, the index of its partition key in `partitions`. */
  readonly codes: Int32Array;
  /** The partition keys of this block's valid records ("" when the source is unpartitioned). */
  readonly partitions: string[];
  /**
   * Four integers per valid record, in order: its event id when that is a canonical UUID (see
   * `encodeUuid`), else zeros and the id is the next of `ids`.
   */
  readonly keys: Int32Array;
  /** The event ids of valid records that are not canonical UUIDs, in order. */
  readonly ids: string[];
  /** The reason of every quarantined record, in order. */
  readonly reasons: string[];
  /**
   * Valid records landed in more partitions than the one of their code: a truncate of a CDC source whose
   * tenant is a row column empties the table for every tenant, and a delete whose row names no tenant
   * removes its key's row whichever tenant's it is, so each lands in every tenant's partition. Each
   * entry is [line, partition indices], in line order.
   */
  readonly fanout?: [number, number[]][];
  /** Columns the rows of a CDC source had that its declared row does not (a proposed schema change). */
  readonly columns?: ColumnSeen[];
}

/** Whether bytes [start, end) are only spaces, tabs and carriage returns. */
function isBlank(block: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = block[i]!;
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

export function tooLargeReason(maxRecordBytes: number): string {
  return `record larger than ${maxRecordBytes} bytes`;
}

/** Validates the records of one source, line by line. */
export class RecordClassifier {
  readonly #spec: SourceSpec;
  readonly #validate: ValidateFunction;
  readonly #time: TimeKeys | undefined;
  /** The declared tenants, by themselves (partition keys use the declared strings). */
  readonly #tenants: Map<string, string> | undefined;
  readonly #tenantList: string;
  readonly #multi: boolean;
  readonly #tooLarge: string;
  /** Present for a CDC source. */
  readonly #cdc: CdcEvents | undefined;
  /** How reasons name the tenant field: "/tenant_id", or a CDC source's "/after/tenant_id". */
  #tenantField: string;
  readonly #reasons: string[] = [];
  /** The partition key and event id of the record #check last accepted. */
  #key = "";
  #id = "";
  /** The time part of #key. */
  #timeKey = "";
  /** Whether the record #check last accepted lands in every tenant's partition (a truncate, a tenant-less delete). */
  #everyTenant = false;
  /** Whether the record #check last accepted is a `{schema, payload}` envelope (its payload is landed). */
  #payload = false;
  /** Line ends of the block being classified (grown as needed, reused). */
  #ends: Int32Array = new Int32Array(4096);

  constructor(spec: SourceSpec) {
    this.#spec = spec;
    this.#validate = compileRowSchema(spec.schema, spec.formats, true);
    this.#time = spec.time ? new TimeKeys(spec.time, spec.lastKey, spec.horizon) : undefined;
    this.#cdc = spec.cdc
      ? new CdcEvents(spec.cdc, spec.schema, (s) => compileRowSchema(s, spec.formats, true))
      : undefined;
    this.#tenantField = spec.cdc ? `/${(spec.tenant ?? "").replaceAll(".", "/")}` : `/${spec.tenant}`;
    const stat = spec.static;
    this.#tenants = stat ? new Map(stat.keys.map((k) => [k, k])) : undefined;
    this.#tenantList = stat ? stat.keys.join(", ") : "";
    this.#multi = spec.time !== undefined && stat !== undefined;
    this.#tooLarge = tooLargeReason(spec.maxRecordBytes);
  }

  /**
   * Sets #key and #id from the event id, event time and tenant of a record whose schema has been checked,
   * or returns why the record is invalid.
   */
  #place(rawId: unknown, time: unknown, rawTenant: unknown): string | undefined {
    const spec = this.#spec;
    if (typeof rawId === "string" && rawId !== "") {
      if (rawId.includes("\n") || rawId.includes("\r"))
        return `event id /${spec.eventId} contains a line break`;
      this.#id = rawId;
    } else if (typeof rawId === "number" && Number.isSafeInteger(rawId)) {
      this.#id = String(rawId);
    } else {
      return `event id /${spec.eventId} must be a non-empty string or an integer, not ${describe(rawId)}`;
    }
    let key = "";
    if (this.#time) {
      const t = this.#time.of(time, spec.eventTime, spec.key);
      if (t === undefined) return this.#time.reason;
      key = t;
    }
    this.#timeKey = key;
    if (this.#tenants) {
      if (typeof rawTenant !== "string")
        return `tenant ${this.#tenantField} must be a string, not ${describe(rawTenant)}`;
      const tenant = this.#tenants.get(rawTenant);
      if (tenant === undefined) {
        return `tenant ${JSON.stringify(rawTenant)} is not a partition of ${spec.key} (${this.#tenantList})`;
      }
      key = this.#multi ? key + spec.separator + tenant : tenant;
    }
    this.#key = key;
    return undefined;
  }

  /** Why one record's text (UTF-8, not too large) is invalid, or undefined with #key and #id set. */
  #check(text: string): string | undefined {
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (e) {
      // Node 24's V8 adds " (line 1 column N)" to what Node 22's says; a record is one line, and the
      // position says where: the same record gets the same reason, and quarantine the same bytes, on both.
      return `not JSON: ${(e as Error).message.replace(/ \(line \d+ column \d+\)$/, "")}`;
    }
    if (this.#cdc) return this.#checkCdc(record, this.#cdc);
    const validate = this.#validate;
    if (!validate(record)) return schemaReason(validate.errors!);
    const r = record as Record<string, unknown>;
    const spec = this.#spec;
    return this.#place(
      r[spec.eventId],
      r[spec.eventTime],
      spec.tenant === undefined ? undefined : r[spec.tenant],
    );
  }

  /** #check of a CDC source's parsed record. */
  #checkCdc(record: unknown, cdc: CdcEvents): string | undefined {
    let value = record;
    this.#payload = false;
    this.#everyTenant = false;
    if (isSchemaEnvelope(record)) {
      value = record.payload;
      this.#payload = true;
    }
    const reasons = this.#reasons;
    reasons.length = 0;
    if (!cdc.check(value, reasons)) return joinReasons(reasons);
    if (cdc.anyTenant && this.#tenants && this.#spec.cdc!.tenant !== undefined && cdc.tenant == null) {
      // A truncate, or a delete that names no tenant: placed with the first tenant, landed in each.
      this.#everyTenant = true;
      return this.#place(cdc.id, cdc.timeMs, this.#spec.static!.keys[0]);
    }
    this.#tenantField = cdc.tenantPath;
    return this.#place(cdc.id, cdc.timeMs, cdc.tenant);
  }

  /** The verdict on one record's text: its partition key and event id, or why it is invalid. */
  check(text: string): { key: string; id: string } | { reason: string } {
    const reason = this.#check(text);
    return reason === undefined ? { key: this.#key, id: this.#id } : { reason };
  }

  /** Splits a block into lines and judges each one. */
  classify(block: Buffer): Classified {
    const n = block.length;
    // Where each line ends, first: the result arrays are then allocated once.
    let ends = this.#ends;
    let lines = 0;
    for (let at = block.indexOf(10); at >= 0; at = block.indexOf(10, at + 1)) {
      if (lines === ends.length) ends = this.#growEnds();
      ends[lines++] = at;
    }
    if (n > 0 && block[n - 1] !== 10) {
      if (lines === ends.length) ends = this.#growEnds();
      ends[lines++] = n;
    }
    const bounds = new Int32Array(lines * 2);
    const codes = new Int32Array(lines);
    const keys = new Int32Array(lines * 4);
    let valid = 0;
    const partitions: string[] = [];
    const partitionIndex = new Map<string, number>();
    const ids: string[] = [];
    const reasons: string[] = [];
    let fanout: [number, number[]][] | undefined;
    const cdc = this.#cdc;
    const max = this.#spec.maxRecordBytes;
    const utf8 = isUtf8(block);
    // An ASCII block is decoded once; its records are then slices of that string (no copies).
    const text = utf8 && isAscii(block) ? block.toString("latin1") : undefined;
    let start = 0;
    for (let i = 0; i < lines; i++) {
      const nl = ends[i]!;
      let end = nl;
      if (end > start && block[end - 1] === 13) end--;
      bounds[2 * i] = start;
      bounds[2 * i + 1] = end;
      let reason: string | undefined;
      if (end - start > max) {
        reason = this.#tooLarge;
      } else if (block[start] !== 123 && isBlank(block, start, end)) {
        codes[i] = BLANK;
        start = nl + 1;
        continue;
      } else if (!utf8 && !isUtf8(block.subarray(start, end))) {
        reason = "invalid UTF-8";
      } else {
        reason = this.#check(
          text === undefined ? block.toString("utf8", start, end) : text.slice(start, end),
        );
        if (reason === undefined && cdc !== undefined && this.#payload) {
          // What lands of a {schema, payload} envelope is its payload's bytes: raw has one shape.
          const span = payloadSpan(block, start, end);
          if (span === undefined) {
            reason =
              'the {schema, payload} envelope\'s "payload" name is written with escapes; write it plainly';
          } else {
            bounds[2 * i] = span[0];
            bounds[2 * i + 1] = span[1];
          }
        }
      }
      if (reason !== undefined) {
        codes[i] = INVALID;
        reasons.push(reason);
      } else {
        const p = this.#partitionOf(this.#key, partitions, partitionIndex);
        codes[i] = p;
        if (cdc !== undefined) eventUuid(this.#id, keys, valid * 4);
        else if (!encodeUuid(this.#id, keys, valid * 4)) ids.push(this.#id);
        valid++;
        if (cdc !== undefined) {
          cdc.landed(i);
          if (this.#everyTenant) {
            const more: number[] = [];
            const stat = this.#spec.static!;
            for (let t = 1; t < stat.keys.length; t++) {
              const k = this.#multi ? this.#timeKey + this.#spec.separator + stat.keys[t]! : stat.keys[t]!;
              more.push(this.#partitionOf(k, partitions, partitionIndex));
            }
            fanout ??= [];
            fanout.push([i, more]);
          }
        }
      }
      start = nl + 1;
    }
    const columns = cdc?.takeColumns();
    return {
      lines,
      bounds,
      codes,
      partitions,
      keys,
      ids,
      reasons,
      ...(fanout ? { fanout } : {}),
      ...(columns ? { columns } : {}),
    };
  }

  /** The index of partition `key` in this block's `partitions`, added when new. */
  #partitionOf(key: string, partitions: string[], index: Map<string, number>): number {
    let p = index.get(key);
    if (p === undefined) {
      p = partitions.length;
      partitions.push(key);
      index.set(key, p);
    }
    return p;
  }

  #growEnds(): Int32Array {
    const grown = new Int32Array(this.#ends.length * 2);
    grown.set(this.#ends);
    this.#ends = grown;
    return grown;
  }
}
