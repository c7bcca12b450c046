import { afterAll, beforeAll, describe, expect, test } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import type { UiColumnLineage } from "../../src/cli/ui/types.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { readSql } from "../../src/runtime/engine/executor.ts";
import { registerTokenFunction } from "../../src/runtime/engine/tokens.ts";
import { type ColumnLineage, columnLineage } from "../../src/runtime/lineage/columns.ts";
import { tokenKey } from "../../src/runtime/secrets/token.ts";

const ORDERS = { key: "orders", columns: ["order_id", "customer_id", "amount", "status", "created_at"] };
const CUSTOMERS = { key: "customers", columns: ["customer_id", "name", "country"] };
const UPSTREAMS = [ORDERS, CUSTOMERS];

let duck: Duck;
beforeAll(async () => {
  duck = await Duck.open();
  // Real tables too, so each known answer is checked against the names DuckDB's binder gives the outputs.
  await duck.run(`
    CREATE TABLE orders (order_id BIGINT, customer_id BIGINT, amount BIGINT, status VARCHAR, created_at TIMESTAMP);
    CREATE TABLE customers (customer_id BIGINT, name VARCHAR, country VARCHAR);
    CREATE TABLE events (id VARCHAR, after STRUCT(amount BIGINT, currency VARCHAR), tags VARCHAR[]);
    CREATE VIEW this_partition AS SELECT 'p' AS key, CAST(NULL AS VARCHAR) AS time_key, 'p' AS static_key`);
});
afterAll(() => duck.close());

async function lineage(
  sql: string,
  upstreams = UPSTREAMS,
  opts: { binds?: boolean } = {},
): Promise<ColumnLineage> {
  const result = await columnLineage(sql, upstreams, duck.connection);
  if (result.known && opts.binds !== false) {
    expect(result.columns.map((x) => x.column)).toEqual((await duck.describe(sql)).map((x) => x.name));
  }
  return result;
}
const o = (column: string) => ({ asset: "orders", column });
const c = (column: string) => ({ asset: "customers", column });
const known = (columns: [string, { asset: string; column: string }[]][]): ColumnLineage => ({
  known: true,
  columns: columns.map(([column, from]) => ({ column, from })),
});

