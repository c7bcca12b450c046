import { DeclarationError } from "./errors.ts";
import { assertKey, assertPartitionValue } from "./keys.ts";
import { isTimeZone } from "./schedule.ts";

/** One partition per day ("2026-11-27") or per hour ("2026-11-27T13"), from `start`, in `timezone`. */
export interface TimePartitions {
  readonly kind: "time";
  readonly granularity: "daily" | "hourly";
  /** First partition key. */
  readonly start: string;
  /** Last partition key, inclusive; open-ended (up to now) when absent. */
  readonly end?: string;
  readonly timezone: string;
}

/** A fixed list of keys along a named dimension, e.g. tenants. */
export interface StaticPartitions {
  readonly kind: "static";
  /** The dimension's name, e.g. "tenant". */
  readonly dimension: string;
  readonly keys: readonly string[];
}

/** Two dimensions, time × static; a key is "2026-11-27|acme". */
export interface MultiPartitions {
  readonly kind: "multi";
  readonly time: TimePartitions;
  readonly static: StaticPartitions;
}

export type Partitions = TimePartitions | StaticPartitions | MultiPartitions;

/** How a consumer's partition maps to the partitions it reads of one upstream. */
export type PartitionMapping =
  /** The same key (the default when both sides are partitioned alike). */
  | { readonly kind: "identity" }
  /** The last `size` time partitions up to and including the consumer's (the static key, if any, kept). */
  | { readonly kind: "window"; readonly size: number }
  /** Every partition of the upstream (the default for an unpartitioned consumer). */
  | { readonly kind: "all" }
  /** Every time partition with the consumer's static key: a per-tenant asset over day × tenant data. */
  | { readonly kind: "all_time" }
  /** Every static key for the consumer's time key: a daily asset over day × tenant data. */
  | { readonly kind: "all_static" };

export const MULTI_SEPARATOR = "|";

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const HOUR = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})$/;

function timeKeyMs(granularity: "daily" | "hourly", key: string): number | undefined {
  const m = (granularity === "daily" ? DAY : HOUR).exec(key);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0));
  // Reject keys like 2026-02-30 that Date.UTC would roll over.
  return formatTimeKey(granularity, ms) === key ? ms : undefined;
}

function formatTimeKey(granularity: "daily" | "hourly", ms: number): string {
  const iso = new Date(ms).toISOString();
  return granularity === "daily" ? iso.slice(0, 10) : iso.slice(0, 13);
}

function step(granularity: "daily" | "hourly"): number {
  return granularity === "daily" ? 86_400_000 : 3_600_000;
}

function timePartitions(
  granularity: "daily" | "hourly",
  opts: { start: string; end?: string; timezone?: string },
): TimePartitions {
  const example = granularity === "daily" ? "2026-01-31" : "2026-01-31T00";
  for (const [name, value] of [
    ["start", opts.start],
    ["end", opts.end],
  ] as const) {
    if (value !== undefined && timeKeyMs(granularity, value) === undefined) {
      throw new DeclarationError(
        `${granularity} partitions: ${name} ${JSON.stringify(value)} is not a ${granularity} key like "${example}".`,
        [],
      );
    }
  }
  if (opts.end !== undefined && opts.end < opts.start) {
    throw new DeclarationError(
      `${granularity} partitions: end "${opts.end}" is before start "${opts.start}".`,
      [],
    );
  }
  const timezone = opts.timezone ?? "UTC";
  if (!isTimeZone(timezone)) {
    throw new DeclarationError(
      `${granularity} partitions: time zone ${JSON.stringify(timezone)} is not an IANA time zone (e.g. "UTC", "Europe/Berlin").`,
      [],
    );
  }
  return Object.freeze({ kind: "time", granularity, start: opts.start, end: opts.end, timezone });
}

export function daily(opts: { start: string; end?: string; timezone?: string }): TimePartitions {
  return timePartitions("daily", opts);
}

export function hourly(opts: { start: string; end?: string; timezone?: string }): TimePartitions {
  return timePartitions("hourly", opts);
}

