import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  acceptedValues,
  asset,
  type CheckSpec,
  daily,
  defineGraph,
  dep,
  mapping,
  notNull,
  rowCount,
  source,
  sqlCheck,
  Type,
  unique,
} from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { collectGarbage } from "../../src/runtime/engine/gc.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { materialize, type RunResult } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { StepError, steps } from "../../src/runtime/engine/steps.ts";
import { reachableKeys } from "../../src/runtime/iceberg/reachable.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

const days = daily({ start: "2026-11-01", end: "2026-11-03" });
const Event = Type.Object({
  id: Type.String(),
  ts: Type.String({ format: "date-time" }),
  kind: Type.String(),
  amount: Type.Integer(),
});
const events = source("events", { schema: Event, eventId: "id", eventTime: "ts", partitions: days });
const Totals = Type.Object({
  day: Type.String({ format: "date" }),
  kind: Type.String(),
  total: Type.Integer(),
  n: Type.Integer(),
});
const totalsSql = `SELECT CAST(ts AS DATE) AS day, kind, sum(amount) AS total, count(*) AS n FROM events GROUP BY ALL ORDER BY kind`;

function graphOf(
  opts: {
    totalsVersion?: string;
    labelsVersion?: string;
    totalsChecks?: CheckSpec<"day" | "kind" | "total" | "n">[];
  } = {},
) {
  const totals = asset("totals", {
    deps: [events],
    schema: Totals,
    partitions: days,
    sql: totalsSql,
    ...(opts.totalsVersion ? { codeVersion: opts.totalsVersion } : {}),
    checks: opts.totalsChecks ?? [unique(["kind"]), notNull(["kind", "total"]), rowCount({ max: 100 })],
  });
  const labels = asset("labels", {
    deps: [totals],
    schema: Type.Object({ kind: Type.String(), label: Type.String(), big: Type.Boolean() }),
    partitions: days,
    codeVersion: opts.labelsVersion ?? "1",
    compute: ({ totals }) =>
      totals.map((t) => ({ kind: t.kind, label: `${t.kind} on ${t.day}: ${t.total}`, big: t.total >= 100 })),
    checks: [acceptedValues("kind", ["buy", "sell"])],
  });
  const weekly = asset("weekly", {
    deps: [dep(totals, { partitions: mapping.all() })],
    schema: Type.Object({ kind: Type.String(), total: Type.Integer() }),
    sql: "SELECT kind, CAST(sum(total) AS BIGINT) AS total FROM totals GROUP BY kind ORDER BY kind",
    checks: [sqlCheck("no_negative", "SELECT * FROM weekly WHERE total < 0")],
  });
  return defineGraph([events, totals, labels, weekly]);
}

const line = (id: string, at: string, kind: string, amount: number) =>
  JSON.stringify({ id, ts: at, kind, amount });
const LINES = [
  line("e1", "2026-11-01T10:00:00Z", "buy", 40),
  line("e2", "2026-11-01T11:00:00Z", "buy", 70),
  line("e3", "2026-11-01T12:00:00Z", "sell", 5),
  line("e4", "2026-11-02T09:30:00Z", "sell", 12),
  line("e1", "2026-11-01T10:00:00Z", "buy", 40), // duplicate
  '{"id":"e5","ts":"not a time","kind":"buy","amount":1}', // invalid
];

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-engine-"));
  store = new LocalStore(dir);
  await ingest(store, events, [{ name: "events.ndjson", stream: Readable.from([`${LINES.join("\n")}\n`]) }]);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The committed rows of an asset, read through its manifests as any reader would. */
async function rows(key: string): Promise<unknown[]> {
  const state = new StoreState(store);
  const graph = graphOf();
  const objects = await state.committedObjects(graph.get(key));
  if (objects.length === 0) return [];
  const duck = await Duck.open();
  try {
    const list = objects.map((o) => `'${store.localPath(o.key)}'`).join(", ");
    return await duck.jsonRows(`SELECT * FROM read_parquet([${list}]) ORDER BY ALL`);
  } finally {
    duck.close();
  }
}

const statuses = (r: RunResult) => r.outcomes.map((o) => `${o.item.asset}/${o.item.partition}: ${o.status}`);

