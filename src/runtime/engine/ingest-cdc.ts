/**
 * Debezium change events at ingest (docs/cdc.md): what one parsed event of a CDC source means. Its
 * envelope and row are checked (every error, not the first), and its event id, event time, operation,
 * primary key, tenant and log position are derived from it:
 *
 *   event id    source.db / position / op / key   position: Postgres lsn/txId, MySQL file/pos/row; a
 *                                                  snapshot's reads share one, hence the key
 *   event time  source.ts_ms                        when the database made the change
 *   tenant      a column of the row (after, or before for a delete) or source.db
 *
 * A value in Kafka Connect's `{schema, payload}` envelope is read as its payload, and only the payload's
 * bytes are landed (see `payloadSpan`), so raw data has one shape whichever converter wrote it.
 *
 * Like the rest of ingest's validation this runs in worker threads: it gets plain data (`CdcSourceSpec`),
 * imports nothing of the kit but types, and allocates no closure per record.
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import type { CdcConnector, CdcTenant } from "../../kit/cdc.ts";

/** A CDC source as a worker receives it: `CdcSpec` with its row schema as plain JSON. */
export interface CdcSourceSpec {
  readonly connector: CdcConnector;
  /** "schema.table" (Postgres) or "database.table" (MySQL). */
  readonly table: string;
  readonly key: readonly string[];
  /** The row's JSON Schema (an object schema). */
  readonly row: Record<string, unknown>;
  readonly tenant?: CdcTenant;
}

/** A column a batch's rows have and the declared row does not: a proposed schema change of the source. */
export interface ColumnSeen {
  readonly column: string;
  /** The JSON types its values had: "string", "integer", "number", "boolean", "null", "object", "array". */
  readonly types: string[];
  /** How many valid rows had it, counted before deduplication (a redelivered row counts again). */
  count: number;
  /** The line, within the block classified, of the first row that had it. */
  readonly line: number;
}

/** The most reasons a quarantined record lists; the rest are counted. */
export const MAX_REASONS = 8;

type Compile = (schema: object) => ValidateFunction;

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  const t = typeof v;
  if (t === "number") return Number.isInteger(v) ? "integer" : "number";
  return t;
}

/**
 * The row schema as ingest checks it: a column the row does not declare is a proposed schema change,
 * never a reason to quarantine, so `additionalProperties` is not applied to the row itself.
 */
function openRow(row: Record<string, unknown>): Record<string, unknown> {
  const { additionalProperties: _, ...rest } = row;
  return rest;
}

/** The row schema with nothing required and every column nullable: what `before` is checked against. */
function partialRow(row: Record<string, unknown>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, s] of Object.entries((row.properties ?? {}) as Record<string, unknown>)) {
    properties[name] = { anyOf: [s, { type: "null" }] };
  }
  const { required: _, ...rest } = openRow(row);
  return { ...rest, properties };
}

/** The envelope schema with `before` and `after` only required to be objects or null (rows are checked on their own). */
function looseEnvelope(envelope: Record<string, unknown>): Record<string, unknown> {
  const properties = { ...(envelope.properties as Record<string, unknown>) };
  properties.before = { type: ["object", "null"] };
  properties.after = { type: ["object", "null"] };
  return { ...envelope, properties };
}

/**
 * Reasons from ajv errors (of a validator compiled with allErrors), each "<path> <message>", appended to
 * `out` in the errors' order. An `anyOf` (a nullable column, `Type.Union([row, Type.Null()])`) gives one
 * reason: the errors inside the branch the value was meant for ("/after/weight must be number"), or,
 * when it matched no branch's type, what it should have been ("/after/weight must be number or null").
 */
