/**
 * The string formats ingest checks itself, exactly and without regular expressions: RFC 3339 timestamps
 * and dates DuckDB can store, and UUIDs. They read a string or a range of one, so the record scanner
 * checks values in place, without cutting them out of the record's text.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1]!;
}

/** The value of `n` ASCII digits at `at`, or -1 when one of them is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    // Not a digit (NaN past the end too): -1.
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

export function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (y >= 100) return t;
  // Date.UTC maps years 0–99 to 1900–1999.
  const date = new Date(t);
  date.setUTCFullYear(y);
  return date.getTime();
}

/** Scratch for `timestampFields`: year, month, day, hour, minute, second, millisecond, offset minutes. */
export const FIELDS = new Int32Array(8);

/** Reads "YYYY-MM-DD" at `s[o..]` (before `e`) into `FIELDS`; false when it is not a real calendar day. */
function dateFields(s: string, o: number, e: number): boolean {
  if (e - o < 10 || s.charCodeAt(o + 4) !== 45 || s.charCodeAt(o + 7) !== 45) return false;
  const y = digits(s, o, 4);
  const mo = digits(s, o + 5, 2);
  const d = digits(s, o + 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo)) return false;
  FIELDS[0] = y;
  FIELDS[1] = mo;
  FIELDS[2] = d;
  return true;
}

/** Whether `s[o..e)` (all of `s` by default) is a date "YYYY-MM-DD" that exists in the calendar. */
export function isDate(s: string, o = 0, e: number = s.length): boolean {
  return e - o === 10 && dateFields(s, o, e);
}

/**
 * Reads an RFC 3339 timestamp ("2026-11-01T10:15:00.123Z", "2026-11-01 10:15:00+01:00") at `s[o..e)` into
 * `FIELDS`; false when it is not one. The date must exist, hours run 0–23, minutes and seconds 0–59 (no
 * leap second: DuckDB cannot hold one) and a time zone is required: Z, ±HH:MM, ±HHMM or ±HH.
 */
export function timestampFields(s: string, o = 0, e: number = s.length): boolean {
  if (e - o < 20) return false;
  const sep = s.charCodeAt(o + 10);
  // T, t or a space.
  if ((sep !== 84 && sep !== 116 && sep !== 32) || !dateFields(s, o, e)) return false;
  if (s.charCodeAt(o + 13) !== 58 || s.charCodeAt(o + 16) !== 58) return false;
  const h = digits(s, o + 11, 2);
  const mi = digits(s, o + 14, 2);
  const sec = digits(s, o + 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return false;
  let i = o + 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    const from = ++i;
    while (i < e) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (i - from < 3) ms = ms * 10 + c;
      i++;
    }
    if (i === from) return false;
    for (let k = i - from; k < 3; k++) ms *= 10;
  }
  const z = i < e ? s.charCodeAt(i) : -1;
  let offset = 0;
  if (z === 90 || z === 122) {
    if (i + 1 !== e) return false;
  } else if (z === 43 || z === 45) {
    const oh = digits(s, i + 1, 2);
    let om = 0;
    const rest = e - (i + 3);
    if (rest === 3 && s.charCodeAt(i + 3) === 58) om = digits(s, i + 4, 2);
    else if (rest === 2) om = digits(s, i + 3, 2);
    else if (rest !== 0) return false;
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    offset = (z === 43 ? 1 : -1) * (oh * 60 + om);
  } else {
    return false;
  }
  FIELDS[3] = h;
  FIELDS[4] = mi;
  FIELDS[5] = sec;
  FIELDS[6] = ms;
  FIELDS[7] = offset;
  return true;
}

/** The instant of an RFC 3339 timestamp (see `timestampFields`) in epoch milliseconds, or NaN. */
export function parseTimestamp(s: string): number {
  if (!timestampFields(s)) return Number.NaN;
  const f = FIELDS;
  return utc(f[0]!, f[1]!, f[2]!, f[3]!, f[4]!, f[5]!, f[6]!) - f[7]! * 60_000;
}

