import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../../infra/preview/markdown.ts";
import { previewMermaid } from "../../infra/preview/mermaid.ts";
import type { GraphDiff, Preview, ResourceChange, Risk } from "../../infra/preview/types.ts";

const graph: GraphDiff = {
  added: [
    {
      key: "big_spenders",
      kind: "asset",
      owners: ["team:growth"],
      group: "shop",
      partitions: "unpartitioned",
    },
  ],
  removed: [{ key: "end", kind: "asset", owners: [], group: "shop", partitions: "unpartitioned" }],
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
        ],
      },
      code: { from: "aaa", to: "bbb", sql: true },
      recompute: true,
    },
    {
      key: "customers",
      kind: "asset",
      owners: ["team:growth | ops"],
      schedule: { from: "cron 0 3 * * * (UTC)", to: "cron 0 5 * * * (UTC)" },
      recompute: false,
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
      owners: ["team:growth | ops"],
      because: ["orders"],
      partitions: "the one partition",
      partitionCount: 1,
      broken: true,
    },
  ],
  edges: [
    { from: "events", to: "orders" },
    { from: "orders", to: "customers" },
    { from: "customers", to: "end", removed: true },
    { from: "customers", to: "big_spenders" },
  ],
};

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
    subject: "urn:pulumi:dev-aws::tributary::tributary:aws:Store$aws:s3/bucket:Bucket::shop-dev-raw",
    message: "deletes Bucket shop-dev-raw: the data it holds is lost",
  },
];

const small: Preview = {
  version: 1,
  base: { ref: "origin/main", commit: "1111111aaaa" },
  head: { ref: "HEAD", commit: "2222222bbbb" },
  graph,
  stacks: [
    {
      stack: "dev-aws",
      cloud: "aws",
      source: "synth",
      plan: [{ section: "stores", id: "raw", op: "change", fields: ["retentionDays: 30 → 7"] }],
      resources: [
        {
          op: "delete",
          urn: risks[1]!.subject,
          type: "aws:s3/bucket:Bucket",
          name: "shop-dev-raw",
          dataLoss: true,
        },
        {
          op: "update",
          urn: "urn:pulumi:dev-aws::tributary::aws:scheduler/schedule:Schedule::shop-dev-customers-schedule",
          type: "aws:scheduler/schedule:Schedule",
          name: "shop-dev-customers-schedule",
          asset: "customers",
          changed: ["scheduleExpression"],
        },
      ],
      summary: { delete: 1, update: 1, same: 80 },
    },
  ],
  risks,
};

describe("the comment", () => {
  const md = renderMarkdown(small);
  const lines = md.split("\n");

  it("starts with the marker the workflow finds it by, then the revisions and the verdict", () => {
    expect(lines.slice(0, 7)).toEqual([
      "<!-- tributary-preview -->",
      "## Tributary preview",
      "",
      "`origin/main` 1111111 → `HEAD` 2222222",
      "",
      "⚠️ **2 risks** to review: 1 breaking schema change, 1 data-loss risk.",
      "",
    ]);
  });

  it("lists every risk before anything else", () => {
    const at = lines.indexOf("### ⚠️ Risks");
    expect(lines.slice(at, at + 9)).toEqual([
      "### ⚠️ Risks",
      "",
      "**Breaking schema changes**",
      "",
      "- `orders → customers`: customers reads customer_id, which was removed (renamed to customer_ref?)",
      "",
      "**Data loss**",
      "",
      "- `dev-aws` · `shop-dev-raw`: deletes Bucket shop-dev-raw: the data it holds is lost",
    ]);
    expect(at).toBeLessThan(lines.indexOf("### Assets"));
  });

  it("tables the assets, escaping what would break a table", () => {
    expect(lines).toContain("| `orders` | modified | team:orders | schema (breaking), SQL |");
    expect(lines).toContain("| `customers` | modified | team:growth \\| ops | schedule |");
    expect(lines).toContain("| `big_spenders` | added | team:growth | asset, unpartitioned |");
    expect(lines).toContain(
      "| `customers` | breaking | customer_id (sql) | reads customer_id, which was removed (renamed to customer_ref?) |",
    );
    expect(lines).toContain(
      "| `customers` | team:growth \\| ops | `orders` | the one partition | **breaks** |",
    );
  });

  it("draws the graph styled by change, the removed edge dashed", () => {
    expect(lines).toContain("```mermaid");
    expect(lines).toContain("  customers -.-> end_");
    expect(lines).toContain('  end_(["end"])');
    expect(lines).toContain("  class orders,customers breaking");
    expect(lines).toContain("  class big_spenders added");
    expect(lines).toContain("  class end_ removed");
  });

  it("gives each stack its plan and resources, flags spelled out", () => {
    expect(lines).toContain("### Stack `dev-aws` (aws)");
    expect(lines).toContain(
      "From the Pulumi program synthesised at both revisions: 1 to update, 1 to delete, 80 unchanged.",
    );
    expect(lines).toContain("- change store `raw`: retentionDays: 30 → 7");
    expect(lines).toContain("- delete `aws:s3/bucket:Bucket` `shop-dev-raw` **data loss**");
    expect(lines).toContain(
      "- update `aws:scheduler/schedule:Schedule` `shop-dev-customers-schedule` (changes `scheduleExpression`)",
    );
  });

  it("says so when nothing changed", () => {
    const none = renderMarkdown({
      version: 1,
      graph: { added: [], removed: [], modified: [], impact: [], edges: [] },
      stacks: [{ stack: "dev-aws", source: "plan", plan: [], summary: {} }],
      risks: [],
    });
    expect(none).toContain("✅ No breaking change, data loss or privilege widening.");
    expect(none).toContain("No changes: the graph and every stack are the same at both revisions.");
  });
});

