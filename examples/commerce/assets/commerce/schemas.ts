import { type Static, Type } from "tributary";

/** The tenants of the reference SaaS: one partition each. */
export const TENANTS = ["acme", "globex", "initech"] as const;
export const ORDER_STATUSES = ["pending", "paid", "shipped", "cancelled", "refunded"] as const;
export const CURRENCIES = ["EUR", "USD", "GBP"] as const;

/**
 * The shop's database and its captured tables, as its Debezium connector names them. Every tenant shares
 * the one database (a `tenant_id` column on every row, the pooled model most SaaS run), so one connector
 * and one write-ahead log carry every tenant's changes.
 */
export const SHOP_DATABASE = "shop";
export const ORDERS_TABLE = "public.orders";
export const CUSTOMERS_TABLE = "public.customers";

/** A string that must be one of `values` (JSON Schema `enum`), typed as their union. */
const oneOf = <const T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: "string", enum: [...values] });

/** A `uuid` column: Debezium sends it as its text (io.debezium.data.Uuid). */
const Uuid = Type.String({ format: "uuid" });
/**
 * A `timestamptz` column: Debezium sends it as ISO-8601 text in UTC with the column's six fractional
 * digits, "2026-11-01T10:00:00.123456Z" (io.debezium.time.ZonedTimestamp), whatever time.precision.mode.
 */
const Timestamp = Type.String({ format: "date-time" });
const TenantId = Type.String({ pattern: "^[a-z][a-z0-9-]*$", maxLength: 64 });

/**
 * One row of `public.orders`, as Debezium's JSON converter sends it in `before` and `after`:
 *
 *   order_id uuid PRIMARY KEY, tenant_id text, customer_id uuid, status order_status (an enum type: text),
 *   amount_cents bigint (a JSON number), currency char(3), created_at timestamptz, updated_at timestamptz
 *
 * The table has REPLICA IDENTITY FULL, so an update's and a delete's `before` is the whole old row (with
 * its tenant), not only the key. The row is open: a column added upstream is accepted and reported as a
 * proposed schema change; a column missing or of another type is quarantined.
 */
export const OrderRow = Type.Object({
  order_id: Uuid,
  tenant_id: TenantId,
  customer_id: Uuid,
  status: oneOf(ORDER_STATUSES),
  amount_cents: Type.Integer({ minimum: 0 }),
  currency: oneOf(CURRENCIES),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/**
 * One row of `public.customers`: customer_id uuid PRIMARY KEY, tenant_id text, email text, name text,
 * country char(2), created_at timestamptz, updated_at timestamptz (REPLICA IDENTITY FULL).
 */
export const CustomerRow = Type.Object({
  customer_id: Uuid,
  tenant_id: TenantId,
  email: Type.String({ format: "email" }),
  name: Type.String({ minLength: 1 }),
  country: Type.String({ pattern: "^[A-Z]{2}$" }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type OrderRow = Static<typeof OrderRow>;
export type CustomerRow = Static<typeof CustomerRow>;

export const CuratedOrder = Type.Object({
  order_id: Type.String(),
  tenant_id: Type.String(),
  customer_id: Type.String(),
  status: Type.String(),
  amount_cents: Type.Integer(),
  currency: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  order_date: Type.String({ format: "date" }),
});

export const CuratedCustomer = Type.Object({
  customer_id: Type.String(),
  tenant_id: Type.String(),
  /** The lower-cased e-mail's keyed token (`pii_token`): joinable within a tenant, not reversible without the key. */
  email_token: Type.String(),
  country: Type.String(),
  signup_date: Type.String({ format: "date" }),
});

export const CustomerFeatures = Type.Object({
  customer_id: Type.String(),
  tenant_id: Type.String(),
  country: Type.String(),
  /** Days between the customer's last order and the tenant's latest order (the as-of date). */
  recency_days: Type.Union([Type.Integer(), Type.Null()]),
  frequency: Type.Integer(),
  monetary_cents: Type.Integer(),
  first_order_at: Type.Union([Timestamp, Type.Null()]),
  last_order_at: Type.Union([Timestamp, Type.Null()]),
});

export const DailyRevenue = Type.Object({
  order_date: Type.String({ format: "date" }),
  tenant_id: Type.String(),
  currency: Type.String(),
  orders: Type.Integer(),
  revenue_cents: Type.Integer(),
  refunded_cents: Type.Integer(),
  average_order_cents: Type.Integer(),
});

export const SEGMENTS = ["champion", "loyal", "promising", "at_risk", "dormant", "prospect"] as const;

export const RecommendationFeatures = Type.Object({
  customer_id: Type.String(),
  tenant_id: Type.String(),
  segment: Type.String(),
  /** The text an embedding model turns into the customer's vector. */
  embedding_text: Type.String(),
  /** Scaled numeric features in [0, 1]: recency, frequency, monetary, tenure. */
  features: Type.Array(Type.Number()),
});
