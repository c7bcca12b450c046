/**
 * The asset schema as an Iceberg schema (contract/table-schema.ts): types, ids kept by column across
 * changes, what Iceberg cannot evolve, and which columns a table is partitioned by; and the names of
 * tables (contract/table-names.ts).
 */
import { daily, hourly, multiPartitions, staticPartitions, type TObject, Type } from "tributary";
import { describe, expect, it } from "vitest";
import {
  catalogTable,
  lineageTable,
  tableLocation,
  tableNamespace,
  warehouseUri,
} from "../../src/contract/table-names.ts";
import { icebergSchema, partitionSources, unevolvable } from "../../src/contract/table-schema.ts";
import { dataFileCopyOptions, readFilesSql } from "../../src/runtime/iceberg/duck.ts";

const Order = Type.Object({
  id: Type.String({ format: "uuid", description: "The order." }),
  at: Type.String({ format: "date-time" }),
  day: Type.String({ format: "date" }),
  cents: Type.Integer(),
  rate: Type.Union([Type.Number(), Type.Null()]),
  paid: Type.Boolean(),
  tags: Type.Array(Type.String()),
  source: Type.Object({ db: Type.String(), lsn: Type.Union([Type.Integer(), Type.Null()]) }),
  lines: Type.Array(Type.Object({ sku: Type.String(), qty: Type.Integer() })),
});