describe("materialize", () => {
  it("materialises SQL and compute assets into Parquet with exact rows and manifests", async () => {
    const graph = graphOf();
    const result = await materialize(graph, store, { runId: "run-00000001" });
    expect(result.counts).toEqual({ materialized: 7, fresh: 0, failed: 0, skipped: 0 });
    expect(await rows("totals")).toEqual([
      { day: "2026-11-01", kind: "buy", total: "110", n: "2" },
      { day: "2026-11-01", kind: "sell", total: "5", n: "1" },
      { day: "2026-11-02", kind: "sell", total: "12", n: "1" },
    ]);
    expect(await rows("labels")).toEqual([
      { kind: "buy", label: "buy on 2026-11-01: 110", big: true },
      { kind: "sell", label: "sell on 2026-11-01: 5", big: false },
      { kind: "sell", label: "sell on 2026-11-02: 12", big: false },
    ]);
    expect(await rows("weekly")).toEqual([
      { kind: "buy", total: "110" },
      { kind: "sell", total: "17" },
    ]);
    const m = await new StoreState(store).manifest(graph.get("totals"), "2026-11-01");
    expect(m).toMatchObject({
      format: 1,
      asset: "totals",
      partition: "2026-11-01",
      rowCount: 2,
      runId: "run-00000001",
      codeVersion:
        graph.get("totals").kind === "asset"
          ? (graph.get("totals") as { codeVersion: string }).codeVersion
          : "",
      schema: [
        { name: "day", type: "DATE" },
        { name: "kind", type: "VARCHAR" },
        { name: "total", type: "BIGINT" },
        { name: "n", type: "BIGINT" },
      ],
      nullCounts: { day: 0, kind: 0, total: 0, n: 0 },
      checks: [
        { name: "unique_kind", kind: "unique", blocking: true, passed: true, failingRows: 0, sample: [] },
        {
          name: "not_null_kind_total",
          kind: "not_null",
          blocking: true,
          passed: true,
          failingRows: 0,
          sample: [],
        },
        { name: "row_count", kind: "row_count", blocking: true, passed: true, failingRows: 0, sample: [] },
      ],
    });
    expect(m!.files).toHaveLength(1);
    expect(m!.files[0]!.key).toMatch(/^curated\/totals\/data\/2026-11-01\/[0-9a-f]{16}-00000001\.parquet$/);
    expect(m!.files[0]!.rows).toBe(2);
    expect(m!.inputs).toEqual([
      { asset: "events", partition: "2026-11-01", dataVersion: expect.stringMatching(/^[0-9a-f]{16}$/) },
    ]);
    expect(m!.dataVersion).toMatch(/^[0-9a-f]{16}$/);
  });

  it("skips what is fresh and re-materialises exactly a changed asset and its downstream", async () => {
    await materialize(graphOf(), store);
    const again = await materialize(graphOf(), store);
    expect(again.counts).toEqual({ materialized: 0, fresh: 7, failed: 0, skipped: 0 });

    const changed = await materialize(graphOf({ labelsVersion: "2" }), store);
    expect(statuses(changed).filter((s) => !s.endsWith("fresh"))).toEqual([
      "labels/2026-11-01: materialized",
      "labels/2026-11-02: materialized",
      "labels/2026-11-03: materialized",
    ]);
    expect(changed.outcomes.find((o) => o.item.asset === "labels")!.item.reason).toBe(
      "code version changed (1 → 2)",
    );

    const upstream = await materialize(graphOf({ labelsVersion: "2", totalsVersion: "t2" }), store);
    expect(upstream.counts).toEqual({ materialized: 7, fresh: 0, failed: 0, skipped: 0 });
    const weekly = upstream.outcomes.find((o) => o.item.asset === "weekly")!;
    expect(weekly.item.reason).toBe("input totals/2026-11-01, totals/2026-11-02, totals/2026-11-03 changed");
  });

  it("re-materialises only the partitions whose source data changed", async () => {
    await materialize(graphOf(), store);
    await ingest(store, events, [
      { name: "late.ndjson", stream: Readable.from([`${line("e9", "2026-11-02T23:00:00Z", "buy", 1)}\n`]) },
    ]);
    const r = await materialize(graphOf(), store);
    expect(statuses(r).filter((s) => !s.endsWith("fresh"))).toEqual([
      "totals/2026-11-02: materialized",
      "labels/2026-11-02: materialized",
      "weekly/: materialized",
    ]);
    expect(r.outcomes[1]!.item.reason).toBe("input events/2026-11-02 changed");
    expect(await rows("weekly")).toEqual([
      { kind: "buy", total: "111" },
      { kind: "sell", total: "17" },
    ]);
  });

  it("plans without writing, and refuses partitions that do not exist", async () => {
    const items = await steps(graphOf(), new StoreState(store), {
      selection: "totals",
      partition: "2026-11-02",
    });
    expect(items.map((i) => [i.asset, i.partition, i.action, i.reason])).toEqual([
      ["totals", "2026-11-02", "run", "never materialised"],
    ]);
    expect(await store.list("_manifests/totals/")).toEqual([]);
    for (const bad of ["../../etc", "2026-11-02'; DROP TABLE totals; --", "2026-11-02/../x", "2026-11-09"]) {
      await expect(steps(graphOf(), new StoreState(store), { partition: bad })).rejects.toThrow(
        new StepError(`no selected asset has a partition ${JSON.stringify(bad)}.`),
      );
    }
    await expect(steps(graphOf(), new StoreState(store), { from: "yesterday" })).rejects.toThrow(
      'from "yesterday" is not a partition key like 2026-11-01 (daily) or 2026-11-01T13 (hourly).',
    );
  });

  it("fails a partition whose blocking check fails, keeps the last commit visible and skips its downstream", async () => {
    await materialize(graphOf(), store);
    const strict = graphOf({
      totalsVersion: "strict",
      totalsChecks: [sqlCheck("no_sells", "SELECT * FROM totals WHERE kind = 'sell'")],
    });
    const r = await materialize(strict, store);
    expect(statuses(r)).toEqual([
      "totals/2026-11-01: failed",
      "totals/2026-11-02: failed",
      "totals/2026-11-03: materialized",
      "labels/2026-11-01: skipped",
      "labels/2026-11-02: skipped",
      // Its input has a new data version (the code version of totals changed), so it runs.
      "labels/2026-11-03: materialized",
      "weekly/: skipped",
    ]);
    const failed = r.outcomes[0]!;
    expect(failed.status === "failed" && failed.checks).toEqual([
      {
        name: "no_sells",
        kind: "sql",
        blocking: true,
        passed: false,
        failingRows: 1,
        sample: [{ day: "2026-11-01", kind: "sell", total: "5", n: "1" }],
        message: "1 row returned by the check's SQL",
      },
    ]);
    expect(r.outcomes[3]!.status === "skipped" && r.outcomes[3]!.reason).toBe(
      "upstream totals/2026-11-01 failed",
    );
    // The previous commit of the failed partitions stays what readers see.
    expect(await rows("totals")).toEqual([
      { day: "2026-11-01", kind: "buy", total: "110", n: "2" },
      { day: "2026-11-01", kind: "sell", total: "5", n: "1" },
      { day: "2026-11-02", kind: "sell", total: "12", n: "1" },
    ]);
    const failure = await new StoreState(store).failure(strict.get("totals"), "2026-11-01");
    expect(failure).toMatchObject({
      asset: "totals",
      partition: "2026-11-01",
      checks: [{ name: "no_sells", passed: false }],
    });
    // A warning check does not block.
    const warn = graphOf({
      totalsVersion: "warn",
      totalsChecks: [sqlCheck("no_sells", "SELECT * FROM totals WHERE kind = 'sell'", { blocking: false })],
    });
    expect((await materialize(warn, store)).counts).toEqual({
      materialized: 7,
      fresh: 0,
      failed: 0,
      skipped: 0,
    });
  });

  it("fails output that does not match the declared schema, naming the columns", async () => {
    const bad = (sql: string, schema = Totals) =>
      defineGraph([events, asset("totals", { deps: [events], schema, partitions: days, sql })]);
    const run = async (sql: string, schema = Totals) => {
      const r = await materialize(bad(sql, schema), store, { partition: "2026-11-01" });
      const o = r.outcomes[0]!;
      return o.status === "failed" ? o.error : o.status;
    };
    expect(await run("SELECT kind, sum(amount) AS total FROM events GROUP BY ALL")).toBe(
      'the output of "totals" does not match its schema: column "day" (DATE) is declared but not produced; column "n" (BIGINT) is declared but not produced.',
    );
    expect(
      await run(
        "SELECT CAST(ts AS DATE) AS day, kind, 'lots' AS total, count(*) AS n, 1 AS extra FROM events GROUP BY ALL",
      ),
    ).toBe(
      'the output of "totals" does not match its schema: column "total" is VARCHAR, declared BIGINT; column "extra" is produced but not declared in the schema.',
    );
    expect(await run("SELECT CAST(NULL AS DATE) AS day, kind, 1 AS total, 1 AS n FROM events")).toBe(
      'the output of "totals" has nulls in non-nullable column "day" (3 rows); declare them Type.Union([..., Type.Null()]) or filter the nulls.',
    );
    expect(await run("SELEC * FROM events")).toMatch(/^Parser Error: syntax error at or near "FROM"/);
    // Nothing half-written is left: no manifest, no data object.
    expect(await store.list("curated/")).toEqual([]);
    expect(await store.list("_manifests/totals/")).toEqual([]);
  });

  it("fails a compute function returning rows that do not match the schema", async () => {
    const wrong = asset("wrong", {
      deps: [events],
      schema: Type.Object({ kind: Type.String(), amount: Type.Integer() }),
      partitions: days,
      codeVersion: "1",
      compute: ({ events }) => events.map((e) => ({ kind: e.kind, amount: e.amount + 0.5 })),
    });
    const r = await materialize(defineGraph([events, wrong]), store, { partition: "2026-11-01" });
    expect(r.outcomes[0]!.status === "failed" && r.outcomes[0]!.error).toBe(
      'row 1 returned by the compute function of "wrong" does not match its schema: /amount must be integer.',
    );
  });

  it("expires old snapshots and collects objects no snapshot or record names, keeping young ones", async () => {
    await materialize(graphOf(), store);
    await materialize(graphOf({ labelsVersion: "2" }), store); // replaces the two labels files
    await store.put("curated/totals/data/2026-11-01/crashed-run.parquet", "half a file");
    const before = await rows("labels");
    const all = async () => (await store.list("curated/")).map((o) => o.key);
    const everything = await all();
    // Within the grace period nothing goes: the crashed run's file is kept as possibly still being written.
    expect(await collectGarbage(graphOf(), store, { graceMs: 3600_000 })).toEqual({
      removed: [],
      kept: 1,
      expired: 0,
    });
    expect(await all()).toEqual(everything);
    const later = new Date(Date.now() + 2 * 3600_000);
    const dry = await collectGarbage(graphOf(), store, { now: later, dryRun: true });
    // totals: 3 snapshots, labels: 6, weekly: 1; each keeps its current one.
    expect(dry.expired).toBe(2 + 5 + 0);
    const data = (keys: readonly string[]) => keys.filter((k) => k.includes("/data/")).sort();
    expect(data(dry.removed.map((o) => o.key)).map((k) => k.split("/").slice(0, 4).join("/"))).toEqual([
      "curated/labels/data/2026-11-01",
      "curated/labels/data/2026-11-02",
      "curated/totals/data/2026-11-01",
    ]);
    expect(await all()).toEqual(everything);
    const done = await collectGarbage(graphOf(), store, { now: later });
    expect(done.removed.map((o) => o.key)).toEqual(dry.removed.map((o) => o.key));
    expect(done.expired).toBe(dry.expired);
    // What is left is exactly what each table's one snapshot needs, and the rows are the same.
    const state = new StoreState(store);
    const needed: string[] = [];
    for (const key of ["labels", "totals", "weekly"]) {
      const latest = (await state.tables.latest(key))!;
      expect({ key, snapshots: latest.metadata.snapshots.length }).toEqual({ key, snapshots: 1 });
      needed.push(...(await reachableKeys(state.tables.table(key))));
    }
    const left = await all();
    expect(left).toEqual(needed.sort());
    expect(everything.filter((k) => !left.includes(k))).toEqual(done.removed.map((o) => o.key).sort());
    expect(await rows("labels")).toEqual(before);
    expect((await materialize(graphOf({ labelsVersion: "2" }), store)).counts).toEqual({
      materialized: 0,
      fresh: 7,
      failed: 0,
      skipped: 0,
    });
  });
});
