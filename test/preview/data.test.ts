/**
 * `tributary diff --data` on a throwaway git repository holding the reference pipeline (examples/commerce):
 * a commit making daily_revenue exclude refunds, a refactor of curated_orders' SQL that changes no row,
 * and a commit declaring "no data change" on daily_revenue while changing its data. The expected row
 * and column changes are computed here, apart, with DuckDB over the curated orders the pipeline
 * materialises from the same sample data.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AssetDataDiff, ExampleRow } from "../../src/contract/data-diff.ts";
import { renderMarkdown } from "../../src/infra/preview/markdown.ts";
import type { Preview } from "../../src/infra/preview/types.ts";
import { describeRow } from "../../src/runtime/engine/compare.ts";
import { EXAMPLE, REPO, tributary } from "../cli/run.ts";

const INDEX = "assets/commerce/index.ts";
const REVENUE_WHERE = "WHERE o.order_date = CAST(p.time_key AS DATE)";
const NO_REFUNDS = `${REVENUE_WHERE} AND o.status <> 'refunded'`;

let dir: string;
let git: (...args: string[]) => string;
const file = () => fs.readFileSync(path.join(dir, INDEX), "utf8");
function commit(edit: (text: string) => string, message: string): void {
  const before = file();
  const after = edit(before);
  expect(after).not.toBe(before);
  fs.writeFileSync(path.join(dir, INDEX), after);
  git("commit", "--quiet", "-am", message);
}
async function diffJson(
  ...args: string[]
): Promise<{ preview: Preview; code: number | null; stderr: string }> {
  const out = path.join(dir, "diff.json");
  const r = await tributary(
    ["diff", "--data", "--no-synth", "--stack", "dev-aws", "--format", "json", "--out", out, ...args],
    dir,
  );
  return { preview: JSON.parse(fs.readFileSync(out, "utf8")) as Preview, code: r.code, stderr: r.stderr };
}

/** daily_revenue's SQL at each revision, over all days at once (a partition is one day × tenant). */
const revenue = (where: string) => `
  SELECT o.order_date, o.tenant_id, o.currency,
    CAST(count(*) FILTER (WHERE o.status IN ('paid', 'shipped', 'refunded')) AS BIGINT) AS orders,
    CAST(coalesce(sum(o.amount_cents) FILTER (WHERE o.status IN ('paid', 'shipped')), 0) AS BIGINT) AS revenue_cents,
    CAST(coalesce(sum(o.amount_cents) FILTER (WHERE o.status = 'refunded'), 0) AS BIGINT) AS refunded_cents,
    CAST(coalesce(round(avg(o.amount_cents) FILTER (WHERE o.status IN ('paid', 'shipped'))), 0) AS BIGINT) AS average_order_cents
  FROM curated_orders o
  WHERE o.order_date BETWEEN DATE '2026-11-01' AND current_date - 1 ${where}
  GROUP BY ALL`;
const VALUES = ["orders", "revenue_cents", "refunded_cents", "average_order_cents"];