export function schemaReasons(errors: readonly ErrorObject[], prefix: string, out: string[]): void {
  const found: string[] = [];
  let i = errors.length - 1;
  while (i >= 0) {
    const e = errors[i]!;
    if (e.keyword !== "anyOf") {
      found.push(oneReason(e, prefix));
      i--;
      continue;
    }
    // Its branches' errors come just before it.
    const under = `${e.schemaPath}/`;
    let k = i;
    while (k > 0 && errors[k - 1]!.schemaPath.startsWith(under)) k--;
    const branches = errors.slice(k, i);
    const branchOf = (b: ErrorObject) => b.schemaPath.slice(under.length).split("/")[0]!;
    // A branch the value was meant for fails for more than its type (a missing column, a bad value).
    const meant = new Set<string>();
    for (const b of branches) {
      const typeOnly = (b.keyword === "type" || b.keyword === "const") && b.instancePath === e.instancePath;
      if (!typeOnly) meant.add(branchOf(b));
    }
    if (meant.size > 0) {
      const inside = branches.filter((b) => meant.has(branchOf(b)));
      const sub: string[] = [];
      schemaReasons(inside, prefix, sub);
      for (let j = sub.length - 1; j >= 0; j--) found.push(sub[j]!);
    } else {
      const expected: string[] = [];
      for (const b of branches) {
        if (b.keyword === "type") expected.push(String((b.params as { type: unknown }).type));
        else if (b.keyword === "const")
          expected.push(JSON.stringify((b.params as { allowedValue: unknown }).allowedValue));
      }
      const path = prefix + e.instancePath || "/";
      found.push(
        expected.length > 0
          ? `${path} must be ${expected.join(" or ")}`
          : `${path} ${e.message ?? "fails anyOf"}`,
      );
    }
    i = k - 1;
  }
  for (let j = found.length - 1; j >= 0; j--) out.push(found[j]!);
}

