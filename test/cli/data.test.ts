import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/runtime/openlineage/events.ts";
import { problems } from "../openlineage/spec.ts";
import { cli, normalise } from "./in-process.ts";

let store: string;
let first: Awaited<ReturnType<typeof cli>>;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), "tributary-cli-"));
  first = await cli("materialize", "--store", store);
}, 120_000);
afterAll(() => rm(store, { recursive: true, force: true }));

describe("tributary materialize on the reference pipeline", () => {
  it("generates and ingests the sample data, then materialises everything", () => {
    expect(first.code).toBe(0);
    expect(first.stderr).toBe("");
    const lines = normalise(first.stdout, store).split("\n");
    expect(lines.slice(0, 4)).toEqual([
      "no data yet: generating the graph module's sample data into <store>/samples and ingesting it",
      "customers_cdc: read 261 = written 246 + quarantined 7 + duplicates 8",
      "orders_cdc: read 1858 = written 1746 + quarantined 55 + duplicates 57",
      expect.stringMatching(/^plan: (\d+) of \1 asset partitions to materialise$/),
    ]);
    expect(lines).toContain("ok      curated_orders: 3 partitions, 645 rows in <n> ms");
    expect(lines).toContain("ok      recommendation_features: 3 partitions, 194 rows in <n> ms");
    expect(lines.at(-2)).toMatch(/^(\d+) materialised, 0 fresh, 0 failed, 0 skipped in <n> s \(run <id>\)$/);
  });

  it("writes OpenLineage events for every partition it materialised, each valid against the official schema", async () => {
    const days = await readdir(join(store, "_lineage"));
    const events: RunEvent[] = [];
    for (const day of days) {
      for (const f of await readdir(join(store, "_lineage", day))) {
        const text = await readFile(join(store, "_lineage", day, f), "utf8");
        for (const l of text.trim().split("\n")) events.push(JSON.parse(l) as RunEvent);
      }
    }
    expect(events.flatMap((e) => problems(e))).toEqual([]);
    const materialised = Number(/^(\d+) materialised/m.exec(first.stdout)![1]);
    const starts = events.filter((e) => e.eventType === "START" && e.job.name !== "tributary.materialize");
    expect(starts).toHaveLength(materialised);
    expect(
      events.filter((e) => e.eventType === "COMPLETE" && e.job.name !== "tributary.materialize"),
    ).toHaveLength(materialised);
    const cliRun = events.find((e) => e.job.name === "tributary.materialize" && e.eventType === "START")!;
    expect(
      starts.every(
        (e) =>
          (e.run.facets?.parent as { run?: { runId?: string } } | undefined)?.run?.runId === cliRun.run.runId,
      ),
    ).toBe(true);
    const orders = events.find((e) => e.eventType === "COMPLETE" && e.job.name === "curated_orders")!;
    expect(orders.inputs.map((i) => i.name)).toEqual(["orders_cdc"]);
    // A source is named in the store; an asset is its Iceberg table, named by its location.
    expect(orders.inputs.map((i) => i.namespace)).toEqual([`file://${store}`]);
    expect(orders.outputs.map((o) => [o.namespace, o.name])).toEqual([
      ["file", `${store}/curated/curated_orders`],
    ]);
  });

  it("materialises nothing on a second run and says everything is fresh", async () => {
    const again = await cli("materialize", "--store", store);
    expect(again.code).toBe(0);
    expect(normalise(again.stdout)).toMatch(
      /^plan: 0 of (\d+) asset partitions to materialise\nasset +materialised +fresh .*\n(.*\n){6}everything is fresh: \1 asset partitions up to date in <n> s \(run <id>\)\n$/,
    );
  });

  it("prints the plan without writing on --dry-run, and re-plans exactly what a code change touches", async () => {
    const dry = await cli("materialize", "+customer_features", "--dry-run", "--force", "--store", store);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      [
        "asset              partition  action  why",
        "curated_customers  acme       run     forced",
        "curated_customers  globex     run     forced",
        "curated_customers  initech    run     forced",
        "curated_orders     acme       run     forced",
        "curated_orders     globex     run     forced",
        "curated_orders     initech    run     forced",
        "customer_features  acme       run     forced",
        "customer_features  globex     run     forced",
        "customer_features  initech    run     forced",
        "plan: 9 of 9 asset partitions to materialise (dry run: nothing was written)",
        "",
      ].join("\n"),
    );
  });

  it("answers SQL over the committed assets by name", async () => {
    const q = await cli(
      "query",
      "SELECT tenant_id, count(*) AS orders FROM curated_orders GROUP BY ALL ORDER BY 1",
      "--store",
      store,
    );
    expect(q).toEqual({
      code: 0,
      stdout: "tenant_id  orders\nacme       213\nglobex     216\ninitech    216\n(3 rows)\n",
      stderr: "",
    });
    const json = await cli(
      "query",
      "SELECT segment, count(*) AS n FROM recommendation_features GROUP BY ALL ORDER BY n DESC, segment",
      "--json",
      "--store",
      store,
    );
    expect(JSON.parse(json.stdout)).toEqual([
      { segment: "loyal", n: "75" },
      { segment: "champion", n: "58" },
      { segment: "prospect", n: "34" },
      { segment: "promising", n: "27" },
    ]);
    const bad = await cli("query", "SELECT nope FROM curated_orders", "--store", store);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^tributary: query failed: Binder Error: Referenced column "nope" not found in FROM clause!/,
    );
  });

  it("reports status per asset", async () => {
    const s = await cli("status", "--store", store);
    expect(s.code).toBe(0);
    const lines = normalise(s.stdout).split("\n");
    expect(lines[0]).toMatch(
      /^asset +partitions +fresh +stale +failed +corrupt +never +rows +last materialised +freshness$/,
    );
    expect(lines[2]).toMatch(/^curated_orders +3 +3 +0 +0 +0 +0 +645 +<time> +-$/);
    expect(lines[4]).toMatch(
      /^daily_revenue +(\d+) +\1 +0 +0 +0 +0 +50 +<time> +ok \(<age> old, SLA 1d2h\)$/,
    );
    const json = JSON.parse((await cli("status", "curated_orders", "--json", "--store", store)).stdout);
    expect(
      json.partitions.map((p: { partition: string; state: string; rows: number }) => [
        p.partition,
        p.state,
        p.rows,
      ]),
    ).toEqual([
      ["acme", "fresh", 213],
      ["globex", "fresh", 216],
      ["initech", "fresh", 216],
    ]);
    expect(json.partitions[0].checks).toEqual([
      { name: "not_null_order_id_customer_id_status_amount_cents_created_at", passed: true, blocking: true },
      { name: "unique_order_id", passed: true, blocking: true },
      { name: "accepted_values_status", passed: true, blocking: true },
      {
        name: "references_customer_id_curated_customers",
        passed: false,
        blocking: false,
        message: "2 rows whose customer_id is not in curated_customers.customer_id",
      },
      { name: "row_count", passed: true, blocking: false },
    ]);
  });
});

