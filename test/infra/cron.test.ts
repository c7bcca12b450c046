import { describe, expect, it } from "vitest";
import { CronDialectError, toCloudScheduler, toEventBridge, toNcrontab } from "../../src/infra/plan/cron.ts";

const BOTH = (cloud: string) =>
  `restricts both the day of the month and the day of the week, which ${cloud} cannot express; restrict only one of the two day fields.`;
const SYMBOLS = (cloud: string) => `uses "L" or "#", which ${cloud} does not support; list the days instead.`;

// expression, EventBridge Scheduler, Cloud Scheduler, NCRONTAB (an Error's message where it cannot be said)
const TABLE: [string, string, string, string][] = [
  ["0 3 * * *", "cron(0 3 * * ? *)", "0 3 * * *", "0 0 3 * * *"],
  ["*/15 * * * *", "cron(0,15,30,45 * * * ? *)", "0,15,30,45 * * * *", "0 0,15,30,45 * * * *"],
  ["30 2 * * 1-5", "cron(30 2 ? * 2-6 *)", "30 2 * * 1-5", "0 30 2 * * 1-5"],
  [
    "5,10,15 8-18 * * MON-FRI",
    "cron(5,10,15 8-18 ? * 2-6 *)",
    "5,10,15 8-18 * * 1-5",
    "0 5,10,15 8-18 * * 1-5",
  ],
  ["0 9 * * 0,6", "cron(0 9 ? * 1,7 *)", "0 9 * * 0,6", "0 0 9 * * 0,6"],
  ["0 9 * * 7", "cron(0 9 ? * 1 *)", "0 9 * * 0", "0 0 9 * * 0"],
  ["0 0 1 * *", "cron(0 0 1 * ? *)", "0 0 1 * *", "0 0 0 1 * *"],
  ["0 */6 * JAN-MAR *", "cron(0 0,6,12,18 * 1-3 ? *)", "0 0,6,12,18 * 1-3 *", "0 0 0,6,12,18 * 1-3 *"],
  ["0 0 * * 0-6", "cron(0 0 * * ? *)", "0 0 * * *", "0 0 0 * * *"],
  ["0 0 L * *", "cron(0 0 L * ? *)", SYMBOLS("Cloud Scheduler"), SYMBOLS("Azure Functions (NCRONTAB)")],
  ["0 0 * * 5L", "cron(0 0 ? * 6L *)", SYMBOLS("Cloud Scheduler"), SYMBOLS("Azure Functions (NCRONTAB)")],
  ["0 0 * * 5#2", "cron(0 0 ? * 6#2 *)", SYMBOLS("Cloud Scheduler"), SYMBOLS("Azure Functions (NCRONTAB)")],
  ["0 0 1 * 1", BOTH("EventBridge Scheduler"), "0 0 1 * 1", BOTH("Azure Functions (NCRONTAB)")],
];

function attempt(f: (e: string) => string, expression: string): string {
  try {
    return f(expression);
  } catch (e) {
    expect(e).toBeInstanceOf(CronDialectError);
    const prefix = `cron ${JSON.stringify(expression)} `;
    expect((e as Error).message.startsWith(prefix)).toBe(true);
    return (e as Error).message.slice(prefix.length);
  }
}

describe("cron in each cloud's dialect", () => {
  it.each(TABLE)("%s", (expression, eventBridge, cloudScheduler, ncrontab) => {
    expect([
      attempt(toEventBridge, expression),
      attempt(toCloudScheduler, expression),
      attempt(toNcrontab, expression),
    ]).toEqual([eventBridge, cloudScheduler, ncrontab]);
  });
});
