import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMENT_LIMIT, cell, renderMarkdown } from "../../src/infra/preview/markdown.ts";
import type {
  AssetModification,
  GraphDiff,
  Impact,
  PlanItemChange,
  Preview,
  ResourceChange,
  Risk,
  StackPreview,
} from "../../src/infra/preview/types.ts";

// The acceptance case: orders renames customer_id, which customers reads (breaking); big_spenders is
// added; customers moves its schedule; revenue stops reading customers (a removed edge); the raw
// store's retention shortens in dev-aws (a plan change, a data-loss risk, a lifecycle update).
const risks: Risk[] = [
  {
    kind: "breaking-schema",
    asset: "customers",
    subject: "orders → customers",
    message: "customers reads customer_id, which was removed (renamed to customer_ref?)",
  },
  {
    kind: "data-loss",
    stack: "dev-aws",
    subject: "store raw (shop-dev-raw)",
    message:
      "the raw store keeps objects 7 days instead of 30 days: objects older than that are deleted by the next lifecycle run",
  },
];

const small: Preview = {
  version: 1,
  base: { ref: "origin/main", commit: "1111111aaaaaaaa" },
  head: { ref: "HEAD", commit: "2222222bbbbbbbb" },
  graph: {
    added: [
      {
        key: "big_spenders",
        kind: "asset",
        owners: ["team:growth"],
        group: "shop",
        partitions: "unpartitioned",
      },
    ],
    removed: [],
    modified: [
      {
        key: "orders",
        kind: "asset",
        owners: ["team:orders"],
        schema: {
          columns: [
            {
              kind: "removed",
              column: { name: "customer_id", type: "string", nullable: false },
              renamedTo: "customer_ref",
            },
            { kind: "added", column: { name: "customer_ref", type: "string", nullable: false } },
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
            {
              consumer: "revenue",
              verdict: "compatible",
              reads: ["amount"],
              readsFrom: "declared",
              reason: "reads nothing that changed",
            },
          ],
        },
        code: { from: "3f2a9c1", to: "8be04d7", sql: true },
        recompute: true,
      },
      {
        key: "customers",
        kind: "asset",
        owners: ["team:growth"],
        schedule: { from: "cron 0 3 * * * (UTC)", to: "cron 0 5 * * * (UTC)" },
        recompute: false,
      },
      {
        key: "revenue",
        kind: "asset",
        owners: ["team:finance"],
        dependencies: { added: [], removed: ["customers"], changed: [] },
        code: { from: "v1", to: "v2", sql: true },
        recompute: true,
      },
    ],
    impact: [
      {
        key: "orders",
        owners: ["team:orders"],
        because: ["orders"],
        partitions: "the one partition",
        partitionCount: 1,
        broken: false,
      },
      {
        key: "customers",
        owners: ["team:growth"],
        because: ["orders"],
        partitions: "the one partition",
        partitionCount: 1,
        broken: true,
      },
      {
        key: "revenue",
        owners: ["team:finance"],
        because: ["orders", "revenue"],
        partitions: "the one partition",
        partitionCount: 1,
        broken: false,
      },
      {
        key: "big_spenders",
        owners: ["team:growth"],
        because: ["orders", "big_spenders"],
        partitions: "the one partition",
        partitionCount: 1,
        broken: false,
      },
    ],
    edges: [
      { from: "raw_orders", to: "orders" },
      { from: "orders", to: "customers" },
      { from: "orders", to: "revenue" },
      { from: "customers", to: "big_spenders" },
      { from: "customers", to: "revenue", removed: true },
    ],
  },
  stacks: [
    {
      stack: "dev-aws",
      cloud: "aws",
      source: "synth",
      plan: [
        { section: "stores", id: "raw", op: "change", fields: ["retentionDays: 30 → 7"] },
        { section: "functions", id: "big_spenders", op: "add", asset: "big_spenders" },
      ],
      resources: [
        {
          op: "update",
          urn: "urn:pulumi:dev-aws::tributary::tributary:aws:Store$aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration::shop-dev-raw-lifecycle",
          type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
          name: "shop-dev-raw-lifecycle",
          changed: ["rules[2].expiration.days"],
        },
        {
          op: "update",
          urn: "urn:pulumi:dev-aws::tributary::aws:scheduler/schedule:Schedule::shop-dev-customers-schedule",
          type: "aws:scheduler/schedule:Schedule",
          name: "shop-dev-customers-schedule",
          asset: "customers",
          changed: ["scheduleExpression"],
        },
        {
          op: "create",
          urn: "urn:pulumi:dev-aws::tributary::aws:lambda/function:Function::shop-dev-big-spenders",
          type: "aws:lambda/function:Function",
          name: "shop-dev-big-spenders",
          asset: "big_spenders",
          unknown: ["arn"],
        },
      ],
      summary: { create: 1, update: 2, same: 80 },
    },
  ],
  risks,
};

