import { asset, defineGraph, source, Type, toDot, toLineage, toMermaid } from "tributary";
import { describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";

describe("static lineage export", () => {
  it("draws the reference pipeline in Mermaid with every edge", () => {
    expect(toMermaid(graph)).toBe(`flowchart LR
  subgraph group_0["commerce"]
    customers_cdc[("customers_cdc")]
    orders_cdc[("orders_cdc")]
    curated_customers["curated_customers"]
    curated_orders["curated_orders"]
    customer_features["customer_features"]
    daily_revenue["daily_revenue"]
    recommendation_features["recommendation_features"]
    recommendation_vectors["recommendation_vectors"]
  end
  customers_cdc -->|"allTime()"| curated_customers
  orders_cdc -->|"allTime()"| curated_orders
  curated_orders --> customer_features
  curated_customers --> customer_features
  curated_orders --> daily_revenue
  customer_features --> recommendation_features
  recommendation_features --> recommendation_vectors
`);
  });

  it("writes Graphviz DOT for a selection only", () => {
    expect(toDot(graph, graph.select("+curated_orders"))).toBe(`digraph tributary {
  rankdir=LR;
  node [shape=box, fontname=Helvetica];
  "orders_cdc" [shape=cylinder, tooltip="commerce"];
  "curated_orders" [tooltip="commerce"];
  "orders_cdc" -> "curated_orders" [label="allTime()"];
}
`);
  });

  it("exports JSON with columns, partitions, checks and column-level reads", () => {
    const doc = toLineage(graph);
    expect(doc.nodes.map((n) => [n.key, n.kind, n.level])).toEqual([
      ["customers_cdc", "source", 0],
      ["orders_cdc", "source", 0],
      ["curated_customers", "asset", 1],
      ["curated_orders", "asset", 1],
      ["customer_features", "asset", 2],
      ["daily_revenue", "asset", 2],
      ["recommendation_features", "asset", 3],
      ["recommendation_vectors", "asset", 4],
    ]);
    const features = doc.nodes.find((n) => n.key === "customer_features")!;
    expect(features.partitions).toBe("tenant [acme, globex, initech]");
    expect(features.columns.slice(0, 4)).toEqual([
      { name: "customer_id", type: "string", nullable: false },
      { name: "tenant_id", type: "string", nullable: false },
      { name: "country", type: "string", nullable: false },
      { name: "recency_days", type: "integer", nullable: true },
    ]);
    expect(features.checks).toEqual([
      "not_null_customer_id_frequency_monetary_cents",
      "unique_customer_id",
      "non_negative_values",
    ]);
    expect(doc.nodes.find((n) => n.key === "orders_cdc")!.partitions).toBe(
      "daily from 2026-11-01 × tenant [acme, globex, initech]",
    );
    expect(doc.edges).toContainEqual({
      from: "curated_orders",
      to: "daily_revenue",
      mapping: "identity()",
      columns: ["order_date", "tenant_id", "currency", "status", "amount_cents"],
    });
    expect(doc.edges).toHaveLength(7);
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it("gives keys that are Mermaid keywords a node id of their own", () => {
    const s = source("end", { schema: Type.Object({ id: Type.String() }), eventId: "id", eventTime: "id" });
    const a = asset("graph", {
      deps: [s],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT * FROM end",
    });
    expect(toMermaid(defineGraph([s, a]))).toBe(`flowchart LR
  subgraph group_0["default"]
    end_[("end")]
    graph_["graph"]
  end
  end_ --> graph_
`);
  });
});

describe("lineage of free-text group names", () => {
  it("escapes quotes in Mermaid labels and DOT tooltips, and keeps similar groups apart", () => {
    const s = source("raw", {
      schema: Type.Object({ id: Type.String() }),
      eventId: "id",
      eventTime: "id",
      group: 'say "hi"',
    });
    const a = asset("one", {
      deps: [s],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT * FROM raw",
      group: "a-b",
    });
    const b = asset("two", {
      deps: [s],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT * FROM raw",
      group: "a_b",
    });
    const g = defineGraph([s, a, b]);
    expect(toMermaid(g)).toBe(`flowchart LR
  subgraph group_0["a-b"]
    one["one"]
  end
  subgraph group_1["a_b"]
    two["two"]
  end
  subgraph group_2["say #quot;hi#quot;"]
    raw[("raw")]
  end
  raw --> one
  raw --> two
`);
    expect(toDot(g)).toContain('  "raw" [shape=cylinder, tooltip="say \\"hi\\""];\n');
  });
});
