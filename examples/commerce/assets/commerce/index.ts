/**
 * The reference pipeline: a multi-tenant SaaS shop with an in-app recommendation feature.
 *
 *   orders_cdc ────> curated_orders ──┬──> daily_revenue
 *                                      └──> customer_features ──> recommendation_features ──> recommendation_vectors
 *   customers_cdc ─> curated_customers ──┘
 *
 * Raw CDC events land per day × tenant; curated tables hold the latest state per tenant with deletes
 * applied; features are per tenant; revenue is per day × tenant; each tenant's customers are embedded
 * into that tenant's own vector table.
 */
import {
  acceptedValues,
  asset,
  cron,
  daily,
  dep,
  embedding,
  freshness,
  mapping,
  multiPartitions,
  notNull,
  onUpstream,
  references,
  rowCount,
  secret,
  source,
  sqlCheck,
  staticPartitions,
  unique,
} from "tributary";
import { recommend } from "./recommend.ts";
import {
  CuratedCustomer,
  CuratedOrder,
  CustomerEvent,
  CustomerFeatures,
  DailyRevenue,
  ORDER_STATUSES,
  OrderEvent,
  RecommendationFeatures,
  SEGMENTS,
  TENANTS,
} from "./schemas.ts";

/** The first day of data; partitions run from it up to yesterday. */
export const FIRST_DAY = "2026-11-01";

/**
 * The key customers' e-mail addresses are tokenised with: each tenant's tokens are keyed by a key
 * derived from it, so nobody without it can tell whose address a token is. Generated on first use
 * (locally in the store's _secrets/, in a stack on first deploy) unless given.
 */
export const piiTokenKey = secret("pii_token_key", {
  use: "tokenisation",
  description:
    "Keys the e-mail tokens of curated_customers; rotating it re-materialises them and their downstream.",
});

const tenants = staticPartitions("tenant", TENANTS);
const dayByTenant = multiPartitions(daily({ start: FIRST_DAY }), tenants);
const meta = { group: "commerce" } as const;

export const ordersCdc = source("orders_cdc", {
  ...meta,
  description: "Change events of the orders table (Debezium: op c/u/d/r with the row before and after).",
  schema: OrderEvent,
  eventId: "event_id",
  eventTime: "event_time",
  tenant: "tenant_id",
  partitions: dayByTenant,
  owners: ["team:data-platform"],
  tags: ["cdc"],
});

export const customersCdc = source("customers_cdc", {
  ...meta,
  description: "Change events of the customers table; e-mail and name are personal data.",
  schema: CustomerEvent,
  eventId: "event_id",
  eventTime: "event_time",
  tenant: "tenant_id",
  partitions: dayByTenant,
  pii: ["before.email", "after.email", "before.name", "after.name"],
  owners: ["team:data-platform"],
  tags: ["cdc"],
});

export const curatedOrders = asset("curated_orders", {
  ...meta,
  description: "The latest state of every order per tenant, deletes applied.",
  deps: [dep(ordersCdc, { partitions: mapping.allTime() })],
  schema: CuratedOrder,
  partitions: tenants,
  sql: `
    WITH changes AS (
      SELECT
        coalesce(after.order_id, before.order_id) AS order_id,
        tenant_id, op, after,
        row_number() OVER (
          PARTITION BY coalesce(after.order_id, before.order_id)
          ORDER BY event_time DESC, source.lsn DESC, event_id DESC
        ) AS newest
      FROM orders_cdc
    )
    SELECT
      order_id,
      tenant_id,
      after.customer_id AS customer_id,
      after.status AS status,
      after.amount_cents AS amount_cents,
      after.currency AS currency,
      after.created_at AS created_at,
      after.updated_at AS updated_at,
      CAST(timezone('UTC', after.created_at) AS DATE) AS order_date
    FROM changes
    WHERE newest = 1 AND op <> 'd'
    ORDER BY order_id`,
  checks: [
    notNull(["order_id", "customer_id", "status", "amount_cents", "created_at"]),
    unique(["order_id"]),
    acceptedValues("status", ORDER_STATUSES),
    references("customer_id", { asset: "curated_customers", column: "customer_id" }, { blocking: false }),
    rowCount({ min: 1 }, { blocking: false }),
  ],
  trigger: onUpstream(),
  owners: ["team:data-platform"],
  tags: ["curated"],
});

export const curatedCustomers = asset("curated_customers", {
  ...meta,
  description:
    "The latest state of every customer per tenant; the e-mail replaced by a keyed token, the name dropped.",
  deps: [dep(customersCdc, { partitions: mapping.allTime() })],
  schema: CuratedCustomer,
  partitions: tenants,
  sql: `
    WITH changes AS (
      SELECT
        coalesce(after.customer_id, before.customer_id) AS customer_id,
        tenant_id, op, after,
        row_number() OVER (
          PARTITION BY coalesce(after.customer_id, before.customer_id)
          ORDER BY event_time DESC, source.lsn DESC, event_id DESC
        ) AS newest
      FROM customers_cdc
    )
    SELECT
      customer_id,
      tenant_id,
      pii_token(tenant_id, lower(after.email)) AS email_token,
      after.country AS country,
      CAST(timezone('UTC', after.created_at) AS DATE) AS signup_date
    FROM changes
    WHERE newest = 1 AND op <> 'd'
    ORDER BY customer_id`,
  checks: [notNull(["customer_id", "email_token", "country"]), unique(["customer_id"])],
  secrets: [piiTokenKey],
  trigger: onUpstream(),
  owners: ["team:data-platform"],
  tags: ["curated"],
});

