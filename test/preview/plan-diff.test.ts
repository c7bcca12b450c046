import { describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import type { DeploymentPlan, GrantPlan } from "../../src/infra/plan/types.ts";
import { diffPlans, fieldChanges } from "../../src/infra/preview/plan-diff.ts";
import { EXAMPLE } from "../cli/run.ts";

const base = planDeployment(graph, readStackConfig(configMap(EXAMPLE, "prod-aws"), "prod-aws"));
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function edit(fn: (p: Mutable<DeploymentPlan>) => void): DeploymentPlan {
  const p = structuredClone(base) as Mutable<DeploymentPlan>;
  fn(p);
  return p;
}

describe("the plan diff", () => {
  it("is empty for the same plan", () => {
    expect(diffPlans("prod-aws", base, base)).toEqual({ changes: [], risks: [] });
  });

  it("flags an existing function that may read more, or do more where it already could", () => {
    const head = edit((p) => {
      const grants = p.grants as GrantPlan[];
      grants.push({
        function: "daily_revenue",
        store: "raw",
        prefix: "raw/customers_cdc/",
        access: ["read", "list"],
        reason: "upstream:customers_cdc",
      });
      const own = grants.findIndex(
        (g) => g.function === "curated_orders" && g.reason === "upstream:orders_cdc",
      );
      grants[own] = { ...grants[own]!, access: [...grants[own]!.access, "delete"] };
    });
    const d = diffPlans("prod-aws", base, head);
    expect(d.changes).toEqual([
      {
        section: "grants",
        id: "curated_orders on raw:raw/orders_cdc/",
        op: "change",
        asset: "curated_orders",
        fields: ["access: read → delete, read"],
      },
      { section: "grants", id: "daily_revenue on raw:raw/customers_cdc/", op: "add", asset: "daily_revenue" },
    ]);
    expect(d.risks).toEqual([
      {
        kind: "privilege-widening",
        stack: "prod-aws",
        asset: "curated_orders",
        subject: "grant curated_orders on raw:raw/orders_cdc/",
        message: "curated_orders may now also delete raw:raw/orders_cdc/ (upstream:orders_cdc)",
      },
      {
        kind: "privilege-widening",
        stack: "prod-aws",
        asset: "daily_revenue",
        subject: "grant daily_revenue on raw:raw/customers_cdc/",
        message: "daily_revenue may now list, read raw:raw/customers_cdc/ (upstream:customers_cdc)",
      },
    ]);
  });

  it("does not flag the grants of a new function as widening: they come with it", () => {
    const head = edit((p) => {
      p.functions = [...p.functions, { ...p.functions[0]!, id: "brand_new", name: "x-brand-new" }];
      p.grants = [
        ...p.grants,
        {
          function: "brand_new",
          store: "curated",
          prefix: "curated/brand_new/",
          access: ["write"],
          reason: "own",
        },
      ];
    });
    const d = diffPlans("prod-aws", base, head);
    expect(d.changes.map((c) => [c.section, c.op, c.id])).toEqual([
      ["functions", "add", "brand_new"],
      ["grants", "add", "brand_new on curated:curated/brand_new/"],
    ]);
    expect(d.risks).toEqual([]);
  });

  it("calls a removed store and a shorter retention data loss", () => {
    const rawDays = base.stores.find((s) => s.id === "raw")!.retentionDays!;
    const head = edit((p) => {
      p.stores = p.stores
        .filter((s) => s.id !== "quarantine")
        .map((s) => (s.id === "raw" ? { ...s, retentionDays: 5 } : s));
    });
    const d = diffPlans("prod-aws", base, head);
    expect(d.changes.filter((c) => c.section === "stores")).toEqual([
      { section: "stores", id: "quarantine", op: "remove" },
      { section: "stores", id: "raw", op: "change", fields: [`retentionDays: ${rawDays} → 5`] },
    ]);
    expect(d.risks.map((r) => [r.kind, r.subject, r.message])).toEqual([
      [
        "data-loss",
        "store raw (trib-prod-raw)",
        `the raw store keeps objects 5 days instead of ${rawDays} days: objects older than that are deleted by the next lifecycle run`,
      ],
      [
        "data-loss",
        "store quarantine (trib-prod-quarantine)",
        "the quarantine store leaves the plan: its bucket and the data in it are deleted unless protected",
      ],
    ]);
  });

  it("lists everything as added for a new stack, with no risk", () => {
    const d = diffPlans("prod-aws", undefined, base);
    expect(d.risks).toEqual([]);
    expect(d.changes.every((c) => c.op === "add")).toBe(true);
    expect(d.changes.filter((c) => c.section === "functions")).toHaveLength(base.functions.length);
  });

  it("writes nested fields by path", () => {
    expect(fieldChanges({ a: { b: 1, c: [1, 2] }, d: "x" }, { a: { b: 2, c: [1, 2] }, e: true })).toEqual([
      "a.b: 1 → 2",
      "d: x → -",
      "e: - → true",
    ]);
  });
});
