import { describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { functionCpus, functionName, PlanError, planDeployment } from "../../src/infra/plan/build.ts";
import { dep } from "../../src/kit/asset.ts";
import { asset, defineGraph, source, Type } from "../../src/kit/index.ts";
import { CONFIG } from "./fixtures/config.ts";

const retry = { attempts: 3, maxEventAgeSeconds: 3600 };

describe("the deployment plan of the reference pipeline", () => {
  const plan = planDeployment(graph, CONFIG);

  it("has three encrypted, versioned stores; raw moves to a colder tier only when it lives long enough", () => {
    expect(plan.stores).toEqual([
      {
        id: "raw",
        name: "trib-dev-raw",
        zones: ["raw"],
        retentionDays: 30,
        encryption: "customer-key",
        versioning: true,
        holdsSourceData: true,
        protect: true,
      },
      {
        id: "curated",
        name: "trib-dev-curated",
        zones: ["curated", "_manifests", "_failures", "_index", "_locks", "_lineage", "_outbox", "vectors"],
        retentionDays: 7,
        encryption: "customer-key",
        versioning: true,
        holdsSourceData: false,
        protect: true,
      },
      {
        id: "quarantine",
        name: "trib-dev-quarantine",
        zones: ["quarantine"],
        retentionDays: 14,
        encryption: "customer-key",
        versioning: true,
        holdsSourceData: true,
        protect: true,
      },
    ]);
    const prod = planDeployment(graph, {
      ...CONFIG,
      retentionDays: { raw: 730, quarantine: 90 },
      coldAfterDays: 90,
    });
    expect(prod.stores[0]).toMatchObject({ id: "raw", retentionDays: 730, coldAfterDays: 90 });
  });

  it("has one function per source and asset, and triggers straight from the graph", () => {
    expect(plan.functions.map((f) => [f.id, f.kind, f.name, f.memoryMb])).toEqual([
      ["customers_cdc", "ingest", "trib-dev-customers-cdc", 512],
      ["orders_cdc", "ingest", "trib-dev-orders-cdc", 512],
      ["curated_customers", "asset", "trib-dev-curated-customers", 512],
      ["curated_orders", "asset", "trib-dev-curated-orders", 512],
      ["customer_features", "asset", "trib-dev-customer-features", 512],
      ["daily_revenue", "asset", "trib-dev-daily-revenue", 512],
      // The asset's own resources win over the stack's default.
      ["recommendation_features", "asset", "trib-dev-recommendation-features", 1024],
      ["recommendation_vectors", "asset", "trib-dev-recommendation-vectors", 1024],
      // The stack's outbox sweeper: announces what commits still owe, every five minutes.
      ["outbox-sweep", "sweep", "trib-dev-outbox-sweep", 256],
      // The stack's table maintenance: compacts and expires the curated tables, nightly.
      ["table-maintenance", "maintain", "trib-dev-table-maintenance", 512],
    ]);
    // The CDC sources read their Debezium streams, one per table, not the source-events bus.
    const streamRetry = { attempts: 5, maxEventAgeSeconds: 604800 };
    expect(plan.triggers).toEqual([
      {
        function: "customers_cdc",
        kind: "stream",
        stream: "trib-dev.public.customers",
        table: "public.customers",
        retry: streamRetry,
      },
      {
        function: "orders_cdc",
        kind: "stream",
        stream: "trib-dev.public.orders",
        table: "public.orders",
        retry: streamRetry,
      },
      {
        function: "curated_customers",
        kind: "asset-materialised",
        bus: "asset-events",
        upstream: ["customers_cdc"],
        retry,
      },
      {
        function: "curated_orders",
        kind: "asset-materialised",
        bus: "asset-events",
        upstream: ["orders_cdc"],
        retry,
      },
      {
        function: "customer_features",
        kind: "schedule",
        cron: "0 3 * * *",
        timezone: "Europe/Berlin",
        retry,
      },
      { function: "daily_revenue", kind: "schedule", cron: "30 2 * * *", timezone: "UTC", retry },
      {
        function: "recommendation_features",
        kind: "asset-materialised",
        bus: "asset-events",
        upstream: ["customer_features"],
        retry,
      },
      {
        function: "recommendation_vectors",
        kind: "asset-materialised",
        bus: "asset-events",
        upstream: ["recommendation_features"],
        retry,
      },
      { function: "outbox-sweep", kind: "schedule", cron: "*/5 * * * *", timezone: "UTC", retry },
      { function: "table-maintenance", kind: "schedule", cron: "0 3 * * *", timezone: "UTC", retry },
    ]);
    expect(plan.buses.map((b) => [b.id, b.consumers])).toEqual([
      ["source-events", []],
      [
        "asset-events",
        ["curated_customers", "curated_orders", "recommendation_features", "recommendation_vectors"],
      ],
    ]);
  });

  it("grants an asset its upstreams' (and referenced assets') data for reading and its own prefixes for writing, nothing else", () => {
    const own = "own";
    expect(plan.grants.filter((g) => g.function === "customer_features")).toEqual([
      {
        function: "customer_features",
        store: "curated",
        prefix: "curated/curated_customers/",
        access: ["read"],
        reason: "upstream:curated_customers",
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "_manifests/curated_customers/",
        access: ["read", "list"],
        reason: "upstream:curated_customers",
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "curated/curated_orders/",
        access: ["read"],
        reason: "upstream:curated_orders",
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "_manifests/curated_orders/",
        access: ["read", "list"],
        reason: "upstream:curated_orders",
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "curated/customer_features/",
        access: ["read", "list", "write", "delete"],
        reason: own,
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "_manifests/customer_features/",
        access: ["read", "list", "write"],
        reason: own,
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "_failures/customer_features/",
        access: ["read", "write", "delete"],
        reason: own,
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "_locks/customer_features/",
        access: ["read", "list", "write", "delete"],
        reason: own,
      },
      {
        function: "customer_features",
        store: "curated",
        prefix: "_outbox/customer_features/",
        access: ["read", "list", "write", "delete"],
        reason: own,
      },
      {
        function: "customer_features",
        store: "quarantine",
        prefix: "quarantine/customer_features/",
        access: ["write"],
        reason: "quarantine",
      },
    ]);
    // An ingester appends raw events of its own source, and its quarantine: never delete (expiry is
    // the lifecycle's); a reader of a source reads them.
    expect(
      plan.grants.filter((g) => g.function === "orders_cdc").map((g) => [g.store, g.prefix, g.access]),
    ).toEqual([
      ["raw", "raw/orders_cdc/", ["write"]],
      ["curated", "_manifests/orders_cdc/", ["read", "list", "write"]],
      ["curated", "_index/orders_cdc/", ["read", "write", "delete"]],
      ["curated", "_locks/orders_cdc/", ["read", "list", "write", "delete"]],
      ["curated", "_outbox/orders_cdc/", ["read", "list", "write", "delete"]],
      ["quarantine", "quarantine/orders_cdc/", ["write"]],
    ]);
    // The sweeper reads and deletes outbox entries and reads the manifests they name; it writes nothing.
    expect(plan.grants.filter((g) => g.function === "outbox-sweep")).toEqual([
      {
        function: "outbox-sweep",
        store: "curated",
        prefix: "_outbox/",
        access: ["read", "list", "delete"],
        reason: "outbox",
      },
      {
        function: "outbox-sweep",
        store: "curated",
        prefix: "_manifests/",
        access: ["read"],
        reason: "outbox",
      },
    ]);
    expect(
      plan.grants
        .filter((g) => g.function === "curated_orders" && g.reason !== "own")
        .map((g) => [g.store, g.prefix, g.access]),
    ).toEqual([
      // Its references check reads the committed customers: not an upstream, still a read.
      ["curated", "curated/curated_customers/", ["read"]],
      ["curated", "_manifests/curated_customers/", ["read", "list"]],
      ["raw", "raw/orders_cdc/", ["read"]],
      ["curated", "_manifests/orders_cdc/", ["read", "list"]],
      ["quarantine", "quarantine/curated_orders/", ["write"]],
    ]);
    expect(
      plan.grants
        .filter((g) => g.function === "curated_orders" && g.prefix.includes("curated_customers"))
        .map((g) => g.reason),
    ).toEqual([
      "check:references_customer_id_curated_customers",
      "check:references_customer_id_curated_customers",
    ]);
  });

  it("alarms on dead letters and errors of every triggered function, and on freshness where declared", () => {
    expect(plan.alarms.map((a) => a.id)).toEqual([
      "customers_cdc-dead-letters",
      "customers_cdc-errors",
      "orders_cdc-dead-letters",
      "orders_cdc-errors",
      "curated_customers-dead-letters",
      "curated_customers-errors",
      "curated_orders-dead-letters",
      "curated_orders-errors",
      "customer_features-dead-letters",
      "customer_features-errors",
      "daily_revenue-dead-letters",
      "daily_revenue-errors",
      "daily_revenue-freshness",
      "recommendation_features-dead-letters",
      "recommendation_features-errors",
      "recommendation_features-freshness",
      "recommendation_vectors-dead-letters",
      "recommendation_vectors-errors",
      "outbox-sweep-dead-letters",
      "outbox-sweep-errors",
      "outbox-sweep-age",
      "table-maintenance-dead-letters",
      "table-maintenance-errors",
    ]);
    expect(plan.alarms.find((a) => a.id === "daily_revenue-freshness")?.minutes).toBe(26 * 60);
    expect(plan.alarms.find((a) => a.id === "outbox-sweep-age")).toEqual({
      id: "outbox-sweep-age",
      function: "outbox-sweep",
      kind: "outbox-age",
      minutes: 30,
      description:
        "A commit has waited more than 30 minutes to be announced: the assets downstream of it wait too. Look at the sweeper's logs (tributary.outbox.swept) and the asset-events bus; tributary status lists what is unannounced.",
    });
    const hourly = planDeployment(graph, {
      ...CONFIG,
      outbox: { sweepEveryMinutes: 60, alarmAfterMinutes: 90 },
    });
    expect(hourly.triggers.at(-2)).toMatchObject({ function: "outbox-sweep", cron: "0 * * * *" });
    expect(hourly.alarms.find((a) => a.kind === "outbox-age")).toMatchObject({ minutes: 90 });
  });

  it("tags every function with its asset and pipeline, over the stack's tags", () => {
    expect(plan.tags).toEqual({
      "tributary:asset": "_shared",
      "tributary:pipeline": "commerce",
      "tributary:env": "dev",
      owner: "data-platform",
      "cost-centre": "cc-1042",
    });
    expect(plan.functions[0]?.tags).toEqual({ ...plan.tags, "tributary:asset": "customers_cdc" });
  });

  it("tells each function the whole vCPUs its memory buys on its cloud", () => {
    const cpus = (cloud: "aws" | "gcp" | "azure") =>
      [512, 1024, 1769, 2048, 3538, 4096, 10240, 16384].map((mb) => functionCpus(cloud, mb));
    expect(cpus("aws")).toEqual([0, 0, 1, 1, 2, 2, 5, 6]);
    expect(cpus("gcp")).toEqual([0, 0, 0, 1, 1, 2, 2, 4]);
    expect(cpus("azure")).toEqual([0, 1, 1, 1, 2, 2, 2, 2]);
    expect(plan.functions.map((f) => f.environment.TRIBUTARY_CPUS)).toEqual(Array(10).fill("0"));
  });

  it("starts the functions with source maps only when the stack ships them", () => {
    expect(plan.sourceMaps).toBeUndefined();
    expect(plan.functions.some((f) => "NODE_OPTIONS" in f.environment)).toBe(false);
    const mapped = planDeployment(graph, { ...CONFIG, functions: { ...CONFIG.functions, sourceMaps: true } });
    expect(mapped.sourceMaps).toBe(true);
    expect(mapped.functions.map((f) => f.environment.NODE_OPTIONS)).toEqual(
      Array(10).fill("--enable-source-maps"),
    );
  });

  it("makes every asset's curated data a table of the stack's namespace, committed by its function and the maintenance", () => {
    expect(plan.tables).toEqual({
      catalog: "glue",
      namespace: "trib_dev",
      tables: [
        "curated_customers",
        "curated_orders",
        "customer_features",
        "daily_revenue",
        "recommendation_features",
        // An embedding asset's table is its ledger.
        "recommendation_vectors",
      ].map((k) => ({ asset: k, name: k, prefix: `curated/${k}/`, writers: [k, "table-maintenance"] })),
      maintenance: "table-maintenance",
      scanLimitBytes: 10_000_000_000,
      queryResultsDays: 7,
    });
    // The functions that commit tables name the stack's catalog, to resolve per cloud; sources do not.
    const catalogs = plan.functions.map((f) => [f.id, f.environment.TRIBUTARY_TABLE_CATALOG]);
    expect(catalogs.filter(([, c]) => c !== undefined).map(([id]) => id)).toEqual([
      "curated_customers",
      "curated_orders",
      "customer_features",
      "daily_revenue",
      "recommendation_features",
      "recommendation_vectors",
      "table-maintenance",
    ]);
    expect(plan.functions.find((f) => f.id === "daily_revenue")!.environment.TRIBUTARY_TABLE_CATALOG).toEqual(
      {
        catalog: "trib_dev",
      },
    );
    // The maintenance may rewrite the curated zone, the partitions' locks and records: nothing else.
    expect(plan.grants.filter((g) => g.function === "table-maintenance")).toEqual([
      {
        function: "table-maintenance",
        store: "curated",
        prefix: "curated/",
        access: ["read", "list", "write", "delete"],
        reason: "tables",
      },
      {
        function: "table-maintenance",
        store: "curated",
        prefix: "_manifests/",
        access: ["read", "list", "write"],
        reason: "tables",
      },
      {
        function: "table-maintenance",
        store: "curated",
        prefix: "_locks/",
        access: ["read", "list", "write", "delete"],
        reason: "tables",
      },
    ]);
    const maintenance = plan.functions.find((f) => f.id === "table-maintenance")!;
    expect([maintenance.timeoutSeconds, maintenance.environment.TRIBUTARY_KIND]).toEqual([900, "maintain"]);
    // Azure has no catalog: its functions name none, its tables are still planned; the settings are the stack's.
    const azure = planDeployment(graph, {
      ...CONFIG,
      cloud: "azure",
      tables: { maintenanceCron: "15 1 * * 0", scanLimitGb: 2, queryResultsDays: 1 },
    });
    expect([azure.tables.catalog, azure.tables.tables.length, azure.tables.scanLimitBytes]).toEqual([
      "none",
      6,
      2e9,
    ]);
    expect(azure.functions.filter((f) => "TRIBUTARY_TABLE_CATALOG" in f.environment)).toEqual([]);
    expect(azure.triggers.find((t) => t.function === "table-maintenance")).toMatchObject({
      cron: "15 1 * * 0",
    });
  });

  it("is plain JSON, and the same inputs give the same bytes", () => {
    const text = JSON.stringify(plan);
    expect(JSON.parse(text)).toEqual(plan);
    expect(JSON.stringify(planDeployment(graph, CONFIG))).toBe(text);
  });
});

describe("the data-loss guard", () => {
  /** The graph's specs, each declared disposable (or not) as `disposable` says of its key. */
  const declared = (g: typeof graph, disposable: (key: string) => boolean) =>
    defineGraph(g.assets().map((a) => (disposable(a.key) ? Object.freeze({ ...a, disposable: true }) : a)));
  const protect = (p: ReturnType<typeof planDeployment>) =>
    Object.fromEntries(p.stores.map((s) => [s.id, s.protect]));
  const sources = new Set(
    graph
      .assets()
      .filter((a) => a.kind === "source")
      .map((a) => a.key),
  );

  it("protects every store of the reference pipeline, and none when all its assets and sources are disposable", () => {
    expect(protect(planDeployment(graph, CONFIG))).toEqual({ raw: true, curated: true, quarantine: true });
    expect(
      protect(
        planDeployment(
          declared(graph, () => true),
          CONFIG,
        ),
      ),
    ).toEqual({
      raw: false,
      curated: false,
      quarantine: false,
    });
  });

  it("keeps a store protected while one of its holders is not disposable", () => {
    // Disposable sources: their raw events may go; the curated store keeps their batch manifests and id
    // index beside the assets' tables, and both write the quarantine.
    expect(
      protect(
        planDeployment(
          declared(graph, (k) => sources.has(k)),
          CONFIG,
        ),
      ),
    ).toEqual({
      raw: false,
      curated: true,
      quarantine: true,
    });
    expect(
      protect(
        planDeployment(
          declared(graph, (k) => !sources.has(k)),
          CONFIG,
        ),
      ),
    ).toEqual({
      raw: true,
      curated: true,
      quarantine: true,
    });
    const one = [...graph.assets()].find((a) => a.kind === "asset")!.key;
    expect(
      protect(
        planDeployment(
          declared(graph, (k) => k !== one),
          CONFIG,
        ),
      ),
    ).toEqual({
      raw: false,
      curated: true,
      quarantine: true,
    });
  });

  it("reads only the stack's pipelines, and protects a store that holds nobody's data", () => {
    const events = source("events", {
      schema: Type.Object({ id: Type.String(), at_time: Type.String({ format: "date-time" }) }),
      eventId: "id",
      eventTime: "at_time",
      group: "ingest",
    });
    const scratch = asset("scratch", {
      schema: Type.Object({ n: Type.Number() }),
      sql: "select 1 as n",
      group: "scratch",
      disposable: true,
    });
    const g = defineGraph([events, scratch]);
    expect(protect(planDeployment(g, { ...CONFIG, pipelines: ["scratch"] }))).toEqual({
      raw: true,
      curated: false,
      quarantine: false,
    });
    expect(protect(planDeployment(g, { ...CONFIG, pipelines: ["ingest", "scratch"] }))).toEqual({
      raw: true,
      curated: true,
      quarantine: true,
    });
  });
});

describe("planning errors", () => {
  const events = source("events", {
    schema: Type.Object({ id: Type.String(), at_time: Type.String({ format: "date-time" }) }),
    eventId: "id",
    eventTime: "at_time",
    group: "ingest",
  });
  const counts = asset("counts", {
    deps: [dep(events, {})],
    schema: Type.Object({ n: Type.Number() }),
    sql: "select count(*) as n from events",
    group: "reporting",
  });
  const g = defineGraph([events, counts]);

  it("names a pipeline the graph does not have", () => {
    expect(() => planDeployment(g, { ...CONFIG, pipelines: ["reportin"] })).toThrow(
      new PlanError(
        'stacks/Pulumi.dev-aws.yaml: tributary:pipelines names "reportin", which the graph does not have. Did you mean "reporting"? Pipelines in the graph: ingest, reporting.',
      ),
    );
  });

  it("refuses a stack that deploys a consumer without its upstream's pipeline", () => {
    expect(() => planDeployment(g, { ...CONFIG, pipelines: ["reporting"] })).toThrow(
      new PlanError(
        '"counts" (pipeline "reporting") reads "events" of pipeline "ingest", which stack "dev-aws" does not deploy: add "ingest" to tributary:pipelines in stacks/Pulumi.dev-aws.yaml.',
      ),
    );
    expect(
      planDeployment(g, { ...CONFIG, pipelines: ["ingest", "reporting"] }).functions.map((f) => f.id),
    ).toEqual(["events", "counts", "outbox-sweep", "table-maintenance"]);
  });

  it("shortens long function names with a hash, keeping them distinct", () => {
    expect(functionName("trib-dev", "orders")).toBe("trib-dev-orders");
    const a = functionName("trib-production", "customer_lifetime_value_by_region_a");
    const b = functionName("trib-production", "customer_lifetime_value_by_region_b");
    expect(a).toMatch(/^trib-production-customer-lifetime-[0-9a-f]{6}$/);
    expect(a.length).toBeLessThanOrEqual(40);
    expect(a).not.toBe(b);
  });
});
