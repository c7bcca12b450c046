import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { asset, daily, hourly as hourlyPartitions, latest, staticPartitions, Type } from "tributary";
import { describe, expect, test } from "vitest";
import {
  curatedCustomers,
  curatedOrders,
  customerFeatures,
  dailyRevenue,
  ordersCdc,
  recommendationFeatures,
} from "../../examples/commerce/assets/commerce/index.ts";
import { ORDER_STATUSES } from "../../examples/commerce/assets/commerce/schemas.ts";
import type { AssetManifest, BatchManifest, CheckResult } from "../../src/runtime/engine/manifest.ts";
import {
  assetRun,
  commandRun,
  FACET_SCHEMA_URLS,
  type Facet,
  type FacetName,
  fileDataset,
  ingestRun,
  jobName,
  type LineageContext,
  newRunId,
  nominalTime,
  PARTITIONS_FACET_SCHEMA,
  PRODUCER,
  parentOf,
  RUN_EVENT_SCHEMA_URL,
  type RunEvent,
  runComplete,
  runFail,
  runStart,
  TRIBUTARY_VERSION,
} from "../../src/runtime/openlineage/events.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { ajv, FACET_FILES, loadJson, problems, SPEC_DIR } from "./spec.ts";

/** Valid against the official schemas, with every facet checked; returns the event for exact assertions. */
function valid(event: RunEvent): RunEvent {
  expect(problems(event)).toEqual([]);
  // The round trip a transport makes: what is sent is what was built.
  expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  return event;
}

// ---------------------------------------------------------------------------------------------------
// Realistic inputs

const STORE = { uri: "s3://acme-lake/tributary" };
const AT = new Date("2026-11-02T03:17:42.512Z");
const CLI_RUN = "019a4a6c-3a2d-7c1e-9f3b-5d2e8a7c4b10";
const ASSET_RUN = "019a4a6c-3b90-7e4f-8a21-0c6d9e5f3a27";
/** As DuckDB's `SELECT version()` answers. */
const ENGINE = { version: "v1.4.2" };

const ctx: LineageContext = {
  store: STORE,
  eventTime: AT,
  engine: ENGINE,
  parent: parentOf(commandRun("materialize", { runId: CLI_RUN })),
};

/** A facet as the spec wants it: producer, schema URL, fields. */
const F = (name: FacetName, fields: Record<string, unknown>) => ({
  _producer: PRODUCER,
  _schemaURL: FACET_SCHEMA_URLS[name],
  ...fields,
});

const parentFacet = F("parent", {
  run: { runId: CLI_RUN },
  job: { namespace: "tributary", name: "tributary.materialize" },
  root: { run: { runId: CLI_RUN }, job: { namespace: "tributary", name: "tributary.materialize" } },
});
const engineFacet = F("processing_engine", {
  version: "1.4.2",
  name: "duckdb",
  openlineageAdapterVersion: TRIBUTARY_VERSION,
});
const dataSource = F("dataSource", { name: "s3://acme-lake/tributary", uri: "s3://acme-lake/tributary" });
/** An asset's dataset is its Iceberg table, named by its location in the store (a Hadoop catalog). */
const table = (key: string) => ({ namespace: "s3://acme-lake", name: `tributary/curated/${key}` });
const tableSource = F("dataSource", { name: "s3://acme-lake", uri: "s3://acme-lake/tributary" });

/** OpenLineage schema fields, numbered in order: [name, type] or [name, type, subfields]. */
const fields = (
  list: readonly (readonly [string, string] | readonly [string, string, object[]])[],
): object[] =>
  list.map(([name, type, sub], i) => ({
    name,
    type,
    ordinal_position: i + 1,
    ...(sub ? { fields: sub } : {}),
  }));
const ORDER_ROW_FIELDS = fields([
  ["order_id", "string(uuid)"],
  ["tenant_id", "string"],
  ["customer_id", "string(uuid)"],
  ["status", "string"],
  ["amount_cents", "integer"],
  ["currency", "string"],
  ["created_at", "string(date-time)"],
  ["updated_at", "string(date-time)"],
]);
/** orders_cdc: Debezium's envelope (Postgres `source` block) around the orders row. */
const ORDERS_CDC_FIELDS = fields([
  ["before", "object", ORDER_ROW_FIELDS],
  ["after", "object", ORDER_ROW_FIELDS],
  [
    "source",
    "object",
    fields([
      ["version", "string"],
      ["connector", "string"],
      ["name", "string"],
      ["ts_ms", "integer"],
      ["ts_us", "integer"],
      ["ts_ns", "integer"],
      ["snapshot", "any"],
      ["db", "string"],
      ["sequence", "string"],
      ["table", "string"],
      ["schema", "string"],
      ["txId", "integer"],
      ["lsn", "integer"],
      ["xmin", "integer"],
    ]),
  ],
  ["op", "any"],
  ["ts_ms", "integer"],
  ["ts_us", "integer"],
  ["ts_ns", "integer"],
  [
    "transaction",
    "object",
    fields([
      ["id", "string"],
      ["total_order", "integer"],
      ["data_collection_order", "integer"],
    ]),
  ],
]);
const CURATED_ORDER_FIELDS = [
  { name: "order_id", type: "string", ordinal_position: 1 },
  { name: "tenant_id", type: "string", ordinal_position: 2 },
  { name: "customer_id", type: "string", ordinal_position: 3 },
  { name: "status", type: "string", ordinal_position: 4 },
  { name: "amount_cents", type: "integer", ordinal_position: 5 },
  { name: "currency", type: "string", ordinal_position: 6 },
  { name: "created_at", type: "string(date-time)", ordinal_position: 7 },
  { name: "updated_at", type: "string(date-time)", ordinal_position: 8 },
  { name: "order_date", type: "string(date)", ordinal_position: 9 },
];