export function staticPartitions(dimension: string, keys: readonly string[]): StaticPartitions {
  assertKey(dimension, "partition dimension");
  if (keys.length === 0) {
    throw new DeclarationError(`static partitions "${dimension}": declare at least one key.`, []);
  }
  const seen = new Set<string>();
  for (const key of keys) {
    assertPartitionValue(key, `static partitions "${dimension}"`);
    if (seen.has(key)) {
      throw new DeclarationError(`static partitions "${dimension}": key "${key}" is listed twice.`, []);
    }
    seen.add(key);
  }
  return Object.freeze({ kind: "static", dimension, keys: Object.freeze([...keys]) });
}

export function multiPartitions(time: TimePartitions, staticDim: StaticPartitions): MultiPartitions {
  return Object.freeze({ kind: "multi", time, static: staticDim });
}

export const mapping = {
  identity: (): PartitionMapping => ({ kind: "identity" }),
  window: (size: number): PartitionMapping => ({ kind: "window", size }),
  all: (): PartitionMapping => ({ kind: "all" }),
  allTime: (): PartitionMapping => ({ kind: "all_time" }),
  allStatic: (): PartitionMapping => ({ kind: "all_static" }),
} as const;

export function timeDimension(p: Partitions | undefined): TimePartitions | undefined {
  return p?.kind === "time" ? p : p?.kind === "multi" ? p.time : undefined;
}

export function staticDimension(p: Partitions | undefined): StaticPartitions | undefined {
  return p?.kind === "static" ? p : p?.kind === "multi" ? p.static : undefined;
}

/** A short human description: "daily from 2026-01-01 (UTC) × tenant [acme, globex]". */
export function describePartitions(p: Partitions | undefined): string {
  if (!p) return "unpartitioned";
  const time = (t: TimePartitions) =>
    `${t.granularity} from ${t.start}${t.end ? ` to ${t.end}` : ""}${t.timezone === "UTC" ? "" : ` (${t.timezone})`}`;
  const stat = (s: StaticPartitions) => `${s.dimension} [${s.keys.join(", ")}]`;
  if (p.kind === "time") return time(p);
  if (p.kind === "static") return stat(p);
  return `${time(p.time)} × ${stat(p.static)}`;
}

export function describeMapping(m: PartitionMapping): string {
  switch (m.kind) {
    case "window":
      return `window(${m.size})`;
    case "all_time":
      return "allTime()";
    case "all_static":
      return "allStatic()";
    default:
      return `${m.kind}()`;
  }
}

/** Default mapping from `upstream` to `consumer` when the dependency declares none, or undefined if it must be explicit. */
export function defaultMapping(
  upstream: Partitions | undefined,
  consumer: Partitions | undefined,
): PartitionMapping | undefined {
  if (!upstream) return { kind: "identity" };
  if (!consumer) return { kind: "all" };
  if (sameShape(upstream, consumer) || projects(upstream, consumer)) return { kind: "identity" };
  return undefined;
}

/** Whether the upstream has one dimension of a two-dimensional consumer (identity then keeps that dimension). */
function projects(upstream: Partitions, consumer: Partitions): boolean {
  return consumer.kind === "multi" && upstream.kind !== "multi";
}

function sameShape(a: Partitions, b: Partitions): boolean {
  if (a.kind !== b.kind) return false;
  const ta = timeDimension(a);
  const tb = timeDimension(b);
  if (ta && tb && ta.granularity !== tb.granularity) return false;
  const sa = staticDimension(a);
  const sb = staticDimension(b);
  return !sa || !sb || sa.dimension === sb.dimension;
}

function timeCompatible(up: TimePartitions, down: TimePartitions): string | undefined {
  if (up.granularity !== down.granularity) {
    return `the upstream is ${up.granularity} and the consumer ${down.granularity}`;
  }
  if (up.timezone !== down.timezone) {
    return `the upstream's partitions are in ${up.timezone} and the consumer's in ${down.timezone}`;
  }
  if (up.start > down.start) {
    return `the upstream starts at ${up.start}, after the consumer's first partition ${down.start}`;
  }
  if (up.end !== undefined && (down.end === undefined || up.end < down.end)) {
    return `the upstream ends at ${up.end}, before the consumer's last partition ${down.end ?? "(open-ended)"}`;
  }
  return undefined;
}

