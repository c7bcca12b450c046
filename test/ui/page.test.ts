/**
 * The asset-graph page in Debian's Chromium: `tributary ui` serving the reference pipeline over a
 * materialised store, and a graph with a failing check whose node turns red when a run fails it.
 * Screenshots land in test-results/ui/ for review.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveUi } from "../../src/cli/commands/ui.ts";
import { uiDetails } from "../../src/cli/ui/model.ts";
import type { UiServer } from "../../src/cli/ui/server.ts";
import { loadGraph } from "../../src/contract/graph-module.ts";
import { cli } from "../cli/in-process.ts";
import { launch, noBrowser, screenshotPath } from "./browser.ts";

const quiet = { out: () => {}, err: () => {}, tty: false };
const FAILING = "test/fixtures/graphs/failing-check.ts";
const STATE_RED = "#cf222e";
const STATE_GREEN = "#2da44e";

interface Point {
  x: number;
  y: number;
  color: string;
  hidden?: boolean;
}

async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined);
  expect(await page.evaluate(() => document.body.dataset.ready)).toBe("true");
}

const pointOf = (page: Page, key: string) =>
  page.evaluate(
    (k) => (window as never as { tributary: { pointOf(k: string): Point } }).tributary.pointOf(k),
    key,
  );

/** Zoom to the node, then click where it is drawn. */
async function clickNode(page: Page, key: string): Promise<void> {
  await page.fill("#search", key);
  await page.press("#search", "Enter");
  await page.waitForFunction((k) => document.getElementById("details")?.dataset.shown === k, key);
  await page.mouse.click(5, 300); // the stage: deselects
  await page.waitForFunction(() => document.getElementById("details-empty") !== null);
  // Past the double-click delay: two clicks in a row would zoom instead.
  await page.waitForTimeout(400);
  const p = await pointOf(page, key);
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction((k) => document.getElementById("details")?.dataset.shown === k, key);
}

