/**
 * The asset-graph page's data: the static graph (every asset, its level and position, every edge with
 * its mapping), then over stores: the reference pipeline materialised, and a small graph whose blocking
 * check fails, whose upstream is re-materialised under a fresh downstream, and one of whose assets never
 * ran. Node states must say what `tributary status` says.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AnyAsset, AssetGraph } from "tributary";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, moduleText } from "../../bench/generated-graph.ts";
import { layout, uiDetails, uiGraph } from "../../src/cli/ui/model.ts";
import { STRIP_MAX, type UiColumnLineage, type UiGraph } from "../../src/cli/ui/types.ts";
import { loadGraph } from "../../src/contract/graph-module.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import type { AssetManifest } from "../../src/runtime/engine/manifest.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import type { PartitionStatus } from "../../src/runtime/engine/status.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { cli } from "../cli/in-process.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const NOW = new Date("2026-11-29T03:00:00.000Z");
const MODULE = "assets/index.ts";
const stateOf = (dir: string) => new StoreState(new LocalStore(dir));

/** Days from 2026-11-01 up to yesterday (UTC): the reference pipeline's daily partitions today. */
function daysToYesterday(now: Date): number {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Math.round((today - Date.UTC(2026, 10, 1)) / 86_400_000);
}

/** Per level, the nodes' y values: distinct, centred on 0, all at the level's x. */
function checkLevels(g: UiGraph, levelGap: number): void {
  const byLevel = new Map<number, { x: number; y: number }[]>();
  for (const n of g.nodes) byLevel.set(n.level, [...(byLevel.get(n.level) ?? []), n]);
  for (const [level, nodes] of byLevel) {
    expect(new Set(nodes.map((n) => n.x)), `level ${level}`).toEqual(new Set([level * levelGap]));
    expect(new Set(nodes.map((n) => n.y)).size, `level ${level}`).toBe(nodes.length);
    expect(Math.abs(nodes.reduce((s, n) => s + n.y, 0)), `level ${level}`).toBeLessThan(1e-6);
  }
}

/** A graph module in a temp folder, importing the kit by path (a user's project imports "tributary"). */
async function writeModule(dir: string, text: string): Promise<string> {
  const path = join(dir, "graph.ts");
  await writeFile(path, text.replace('from "tributary"', `from "${REPO}/src/kit/index.ts"`));
  return path;
}