function staticCompatible(up: StaticPartitions, down: StaticPartitions): string | undefined {
  if (up.dimension !== down.dimension) {
    return `the upstream's static dimension is "${up.dimension}" and the consumer's "${down.dimension}"`;
  }
  const have = new Set(up.keys);
  const missing = down.keys.filter((k) => !have.has(k));
  if (missing.length > 0) {
    return `the upstream has no ${up.dimension} partition${missing.length === 1 ? "" : "s"} ${missing.map((k) => `"${k}"`).join(", ")}`;
  }
  return undefined;
}

/**
 * Why `mapping` cannot give every consumer partition the upstream partitions it needs, or undefined
 * when it can. The message completes "…cannot be satisfied: <reason>".
 */
export function mappingProblem(
  upstream: Partitions | undefined,
  consumer: Partitions | undefined,
  m: PartitionMapping,
): string | undefined {
  const upTime = timeDimension(upstream);
  const upStatic = staticDimension(upstream);
  const downTime = timeDimension(consumer);
  const downStatic = staticDimension(consumer);
  switch (m.kind) {
    case "all":
      return undefined;
    case "identity": {
      if (!upstream) return undefined;
      if (!consumer)
        return "an unpartitioned consumer cannot read one partition of a partitioned upstream; use all()";
      if (projects(upstream, consumer)) {
        const multi = consumer as MultiPartitions;
        return upstream.kind === "time"
          ? timeCompatible(upstream, multi.time)
          : staticCompatible(upstream as StaticPartitions, multi.static);
      }
      if (upstream.kind !== consumer.kind) {
        return `the upstream is ${describePartitions(upstream)} and the consumer ${describePartitions(consumer)}`;
      }
      if (upTime && downTime) {
        const p = timeCompatible(upTime, downTime);
        if (p) return p;
      }
      if (upStatic && downStatic) return staticCompatible(upStatic, downStatic);
      return undefined;
    }
    case "window": {
      if (!Number.isInteger(m.size) || m.size < 1)
        return `window size must be a whole number of at least 1, not ${m.size}`;
      if (!upTime || !downTime) return "window() needs time partitions on both the upstream and the consumer";
      if (upTime.granularity !== downTime.granularity) {
        return `the upstream is ${upTime.granularity} and the consumer ${downTime.granularity}`;
      }
      if (upTime.timezone !== downTime.timezone) {
        return `the upstream's partitions are in ${upTime.timezone} and the consumer's in ${downTime.timezone}`;
      }
      if (upStatic && !downStatic)
        return "the upstream also has a static dimension the consumer lacks; read it with allStatic() or partition the consumer alike";
      if (downStatic && !upStatic) return "the consumer has a static dimension the upstream lacks";
      if (upStatic && downStatic) return staticCompatible(upStatic, downStatic);
      return undefined;
    }
    case "all_time": {
      if (!upTime) return "allTime() needs a time dimension on the upstream";
      if (!downStatic || downTime)
        return "allTime() needs a consumer partitioned only by a static dimension (e.g. tenant)";
      if (!upStatic) return "allTime() needs an upstream partitioned by time × a static dimension";
      return staticCompatible(upStatic, downStatic);
    }
    case "all_static": {
      if (!upStatic) return "allStatic() needs a static dimension on the upstream";
      if (!downTime || downStatic) return "allStatic() needs a consumer partitioned only by time";
      if (!upTime) return "allStatic() needs an upstream partitioned by time × a static dimension";
      return timeCompatible(upTime, downTime);
    }
  }
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** The key of the period ("2026-11-27" or "2026-11-27T13") holding instant `ms`, in the partitions' time zone. */
export function timeKeyAt(t: Pick<TimePartitions, "granularity" | "timezone">, ms: number): string {
  if (t.timezone === "UTC" || t.timezone === "Etc/UTC")
    return formatTimeKey(t.granularity, ms - (ms % step(t.granularity)));
  let format = zoneFormats.get(t.timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone: t.timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      hourCycle: "h23",
    });
    zoneFormats.set(t.timezone, format);
  }
  const parts = format.formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  const day = `${get("year")}-${get("month")}-${get("day")}`;
  return t.granularity === "daily" ? day : `${day}T${get("hour")}`;
}

/**
 * The key of the last complete period at `now` in the partitions' time zone: yesterday for daily,
 * the previous hour for hourly. Open-ended partitions run up to it.
 */
