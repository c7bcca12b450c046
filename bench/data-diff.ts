/**
 * Data comparison benchmark: one asset of 1,000,000 rows at two revisions, 1% of its rows changed (and
 * with --adds 0.1% added and 0.1% removed), compared by `compareRows` (runtime/engine/compare.ts: counts by key,
 * every column's stats, checksums, top changes, example rows) against a raw DuckDB full outer join on
 * the key computing the same counts (added, removed, changed, changed per column), over the same two
 * Parquet files in the same process, with the same DuckDB settings.
 *
 *   npx tsx bench/data-diff.ts        (5 timed runs of each side after one warm-up)
 *   npx tsx bench/data-diff.ts 9      (9 timed runs)
 *
 * Then, unless `--no-pipeline`, the whole `tributary diff --data --no-synth` of the reference pipeline
 * for a change to daily_revenue, in a throwaway git repository (the 60 s budget).
 *
 * Target: compareRows / raw join ≤ 1.5; the reference pipeline's `diff --data` < 60 s.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Type } from "../src/kit/index.ts";
import { compareRows, PARTITION_COLUMN } from "../src/runtime/engine/compare.ts";
import { Duck } from "../src/runtime/engine/duckdb.ts";

const ROWS = 1_000_000;
const RUNS = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
const TARGET = 1.5;
const ADDS = process.argv.includes("--adds");
const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

const schema = Type.Object({
  order_id: Type.Integer(),
  customer_id: Type.Integer(),
  status: Type.String(),
  amount_cents: Type.Integer(),
  score: Type.Number(),
  day: Type.String({ format: "date" }),
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-data-diff-"));
  const duck = await Duck.open();
  try {
    const base = join(dir, "base.parquet");
    const head = join(dir, "head.parquet");
    const rows = `SELECT range AS order_id, (range * 2654435761) % 50000 AS customer_id,
        ['paid', 'shipped', 'pending', 'refunded'][CAST(range % 4 AS INTEGER) + 1] AS status,
        (range * 7919) % 100000 AS amount_cents, ((range * 31) % 1000) / 10.0 AS score,
        DATE '2026-01-01' + CAST(range % 365 AS INTEGER) AS day FROM range(${ROWS})`;
    await duck.run(`COPY (${rows}) TO '${base}' (FORMAT parquet, COMPRESSION zstd)`);
    // 1% changed (every 100th row: amount, and status for half of them); with --adds, 0.1% removed and 0.1% added too.
    await duck.run(
      `COPY (SELECT order_id, customer_id,
          CASE WHEN order_id % 200 = 0 THEN 'refunded' ELSE status END AS status,
          CASE WHEN order_id % 100 = 0 THEN amount_cents + 1 ELSE amount_cents END AS amount_cents, score, day
        FROM read_parquet('${base}')${
          ADDS
            ? ` WHERE order_id % 1000 <> 7
        UNION ALL SELECT range + ${ROWS}, 1, 'paid', 100, 1.0, DATE '2026-06-01' FROM range(${ROWS / 1000})`
            : ""
        })
       TO '${head}' (FORMAT parquet, COMPRESSION zstd)`,
    );
    const read = (f: string) =>
      `SELECT '' AS ${PARTITION_COLUMN}, order_id, customer_id, status, amount_cents, score, day FROM read_parquet('${f}')`;
    const ours = () =>
      compareRows(duck, {
        asset: "orders",
        schema,
        base: read(base),
        head: read(head),
        key: { columns: ["order_id"], from: "unique check" },
        examples: 20,
      });
    const cols = ["customer_id", "status", "amount_cents", "score", "day"];
    const raw = () =>
      duck.rows(`SELECT count(*) FILTER (WHERE b.order_id IS NULL) AS added,
          count(*) FILTER (WHERE h.order_id IS NULL) AS removed,
          count(*) FILTER (WHERE b.order_id IS NOT NULL AND h.order_id IS NOT NULL AND (${cols.map((c) => `b.${c} IS DISTINCT FROM h.${c}`).join(" OR ")})) AS changed,
          ${cols.map((c) => `count(*) FILTER (WHERE b.order_id IS NOT NULL AND h.order_id IS NOT NULL AND b.${c} IS DISTINCT FROM h.${c}) AS ${c}`).join(", ")}
        FROM read_parquet('${base}') b FULL JOIN read_parquet('${head}') h ON b.order_id = h.order_id`);

    const first = await ours();
    const [baseline] = await raw();
    const same =
      Number(baseline!.added) === first.rows!.added &&
      Number(baseline!.removed) === first.rows!.removed &&
      Number(baseline!.changed) === first.rows!.changed &&
      cols.every((c) => Number(baseline![c]) === first.columns!.find((x) => x.name === c)!.changed);
    if (!same)
      throw new Error(`the counts differ: ${JSON.stringify(first.rows)} vs ${JSON.stringify(baseline)}`);
    console.log(
      `${ROWS.toLocaleString("en")} rows: +${first.rows!.added} −${first.rows!.removed} ~${first.rows!.changed} (the raw join agrees)`,
    );
    const t: { ours: number[]; raw: number[] } = { ours: [], raw: [] };
    for (let i = 0; i < RUNS; i++) {
      // Alternated, so load on the shared machine falls on both alike.
      let t0 = performance.now();
      await raw();
      t.raw.push(performance.now() - t0);
      t0 = performance.now();
      await ours();
      t.ours.push(performance.now() - t0);
    }
    const ratio = median(t.ours) / median(t.raw);
    console.log(
      `compareRows ${median(t.ours).toFixed(0)} ms, raw full outer join ${median(t.raw).toFixed(0)} ms: ratio ${ratio.toFixed(2)} (target ≤ ${TARGET}) [${RUNS} runs, medians; ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}]`,
    );
  } finally {
    duck.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (!process.argv.includes("--no-pipeline")) pipeline();
}

/** `tributary diff --data` of the reference pipeline for a change making daily_revenue exclude refunds. */
function pipeline(): void {
  const dir = mkdtempSync(join(tmpdir(), "bench-data-diff-repo-"));
  try {
    const project = join(REPO, "examples/commerce");
    for (const p of ["assets", "stacks", "tributary.config.ts", "Pulumi.yaml", "deploy.ts"]) {
      cpSync(join(project, p), join(dir, p), { recursive: true });
    }
    writeFileSync(join(dir, "package.json"), '{ "name": "bench", "private": true, "type": "module" }\n');
    writeFileSync(join(dir, ".gitignore"), "node_modules\n");
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=b", "-c", "user.email=b@example.com", ...args], { cwd: dir });
    git("init", "--quiet");
    git("add", "--all");
    git("commit", "--quiet", "-m", "base");
    const file = join(dir, "assets/commerce/index.ts");
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace("IN ('paid', 'shipped', 'refunded')", "IN ('paid', 'shipped')"));
    git("commit", "--quiet", "-am", "head");
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [
        join(REPO, "bin/tributary.js"),
        "diff",
        "--base",
        "HEAD~1",
        "--data",
        "--no-synth",
        "--format",
        "json",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`tributary diff --data failed: ${r.stderr}`);
    const data = JSON.parse(r.stdout).data as { assets: { key: string; verdict: string }[] };
    console.log(
      `reference pipeline: tributary diff --data --no-synth ${s.toFixed(1)} s (target < 60 s): ${data.assets.map((a) => `${a.key} ${a.verdict}`).join(", ")}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