describe("a comment too large for GitHub", () => {
  // 1,000 assets, 20 modified of which 5 break a consumer each; 3 stacks of 3,000 resource changes.
  const modified = Array.from({ length: 20 }, (_, i) => ({
    key: `asset_${i * 50}`,
    kind: "asset" as const,
    owners: [`team:${i}`],
    code: { from: "a", to: "b", sql: true },
    ...(i % 4 === 0
      ? {
          schema: {
            columns: [
              { kind: "removed" as const, column: { name: "amount", type: "integer", nullable: false } },
            ],
            verdict: "breaking" as const,
            consumers: [
              {
                consumer: `asset_${i * 50 + 1}`,
                verdict: "breaking" as const,
                reads: ["amount"],
                readsFrom: "sql" as const,
                reason: "reads amount, which was removed",
              },
            ],
          },
        }
      : {}),
    recompute: true,
  }));
  const impact = Array.from({ length: 980 }, (_, i) => ({
    key: `asset_${i + 20}`,
    owners: [`team:${i % 7}`],
    because: [`asset_${(i % 20) * 50}`],
    partitions: "all 27 partitions (daily from 2026-11-01)",
    partitionCount: 27,
    broken: i % 100 === 0,
  }));
  const edges = impact.map((i, n) => ({ from: `asset_${n}`, to: i.key }));
  const bigRisks: Risk[] = [
    ...modified
      .filter((m) => m.schema)
      .map((m) => ({
        kind: "breaking-schema" as const,
        asset: m.schema!.consumers[0]!.consumer,
        subject: `${m.key} → ${m.schema!.consumers[0]!.consumer}`,
        message: `${m.schema!.consumers[0]!.consumer} reads amount, which was removed`,
      })),
  ];
  const stacks = ["dev-aws", "staging-gcp", "prod-azure"].map((stack) => {
    const resources: ResourceChange[] = Array.from({ length: 3000 }, (_, i) => ({
      op: i % 3 === 0 ? "create" : "update",
      urn: `urn:pulumi:${stack}::tributary::t::r${i}`,
      type: "aws:lambda/function:Function",
      name: `trib-${stack}-asset-${i}-function`,
      asset: `asset_${i % 1000}`,
      changed: ["environment.variables.TRIBUTARY_CODE", "memorySize"],
      ...(i === 7 ? { widensPrivilege: true } : {}),
    }));
    bigRisks.push({
      kind: "privilege-widening",
      stack,
      asset: "asset_7",
      subject: resources[7]!.urn,
      message: "changes Function, which grants s3:GetObject on arn:aws:s3:::x/*",
    });
    bigRisks.push({
      kind: "data-loss",
      stack,
      subject: `store raw (trib-${stack}-raw)`,
      message: "keeps 5 days instead of 30",
    });
    return {
      stack,
      source: "synth" as const,
      resources,
      summary: { create: 1000, update: 2000, same: 5000 },
    };
  });
  const big: Preview = {
    version: 1,
    graph: { added: [], removed: [], modified, impact, edges },
    stacks,
    risks: bigRisks,
  };
  const md = renderMarkdown(big);

  it("fits one comment", () => {
    expect(md.length).toBeLessThanOrEqual(65_536);
    expect(md.length).toBeGreaterThan(30_000);
  });

  it("still lists every risk and every breaking consumer", () => {
    for (const r of bigRisks)
      expect(md).toContain(r.subject.startsWith("urn:") ? r.subject.split("::").pop()! : r.subject);
    expect(bigRisks.filter((r) => r.kind === "breaking-schema")).toHaveLength(5);
    expect(md).toContain(
      "⚠️ **11 risks** to review: 5 breaking schema changes, 3 data-loss risks, 3 privilege widenings.",
    );
  });

  it("says what it left out and where to see it all", () => {
    expect(md).toContain("(run `tributary diff --format json` for all).");
  });

  it("keeps the risks whole even when the limit is tiny", () => {
    const tiny = renderMarkdown(big, { limit: 2_000 });
    for (const r of bigRisks)
      expect(tiny).toContain(r.subject.startsWith("urn:") ? r.subject.split("::").pop()! : r.subject);
  });
});

describe("the Mermaid graph alone", () => {
  it("draws only changed assets and their consumers past the node limit", () => {
    const m = previewMermaid(graph, { maxNodes: 4 });
    expect(m.shown).toBe(4);
    expect(m.omitted).toBe(1);
    expect(m.text).not.toContain("events");
    expect(m.text.split("\n")[0]).toBe("flowchart LR");
  });
});