/** The asset's SQL as declared (dedented): the latest state of orders_cdc, by `latest()`, as a CTE. */
const CURATED_ORDERS_SQL = [
  `WITH orders AS (${latest(ordersCdc)})`,
  "SELECT",
  "  order_id,",
  "  tenant_id,",
  "  customer_id,",
  "  status,",
  "  amount_cents,",
  "  currency,",
  "  created_at,",
  "  updated_at,",
  "  CAST(timezone('UTC', created_at) AS DATE) AS order_date",
  "FROM orders",
  "ORDER BY order_id",
].join("\n");

const curatedOrdersJobFacets = {
  jobType: F("jobType", { processingType: "BATCH", integration: "TRIBUTARY", jobType: "ASSET" }),
  documentation: F("documentation", {
    description: "The latest state of every order per tenant, deletes applied.",
    contentType: "text/plain",
  }),
  ownership: F("ownership", { owners: [{ name: "team:data-platform" }] }),
  tags: F("tags", {
    tags: [
      { key: "curated", value: "true", source: "USER" },
      { key: "group", value: "commerce", source: "USER" },
    ],
  }),
  sql: F("sql", { query: CURATED_ORDERS_SQL, dialect: "duckdb" }),
};

const NOT_NULL = "not_null_order_id_customer_id_status_amount_cents_created_at";
const REFERENCES = "references_customer_id_curated_customers";

/** What the engine records after checking curated_orders/acme: one non-blocking check failed. */
const curatedOrdersChecks: CheckResult[] = [
  { name: NOT_NULL, kind: "not_null", blocking: true, passed: true, failingRows: 0, sample: [] },
  { name: "unique_order_id", kind: "unique", blocking: true, passed: true, failingRows: 0, sample: [] },
  {
    name: "accepted_values_status",
    kind: "accepted_values",
    blocking: true,
    passed: true,
    failingRows: 0,
    sample: [],
  },
  {
    name: REFERENCES,
    kind: "references",
    blocking: false,
    passed: false,
    failingRows: 2,
    sample: [{ customer_id: "5b0c1f0e-8a9d-4f5e-b1c2-3d4e5f6a7b8c" }],
    message: "2 rows have a customer_id that is not in curated_customers.customer_id.",
  },
  { name: "row_count", kind: "row_count", blocking: false, passed: true, failingRows: 0, sample: [] },
];

const curatedOrdersAssertions = [
  {
    assertion: "not_null",
    success: true,
    severity: "error",
    name: NOT_NULL,
    params: { failingRows: 0, columns: ["order_id", "customer_id", "status", "amount_cents", "created_at"] },
  },
  {
    assertion: "unique",
    success: true,
    column: "order_id",
    severity: "error",
    name: "unique_order_id",
    params: { failingRows: 0 },
  },
  {
    assertion: "accepted_values",
    success: true,
    column: "status",
    severity: "error",
    name: "accepted_values_status",
    expected: "pending, paid, shipped, cancelled, refunded",
    params: { failingRows: 0 },
  },
  {
    assertion: "references",
    success: false,
    column: "customer_id",
    severity: "warn",
    name: REFERENCES,
    description: "2 rows have a customer_id that is not in curated_customers.customer_id.",
    expected: "curated_customers.customer_id",
    params: { failingRows: 2 },
  },
  {
    assertion: "row_count",
    success: true,
    severity: "warn",
    name: "row_count",
    expected: ">= 1",
    params: { failingRows: 0 },
  },
];

const curatedOrdersManifest: AssetManifest = {
  format: 1,
  asset: "curated_orders",
  partition: "acme",
  files: [
    { key: "curated/curated_orders/acme/9c1d3e5f7a2b4c6d.parquet", rows: 1204, bytes: 48211 },
    { key: "curated/curated_orders/acme/9c1d3e5f7a2b4c6d-1.parquet", rows: 96, bytes: 5120 },
  ],
  rowCount: 1300,
  schema: [
    { name: "order_id", type: "VARCHAR" },
    { name: "tenant_id", type: "VARCHAR" },
    { name: "customer_id", type: "VARCHAR" },
    { name: "status", type: "VARCHAR" },
    { name: "amount_cents", type: "BIGINT" },
    { name: "currency", type: "VARCHAR" },
    { name: "created_at", type: "TIMESTAMP WITH TIME ZONE" },
    { name: "updated_at", type: "TIMESTAMP WITH TIME ZONE" },
    { name: "order_date", type: "DATE" },
  ],
  nullCounts: {
    order_id: 0,
    tenant_id: 0,
    customer_id: 0,
    status: 0,
    amount_cents: 0,
    currency: 0,
    created_at: 0,
    updated_at: 0,
    order_date: 0,
  },
  dataVersion: "9c1d3e5f7a2b4c6d",
  codeVersion: curatedOrders.codeVersion,
  inputs: [
    { asset: "orders_cdc", partition: "2026-11-01|acme", dataVersion: "a1b2c3d4e5f60718" },
    { asset: "orders_cdc", partition: "2026-11-02|acme", dataVersion: "0f1e2d3c4b5a6978" },
  ],
  checks: curatedOrdersChecks,
  runId: CLI_RUN,
  timings: {
    startedAt: "2026-11-02T03:17:42.512Z",
    finishedAt: "2026-11-02T03:17:44.020Z",
    computeMs: 1320,
    checksMs: 188,
  },
};

