import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeKinds, previewMermaid } from "../../src/infra/preview/mermaid.ts";
import type { GraphDiff, Impact } from "../../src/infra/preview/types.ts";

const impacted = (key: string, because: string[], broken = false): Impact => ({
  key,
  owners: [],
  because,
  partitions: "the one partition",
  partitionCount: 1,
  broken,
});

// orders renames a column customers reads; customers moves its schedule; revenue stops reading
// customers; big_spenders is new; the asset `end` (a Mermaid keyword) is removed.
const graph: GraphDiff = {
  added: [{ key: "big_spenders", kind: "asset", owners: [], group: "shop", partitions: "unpartitioned" }],
  removed: [{ key: "end", kind: "asset", owners: [], group: "shop", partitions: "unpartitioned" }],
  modified: [
    {
      key: "orders",
      kind: "asset",
      owners: [],
      schema: {
        columns: [
          {
            kind: "removed",
            column: { name: "customer_id", type: "string", nullable: false },
            renamedTo: "customer_ref",
          },
        ],
        verdict: "breaking",
        consumers: [
          {
            consumer: "customers",
            verdict: "breaking",
            reads: ["customer_id"],
            readsFrom: "sql",
            reason: "reads customer_id, which was removed (renamed to customer_ref?)",
          },
        ],
      },
      recompute: true,
    },
    {
      key: "revenue",
      kind: "asset",
      owners: [],
      dependencies: { added: [], removed: ["customers"], changed: [] },
      recompute: true,
    },
  ],
  impact: [
    impacted("orders", ["orders"]),
    impacted("customers", ["orders"], true),
    impacted("revenue", ["orders", "revenue"]),
    impacted("big_spenders", ["big_spenders"]),
    impacted("style", ["orders"]),
  ],
  edges: [
    { from: "raw_orders", to: "orders" },
    { from: "orders", to: "customers" },
    { from: "orders", to: "revenue" },
    { from: "customers", to: "big_spenders" },
    { from: "customers", to: "revenue", removed: true },
    { from: "customers", to: "end", removed: true },
    { from: "revenue", to: "style" },
  ],
};

