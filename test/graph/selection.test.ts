import { SelectionError } from "tributary";
import { describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";

function selectionError(expression: string): string {
  try {
    graph.select(expression);
  } catch (e) {
    expect(e).toBeInstanceOf(SelectionError);
    return (e as Error).message;
  }
  throw new Error(`expected "${expression}" to be refused`);
}

describe("selection syntax on the reference pipeline", () => {
  it("selects keys with their upstream and downstream, in topological order", () => {
    expect(graph.select(undefined)).toEqual(graph.order);
    expect(graph.select("")).toEqual(graph.order);
    expect(graph.select("*")).toEqual(graph.order);
    expect(graph.select("customer_features")).toEqual(["customer_features"]);
    expect(graph.select("+customer_features")).toEqual([
      "customers_cdc",
      "orders_cdc",
      "curated_customers",
      "curated_orders",
      "customer_features",
    ]);
    expect(graph.select("1+customer_features")).toEqual([
      "curated_customers",
      "curated_orders",
      "customer_features",
    ]);
    expect(graph.select("curated_orders+")).toEqual([
      "curated_orders",
      "customer_features",
      "daily_revenue",
      "recommendation_features",
      "recommendation_vectors",
    ]);
    expect(graph.select("curated_orders+1")).toEqual([
      "curated_orders",
      "customer_features",
      "daily_revenue",
    ]);
    expect(graph.select("+curated_customers+")).toEqual([
      "customers_cdc",
      "curated_customers",
      "customer_features",
      "recommendation_features",
      "recommendation_vectors",
    ]);
    expect(graph.select("2+recommendation_features")).toEqual([
      "curated_customers",
      "curated_orders",
      "customer_features",
      "recommendation_features",
    ]);
  });

  it("selects by tag, group, owner and kind, and unions terms", () => {
    expect(graph.select("tag:pii")).toEqual(["customers_cdc"]);
    expect(graph.select("tag:features")).toEqual(["customer_features", "recommendation_features"]);
    expect(graph.select("kind:source")).toEqual(["customers_cdc", "orders_cdc"]);
    expect(graph.select("owner:team:finance-analytics")).toEqual(["daily_revenue"]);
    expect(graph.select("group:commerce")).toEqual(graph.order);
    expect(graph.select("daily_revenue, tag:pii+1")).toEqual([
      "customers_cdc",
      "curated_customers",
      "daily_revenue",
    ]);
  });

  it("refuses unknown keys and filters with suggestions", () => {
    expect(selectionError("curated_order")).toBe(
      'selection "curated_order": unknown asset "curated_order". Did you mean "curated_orders"?',
    );
    expect(selectionError("+daily_revenu")).toBe(
      'selection "+daily_revenu": unknown asset "daily_revenu". Did you mean "daily_revenue"?',
    );
    expect(selectionError("nothing_like_it")).toBe(
      'selection "nothing_like_it": unknown asset "nothing_like_it".',
    );
    expect(selectionError("tags:pii")).toBe(
      'selection "tags:pii": unknown filter "tags:"; use one of tag:, group:, owner:, kind:. Did you mean "tag"?',
    );
    expect(selectionError("tag:finanse")).toBe(
      'selection "tag:finanse": no asset has tag "finanse". Did you mean "finance"?',
    );
    expect(selectionError("group:nope")).toBe(
      'selection "group:nope": no asset has group "nope". Known: commerce.',
    );
    expect(selectionError("kind:table")).toBe('selection "kind:table": kind must be "source" or "asset".');
    expect(selectionError("a,,b")).toBe('selection "a,,b": empty term between commas.');
    expect(selectionError("++")).toBe('selection "++": names no asset.');
  });
});