describe("columnLineage: what it understands", () => {
  test("plain columns, renames and table-qualified columns", async () => {
    expect(
      await lineage("SELECT order_id, amount AS total, orders.status, ORDERS.Created_At FROM orders"),
    ).toEqual(
      known([
        ["order_id", [o("order_id")]],
        ["total", [o("amount")]],
        ["status", [o("status")]],
        // DuckDB names a bare reference after the column it binds, not as it is spelled.
        ["created_at", [o("created_at")]],
      ]),
    );
  });

  test("expressions over several columns: every column they read, sorted and once", async () => {
    expect(
      await lineage(`
        SELECT amount * 100 + amount / order_id AS x,
               lower(status) || '-' || CAST(customer_id AS VARCHAR) AS y,
               customer_id::BIGINT AS z,
               42 AS answer
        FROM orders`),
    ).toEqual(
      known([
        ["x", [o("amount"), o("order_id")]],
        ["y", [o("customer_id"), o("status")]],
        ["z", [o("customer_id")]],
        ["answer", []],
      ]),
    );
  });

  test("aggregates with GROUP BY: their arguments and FILTER, not WHERE or GROUP BY", async () => {
    expect(
      await lineage(`
        SELECT customer_id,
               sum(amount) AS spent,
               count(*) AS n,
               max(created_at) FILTER (WHERE status = 'paid') AS last_paid
        FROM orders
        WHERE amount > 0
        GROUP BY customer_id
        HAVING count(*) > 1`),
    ).toEqual(
      known([
        ["customer_id", [o("customer_id")]],
        ["spent", [o("amount")]],
        ["n", []],
        ["last_paid", [o("created_at"), o("status")]],
      ]),
    );
  });

  test("a join of two upstreams under table aliases; an unqualified column only one side has", async () => {
    expect(
      await lineage(`
        SELECT o.order_id, c.name AS customer, country, o.amount * 2 AS double_amount
        FROM orders o JOIN customers AS c ON o.customer_id = c.customer_id AND c.country <> 'XX'`),
    ).toEqual(
      known([
        ["order_id", [o("order_id")]],
        ["customer", [c("name")]],
        ["country", [c("country")]],
        ["double_amount", [o("amount")]],
      ]),
    );
  });

  test("a CTE chain resolves to the upstream columns each CTE column comes from", async () => {
    expect(
      await lineage(`
        WITH paid AS (
          SELECT order_id, customer_id, amount AS paid_amount FROM orders WHERE status = 'paid'
        ),
        per_customer AS (
          SELECT customer_id, sum(paid_amount) AS total, max(order_id) AS last_order FROM paid GROUP BY customer_id
        ),
        named(who, total, last_order) AS (
          SELECT c.name, p.total, p.last_order FROM per_customer p JOIN customers c USING (customer_id)
        )
        SELECT who, total + last_order AS score FROM named`),
    ).toEqual(
      known([
        ["who", [c("name")]],
        ["score", [o("amount"), o("order_id")]],
      ]),
    );
  });

  test("a CTE column no output reads may be unresolvable", async () => {
    expect(
      await lineage(
        `
        WITH x AS (SELECT amount, mystery FROM orders), y AS (SELECT * FROM raw_events)
        SELECT amount FROM x`,
        UPSTREAMS,
        { binds: false },
      ),
    ).toEqual(known([["amount", [o("amount")]]]));
  });

  test("a subquery in FROM, with and without column aliases", async () => {
    expect(
      await lineage(`
        SELECT big.id, big.doubled, r.k
        FROM (SELECT order_id AS id, amount * 2 AS doubled FROM orders WHERE amount > 10) AS big,
             (SELECT customer_id, country FROM customers) AS r(k)`),
    ).toEqual(
      known([
        ["id", [o("order_id")]],
        ["doubled", [o("amount")]],
        ["k", [c("customer_id")]],
      ]),
    );
  });

  test("SELECT * expands the upstream's columns", async () => {
    expect(await lineage("SELECT * FROM customers")).toEqual(
      known([
        ["customer_id", [c("customer_id")]],
        ["name", [c("name")]],
        ["country", [c("country")]],
      ]),
    );
  });

  test("o.* expands one table of a join; * over a USING join gives the shared column once", async () => {
    expect(
      await lineage("SELECT c.*, o.amount FROM orders o JOIN customers c ON o.customer_id = c.customer_id"),
    ).toEqual(
      known([
        ["customer_id", [c("customer_id")]],
        ["name", [c("name")]],
        ["country", [c("country")]],
        ["amount", [o("amount")]],
      ]),
    );
    expect(await lineage("SELECT * FROM orders JOIN customers USING (customer_id)")).toEqual(
      known([
        ["order_id", [o("order_id")]],
        ["customer_id", [o("customer_id")]],
        ["amount", [o("amount")]],
        ["status", [o("status")]],
        ["created_at", [o("created_at")]],
        ["name", [c("name")]],
        ["country", [c("country")]],
      ]),
    );
  });

  test("* over a CTE expands the CTE's outputs, with EXCLUDE, REPLACE and RENAME", async () => {
    expect(
      await lineage(`
        WITH x AS (SELECT order_id, amount + 1 AS bumped, status FROM orders)
        SELECT * EXCLUDE (status) REPLACE (bumped * customer_id AS bumped) RENAME (order_id AS id)
        FROM x, customers`),
    ).toEqual(
      known([
        ["id", [o("order_id")]],
        ["bumped", [c("customer_id"), o("amount")]],
        ["customer_id", [c("customer_id")]],
        ["name", [c("name")]],
        ["country", [c("country")]],
      ]),
    );
  });

  test("UNION ALL: each position reads both sides; the names are the left side's", async () => {
    expect(
      await lineage(`
        SELECT customer_id AS id, CAST(amount AS VARCHAR) AS label FROM orders
        UNION ALL
        SELECT customer_id, name || ' (' || country || ')' FROM customers`),
    ).toEqual(
      known([
        ["id", [c("customer_id"), o("customer_id")]],
        ["label", [c("country"), c("name"), o("amount")]],
      ]),
    );
  });

  test("a CASE expression reads its conditions and every branch", async () => {
    expect(
      await lineage(`
        SELECT order_id,
               CASE WHEN status = 'paid' THEN amount WHEN status = 'refunded' THEN -amount ELSE 0 END AS signed,
               CASE status WHEN 'paid' THEN 'ok' END AS ok
        FROM orders`),
    ).toEqual(
      known([
        ["order_id", [o("order_id")]],
        ["signed", [o("amount"), o("status")]],
        ["ok", [o("status")]],
      ]),
    );
  });

  test("a window function reads its arguments, PARTITION BY and ORDER BY", async () => {
    expect(
      await lineage(`
        SELECT order_id,
               row_number() OVER (PARTITION BY customer_id ORDER BY created_at DESC) AS nth,
               sum(amount) OVER (PARTITION BY customer_id) AS customer_total
        FROM orders
        QUALIFY nth = 1`),
    ).toEqual(
      known([
        ["order_id", [o("order_id")]],
        ["nth", [o("created_at"), o("customer_id")]],
        ["customer_total", [o("amount"), o("customer_id")]],
      ]),
    );
  });

  test("scalar subqueries (also correlated) give their select list; EXISTS gives nothing", async () => {
    expect(
      await lineage(`
        SELECT o.order_id,
               (SELECT c.name FROM customers c WHERE c.customer_id = o.customer_id) AS customer,
               EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id) AS has_customer,
               o.customer_id IN (SELECT customer_id FROM customers) AS known_customer
        FROM orders o`),
    ).toEqual(
      known([
        ["order_id", [o("order_id")]],
        ["customer", [c("name")]],
        ["has_customer", []],
        ["known_customer", [c("customer_id"), o("customer_id")]],
      ]),
    );
  });

  test("struct fields read their column; lambdas' parameters are not columns; earlier aliases", async () => {
    const events = { key: "events", columns: ["id", "after", "tags"] };
    expect(
      await lineage(
        `SELECT after.amount AS amount, e.after.currency, list_transform(tags, t -> upper(t) || id) AS labels,
                amount * 2 AS doubled
         FROM events e`,
        [events],
      ),
    ).toEqual(
      known([
        ["amount", [{ asset: "events", column: "after" }]],
        ["currency", [{ asset: "events", column: "after" }]],
        [
          "labels",
          [
            { asset: "events", column: "id" },
            { asset: "events", column: "tags" },
          ],
        ],
        ["doubled", [{ asset: "events", column: "after" }]],
      ]),
    );
  });

  test("USING columns: the left side's, the right side's in a RIGHT JOIN, both in a FULL JOIN", async () => {
    const using = (join: string) =>
      lineage(`SELECT customer_id AS k FROM orders ${join} customers USING (customer_id)`);
    expect(await using("LEFT JOIN")).toEqual(known([["k", [o("customer_id")]]]));
    expect(await using("RIGHT JOIN")).toEqual(known([["k", [c("customer_id")]]]));
    expect(await using("FULL JOIN")).toEqual(known([["k", [c("customer_id"), o("customer_id")]]]));
    expect(await lineage("SELECT customer_id, name FROM orders NATURAL JOIN customers")).toEqual(
      known([
        ["customer_id", [o("customer_id")]],
        ["name", [c("name")]],
      ]),
    );
  });

  test("a recursive CTE reads what its anchor and its steps read", async () => {
    expect(
      await lineage(`
        WITH RECURSIVE r(a, b) AS (
          SELECT order_id, amount FROM orders
          UNION ALL
          SELECT b, a FROM r WHERE a < 10
        )
        SELECT a, b FROM r`),
    ).toEqual(
      known([
        ["a", [o("amount"), o("order_id")]],
        ["b", [o("amount"), o("order_id")]],
      ]),
    );
  });

  test("a table in FROM that no output reads does not matter (the run's this_partition)", async () => {
    expect(
      await lineage(
        "SELECT o.amount FROM orders o, this_partition p WHERE o.created_at::DATE = p.time_key::DATE",
      ),
    ).toEqual(known([["amount", [o("amount")]]]));
  });

  test("opens and closes its own DuckDB when given no connection", async () => {
    expect(await columnLineage("SELECT name AS n FROM customers", [CUSTOMERS])).toEqual(
      known([["n", [c("name")]]]),
    );
  });

  test("its type is the page's column lineage", async () => {
    const result: UiColumnLineage = await lineage("SELECT name FROM customers");
    expect(result.known).toBe(true);
  });
});