/** The risk lines of a comment, in order. */
const riskLines = (md: string) => {
  const lines = md.split("\n");
  const from = lines.indexOf("### ⚠️ Risks");
  const to = lines.findIndex((l, i) => i > from && l.startsWith("### "));
  return lines.slice(from, to === -1 ? undefined : to).filter((l) => l.startsWith("- "));
};

describe("the comment for a small change", () => {
  const md = renderMarkdown(small);
  const lines = md.split("\n");

  it("starts with the marker the workflow finds it by, the revisions and the verdict", () => {
    expect(lines.slice(0, 8)).toEqual([
      "<!-- tributary-preview -->",
      "## Tributary preview",
      "",
      "`origin/main` 1111111 → `HEAD` 2222222",
      "",
      "⚠️ **2 risks** to review: 1 breaking schema change, 1 data-loss risk.",
      "",
      "assets: 1 added, 0 removed, 3 modified · 4 assets to re-materialise · `dev-aws`: 1 to create, 2 to update",
    ]);
  });

  it("lists every risk, grouped by kind, before anything else", () => {
    expect(riskLines(md)).toEqual([
      "- `orders → customers`: customers reads customer_id, which was removed (renamed to customer_ref?)",
      "- `dev-aws` · `store raw (shop-dev-raw)`: the raw store keeps objects 7 days instead of 30 days: objects older than that are deleted by the next lifecycle run",
    ]);
    expect(lines.indexOf("**Breaking schema changes**")).toBeLessThan(lines.indexOf("**Data loss**"));
    expect(lines.indexOf("### ⚠️ Risks")).toBeLessThan(lines.indexOf("### Assets"));
  });

  it("tables the assets, the breaking producer first, and the consumers' verdicts", () => {
    const at = lines.indexOf("| asset | change | owners | what changed |");
    expect(lines.slice(at + 2, at + 6)).toEqual([
      "| `orders` | modified | team:orders | schema (breaking), SQL |",
      "| `customers` | modified | team:growth | schedule |",
      "| `revenue` | modified | team:finance | SQL, dependencies |",
      "| `big_spenders` | added | team:growth | asset, unpartitioned |",
    ]);
    expect(lines).toContain("- removed `customer_id` string (renamed to `customer_ref`?)");
    expect(lines).toContain(
      "| `customers` | **breaking** | customer\\_id (sql) | reads customer\\_id, which was removed (renamed to customer\\_ref?) |",
    );
    expect(lines).toContain("- schedule: `cron 0 3 * * * (UTC)` → `cron 0 5 * * * (UTC)`");
    expect(lines).toContain("- reads no more: `customers`");
  });

  it("tables the downstream impact, the broken consumer first", () => {
    expect(lines).toContain("4 assets, 4 partitions in all; 1 broken.");
    const at = lines.indexOf("| asset | owners | because of | re-materialised | |");
    expect(lines.slice(at + 2, at + 4)).toEqual([
      "| `customers` | team:growth | `orders` | the one partition | **breaks** |",
      "| `orders` | team:orders | `orders` | the one partition |  |",
    ]);
  });

  it("draws the graph styled by change, the removed edge dashed", () => {
    expect(lines).toContain("```mermaid");
    expect(lines).toContain("  customers -.-> revenue");
    expect(lines).toContain("  orders --> revenue");
    expect(lines).toContain("  classDef breaking fill:#ffebe9,stroke:#cf222e,stroke-width:3px,color:#000");
    expect(lines).toContain("  class orders,customers breaking");
    expect(lines).toContain("  class big_spenders added");
    expect(lines).toContain("  class revenue modified");
  });

  it("gives the stack its plan by section and its resources by asset, the data loss said in words", () => {
    expect(lines).toContain("### Stack `dev-aws` (aws)");
    expect(lines).toContain(
      "From the Pulumi program synthesised at both revisions: 1 to create, 2 to update, 80 unchanged.",
    );
    expect(lines).toContain("- change store `raw`: retentionDays: 30 → 7 **data loss**");
    expect(lines).toContain("<details><summary>stack-wide: 1 to update</summary>");
    expect(lines).toContain(
      "- update `aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration` `shop-dev-raw-lifecycle` (changes `rules[2].expiration.days`)",
    );
    expect(lines).toContain("<details><summary>customers: 1 to update</summary>");
    expect(lines).toContain(
      "- create `aws:lambda/function:Function` `shop-dev-big-spenders` (known after deploy: `arn`)",
    );
  });

  it("is exactly this", () => {
    expect(md).toBe(
      [
        "<!-- tributary-preview -->",
        "## Tributary preview",
        "",
        "`origin/main` 1111111 → `HEAD` 2222222",
        "",
        "⚠️ **2 risks** to review: 1 breaking schema change, 1 data-loss risk.",
        "",
        "assets: 1 added, 0 removed, 3 modified · 4 assets to re-materialise · `dev-aws`: 1 to create, 2 to update",
        "",
        "### ⚠️ Risks",
        "",
        "**Breaking schema changes**",
        "",
        "- `orders → customers`: customers reads customer_id, which was removed (renamed to customer_ref?)",
        "",
        "**Data loss**",
        "",
        "- `dev-aws` · `store raw (shop-dev-raw)`: the raw store keeps objects 7 days instead of 30 days: objects older than that are deleted by the next lifecycle run",
        "",
        "### Assets",
        "",
        "| asset | change | owners | what changed |",
        "| --- | --- | --- | --- |",
        "| `orders` | modified | team:orders | schema (breaking), SQL |",
        "| `customers` | modified | team:growth | schedule |",
        "| `revenue` | modified | team:finance | SQL, dependencies |",
        "| `big_spenders` | added | team:growth | asset, unpartitioned |",
        "",
        "<details><summary><code>orders</code>: schema (breaking), SQL</summary>",
        "",
        "Schema, breaking:",
        "",
        "- removed `customer_id` string (renamed to `customer_ref`?)",
        "- added `customer_ref` string",
        "",
        "| consumer | verdict | reads | why |",
        "| --- | --- | --- | --- |",
        "| `customers` | **breaking** | customer\\_id (sql) | reads customer\\_id, which was removed (renamed to customer\\_ref?) |",
        "| `revenue` | compatible | amount (declared) | reads nothing that changed |",
        "",
        "- SQL changed, code version: `3f2a9c1` → `8be04d7`",
        "",
        "</details>",
        "",
        "<details><summary><code>customers</code>: schedule</summary>",
        "",
        "- schedule: `cron 0 3 * * * (UTC)` → `cron 0 5 * * * (UTC)`",
        "",
        "</details>",
        "",
        "<details><summary><code>revenue</code>: SQL, dependencies</summary>",
        "",
        "- SQL changed, code version: `v1` → `v2`",
        "- reads no more: `customers`",
        "",
        "</details>",
        "",
        "### Downstream impact",
        "",
        "4 assets, 4 partitions in all; 1 broken.",
        "",
        "| asset | owners | because of | re-materialised | |",
        "| --- | --- | --- | --- | --- |",
        "| `customers` | team:growth | `orders` | the one partition | **breaks** |",
        "| `orders` | team:orders | `orders` | the one partition |  |",
        "| `revenue` | team:finance | `orders`, `revenue` | the one partition |  |",
        "| `big_spenders` | team:growth | `orders`, `big_spenders` | the one partition |  |",
        "",
        "### Graph",
        "",
        "```mermaid",
        "flowchart LR",
        '  orders["orders"]',
        '  customers["customers"]',
        '  revenue["revenue"]',
        '  big_spenders["big_spenders"]',
        '  raw_orders["raw_orders"]',
        "  raw_orders --> orders",
        "  orders --> customers",
        "  orders --> revenue",
        "  customers --> big_spenders",
        "  customers -.-> revenue",
        "  classDef added fill:#dafbe1,stroke:#1a7f37,color:#000",
        "  class big_spenders added",
        "  classDef modified fill:#fff8c5,stroke:#9a6700,color:#000",
        "  class revenue modified",
        "  classDef breaking fill:#ffebe9,stroke:#cf222e,stroke-width:3px,color:#000",
        "  class orders,customers breaking",
        "```",
        "",
        "### Stack `dev-aws` (aws)",
        "",
        "From the Pulumi program synthesised at both revisions: 1 to create, 2 to update, 80 unchanged.",
        "",
        "<details><summary>Plan: 2 changes</summary>",
        "",
        "Stores:",
        "",
        "- change store `raw`: retentionDays: 30 → 7 **data loss**",
        "",
        "Functions:",
        "",
        "- add function `big_spenders`",
        "",
        "</details>",
        "",
        "<details><summary>stack-wide: 1 to update</summary>",
        "",
        "- update `aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration` `shop-dev-raw-lifecycle` (changes `rules[2].expiration.days`)",
        "",
        "</details>",
        "",
        "<details><summary>customers: 1 to update</summary>",
        "",
        "- update `aws:scheduler/schedule:Schedule` `shop-dev-customers-schedule` (changes `scheduleExpression`)",
        "",
        "</details>",
        "",
        "<details><summary>big_spenders: 1 to create</summary>",
        "",
        "- create `aws:lambda/function:Function` `shop-dev-big-spenders` (known after deploy: `arn`)",
        "",
        "</details>",
        "",
      ].join("\n"),
    );
  });
});