function oneReason(e: ErrorObject, prefix: string): string {
  const path = prefix + e.instancePath || "/";
  const type = (e.params as { type?: unknown }).type;
  if (e.keyword === "type" && Array.isArray(type)) return `${path} must be ${type.join(" or ")}`;
  let reason = `${path} ${e.message ?? `fails ${e.keyword}`}`;
  if (e.keyword === "additionalProperties") {
    reason += `: ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
  } else if (e.keyword === "enum") {
    reason += `: ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return reason;
}

/** The reasons as one line: the first MAX_REASONS, then how many more. */
export function joinReasons(reasons: readonly string[]): string {
  if (reasons.length <= MAX_REASONS) return reasons.join("; ");
  return `${reasons.slice(0, MAX_REASONS).join("; ")}; … and ${reasons.length - MAX_REASONS} more`;
}

const OP_C = "c";
const OP_U = "u";
const OP_D = "d";
const OP_R = "r";
const OP_T = "t";

/** Judges parsed Debezium events of one source; the fields below describe the last event it accepted. */
export class CdcEvents {
  readonly #envelope: ValidateFunction;
  readonly #row: ValidateFunction;
  readonly #before: ValidateFunction;
  readonly #mysql: boolean;
  readonly #key: readonly string[];
  readonly #columns: ReadonlySet<string>;
  readonly #tenantColumn: string | undefined;
  readonly #tenantFromDb: boolean;
  /** The declared table's two parts; the first is not compared when each tenant has a database of its own. */
  readonly #schemaOrDb: string | undefined;
  readonly #table: string;
  readonly #tableName: string;
  /** New columns of this block's rows, by name (reset by `takeColumns`). */
  #seen = new Map<string, ColumnSeen>();

  /** The event id. */
  id = "";
  /** The event time, epoch ms. */
  timeMs = 0;
  /** The tenant value (undefined when the source has none, or for a truncate of a row-column tenant). */
  tenant: unknown;
  /** Where the tenant was read, for reasons: "/after/tenant_id", "/before/tenant_id" or "/source/db". */
  tenantPath = "";
  /**
   * Whether the event names no tenant and applies to every tenant's rows alike: a truncate, or a delete
   * whose `before` holds only the key (a Postgres table with REPLICA IDENTITY DEFAULT), which deletes
   * the one row of that key, whichever tenant's it is.
   */
  anyTenant = false;
  /** The three places a tenant is read from. */
  readonly #tenantPaths: { readonly after: string; readonly before: string };

  constructor(cdc: CdcSourceSpec, envelope: Record<string, unknown>, compile: Compile) {
    this.#envelope = compile(looseEnvelope(envelope));
    this.#row = compile(openRow(cdc.row));
    this.#before = compile(partialRow(cdc.row));
    this.#mysql = cdc.connector === "mysql";
    this.#key = cdc.key;
    this.#columns = new Set(Object.keys((cdc.row.properties ?? {}) as object));
    this.#tenantColumn = cdc.tenant && "column" in cdc.tenant ? cdc.tenant.column : undefined;
    this.#tenantFromDb = cdc.tenant !== undefined && "database" in cdc.tenant;
    const dot = cdc.table.indexOf(".");
    this.#schemaOrDb = this.#tenantFromDb && this.#mysql ? undefined : cdc.table.slice(0, dot);
    this.#table = cdc.table;
    this.#tableName = cdc.table.slice(dot + 1);
    const column = this.#tenantColumn;
    this.#tenantPaths = this.#tenantFromDb
      ? { after: "/source/db", before: "/source/db" }
      : { after: `/after/${column}`, before: `/before/${column}` };
  }

  /**
   * Judges one parsed value (schema-less, or the payload of a `{schema, payload}` envelope): true with
   * the fields set, or false with its reasons appended to `reasons`.
   */
  check(value: unknown, reasons: string[]): boolean {
    const envelope = this.#envelope;
    if (!envelope(value)) {
      schemaReasons(envelope.errors!, "", reasons);
      return false;
    }
    const e = value as {
      before?: Record<string, unknown> | null;
      after?: Record<string, unknown> | null;
      source: Record<string, unknown>;
      op: string;
    };
    const source = e.source;
    const op = e.op;
    const before = e.before ?? null;
    const after = e.after ?? null;
    let row: Record<string, unknown> | null = null;
    if (op === OP_C || op === OP_U || op === OP_R) {
      if (after === null) {
        reasons.push(`/after must be an object for op "${op}" (the row after the change)`);
      } else {
        if (!this.#row(after)) schemaReasons(this.#row.errors!, "/after", reasons);
        row = after;
      }
      if (before !== null && !this.#before(before)) schemaReasons(this.#before.errors!, "/before", reasons);
    } else if (op === OP_D) {
      if (before === null) {
        reasons.push('/before must be an object for op "d" (the deleted row, or its key at least)');
      } else {
        if (!this.#before(before)) schemaReasons(this.#before.errors!, "/before", reasons);
        row = before;
      }
    }
    const schemaOrDb = this.#schemaOrDb;
    const first = this.#mysql ? source.db : source.schema;
    if (source.table !== this.#tableName || (schemaOrDb !== undefined && first !== schemaOrDb)) {
      reasons.push(
        `the event is of table ${String(first)}.${String(source.table)}, not of ${schemaOrDb === undefined ? `<database>.${this.#tableName}` : this.#table}`,
      );
    }
    let position: string;
    if (this.#mysql) {
      const file = source.file as string;
      const last = file.charCodeAt(file.length - 1);
      if (!(last >= 48 && last <= 57)) {
        reasons.push(
          `/source/file ${JSON.stringify(file)} must end with the binlog file's sequence number, which orders changes`,
        );
      }
      position = `${file}/${source.pos as number}/${source.row as number}`;
    } else {
      const lsn = source.lsn as number;
      if (!Number.isSafeInteger(lsn))
        reasons.push(`/source/lsn ${lsn} is beyond 2^53, which ingest cannot order`);
      const tx = source.txId;
      position = `${lsn}/${tx === null || tx === undefined ? "" : (tx as number)}`;
    }
    let key = "";
    if (row !== null) {
      const keys = this.#key;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const v = row[k];
        let text: string;
        if (typeof v === "number") text = String(v);
        else if (typeof v === "string") {
          // One string key is itself (a line break would end the id); several are quoted, so "a,b" + "c"
          // and "a" + "b,c" stay apart.
          text =
            keys.length === 1 && v.charCodeAt(0) !== 34 && !v.includes("\n") && !v.includes("\r")
              ? v
              : JSON.stringify(v);
        } else if (typeof v === "boolean") text = v ? "true" : "false";
        else {
          // `after` has its key (the row schema requires it); a delete's `before` may have only the key.
          if (op === OP_D) reasons.push(`/before/${k} is required: it says which row was deleted`);
          continue;
        }
        key = i === 0 ? text : `${key},${text}`;
      }
    }
    if (reasons.length > 0) return false;
    this.id = `${source.db as string}/${position}/${op}/${key}`;
    this.timeMs = source.ts_ms as number;
    const column = this.#tenantColumn;
    const tenant = this.#tenantFromDb
      ? source.db
      : column !== undefined && row !== null
        ? row[column]
        : undefined;
    this.tenant = tenant;
    this.tenantPath = op === OP_D ? this.#tenantPaths.before : this.#tenantPaths.after;
    this.anyTenant = op === OP_T || (op === OP_D && (tenant === undefined || tenant === null));
    this.#after = op === OP_D ? null : after;
    return true;
  }

  /** The row of the event `check` last accepted, for `landed`. */
  #after: Record<string, unknown> | null = null;

  /**
   * The event `check` last accepted is valid (its partition too): records the columns of its row that
   * the declared row does not have, with `line` as where they were first seen.
   */
  landed(line: number): void {
    const after = this.#after;
    if (after === null) return;
    const columns = this.#columns;
    for (const name in after) {
      if (columns.has(name)) continue;
      const v = after[name];
      let seen = this.#seen.get(name);
      if (seen === undefined) {
        seen = { column: name, types: [], count: 0, line };
        this.#seen.set(name, seen);
      }
      seen.count++;
      const t = jsonType(v);
      if (!seen.types.includes(t)) seen.types.push(t);
    }
  }

  /** The new columns seen since the last call, and forgets them. */
  takeColumns(): ColumnSeen[] | undefined {
    if (this.#seen.size === 0) return undefined;
    const out = [...this.#seen.values()];
    this.#seen = new Map();
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The {schema, payload} envelope

/** Whether a parsed value is Kafka Connect's `{schema, payload}` envelope rather than a change event. */
export function isSchemaEnvelope(value: unknown): value is { schema: unknown; payload: unknown } {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.op === undefined && "payload" in v && "schema" in v;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** Index just past the JSON string starting at `at` (a quote), or -1. */
function skipString(b: Uint8Array, at: number, end: number): number {
  for (let i = at + 1; i < end; i++) {
    const c = b[i]!;
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return -1;
}

function skipSpace(b: Uint8Array, at: number, end: number): number {
  let i = at;
  while (i < end && (b[i] === 32 || b[i] === 9 || b[i] === 10 || b[i] === 13)) i++;
  return i;
}

/** Index just past the JSON value starting at `at`, for a value JSON.parse has accepted. */
function skipValue(b: Uint8Array, at: number, end: number): number {
  const c = b[at]!;
  if (c === QUOTE) return skipString(b, at, end);
  if (c !== 123 && c !== 91) {
    let i = at;
    while (
      i < end &&
      b[i] !== 44 &&
      b[i] !== 125 &&
      b[i] !== 93 &&
      b[i] !== 32 &&
      b[i] !== 9 &&
      b[i] !== 13 &&
      b[i] !== 10
    )
      i++;
    return i;
  }
  let depth = 0;
  for (let i = at; i < end; i++) {
    const d = b[i]!;
    if (d === QUOTE) {
      i = skipString(b, i, end) - 1;
      if (i < 0) return -1;
    } else if (d === 123 || d === 91) depth++;
    else if (d === 125 || d === 93) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

const PAYLOAD = Buffer.from('"payload"');

/**
 * The bytes [start, end) of the top-level `payload` member's value in the JSON object at bytes
 * [from, to) of `b` (which JSON.parse accepted), or undefined when its name is written with escapes.
 */
export function payloadSpan(b: Uint8Array, from: number, to: number): [number, number] | undefined {
  let i = skipSpace(b, from, to) + 1; // past "{"
  for (;;) {
    i = skipSpace(b, i, to);
    if (i >= to || b[i] !== QUOTE) return undefined;
    const nameEnd = skipString(b, i, to);
    if (nameEnd < 0) return undefined;
    let isPayload = nameEnd - i === PAYLOAD.length;
    for (let j = 0; isPayload && j < PAYLOAD.length; j++) isPayload = b[i + j] === PAYLOAD[j];
    i = skipSpace(b, nameEnd, to) + 1; // past ":"
    i = skipSpace(b, i, to);
    const valueEnd = skipValue(b, i, to);
    if (valueEnd < 0) return undefined;
    if (isPayload) return [i, valueEnd];
    i = skipSpace(b, valueEnd, to);
    if (b[i] !== 44) return undefined; // no "," : the object ended without a payload
    i++;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Event ids

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

/** Code units i and i + 1 of `text` (of length n) as one little-endian word; past the end reads as 0. */
function word(text: string, n: number, i: number): number {
  return (i < n ? text.charCodeAt(i) : 0) | ((i + 1 < n ? text.charCodeAt(i + 1) : 0) << 16);
}

function fmix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x;
}

/**
 * A CDC event's id as a UUID (version 8, RFC 9562's layout for ids of one's own making): the 128-bit
 * MurmurHash3 (x86, 128) of its text (db/position/op/key, two UTF-16 code units a word), written as four
 * integers into `out[at..at+3]` as `encodeUuid` writes a UUID. Ingest deduplicates UUIDs in 16 bytes
 * each (ingest-ids.ts) where a string would take a hundred; at 2^122 values, two changes of a table
 * sharing one is not a thing that happens.
 */
export function eventUuid(text: string, out: Int32Array, at: number): void {
  const n = text.length;
  let h1 = 0x74726962; // "trib"
  let h2 = h1;
  let h3 = h1;
  let h4 = h1;
  const blocks = n >>> 3; // eight code units (16 bytes) a block
  for (let b = 0; b < blocks; b++) {
    const i = b << 3;
    let k1 = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    let k2 = text.charCodeAt(i + 2) | (text.charCodeAt(i + 3) << 16);
    let k3 = text.charCodeAt(i + 4) | (text.charCodeAt(i + 5) << 16);
    let k4 = text.charCodeAt(i + 6) | (text.charCodeAt(i + 7) << 16);
    k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
    h1 ^= k1;
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
    h2 ^= k2;
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
    h3 ^= k3;
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
    h4 ^= k4;
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  const rest = n - (blocks << 3);
  if (rest > 0) {
    const i = blocks << 3;
    // The tail: the words it has, each mixed into its lane (a missing code unit reads as 0).
    if (rest > 6) h4 ^= Math.imul(rotl(Math.imul(word(text, n, i + 6), C4), 18), C1);
    if (rest > 4) h3 ^= Math.imul(rotl(Math.imul(word(text, n, i + 4), C3), 17), C4);
    if (rest > 2) h2 ^= Math.imul(rotl(Math.imul(word(text, n, i + 2), C2), 16), C3);
    h1 ^= Math.imul(rotl(Math.imul(word(text, n, i), C1), 15), C2);
  }
  const bytes = n * 2;
  h1 ^= bytes;
  h2 ^= bytes;
  h3 ^= bytes;
  h4 ^= bytes;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  out[at] = h1;
  out[at + 1] = (h2 & ~0xf000) | 0x8000; // version 8
  out[at + 2] = (h3 & 0x3fffffff) | 0x80000000; // variant 10
  out[at + 3] = h4;
}
