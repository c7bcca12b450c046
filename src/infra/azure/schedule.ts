/**
 * Timer schedules on Flex Consumption. Timer triggers read NCRONTAB in UTC there: WEBSITE_TIME_ZONE is
 * honoured only on Windows and on Linux Premium or Dedicated plans, not on Linux Consumption or Flex
 * Consumption. So a schedule in another time zone fires at every UTC hour its local hours can map to over
 * the year (both sides of a daylight-saving change), and the handler runs only when the local time
 * matches the graph's cron (`TRIBUTARY_SCHEDULE_CRON` in `TRIBUTARY_SCHEDULE_TIMEZONE`). Pure.
 */
import { CronDialectError, toNcrontab } from "../plan/cron.ts";

export interface TimerSchedule {
  /** NCRONTAB in UTC, for the timer binding (`%TRIBUTARY_SCHEDULE%`). */
  readonly ncrontab: string;
  /** True when the schedule fires exactly when the cron says; false when the handler must filter. */
  readonly exact: boolean;
}

const UTC = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z"]);

/** The UTC offsets (minutes) a zone takes during a reference period (2024-2025, both DST changes). */
export function offsets(timezone: string): number[] {
  const format = new Intl.DateTimeFormat("en-US", { timeZone: timezone, timeZoneName: "longOffset" });
  const found = new Set<number>();
  for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2026, 0, 1); t += 12 * 3600 * 1000) {
    const name = format.formatToParts(new Date(t)).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    found.add(m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0);
  }
  return [...found].sort((a, b) => a - b);
}

function expand(field: string): number[] {
  return field.split(",").flatMap((part) => {
    const [lo, hi] = part.split("-").map(Number);
    const out: number[] = [];
    for (let v = lo!; v <= (hi ?? lo!); v++) out.push(v);
    return out;
  });
}

function compress(values: readonly number[]): string {
  const nums = [...new Set(values)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(j - i >= 2 ? `${nums[i]}-${nums[j]}` : nums.slice(i, j + 1).join(","));
    i = j + 1;
  }
  return parts.join(",");
}

export function timerSchedule(cron: string, timezone: string): TimerSchedule {
  const ncrontab = toNcrontab(cron);
  if (UTC.has(timezone)) return { ncrontab, exact: true };
  const zone = offsets(timezone);
  const [sec, minute, hour, dom, month, dow] = ncrontab.split(" ") as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (zone.length === 1 && zone[0] === 0) return { ncrontab, exact: true };
  if (zone.some((o) => o % 60 !== 0)) {
    throw new CronDialectError(
      `cron ${JSON.stringify(cron)} in ${timezone}: Azure Functions on Flex Consumption run timers in UTC, and ` +
        `${timezone} is not a whole number of hours from UTC; schedule the asset in UTC instead.`,
    );
  }
  if (hour === "*") return { ncrontab, exact: zone.length === 1 };
  const days = dom !== "*" || month !== "*" || dow !== "*";
  const hours: number[] = [];
  for (const h of expand(hour)) {
    for (const o of zone) {
      const utc = h - o / 60;
      if (days && (utc < 0 || utc > 23)) {
        throw new CronDialectError(
          `cron ${JSON.stringify(cron)} in ${timezone}: Azure Functions on Flex Consumption run timers in UTC, ` +
            `and this schedule's days change when shifted to UTC; schedule the asset in UTC instead.`,
        );
      }
      hours.push((utc + 24) % 24);
    }
  }
  // With a single fixed offset the shifted schedule is exact; with daylight saving it fires for both offsets.
  return { ncrontab: [sec, minute, compress(hours), dom, month, dow].join(" "), exact: zone.length === 1 };
}