describe("text from the preview", () => {
  it("cannot break a table, open a tag or start a span", () => {
    expect(cell("a|b <script>`x`</script> *y* _z_ \\ & c\nd")).toBe(
      "a\\|b &lt;script&gt;\\`x\\`&lt;/script&gt; \\*y\\* \\_z\\_ \\\\ &amp; c d",
    );
  });

  it("keeps each table row to its columns", () => {
    const orders = small.graph!.modified[0]!;
    const md = renderMarkdown({
      ...small,
      graph: {
        ...small.graph!,
        modified: [
          {
            ...orders,
            owners: ["team:a|b", "<img src=x>"],
            schema: {
              ...orders.schema!,
              consumers: [{ ...orders.schema!.consumers[0]!, reason: "reads `a|b`\nfrom <x>" }],
            },
          },
        ],
      },
    });
    const lines = md.split("\n");
    const row = "| `orders` | modified | team:a\\|b, &lt;img src=x&gt; | schema (breaking), SQL |";
    expect(lines).toContain(row);
    expect(lines).toContain(
      "| `customers` | **breaking** | customer\\_id (sql) | reads \\`a\\|b\\` from &lt;x&gt; |",
    );
    // Four cells each: the escaped pipes do not split.
    for (const l of [row, lines.find((l) => l.startsWith("| `customers` | **breaking**"))!]) {
      expect(l.split(/(?<!\\)\|/).length - 2).toBe(4);
    }
  });
});

