/**
 * `tributary diff` on a throwaway git repository with two commits: the head renames a column a consumer
 * reads, adds an asset, changes a schedule, removes an edge and shortens the raw store's retention.
 * The CLI runs in a child process, as a user runs it, from the project's folder.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderMarkdown } from "../../src/infra/preview/markdown.ts";
import type { Preview } from "../../src/infra/preview/types.ts";
import { tributary } from "../cli/run.ts";
import { awsStack, type Project, project } from "./project.ts";

const SCHEMAS = `
const Event = Type.Object({
  event_id: Type.String(),
  event_time: Type.String({ format: "date-time" }),
  customer_id: Type.String(),
  amount: Type.Number(),
});
`;

const BASE = `import { asset, cron, defineGraph, onUpstream, source, Type } from "tributary";
${SCHEMAS}
const events = source("events", {
  group: "shop", schema: Event, eventId: "event_id", eventTime: "event_time", owners: ["team:ingest"],
});
const orders = asset("orders", {
  group: "shop", deps: [events], owners: ["team:orders"], trigger: onUpstream(),
  schema: Type.Object({ order_id: Type.String(), customer_id: Type.String(), amount: Type.Number() }),
  sql: "SELECT event_id AS order_id, customer_id, amount FROM events",
});
const customers = asset("customers", {
  group: "shop", deps: [orders], owners: ["team:growth"], schedule: cron("0 3 * * *"),
  schema: Type.Object({ customer_id: Type.String(), total: Type.Number() }),
  sql: "SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id",
});
const revenue = asset("revenue", {
  group: "shop", deps: [orders, customers], owners: ["team:finance"], schedule: cron("0 4 * * *"),
  schema: Type.Object({ revenue: Type.Number(), buyers: Type.Integer() }),
  sql: "SELECT sum(o.amount) AS revenue, count(DISTINCT c.customer_id) AS buyers FROM orders o JOIN customers c ON o.amount > 0",
});
export default defineGraph([events, orders, customers, revenue]);
`;

const HEAD = `import { asset, cron, defineGraph, onUpstream, source, Type } from "tributary";
${SCHEMAS}
const events = source("events", {
  group: "shop", schema: Event, eventId: "event_id", eventTime: "event_time", owners: ["team:ingest"],
});
const orders = asset("orders", {
  group: "shop", deps: [events], owners: ["team:orders"], trigger: onUpstream(),
  schema: Type.Object({ order_id: Type.String(), customer_ref: Type.String(), amount: Type.Number() }),
  sql: "SELECT event_id AS order_id, customer_id AS customer_ref, amount FROM events",
});
const customers = asset("customers", {
  group: "shop", deps: [orders], owners: ["team:growth"], schedule: cron("0 5 * * *", "Europe/Berlin"),
  schema: Type.Object({ customer_id: Type.String(), total: Type.Number() }),
  sql: "SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id",
});
const revenue = asset("revenue", {
  group: "shop", deps: [orders], owners: ["team:finance"], schedule: cron("0 4 * * *"),
  schema: Type.Object({ revenue: Type.Number(), buyers: Type.Integer() }),
  sql: "SELECT sum(amount) AS revenue, count(DISTINCT customer_ref) AS buyers FROM orders",
});
const bigSpenders = asset("big_spenders", {
  group: "shop", deps: [customers], owners: ["team:growth"], trigger: onUpstream(),
  schema: Type.Object({ customer_id: Type.String() }),
  sql: "SELECT customer_id FROM customers WHERE total > 1000",
});
export default defineGraph([events, orders, customers, revenue, bigSpenders]);
`;

let p: Project;
let preview: Preview;
let stderr: string;
beforeAll(async () => {
  p = project();
  p.commit({ "assets/index.ts": BASE, "stacks/Pulumi.dev-aws.yaml": awsStack(["shop"], 30) }, "base");
  p.commit({ "assets/index.ts": HEAD, "stacks/Pulumi.dev-aws.yaml": awsStack(["shop"], 7) }, "head");
  const out = path.join(p.dir, "preview.json");
  const r = await tributary(
    ["diff", "--base", "HEAD~1", "--head", "HEAD", "--format", "json", "--out", out, "--exit-code"],
    p.dir,
  );
  stderr = r.stderr;
  expect(r.code, r.stderr).toBe(1);
  preview = JSON.parse(fs.readFileSync(out, "utf8")) as Preview;
}, 180_000);
afterAll(() => p?.remove());

describe("tributary diff between two commits", () => {
  it("names both revisions and says what it does", () => {
    expect(preview.base).toEqual({ ref: "HEAD~1", commit: p.git("rev-parse", "HEAD~1") });
    expect(preview.head).toEqual({ ref: "HEAD", commit: p.git("rev-parse", "HEAD") });
    expect(stderr).toContain("tributary: comparing stack dev-aws…");
    // The worktree is gone.
    expect(p.git("worktree", "list").split("\n")).toHaveLength(1);
  });

  it("lists the added asset and the modified ones, with what changed", () => {
    const g = preview.graph!;
    expect(g.added).toEqual([
      {
        key: "big_spenders",
        kind: "asset",
        owners: ["team:growth"],
        group: "shop",
        partitions: "unpartitioned",
      },
    ]);
    expect(g.removed).toEqual([]);
    expect(g.modified.map((m) => m.key)).toEqual(["orders", "customers", "revenue"]);
    const [orders, customers, revenue] = g.modified;
    expect(orders!.schema!.columns).toEqual([
      {
        kind: "removed",
        column: { name: "customer_id", type: "string", nullable: false },
        renamedTo: "customer_ref",
      },
      { kind: "added", column: { name: "customer_ref", type: "string", nullable: false } },
    ]);
    expect(orders!.schema!.verdict).toBe("breaking");
    // Its Iceberg table cannot take the renamed column as required (old rows have no value for it).
    expect(orders!.table).toEqual({
      unevolvable: ['required column "customer_ref" is added without a default, which Iceberg cannot evolve'],
    });
    expect(orders!.code?.sql).toBe(true);
    expect(orders!.recompute).toBe(true);
    expect(customers!.schedule).toEqual({
      from: "cron 0 3 * * * (UTC)",
      to: "cron 0 5 * * * (Europe/Berlin)",
    });
    expect(customers!.recompute).toBe(false);
    expect(revenue!.dependencies).toEqual({ added: [], removed: ["customers"], changed: [] });
    expect(revenue!.recompute).toBe(true);
  });

  it("gives each consumer of the renamed column its verdict", () => {
    expect(preview.graph!.modified[0]!.schema!.consumers).toEqual([
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
        reads: [],
        readsFrom: "sql",
        reason: "reads none of the changed columns",
      },
    ]);
  });

  it("finds every asset downstream that goes stale, with its owners and why", () => {
    expect(preview.graph!.impact).toEqual([
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
    ]);
    expect(preview.graph!.edges).toContainEqual({ from: "customers", to: "revenue", removed: true });
  });

  it("compares the stack's plans: retention, schedule, the new function, the removed grant", () => {
    const s = preview.stacks.find((x) => x.stack === "dev-aws")!;
    expect(s.cloud).toBe("aws");
    const plan = s.plan!;
    expect(plan.find((c) => c.section === "stores" && c.id === "raw")).toEqual({
      section: "stores",
      id: "raw",
      op: "change",
      fields: ["retentionDays: 30 → 7"],
    });
    expect(plan.find((c) => c.section === "triggers" && c.id === "customers")?.fields).toEqual([
      "cron: 0 3 * * * → 0 5 * * *",
      "timezone: UTC → Europe/Berlin",
    ]);
    expect(plan.filter((c) => c.section === "functions" && c.op === "add").map((c) => c.id)).toEqual([
      "big_spenders",
    ]);
    expect(plan.filter((c) => c.section === "grants" && c.op === "remove").map((c) => c.id)).toContain(
      "revenue on curated:curated/customers/",
    );
  });

  it("reports the synthesised resources that change", () => {
    const s = preview.stacks.find((x) => x.stack === "dev-aws")!;
    expect(s.source).toBe("synth");
    const resources = s.resources!;
    const created = resources.filter((r) => r.op === "create");
    expect(created.length).toBeGreaterThan(5);
    expect(created.every((r) => r.asset === "big_spenders")).toBe(true);
    const lifecycle = resources.filter((r) => r.op === "update" && r.type.includes("Lifecycle"));
    expect(lifecycle.map((r) => r.name)).toEqual(["shop-dev-raw-lifecycle"]);
    const schedule = resources.find(
      (r) => r.type === "aws:scheduler/schedule:Schedule" && r.asset === "customers",
    );
    expect(schedule?.op).toBe("update");
    // Its description names the cron too.
    expect(schedule?.changed).toEqual(["description", "scheduleExpression", "scheduleExpressionTimezone"]);
    expect(resources.filter((r) => r.op === "delete" || r.op === "replace")).toEqual([]);
  });

  it("flags the breaking consumer and the shorter retention as risks, and nothing else", () => {
    expect(preview.risks.map((r) => [r.kind, r.subject])).toEqual([
      ["breaking-schema", "orders → customers"],
      // Named as the dev-aws stack's catalog has the table: its Glue database is the stack's prefix.
      ["breaking-schema", "table shop_dev.orders"],
      ["data-loss", "store raw (shop-dev-raw)"],
    ]);
  });

  it("renders the comment with the risks first", () => {
    const md = renderMarkdown(preview);
    expect(md.startsWith("<!-- tributary-preview -->\n")).toBe(true);
    expect(md.indexOf("orders → customers")).toBeLessThan(md.indexOf("big_spenders"));
    expect(md).toContain("```mermaid");
    expect(md.length).toBeLessThan(65_536);
  });

  it("prints Markdown by default and exits 0 without --exit-code", async () => {
    const r = await tributary(["diff", "--base", "HEAD~1", "--no-synth"], p.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("<!-- tributary-preview -->");
    expect(r.stdout).toContain("orders → customers");
  });

  it("says which ref is unknown, without a stack trace", async () => {
    const r = await tributary(["diff", "--base", "origin/nope", "--no-synth"], p.dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `tributary: no git revision "origin/nope" in ${fs.realpathSync(p.dir)}. Check the name, or fetch it first (e.g. \`git fetch origin main\` for origin/main); tributary diff never fetches.\n`,
    );
  });
});
