import { CronExpressionParser } from "cron-parser";

export interface Schedule {
  /** Five-field cron: minute hour day-of-month month day-of-week. */
  readonly cron: string;
  /** IANA time zone the cron is read in. Default "UTC". */
  readonly timezone: string;
}

/** Run when an upstream asset is materialised (or, for an asset reading a source, when events arrive). */
export interface EventTrigger {
  readonly on: "upstream";
}

export function cron(expression: string, timezone = "UTC"): Schedule {
  return { cron: expression, timezone };
}

export function onUpstream(): EventTrigger {
  return { on: "upstream" };
}

const zones = new Map<string, boolean>();

export function isTimeZone(zone: string): boolean {
  let ok = zones.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      ok = zone.length > 0;
    } catch {
      ok = false;
    }
    zones.set(zone, ok);
  }
  return ok;
}

/** The problem with a schedule, or undefined when it is valid. */
export function scheduleProblem(schedule: Schedule): string | undefined {
  if (!isTimeZone(schedule.timezone)) {
    return `time zone ${JSON.stringify(schedule.timezone)} is not an IANA time zone (e.g. "UTC", "Europe/Berlin")`;
  }
  const fields = schedule.cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `cron ${JSON.stringify(schedule.cron)} has ${fields.length} field${fields.length === 1 ? "" : "s"}; write five: minute hour day-of-month month day-of-week`;
  }
  try {
    CronExpressionParser.parse(schedule.cron, { tz: schedule.timezone });
  } catch (e) {
    return `cron ${JSON.stringify(schedule.cron)} is invalid: ${(e as Error).message}`;
  }
  return undefined;
}
