/**
 * The pipeline's tests (`npm test`): the graph is what we declared, the TypeScript logic does what it
 * says, and the sample week materialises into a throwaway store with every check passing, through the
 * same `tributary` commands you run by hand.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../assets/index.ts";
import { FIRST_DAY, summarise } from "../assets/site.ts";

const root = join(import.meta.dirname, "..");
const store = mkdtempSync(join(tmpdir(), "pipeline-test-"));
afterAll(() => rmSync(store, { recursive: true, force: true }));

/** Runs the tributary command line in the project, on the throwaway store; resolves to its output. */
async function tributary(...args: string[]): Promise<string> {
  const manifest = createRequire(import.meta.url).resolve("tributary/package.json");
  const { bin } = JSON.parse(readFileSync(manifest, "utf8")) as { bin: { tributary: string } };
  const cli = join(dirname(manifest), bin.tributary);
  const { stdout } = await promisify(execFile)(process.execPath, [cli, ...args, "--store", store], {
    cwd: root,
  });
  return stdout;
}

/** The rows of a query over the store's committed tables. */
async function query(sql: string): Promise<Record<string, string | null>[]> {
  return JSON.parse(await tributary("query", sql, "--json"));
}

/** The sample week's days: FIRST_DAY and the six after it. */
const week = Array.from({ length: 7 }, (_, i) =>
  new Date(Date.parse(`${FIRST_DAY}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10),
);

describe("the graph", () => {
  it("runs the source first, then each asset after its upstream", () => {
    expect(graph.levels).toEqual([["page_views"], ["page_stats"], ["daily_summary", "top_pages"]]);
  });
});

describe("summarise", () => {
  it("adds up the views and names the busiest page", () => {
    const pages = [
      { path: "/", views: 30 },
      { path: "/docs", views: 45 },
      { path: "/blog", views: 5 },
    ];
    expect(summarise("2026-01-01", pages)).toEqual({
      day: "2026-01-01",
      views: 80,
      pages: 3,
      busiest_page: "/docs",
    });
  });

  it("has no busiest page on a day without views", () => {
    expect(summarise("2026-01-01", [])).toEqual({
      day: "2026-01-01",
      views: 0,
      pages: 0,
      busiest_page: null,
    });
  });
});

describe("the sample week, materialised", () => {
  /** `tributary materialize --json` on the empty store: the sample week is generated and ingested first. */
  let run: {
    counts: Record<string, number>;
    outcomes: { asset: string; partition: string; checks: { name: string; passed: boolean }[] }[];
  };
  beforeAll(async () => {
    run = JSON.parse(await tributary("materialize", "--json"));
  }, 120_000);

  it("materialises every partition with every check passing, then finds everything fresh", async () => {
    expect(run.counts).toMatchObject({ failed: 0, skipped: 0, fresh: 0 });
    // Three assets, one partition a day from FIRST_DAY up to yesterday.
    expect(run.counts.materialized).toBeGreaterThanOrEqual(3 * week.length);
    const failing = run.outcomes.flatMap((o) =>
      o.checks.filter((c) => !c.passed).map((c) => `${o.asset} ${o.partition}: ${c.name}`),
    );
    expect(failing).toEqual([]);
    expect(await tributary("materialize")).toMatch(/^everything is fresh: \d+ asset partitions up to date/m);
  }, 60_000);

  it("counts every valid view once: 400 a day, 8 pages, / the busiest", async () => {
    const days = await query(
      `SELECT CAST(day AS VARCHAR) AS day, views, pages, busiest_page FROM daily_summary
       WHERE day BETWEEN DATE '${week[0]}' AND DATE '${week[6]}' ORDER BY day`,
    );
    expect(days).toEqual(week.map((day) => ({ day, views: "400", pages: "8", busiest_page: "/" })));
  }, 60_000);

  it("ranks the week's pages on its last day", async () => {
    const top = await query(
      `SELECT rank, path, views FROM top_pages WHERE day = DATE '${week[6]}' ORDER BY rank`,
    );
    expect(top).toEqual([
      { rank: "1", path: "/", views: "1011" },
      { rank: "2", path: "/pricing", views: "401" },
      { rank: "3", path: "/docs", views: "332" },
      { rank: "4", path: "/docs/install", views: "254" },
      { rank: "5", path: "/blog", views: "223" },
      { rank: "6", path: "/blog/launch", views: "212" },
      { rank: "7", path: "/about", views: "197" },
      { rank: "8", path: "/contact", views: "170" },
    ]);
  }, 60_000);
});
