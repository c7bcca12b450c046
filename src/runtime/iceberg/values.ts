/**
 * Single values as Iceberg keeps them in manifests (bounds, partition tuples): DuckDB's text rendering
 * of a statistic parsed back, Iceberg's binary single-value serialization (spec, Appendix D), and the
 * partition transforms day and hour.
 *
 *   long         "123"                                  8-byte little-endian
 *   double       shortest round trip, "inf", "-inf"     8-byte little-endian IEEE 754; a zero lower bound
 *                                                       is written -0.0 and a zero upper bound +0.0
 *   date         "2026-11-01"                           4-byte little-endian days from 1970-01-01
 *   timestamptz  "2026-11-01 10:00:00.123456+00"        8-byte little-endian µs from the epoch (DuckDB
 *                                                       renders these statistics in UTC whatever the
 *                                                       session's time zone)
 *   string       the text                               UTF-8, truncated to 16 code points (Iceberg's
 *                                                       default metrics mode); the upper bound's last
 *                                                       code point is then incremented
 *   boolean      "true" / "false"                       one byte
 */
import type { IcebergPrimitive } from "../../contract/table-schema.ts";

/** A parsed value: days (date) as a number, µs (timestamptz) and longs as bigints. */
export type Value = bigint | number | string | boolean;

const TIMESTAMP =
  /^(-?\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?)?$/;
const DATE = /^(-?\d{4,})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** Days from 1970-01-01 of a calendar date (proleptic Gregorian, years 0–99 included). */
function epochDay(y: number, m: number, d: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d);
  return Math.floor(t.getTime() / MS_PER_DAY);
}

/** "2026-11-01" as days from the epoch. */
export function parseDate(text: string): number | undefined {
  const m = DATE.exec(text);
  return m ? epochDay(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
}

/** "2026-11-01 10:00:00.5+01" as µs from the epoch. */
export function parseTimestampMicros(text: string): bigint | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const days = BigInt(epochDay(Number(m[1]), Number(m[2]), Number(m[3])));
  const seconds = days * 86_400n + BigInt(Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]));
  const fraction = BigInt((m[7] ?? "").padEnd(6, "0") || "0");
  const offset = m[8]
    ? (m[8] === "-" ? -1n : 1n) * BigInt(Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60)
    : 0n;
  return (seconds - offset) * 1_000_000n + fraction;
}

/** A DuckDB statistic's text as a value of an Iceberg type; undefined when it cannot be read. */
export function parseStatistic(type: IcebergPrimitive, text: string): Value | undefined {
  switch (type) {
    case "long":
      return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
    case "double": {
      const n = text === "inf" ? Infinity : text === "-inf" ? -Infinity : Number(text);
      return Number.isNaN(n) ? undefined : n;
    }
    case "date":
      return parseDate(text);
    case "timestamptz":
      return parseTimestampMicros(text);
    case "string":
      return text;
    case "boolean":
      return text === "true" ? true : text === "false" ? false : undefined;
  }
}

const TRUNCATE = 16;

function incremented(codePoint: number): number | undefined {
  const n = codePoint + 1;
  if (n === 0xd800) return 0xe000; // past the surrogates
  return n > 0x10ffff ? undefined : n;
}

/**
 * Iceberg's binary serialization of a value; `bound` truncates strings (and increments an upper bound)
 * and signs zeros. Undefined when no upper bound of that length exists.
 */
export function serialize(
  type: IcebergPrimitive | "int",
  value: Value,
  bound?: "lower" | "upper",
): Buffer | undefined {
  switch (type) {
    case "int":
    case "date": {
      const b = Buffer.alloc(4);
      b.writeInt32LE(Number(value));
      return b;
    }
    case "long":
    case "timestamptz": {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(value as bigint | number));
      return b;
    }
    case "double": {
      let v = value as number;
      if (v === 0) v = bound === "lower" ? -0 : bound === "upper" ? 0 : v;
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      return b;
    }
    case "boolean":
      return Buffer.from([value ? 1 : 0]);
    case "string": {
      const points = Array.from(value as string);
      if (!bound || points.length <= TRUNCATE) return Buffer.from(value as string, "utf8");
      const head = points.slice(0, TRUNCATE);
      if (bound === "lower") return Buffer.from(head.join(""), "utf8");
      for (let i = head.length - 1; i >= 0; i--) {
        const next = incremented(head[i]!.codePointAt(0)!);
        if (next !== undefined)
          return Buffer.from(head.slice(0, i).join("") + String.fromCodePoint(next), "utf8");
      }
      return undefined;
    }
  }
}

/** A serialized int, date or string read back (what partition summaries hold). */
export function deserialize(type: IcebergPrimitive | "int", b: Buffer): Value | undefined {
  switch (type) {
    case "int":
    case "date":
      return b.readInt32LE();
    case "string":
      return b.toString("utf8");
    default:
      return undefined;
  }
}

const DAY_US = 86_400_000_000n;
const HOUR_US = 3_600_000_000n;

/** Floor division of µs by a unit. */
function floorDiv(us: bigint, unit: bigint): number {
  const q = us / unit;
  return Number(us < 0n && q * unit !== us ? q - 1n : q);
}

/** Iceberg's `day` (days from the epoch) or `hour` (hours from the epoch) of a date or timestamp. */
export function timeTransform(
  transform: "day" | "hour",
  type: IcebergPrimitive,
  v: Value,
): number | undefined {
  if (type === "date") return transform === "day" ? Number(v) : undefined;
  if (type !== "timestamptz") return undefined;
  return floorDiv(BigInt(v as bigint), transform === "day" ? DAY_US : HOUR_US);
}

/** A Tributary time key ("2026-11-01", "2026-11-01T13") as the transform's value. */
export function timeKeyValue(transform: "day" | "hour", key: string): number | undefined {
  const day = parseDate(key.slice(0, 10));
  if (day === undefined) return undefined;
  if (transform === "day") return day;
  const hour = /T(\d{2})$/.exec(key);
  return hour ? day * 24 + Number(hour[1]) : undefined;
}
