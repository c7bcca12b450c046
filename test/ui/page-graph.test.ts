/**
 * The page's own graph answers the selection syntax exactly as the CLI's graph does (the same `select`
 * runs on both), searches keys, and the panel escapes what it shows.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detailsHtml, esc, strip } from "../../src/cli/ui/client/details.ts";
import { PageGraph } from "../../src/cli/ui/client/page-graph.ts";
import { UI_VERSION, type UiAssetDetails, type UiGraph } from "../../src/cli/ui/types.ts";
import { loadGraph } from "../../src/contract/graph-module.ts";
import { toLineage } from "../../src/kit/lineage.ts";

async function both() {
  const graph = await loadGraph("test/fixtures/graphs/failing-check.ts");
  const doc = toLineage(graph);
  const data: UiGraph = {
    version: UI_VERSION,
    module: "m",
    at: "2026-11-29T00:00:00.000Z",
    live: false,
    stacks: [],
    nodes: doc.nodes.map((n) => ({ ...n, x: 0, y: 0, partitions: 1 })),
    edges: doc.edges.map((e) => ({ from: e.from, to: e.to, mapping: e.mapping })),
  };
  return { graph, page: new PageGraph(data) };
}

const outcome = (f: () => string[]) => {
  try {
    return { keys: f() };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
};

describe("the page's graph", () => {
  it("lists the assets in the CLI's topological order", async () => {
    const { graph, page } = await both();
    expect(page.order).toEqual(graph.order);
  });

  it("selects what the CLI selects, and fails the same way, for any expression", async () => {
    const { graph, page } = await both();
    const keys = [...graph.order, "nope", "curated_order"];
    const term = fc.oneof(
      fc
        .tuple(
          fc.constantFrom("", "+", "2+", "1+"),
          fc.constantFrom(...keys),
          fc.constantFrom("", "+", "+1", "+2"),
        )
        .map(([a, k, b]) => `${a}${k}${b}`),
      fc.constantFrom(
        "group:commerce",
        "tag:pii",
        "owner:team:growth",
        "kind:source",
        "kind:asset",
        "colour:red",
        "*",
        "tag:nope",
      ),
    );
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 3 }), (terms) => {
        const expression = terms.join(",");
        expect(outcome(() => page.select(expression))).toEqual(outcome(() => graph.select(expression)));
      }),
      { numRuns: 300 },
    );
  });

  it("walks upstream and downstream as the CLI's graph does", async () => {
    const { graph, page } = await both();
    for (const k of graph.order) {
      expect(page.upstream(k)).toEqual(graph.upstream(k));
      expect(page.downstream(k, 1)).toEqual(graph.downstream(k, 1));
    }
  });

  it("searches keys: exact, then prefix, then inside, case-insensitive", async () => {
    const { page } = await both();
    expect(page.search("CURATED_ORDERS")).toEqual(["curated_orders"]);
    expect(page.search("curated")).toEqual(["curated_customers", "curated_orders"]);
    // Within a rank, topological order: curated_orders (level 1) before big_orders (level 2).
    expect(page.search("orders")).toEqual(["orders_cdc", "curated_orders", "big_orders"]);
    expect(page.search("  ")).toEqual([]);
    expect(page.search("o", 2)).toHaveLength(2);
  });
});

describe("the details panel", () => {
  const details: UiAssetDetails = {
    key: "x<y>",
    kind: "asset",
    description: '<img src=x onerror="alert(1)">',
    group: "g",
    owners: ["team:a&b"],
    tags: [],
    schema: [{ name: "<b>", type: "string", nullable: true }],
    sql: "SELECT '</script>' AS a",
    partitioning: "unpartitioned",
    checks: [],
    materialisations: [],
    partitions: [],
    upstream: [{ from: 'up"s', to: "x<y>", mapping: "identity" }],
    downstream: [],
    columnLineage: { known: false, reason: "a <table> function" },
    stacks: [],
  };

  it("escapes every string it shows", () => {
    const html = detailsHtml(details, undefined, false);
    expect(html).not.toMatch(/<img|<b>|<\/script>|<table> function/);
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
    expect(html).toContain('data-asset="up&quot;s"');
    expect(html).toContain("not known: a &lt;table&gt; function");
    expect(esc(`<>&"'`)).toBe("&lt;&gt;&amp;&quot;&#39;");
  });

  it("shows a static page's panel without store sections, and a live one's with them", () => {
    expect(detailsHtml(details, undefined, false)).not.toContain("Last materialisations");
    expect(detailsHtml(details, undefined, true)).toContain("Last materialisations");
    expect(detailsHtml(details, undefined, true)).toContain("never materialised");
  });

  it("draws a partition strip, one titled cell per partition", () => {
    const html = strip([
      { partition: "2026-11-01", state: "fresh" },
      { partition: "2026-11-02", state: "failed", why: "check c: 3 rows" },
    ]);
    expect(html.match(/class="cell"/g)).toHaveLength(2);
    expect(html).toContain('title="2026-11-02: failed (check c: 3 rows)"');
  });
});
