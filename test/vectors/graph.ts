/** A small graph with an embedding asset, shared by the vector tests. */
import { asset, defineGraph, embedding, staticPartitions, Type, unique } from "tributary";

export const tenants = staticPartitions("tenant", ["acme", "globex"]);
const Customer = Type.Object({
  customer_id: Type.String(),
  tenant_id: Type.String(),
  text: Type.Union([Type.String(), Type.Null()]),
});
export type Row = { customer_id: string; tenant_id: string; text: string | null };

export const ROWS: Row[] = [
  { customer_id: "a1", tenant_id: "acme", text: "customer in DE; segment loyal; 3 orders; spent 120.50" },
  { customer_id: "a2", tenant_id: "acme", text: "customer in FR; segment champion; 9 orders; spent 990.00" },
  { customer_id: "a3", tenant_id: "acme", text: "customer in DE; segment prospect; 0 orders; spent 0.00" },
  { customer_id: "a4", tenant_id: "acme", text: null },
  { customer_id: "g1", tenant_id: "globex", text: "customer in US; segment loyal; 3 orders; spent 120.50" },
  { customer_id: "g2", tenant_id: "globex", text: "customer in GB; segment dormant; 1 orders; spent 15.00" },
];

/**
 * The graph: a customer table (its rows given), per tenant unless `unpartitioned`, and its embedding
 * asset, partitioned as it is.
 */
export function graphOf(rows: readonly Row[], version: string, dimension = 32, unpartitioned = false) {
  const customers = asset("customers", {
    schema: Customer,
    ...(unpartitioned ? {} : { partitions: tenants }),
    codeVersion: version,
    compute: (_inputs, ctx) => (unpartitioned ? rows : rows.filter((r) => r.tenant_id === ctx.partition)),
  });
  const vectors = embedding("customer_vectors", {
    from: customers,
    text: "text",
    key: ["customer_id"],
    tenant: "tenant_id",
    model: { name: "test-embedding", dimension },
    checks: [unique(["customer_id"])],
  });
  return defineGraph([customers, vectors]);
}