describe("columnLineage: what it does not guess", () => {
  test("an unqualified column two upstreams have", async () => {
    expect(
      await lineage(
        "SELECT customer_id, name FROM orders o JOIN customers c ON o.customer_id = c.customer_id",
      ),
    ).toEqual({
      known: false,
      reason: 'column "customer_id": "customer_id" is ambiguous: a column of orders o and customers c',
    });
  });

  test("a table that is not an upstream", async () => {
    expect(
      await lineage("SELECT o.order_id, e.payload FROM orders o JOIN raw_events e USING (order_id)"),
    ).toEqual({
      known: false,
      reason:
        'column "payload": table "raw_events" is not an upstream of this asset (its upstreams: orders, customers)',
    });
    expect(await lineage("SELECT order_id FROM raw_events", [])).toEqual({
      known: false,
      reason: 'column "order_id": table "raw_events" is not an upstream of this asset (it has none)',
    });
    expect(await lineage("SELECT * FROM orders o, main.customers c")).toEqual({
      known: false,
      reason: '* over main.customers c: table "main.customers" is not an upstream of this asset',
    });
  });

  test("a column the FROM clause does not have", async () => {
    expect(await lineage("SELECT o.amount, o.nope FROM orders o")).toEqual({
      known: false,
      reason: 'column "nope": orders o has no column "nope"',
    });
    expect(await lineage("SELECT nope FROM orders")).toEqual({
      known: false,
      reason: 'column "nope": "nope" is not a column of any table in FROM',
    });
  });

  test("a table function", async () => {
    expect(await lineage("SELECT * FROM read_parquet('orders/*.parquet')")).toEqual({
      known: false,
      reason: "* over read_parquet: read_parquet(...) is a table function, not an upstream",
    });
    expect(await lineage("SELECT f.amount FROM read_parquet('x.parquet') AS f")).toEqual({
      known: false,
      reason: 'column "amount": read_parquet(...) is a table function, not an upstream',
    });
  });

  test("an output that reads the run's partition", async () => {
    expect(await lineage("SELECT p.time_key AS day, o.amount FROM orders o, this_partition p")).toEqual({
      known: false,
      reason:
        'column "day": this_partition.time_key is the run\'s partition, not a column of an upstream asset',
    });
  });

  test("an expression without an alias: its name would be DuckDB's rendering of it", async () => {
    expect(await lineage("SELECT order_id, amount + 1, count(*) OVER () FROM orders")).toEqual({
      known: false,
      reason:
        "output column 2 is an expression without an alias, named by DuckDB's rendering of it: give it AS <name>; " +
        "output column 3 is an expression without an alias, named by DuckDB's rendering of it: give it AS <name>",
    });
  });

  test("a UNION whose sides differ in width, and COLUMNS with a pattern", async () => {
    expect(await lineage("SELECT amount FROM orders UNION ALL SELECT name, country FROM customers")).toEqual({
      known: false,
      reason: "the sides of UNION ALL have 1 and 2 columns",
    });
    expect(await lineage("SELECT COLUMNS('amo.*') FROM orders")).toEqual({
      known: false,
      reason: "COLUMNS(...) with a pattern or lambda is not understood",
    });
  });

  test("a parse error", async () => {
    expect(await lineage("SELECT FROM WHERE")).toEqual({
      known: false,
      reason: 'DuckDB could not parse the SQL: syntax error at or near "WHERE"',
    });
  });

  test("a statement that is not a SELECT, several statements, none", async () => {
    expect(await lineage("INSERT INTO orders VALUES (1)")).toEqual({
      known: false,
      reason:
        "DuckDB gives a parse tree only for SELECT statements: Only SELECT statements can be serialized to json!",
    });
    expect(await lineage("SELECT 1 AS a; SELECT 2 AS b")).toEqual({
      known: false,
      reason: "the SQL has 2 statements; lineage needs one SELECT",
    });
    expect(await lineage("  ")).toEqual({
      known: false,
      reason: "the SQL has 0 statements; lineage needs one SELECT",
    });
  });
});