// ---------------------------------------------------------------------------------------------------

describe("the facet schema URLs", () => {
  test("each is the $id of its facet file plus the pointer to its definition, for every facet in the spec folder", () => {
    const fromSpec: Record<string, string> = {};
    for (const file of FACET_FILES) {
      const schema = loadJson(join(SPEC_DIR, "facets", file));
      for (const [name, prop] of Object.entries(schema.properties))
        fromSpec[name] = `${schema.$id}${prop.$ref}`;
    }
    // Every facet of the spec folder but column lineage, which Tributary does not emit (yet).
    const { columnLineage, ...emitted } = fromSpec;
    expect(columnLineage).toBe(
      "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
    );
    const { tributary_partitions, ...official } = FACET_SCHEMA_URLS;
    expect(official).toEqual(emitted);
    expect(Object.keys(official)).toHaveLength(FACET_FILES.length - 1);
    expect(FACET_SCHEMA_URLS.nominalTime).toBe(
      "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
    );
    expect(tributary_partitions).toBe(
      `${PARTITIONS_FACET_SCHEMA.$id}#/$defs/TributaryPartitionsDatasetFacet`,
    );
  });

  test("the checker is not vacuous: a facet without _producer, or under the wrong name, is refused", () => {
    const event = runStart(assetRun(curatedOrders, "acme", { runId: ASSET_RUN }), ctx);
    const { _producer, ...noProducer } = event.job.facets!["jobType"]!;
    const broken = {
      ...event,
      job: { ...event.job, facets: { ...event.job.facets, jobType: noProducer as Facet } },
    };
    expect(problems(broken as RunEvent).filter((p) => p.includes("_producer")).length).toBeGreaterThanOrEqual(
      2,
    );
    const misnamed = {
      ...event,
      run: { ...event.run, facets: { nominalTime: event.run.facets!["parent"]! } },
    };
    expect(problems(misnamed)).toEqual([
      'run.facets.nominalTime: https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json does not define a facet named "nominalTime"',
    ]);
    const badRunId = { ...event, run: { ...event.run, runId: "run-1" } };
    expect(problems(badRunId)).toContain('RunEvent/run/runId must match format "uuid" {"format":"uuid"}');
  });
});