describe("the Iceberg schema of an asset", () => {
  it("maps every TypeBox type, numbering top-level columns 1…n before nested ones", () => {
    const { schema, lastColumnId } = icebergSchema(Order);
    expect(schema).toEqual({
      type: "struct",
      "schema-id": 0,
      fields: [
        { id: 1, name: "id", required: true, type: "string", doc: "The order." },
        { id: 2, name: "at", required: true, type: "timestamptz" },
        { id: 3, name: "day", required: true, type: "date" },
        { id: 4, name: "cents", required: true, type: "long" },
        { id: 5, name: "rate", required: false, type: "double" },
        { id: 6, name: "paid", required: true, type: "boolean" },
        {
          id: 7,
          name: "tags",
          required: true,
          type: { type: "list", "element-id": 10, "element-required": true, element: "string" },
        },
        {
          id: 8,
          name: "source",
          required: true,
          type: {
            type: "struct",
            fields: [
              { id: 11, name: "db", required: true, type: "string" },
              { id: 12, name: "lsn", required: false, type: "long" },
            ],
          },
        },
        {
          id: 9,
          name: "lines",
          required: true,
          type: {
            type: "list",
            "element-id": 13,
            "element-required": true,
            element: {
              type: "struct",
              fields: [
                { id: 14, name: "sku", required: true, type: "string" },
                { id: 15, name: "qty", required: true, type: "long" },
              ],
            },
          },
        },
      ],
    });
    expect(lastColumnId).toBe(15);
  });

  it("keeps ids by column across changes; a new or retyped column gets a new id and is optional", () => {
    const first = icebergSchema(Order);
    const { properties } = Order;
    const changed = Type.Object({
      cents: properties.cents,
      id: properties.id,
      at: properties.at,
      rate: Type.Number(), // optional stays optional
      paid: Type.String(), // retyped
      note: Type.String(), // added, declared required
      source: Type.Object({
        db: Type.String(),
        lsn: Type.Union([Type.Integer(), Type.Null()]),
        txid: Type.Integer(),
      }),
    });
    const next = icebergSchema(changed, {
      previous: first.schema,
      lastColumnId: first.lastColumnId,
      schemaId: 1,
    });
    expect(
      next.schema.fields.map((f) => [
        f.name,
        f.id,
        f.required,
        typeof f.type === "string" ? f.type : f.type.type,
      ]),
    ).toEqual([
      ["cents", 4, true, "long"],
      ["id", 1, true, "string"],
      ["at", 2, true, "timestamptz"],
      ["rate", 5, false, "double"],
      ["paid", 16, false, "string"],
      ["note", 17, false, "string"],
      ["source", 8, true, "struct"],
    ]);
    const source = next.schema.fields.find((f) => f.name === "source")!.type;
    expect(source).toEqual({
      type: "struct",
      fields: [
        { id: 11, name: "db", required: true, type: "string" },
        { id: 12, name: "lsn", required: false, type: "long" },
        { id: 18, name: "txid", required: false, type: "long" },
      ],
    });
    expect(next.lastColumnId).toBe(18);
  });

  it("says what Iceberg cannot evolve: a type change, a required column added, an optional column made required", () => {
    const before = Type.Object({
      a: Type.Integer(),
      b: Type.Union([Type.String(), Type.Null()]),
      c: Type.String(),
    });
    const table = (s: TObject) => icebergSchema(s).schema;
    expect(unevolvable(table(before), table(before))).toEqual([]);
    // Dropping a column and adding an optional one evolve.
    expect(
      unevolvable(
        table(before),
        table(
          Type.Object({
            a: Type.Integer(),
            b: before.properties.b,
            d: Type.Union([Type.Boolean(), Type.Null()]),
          }),
        ),
      ),
    ).toEqual([]);
    expect(
      unevolvable(
        table(before),
        table(
          Type.Object({
            a: Type.Number(),
            b: Type.String(),
            c: Type.String(),
            d: Type.Boolean(),
            e: Type.Object({ x: Type.Integer() }),
          }),
        ),
      ),
    ).toEqual([
      'column "a" changes type from long to double, which Iceberg cannot evolve',
      'column "b" becomes required, which Iceberg cannot evolve',
      'required column "d" is added without a default, which Iceberg cannot evolve',
      'required column "e" is added without a default, which Iceberg cannot evolve',
    ]);
  });

  it("writes every field id into the COPY, and reads files by field id", () => {
    const { schema } = icebergSchema(
      Type.Object({ a: Type.Integer(), s: Type.Object({ x: Type.String() }), l: Type.Array(Type.Number()) }),
    );
    expect(dataFileCopyOptions(schema)).toBe(
      `FORMAT parquet, COMPRESSION zstd, FIELD_IDS {"a": 1, "s": {__duckdb_field_id: 2, "x": 4}, "l": {__duckdb_field_id: 3, element: 5}}, KV_METADATA {'iceberg.schema': '${JSON.stringify(schema)}'}, RETURN_STATS true`,
    );
    expect(readFilesSql(schema, ["/d/f.parquet"])).toBe(
      `SELECT * FROM read_parquet(['/d/f.parquet'], schema = MAP {1: {name: 'a', type: 'BIGINT', default_value: NULL}, 2: {name: 's', type: 'STRUCT("x" VARCHAR)', default_value: NULL}, 3: {name: 'l', type: 'DOUBLE[]', default_value: NULL}})`,
    );
    expect(readFilesSql(schema, [])).toBe(
      `SELECT CAST(NULL AS BIGINT) AS "a", CAST(NULL AS STRUCT("x" VARCHAR)) AS "s", CAST(NULL AS DOUBLE[]) AS "l" WHERE false`,
    );
  });
});