/** The `date-time` format: an RFC 3339 timestamp DuckDB can store (see `timestampFields`). */
export function isDateTime(s: string, o = 0, e: number = s.length): boolean {
  return timestampFields(s, o, e);
}

/** The value of every UTF-16 code unit as a hex digit (either case), -1 when it is not one. */
const ANY_HEX = new Int8Array(65536).fill(-1);
for (let c = 48; c <= 57; c++) ANY_HEX[c] = c - 48;
for (let c = 97; c <= 102; c++) ANY_HEX[c] = c - 87;
for (let c = 65; c <= 70; c++) ANY_HEX[c] = c - 55;

/** Whether s[from, to) are hex digits. */
function hexRun(s: string, from: number, to: number): boolean {
  let bad = 0;
  for (let i = from; i < to; i++) bad |= ANY_HEX[s.charCodeAt(i)]!;
  return bad >= 0;
}

/**
 * The `uuid` format, accepting exactly what ajv-formats' /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i
 * accepts, without the regular expression (records carry several ids each).
 */
export function isUuid(s: string, o = 0, e: number = s.length): boolean {
  let at = o;
  if (e - o === 45) {
    if (s.slice(o, o + 9).toLowerCase() !== "urn:uuid:") return false;
    at = o + 9;
  } else if (e - o !== 36) {
    return false;
  }
  return (
    s.charCodeAt(at + 8) === 45 &&
    s.charCodeAt(at + 13) === 45 &&
    s.charCodeAt(at + 18) === 45 &&
    s.charCodeAt(at + 23) === 45 &&
    hexRun(s, at, at + 8) &&
    hexRun(s, at + 9, at + 13) &&
    hexRun(s, at + 14, at + 18) &&
    hexRun(s, at + 19, at + 23) &&
    hexRun(s, at + 24, at + 36)
  );
}

/**
 * Writes the 128 bits of a UUID in canonical lower-case text ("0f8fad5b-d9cb-469f-a165-70867728950e")
 * into `out[at..at+3]` and returns true; returns false, writing nothing, for any other string and for
 * the nil UUID (all zero bits mark an empty slot of `IdIndex`). Event ids in this form are deduplicated
 * as four integers instead of strings: less memory and no string hashing.
 */
export function encodeUuid(s: string, out: Int32Array, at: number): boolean {
  if (
    s.length !== 36 ||
    s.charCodeAt(8) !== 45 ||
    s.charCodeAt(13) !== 45 ||
    s.charCodeAt(18) !== 45 ||
    s.charCodeAt(23) !== 45
  ) {
    return false;
  }
  // LOWER_HEX is -1 for anything but 0-9 a-f: `bad` turns negative on the first such character.
  let bad = 0;
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  for (let i = 0; i < 8; i++) {
    const v = LOWER_HEX[s.charCodeAt(i)]!;
    bad |= v;
    w0 = (w0 << 4) | (v & 15);
  }
  for (let i = 9; i < 18; i++) {
    if (i === 13) continue;
    const v = LOWER_HEX[s.charCodeAt(i)]!;
    bad |= v;
    w1 = (w1 << 4) | (v & 15);
  }
  for (let i = 19; i < 28; i++) {
    if (i === 23) continue;
    const v = LOWER_HEX[s.charCodeAt(i)]!;
    bad |= v;
    w2 = (w2 << 4) | (v & 15);
  }
  for (let i = 28; i < 36; i++) {
    const v = LOWER_HEX[s.charCodeAt(i)]!;
    bad |= v;
    w3 = (w3 << 4) | (v & 15);
  }
  if (bad < 0 || (w0 | w1 | w2 | w3) === 0) return false;
  out[at] = w0;
  out[at + 1] = w1;
  out[at + 2] = w2;
  out[at + 3] = w3;
  return true;
}

/** The value of every UTF-16 code unit as a lower-case hex digit, -1 when it is not one. */
const LOWER_HEX = new Int8Array(65536).fill(-1);
for (let c = 48; c <= 57; c++) LOWER_HEX[c] = c - 48;
for (let c = 97; c <= 102; c++) LOWER_HEX[c] = c - 87;