let exclude: { preview: Preview; code: number | null };
let expected: {
  base: number;
  head: number;
  added: number;
  removed: number;
  changed: number;
  columns: Record<string, number>;
};
let refactor: Preview;
let broken: { code: number | null; stderr: string; preview: Preview };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-data-diff-project-"));
  for (const p of ["assets", "stacks", "tributary.config.ts", "Pulumi.yaml", "deploy.ts"]) {
    fs.cpSync(path.join(EXAMPLE, p), path.join(dir, p), { recursive: true });
  }
  fs.writeFileSync(
    path.join(dir, "package.json"),
    '{ "name": "data-diff", "private": true, "type": "module" }\n',
  );
  fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\n.tributary\nstore\ndiff.json\n");
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=T", "-c", "user.email=t@example.com", ...args], {
      cwd: dir,
      encoding: "utf8",
    }).trim();
  git("init", "--quiet", "--initial-branch=main");
  git("add", "--all");
  git("commit", "--quiet", "-m", "base");

  // The curated orders of the sample data, materialised at the base revision, for the independent answer.
  const store = path.join(dir, "store");
  const m = await tributary(["materialize", "curated_orders", "--store", store], dir);
  expect(m.code, m.stderr).toBe(0);
  const db = await (await DuckDBInstance.create(":memory:")).connect();
  await db.run(
    `CREATE VIEW curated_orders AS SELECT * FROM read_parquet('${store}/curated/curated_orders/**/*.parquet')`,
  );
  const rows = await db.runAndReadAll(`
    WITH b AS (${revenue("")}), h AS (${revenue("AND o.status <> 'refunded'")})
    SELECT (SELECT count(*) FROM b) AS base, (SELECT count(*) FROM h) AS head,
      count(*) FILTER (WHERE b.order_date IS NULL) AS added, count(*) FILTER (WHERE h.order_date IS NULL) AS removed,
      count(*) FILTER (WHERE b.order_date IS NOT NULL AND h.order_date IS NOT NULL AND (${VALUES.map((v) => `b.${v} <> h.${v}`).join(" OR ")})) AS changed,
      ${VALUES.map((v) => `count(*) FILTER (WHERE b.${v} <> h.${v}) AS c_${v}`).join(", ")}
    FROM b FULL JOIN h USING (order_date, tenant_id, currency)`);
  const r = rows.getRowObjectsJS()[0]!;
  expected = {
    base: Number(r.base),
    head: Number(r.head),
    added: Number(r.added),
    removed: Number(r.removed),
    changed: Number(r.changed),
    columns: Object.fromEntries(VALUES.map((v) => [v, Number(r[`c_${v}`])])),
  };
  db.closeSync();

  commit((t) => t.replace(REVENUE_WHERE, NO_REFUNDS), "daily_revenue excludes refunded orders");
  exclude = await diffJson("--base", "HEAD~1");

  commit(
    (t) =>
      t.replace(
        "CAST(timezone('UTC', created_at) AS DATE) AS order_date",
        "timezone('UTC', created_at)::DATE AS order_date",
      ),
    "curated_orders: the same date, written shorter",
  );
  refactor = (await diffJson("--base", "HEAD~1")).preview;

  commit(
    (t) =>
      t
        .replace(NO_REFUNDS, REVENUE_WHERE)
        .replace(
          `  schedule: cron("30 2 * * *"),`,
          `  schedule: cron("30 2 * * *"),\n  diff: { expect: "unchanged" },`,
        ),
    "daily_revenue: declared unchanged, though refunds count again",
  );
  broken = await diffJson("--base", "HEAD~1", "--exit-code");
}, 600_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const asset = (p: Preview, key: string): AssetDataDiff => p.data!.assets.find((a) => a.key === key)!;

describe("tributary diff --data, daily_revenue excluding refunds", () => {
  it("reports daily_revenue changed by exactly the rows and columns the two queries give", () => {
    expect(exclude.code).toBe(0);
    expect(expected.removed + expected.changed).toBeGreaterThan(0);
    const d = asset(exclude.preview, "daily_revenue");
    expect(d.verdict).toBe("changed");
    expect(d.match).toEqual({ by: "key", columns: ["order_date", "currency"], from: "unique check" });
    expect(d.rows).toEqual({
      base: expected.base,
      head: expected.head,
      added: expected.added,
      removed: expected.removed,
      changed: expected.changed,
    });
    const changedBy = Object.fromEntries(d.columns!.map((c) => [c.name, c.changed]));
    expect(changedBy).toEqual({
      ...expected.columns,
      order_date: 0,
      tenant_id: 0,
      currency: 0,
    });
    // The columns that moved most come first.
    expect(d.columns![0]!.changed).toBe(Math.max(...Object.values(expected.columns)));
    expect(d.checksum!.base).not.toBe(d.checksum!.head);
    const first = d.examples![0]!;
    expect(first.change).toBe("changed");
    expect(first.before!.refunded_cents).not.toBe(0);
    expect(first.after!.refunded_cents).toBe(0);
  });

  it("leaves out every asset not downstream of it", () => {
    expect(exclude.preview.data!.input).toEqual({ kind: "sample", from: "the graph module's sample data" });
    expect(exclude.preview.data!.assets.map((a) => a.key)).toEqual(["daily_revenue"]);
  });

  it("shows the verdict line and a changed example row in the comment", () => {
    const d = asset(exclude.preview, "daily_revenue");
    const md = renderMarkdown(exclude.preview);
    expect(md).toContain(
      `- \`daily_revenue\`: **changed**: +${d.rows!.added} −${d.rows!.removed} ~${d.rows!.changed} rows (${d.rows!.base} → ${d.rows!.head}), by key order\\_date, currency`,
    );
    const e = d.examples![0]!;
    const cells = (label: string, row: Readonly<Record<string, unknown>>) =>
      `| ${label} | ${e.partition.replace("|", "\\|")} | ${d
        .columns!.map((c) => {
          const v = String(row[c.name]).replaceAll("_", "\\_");
          return e.columns!.includes(c.name) ? `**${v}**` : v;
        })
        .join(" | ")} |`;
    expect(md).toContain(cells("before", e.before!));
    expect(md).toContain(cells("after", e.after!));
  });

  it("gives up the data lines first, and keeps breaking-change lines, under a tiny budget", () => {
    const risk = {
      kind: "breaking-schema" as const,
      asset: "customer_features",
      subject: "curated_orders → customer_features",
      message: "customer_features reads status, which was removed",
    };
    const p: Preview = { ...exclude.preview, risks: [risk] };
    const full = renderMarkdown(p);
    expect(full).toContain("First ");
    // Just too small for the data section's details: the verdict line stays, the examples go.
    const smaller = renderMarkdown(p, { limit: Math.ceil((full.length - 200) / 0.99) });
    expect(smaller).toContain("- `daily_revenue`: **changed**");
    expect(smaller).not.toContain("differing row");
    expect(smaller).toContain("customer_features reads status, which was removed");
    // Shrinking step by step: the breaking-change line is cut only once no data line is left, and the
    // examples go before the verdict line.
    const line = "- `curated_orders → customer_features`: customer_features reads status, which was removed";
    const seen = new Set<string>();
    for (let limit = full.length; limit >= 300; limit -= 25) {
      const md = renderMarkdown(p, { limit: Math.ceil(limit / 0.99) });
      const state = [md.includes(line), md.includes("- `daily_revenue`:"), md.includes("differing row")];
      if (!state[0]) expect(state.slice(1)).toEqual([false, false]);
      if (!state[1]) expect(state[2]).toBe(false);
      seen.add(state.join(" "));
    }
    expect([...seen]).toEqual(["true true true", "true true false", "true false false", "false false false"]);
  });
});