export const customerFeatures = asset("customer_features", {
  ...meta,
  description: "Recency, frequency and monetary value of every customer, per tenant.",
  deps: [
    dep(curatedOrders, { columns: ["customer_id", "status", "amount_cents", "created_at"] }),
    dep(curatedCustomers, { columns: ["customer_id", "tenant_id", "country"] }),
  ],
  schema: CustomerFeatures,
  partitions: tenants,
  sql: `
    WITH as_of AS (SELECT max(created_at) AS as_of_time FROM curated_orders),
    spend AS (
      SELECT
        customer_id,
        count(*) FILTER (WHERE status IN ('paid', 'shipped')) AS frequency,
        sum(amount_cents) FILTER (WHERE status IN ('paid', 'shipped')) AS monetary_cents,
        min(created_at) FILTER (WHERE status IN ('paid', 'shipped')) AS first_order_at,
        max(created_at) FILTER (WHERE status IN ('paid', 'shipped')) AS last_order_at
      FROM curated_orders
      GROUP BY customer_id
    )
    SELECT
      c.customer_id,
      c.tenant_id,
      c.country,
      CAST(date_diff('day', s.last_order_at, (SELECT as_of_time FROM as_of)) AS BIGINT) AS recency_days,
      CAST(coalesce(s.frequency, 0) AS BIGINT) AS frequency,
      CAST(coalesce(s.monetary_cents, 0) AS BIGINT) AS monetary_cents,
      s.first_order_at,
      s.last_order_at
    FROM curated_customers c
    LEFT JOIN spend s USING (customer_id)
    ORDER BY c.customer_id`,
  checks: [
    notNull(["customer_id", "frequency", "monetary_cents"]),
    unique(["customer_id"]),
    sqlCheck(
      "non_negative_values",
      "SELECT * FROM customer_features WHERE frequency < 0 OR monetary_cents < 0 OR recency_days < 0",
    ),
  ],
  schedule: cron("0 3 * * *", "Europe/Berlin"),
  owners: ["team:growth-ml"],
  tags: ["features"],
});

export const dailyRevenue = asset("daily_revenue", {
  ...meta,
  description:
    "Orders, revenue and refunds per day, tenant and currency (by the day the order was placed, UTC).",
  deps: [dep(curatedOrders, { columns: ["order_date", "tenant_id", "currency", "status", "amount_cents"] })],
  schema: DailyRevenue,
  partitions: dayByTenant,
  sql: `
    SELECT
      o.order_date,
      o.tenant_id,
      o.currency,
      CAST(count(*) FILTER (WHERE o.status IN ('paid', 'shipped', 'refunded')) AS BIGINT) AS orders,
      CAST(coalesce(sum(o.amount_cents) FILTER (WHERE o.status IN ('paid', 'shipped')), 0) AS BIGINT) AS revenue_cents,
      CAST(coalesce(sum(o.amount_cents) FILTER (WHERE o.status = 'refunded'), 0) AS BIGINT) AS refunded_cents,
      CAST(coalesce(round(avg(o.amount_cents) FILTER (WHERE o.status IN ('paid', 'shipped'))), 0) AS BIGINT) AS average_order_cents
    FROM curated_orders o, this_partition p
    WHERE o.order_date = CAST(p.time_key AS DATE)
    GROUP BY ALL
    ORDER BY o.currency`,
  checks: [
    unique(["order_date", "currency"]),
    acceptedValues("currency", ["EUR", "USD", "GBP"]),
    sqlCheck(
      "revenue_not_negative",
      "SELECT * FROM daily_revenue WHERE revenue_cents < 0 OR refunded_cents < 0",
    ),
    freshness("26h", { blocking: false }),
  ],
  schedule: cron("30 2 * * *"),
  freshness: "26h",
  owners: ["team:finance-analytics"],
  tags: ["finance"],
});

export const recommendationFeatures = asset("recommendation_features", {
  ...meta,
  description:
    "One row per customer, ready for the embedding job: a segment, a text to embed and scaled numeric features.",
  deps: [
    dep(customerFeatures, {
      columns: [
        "customer_id",
        "tenant_id",
        "country",
        "recency_days",
        "frequency",
        "monetary_cents",
        "first_order_at",
        "last_order_at",
      ],
    }),
  ],
  schema: RecommendationFeatures,
  partitions: tenants,
  codeVersion: "1",
  compute: ({ customer_features }) => customer_features.map(recommend),
  checks: [
    notNull(["customer_id", "segment", "embedding_text", "features"]),
    unique(["customer_id"]),
    acceptedValues("segment", SEGMENTS),
    sqlCheck(
      "features_in_unit_range",
      "SELECT * FROM recommendation_features WHERE len(features) <> 4 OR list_min(features) < 0 OR list_max(features) > 1",
    ),
  ],
  trigger: onUpstream(),
  freshness: "26h",
  resources: { memoryMb: 1024, timeoutSeconds: 300 },
  owners: ["team:growth-ml"],
  tags: ["features", "ml"],
});

/**
 * One vector per customer and tenant, from the text of its features, for the in-app recommendations. The
 * model is named, not chosen: locally the hashing embedder stands in for it; each stack maps the name to
 * its cloud's embedding model (docs/vectors.md).
 */
export const recommendationVectors = embedding("recommendation_vectors", {
  ...meta,
  description: "The customers' feature texts as vectors, one table per tenant, for nearest-customer search.",
  from: recommendationFeatures,
  text: "embedding_text",
  key: ["customer_id"],
  tenant: "tenant_id",
  model: { name: "text-embedding", dimension: 256 },
  trigger: onUpstream(),
  owners: ["team:growth-ml"],
  tags: ["ml", "vectors"],
});

/** The pipeline, in declaration order. */
export const commerce = [
  ordersCdc,
  customersCdc,
  curatedOrders,
  curatedCustomers,
  customerFeatures,
  dailyRevenue,
  recommendationFeatures,
  recommendationVectors,
] as const;