describe("the static graph of the reference pipeline", () => {
  let graph: AssetGraph;
  beforeAll(async () => {
    graph = await loadGraph(undefined);
  });

  it("has every asset once, in topological order, with its level, partitions and no state", async () => {
    const g = await uiGraph(graph, { module: MODULE, now: NOW });
    expect({ ...g, nodes: [], edges: [] }).toEqual({
      version: 1,
      module: MODULE,
      at: "2026-11-29T03:00:00.000Z",
      live: false,
      nodes: [],
      edges: [],
      stacks: [],
    });
    expect(g.nodes.map((n) => n.key)).toEqual(graph.order);
    expect(g.nodes.map((n) => [n.key, n.kind, n.level, n.partitions])).toEqual([
      ["customers_cdc", "source", 0, 84],
      ["orders_cdc", "source", 0, 84],
      ["curated_customers", "asset", 1, 3],
      ["curated_orders", "asset", 1, 3],
      ["customer_features", "asset", 2, 3],
      ["daily_revenue", "asset", 2, 84],
      ["recommendation_features", "asset", 3, 3],
    ]);
    expect(g.nodes.find((n) => n.key === "customer_features")).toEqual({
      key: "customer_features",
      kind: "asset",
      group: "commerce",
      owners: ["team:growth-ml"],
      tags: ["features"],
      level: 2,
      x: 600,
      y: -20,
      partitions: 3,
    });
    for (const n of g.nodes) {
      expect(n.state, n.key).toBeUndefined();
      expect(n.why, n.key).toBeUndefined();
      expect(n.strip, n.key).toBeUndefined();
    }
  });

  it("has every edge with its mapping in words and the columns it reads", async () => {
    const g = await uiGraph(graph, { module: MODULE, now: NOW });
    expect(g.edges).toEqual([
      { from: "customers_cdc", to: "curated_customers", mapping: "allTime()" },
      { from: "orders_cdc", to: "curated_orders", mapping: "allTime()" },
      {
        from: "curated_orders",
        to: "customer_features",
        mapping: "identity()",
        columns: ["customer_id", "status", "amount_cents", "created_at"],
      },
      {
        from: "curated_customers",
        to: "customer_features",
        mapping: "identity()",
        columns: ["customer_id", "tenant_id", "country"],
      },
      {
        from: "curated_orders",
        to: "daily_revenue",
        mapping: "identity()",
        columns: ["order_date", "tenant_id", "currency", "status", "amount_cents"],
      },
      {
        from: "customer_features",
        to: "recommendation_features",
        mapping: "identity()",
        columns: [
          "customer_id",
          "tenant_id",
          "country",
          "recency_days",
          "frequency",
          "monetary_cents",
          "first_order_at",
          "last_order_at",
        ],
      },
    ]);
  });

  it("lays the graph out left to right by level, each level centred, the same every time", async () => {
    const positions = Object.fromEntries(layout(graph));
    expect(positions).toEqual({
      customers_cdc: { x: 0, y: -20 },
      orders_cdc: { x: 0, y: 20 },
      curated_customers: { x: 300, y: -20 },
      curated_orders: { x: 300, y: 20 },
      customer_features: { x: 600, y: -20 },
      daily_revenue: { x: 600, y: 20 },
      recommendation_features: { x: 900, y: 0 },
    });
    expect(Object.fromEntries(layout(graph))).toEqual(positions);
    const g = await uiGraph(graph, { module: MODULE, now: NOW });
    for (const n of g.nodes) expect({ x: n.x, y: n.y }, n.key).toEqual(positions[n.key]);
    checkLevels(g, 300);
  });

  it("details an asset: schema, SQL, partitioning, automation, SLA, checks not run, edges both ways", async () => {
    const asked: string[] = [];
    const lineage: UiColumnLineage = { known: false, reason: "not parsed in this test" };
    const columnLineage = async (a: AnyAsset) => {
      asked.push(a.key);
      return lineage;
    };
    const a = graph.get("daily_revenue");
    expect(await uiDetails(graph, "daily_revenue", { module: MODULE, now: NOW, columnLineage })).toEqual({
      key: "daily_revenue",
      kind: "asset",
      description:
        "Orders, revenue and refunds per day, tenant and currency (by the day the order was placed, UTC).",
      group: "commerce",
      owners: ["team:finance-analytics"],
      tags: ["finance"],
      schema: [
        { name: "order_date", type: "string(date)", nullable: false },
        { name: "tenant_id", type: "string", nullable: false },
        { name: "currency", type: "string", nullable: false },
        { name: "orders", type: "integer", nullable: false },
        { name: "revenue_cents", type: "integer", nullable: false },
        { name: "refunded_cents", type: "integer", nullable: false },
        { name: "average_order_cents", type: "integer", nullable: false },
      ],
      sql: a.kind === "asset" ? a.sql : "",
      codeVersion: a.kind === "asset" ? a.codeVersion : "",
      partitioning: "daily from 2026-11-01 × tenant [acme, globex, initech]",
      automation: "cron 30 2 * * * (UTC)",
      freshness: "SLA 1d2h",
      checks: [
        { name: "unique_order_date_currency", kind: "unique", blocking: true },
        { name: "accepted_values_currency", kind: "accepted_values", blocking: true },
        { name: "revenue_not_negative", kind: "sql", blocking: true },
        { name: "freshness", kind: "freshness", blocking: false },
      ],
      materialisations: [],
      partitions: [],
      upstream: [
        {
          from: "curated_orders",
          to: "daily_revenue",
          mapping: "identity()",
          columns: ["order_date", "tenant_id", "currency", "status", "amount_cents"],
        },
      ],
      downstream: [],
      columnLineage: lineage,
      stacks: [],
    });
    const orders = await uiDetails(graph, "curated_orders", { module: MODULE, now: NOW, columnLineage });
    expect([orders.partitioning, orders.automation, orders.freshness]).toEqual([
      "tenant [acme, globex, initech]",
      "after orders_cdc",
      undefined,
    ]);
    expect(orders.upstream).toEqual([{ from: "orders_cdc", to: "curated_orders", mapping: "allTime()" }]);
    expect(orders.downstream.map((e) => [e.to, e.mapping])).toEqual([
      ["customer_features", "identity()"],
      ["daily_revenue", "identity()"],
    ]);
    const features = await uiDetails(graph, "customer_features", { module: MODULE, columnLineage });
    expect(features.automation).toBe("cron 0 3 * * * (Europe/Berlin)");
    // Column lineage is asked of SQL assets only: not of a source, nor of a compute asset.
    const source = await uiDetails(graph, "orders_cdc", { module: MODULE, columnLineage });
    const compute = await uiDetails(graph, "recommendation_features", { module: MODULE, columnLineage });
    expect([source.automation, source.columnLineage, source.sql, source.codeVersion]).toEqual([
      "changes of public.orders",
      undefined,
      undefined,
      undefined,
    ]);
    expect([compute.columnLineage, compute.sql]).toEqual([undefined, undefined]);
    expect(asked).toEqual(["daily_revenue", "curated_orders", "customer_features"]);
  });

  it("places each asset in each stack that deploys its pipeline: its store, prefix and function", async () => {
    const stacks = [
      {
        name: "dev-aws",
        plan: planDeployment(
          graph,
          readStackConfig(configMap(`${REPO}/examples/commerce`, "dev-aws"), "dev-aws"),
        ),
      },
    ];
    expect((await uiGraph(graph, { module: MODULE, stacks })).stacks).toEqual(["dev-aws"]);
    expect((await uiDetails(graph, "curated_orders", { module: MODULE, stacks })).stacks).toEqual([
      {
        stack: "dev-aws",
        cloud: "aws",
        region: "eu-west-1",
        store: { id: "curated", name: "trib-dev-curated", prefix: "curated/curated_orders/" },
        function: { name: "trib-dev-curated-orders", runs: "after orders_cdc" },
      },
    ]);
    expect((await uiDetails(graph, "orders_cdc", { module: MODULE, stacks })).stacks).toEqual([
      {
        stack: "dev-aws",
        cloud: "aws",
        region: "eu-west-1",
        store: { id: "raw", name: "trib-dev-raw", prefix: "raw/orders_cdc/" },
        function: { name: "trib-dev-orders-cdc", runs: "changes of public.orders" },
      },
    ]);
    // An asset of a pipeline the stack does not deploy is in no stack.
    const failing = await loadGraph("test/fixtures/graphs/failing-check.ts");
    const plans = [
      {
        name: "dev-aws",
        plan: planDeployment(
          failing,
          readStackConfig(configMap(`${REPO}/examples/commerce`, "dev-aws"), "dev-aws"),
        ),
      },
    ];
    expect((await uiDetails(failing, "big_orders", { module: "m", stacks: plans })).stacks).toEqual([]);
    expect((await uiDetails(failing, "daily_revenue", { module: "m", stacks: plans })).stacks).toHaveLength(
      1,
    );
  });
});