describe("tributary ingest", () => {
  it("counts every line and quarantines with reasons; re-ingesting writes nothing new", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tributary-ingest-"));
    try {
      const file = "test/fixtures/data/customers.ndjson";
      const once = await cli("ingest", "customers_cdc", file, "--store", dir);
      expect(once.code).toBe(0);
      expect(once.stdout).toMatch(
        /^customers_cdc: read 4 = written 1 \+ quarantined 2 \+ duplicates 1\nquarantined records with their reasons: quarantine\/customers_cdc\/\S+\.ndjson\n$/,
      );
      const key = /quarantine\/customers_cdc\/\S+\.ndjson/.exec(once.stdout)![0];
      const quarantined = (await readFile(join(dir, key), "utf8"))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(quarantined.map((q: { file: string; line: number }) => [q.file, q.line])).toEqual([
        [file, 2],
        [file, 4],
      ]);
      expect(quarantined[0].reason).toMatch(/^not JSON: /);
      expect(quarantined[1].reason).toBe(
        'tenant "umbrella" is not a partition of customers_cdc (acme, globex, initech)',
      );
      const twice = await cli("ingest", "customers_cdc", file, "--store", dir);
      expect(twice.stdout.split("\n")[0]).toBe(
        "customers_cdc: read 4 = written 0 + quarantined 2 + duplicates 2",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses an asset or an unknown source by name", async () => {
    expect(await cli("ingest", "curated_orders", "x.ndjson")).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'tributary: "curated_orders" is an asset, not a source; ingest reads into sources: customers_cdc, orders_cdc.\n',
    });
    expect((await cli("ingest", "order_cdc", "x.ndjson")).stderr).toBe(
      'tributary: unknown asset "order_cdc". Did you mean "orders_cdc"?\n',
    );
  });
});

describe("a failing blocking check", () => {
  it("fails its partitions, skips their downstream, names the check and sample rows, and exits 1", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tributary-fail-"));
    try {
      const r = await cli("materialize", "--graph", "test/fixtures/graphs/failing-check.ts", "--store", dir);
      expect(r.code).toBe(1);
      const out = normalise(r.stdout);
      expect(out).toMatch(
        /FAILED {2}big_orders acme:\n {4}check "under_450" failed: \d+ rows? returned by the check's SQL\n {6}\{"order_id":"[0-9a-f-]+","amount_cents":"\d+"\}/,
      );
      expect(out).toContain("skipped big_order_report acme: upstream big_orders/acme failed\n");
      expect(out).toMatch(/\d+ materialised, 0 fresh, [1-3] failed, [1-3] skipped in <n> s/);
      const status = await cli(
        "status",
        "big_orders",
        "--json",
        "--graph",
        "test/fixtures/graphs/failing-check.ts",
        "--store",
        dir,
      );
      const acme = JSON.parse(status.stdout).partitions.find(
        (p: { partition: string }) => p.partition === "acme",
      );
      expect(acme.state).toBe("failed");
      expect(acme.why).toMatch(/^check under_450: \d+ rows? returned by the check's SQL$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
