import {
  asset,
  DeclarationError,
  daily,
  debezium,
  defineGraph,
  dep,
  latest,
  mapping,
  type Row,
  source,
  Type,
} from "tributary";
import { describe, expect, expectTypeOf, it } from "vitest";

const ProductRow = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  weight: Type.Number(),
});

function thrown(f: () => unknown): { name: string; message: string } {
  try {
    f();
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error("expected a throw");
}

const cdc = debezium.postgres({ table: "inventory.products", key: ["id"], row: ProductRow });

describe("declaring a CDC source", () => {
  it("derives the schema, event id, event time and tenant from the declaration", () => {
    const products = source("products", { cdc, partitions: daily({ start: "2020-07-01" }) });
    expect(products.cdc).toEqual({
      format: "debezium",
      connector: "postgresql",
      table: "inventory.products",
      key: ["id"],
      row: ProductRow,
    });
    expect(products.eventId).toBe("source.db+source.lsn+source.txId+op+key(id)");
    expect(products.eventTime).toBe("source.ts_ms");
    expect(products.tenant).toBeUndefined();
    expect(Object.keys(products.schema.properties)).toEqual([
      "before",
      "after",
      "source",
      "op",
      "ts_ms",
      "ts_us",
      "ts_ns",
      "transaction",
    ]);
    expect(products.schema.required).toEqual(["source", "op"]);
    const block = products.schema.properties.source;
    expect(Object.keys(block.properties)).toEqual([
      "version",
      "connector",
      "name",
      "ts_ms",
      "ts_us",
      "ts_ns",
      "snapshot",
      "db",
      "sequence",
      "table",
      "schema",
      "txId",
      "lsn",
      "xmin",
    ]);
    expect(block.required).toEqual(["version", "connector", "name", "ts_ms", "db", "table", "schema", "lsn"]);
    expect(products.schema.properties.after.anyOf[0]).toBe(ProductRow);
    // The envelope is typed from the row: a compute asset sees `after` as a product or null.
    expectTypeOf<Row<typeof products.schema>["after"]>().toEqualTypeOf<
      { id: number; name: string; description: string | null; weight: number } | null | undefined
    >();
    expect(Object.isFrozen(products)).toBe(true);
  });

  it("gives MySQL sources MySQL's source block and the binlog position in their event id", () => {
    const orders = source("orders", {
      cdc: debezium.mysql({
        table: "shop.orders",
        key: ["order_id"],
        row: Type.Object({ order_id: Type.Integer(), tenant_id: Type.String() }),
        tenant: { column: "tenant_id" },
      }),
    });
    expect(orders.eventId).toBe("source.db+source.file+source.pos+source.row+op+key(order_id)");
    expect(orders.tenant).toBe("after.tenant_id");
    expect(orders.schema.properties.source.required).toEqual([
      "version",
      "connector",
      "name",
      "ts_ms",
      "db",
      "table",
      "server_id",
      "file",
      "pos",
      "row",
    ]);
    const perDb = source("accounts", {
      cdc: debezium.mysql({
        table: "shop.accounts",
        key: ["id"],
        row: Type.Object({ id: Type.String() }),
        tenant: { database: true },
      }),
      horizon: "2h",
    });
    expect(perDb.tenant).toBe("source.db");
    expect(perDb.horizonMinutes).toBe(120);
  });

  it("builds a graph with a latest() asset over it", () => {
    const products = source("products", { cdc, partitions: daily({ start: "2020-07-01" }) });
    const productsNow = asset("products_now", {
      deps: [dep(products, { partitions: mapping.all() })],
      schema: ProductRow,
      sql: latest(products),
    });
    const graph = defineGraph([products, productsNow]);
    expect(graph.select("+products_now")).toEqual(["products", "products_now"]);
  });

  it("refuses the options a CDC source derives, and bad declarations, in one line each", () => {
    const cases: [() => unknown, string][] = [
      [
        () =>
          source("p", {
            cdc,
            schema: ProductRow,
            eventId: "id",
          } as never),
        'source "p": a CDC source takes no schema, eventId: its schema is the change-event envelope of cdc.row, its event id the change\'s position and key, its event time source.ts_ms and its tenant cdc.tenant; remove them.',
      ],
      [
        () => source("p", { cdc: debezium.postgres({ table: "products", key: ["id"], row: ProductRow }) }),
        'source "p": cdc: table must be "<schema>.<table>" as the connector names it (e.g. "public.orders"), not "products".',
      ],
      [
        () =>
          source("p", {
            cdc: debezium.postgres({ table: "inventory.products", key: ["idx" as "id"], row: ProductRow }),
          }),
        'source "p": cdc: key column "idx" is not a column of the row (id, name, description, weight).',
      ],
      [
        () =>
          source("p", { cdc: debezium.postgres({ table: "inventory.products", key: [], row: ProductRow }) }),
        'source "p": cdc: key must list the primary key columns of inventory.products (e.g. key: ["id"]); latest state and event ids are per key.',
      ],
      [
        () =>
          source("p", {
            cdc: debezium.postgres({ table: "inventory.products", key: ["description"], row: ProductRow }),
          }),
        'source "p": cdc: key column "description" must be a string, integer, number or boolean that is never null, not {"anyOf":[{"type":"string"},{"type":"null"}]}.',
      ],
      [
        () =>
          source("p", {
            cdc: debezium.postgres({
              table: "inventory.products",
              key: ["id"],
              row: ProductRow,
              tenant: { column: "tenant" as "id" },
            }),
          }),
        'source "p": cdc: tenant column "tenant" is not a column of the row (id, name, description, weight).',
      ],
      [
        () =>
          source("p", {
            cdc: debezium.postgres({
              table: "inventory.products",
              key: ["id"],
              row: ProductRow,
              tenant: { column: "weight" },
            }),
          }),
        'source "p": cdc: tenant column "weight" must be a string column (partition keys are its values).',
      ],
      [
        () =>
          source("p", {
            cdc: debezium.postgres({
              table: "inventory.products",
              key: ["id"],
              row: ProductRow,
              tenant: { database: false } as never,
            }),
          }),
        'source "p": cdc: tenant must be { column: "<column of the row>" } or { database: true } (the tenant is source.db), not {"database":false}.',
      ],
      [
        () =>
          source("p", { cdc: debezium.postgres({ table: "a.b", key: ["id"], row: Type.String() as never }) }),
        'source "p": cdc: row must be a TypeBox object schema (Type.Object({ ... })) of one row of "a.b".',
      ],
      [
        () => source("p", { cdc, horizon: "soon" }),
        'source "p": horizon: duration "soon" is invalid: write days, hours and minutes like "26h", "90m" or "1d12h".',
      ],
      [
        () => latest(source("plain", { schema: ProductRow, eventId: "id", eventTime: "name" })),
        'latest(): source "plain" is not a CDC source; latest state per key needs change events, declared with cdc: debezium.postgres({ table, key, row }) or debezium.mysql({...}).',
      ],
      [
        () => latest(source("p", { cdc }), { changedAt: "weight" }),
        'latest(): source "p": its row has a column "weight" already, which latest() would add for changedAt; give changedAt another name.',
      ],
    ];
    for (const [f, message] of cases) {
      expect(thrown(f)).toEqual({ name: DeclarationError.name, message });
    }
  });
});

describe("a bad CDC declaration in a graph module", () => {
  it("is one line from the command line, exit 1", async () => {
    const { tributary } = await import("../cli/run.ts");
    const r = await tributary(["validate", "--graph", "test/fixtures/graphs/bad-cdc.ts"]);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'tributary: graph module test/fixtures/graphs/bad-cdc.ts: source "products": cdc: key column "idx" is not a column of the row (id, name).\n',
    });
  });
});