describe("a generated graph of 10,000 assets", () => {
  let dir: string;
  let graph: AssetGraph;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-ui-model-"));
    graph = await loadGraph(await writeModule(dir, moduleText(generate(10_000))));
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // Its time is measured in bench/ui.ts, not here: tests assert what, never how fast.
  it("is modelled without a store: every asset and edge", async () => {
    const g = await uiGraph(graph, { module: "generated", now: NOW });
    expect(g.nodes).toHaveLength(10_000);
    expect(g.edges).toHaveLength(graph.edges().length);
  });

  it("is laid out by level, without two nodes of a level at one y, deterministically", async () => {
    const g = await uiGraph(graph, { module: "generated", now: NOW });
    checkLevels(g, 300);
    expect(g.nodes.map((n) => n.level)).toEqual(
      graph.order.map((k) => graph.levels.findIndex((l) => l.includes(k))),
    );
    expect([...layout(graph)]).toEqual([...layout(graph)]);
  });

  it("keeps edges shorter than levels ordered by key do", () => {
    const placed = layout(graph);
    const byKey = new Map<string, number>();
    for (const l of graph.levels) {
      l.forEach((k, i) => {
        byKey.set(k, (i - (l.length - 1) / 2) * 40);
      });
    }
    let ours = 0;
    let naive = 0;
    for (const e of graph.edges()) {
      ours += Math.abs(placed.get(e.from)!.y - placed.get(e.to)!.y);
      naive += Math.abs(byKey.get(e.from)! - byKey.get(e.to)!);
    }
    expect(ours).toBeLessThan(naive * 0.8);
  });
});

