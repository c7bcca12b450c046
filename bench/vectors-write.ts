/**
 * Vector write benchmark: one tenant's table of 100,000 customers, embedded with the local hashing
 * embedder (tributary-hashing-v1, 256 dimensions) and written by the engine's path (sync.ts
 * `syncTenant`: read the table's hashes, embed in batches under the embed limit, write in chunks of
 * `writeBatchRows`, compact), timed from nothing to the committed table.
 * Baseline, in the same run: LanceDB alone writing the same rows with the same vectors (computed before
 * its clock starts) into a new table: the rows made one Arrow table, one `add`.
 * Then the rerun with one text in 1,000 changed (1,000 re-embedded, the rest compared by hash).
 *
 *   npx tsx bench/vectors-write.ts                 (100,000 rows, 3 runs each, medians)
 *   npx tsx bench/vectors-write.ts 100000 5
 *
 * Target: ratio at most 1.5. No ANN index in either (its build is in bench/vectors-search.ts).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseVectorsConfig } from "../src/runtime/vectors/config.ts";
import { HashingEmbedder } from "../src/runtime/vectors/hashing.ts";
import { lance } from "../src/runtime/vectors/lance.ts";
import { lanceLocation } from "../src/runtime/vectors/location.ts";
import type { ResolvedEmbedder } from "../src/runtime/vectors/providers.ts";
import { syncTenant, type TenantRows, vectorsRuntime } from "../src/runtime/vectors/sync.ts";
import { type TableShape, VectorTable } from "../src/runtime/vectors/table.ts";
import { rng } from "./random.ts";

const N = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 3);
const DIM = 256;
const TARGET = 1.5;

const COUNTRIES = ["DE", "FR", "IT", "ES", "SE", "GB", "US", "NL", "PL", "AT"];
const SEGMENTS = ["champion", "loyal", "promising", "at_risk", "dormant", "prospect"];

/** Texts like recommendation_features' embedding_text, seeded. */
function texts(n: number, seed: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, () => {
    const orders = Math.floor(r() * 20);
    return `customer in ${pick(COUNTRIES)}; segment ${pick(SEGMENTS)}; ${orders} orders; spent ${(r() * 2000).toFixed(2)}; last order ${Math.floor(r() * 90)} days before the as-of date`;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const rate = (ms: number) => `${Math.round(N / (ms / 1000)).toLocaleString("en")} rows/s`;

const keys = Array.from({ length: N }, (_, i) => `cust-${String(i).padStart(8, "0")}`);
const text = texts(N, 0x7665_6374);
const { createHash } = await import("node:crypto");
const hashes = text.map((t) => createHash("sha256").update(t).digest("hex"));
const config = parseVectorsConfig({ index: { minRows: 1_000_000_000 } }, "bench");
const embedder = new HashingEmbedder(DIM);
const resolved: ResolvedEmbedder = {
  embedder,
  model: { provider: "local", name: embedder.model.name, dimension: DIM },
};
const shape: TableShape = {
  asset: "bench_vectors",
  keys: [{ name: "customer_id", type: "string" }],
  tenantColumn: "tenant_id",
  model: resolved.model,
  semantic: false,
};
const rows: TenantRows = { tenant: "acme", keys: [keys], hashes, texts: text };

// The baseline's input, computed before its clock starts: the same vectors the embedder gives.
const t0 = performance.now();
const precomputed = new Float32Array(N * DIM);
for (const [i, v] of embedder.embedSync(text).entries()) precomputed.set(v, i * DIM);
const embedMs = performance.now() - t0;

const { lancedb } = await lance();
const dir = await mkdtemp(join(tmpdir(), "tributary-bench-vectors-"));
const baseline: number[] = [];
const engine: number[] = [];
const rerun: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    // LanceDB alone: one Arrow table of the precomputed rows into a new table.
    {
      const location = lanceLocation(join(dir, `raw-${run}`));
      const opened = await VectorTable.open(location, "bench_vectors", "acme", shape);
      opened!.table.close();
      const db = await lancedb.connect(`${location.root}/vectors/bench_vectors/tenant=acme`);
      const table = await db.openTable("vectors");
      const { arrow } = await lance();
      const schema = await table.schema();
      const start = performance.now();
      await table.add(arrowOf(arrow, schema, keys, hashes, precomputed));
      baseline.push(performance.now() - start);
      table.close();
      db.close();
    }
    // The engine: embed and write, from nothing.
    {
      const location = lanceLocation(join(dir, `engine-${run}`));
      const rt = vectorsRuntime(config);
      const start = performance.now();
      const done = await syncTenant(rt, location, shape, rows, resolved, "bench");
      engine.push(performance.now() - start);
      if (done.embedded !== N) throw new Error(`embedded ${done.embedded}, not ${N}`);
      // One text in 1,000 changes: the rerun embeds exactly those.
      const changed = text.map((t, i) => (i % 1000 === 0 ? `${t}; changed` : t));
      const changedRows: TenantRows = {
        ...rows,
        texts: changed,
        hashes: changed.map((t) => createHash("sha256").update(t).digest("hex")),
      };
      const again = performance.now();
      const second = await syncTenant(rt, location, shape, changedRows, resolved, "bench");
      rerun.push(performance.now() - again);
      if (second.embedded !== N / 1000) throw new Error(`re-embedded ${second.embedded}, not ${N / 1000}`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const b = median(baseline);
const e = median(engine);
console.log(
  `vector write benchmark: ${N.toLocaleString("en")} rows × ${DIM} dimensions, ${RUNS} runs, medians`,
);
console.log(`  embedding alone (tributary-hashing-v1)      ${fmt(embedMs).padStart(9)}  ${rate(embedMs)}`);
console.log(
  `  baseline: LanceDB add of precomputed rows   ${fmt(b).padStart(9)}  ${rate(b)}   runs ${baseline.map(fmt).join(", ")}`,
);
console.log(
  `  engine: embed + write (syncTenant)          ${fmt(e).padStart(9)}  ${rate(e)}   runs ${engine.map(fmt).join(", ")}`,
);
console.log(
  `  rerun, 1 text in 1,000 changed              ${fmt(median(rerun)).padStart(9)}  (${N / 1000} re-embedded)`,
);
console.log(
  `  ratio engine / baseline: ${(e / b).toFixed(2)} (target ≤ ${TARGET}) ${e / b <= TARGET ? "met" : "MISSED"}`,
);

function arrowOf(
  a: Awaited<ReturnType<typeof lance>>["arrow"],
  schema: import("apache-arrow").Schema,
  ks: string[],
  hs: string[],
  vectors: Float32Array,
) {
  const n = ks.length;
  const children = schema.fields.map((f) => {
    if (f.name === "customer_id") return a.vectorFromArray(ks, new a.Utf8()).data[0]!;
    if (f.name === "tenant_id") return a.vectorFromArray(new Array(n).fill("acme"), new a.Utf8()).data[0]!;
    if (f.name === "content_hash") return a.vectorFromArray(hs, new a.Utf8()).data[0]!;
    return a.makeData({
      type: f.type,
      length: n,
      nullCount: 0,
      child: a.makeData({ type: new a.Float32(), length: n * DIM, nullCount: 0, data: vectors }),
    });
  });
  const struct = a.makeData({ type: new a.Struct(schema.fields), length: n, nullCount: 0, children });
  return new a.Table([new a.RecordBatch(schema, struct)]);
}