describe("a preview without changes", () => {
  it("says No changes, with the stacks' notes", () => {
    const md = renderMarkdown({
      version: 1,
      graph: { added: [], removed: [], modified: [], impact: [], edges: [] },
      stacks: [
        {
          stack: "dev-aws",
          source: "synth",
          plan: [],
          resources: [],
          summary: { same: 80 },
          notes: ["the stack does not exist at the base revision"],
        },
      ],
      risks: [],
    });
    expect(md).toBe(
      [
        "<!-- tributary-preview -->",
        "## Tributary preview",
        "",
        "✅ No breaking change, data loss or privilege widening.",
        "",
        "assets: 0 added, 0 removed, 0 modified · 0 assets to re-materialise · `dev-aws`: no change",
        "",
        "No changes: the graph and every stack are the same at both revisions.",
        "",
        "- `dev-aws`: the stack does not exist at the base revision",
        "",
      ].join("\n"),
    );
  });

  it("from pulumi preview alone, with its own title and marker", () => {
    const md = renderMarkdown(
      {
        version: 1,
        stacks: [{ stack: "prod-gcp", source: "pulumi-preview", summary: { same: 12 } }],
        risks: [],
      },
      { title: "Infrastructure preview", marker: "<!-- tributary-preview prod -->" },
    );
    expect(md.split("\n").slice(0, 2)).toEqual([
      "<!-- tributary-preview prod -->",
      "## Infrastructure preview",
    ]);
    expect(md).toContain("\nNo changes: every stack is the same at both revisions.\n");
  });
});

/** Which detail a comment still has, in the order the budget gives it up. */
function detail(md: string) {
  return {
    resources: md.includes("- update `aws:scheduler/schedule:Schedule` `shop-dev-customers-schedule`"),
    assetDetail: md.includes("<details><summary><code>customers</code>: schedule</summary>"),
    breakingDetail: md.includes("<details><summary><code>orders</code>: schema (breaking), SQL</summary>"),
    graph: md.includes("```mermaid"),
    rows: !md.includes("… and "),
    brokenRow: md.includes("| `customers` | team:growth | `orders` | the one partition | **breaks** |"),
    riskMessages: md.includes("objects older than that are deleted by the next lifecycle run"),
  };
}

