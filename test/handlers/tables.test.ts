/**
 * What the functions do about the curated tables: read the catalog their environment names (and make the
 * cloud's catalog client for it), and, for the stack's table maintenance, run the engine's maintenance
 * step on each tick of its schedule.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TABLE_MAINTENANCE } from "../../src/contract/function-env.ts";
import type { MaintenanceOptions } from "../../src/runtime/engine/maintenance.ts";
import { awsHandler } from "../../src/runtime/handlers/aws.ts";
import { functionEnv, HandlerConfigError, lazyRuntime, perform } from "../../src/runtime/handlers/core.ts";
import { MAINTAINED_EVENT } from "../../src/runtime/handlers/maintain.ts";
import type { TableCatalog, TableCommit } from "../../src/runtime/iceberg/catalog.ts";
import { GlueCatalog } from "../../src/runtime/iceberg/glue.ts";
import { DAY, graph, orderRecords, recorder, stack, tempDir } from "./helpers.ts";

const URIS = {
  raw: "s3://trib-test-raw",
  curated: "s3://trib-test-curated",
  quarantine: "s3://trib-test-quarantine",
};
const GLUE = '{"kind":"glue","region":"eu-west-1","database":"trib_test"}';

let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  dir = await tempDir("tables-handler");
});
afterAll(() => dir.remove());

describe("the table catalog of a function's environment", () => {
  it("is read from TRIBUTARY_TABLE_CATALOG, and refused, naming the variable, when it is not a catalog", () => {
    const s = stack(dir.path, URIS);
    expect(functionEnv(s.env("daily_revenue", { TRIBUTARY_TABLE_CATALOG: GLUE })).catalog).toEqual({
      kind: "glue",
      region: "eu-west-1",
      database: "trib_test",
    });
    expect(functionEnv(s.env("daily_revenue")).catalog).toBeUndefined();
    expect(() => functionEnv(s.env("daily_revenue", { TRIBUTARY_TABLE_CATALOG: '{"kind":"hive"}' }))).toThrow(
      new HandlerConfigError(
        'handler: TRIBUTARY_TABLE_CATALOG is not {"kind":"glue","region":…,"database":…} or {"kind":"bigquery","project":…,"dataset":…}; deploy the function with pulumi up.',
      ),
    );
  });

  it("is made by the cloud's entry: a Glue catalog on AWS; a kind its cloud has not is a deployment mistake", () => {
    const s = stack(dir.path, URIS);
    const defaults = { openStore: s.openStore, publisher: () => ({ publish: async () => {} }) };
    const made: unknown[] = [];
    const aws = lazyRuntime(
      graph,
      { env: s.env("daily_revenue", { TRIBUTARY_TABLE_CATALOG: GLUE }), write: () => {} },
      {
        ...defaults,
        catalogs: {
          glue: (ref) => {
            made.push(ref);
            return new GlueCatalog(ref);
          },
        },
      },
    )();
    expect(aws.catalog).toBeInstanceOf(GlueCatalog);
    expect((aws.catalog as GlueCatalog).database).toBe("trib_test");
    expect(made).toEqual([{ kind: "glue", region: "eu-west-1", database: "trib_test" }]);
    const bigquery = '{"kind":"bigquery","project":"acme","dataset":"trib_test"}';
    expect(() =>
      lazyRuntime(
        graph,
        { env: s.env("daily_revenue", { TRIBUTARY_TABLE_CATALOG: bigquery }), write: () => {} },
        { ...defaults, catalogs: { glue: (ref) => new GlueCatalog(ref) } },
      )(),
    ).toThrow(
      new HandlerConfigError(
        "handler: TRIBUTARY_TABLE_CATALOG names a bigquery catalog, which this cloud's functions cannot publish to; deploy the stack with pulumi up.",
      ),
    );
  });
});

describe("the table maintenance function", () => {
  it("runs the engine's maintenance on each tick, with the tick's time and the stack's catalog, and logs it", async () => {
    const s = stack(dir.path, URIS);
    const r = recorder();
    const calls: { assets: number; store: string; opts: MaintenanceOptions }[] = [];
    const catalog: TableCatalog = { publish: async (_: TableCommit) => {} };
    const handler = awsHandler(graph, {
      ...r.deps(s, TABLE_MAINTENANCE, { TRIBUTARY_TABLE_CATALOG: GLUE }),
      catalog,
      maintainTables: async (g, store, opts) => {
        calls.push({ assets: g.size, store: store.uri, opts: opts! });
        return {
          detail: "5 tables: 2 partitions compacted (9 files into 2), 3 snapshots expired.",
          compacted: 2,
          expired: 3,
          removed: 0,
        };
      },
    });
    const tick = { asset: TABLE_MAINTENANCE, scheduledTime: "2026-11-02T03:00:00Z" };
    expect(await handler(tick)).toEqual([
      {
        id: "table-maintenance@2026-11-02T03:00:00Z",
        kind: "schedule",
        status: "maintained",
        detail: "5 tables: 2 partitions compacted (9 files into 2), 3 snapshots expired.",
        announced: [],
      },
    ]);
    expect(calls).toEqual([
      {
        assets: graph.size,
        // The function's one store over the stack's three, named by the curated one's (here a folder).
        store: pathToFileURL(join(dir.path, "curated")).href,
        opts: {
          now: new Date("2026-11-02T03:00:00Z"),
          lockStaleAfterMs: 16 * 60_000,
          catalog,
          // The catalog's names for the tables it commits, from the function's environment.
          catalogRef: { kind: "glue", region: "eu-west-1", database: "trib_test" },
        },
      },
    ]);
    expect(r.logged(MAINTAINED_EVENT)).toEqual([
      {
        event: MAINTAINED_EVENT,
        detail: "5 tables: 2 partitions compacted (9 files into 2), 3 snapshots expired.",
        environment: "test",
      },
    ]);
    // It announces nothing, and so never drains an outbox of its own (it has no right to one).
    expect(r.published).toEqual([]);
    // Another function's tick is not its to run.
    expect(await handler({ asset: "daily_revenue", scheduledTime: "2026-11-02T03:00:00Z" })).toEqual([
      {
        id: "daily_revenue@2026-11-02T03:00:00Z",
        kind: "schedule",
        status: "ignored",
        detail: `the schedule of "daily_revenue" is not for this function (it maintains the stack's tables).`,
        announced: [],
      },
    ]);
  });

  it("runs the engine's own maintenance when it is given none, and commits name their tables as the catalog does", async () => {
    const root = await tempDir("tables-engine");
    try {
      const s = stack(root.path, URIS);
      const defaults = { openStore: s.openStore, publisher: () => ({ publish: async () => {} }) };
      const commits: TableCommit[] = [];
      const catalog: TableCatalog = { publish: async (c) => void commits.push(c) };
      const runtime = (asset: string) =>
        lazyRuntime(
          graph,
          { env: s.env(asset, { TRIBUTARY_TABLE_CATALOG: GLUE }), write: () => {}, catalog },
          defaults,
        )();
      const ingested = await perform(runtime("orders_cdc"), {
        kind: "source-events",
        id: "msg-1",
        source: "orders_cdc",
        records: orderRecords(),
      });
      const acme = ingested.announced.find((a) => a.partition === `${DAY}|acme`)!;
      const materialised = await perform(runtime("curated_orders"), {
        kind: "asset-materialised",
        id: "e-1",
        ...acme,
      });
      expect(materialised.status).toBe("materialised");
      // A catalog that does not say its namespace is told the one of the environment's reference.
      expect(commits.map((c) => ({ namespace: c.namespace, name: c.name, version: c.version }))).toEqual([
        { namespace: "trib_test", name: "curated_orders", version: 1 },
      ]);
      const r = recorder();
      const handler = awsHandler(graph, {
        ...r.deps(s, TABLE_MAINTENANCE, { TRIBUTARY_TABLE_CATALOG: GLUE }),
        catalog,
      });
      const now = new Date().toISOString();
      const detail = "compacted 0 partitions, expired 0 snapshots, removed 0 unreferenced objects (0 bytes)";
      expect(await handler({ asset: TABLE_MAINTENANCE, scheduledTime: now })).toEqual([
        { id: `${TABLE_MAINTENANCE}@${now}`, kind: "schedule", status: "maintained", detail, announced: [] },
      ]);
      expect(r.logged(MAINTAINED_EVENT)).toEqual([{ event: MAINTAINED_EVENT, detail, environment: "test" }]);
    } finally {
      await root.remove();
    }
  });
});