describe("a materialisation of one asset partition", () => {
  test("START: job, parent, engine, the upstream and the output datasets with their schemas", () => {
    const run = assetRun(curatedOrders, "acme", { runId: ASSET_RUN, upstream: [ordersCdc] });
    const event = valid(runStart(run, ctx));
    expect(event).toEqual({
      eventType: "START",
      eventTime: "2026-11-02T03:17:42.512Z",
      producer: PRODUCER,
      schemaURL: "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
      run: { runId: ASSET_RUN, facets: { parent: parentFacet, processing_engine: engineFacet } },
      job: { namespace: "tributary", name: "curated_orders", facets: curatedOrdersJobFacets },
      inputs: [
        {
          namespace: "s3://acme-lake/tributary",
          name: "orders_cdc",
          facets: { schema: F("schema", { fields: ORDERS_CDC_FIELDS }), dataSource },
        },
      ],
      outputs: [
        {
          ...table("curated_orders"),
          facets: {
            schema: F("schema", { fields: CURATED_ORDER_FIELDS }),
            dataSource: tableSource,
            tributary_partitions: F("tributary_partitions", { keys: ["acme"] }),
          },
        },
      ],
    });
    expect(PRODUCER).toBe(`https://github.com/tributary-data/tributary/tree/v${TRIBUTARY_VERSION}`);
    expect(TRIBUTARY_VERSION).toBe(
      (
        JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
          version: string;
        }
      ).version,
    );
  });

  test("COMPLETE: data version, statistics and data quality of the output; partitions and metrics of the input", () => {
    const run = assetRun(curatedOrders, "acme", { runId: ASSET_RUN, upstream: [ordersCdc] });
    const event = valid(
      runComplete(run, ctx, {
        manifest: curatedOrdersManifest,
        output: {
          columns: {
            order_id: { nullCount: 0, distinctCount: 1300 },
            amount_cents: { nullCount: 0, min: 0, max: 129900, sum: 5823400 },
          },
        },
        upstream: {
          orders_cdc: {
            rowCount: 5230,
            bytes: 1843200,
            fileCount: 30,
            lastUpdated: "2026-11-02T01:05:00.000Z",
            columns: { op: { nullCount: 0, distinctCount: 4 }, after: { nullCount: 212 } },
          },
        },
      }),
    );
    expect(event.eventType).toBe("COMPLETE");
    expect(event.run).toEqual({
      runId: ASSET_RUN,
      facets: { parent: parentFacet, processing_engine: engineFacet },
    });
    expect(event.job).toEqual({
      namespace: "tributary",
      name: "curated_orders",
      facets: curatedOrdersJobFacets,
    });
    expect(event.inputs).toEqual([
      {
        namespace: "s3://acme-lake/tributary",
        name: "orders_cdc",
        facets: {
          schema: F("schema", { fields: ORDERS_CDC_FIELDS }),
          dataSource,
          // Two partitions read: no single version of the dataset, so no version facet.
          tributary_partitions: F("tributary_partitions", { keys: ["2026-11-01|acme", "2026-11-02|acme"] }),
        },
        inputFacets: {
          dataQualityMetrics: F("dataQualityMetrics", {
            rowCount: 5230,
            bytes: 1843200,
            fileCount: 30,
            lastUpdated: "2026-11-02T01:05:00.000Z",
            columnMetrics: { op: { nullCount: 0, distinctCount: 4 }, after: { nullCount: 212 } },
          }),
        },
      },
    ]);
    expect(event.outputs).toEqual([
      {
        ...table("curated_orders"),
        facets: {
          // The types DuckDB wrote, once the manifest gives them.
          schema: F("schema", {
            fields: curatedOrdersManifest.schema.map((c, i) => ({ ...c, ordinal_position: i + 1 })),
          }),
          dataSource: tableSource,
          version: F("version", { datasetVersion: "9c1d3e5f7a2b4c6d" }),
          tributary_partitions: F("tributary_partitions", { keys: ["acme"] }),
          dataQualityMetrics: F("dataQualityMetrics", {
            columnMetrics: {
              order_id: { nullCount: 0, distinctCount: 1300 },
              amount_cents: { nullCount: 0, min: 0, max: 129900, sum: 5823400 },
            },
          }),
          dataQualityAssertions: F("dataQualityAssertions", { assertions: curatedOrdersAssertions }),
        },
        outputFacets: {
          outputStatistics: F("outputStatistics", { rowCount: 1300, size: 53331, fileCount: 2 }),
        },
      },
    ]);
    expect(curatedOrders.checks.map((c) => c.name)).toEqual(curatedOrdersChecks.map((c) => c.name));
    expect(ORDER_STATUSES.join(", ")).toBe(curatedOrdersAssertions[2]!.expected);
  });

  test("COMPLETE of one upstream partition: its data version, and its checks as input assertions", () => {
    const run = assetRun(dailyRevenue, "2026-11-01|acme", { runId: ASSET_RUN, upstream: [curatedOrders] });
    const manifest: AssetManifest = {
      ...curatedOrdersManifest,
      asset: "daily_revenue",
      partition: "2026-11-01|acme",
      files: [
        { key: "curated/daily_revenue/2026-11-01/acme/77aa55cc33ee11ff.parquet", rows: 2, bytes: 1904 },
      ],
      rowCount: 2,
      schema: [
        { name: "order_date", type: "DATE" },
        { name: "tenant_id", type: "VARCHAR" },
        { name: "currency", type: "VARCHAR" },
        { name: "orders", type: "BIGINT" },
        { name: "revenue_cents", type: "BIGINT" },
        { name: "refunded_cents", type: "BIGINT" },
        { name: "average_order_cents", type: "BIGINT" },
      ],
      dataVersion: "77aa55cc33ee11ff",
      inputs: [{ asset: "curated_orders", partition: "acme", dataVersion: "9c1d3e5f7a2b4c6d" }],
      checks: [],
    };
    const event = valid(
      runComplete(run, ctx, {
        manifest,
        upstream: {
          curated_orders: {
            rowCount: 1300,
            columns: { order_date: { nullCount: 0 } },
            checks: curatedOrdersChecks,
          },
        },
      }),
    );
    expect(event.job.name).toBe("daily_revenue");
    expect(event.run.facets!["nominalTime"]).toEqual(
      F("nominalTime", {
        nominalStartTime: "2026-11-01T00:00:00.000Z",
        nominalEndTime: "2026-11-02T00:00:00.000Z",
      }),
    );
    expect(event.inputs).toHaveLength(1);
    expect([event.inputs[0]!.namespace, event.inputs[0]!.name]).toEqual(
      Object.values(table("curated_orders")),
    );
    expect(event.inputs[0]!.facets!["dataSource"]).toEqual(tableSource);
    expect(event.inputs[0]!.facets!["version"]).toEqual(F("version", { datasetVersion: "9c1d3e5f7a2b4c6d" }));
    expect(event.inputs[0]!.facets!["tributary_partitions"]).toEqual(
      F("tributary_partitions", { keys: ["acme"] }),
    );
    expect(event.inputs[0]!.inputFacets).toEqual({
      dataQualityMetrics: F("dataQualityMetrics", {
        rowCount: 1300,
        columnMetrics: { order_date: { nullCount: 0 } },
      }),
      dataQualityAssertions: F("dataQualityAssertions", { assertions: curatedOrdersAssertions }),
    });
    // No checks ran on the output: no assertions facet, rather than an empty one.
    expect(Object.keys(event.outputs[0]!.facets!)).toEqual([
      "schema",
      "dataSource",
      "version",
      "tributary_partitions",
    ]);
    expect(event.outputs[0]!.facets!["tributary_partitions"]).toEqual(
      F("tributary_partitions", { keys: ["2026-11-01|acme"] }),
    );
    expect(event.outputs[0]!.outputFacets).toEqual({
      outputStatistics: F("outputStatistics", { rowCount: 2, size: 1904, fileCount: 1 }),
    });
  });

  test("FAIL on a blocking check: the error, the failed assertion with its SQL, no version and no statistics", () => {
    const run = assetRun(customerFeatures, "globex", {
      runId: ASSET_RUN,
      upstream: [curatedOrders, curatedCustomers],
    });
    const checks: CheckResult[] = [
      {
        name: "not_null_customer_id_frequency_monetary_cents",
        kind: "not_null",
        blocking: true,
        passed: true,
        failingRows: 0,
        sample: [],
      },
      {
        name: "unique_customer_id",
        kind: "unique",
        blocking: true,
        passed: true,
        failingRows: 0,
        sample: [],
      },
      {
        name: "non_negative_values",
        kind: "sql",
        blocking: true,
        passed: false,
        failingRows: 1,
        sample: [{ customer_id: "c-17", recency_days: -3 }],
        message: "1 row returned by non_negative_values.",
      },
    ];
    const error = new Error('customer_features/globex: blocking check "non_negative_values" failed (1 row).');
    const event = valid(
      runFail(run, ctx, error, {
        checks,
        inputs: [
          { asset: "curated_orders", partition: "globex", dataVersion: "1111222233334444" },
          { asset: "curated_customers", partition: "globex", dataVersion: "5555666677778888" },
        ],
      }),
    );
    expect(event.eventType).toBe("FAIL");
    expect(event.run.facets!["errorMessage"]).toEqual(
      F("errorMessage", {
        message: error.message,
        programmingLanguage: "TypeScript",
        stackTrace: error.stack,
      }),
    );
    expect(String(event.run.facets!["errorMessage"]!["stackTrace"]).split("\n")[0]).toBe(
      `Error: ${error.message}`,
    );
    // customer_features is scheduled daily but partitioned by tenant only: no nominal time.
    expect(Object.keys(event.run.facets!)).toEqual(["parent", "processing_engine", "errorMessage"]);
    expect(event.inputs.map((d) => [d.name, d.facets!["version"]])).toEqual([
      [table("curated_orders").name, F("version", { datasetVersion: "1111222233334444" })],
      [table("curated_customers").name, F("version", { datasetVersion: "5555666677778888" })],
    ]);
    const output = event.outputs[0]!;
    expect(output.name).toBe(table("customer_features").name);
    expect(output.outputFacets).toBe(undefined);
    expect(Object.keys(output.facets!)).toEqual([
      "schema",
      "dataSource",
      "tributary_partitions",
      "dataQualityAssertions",
    ]);
    expect(output.facets!["dataQualityAssertions"]).toEqual(
      F("dataQualityAssertions", {
        assertions: [
          {
            assertion: "not_null",
            success: true,
            severity: "error",
            name: "not_null_customer_id_frequency_monetary_cents",
            params: { failingRows: 0, columns: ["customer_id", "frequency", "monetary_cents"] },
          },
          {
            assertion: "unique",
            success: true,
            column: "customer_id",
            severity: "error",
            name: "unique_customer_id",
            params: { failingRows: 0 },
          },
          {
            assertion: "custom_sql",
            success: false,
            severity: "error",
            name: "non_negative_values",
            description: "1 row returned by non_negative_values.",
            content:
              "SELECT * FROM customer_features WHERE frequency < 0 OR monetary_cents < 0 OR recency_days < 0",
            contentType: "sql",
            params: { failingRows: 1 },
          },
        ],
      }),
    );
  });

  test("FAIL with a non-Error: the message as given, no stack trace", () => {
    const run = assetRun(curatedOrders, "initech", { runId: ASSET_RUN });
    const event = valid(runFail(run, { store: STORE, eventTime: AT }, "DuckDB: out of memory"));
    expect(event.run.facets).toEqual({
      errorMessage: F("errorMessage", {
        message: "DuckDB: out of memory",
        programmingLanguage: "TypeScript",
      }),
    });
    const odd = valid(runFail(run, { store: STORE, eventTime: AT }, { code: 42n }));
    expect(odd.run.facets!["errorMessage"]).toEqual(
      F("errorMessage", { message: "[object Object]", programmingLanguage: "TypeScript" }),
    );
    expect(
      runFail(run, { store: STORE, eventTime: AT }, { code: 42 }).run.facets!["errorMessage"]!["message"],
    ).toBe('{"code":42}');
    // Without the upstream declarations the inputs are named, without a schema.
    expect(event.inputs).toEqual([{ namespace: STORE.uri, name: "orders_cdc", facets: { dataSource } }]);
  });

  test("in a stack whose tables are in Glue or BigQuery, an asset's dataset is its table there", () => {
    const run = assetRun(dailyRevenue, "2026-11-01|acme", { runId: ASSET_RUN, upstream: [curatedOrders] });
    const glue = {
      kind: "glue",
      region: "eu-west-1",
      account: "123456789012",
      database: "trib_prod",
    } as const;
    const event = valid(runStart(run, { ...ctx, tables: glue }));
    const arn = "arn:aws:glue:eu-west-1:123456789012";
    expect(
      [...event.inputs, ...event.outputs].map((d) => [d.namespace, d.name, d.facets!["dataSource"]]),
    ).toEqual([
      [arn, "table/trib_prod/curated_orders", F("dataSource", { name: arn, uri: STORE.uri })],
      [arn, "table/trib_prod/daily_revenue", F("dataSource", { name: arn, uri: STORE.uri })],
    ]);
    const bq = { kind: "bigquery", project: "acme-data", dataset: "trib_staging" } as const;
    const bqEvent = valid(runStart(run, { ...ctx, tables: bq }));
    expect(bqEvent.outputs.map((d) => [d.namespace, d.name])).toEqual([
      ["bigquery", "acme-data.trib_staging.daily_revenue"],
    ]);
  });

  test("a compute asset has no sql facet; its tags and two owners are job facets", () => {
    const run = assetRun(recommendationFeatures, "acme", { runId: ASSET_RUN, upstream: [customerFeatures] });
    const event = valid(runStart(run, ctx));
    expect(event.job.facets).toEqual({
      jobType: F("jobType", { processingType: "BATCH", integration: "TRIBUTARY", jobType: "ASSET" }),
      documentation: F("documentation", {
        description:
          "One row per customer, ready for the embedding job: a segment, a text to embed and scaled numeric features.",
        contentType: "text/plain",
      }),
      ownership: F("ownership", { owners: [{ name: "team:growth-ml" }] }),
      tags: F("tags", {
        tags: [
          { key: "features", value: "true", source: "USER" },
          { key: "ml", value: "true", source: "USER" },
          { key: "group", value: "commerce", source: "USER" },
        ],
      }),
    });
    expect(event.outputs[0]!.facets!["schema"]).toEqual(
      F("schema", {
        fields: [
          { name: "customer_id", type: "string", ordinal_position: 1 },
          { name: "tenant_id", type: "string", ordinal_position: 2 },
          { name: "segment", type: "string", ordinal_position: 3 },
          { name: "embedding_text", type: "string", ordinal_position: 4 },
          { name: "features", type: "array", ordinal_position: 5 },
        ],
      }),
    );
  });

  test("an unpartitioned asset in a custom namespace, in a real local store: no partitions facet, no nominal time", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tributary-lineage-"));
    try {
      const store = new LocalStore(join(dir, "store"));
      const totals = asset("order_totals", {
        schema: Type.Object({ orders: Type.Integer({ description: "Orders of every tenant." }) }),
        deps: [curatedOrders],
        sql: "SELECT count(*) AS orders FROM curated_orders",
      });
      const cli = commandRun("materialize", { runId: CLI_RUN });
      const event = valid(
        runStart(assetRun(totals, "", { runId: ASSET_RUN }), {
          store,
          eventTime: AT,
          namespace: "acme-prod",
          parent: parentOf(cli),
        }),
      );
      expect(store.uri).toBe(`file://${join(dir, "store")}`);
      expect(event.job).toEqual({
        namespace: "acme-prod",
        name: "order_totals",
        facets: {
          jobType: F("jobType", { processingType: "BATCH", integration: "TRIBUTARY", jobType: "ASSET" }),
          tags: F("tags", { tags: [{ key: "group", value: "default", source: "USER" }] }),
          sql: F("sql", { query: "SELECT count(*) AS orders FROM curated_orders", dialect: "duckdb" }),
        },
      });
      expect(event.run.facets).toEqual({
        parent: F("parent", {
          run: { runId: CLI_RUN },
          job: { namespace: "acme-prod", name: "tributary.materialize" },
          root: { run: { runId: CLI_RUN }, job: { namespace: "acme-prod", name: "tributary.materialize" } },
        }),
      });
      expect(event.outputs).toEqual([
        {
          namespace: "file",
          name: join(dir, "store", "curated", "order_totals"),
          facets: {
            schema: F("schema", {
              fields: [
                {
                  name: "orders",
                  type: "integer",
                  description: "Orders of every tenant.",
                  ordinal_position: 1,
                },
              ],
            }),
            dataSource: F("dataSource", { name: "file", uri: store.uri }),
          },
        },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("nominal time of a time partition", () => {
  const berlin = asset("berlin_orders", {
    schema: Type.Object({ n: Type.Integer() }),
    partitions: daily({ start: "2026-10-01", timezone: "Europe/Berlin" }),
    sql: "SELECT 1 AS n",
  });

  test("a day in Europe/Berlin starts at local midnight; the day summer time ends is 25 hours long", () => {
    const event = valid(
      runStart(assetRun(berlin, "2026-10-25", { runId: ASSET_RUN }), { store: STORE, eventTime: AT }),
    );
    expect(event.run.facets).toEqual({
      nominalTime: F("nominalTime", {
        nominalStartTime: "2026-10-24T22:00:00.000Z",
        nominalEndTime: "2026-10-25T23:00:00.000Z",
      }),
    });
    expect(nominalTime(berlin.partitions, "2026-11-01")).toEqual({
      nominalStartTime: "2026-10-31T23:00:00.000Z",
      nominalEndTime: "2026-11-01T23:00:00.000Z",
    });
  });

  test("hourly keys, and the time part of a day × tenant key", () => {
    const hourly = hourlyPartitions({ start: "2026-03-01T00", timezone: "Europe/Berlin" });
    // 03:00 local on the day summer time starts is 01:00 UTC; the hour before it does not exist locally.
    expect(nominalTime(hourly, "2026-03-29T03")).toEqual({
      nominalStartTime: "2026-03-29T01:00:00.000Z",
      nominalEndTime: "2026-03-29T02:00:00.000Z",
    });
    expect(nominalTime(dailyRevenue.partitions, "2026-11-30|globex")).toEqual({
      nominalStartTime: "2026-11-30T00:00:00.000Z",
      nominalEndTime: "2026-12-01T00:00:00.000Z",
    });
    expect(nominalTime(staticPartitions("tenant", ["acme"]), "acme")).toBe(undefined);
    expect(nominalTime(undefined, "")).toBe(undefined);
    // Malformed keys give no nominal time rather than a throw: lineage must never fail a run.
    expect(nominalTime(daily({ start: "2026-01-01" }), "2026-02-30")).toBe(undefined);
    expect(nominalTime(hourly, "2026-03-29")).toBe(undefined);
  });
});

describe("an ingest of a source batch", () => {
  const batch = "20261102T031500Z-4f2a";
  const files = [
    "exports/orders-2026-11-01.ndjson",
    "s3://acme-exports/orders/2026/11/02/part%200001.ndjson",
    "-",
  ];
  const manifest: BatchManifest = {
    format: 1,
    source: "orders_cdc",
    batch,
    committedAt: "2026-11-02T03:15:09.120Z",
    inputs: files,
    files: [
      {
        key: `raw/orders_cdc/2026-11-01/acme/${batch}.ndjson`,
        partition: "2026-11-01|acme",
        rows: 640,
        bytes: 412000,
      },
      {
        key: `raw/orders_cdc/2026-11-01/globex/${batch}.ndjson`,
        partition: "2026-11-01|globex",
        rows: 210,
        bytes: 130500,
      },
      {
        key: `raw/orders_cdc/2026-11-02/acme/${batch}.ndjson`,
        partition: "2026-11-02|acme",
        rows: 150,
        bytes: 96000,
      },
    ],
    quarantine: { key: `quarantine/orders_cdc/${batch}.ndjson`, rows: 3 },
    ids: `_index/orders_cdc/${batch}.ids`,
    counts: { read: 1010, written: 1000, quarantined: 3, duplicates: 7 },
  };
  const run = ingestRun(ordersCdc, batch, { runId: ASSET_RUN, files });

  const ingestJobFacets = {
    jobType: F("jobType", { processingType: "BATCH", integration: "TRIBUTARY", jobType: "INGEST" }),
    documentation: F("documentation", {
      description:
        "Change events of the shop's orders table, as Debezium's Postgres connector sends them (op c/u/d/r with the row before and after).",
      contentType: "text/plain",
    }),
    ownership: F("ownership", { owners: [{ name: "team:data-platform" }] }),
    tags: F("tags", {
      tags: [
        { key: "cdc", value: "true", source: "USER" },
        { key: "group", value: "commerce", source: "USER" },
      ],
    }),
  };
  const inputFiles = [
    { namespace: "file", name: resolve("exports/orders-2026-11-01.ndjson") },
    { namespace: "s3://acme-exports", name: "orders/2026/11/02/part 0001.ndjson" },
  ];

  test("START: job ingest.<source>, the files read, the raw and the quarantine datasets", () => {
    const event = valid(runStart(run, ctx));
    expect(event.job).toEqual({ namespace: "tributary", name: "ingest.orders_cdc", facets: ingestJobFacets });
    expect(event.run.facets).toEqual({ parent: parentFacet, processing_engine: engineFacet });
    expect(event.inputs).toEqual(inputFiles);
    expect(event.outputs).toEqual([
      {
        namespace: STORE.uri,
        name: "orders_cdc",
        facets: { schema: F("schema", { fields: ORDERS_CDC_FIELDS }), dataSource },
      },
      { namespace: STORE.uri, name: "quarantine/orders_cdc", facets: { dataSource } },
    ]);
  });

  test("COMPLETE: rows written and quarantined, the partitions landed, the batch as the version", () => {
    const event = valid(runComplete(run, ctx, { manifest }));
    expect(event.inputs).toEqual(inputFiles);
    expect(event.outputs).toEqual([
      {
        namespace: STORE.uri,
        name: "orders_cdc",
        facets: {
          schema: F("schema", { fields: ORDERS_CDC_FIELDS }),
          dataSource,
          version: F("version", { datasetVersion: batch }),
          tributary_partitions: F("tributary_partitions", {
            keys: ["2026-11-01|acme", "2026-11-01|globex", "2026-11-02|acme"],
          }),
        },
        outputFacets: {
          outputStatistics: F("outputStatistics", { rowCount: 1000, size: 638500, fileCount: 3 }),
        },
      },
      {
        namespace: STORE.uri,
        name: "quarantine/orders_cdc",
        facets: { dataSource, version: F("version", { datasetVersion: batch }) },
        outputFacets: { outputStatistics: F("outputStatistics", { rowCount: 3, fileCount: 1 }) },
      },
    ]);
  });

  test("FAIL: the error, and no statistics; the files come from the manifest when the run names none", () => {
    const bare = ingestRun(ordersCdc, batch, { runId: ASSET_RUN });
    const event = valid(
      runFail(bare, ctx, new TypeError("line 17: Unexpected token } in JSON"), { manifest }),
    );
    expect(event.job.name).toBe("ingest.orders_cdc");
    expect(event.run.facets!["errorMessage"]!["message"]).toBe("line 17: Unexpected token } in JSON");
    expect(event.inputs).toEqual(inputFiles);
    expect(event.outputs.map((o) => [o.name, o.outputFacets, Object.keys(o.facets!)])).toEqual([
      ["orders_cdc", undefined, ["schema", "dataSource", "tributary_partitions"]],
      ["quarantine/orders_cdc", undefined, ["dataSource"]],
    ]);
  });

  test("file names: local paths made absolute, file: and object-store URIs split by OpenLineage's naming", () => {
    expect(fileDataset("/data/in/orders.ndjson")).toEqual({
      namespace: "file",
      name: "/data/in/orders.ndjson",
    });
    expect(fileDataset("file:///data/in/orders%20two.ndjson")).toEqual({
      namespace: "file",
      name: "/data/in/orders two.ndjson",
    });
    expect(fileDataset("gs://acme-landing/cdc/orders.ndjson")).toEqual({
      namespace: "gs://acme-landing",
      name: "cdc/orders.ndjson",
    });
    expect(fileDataset("abfss://raw@acmelake.dfs.core.windows.net/cdc/o.ndjson")).toEqual({
      namespace: "abfss://raw@acmelake.dfs.core.windows.net",
      name: "cdc/o.ndjson",
    });
  });
});

describe("the CLI invocation, parent of the runs it starts", () => {
  const cli = commandRun("materialize", { runId: CLI_RUN });
  const commandJob = {
    namespace: "tributary",
    name: "tributary.materialize",
    facets: {
      jobType: F("jobType", { processingType: "BATCH", integration: "TRIBUTARY", jobType: "COMMAND" }),
    },
  };

  test("START and COMPLETE: job tributary.<command>, no datasets, no parent of its own", () => {
    const c = { store: STORE, eventTime: AT, engine: ENGINE };
    const start = valid(runStart(cli, c));
    expect(start).toEqual({
      eventType: "START",
      eventTime: "2026-11-02T03:17:42.512Z",
      producer: PRODUCER,
      schemaURL: RUN_EVENT_SCHEMA_URL,
      run: { runId: CLI_RUN, facets: { processing_engine: engineFacet } },
      job: commandJob,
      inputs: [],
      outputs: [],
    });
    const complete = valid(runComplete(cli, { ...c, eventTime: new Date("2026-11-02T03:19:01.000Z") }));
    expect(complete).toEqual({ ...start, eventType: "COMPLETE", eventTime: "2026-11-02T03:19:01.000Z" });
  });

  test("FAIL carries the error; its own run id as ctx.parent does not make it its own parent", () => {
    const error = new Error(
      "2 of 7 asset partitions failed: curated_orders/acme, daily_revenue/2026-11-01|acme.",
    );
    const event = valid(runFail(cli, { ...ctx, engine: undefined }, error));
    expect(event.eventType).toBe("FAIL");
    expect(event.job).toEqual(commandJob);
    expect(event.run).toEqual({
      runId: CLI_RUN,
      facets: {
        errorMessage: F("errorMessage", {
          message: error.message,
          programmingLanguage: "TypeScript",
          stackTrace: error.stack,
        }),
      },
    });
  });

  test("a nested command and a parent with its own root", () => {
    const nested = commandRun(" asset  materialize ", { runId: CLI_RUN });
    expect(jobName(nested)).toBe("tributary.asset.materialize");
    const scheduler = {
      runId: "019a4a6b-0000-7000-8000-000000000001",
      name: "nightly",
      namespace: "airflow",
    };
    const event = valid(
      runStart(assetRun(curatedOrders, "acme", { runId: ASSET_RUN }), {
        store: STORE,
        eventTime: AT,
        parent: { ...parentOf(nested), root: scheduler },
      }),
    );
    expect(event.run.facets!["parent"]).toEqual(
      F("parent", {
        run: { runId: CLI_RUN },
        job: { namespace: "tributary", name: "tributary.asset.materialize" },
        root: { run: { runId: scheduler.runId }, job: { namespace: "airflow", name: "nightly" } },
      }),
    );
  });
});

describe("run ids", () => {
  test("UUID version 7: the time in the first 48 bits, version and variant bits set, random otherwise", () => {
    const at = Date.parse("2026-11-02T03:17:42.512Z");
    const id = newRunId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(at);
    expect(id.slice(0, 13)).toBe(
      `${at.toString(16).padStart(12, "0").slice(0, 8)}-${at.toString(16).padStart(12, "0").slice(8)}`,
    );
    const many = new Set(Array.from({ length: 1000 }, () => newRunId(at)));
    expect(many.size).toBe(1000);
    expect(newRunId(at) < newRunId(at + 1)).toBe(true);
    expect(ajv.validate({ type: "string", format: "uuid" }, assetRun(curatedOrders, "acme").runId)).toBe(
      true,
    );
  });
});
