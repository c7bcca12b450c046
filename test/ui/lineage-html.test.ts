/**
 * `tributary lineage --format html`: the asset-graph page as one file that opens offline, in Chromium
 * from the file itself with every request but the file's refused.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGraph } from "../../src/contract/graph-module.ts";
import { cli } from "../cli/in-process.ts";
import { launch, noBrowser, screenshotPath } from "./browser.ts";

interface Point {
  x: number;
  y: number;
  color: string;
  hidden?: boolean;
}

describe.skipIf(noBrowser)("tributary lineage --format html", () => {
  let dir: string;
  let browser: Browser;
  const requests: string[] = [];

  async function open(file: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file://")) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(`file://${file}`);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined);
    expect(await page.evaluate(() => document.body.dataset.ready)).toBe("true");
    return page;
  }

  const pointOf = (page: Page, key: string) =>
    page.evaluate(
      (k) => (window as never as { tributary: { pointOf(k: string): Point } }).tributary.pointOf(k),
      key,
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-lineage-html-"));
    browser = await launch();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes one file that draws every asset offline, coloured by kind, with each asset's details", async () => {
    const file = join(dir, "lineage.html");
    const r = await cli("lineage", "--format", "html", "--out", file);
    expect(r).toEqual({
      code: 0,
      stdout: `wrote html lineage of 8 assets and 7 edges to ${file}\n`,
      stderr: "",
    });
    const html = await readFile(file, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
    const page = await open(file);
    const graph = await loadGraph(undefined);
    for (const key of graph.order) {
      const p = await pointOf(page, key);
      expect(p.hidden ?? false, key).toBe(false);
      expect(p.color, key).toBe(graph.get(key).kind === "source" ? "#0969da" : "#57606a");
    }
    expect(await page.textContent("#at")).toBe("static graph, no state");
    await page.fill("#search", "customer_features");
    await page.press("#search", "Enter");
    await page.waitForFunction(
      () => document.getElementById("details")?.dataset.shown === "customer_features",
    );
    // Column lineage from the SQL: recency_days is computed from curated_orders' created_at and status.
    const row = await page.$$eval("#details-columns tbody tr", (rows) =>
      rows.map((r) => r.textContent ?? "").find((t) => t.startsWith("recency_days")),
    );
    expect(row).toBe("recency_dayscurated_orders.created_at, curated_orders.status");
    expect(await page.$("#details-materialisations")).toBeNull();
    await page.screenshot({ path: screenshotPath("lineage-html.png") });
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);

  it("keeps only the selected assets and the edges between them", async () => {
    const file = join(dir, "revenue.html");
    const r = await cli("lineage", "+daily_revenue", "--format", "html", "--out", file);
    expect(r.stdout).toBe(`wrote html lineage of 3 assets and 2 edges to ${file}\n`);
    const page = await open(file);
    const order = await page.evaluate(
      () => (window as never as { tributary: { page: { order: string[] } } }).tributary.page.order,
    );
    expect(order).toEqual(["orders_cdc", "curated_orders", "daily_revenue"]);
    await page.close();
  }, 60_000);
});