describe("the reference pipeline, materialised", () => {
  let store: string;
  let graph: AssetGraph;
  beforeAll(async () => {
    store = await mkdtemp(join(tmpdir(), "tributary-ui-model-"));
    expect((await cli("materialize", "--store", store)).code).toBe(0);
    graph = await loadGraph(undefined);
  }, 180_000);
  afterAll(() => rm(store, { recursive: true, force: true }));

  it("is all fresh, each partitioned node with a strip of its latest partitions", async () => {
    const now = new Date();
    const days = daysToYesterday(now);
    const g = await uiGraph(graph, { module: MODULE, store: stateOf(store), now });
    expect(g.live).toBe(true);
    expect(g.nodes.map((n) => [n.key, n.state, n.why, n.partitions, n.strip?.length])).toEqual([
      ["customers_cdc", "fresh", "up to date", 3 * days, Math.min(STRIP_MAX, 3 * days)],
      ["orders_cdc", "fresh", "up to date", 3 * days, Math.min(STRIP_MAX, 3 * days)],
      ["curated_customers", "fresh", "up to date", 3, 3],
      ["curated_orders", "fresh", "up to date", 3, 3],
      ["customer_features", "fresh", "up to date", 3, 3],
      ["daily_revenue", "fresh", "up to date", 3 * days, Math.min(STRIP_MAX, 3 * days)],
      ["recommendation_features", "fresh", "up to date", 3, 3],
    ]);
    for (const n of g.nodes) expect(new Set(n.strip), n.key).toEqual(new Set(["fresh"]));
  });

  it("details an asset's partitions, materialisations and checks' last results from its manifests", async () => {
    const state = stateOf(store);
    const a = graph.get("curated_orders");
    const manifests = new Map<string, AssetManifest>();
    for (const p of ["acme", "globex", "initech"]) manifests.set(p, (await state.manifest(a, p))!);
    const d = await uiDetails(graph, "curated_orders", { module: MODULE, store: stateOf(store) });
    expect(d.partitions).toEqual(
      [
        ["initech", 216],
        ["globex", 216],
        ["acme", 213],
      ].map(([p, rows]) => ({
        partition: p,
        state: "fresh",
        why: "up to date",
        rows,
        at: manifests.get(p as string)!.timings.finishedAt,
      })),
    );
    const newestFirst = [...manifests.values()].sort((x, y) =>
      x.timings.finishedAt < y.timings.finishedAt ? 1 : x.timings.finishedAt > y.timings.finishedAt ? -1 : 0,
    );
    expect(d.materialisations).toEqual(
      newestFirst.map((m) => ({
        partition: m.partition,
        at: m.timings.finishedAt,
        rows: m.rowCount,
        dataVersion: m.dataVersion,
        durationMs: Date.parse(m.timings.finishedAt) - Date.parse(m.timings.startedAt),
      })),
    );
    const newest = newestFirst[0]!;
    expect(d.checks).toEqual(
      newest.checks.map((c) => ({
        name: c.name,
        kind: c.kind,
        blocking: c.blocking,
        last: {
          passed: c.passed,
          ...(c.message ? { message: c.message } : {}),
          partition: newest.partition,
          at: newest.timings.finishedAt,
        },
      })),
    );
    expect(d.checks.find((c) => c.name === "references_customer_id_curated_customers")!.last).toMatchObject({
      passed: false,
      message: expect.stringMatching(/^\d+ rows whose customer_id is not in curated_customers\.customer_id$/),
    });
    const revenue = await uiDetails(graph, "daily_revenue", { module: MODULE, store: stateOf(store) });
    expect(revenue.freshness).toMatch(/^ok \(\S+ old, SLA 1d2h\)$/);
    expect(revenue.materialisations).toHaveLength(20);
    expect(revenue.partitions).toHaveLength(3 * daysToYesterday(new Date()));
  });

  it("details a source by what was ingested into each partition", async () => {
    const d = await uiDetails(graph, "orders_cdc", { module: MODULE, store: stateOf(store) });
    // The sample data: 1746 events written, over a week of days and three tenants.
    expect(d.partitions.reduce((n, p) => n + (p.rows ?? 0), 0)).toBe(1746);
    expect(d.partitions.filter((p) => (p.rows ?? 0) > 0)).toHaveLength(21);
    expect(new Set(d.partitions.map((p) => p.state))).toEqual(new Set(["fresh"]));
    expect(d.materialisations).toHaveLength(20);
    expect(d.materialisations.every((m) => m.rows > 0 && m.at !== "")).toBe(true);
  });
});

