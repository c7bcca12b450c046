/**
 * The project's graph: every pipeline this repository ships, validated once at load.
 * `tributary` loads this module by default (`--graph <module>` loads another).
 */
import { join } from "node:path";
import { defineGraph } from "tributary";
import { commerce } from "./commerce/index.ts";
import { writeSample } from "./commerce/sample-data.ts";

export default defineGraph([commerce]);

/**
 * Sample input for a first run: `tributary materialize` on a store with no data writes a week of seeded
 * change events as Debezium Server sends them (with 3% invalid records, 3% duplicates and late events;
 * on the last day the orders table gains a `coupon_code` column, a proposed schema change) and ingests
 * them.
 */
export async function sampleData(dir: string): Promise<Record<string, string[]>> {
  await writeSample(dir, { seed: 20261101, couponsFrom: "2026-11-07" });
  return { orders_cdc: [join(dir, "orders_cdc")], customers_cdc: [join(dir, "customers_cdc")] };
}
