/**
 * The graph's five-field cron in each cloud's dialect:
 *   - EventBridge Scheduler: `cron(min hour day-of-month month day-of-week year)`, days of week 1-7 from
 *     Sunday, and exactly one of the two day fields `?`;
 *   - Cloud Scheduler: unix cron, five fields (the time zone is a separate setting);
 *   - NCRONTAB (Azure Functions timer triggers): six fields, seconds first.
 * Fields are rebuilt from the parsed value sets (cron-parser), so steps, names and ranges all come out as
 * plain lists and ranges every dialect reads. Where a dialect cannot say the same thing, a CronDialectError
 * names the expression, the cloud and what to write instead.
 */
import { CronExpressionParser } from "cron-parser";
import { TributaryError } from "../../kit/errors.ts";

export class CronDialectError extends TributaryError {
  override name = "CronDialectError";
}

type Value = number | string;

interface Parsed {
  minute: string;
  hour: string;
  dayOfMonth: { text: string; wildcard: boolean; values: readonly Value[] };
  month: string;
  dayOfWeek: { wildcard: boolean; values: readonly Value[]; nth: number };
}

function parse(expression: string): Parsed {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new CronDialectError(`cron ${JSON.stringify(expression)} must have five fields.`);
  }
  const f = CronExpressionParser.parse(expression, { tz: "UTC" }).fields;
  // A restricted field that still lists every value (e.g. "0-6" days) is unrestricted for our purposes.
  const dom = f.dayOfMonth;
  const dow = f.dayOfWeek;
  return {
    minute: list(f.minute.values, f.minute.isWildcard, 0, 59),
    hour: list(f.hour.values, f.hour.isWildcard, 0, 23),
    dayOfMonth: {
      text: list(dom.values, dom.isWildcard, 1, 31),
      wildcard: dom.isWildcard || covers(dom.values, 1, 31),
      values: dom.values,
    },
    month: list(f.month.values, f.month.isWildcard, 1, 12),
    dayOfWeek: {
      wildcard:
        dow.isWildcard ||
        covers(
          dow.values.map((v) => (v === 7 ? 0 : v)),
          0,
          6,
        ),
      values: [...new Set(dow.values.map((v) => (v === 7 ? 0 : v)))],
      nth: (dow as unknown as { nthDay?: number }).nthDay ?? 0,
    },
  };
}

function covers(values: readonly Value[], lo: number, hi: number): boolean {
  const set = new Set(values);
  for (let v = lo; v <= hi; v++) if (!set.has(v)) return false;
  return true;
}

/** Values as "a-b,c" (numbers compressed into ranges, symbols kept), or "*". */
function list(values: readonly Value[], wildcard: boolean, lo: number, hi: number): string {
  if (wildcard || covers(values, lo, hi)) return "*";
  const nums = values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(j - i >= 2 ? `${nums[i]}-${nums[j]}` : nums.slice(i, j + 1).join(","));
    i = j + 1;
  }
  parts.push(...values.filter((v): v is string => typeof v === "string"));
  return parts.join(",");
}

function bothDays(expression: string, cloud: string): CronDialectError {
  return new CronDialectError(
    `cron ${JSON.stringify(expression)} restricts both the day of the month and the day of the week, ` +
      `which ${cloud} cannot express; restrict only one of the two day fields.`,
  );
}

/** EventBridge Scheduler's `cron(...)` expression (the time zone goes in scheduleExpressionTimezone). */
export function toEventBridge(expression: string): string {
  const p = parse(expression);
  const { dayOfMonth: dom, dayOfWeek: dow } = p;
  if (!dom.wildcard && !dow.wildcard) throw bothDays(expression, "EventBridge Scheduler");
  let days: [string, string];
  if (dow.wildcard) {
    days = [dom.text, "?"];
  } else {
    // Sunday is 1 on EventBridge, 0 in unix cron; "5L" (last Friday) keeps its L; "5#2" its #.
    const shifted = dow.values.map((v) =>
      typeof v === "number" ? v + 1 : v.replace(/^(\d)/, (d) => String(Number(d) + 1)),
    );
    let text = list(shifted, false, 1, 7);
    if (dow.nth) {
      if (dow.values.length !== 1)
        throw new CronDialectError(
          `cron ${JSON.stringify(expression)}: "#" needs exactly one day of the week.`,
        );
      text = `${text}#${dow.nth}`;
    }
    days = ["?", text];
  }
  return `cron(${p.minute} ${p.hour} ${days[0]} ${p.month} ${days[1]} *)`;
}

/** Unix cron as Cloud Scheduler reads it (no L, no #). */
export function toCloudScheduler(expression: string): string {
  const p = parse(expression);
  unixOnly(expression, p, "Cloud Scheduler");
  return `${p.minute} ${p.hour} ${p.dayOfMonth.text} ${p.month} ${dowText(p)}`;
}

/** NCRONTAB with seconds, as Azure Functions timer triggers read it. */
export function toNcrontab(expression: string): string {
  const p = parse(expression);
  unixOnly(expression, p, "Azure Functions (NCRONTAB)");
  if (!p.dayOfMonth.wildcard && !p.dayOfWeek.wildcard)
    throw bothDays(expression, "Azure Functions (NCRONTAB)");
  return `0 ${p.minute} ${p.hour} ${p.dayOfMonth.text} ${p.month} ${dowText(p)}`;
}

function dowText(p: Parsed): string {
  return p.dayOfWeek.wildcard ? "*" : list(p.dayOfWeek.values, false, 0, 6);
}

function unixOnly(expression: string, p: Parsed, cloud: string): void {
  const symbolic = [...p.dayOfMonth.values, ...p.dayOfWeek.values].some((v) => typeof v === "string");
  if (symbolic || p.dayOfWeek.nth) {
    throw new CronDialectError(
      `cron ${JSON.stringify(expression)} uses "L" or "#", which ${cloud} does not support; list the days instead.`,
    );
  }
}