describe("the partition fields of a table", () => {
  const tenants = staticPartitions("tenant", ["acme", "globex"]);
  const Revenue = Type.Object({
    order_date: Type.String({ format: "date" }),
    tenant_id: Type.String(),
    at: Type.String({ format: "date-time" }),
    n: Type.Integer(),
  });

  it("day of the one date column and identity of the static dimension's column", () => {
    expect(partitionSources(Revenue, multiPartitions(daily({ start: "2026-11-01" }), tenants))).toEqual([
      { column: "order_date", transform: "day", dimension: "time" },
      { column: "tenant_id", transform: "identity", dimension: "static" },
    ]);
    expect(partitionSources(Revenue, tenants)).toEqual([
      { column: "tenant_id", transform: "identity", dimension: "static" },
    ]);
    expect(partitionSources(Revenue, undefined)).toEqual([]);
  });

  it("a timestamp in UTC when there is no date column, hour of it for hourly partitions", () => {
    const Events = Type.Object({ at: Type.String({ format: "date-time" }), tenant: Type.String() });
    expect(partitionSources(Events, daily({ start: "2026-11-01" }))).toEqual([
      { column: "at", transform: "day", dimension: "time" },
    ]);
    expect(partitionSources(Events, hourly({ start: "2026-11-01T00" }))).toEqual([
      { column: "at", transform: "hour", dimension: "time" },
    ]);
    expect(partitionSources(Events, tenants)).toEqual([
      { column: "tenant", transform: "identity", dimension: "static" },
    ]);
  });

  it("another time zone: only a date column fits a day; no hour field; none when ambiguous or nullable", () => {
    const berlin = { start: "2026-11-01", timezone: "Europe/Berlin" };
    expect(partitionSources(Revenue, daily(berlin))).toEqual([
      { column: "order_date", transform: "day", dimension: "time" },
    ]);
    const Events = Type.Object({ at: Type.String({ format: "date-time" }) });
    expect(partitionSources(Events, daily(berlin))).toEqual([]);
    expect(partitionSources(Events, hourly({ start: "2026-11-01T00", timezone: "Europe/Berlin" }))).toEqual(
      [],
    );
    const TwoDates = Type.Object({ a: Type.String({ format: "date" }), b: Type.String({ format: "date" }) });
    expect(partitionSources(TwoDates, daily({ start: "2026-11-01" }))).toEqual([]);
    const Nullable = Type.Object({
      d: Type.Union([Type.String({ format: "date" }), Type.Null()]),
      tenant_id: Type.Union([Type.String(), Type.Null()]),
    });
    expect(partitionSources(Nullable, multiPartitions(daily({ start: "2026-11-01" }), tenants))).toEqual([]);
  });
});

describe("table names", () => {
  it("locally: namespace curated in the store's warehouse; in a stack: the stack's prefix as an identifier", () => {
    expect(catalogTable({ kind: "hadoop", warehouse: "file:///srv/.tributary" }, "daily_revenue")).toEqual({
      namespace: "curated",
      name: "daily_revenue",
    });
    expect(tableNamespace("trib-dev")).toBe("trib_dev");
    expect(
      catalogTable({ kind: "glue", region: "eu-west-1", account: "123456789012", database: "trib_dev" }, "x"),
    ).toEqual({
      namespace: "trib_dev",
      name: "x",
    });
  });

  it("a table's location in each store, and its OpenLineage dataset in each catalog", () => {
    expect(tableLocation("file:///srv/.tributary", "r")).toBe("file:///srv/.tributary/curated/r");
    expect(tableLocation("s3://bucket/prefix/", "r")).toBe("s3://bucket/prefix/curated/r");
    expect(warehouseUri("https://acct.blob.core.windows.net/curated/p")).toBe(
      "abfss://curated@acct.dfs.core.windows.net/p",
    );
    const S3 = "s3://lake/prefix";
    expect(
      lineageTable({ kind: "hadoop", warehouse: "file:///srv/.tributary" }, "r", "file:///srv/.tributary"),
    ).toEqual({
      namespace: "file",
      name: "/srv/.tributary/curated/r",
    });
    expect(
      lineageTable({ kind: "hadoop", warehouse: "s3://bucket/prefix" }, "r", "s3://bucket/prefix"),
    ).toEqual({
      namespace: "s3://bucket",
      name: "prefix/curated/r",
    });
    expect(
      lineageTable(
        { kind: "hadoop", warehouse: "https://acct.blob.core.windows.net/c" },
        "r",
        "https://acct.blob.core.windows.net/c",
      ),
    ).toEqual({
      namespace: "abfss://c@acct.dfs.core.windows.net",
      name: "curated/r",
    });
    expect(
      lineageTable(
        { kind: "glue", region: "eu-west-1", account: "123456789012", database: "trib_dev" },
        "r",
        S3,
      ),
    ).toEqual({
      namespace: "arn:aws:glue:eu-west-1:123456789012",
      name: "table/trib_dev/r",
    });
    // Without the account, a Glue table is named by its location.
    expect(lineageTable({ kind: "glue", region: "eu-west-1", database: "trib_dev" }, "r", S3)).toEqual({
      namespace: "s3://lake",
      name: "prefix/curated/r",
    });
    expect(lineageTable({ kind: "bigquery", project: "p-1", dataset: "trib_staging" }, "r", S3)).toEqual({
      namespace: "bigquery",
      name: "p-1.trib_staging.r",
    });
  });
});
