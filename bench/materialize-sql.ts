/**
 * SQL materialisation benchmark: one SQL asset over 10,000,000 upstream rows, materialised by
 * Tributary (`materialize(..., { force: true })`: the Parquet file with its Iceberg field ids and
 * statistics, the commit into the asset's Iceberg table and its record), against the same SQL run directly
 * in DuckDB as `COPY (<sql over read_parquet(<the same upstream file>)>) TO '<tmp>.parquet' (FORMAT
 * parquet, COMPRESSION zstd)` in the same process, with the same (default) DuckDB settings.
 *
 *   npx tsx bench/materialize-sql.ts          (7 timed runs of each side after one warm-up)
 *   npx tsx bench/materialize-sql.ts 9        (9 timed runs)
 *   THREADS=1 npx tsx bench/materialize-sql.ts 5   (DuckDB on one thread on both sides: on a loaded
 *                                                    machine, two threads' CPU time swings twofold run to run)
 *
 * Setup (not timed): an upstream SQL asset generating 10M rows from range() is materialised once.
 * Workloads: all 10M rows copied (the largest file), a group-by per customer (100k groups) and a filter +
 * projection (~6.75M rows written).
 * The target rows use assets without checks; the "not_null + unique" rows add those checks on the key
 * (measured against the same raw baseline, for information). Wall time is the measure; the process's
 * CPU time is printed beside it as a cross-check when the machine is shared. A profiled pass (separate
 * from the timed runs) splits Tributary's time by DuckDB statement kind, beside a raw COPY of the same pass.
 *
 * Target: Tributary / raw DuckDB ≤ 1.15 for the assets without checks (issue 18: with the Iceberg commit).
 * On a shared machine wall time swings run to run; the CPU ratio beside it is the steadier measure.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { type AnyAsset, asset, defineGraph, notNull, Type, unique } from "../src/kit/index.ts";
import { Duck } from "../src/runtime/engine/duckdb.ts";
import { materialize } from "../src/runtime/engine/materialize.ts";
import { LocalStore } from "../src/runtime/storage/local.ts";

const ROWS = 10_000_000;
const CUSTOMERS = 100_000;
const TARGET_RATIO = 1.15;
const RUNS = Number(process.argv[2] ?? 7);
/** DuckDB threads on both sides (default: DuckDB's own choice, one per core). */
const THREADS = process.env.THREADS ? Number(process.env.THREADS) : undefined;
const duckConfig: Record<string, string> = THREADS ? { threads: String(THREADS) } : {};
if (THREADS) {
  const open = Duck.open.bind(Duck);
  Duck.open = (opts = {}) => open({ threads: THREADS, ...opts });
}

// ---------------------------------------------------------------------------------------------------
// The graph: one upstream asset generating the rows, and the downstream assets under test.

const UPSTREAM_SQL = `
SELECT
  range AS id,
  (range * 2654435761) % ${CUSTOMERS} AS customer_id,
  (range * 7919) % 10000 AS amount,
  DATE '2026-01-01' + CAST(range % 365 AS INTEGER) AS day,
  ['paid', 'shipped', 'pending', 'cancelled'][CAST((range // 7) % 4 AS INTEGER) + 1] AS status
FROM range(${ROWS})`;

const orders = asset("orders", {
  schema: Type.Object({
    id: Type.Integer(),
    customer_id: Type.Integer(),
    amount: Type.Integer(),
    day: Type.String({ format: "date" }),
    status: Type.String(),
  }),
  sql: UPSTREAM_SQL,
});

interface Workload {
  readonly name: string;
  /** The asset's SQL with its upstream table named `table`. */
  readonly sql: (table: string) => string;
  readonly plain: AnyAsset;
  readonly checked: AnyAsset;
}

const groupBySql = (t: string) =>
  `SELECT customer_id, count(*) AS orders, sum(amount) AS revenue, count(*) FILTER (WHERE status = 'paid') AS paid_orders, max(day) AS last_day FROM ${t} GROUP BY customer_id`;
const GroupBySchema = Type.Object({
  customer_id: Type.Integer(),
  orders: Type.Integer(),
  revenue: Type.Integer(),
  paid_orders: Type.Integer(),
  last_day: Type.String({ format: "date" }),
});

const filterSql = (t: string) =>
  `SELECT id, customer_id, amount, day FROM ${t} WHERE status <> 'cancelled' AND amount >= 1000`;
const FilterSchema = Type.Object({
  id: Type.Integer(),
  customer_id: Type.Integer(),
  amount: Type.Integer(),
  day: Type.String({ format: "date" }),
});

