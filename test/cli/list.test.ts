import { describe, expect, test } from "vitest";
import { STACK_LINE, tributary } from "./run.ts";

const DAY_BY_TENANT = "daily from 2026-11-01 × tenant [acme, globex, initech]";
const TENANTS = "tenant [acme, globex, initech]";

describe("tributary list", () => {
  test("the reference graph as a table, in topological order (levels, then key)", async () => {
    const run = await tributary(["list"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toMatchInlineSnapshot(`
      "key                      kind    group     partitions                                              deps                               owners                  schedule                 secrets
      customers_cdc            source  commerce  daily from 2026-11-01 × tenant [acme, globex, initech]  -                                  team:data-platform      -                        -
      orders_cdc               source  commerce  daily from 2026-11-01 × tenant [acme, globex, initech]  -                                  team:data-platform      -                        -
      curated_customers        asset   commerce  tenant [acme, globex, initech]                          customers_cdc                      team:data-platform      on upstream              pii_token_key
      curated_orders           asset   commerce  tenant [acme, globex, initech]                          orders_cdc                         team:data-platform      on upstream              -
      customer_features        asset   commerce  tenant [acme, globex, initech]                          curated_orders, curated_customers  team:growth-ml          0 3 * * * Europe/Berlin  -
      daily_revenue            asset   commerce  daily from 2026-11-01 × tenant [acme, globex, initech]  curated_orders                     team:finance-analytics  30 2 * * * UTC           -
      recommendation_features  asset   commerce  tenant [acme, globex, initech]                          customer_features                  team:growth-ml          on upstream              -
      recommendation_vectors   asset   commerce  tenant [acme, globex, initech]                          recommendation_features            team:growth-ml          on upstream              -
      "
    `);
  });

  test("a small graph: unpartitioned, no owners and a UTC cron each get their cell", async () => {
    const run = await tributary(["list", "--graph", "test/fixtures/graphs/small.ts"]);
    expect(run).toEqual({
      code: 0,
      stderr: "",
      stdout: [
        "key         kind    group    partitions             deps        owners    schedule",
        "clicks      source  web      daily from 2026-01-01  -           team:web  -",
        "page_views  asset   web      daily from 2026-01-01  clicks      team:web  on upstream",
        "top_pages   asset   reports  unpartitioned          page_views  -         0 6 * * 1 UTC",
        "",
      ].join("\n"),
    });
  });

  test("+customer_features --json: the asset and everything upstream, as JSON", async () => {
    const run = await tributary(["list", "+customer_features", "--json"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout.endsWith("]\n")).toBe(true);
    const source = (key: string, tags: string[]) => ({
      key,
      kind: "source",
      group: "commerce",
      partitions: DAY_BY_TENANT,
      deps: [],
      owners: ["team:data-platform"],
      tags,
      schedule: null,
      trigger: null,
      secrets: [],
    });
    const curated = (key: string, upstream: string, secrets: string[] = []) => ({
      key,
      kind: "asset",
      group: "commerce",
      partitions: TENANTS,
      deps: [upstream],
      owners: ["team:data-platform"],
      tags: ["curated"],
      schedule: null,
      trigger: "upstream",
      secrets,
    });
    expect(JSON.parse(run.stdout)).toEqual([
      source("customers_cdc", ["cdc", "pii"]),
      source("orders_cdc", ["cdc"]),
      curated("curated_customers", "customers_cdc", ["pii_token_key"]),
      curated("curated_orders", "orders_cdc"),
      {
        key: "customer_features",
        kind: "asset",
        group: "commerce",
        partitions: TENANTS,
        deps: ["curated_orders", "curated_customers"],
        owners: ["team:growth-ml"],
        tags: ["features"],
        schedule: { cron: "0 3 * * *", timezone: "Europe/Berlin" },
        trigger: null,
        secrets: [],
      },
    ]);
  });

  test("selection by attribute and downstream, as a table", async () => {
    const run = await tributary(["list", "curated_orders+,tag:cdc"]);
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n").map((line) => line.split("  ")[0])).toEqual([
      "key",
      "customers_cdc",
      "orders_cdc",
      "curated_orders",
      "customer_features",
      "daily_revenue",
      "recommendation_features",
      "recommendation_vectors",
      "",
    ]);
  });

  test("an unknown key: exit 1 with suggestions; an unknown filter names the valid ones; no stack", async () => {
    const unknown = await tributary(["list", "+custmer_features"]);
    expect(unknown).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'tributary: selection "+custmer_features": unknown asset "custmer_features". Did you mean "customer_features"?\n',
    });
    const filter = await tributary(["list", "tags:pii", "--json"]);
    expect(filter).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'tributary: selection "tags:pii": unknown filter "tags:"; use one of tag:, group:, owner:, kind:. Did you mean "tag"?\n',
    });
    expect(unknown.stderr + filter.stderr).not.toMatch(STACK_LINE);
  });
});