const SMALL = `import { asset, defineGraph, source, sqlCheck, staticPartitions, Type } from "tributary";
const regions = staticPartitions("region", ["eu", "us"]);
const Sale = Type.Object({
  id: Type.String(),
  at: Type.String({ format: "date-time" }),
  region: Type.String(),
  amount: Type.Integer(),
});
const sales = source("sales", { schema: Sale, eventId: "id", eventTime: "at", tenant: "region", partitions: regions });
const totals = asset("totals", {
  deps: [sales],
  schema: Type.Object({ region: Type.String(), total: Type.Integer(), n: Type.Integer() }),
  partitions: regions,
  sql: "SELECT region, CAST(sum(amount) AS BIGINT) AS total, count(*) AS n FROM sales GROUP BY region",
});
const bigTotals = asset("big_totals", {
  deps: [totals],
  schema: Type.Object({ region: Type.String(), total: Type.Integer() }),
  sql: "SELECT region, total FROM totals ORDER BY region",
  checks: [sqlCheck("totals_under_100", "SELECT * FROM big_totals WHERE total >= 100")],
});
const afterBig = asset("after_big", {
  deps: [bigTotals],
  schema: Type.Object({ n: Type.Integer() }),
  sql: "SELECT count(*) AS n FROM big_totals",
});
const summary = asset("summary", {
  deps: [totals],
  schema: Type.Object({ total: Type.Integer() }),
  sql: "SELECT CAST(sum(total) AS BIGINT) AS total FROM totals",
});
const later = asset("later", {
  deps: [totals],
  schema: Type.Object({ region: Type.String(), n: Type.Integer() }),
  partitions: regions,
  sql: "SELECT region, n FROM totals",
});
export default defineGraph([sales, totals, bigTotals, afterBig, summary, later]);
`;

const sale = (id: string, region: string, amount: number) =>
  JSON.stringify({ id, at: "2026-11-02T10:00:00Z", region, amount });