const allRowsSql = (t: string) => `SELECT id, customer_id, amount, day, status FROM ${t}`;
const AllRowsSchema = Type.Object({
  id: Type.Integer(),
  customer_id: Type.Integer(),
  amount: Type.Integer(),
  day: Type.String({ format: "date" }),
  status: Type.String(),
});

const workloads: Workload[] = [
  {
    name: "all 10M rows",
    sql: allRowsSql,
    plain: asset("orders_copy", { deps: [orders], schema: AllRowsSchema, sql: allRowsSql("orders") }),
    checked: asset("orders_copy_checked", {
      deps: [orders],
      schema: AllRowsSchema,
      sql: allRowsSql("orders"),
      checks: [notNull(["id"]), unique(["id"])],
    }),
  },
  {
    name: "group-by (100k groups)",
    sql: groupBySql,
    plain: asset("customer_totals", { deps: [orders], schema: GroupBySchema, sql: groupBySql("orders") }),
    checked: asset("customer_totals_checked", {
      deps: [orders],
      schema: GroupBySchema,
      sql: groupBySql("orders"),
      checks: [notNull(["customer_id"]), unique(["customer_id"])],
    }),
  },
  {
    name: "filter + projection",
    sql: filterSql,
    plain: asset("big_orders", { deps: [orders], schema: FilterSchema, sql: filterSql("orders") }),
    checked: asset("big_orders_checked", {
      deps: [orders],
      schema: FilterSchema,
      sql: filterSql("orders"),
      checks: [notNull(["id"]), unique(["id"])],
    }),
  },
];

const graph = defineGraph([orders, ...workloads.flatMap((w) => [w.plain, w.checked])]);