describe("previewMermaid", () => {
  it("draws every asset of a small diff, styled by its change, removed edges dashed", () => {
    const m = previewMermaid(graph);
    expect(m).toEqual({
      text: [
        "flowchart LR",
        '  orders["orders"]',
        '  customers["customers"]',
        '  revenue["revenue"]',
        '  end_(["end"])',
        '  big_spenders["big_spenders"]',
        '  style_["style"]',
        '  raw_orders["raw_orders"]',
        "  raw_orders --> orders",
        "  orders --> customers",
        "  orders --> revenue",
        "  customers --> big_spenders",
        "  customers -.-> revenue",
        "  customers -.-> end_",
        "  revenue --> style_",
        "  classDef added fill:#dafbe1,stroke:#1a7f37,color:#000",
        "  class big_spenders added",
        "  classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:5 5,color:#000",
        "  class end_ removed",
        "  classDef modified fill:#fff8c5,stroke:#9a6700,color:#000",
        "  class revenue modified",
        "  classDef breaking fill:#ffebe9,stroke:#cf222e,stroke-width:3px,color:#000",
        "  class orders,customers breaking",
        "  classDef impacted fill:#f6f8fa,stroke:#8c959f,color:#000",
        "  class style_ impacted",
        "",
      ].join("\n"),
      shown: 7,
      omitted: 0,
      omittedEdges: 0,
    });
  });

  it("calls the producer that breaks a consumer, and the consumer, breaking; an unchanged upstream context", () => {
    expect(Object.fromEntries(nodeKinds(graph))).toEqual({
      orders: "breaking",
      customers: "breaking",
      revenue: "modified",
      big_spenders: "added",
      style: "impacted",
      end: "removed",
      raw_orders: "context",
    });
  });

  it("past maxNodes, draws the changed assets and their direct consumers only", () => {
    const m = previewMermaid(graph, { maxNodes: 5 });
    // Changed: orders, customers (broken by it), revenue, end, big_spenders: the limit, so style (read
    // from revenue) and raw_orders (upstream) are left out, with their edges.
    expect(m.text.split("\n").filter((l) => l.endsWith('"]') || l.endsWith('"])'))).toEqual([
      '  orders["orders"]',
      '  customers["customers"]',
      '  revenue["revenue"]',
      '  end_(["end"])',
      '  big_spenders["big_spenders"]',
    ]);
    expect(m.text).not.toContain("raw_orders");
    expect(m.text).not.toContain("style_");
    expect(m.text).toContain("  customers -.-> end_\n");
    expect([m.shown, m.omitted, m.omittedEdges]).toEqual([5, 2, 2]);
  });

  it("stays under Mermaid's 500 edges: one changed asset read by 800 others", () => {
    const fan: GraphDiff = {
      added: [],
      removed: [],
      modified: [
        { key: "hub", kind: "asset", owners: [], code: { from: "a", to: "b", sql: true }, recompute: true },
      ],
      impact: Array.from({ length: 800 }, (_, i) => impacted(`leaf_${i}`, ["hub"])),
      edges: Array.from({ length: 800 }, (_, i) => ({ from: "hub", to: `leaf_${i}` })),
    };
    const m = previewMermaid(fan, { maxNodes: 10_000 });
    expect(m.text.split("\n").filter((l) => l.includes(" --> "))).toHaveLength(500);
    expect([m.shown, m.omitted, m.omittedEdges]).toEqual([501, 300, 300]);
    expect(m.text).toContain("  hub --> leaf_499\n");
    expect(m.text).not.toContain("leaf_500");
    // The default node limit comes first.
    const d = previewMermaid(fan);
    expect([d.shown, d.omitted, d.omittedEdges]).toEqual([300, 501, 501]);
  });

  it("stays under Mermaid's 50,000 characters with 63-character keys", () => {
    const key = (i: number) => `a${String(i).padStart(5, "0")}_${"x".repeat(56)}`;
    expect(key(1)).toHaveLength(63);
    const wide: GraphDiff = {
      added: Array.from({ length: 400 }, (_, i) => ({
        key: key(i),
        kind: "asset" as const,
        owners: [],
        group: "g",
        partitions: "unpartitioned",
      })),
      removed: [],
      modified: [],
      impact: [],
      edges: Array.from({ length: 399 }, (_, i) => ({ from: key(i), to: key(i + 1) })),
    };
    const m = previewMermaid(wide, { maxNodes: 1_000 });
    expect(m.text.length).toBeLessThanOrEqual(50_000);
    expect(m.text.length).toBeGreaterThan(45_000);
    expect(m.shown + m.omitted).toBe(400);
    expect(m.omitted).toBeGreaterThan(0);
    // The first of them, in order, and the edges among them.
    expect(m.text).toContain(`  ${key(0)} --> ${key(1)}\n`);
    expect(m.text).not.toContain(key(399));
  });

  it("for any diff: draws only declared nodes, within every limit, and the same text twice", () => {
    const diffs = fc
      .record({
        n: fc.integer({ min: 1, max: 60 }),
        kinds: fc.array(fc.constantFrom("added", "removed", "modified", "impacted", "broken", "none"), {
          minLength: 60,
          maxLength: 60,
        }),
        edges: fc.array(fc.tuple(fc.nat(59), fc.nat(59), fc.boolean()), { maxLength: 150 }),
        maxNodes: fc.integer({ min: 1, max: 80 }),
        maxEdges: fc.integer({ min: 0, max: 100 }),
      })
      .map(({ n, kinds, edges, maxNodes, maxEdges }) => {
        // A few keys are Mermaid keywords.
        const key = (i: number) => (["end", "graph", "style", "class"][i] ?? `a_${i}`) as string;
        const indices = (k: string) => [...Array(n).keys()].filter((i) => kinds[i] === k);
        const of = (k: string) => indices(k).map(key);
        const summary = (k: string) => ({
          key: k,
          kind: "asset" as const,
          owners: [],
          group: "g",
          partitions: "",
        });
        const g: GraphDiff = {
          added: of("added").map(summary),
          removed: of("removed").map(summary),
          modified: of("modified").map((k) => ({
            key: k,
            kind: "asset" as const,
            owners: [],
            recompute: true,
          })),
          impact: [
            ...of("impacted").map((k) => impacted(k, [])),
            ...of("broken").map((k) => impacted(k, [], true)),
          ],
          edges: edges
            .filter(([a, b]) => a < b && b < n)
            .map(([a, b, removed]) => ({ from: key(a), to: key(b), ...(removed ? { removed } : {}) })),
        };
        return { g, maxNodes, maxEdges };
      });
    fc.assert(
      fc.property(diffs, ({ g, maxNodes, maxEdges }) => {
        const m = previewMermaid(g, { maxNodes, maxEdges });
        const lines = m.text.split("\n");
        const declared = lines.flatMap((l) => /^ {2}(\w+)\(?\["/.exec(l)?.slice(1) ?? []);
        const edges = lines.filter((l) => / (-->|-\.->) /.test(l)).map((l) => l.trim().split(" "));
        const total = nodeKinds(g).size;
        expect(lines[0]).toBe("flowchart LR");
        expect(declared).toHaveLength(m.shown);
        expect(new Set(declared).size).toBe(m.shown);
        expect(m.shown + m.omitted).toBe(total);
        expect(edges.length + m.omittedEdges).toBe(g.edges.length);
        expect(edges.length).toBeLessThanOrEqual(maxEdges);
        for (const [from, , to] of edges)
          expect([declared.includes(from!), declared.includes(to!)]).toEqual([true, true]);
        for (const id of declared) expect(["end", "graph", "style", "class"]).not.toContain(id);
        expect(previewMermaid(g, { maxNodes, maxEdges }).text).toBe(m.text);
      }),
      { numRuns: 300 },
    );
  });
});