describe("a graph whose blocking check fails, re-materialised in part", () => {
  let dir: string;
  let store: string;
  let module: string;
  let graph: AssetGraph;
  const run = (...args: string[]) => cli(...args, "--graph", module, "--store", store);
  /** Every asset's partitions as `tributary status --json` says them. */
  const status = async (): Promise<PartitionStatus[]> =>
    JSON.parse((await run("status", "--json")).stdout).partitions;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-ui-model-"));
    store = join(dir, "store");
    module = await writeModule(dir, SMALL);
    await writeFile(
      join(dir, "sales.ndjson"),
      [sale("1", "eu", 60), sale("2", "eu", 70), sale("3", "us", 30)].join("\n"),
    );
    expect((await run("ingest", "sales", join(dir, "sales.ndjson"))).code).toBe(0);
    // A check fails: exit 1. `later` is left out, so it was never materialised.
    expect((await run("materialize", "totals,big_totals,after_big,summary")).code).toBe(1);
    graph = await loadGraph(module);
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("shows the failed asset red with its check, and what never ran", async () => {
    const g = await uiGraph(graph, { module, store: stateOf(store) });
    expect(g.nodes.map((n) => [n.key, n.state, n.why, n.strip])).toEqual([
      ["sales", "fresh", "up to date", ["fresh", "fresh"]],
      ["totals", "fresh", "up to date", ["fresh", "fresh"]],
      ["big_totals", "failed", "check totals_under_100: 1 row returned by the check's SQL", undefined],
      ["later", "never", "us: never materialised (and 1 more)", ["never", "never"]],
      ["summary", "fresh", "up to date", undefined],
      // Its upstream would run in a whole run (as `status` plans it), so it is not blocked: never run.
      ["after_big", "never", "never materialised", undefined],
    ]);
    const d = await uiDetails(graph, "big_totals", { module, store: stateOf(store) });
    expect(d.checks).toEqual([
      {
        name: "totals_under_100",
        kind: "sql",
        blocking: true,
        last: {
          passed: false,
          message: "1 row returned by the check's SQL",
          partition: "",
          at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
      },
    ]);
    expect(d.materialisations).toEqual([]);
    expect(d.partitions).toEqual([
      {
        partition: "",
        state: "failed",
        why: "check totals_under_100: 1 row returned by the check's SQL",
        rows: null,
        at: null,
      },
    ]);
  });

  it("says of every asset partition what `tributary status` says", async () => {
    const expected = await status();
    for (const key of graph.order) {
      if (graph.get(key).kind === "source") continue;
      const d = await uiDetails(graph, key, { module, store: stateOf(store) });
      expect([...d.partitions].reverse(), key).toEqual(
        expected
          .filter((p) => p.asset === key)
          .map((p) => ({
            partition: p.partition,
            state: p.state,
            why: p.why,
            rows: p.rows,
            at: p.lastMaterialized,
          })),
      );
    }
  });

  it("turns a fresh downstream stale when its upstream is re-materialised with new data", async () => {
    await writeFile(join(dir, "more.ndjson"), sale("4", "eu", 5));
    expect((await run("ingest", "sales", join(dir, "more.ndjson"))).code).toBe(0);
    const before = await uiGraph(graph, { module, store: stateOf(store) });
    expect(before.nodes.find((n) => n.key === "totals")).toMatchObject({
      state: "stale",
      why: "eu: input sales/eu changed",
      strip: ["stale", "fresh"],
    });
    expect((await run("materialize", "totals")).code).toBe(0);
    const g = await uiGraph(graph, { module, store: stateOf(store) });
    expect(Object.fromEntries(g.nodes.map((n) => [n.key, [n.state, n.why]]))).toEqual({
      sales: ["fresh", "up to date"],
      totals: ["fresh", "up to date"],
      big_totals: ["failed", "check totals_under_100: 1 row returned by the check's SQL"],
      later: ["never", "us: never materialised (and 1 more)"],
      summary: ["stale", "input totals/eu changed"],
      after_big: ["never", "never materialised"],
    });
    const d = await uiDetails(graph, "summary", { module, store: stateOf(store) });
    expect(d.partitions).toMatchObject([
      { partition: "", state: "stale", why: "input totals/eu changed", rows: 1 },
    ]);
    expect(d.materialisations).toHaveLength(1);
    const totals = await uiDetails(graph, "totals", { module, store: stateOf(store) });
    expect(totals.materialisations.map((m) => [m.partition, m.rows])).toEqual([
      ["eu", 1],
      ["us", 1],
    ]);
  });
});