// ---------------------------------------------------------------------------------------------------
// Measuring.

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function timed(run: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

/** Wall time and the process's CPU time (every thread, user + system) of one run, in ms. */
interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

/**
 * CPU time is printed beside wall time because the machine may be shared: other processes stretch
 * wall time but hardly the CPU time the work itself needs.
 */
async function sampled(run: () => Promise<void>): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

/** One forced materialisation of `key` (and nothing else); fails loudly unless exactly it was materialised. */
async function tributary(store: LocalStore, key: string): Promise<void> {
  const r = await materialize(graph, store, { selection: key, force: true });
  if (r.counts.materialized !== 1 || r.counts.failed + r.counts.skipped !== 0) {
    const errors = r.outcomes.map((o) => ("error" in o ? o.error : o.status)).join("; ");
    throw new Error(`bench: materialising ${key} did not succeed: ${JSON.stringify(r.counts)} ${errors}`);
  }
}

let outN = 0;
/** The baseline: the same SQL, its upstream table replaced by read_parquet of the committed file. */
async function raw(connection: DuckDBConnection, dir: string, sql: string): Promise<void> {
  const out = join(dir, `raw-${++outN}.parquet`);
  await connection.run(`COPY (${sql}) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
  await rm(out, { force: true });
}

/** The same, opening a fresh in-memory DuckDB for the statement as `materialize` does for each run. */
async function rawFresh(dir: string, sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:", duckConfig);
  const connection = await instance.connect();
  try {
    await raw(connection, dir, sql);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------------
// Profiling: wrap Duck's methods and sum their time by the kind of statement.

type Kind =
  | "open DuckDB"
  | "close DuckDB"
  | "input views + this_partition"
  | "DESCRIBE"
  | "COPY … TO parquet"
  | "new-data view"
  | "check not_null"
  | "check unique"
  | "drop views"
  | "other SQL";

function kindOf(sql: string): Kind {
  const s = sql.trimStart();
  if (s.startsWith("DESCRIBE")) return "DESCRIBE";
  if (s.startsWith("COPY")) return "COPY … TO parquet";
  if (s.startsWith("CREATE OR REPLACE TEMP VIEW") && s.includes("AS SELECT * FROM read_parquet("))
    return "new-data view";
  if (s.startsWith("CREATE OR REPLACE TEMP VIEW")) return "input views + this_partition";
  if (s.includes("duckdb_views()") || s.startsWith("DROP")) return "drop views";
  if (s.startsWith("SELECT count(*)")) return "check not_null";
  if (s.startsWith("SELECT coalesce(")) return "check unique";
  return "other SQL";
}

class Profile {
  readonly ms = new Map<Kind, number>();
  readonly calls = new Map<Kind, number>();
  add(kind: Kind, ms: number): void {
    this.ms.set(kind, (this.ms.get(kind) ?? 0) + ms);
    this.calls.set(kind, (this.calls.get(kind) ?? 0) + 1);
  }
}

let profile: Profile | undefined;

function instrument(): void {
  const proto = Duck.prototype;
  const wrapSql = <K extends "run" | "rows" | "jsonRows">(name: K) => {
    const original = proto[name] as (this: Duck, sql: string) => Promise<unknown>;
    (proto as unknown as Record<K, (this: Duck, sql: string) => Promise<unknown>>)[name] = async function (
      this: Duck,
      sql: string,
    ) {
      const t0 = performance.now();
      try {
        return await original.call(this, sql);
      } finally {
        profile?.add(kindOf(sql), performance.now() - t0);
      }
    };
  };
  wrapSql("run");
  wrapSql("rows");
  wrapSql("jsonRows");
  // describe() calls rows("DESCRIBE ..."), which is counted there.
  const open = Duck.open.bind(Duck);
  Duck.open = async (opts) => {
    const t0 = performance.now();
    try {
      return await open(opts);
    } finally {
      profile?.add("open DuckDB", performance.now() - t0);
    }
  };
  const close = proto.close;
  proto.close = function (this: Duck) {
    const t0 = performance.now();
    try {
      close.call(this);
    } finally {
      profile?.add("close DuckDB", performance.now() - t0);
    }
  };
}

// ---------------------------------------------------------------------------------------------------

interface Row {
  readonly workload: string;
  readonly variant: string;
  readonly tributary: readonly Sample[];
  readonly raw: readonly Sample[];
  readonly rawFresh: readonly Sample[];
  readonly target: boolean;
}

const load0 = loadavg()[0]!;
const root = await mkdtemp(join(tmpdir(), "tributary-bench-sql-"));
const store = new LocalStore(join(root, "store"));
const rawDir = join(root, "raw");
const ms = (n: number) => n.toFixed(0);

/**
 * Each forced run commits a new data file; delete the data files its record does not name (older
 * snapshots' files, which time travel would read), so the disk does not fill.
 */
async function dropOldFiles(key: string): Promise<void> {
  const m = JSON.parse((await store.get(`_manifests/${key}/_all/manifest.json`))!.toString()) as {
    files: { key: string }[];
  };
  for (const info of await store.list(`curated/${key}/data/`)) {
    if (!m.files.some((x) => x.key === info.key)) await store.delete(info.key);
  }
}

try {
  const setup = await timed(() => tributary(store, "orders"));
  const state = JSON.parse((await store.get("_manifests/orders/_all/manifest.json"))!.toString()) as {
    files: { key: string; rows: number; bytes: number }[];
  };
  const upstream = store.localPath(state.files[0]!.key);
  const over = `read_parquet('${upstream}')`;
  const instance = await DuckDBInstance.create(":memory:", duckConfig);
  const connection = await instance.connect();
  await mkdir(rawDir, { recursive: true });
  const threads = (
    await connection.runAndReadAll("SELECT current_setting('threads') AS t")
  ).getRowObjectsJS()[0]!.t;
  const tDuck = await Duck.open();
  const tributaryThreads = (await tDuck.rows("SELECT current_setting('threads') AS t"))[0]!.t;
  tDuck.close();

  console.log(
    `Node ${process.version}, ${process.platform}/${process.arch}; DuckDB threads: Tributary ${tributaryThreads}, raw ${threads}.`,
  );
  console.log(
    `Upstream: ${ROWS.toLocaleString("en-US")} rows, ${(state.files[0]!.bytes / 1e6).toFixed(0)} MB Parquet (zstd), materialised in ${ms(setup)} ms (not timed below).`,
  );
  console.log(
    `Medians of ${RUNS} runs after one warm-up; Tributary and raw runs alternate. "best-run ratio": fastest Tributary run / fastest raw run.\n`,
  );

  const rows: Row[] = [];
  const outputRows: string[] = [];
  for (const w of workloads) {
    const rawSql = w.sql(over);
    // Warm-up, then alternate the four sides so drift (and other load on the machine) hits each alike.
    await tributary(store, w.plain.key);
    await raw(connection, rawDir, rawSql);
    await tributary(store, w.checked.key);
    await rawFresh(rawDir, rawSql);
    const committed = JSON.parse(
      (await store.get(`_manifests/${w.plain.key}/_all/manifest.json`))!.toString(),
    ) as {
      rowCount: number;
    };
    outputRows.push(`${w.name}: ${committed.rowCount.toLocaleString("en-US")} rows`);
    const plain: Sample[] = [];
    const checked: Sample[] = [];
    const r: Sample[] = [];
    const f: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      plain.push(await sampled(() => tributary(store, w.plain.key)));
      r.push(await sampled(() => raw(connection, rawDir, rawSql)));
      checked.push(await sampled(() => tributary(store, w.checked.key)));
      f.push(await sampled(() => rawFresh(rawDir, rawSql)));
      await dropOldFiles(w.plain.key);
      await dropOldFiles(w.checked.key);
    }
    rows.push({ workload: w.name, variant: "none", tributary: plain, raw: r, rawFresh: f, target: true });
    rows.push({
      workload: w.name,
      variant: "not_null + unique",
      tributary: checked,
      raw: r,
      rawFresh: f,
      target: false,
    });
  }

  console.log(`Output: ${outputRows.join("; ")}.\n`);
  const wall = (xs: readonly Sample[]) => median(xs.map((x) => x.wall));
  const cpu = (xs: readonly Sample[]) => median(xs.map((x) => x.cpu));
  const best = (xs: readonly Sample[]) => Math.min(...xs.map((x) => x.wall));
  console.log(
    "| workload | asset checks | Tributary ms | raw DuckDB ms | ratio | target ≤ 1.15 | best-run ratio | CPU ms Tributary / raw (ratio) | raw, fresh instance ms |",
  );
  console.log("|---|---|---:|---:|---:|---|---:|---:|---:|");
  for (const r of rows) {
    const ratio = wall(r.tributary) / wall(r.raw);
    const verdict = r.target ? (ratio <= TARGET_RATIO ? "met" : "MISSED") : "(info)";
    const bestRatio = (best(r.tributary) / best(r.raw)).toFixed(2);
    const cpus = `${ms(cpu(r.tributary))} / ${ms(cpu(r.raw))} (${(cpu(r.tributary) / cpu(r.raw)).toFixed(2)})`;
    console.log(
      `| ${r.workload} | ${r.variant} | ${ms(wall(r.tributary))} | ${ms(wall(r.raw))} | ${ratio.toFixed(2)} | ${verdict} | ${bestRatio} | ${cpus} | ${ms(wall(r.rawFresh))} |`,
    );
  }

  // Profiled pass: where Tributary's time goes, per workload and variant (medians of the profiled runs).
  instrument();
  const PROFILE_RUNS = Math.max(3, Math.min(RUNS, 5));
  console.log(
    `\nWhere Tributary's time goes (median of ${PROFILE_RUNS} profiled runs, ms; "rest" = JS, store I/O, lock, the Iceberg commit and the record):\n`,
  );
  type Step =
    | Kind
    | "rest (JS, store, lock, Iceberg commit, record)"
    | "total"
    | "raw DuckDB COPY, same pass";
  const kinds: Step[] = [
    "open DuckDB",
    "close DuckDB",
    "input views + this_partition",
    "DESCRIBE",
    "COPY … TO parquet",
    "new-data view",
    "check not_null",
    "check unique",
    "drop views",
    "other SQL",
    "rest (JS, store, lock, Iceberg commit, record)",
    "total",
    "raw DuckDB COPY, same pass",
  ];
  const columns: { label: string; values: Map<string, number[]> }[] = [];
  for (const w of workloads) {
    const rawSql = w.sql(over);
    for (const [variant, a] of [
      ["no checks", w.plain],
      ["checks", w.checked],
    ] as const) {
      const values = new Map<string, number[]>();
      for (let i = 0; i < PROFILE_RUNS; i++) {
        profile = new Profile();
        const total = await timed(() => tributary(store, a.key));
        const p = profile;
        profile = undefined;
        const rawMs = await timed(() => raw(connection, rawDir, rawSql));
        let sum = 0;
        for (const k of kinds) {
          let v: number;
          if (k === "total") v = total;
          else if (k === "raw DuckDB COPY, same pass") v = rawMs;
          else if (k === "rest (JS, store, lock, Iceberg commit, record)") v = total - sum;
          else {
            v = p.ms.get(k) ?? 0;
            sum += v;
          }
          values.set(k, [...(values.get(k) ?? []), v]);
        }
      }
      await dropOldFiles(a.key);
      columns.push({ label: `${w.name.split(" ")[0]} ${variant}`, values });
    }
  }
  console.log(`| step | ${columns.map((c) => c.label).join(" | ")} |`);
  console.log(`|---|${columns.map(() => "---:").join("|")}|`);
  for (const k of kinds) {
    console.log(`| ${k} | ${columns.map((c) => median(c.values.get(k) ?? [0]).toFixed(1)).join(" | ")} |`);
  }

  connection.closeSync();
  instance.closeSync();
  const main = rows.filter((r) => r.target);
  const ratioOf = (r: Row) => wall(r.tributary) / wall(r.raw);
  const missed = main.filter((r) => ratioOf(r) > TARGET_RATIO);
  console.log(
    `\ntarget Tributary / raw ≤ ${TARGET_RATIO} (no checks): ${missed.length === 0 ? "met" : "MISSED"} (${main.map((r) => `${r.workload}: ${ratioOf(r).toFixed(2)}`).join(", ")})`,
  );
  console.log(
    `load average (1 min) at start ${load0.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`,
  );
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  if (missed.length > 0) process.exitCode = 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