describe.skipIf(noBrowser)("tributary ui in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch();
  }, 60_000);
  afterAll(() => browser?.close());

  describe("the reference pipeline, materialised", () => {
    let store: string;
    let server: UiServer;
    let page: Page;
    const errors: string[] = [];
    beforeAll(async () => {
      store = await mkdtemp(join(tmpdir(), "tributary-ui-"));
      expect((await cli("materialize", "--store", store)).code).toBe(0);
      server = await serveUi({ store, port: 0 }, quiet);
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      page.on("pageerror", (e) => errors.push(e.message));
      await ready(page, server.url);
    }, 180_000);
    afterAll(async () => {
      await page?.close();
      await server?.close();
      await rm(store, { recursive: true, force: true });
    });

    it("draws every asset of the graph, each where the page can be clicked, and green when fresh", async () => {
      const graph = await loadGraph(undefined);
      const order = await page.evaluate(
        () => (window as never as { tributary: { page: { order: string[] } } }).tributary.page.order,
      );
      expect(order).toEqual([...graph.order]);
      for (const key of graph.order) {
        const p = await pointOf(page, key);
        expect(p.hidden, key).toBeFalsy();
        expect(p.x, key).toBeGreaterThan(0);
        expect(p.y, key).toBeGreaterThan(0);
        expect(p.x, key).toBeLessThan(1400 - 400);
        expect(p.y, key).toBeLessThan(900);
        expect(p.color, key).toBe(STATE_GREEN);
      }
      expect(await page.textContent("#count")).toBe(`${graph.size} assets`);
      expect(await page.textContent("#module")).toBe("examples/commerce/assets/index.ts");
      await page.screenshot({ path: screenshotPath("reference-pipeline.png") });
      expect(errors).toEqual([]);
    });

    it("a click on a node shows that asset's details, as the model has them", async () => {
      await clickNode(page, "customer_features");
      const graph = await loadGraph(undefined);
      const d = await uiDetails(graph, "customer_features", { module: "assets/index.ts" });
      expect(await page.textContent("#details-key")).toBe("customer_features");
      const columns = await page.$$eval("#details-schema tbody tr td:first-child", (cells) =>
        cells.map((c) => c.textContent),
      );
      expect(columns).toEqual(d.schema.map((c) => c.name));
      const upstream = await page.$$eval("#details-upstream [data-asset]", (a) =>
        a.map((x) => x.textContent),
      );
      expect(upstream).toEqual(d.upstream.map((e) => e.from));
      expect(await page.textContent("#details-sql")).toContain(d.sql!.trim().split("\n")[0]!);
      const rows = await page.$$eval("#details-materialisations tbody tr", (r) => r.length);
      expect(rows).toBeGreaterThan(0);
      const checks = await page.$$eval("#details-checks tbody tr td:first-child", (c) =>
        c.map((x) => x.textContent),
      );
      expect(checks).toEqual(d.checks.map((c) => c.name));
      expect(await page.textContent("#details-checks")).not.toContain("failed");
      await page.screenshot({ path: screenshotPath("details.png") });
    });

    it("search finds an asset by part of its key, selects and centres it", async () => {
      await page.fill("#search", "revenue");
      const suggested = await page.$$eval("#suggestions li", (li) => li.map((x) => x.textContent));
      expect(suggested).toEqual(["daily_revenue"]);
      await page.press("#search", "Enter");
      await page.waitForFunction(() => document.getElementById("details")?.dataset.shown === "daily_revenue");
      expect(await page.textContent("#details-key")).toBe("daily_revenue");
      await page.fill("#search", "no_such_asset");
      await page.press("#search", "Enter");
      expect(await page.textContent("#search-error")).toBe('no asset matches "no_such_asset"');
    });

    it("filters by the selection syntax, and says what is wrong with a bad one", async () => {
      await page.fill("#filter", "+customer_features");
      await page.press("#filter", "Enter");
      const graph = await loadGraph(undefined);
      const chosen = graph.select("+customer_features");
      expect(await page.textContent("#count")).toBe(`${chosen.length} of ${graph.size} assets`);
      for (const key of graph.order) {
        expect((await pointOf(page, key)).hidden ?? false, key).toBe(!chosen.includes(key));
      }
      await page.fill("#filter", "+customer_featurs");
      await page.press("#filter", "Enter");
      expect(await page.textContent("#filter-error")).toBe(
        'selection "+customer_featurs": unknown asset "customer_featurs". Did you mean "customer_features"?',
      );
      await page.fill("#filter", "");
      await page.press("#filter", "Enter");
      expect(await page.textContent("#count")).toBe(`${graph.size} assets`);
    });

    it("the lineage view keeps the asset's upstream and downstream only, with its column lineage", async () => {
      const graph = await loadGraph(undefined);
      await clickNode(page, "curated_orders");
      await page.click("#lineage-button");
      expect(await page.textContent("#view")).toBe("lineage of curated_orders");
      const kept = new Set([
        "curated_orders",
        ...graph.upstream("curated_orders"),
        ...graph.downstream("curated_orders"),
      ]);
      for (const key of graph.order)
        expect((await pointOf(page, key)).hidden ?? false, key).toBe(!kept.has(key));
      const lineage = await page.$$eval("#details-columns tbody tr", (rows) =>
        rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)),
      );
      const d = await uiDetails(graph, "curated_orders", { module: "assets/index.ts" });
      expect(lineage.map((r) => r[0])).toEqual(
        d.schema.map((c) => c.name).filter((n) => lineage.some((r) => r[0] === n)),
      );
      await page.screenshot({ path: screenshotPath("lineage.png") });
      await page.click("#view-clear");
      for (const key of graph.order) expect((await pointOf(page, key)).hidden ?? false, key).toBe(false);
    });

    it("serves only loopback names, and says which asset does not exist", async () => {
      const api = await fetch(new URL("api/assets/nope", server.url));
      expect([api.status, await api.json()]).toEqual([404, { error: 'no asset "nope" in the graph' }]);
      const port = new URL(server.url).port;
      const { request } = await import("node:http");
      const status = await new Promise<number>((resolve, reject) => {
        request(
          { host: "127.0.0.1", port, path: "/api/graph", headers: { host: `evil.example:${port}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        )
          .on("error", reject)
          .end();
      });
      expect(status).toBe(403);
    });
  });

  describe("a run with a failing check", () => {
    let store: string;
    let server: UiServer;
    let page: Page;
    beforeAll(async () => {
      store = await mkdtemp(join(tmpdir(), "tributary-ui-fail-"));
      server = await serveUi({ store, port: 0, graph: FAILING }, quiet);
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await ready(page, server.url);
    }, 60_000);
    afterAll(async () => {
      await page?.close();
      await server?.close();
      await rm(store, { recursive: true, force: true });
    });

    it("turns the asset's node red once the run fails its check, and says which check", async () => {
      expect((await pointOf(page, "big_orders")).color).toBe("#8c959f"); // never materialised
      const run = await cli("materialize", "--graph", FAILING, "--store", store);
      expect(run.code).toBe(1);
      // The page polls the store: no reload.
      await page.waitForFunction(
        (red) =>
          (window as never as { tributary: { pointOf(k: string): Point } }).tributary.pointOf("big_orders")
            .color === red,
        STATE_RED,
        { timeout: 15_000 },
      );
      expect((await pointOf(page, "curated_orders")).color).toBe(STATE_GREEN);
      await clickNode(page, "big_orders");
      expect(await page.textContent("#details-why")).toMatch(
        /^(acme|globex|initech): check under_450: \d+ rows? returned by the check's SQL( \(and \d+ more\))?$/,
      );
      expect(await page.textContent("#details-checks")).toContain("failed");
      await page.screenshot({ path: screenshotPath("failed-check.png") });
    }, 120_000);
  });
});
