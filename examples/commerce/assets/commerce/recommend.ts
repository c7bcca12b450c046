import type { Static } from "tributary";
import type { CustomerFeatures, RecommendationFeatures, SEGMENTS } from "./schemas.ts";

type Features = Static<typeof CustomerFeatures>;
type Recommendation = Static<typeof RecommendationFeatures>;

const DAY_MS = 86_400_000;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** The RFM segment of a customer: recent, frequent buyers are champions; customers with no order prospects. */
export function segmentOf(f: Pick<Features, "recency_days" | "frequency">): (typeof SEGMENTS)[number] {
  if (f.frequency === 0 || f.recency_days === null) return "prospect";
  if (f.recency_days <= 7 && f.frequency >= 4) return "champion";
  if (f.recency_days <= 14 && f.frequency >= 2) return "loyal";
  if (f.recency_days <= 7) return "promising";
  if (f.recency_days <= 30) return "at_risk";
  return "dormant";
}

/** One customer's features, scaled to [0, 1], and the sentence an embedding model reads. */
export function recommend(f: Features): Recommendation {
  const segment = segmentOf(f);
  const recency = f.recency_days === null ? 0 : 1 - clamp01(f.recency_days / 90);
  const frequency = clamp01(f.frequency / 20);
  const monetary = clamp01(Math.log1p(f.monetary_cents) / Math.log1p(1_000_000));
  const spanDays =
    f.first_order_at && f.last_order_at
      ? (Date.parse(f.last_order_at) - Date.parse(f.first_order_at)) / DAY_MS
      : 0;
  const tenure = clamp01(spanDays / 90);
  const spent = (f.monetary_cents / 100).toFixed(2);
  const last =
    f.recency_days === null ? "never ordered" : `last order ${f.recency_days} days before the as-of date`;
  return {
    customer_id: f.customer_id,
    tenant_id: f.tenant_id,
    segment,
    embedding_text: `customer in ${f.country}; segment ${segment}; ${f.frequency} orders; spent ${spent}; ${last}`,
    features: [recency, frequency, monetary, tenure].map(round6),
  };
}