describe("columnLineage of the reference pipeline's SQL assets", () => {
  const sqlAssets = graph
    .assets()
    .flatMap((a) => (a.kind === "asset" && typeof a.sql === "string" ? [a] : []));
  const of = async (key: string) => {
    const a = sqlAssets.find((x) => x.key === key)!;
    const upstreams = graph
      .inputs(key)
      .map((e) => ({ key: e.from, columns: Object.keys(graph.get(e.from).schema.properties) }));
    const result = await columnLineage(a.sql!, upstreams, duck.connection);
    // The asset's SQL bound as the executor binds it: views of typed, empty upstreams and this_partition.
    const bound = await Duck.open();
    registerTokenFunction(bound, { key: tokenKey("pii_token_key", "k".repeat(32)) });
    try {
      for (const e of graph.inputs(key)) {
        await bound.run(`CREATE VIEW "${e.from}" AS ${readSql(graph.get(e.from), [])}`);
      }
      await bound.run("CREATE VIEW this_partition AS SELECT 'p' AS key, 'p' AS time_key, 'p' AS static_key");
      const names = (await bound.describe(a.sql!)).map((x) => x.name);
      return { result, schema: Object.keys(a.schema.properties), names };
    } finally {
      bound.close();
    }
  };
  const up = (asset: string) => (column: string) => ({ asset, column });

  test("the SQL assets are the ones asserted here", () => {
    expect(sqlAssets.map((a) => a.key).sort()).toEqual([
      "curated_customers",
      "curated_orders",
      "customer_features",
      "daily_revenue",
      "recommendation_vectors",
    ]);
  });

  test("recommendation_vectors: the ledger's content hash from the text it embeds", async () => {
    const { result, schema, names } = await of("recommendation_vectors");
    const rf = up("recommendation_features");
    expect(result).toEqual(
      known([
        ["customer_id", [rf("customer_id")]],
        ["tenant_id", [rf("tenant_id")]],
        ["content_hash", [rf("embedding_text")]],
      ]),
    );
    expect(result.known && result.columns.map((x) => x.column)).toEqual(schema);
    expect(names).toEqual(schema);
  });

  test("curated_orders: from the latest change's row after it (latest())", async () => {
    const { result, schema, names } = await of("curated_orders");
    const cdc = up("orders_cdc");
    expect(result).toEqual(
      known([
        ["order_id", [cdc("after")]],
        ["tenant_id", [cdc("after")]],
        ["customer_id", [cdc("after")]],
        ["status", [cdc("after")]],
        ["amount_cents", [cdc("after")]],
        ["currency", [cdc("after")]],
        ["created_at", [cdc("after")]],
        ["updated_at", [cdc("after")]],
        ["order_date", [cdc("after")]],
      ]),
    );
    expect(result.known && result.columns.map((x) => x.column)).toEqual(schema);
    expect(names).toEqual(schema);
  });

  test("curated_customers: the e-mail token from the tenant and the e-mail", async () => {
    const { result, schema, names } = await of("curated_customers");
    const cdc = up("customers_cdc");
    expect(result).toEqual(
      known([
        ["customer_id", [cdc("after")]],
        ["tenant_id", [cdc("after")]],
        ["email_token", [cdc("after")]],
        ["country", [cdc("after")]],
        ["signup_date", [cdc("after")]],
      ]),
    );
    expect(result.known && result.columns.map((x) => x.column)).toEqual(schema);
    expect(names).toEqual(schema);
  });

  test("customer_features: through the spend CTE and the as_of scalar subquery", async () => {
    const { result, schema, names } = await of("customer_features");
    const cust = up("curated_customers");
    const ord = up("curated_orders");
    expect(result).toEqual(
      known([
        ["customer_id", [cust("customer_id")]],
        ["tenant_id", [cust("tenant_id")]],
        ["country", [cust("country")]],
        ["recency_days", [ord("created_at"), ord("status")]],
        ["frequency", [ord("status")]],
        ["monetary_cents", [ord("amount_cents"), ord("status")]],
        ["first_order_at", [ord("created_at"), ord("status")]],
        ["last_order_at", [ord("created_at"), ord("status")]],
      ]),
    );
    expect(result.known && result.columns.map((x) => x.column)).toEqual(schema);
    expect(names).toEqual(schema);
  });

  test("daily_revenue: this_partition is only filtered on", async () => {
    const { result, schema, names } = await of("daily_revenue");
    const ord = up("curated_orders");
    expect(result).toEqual(
      known([
        ["order_date", [ord("order_date")]],
        ["tenant_id", [ord("tenant_id")]],
        ["currency", [ord("currency")]],
        ["orders", [ord("status")]],
        ["revenue_cents", [ord("amount_cents"), ord("status")]],
        ["refunded_cents", [ord("amount_cents"), ord("status")]],
        ["average_order_cents", [ord("amount_cents"), ord("status")]],
      ]),
    );
    expect(result.known && result.columns.map((x) => x.column)).toEqual(schema);
    expect(names).toEqual(schema);
  });
});
