import { type Static, Type } from "tributary";

/** The tenants of the reference SaaS: one partition each. */
export const TENANTS = ["acme", "globex", "initech"] as const;
export const ORDER_STATUSES = ["pending", "paid", "shipped", "cancelled", "refunded"] as const;
export const CURRENCIES = ["EUR", "USD", "GBP"] as const;
/** Debezium operation codes: create, update, delete, read (snapshot). */
export const CDC_OPS = ["c", "u", "d", "r"] as const;

/** A string that must be one of `values` (JSON Schema `enum`), typed as their union. */
const oneOf = <const T extends readonly string[]>(values: T) =>
  Type.Unsafe<T[number]>({ type: "string", enum: [...values] });

const Uuid = Type.String({ format: "uuid" });
const Timestamp = Type.String({ format: "date-time" });
const TenantId = Type.String({ pattern: "^[a-z][a-z0-9-]*$", maxLength: 64 });

/** One row of the orders table in the application's database. */
export const OrderRow = Type.Object(
  {
    order_id: Uuid,
    customer_id: Uuid,
    status: oneOf(ORDER_STATUSES),
    amount_cents: Type.Integer({ minimum: 0 }),
    currency: oneOf(CURRENCIES),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);

/** One row of the customers table in the application's database. */
export const CustomerRow = Type.Object(
  {
    customer_id: Uuid,
    email: Type.String({ format: "email" }),
    name: Type.String({ minLength: 1 }),
    country: Type.String({ pattern: "^[A-Z]{2}$" }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false },
);

/** Where a change came from: the Debezium `source` block, trimmed to what lineage needs. */
const CdcSource = Type.Object({ db: Type.String(), table: Type.String(), lsn: Type.Integer({ minimum: 0 }) });

/** A Debezium-style change event: `op` with the row `before` and `after` the change. */
function changeEvent<R extends typeof OrderRow | typeof CustomerRow>(row: R) {
  return Type.Object(
    {
      event_id: Uuid,
      event_time: Timestamp,
      tenant_id: TenantId,
      op: oneOf(CDC_OPS),
      before: Type.Union([row, Type.Null()]),
      after: Type.Union([row, Type.Null()]),
      source: CdcSource,
    },
    { additionalProperties: false },
  );
}

export const OrderEvent = changeEvent(OrderRow);
export const CustomerEvent = changeEvent(CustomerRow);
export type OrderEvent = Static<typeof OrderEvent>;
export type CustomerEvent = Static<typeof CustomerEvent>;

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