export function lastCompleteKey(t: TimePartitions, now: Date = new Date()): string {
  return shiftTimeKey(t.granularity, timeKeyAt(t, now.getTime()), -1);
}

/** Every key of a time dimension from `from` to `to` inclusive (defaults: its start, and its end or the last complete period). */
export function timeKeys(t: TimePartitions, from = t.start, to = t.end ?? lastCompleteKey(t)): string[] {
  const a = timeKeyMs(t.granularity, from);
  const b = timeKeyMs(t.granularity, to);
  if (a === undefined || b === undefined) {
    throw new DeclarationError(
      `${t.granularity} partitions: range ${from}..${to} is not made of ${t.granularity} keys.`,
      [],
    );
  }
  const out: string[] = [];
  const s = step(t.granularity);
  for (let ms = Math.max(a, timeKeyMs(t.granularity, t.start)!); ms <= b; ms += s) {
    const key = formatTimeKey(t.granularity, ms);
    if (t.end !== undefined && key > t.end) break;
    out.push(key);
  }
  return out;
}

/** The time key `n` periods after `key` (negative for before). */
export function shiftTimeKey(granularity: "daily" | "hourly", key: string, n: number): string {
  const ms = timeKeyMs(granularity, key);
  if (ms === undefined) throw new DeclarationError(`"${key}" is not a ${granularity} partition key.`, []);
  return formatTimeKey(granularity, ms + n * step(granularity));
}

/** Whether `key` is a partition key of `p`. */
export function isPartitionKey(p: Partitions | undefined, key: string): boolean {
  if (!p) return key === "";
  if (p.kind === "static") return p.keys.includes(key);
  const [time, stat, extra] = p.kind === "multi" ? key.split(MULTI_SEPARATOR) : [key];
  if (extra !== undefined || time === undefined) return false;
  const t = timeDimension(p)!;
  if (timeKeyMs(t.granularity, time) === undefined || time < t.start || (t.end !== undefined && time > t.end))
    return false;
  return p.kind === "time" || (stat !== undefined && p.static.keys.includes(stat));
}

/** All keys of `p` over a time range (time dimensions are enumerated from `from` to `to`). */
export function partitionKeys(p: Partitions | undefined, range?: { from?: string; to?: string }): string[] {
  if (!p) return [""];
  if (p.kind === "static") return [...p.keys];
  const times = timeKeys(timeDimension(p)!, range?.from, range?.to);
  if (p.kind === "time") return times;
  return times.flatMap((t) => p.static.keys.map((s) => `${t}${MULTI_SEPARATOR}${s}`));
}

/**
 * The upstream partition keys that consumer partition `key` reads through `m`. The mapping must have
 * passed `mappingProblem`. Unpartitioned sides use the key "".
 */
export function upstreamKeys(
  upstream: Partitions | undefined,
  consumer: Partitions | undefined,
  m: PartitionMapping,
  key: string,
  range?: { from?: string; to?: string },
): string[] {
  if (!upstream) return [""];
  const [time, stat] =
    consumer?.kind === "multi"
      ? key.split(MULTI_SEPARATOR)
      : consumer?.kind === "static"
        ? [undefined, key]
        : [key];
  const join = (t: string | undefined, s: string | undefined) =>
    upstream.kind === "multi" ? `${t}${MULTI_SEPARATOR}${s}` : upstream.kind === "static" ? s! : t!;
  switch (m.kind) {
    case "identity":
      // A one-dimensional upstream of a two-dimensional consumer: keep the upstream's dimension.
      if (consumer?.kind === "multi" && upstream.kind === "time") return [time!];
      if (consumer?.kind === "multi" && upstream.kind === "static") return [stat!];
      return [key];
    case "all":
      return partitionKeys(upstream, range);
    case "window": {
      const t = timeDimension(upstream)!;
      const from = shiftTimeKey(t.granularity, time!, -(m.size - 1));
      // biome-ignore lint/complexity/useMathMinMax: keys are strings, compared as dates.
      return timeKeys(t, from < t.start ? t.start : from, time).map((k) => join(k, stat));
    }
    case "all_time":
      return timeKeys(timeDimension(upstream)!, range?.from, range?.to).map((k) => join(k, stat));
    case "all_static":
      return staticDimension(upstream)!.keys.map((s) => join(time, s));
  }
}