describe("tributary diff --data, a refactor", () => {
  it("finds every asset downstream of the rewritten SQL identical", () => {
    expect(
      refactor.data!.assets.map((a) => [a.key, a.verdict, a.rows!.added + a.rows!.removed + a.rows!.changed]),
    ).toEqual([
      ["curated_orders", "identical", 0],
      ["customer_features", "identical", 0],
      ["daily_revenue", "identical", 0],
      ["recommendation_features", "identical", 0],
      // An embedding asset is compared by its ledger: each row's key, tenant, text and the text's hash.
      ["recommendation_vectors", "identical", 0],
    ]);
    for (const a of refactor.data!.assets) expect(a.checksum!.base).toBe(a.checksum!.head);
    expect(asset(refactor, "daily_revenue").rows!.base).toBe(expected.head);
  });
});

describe("a declared expectation", () => {
  it("fails --exit-code naming the asset and its first differing row", () => {
    const before = asset(exclude.preview, "daily_revenue");
    const e = before.examples![0]!;
    // The same first row, now changing back.
    const back: ExampleRow = { ...e, before: e.after!, after: e.before! };
    const message = `daily_revenue declares no data change, but ${before.rows!.removed} added, ${before.rows!.added} removed, ${before.rows!.changed} changed rows; first differing row: ${describeRow(back, ["order_date", "currency"])}`;
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`tributary: ${message}\n`);
    expect(asset(broken.preview, "daily_revenue").expectation).toEqual({
      expect: "unchanged",
      held: false,
      message,
    });
    expect(broken.preview.risks).toContainEqual({
      kind: "data-expectation",
      asset: "daily_revenue",
      subject: "daily_revenue",
      message,
    });
  });
});

describe("bad input", () => {
  it("names a --replay folder that does not exist, in one line, exit 1", async () => {
    const missing = path.join(dir, "no-such-store");
    const r = await tributary(["diff", "--base", "HEAD~1", "--no-synth", "--replay", missing], dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe(
      `tributary: diff --data: --replay ${missing}: no such folder.`,
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe("");
  });

  it("refuses a folder that is neither a store nor event files per source", async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-empty-"));
    const r = await tributary(["diff", "--base", "HEAD~1", "--no-synth", "--replay", empty], dir);
    fs.rmSync(empty, { recursive: true });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe(
      `tributary: diff --data: --replay ${empty} is neither a store (no _manifests/) nor a folder of event files per source (no folder named customers_cdc or orders_cdc).`,
    );
  });
});
