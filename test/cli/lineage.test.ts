import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeMapping, toLineage } from "tributary";
import { describe, expect, test } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { STACK_LINE, tributary } from "./run.ts";

describe("tributary lineage", () => {
  test("mermaid by default: every node in its group, every edge of the pipeline", async () => {
    const run = await tributary(["lineage"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    const lines = run.stdout.split("\n");
    // Every edge the graph declares is drawn, labelled with its partition mapping unless it is identity.
    expect(graph.edges()).toHaveLength(7);
    for (const e of graph.edges()) {
      const mapping = describeMapping(e.mapping);
      const label = mapping === "identity()" ? "" : `|"${mapping}"|`;
      expect(lines).toContain(`  ${e.from} -->${label} ${e.to}`);
    }
    expect(run.stdout).toBe(
      [
        "flowchart LR",
        '  subgraph group_0["commerce"]',
        '    customers_cdc[("customers_cdc")]',
        '    orders_cdc[("orders_cdc")]',
        '    curated_customers["curated_customers"]',
        '    curated_orders["curated_orders"]',
        '    customer_features["customer_features"]',
        '    daily_revenue["daily_revenue"]',
        '    recommendation_features["recommendation_features"]',
        '    recommendation_vectors["recommendation_vectors"]',
        "  end",
        '  customers_cdc -->|"allTime()"| curated_customers',
        '  orders_cdc -->|"allTime()"| curated_orders',
        "  curated_orders --> customer_features",
        "  curated_customers --> customer_features",
        "  curated_orders --> daily_revenue",
        "  customer_features --> recommendation_features",
        "  recommendation_features --> recommendation_vectors",
        "",
      ].join("\n"),
    );
  });

  test("--format dot with a selection: only the selected nodes and the edges between them", async () => {
    expect(await tributary(["lineage", "+daily_revenue", "--format", "dot"])).toEqual({
      code: 0,
      stderr: "",
      stdout: [
        "digraph tributary {",
        "  rankdir=LR;",
        "  node [shape=box, fontname=Helvetica];",
        '  "orders_cdc" [shape=cylinder, tooltip="commerce"];',
        '  "curated_orders" [tooltip="commerce"];',
        '  "daily_revenue" [tooltip="commerce"];',
        '  "orders_cdc" -> "curated_orders" [label="allTime()"];',
        '  "curated_orders" -> "daily_revenue";',
        "}",
        "",
      ].join("\n"),
    });
  });

  test("--format json: the lineage document, pretty-printed", async () => {
    const run = await tributary(["lineage", "--format", "json"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
    const doc = JSON.parse(run.stdout) as {
      nodes: { key: string; level: number; codeVersion?: string }[];
      edges: { from: string; to: string; mapping: string }[];
    };
    expect(run.stdout).toBe(`${JSON.stringify(doc, null, 2)}\n`);
    // The document is the kit's, code versions included (a compute asset declares its own).
    const expected = JSON.parse(JSON.stringify(toLineage(graph))) as typeof doc;
    expect(doc.nodes.find((n) => n.key === "recommendation_features")!.codeVersion).toBe("1");
    expect(doc).toEqual(expected);
    expect(doc.nodes.map((n) => `${n.level} ${n.key}`)).toEqual([
      "0 customers_cdc",
      "0 orders_cdc",
      "1 curated_customers",
      "1 curated_orders",
      "2 customer_features",
      "2 daily_revenue",
      "3 recommendation_features",
      "4 recommendation_vectors",
    ]);
    expect(doc.edges.map((e) => `${e.from} -> ${e.to} ${e.mapping}`)).toEqual([
      "customers_cdc -> curated_customers allTime()",
      "orders_cdc -> curated_orders allTime()",
      "curated_orders -> customer_features identity()",
      "curated_customers -> customer_features identity()",
      "curated_orders -> daily_revenue identity()",
      "customer_features -> recommendation_features identity()",
      "recommendation_features -> recommendation_vectors identity()",
    ]);
  });

  test("--out writes the file (creating its folder) and says what it wrote; an unwritable path is a user error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tributary-cli-"));
    try {
      const out = join(dir, "docs", "lineage.dot");
      const run = await tributary(["lineage", "customer_features+", "--format", "dot", "--out", out]);
      expect(run).toEqual({
        code: 0,
        stderr: "",
        stdout: `wrote dot lineage of 3 assets and 2 edges to ${out}\n`,
      });
      expect(await readFile(out, "utf8")).toBe(
        [
          "digraph tributary {",
          "  rankdir=LR;",
          "  node [shape=box, fontname=Helvetica];",
          '  "customer_features" [tooltip="commerce"];',
          '  "recommendation_features" [tooltip="commerce"];',
          '  "recommendation_vectors" [tooltip="commerce"];',
          '  "customer_features" -> "recommendation_features";',
          '  "recommendation_features" -> "recommendation_vectors";',
          "}",
          "",
        ].join("\n"),
      );
      // A path under a file cannot be written: a user error naming the path, no stack.
      const blocked = join(out, "lineage.mmd");
      expect(await tributary(["lineage", "--out", blocked])).toEqual({
        code: 1,
        stdout: "",
        stderr: `tributary: cannot write ${blocked}: EEXIST: file already exists, mkdir '${out}'. Pass another path to --out.\n`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("an invalid --format: exit 1 naming the allowed values, no stack", async () => {
    const run = await tributary(["lineage", "--format", "svg"]);
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tributary: option '--format <format>' argument 'svg' is invalid. Allowed choices are mermaid, dot, json, html.\n" +
        "(run with --help for usage)\n",
    });
    expect(run.stderr).not.toMatch(STACK_LINE);
  });
});