describe("the budget", () => {
  const full = renderMarkdown(small);
  // From the whole comment down to a limit the risks alone exceed, 10 characters at a time.
  const limits = Array.from(
    { length: Math.ceil((full.length + 100) / 10) },
    (_, i) => full.length + 100 - i * 10,
  );
  const rendered = limits.map((limit) => ({ limit, md: renderMarkdown(small, { limit }) }));

  it("keeps every comment within 99% of its limit until the risks alone are too long", () => {
    for (const { limit, md } of rendered) {
      if (detail(md).riskMessages) expect(md.length).toBeLessThanOrEqual(Math.floor(limit * 0.99));
      const lines = riskLines(md);
      expect([lines.length, lines[0]!.startsWith("- `orders → customers`")]).toEqual([2, true]);
      expect(lines[1]).toMatch(/^- `dev-aws`( · |: )`store raw \(shop-dev-raw\)`/);
    }
    const last = rendered.at(-1)!;
    expect(last.md.length).toBeGreaterThan(last.limit);
    expect(riskLines(last.md)).toEqual(["- `orders → customers`", "- `dev-aws`: `store raw (shop-dev-raw)`"]);
  });

  it("gives up detail in order: resources, asset detail, breaking asset detail, graph, rows, then the risks' messages", () => {
    const order = Object.keys(detail(full)) as (keyof ReturnType<typeof detail>)[];
    // The highest limit at which each is gone; once gone, it stays gone.
    const goneAt = order.map((k) => {
      const i = rendered.findIndex(({ md }) => !detail(md)[k]);
      expect(
        rendered.slice(i).every(({ md }) => !detail(md)[k]),
        k,
      ).toBe(true);
      return rendered[i]!.limit;
    });
    for (let i = 1; i < goneAt.length; i++) expect(goneAt[i], order[i]).toBeLessThan(goneAt[i - 1]!);
    expect(detail(full)).toEqual(Object.fromEntries(order.map((k) => [k, true])));
  });

  it("first lists each unflagged asset's resource changes as one line", () => {
    const md = rendered.find(({ md }) => !detail(md).resources)!.md;
    expect(detail(md).assetDetail).toBe(true);
    const lines = md.split("\n");
    const at = lines.indexOf(
      "<details><summary>Resources of 3 assets, none flagged: 1 to create, 2 to update</summary>",
    );
    expect(lines.slice(at, at + 7)).toEqual([
      "<details><summary>Resources of 3 assets, none flagged: 1 to create, 2 to update</summary>",
      "",
      "- stack-wide: 1 to update",
      "- `customers`: 1 to update",
      "- `big_spenders`: 1 to create",
      "",
      "</details>",
    ]);
  });

  it("shrinks the graph to the changed assets and their direct consumers before dropping it", () => {
    const leaves = Array.from({ length: 150 }, (_, i) => `leaf_${i}`);
    const hub = (i: number) => (i % 2 === 0 ? "hub_a" : "hub_b");
    const fan: Preview = {
      version: 1,
      graph: {
        added: [],
        removed: [],
        modified: ["hub_a", "hub_b"].map((key) => ({
          key,
          kind: "asset",
          owners: [],
          code: { from: "a", to: "b", sql: true },
          recompute: true,
        })),
        impact: leaves.map((key, i) => ({
          key,
          owners: [],
          because: [hub(i)],
          partitions: "the one partition",
          partitionCount: 1,
          broken: false,
        })),
        edges: leaves.map((to, i) => ({ from: hub(i), to })),
      },
      stacks: [],
      risks: [],
    };
    const full = renderMarkdown(fan, { limit: 1e9 });
    expect(full).toContain("<details><summary>152 assets: the changed ones and their downstream</summary>");
    const md = renderMarkdown(fan, { limit: Math.ceil((full.length - 1_000) / 0.99) });
    const lines = md.split("\n");
    expect(lines).toContain("<details><summary>60 assets: the changed ones and their downstream</summary>");
    expect(lines).toContain(
      "Drawn: the changed assets and their direct consumers, as many as fit; 92 assets and 92 edges left out (`tributary lineage` draws the whole graph).",
    );
    const graph = md.slice(md.indexOf("```mermaid"), md.indexOf("```\n", md.indexOf("```mermaid") + 3));
    expect(graph).toContain("\n  hub_b --> leaf_57\n");
    expect(graph).not.toContain("leaf_58");
    expect(md).not.toContain("<details><summary><code>hub_a</code>");
    expect(lines).toContain("| `leaf_149` | - | `hub_b` | the one partition |  |");
  });

  it("then cuts tables, keeping the breaking producer, the broken consumer and the flagged plan item", () => {
    const md = rendered.find(({ md }) => !detail(md).rows && detail(md).brokenRow)!.md;
    const lines = md.split("\n");
    expect(lines).toContain("| `orders` | modified | team:orders | schema (breaking), SQL |");
    expect(lines).toContain("| `customers` | team:growth | `orders` | the one partition | **breaks** |");
    expect(lines).toContain("- change store `raw`: retentionDays: 30 → 7 **data loss**");
    expect(lines).toContain(
      "Not drawn, to fit one comment: run `tributary diff --format json` for all, or `tributary lineage`.",
    );
    expect(
      lines.filter((l) => /^… and \d+ more \(run `tributary diff --format json` for all\)\.$/.test(l)).length,
    ).toBeGreaterThan(0);
  });

  it("and when the risks alone are too long, shortens each risk line but drops none", () => {
    const risks: Risk[] = Array.from({ length: 120 }, (_, i) => ({
      kind: "privilege-widening",
      stack: "prod-azure",
      asset: `asset_${i}`,
      subject: `urn:pulumi:prod-azure::tributary::azure-native:authorization:RoleAssignment::role-${i}`,
      message: `assigns Storage Blob Data Owner on the data account to asset_${i}'s identity: ${"x".repeat(260)}`,
    }));
    const preview: Preview = { ...small, risks };
    const cut = riskLines(renderMarkdown(preview, { limit: 30_000 }));
    expect(cut).toHaveLength(120);
    expect(cut[3]).toBe(
      `- \`prod-azure\` · \`asset_3\` · \`role-3\`: assigns Storage Blob Data Owner on the data account to asset_3's identity: ${"x".repeat(84)}…`,
    );
    expect(riskLines(renderMarkdown(preview, { limit: 12_000 }))).toEqual(
      risks.map((_, i) => `- \`prod-azure\` · \`asset_${i}\` · \`role-${i}\``),
    );
    // Then the subjects of each stack on one line, the assets left to the JSON.
    const grouped = renderMarkdown(preview, { limit: 3_000 });
    expect(grouped.length).toBeLessThanOrEqual(2_970);
    const lines = grouped.split("\n");
    const at = lines.indexOf("### ⚠️ Risks");
    expect(lines.slice(at, at + 8)).toEqual([
      "### ⚠️ Risks",
      "",
      "Too many to list one by one in a comment: each stack's risks on one line (run `tributary diff --format json` for all).",
      "",
      "**Privilege widening**",
      "",
      `- \`prod-azure\`: ${risks.map((_, i) => `\`role-${i}\``).join(", ")}`,
      "",
    ]);
    // Past that, the limit gives: no risk is dropped.
    expect(renderMarkdown(preview, { limit: 1_000 })).toBe(grouped);
  });

  it("fits 3,000 data-loss risks by writing each asset's on one line", () => {
    const resources: ResourceChange[] = Array.from({ length: 3_000 }, (_, i) => ({
      op: "delete",
      urn: `urn:pulumi:prod-aws::tributary::aws:s3/bucket:Bucket::d${i}`,
      type: "aws:s3/bucket:Bucket",
      name: `d${i}`,
      asset: `asset_${i % 300}`,
      dataLoss: true,
    }));
    const risks: Risk[] = resources.map((r) => ({
      kind: "data-loss",
      stack: "prod-aws",
      asset: r.asset!,
      subject: r.urn,
      message: `deletes Bucket ${r.name}: the data it holds is lost`,
    }));
    const md = renderMarkdown({
      version: 1,
      stacks: [{ stack: "prod-aws", source: "pulumi-preview", resources, summary: { delete: 3_000 } }],
      risks,
    });
    expect(md.length).toBeLessThanOrEqual(Math.floor(COMMENT_LIMIT * 0.99));
    const lines = riskLines(md);
    expect(lines).toHaveLength(300);
    expect(lines[7]).toBe(
      `- \`prod-aws\` · \`asset_7\`: ${Array.from({ length: 10 }, (_, k) => `\`d${7 + 300 * k}\``).join(", ")}`,
    );
    expect(md).toContain(
      "<details><summary>Resources of 300 assets, the flagged ones under Risks: 3000 to delete</summary>",
    );
  });

  it("never drops a risk, for any preview and limit", () => {
    const kinds = ["breaking-schema", "data-loss", "privilege-widening"] as const;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            kind: fc.constantFrom(...kinds),
            n: fc.nat(10_000),
            message: fc.string({ maxLength: 400 }),
          }),
          { maxLength: 60 },
        ),
        fc.integer({ min: 200, max: 8_000 }),
        (extra, limit) => {
          const risks: Risk[] = [
            ...small.risks,
            ...extra.map(({ kind, n, message }) => ({
              kind,
              ...(n % 3 === 0 ? {} : { stack: n % 3 === 1 ? "dev-aws" : "prod-gcp" }),
              ...(n % 5 === 0 ? {} : { asset: `asset_${n % 7}` }),
              subject: `item_${n}`,
              message,
            })),
          ];
          const md = renderMarkdown({ ...small, risks }, { limit });
          const section = riskLines(md).join("\n");
          // Each subject as often as the risks name it.
          for (const r of risks) {
            const span = `\`${r.subject}\``;
            expect(section.split(span).length - 1).toBe(risks.filter((x) => x.subject === r.subject).length);
          }
          // Over the limit only in a shortest form: no message left.
          if (md.length > Math.floor(limit * 0.99)) {
            for (const l of riskLines(md)) expect(l).toMatch(/^- `[^`]*`((, | · |: )`[^`]*`)*$/);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

const STACKS = ["dev-aws", "staging-gcp", "prod-azure"] as const;

/**
 * 1,000 assets in a binary tree (asset_i reads asset_(i-1)/2), 20 modified (every 50th), of which the
 * first 5 break both their consumers; every asset re-materialises. Three stacks of 3,000 resource changes each,
 * with a bucket replaced, a key deleted and a policy widened, and a plan that widens a grant and
 * shortens a retention.
 */
function bigPreview(): Preview {
  const key = (i: number) => `asset_${i}`;
  const changed = Array.from({ length: 20 }, (_, j) => j * 50);
  const breaking = new Set(changed.slice(0, 5));
  const children = (i: number) => [2 * i + 1, 2 * i + 2].filter((c) => c < 1_000);
  const broken = new Set([...breaking].flatMap(children));
  const modified: AssetModification[] = changed.map((i) => ({
    key: key(i),
    kind: "asset",
    owners: [`team:${i % 7}`],
    code: { from: `v${i}`, to: `v${i + 1}`, sql: true },
    ...(breaking.has(i)
      ? {
          schema: {
            columns: [{ kind: "removed", column: { name: "amount", type: "integer", nullable: false } }],
            verdict: "breaking",
            consumers: children(i).map((c) => ({
              consumer: key(c),
              verdict: "breaking",
              reads: ["amount"],
              readsFrom: "sql",
              reason: "reads amount, which was removed",
            })),
          },
        }
      : { schedule: { from: "cron 0 3 * * * (UTC)", to: "on upstream" } }),
    recompute: true,
  }));
  const changedSet = new Set(changed);
  const cause = (i: number): number => (changedSet.has(i) || i === 0 ? i : cause(Math.floor((i - 1) / 2)));
  const impact: Impact[] = Array.from({ length: 1_000 }, (_, i) => ({
    key: key(i),
    owners: [`team:${i % 7}`],
    because: [key(cause(i))],
    partitions: "all 27 partitions (daily from 2026-11-01)",
    partitionCount: 27,
    broken: broken.has(i),
  }));
  const edges: GraphDiff["edges"] = [
    ...Array.from({ length: 999 }, (_, i) => ({ from: key(Math.floor(i / 2)), to: key(i + 1) })),
    { from: key(50), to: key(999), removed: true },
  ];
  const risks: Risk[] = modified.flatMap((m) =>
    (m.schema?.consumers ?? []).map((c) => ({
      kind: "breaking-schema" as const,
      asset: c.consumer,
      subject: `${m.key} → ${c.consumer}`,
      message: `${c.consumer} ${c.reason}`,
    })),
  );
  const stacks: StackPreview[] = STACKS.map((stack) => {
    const urn = (type: string, name: string) => `urn:pulumi:${stack}::tributary::${type}::${name}`;
    const resources: ResourceChange[] = Array.from({ length: 3_000 }, (_, i) => {
      const name = `trib-${stack}-asset-${i % 1_000}-fn-${i}`;
      return {
        op: i % 3 === 0 ? "create" : "update",
        urn: urn("aws:lambda/function:Function", name),
        type: "aws:lambda/function:Function",
        name,
        asset: key(i % 1_000),
        ...(i % 3 === 0
          ? { unknown: ["arn"] }
          : { changed: ["environment.variables.TRIBUTARY_CODE", "memorySize"] }),
      };
    });
    const bucket = `trib-${stack}-asset-100-data`;
    const policy = `trib-${stack}-asset-7-policy`;
    const keyName = `trib-${stack}-key`;
    resources.push(
      {
        op: "replace",
        urn: urn("aws:s3/bucket:Bucket", bucket),
        type: "aws:s3/bucket:Bucket",
        name: bucket,
        asset: key(100),
        changed: ["bucket", "tags.team"],
        replaceKeys: ["bucket"],
        dataLoss: true,
      },
      {
        op: "update",
        urn: urn("aws:iam/rolePolicy:RolePolicy", policy),
        type: "aws:iam/rolePolicy:RolePolicy",
        name: policy,
        asset: key(7),
        changed: ["policy"],
        widensPrivilege: true,
      },
      {
        op: "delete",
        urn: urn("aws:kms/key:Key", keyName),
        type: "aws:kms/key:Key",
        name: keyName,
        dataLoss: true,
      },
    );
    const plan: PlanItemChange[] = [
      ...changed.map((i) => ({
        section: "functions" as const,
        id: key(i),
        op: "change" as const,
        asset: key(i),
        fields: [`codeVersion: v${i} → v${i + 1}`],
      })),
      { section: "grants", id: "asset_7 write curated:curated/asset_7/", op: "add", asset: key(7) },
      { section: "stores", id: "raw", op: "change", fields: ["retentionDays: 30 → 5"] },
    ];
    risks.push(
      {
        kind: "data-loss",
        stack,
        asset: key(100),
        subject: urn("aws:s3/bucket:Bucket", bucket),
        message: `replaces Bucket ${bucket}: the data it holds is lost`,
      },
      {
        kind: "data-loss",
        stack,
        subject: urn("aws:kms/key:Key", keyName),
        message: `deletes Key ${keyName}: what it encrypts cannot be read again`,
      },
      {
        kind: "data-loss",
        stack,
        subject: `store raw (trib-${stack}-raw)`,
        message: "the raw store keeps objects 5 days instead of 30 days",
      },
      {
        kind: "privilege-widening",
        stack,
        asset: key(7),
        subject: urn("aws:iam/rolePolicy:RolePolicy", policy),
        message: "changes RolePolicy, which grants s3:DeleteObject on arn:aws:s3:::curated/*",
      },
      {
        kind: "privilege-widening",
        stack,
        asset: key(7),
        subject: "grant asset_7 write curated:curated/asset_7/",
        message: "asset_7 may now write curated:curated/asset_7/ (reads curated_orders)",
      },
    );
    return {
      stack,
      source: "synth",
      plan,
      resources,
      summary: { create: 1_000, update: 2_001, replace: 1, delete: 1, same: 4_000 },
    };
  });
  return { version: 1, graph: { added: [], removed: [], modified, impact, edges }, stacks, risks };
}

describe("the comment for 1,000 assets and 9,000 resource changes", () => {
  const big = bigPreview();
  const md = renderMarkdown(big);
  const lines = md.split("\n");

  it("fits one comment, with 1% to spare", () => {
    expect(md.length).toBeLessThanOrEqual(Math.floor(COMMENT_LIMIT * 0.99));
    expect(md.length).toBeGreaterThan(COMMENT_LIMIT * 0.9);
    expect(renderMarkdown(big)).toBe(md);
  });

  it("lists every risk whole", () => {
    expect(lines[3]).toBe(
      "⚠️ **25 risks** to review: 10 breaking schema changes, 9 data-loss risks, 6 privilege widenings.",
    );
    const listed = riskLines(md);
    expect(listed).toHaveLength(25);
    expect(listed.slice(0, 2)).toEqual([
      "- `asset_0 → asset_1`: asset_1 reads amount, which was removed",
      "- `asset_0 → asset_2`: asset_2 reads amount, which was removed",
    ]);
    expect(listed).toContain(
      "- `dev-aws` · `asset_100` · `trib-dev-aws-asset-100-data`: replaces Bucket trib-dev-aws-asset-100-data: the data it holds is lost",
    );
    expect(listed).toContain(
      "- `prod-azure` · `trib-prod-azure-key`: deletes Key trib-prod-azure-key: what it encrypts cannot be read again",
    );
    expect(listed).toContain(
      "- `staging-gcp` · `grant asset_7 write curated:curated/asset_7/`: asset_7 may now write curated:curated/asset_7/ (reads curated_orders)",
    );
    for (const r of big.risks) expect(md).toContain(`: ${r.message}\n`);
  });

  it("keeps every breaking consumer in the impact table", () => {
    const broken = big.graph!.impact.filter((i) => i.broken);
    expect(broken.map((i) => i.key)).toEqual(
      [1, 2, 101, 102, 201, 202, 301, 302, 401, 402].map((n) => `asset_${n}`),
    );
    for (const i of broken) {
      expect(lines).toContain(
        `| \`${i.key}\` | team:${Number(i.key.slice(6)) % 7} | \`${i.because[0]}\` | all 27 partitions (daily from 2026-11-01) | **breaks** |`,
      );
    }
    expect(lines).toContain("1000 assets, 27000 partitions in all; 10 broken.");
    expect(md).toMatch(/\n… and \d+ more \(run `tributary diff --format json` for all\)\.\n/);
  });

  it("keeps every flagged resource and plan item in its stack", () => {
    for (const stack of STACKS) {
      const section = md
        .slice(md.indexOf(`### Stack \`${stack}\``))
        .split("\n### ")[0]!
        .split("\n");
      expect(section).toContain(
        `- replace \`aws:s3/bucket:Bucket\` \`trib-${stack}-asset-100-data\` **data loss** (replaced because \`bucket\` changed; also changes \`tags.team\`)`,
      );
      expect(section).toContain(
        `- update \`aws:iam/rolePolicy:RolePolicy\` \`trib-${stack}-asset-7-policy\` **widens privilege** (changes \`policy\`)`,
      );
      expect(section).toContain(`- delete \`aws:kms/key:Key\` \`trib-${stack}-key\` **data loss**`);
      expect(section).toContain("- add grant `asset_7 write curated:curated/asset_7/` **widens privilege**");
      expect(section).toContain("- change store `raw`: retentionDays: 30 → 5 **data loss**");
    }
  });
});
