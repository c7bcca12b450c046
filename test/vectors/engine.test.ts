import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AssetManifest } from "../../src/runtime/engine/manifest.ts";
import { materialize, type RunResult } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import { steps } from "../../src/runtime/engine/steps.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { parseVectorsConfig } from "../../src/runtime/vectors/config.ts";
import { HashingEmbedder } from "../../src/runtime/vectors/hashing.ts";
import { lanceLocation } from "../../src/runtime/vectors/location.ts";
import { VectorTable } from "../../src/runtime/vectors/table.ts";
import { graphOf, ROWS } from "./graph.ts";

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-vectors-"));
  store = new LocalStore(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const vectorsOf = (r: RunResult) =>
  r.outcomes
    .filter((o) => o.item.asset === "customer_vectors")
    .map((o) => [
      o.item.partition,
      o.status,
      o.status === "materialized" ? o.manifest!.vectors : "reason" in o ? o.reason : o.error,
    ]);

async function tableRows(tenant: string): Promise<Record<string, unknown>[]> {
  const opened = await VectorTable.open(lanceLocation(dir), "customer_vectors", tenant);
  if (!opened) return [];
  try {
    const hashes = await opened.table.hashes();
    return [...hashes.keys()].sort().map((k) => ({ customer_id: k }));
  } finally {
    opened.table.close();
  }
}

describe("an embedding asset", () => {
  it("embeds every row with text on its first run, one table per tenant, and records what it did", async () => {
    const result = await materialize(graphOf(ROWS, "1"), store);
    expect(result.counts).toEqual({ materialized: 4, fresh: 0, failed: 0, skipped: 0 });
    const table = (rows: number) => ({ rows, version: expect.any(Number), indexed: false });
    expect(vectorsOf(result)).toEqual([
      [
        "acme",
        "materialized",
        {
          model: "local:tributary-hashing-v1/32",
          semantic: false,
          embedded: 3,
          unchanged: 0,
          deleted: 0,
          tables: { acme: table(3) },
        },
      ],
      [
        "globex",
        "materialized",
        {
          model: "local:tributary-hashing-v1/32",
          semantic: false,
          embedded: 2,
          unchanged: 0,
          deleted: 0,
          tables: { globex: table(2) },
        },
      ],
    ]);
    expect(await readdir(join(dir, "vectors", "customer_vectors"))).toEqual(["tenant=acme", "tenant=globex"]);
    expect(await tableRows("acme")).toEqual([
      { customer_id: "a1" },
      { customer_id: "a2" },
      { customer_id: "a3" },
    ]);
    // The ledger: key, tenant, the SHA-256 of the text; the row without text has no vector.
    const m = (await new StoreState(store).manifest(
      graphOf(ROWS, "1").get("customer_vectors"),
      "acme",
    )) as AssetManifest;
    expect(m.rowCount).toBe(3);
    expect(m.schema).toEqual([
      { name: "customer_id", type: "VARCHAR" },
      { name: "tenant_id", type: "VARCHAR" },
      { name: "content_hash", type: "VARCHAR" },
    ]);
    expect(m.checks.map((c) => [c.name, c.passed])).toEqual([["unique_customer_id", true]]);
  });

  it("is fresh on a second run, and embeds again exactly the rows whose text changed; deleted keys lose their vector", async () => {
    await materialize(graphOf(ROWS, "1"), store);
    const again = await materialize(graphOf(ROWS, "1"), store);
    expect(again.counts).toEqual({ materialized: 0, fresh: 4, failed: 0, skipped: 0 });

    const changed = ROWS.map((r) =>
      r.customer_id === "a2" ? { ...r, text: "customer in FR; segment loyal" } : r,
    );
    const second = await materialize(graphOf(changed, "2"), store);
    expect(vectorsOf(second).map(([p, s, v]) => [p, s, counts(v)])).toEqual([
      ["acme", "materialized", [1, 2, 0]],
      ["globex", "materialized", [0, 2, 0]],
    ]);

    const gone = changed.filter((r) => r.customer_id !== "a3");
    const third = await materialize(graphOf(gone, "3"), store);
    expect(vectorsOf(third).map(([p, s, v]) => [p, s, counts(v)])).toEqual([
      ["acme", "materialized", [0, 2, 1]],
      ["globex", "materialized", [0, 2, 0]],
    ]);
    expect(await tableRows("acme")).toEqual([{ customer_id: "a1" }, { customer_id: "a2" }]);
  });

  it("embeds everything again when the model changes, and plans it with the reason", async () => {
    await materialize(graphOf(ROWS, "1"), store);
    const plan = await steps(graphOf(ROWS, "1", 64), new StoreState(store), {
      selection: "customer_vectors",
    });
    expect(plan.map((s) => [s.partition, s.action, s.reason.replace(/\(.*\)/, "(…)")])).toEqual([
      ["acme", "run", "code version changed (…)"],
      ["globex", "run", "code version changed (…)"],
    ]);
    const run = await materialize(graphOf(ROWS, "1", 64), store);
    expect(vectorsOf(run).map(([p, , v]) => [p, counts(v), (v as { model: string }).model])).toEqual([
      ["acme", [3, 0, 0], "local:tributary-hashing-v1/64"],
      ["globex", [2, 0, 0], "local:tributary-hashing-v1/64"],
    ]);
  });

  it("counts the model that really embeds in its data version: another provider mapping re-plans it", async () => {
    await materialize(graphOf(ROWS, "1"), store);
    const bedrock = parseVectorsConfig({ provider: { kind: "bedrock", region: "eu-west-1" } }, "test");
    const plan = await steps(graphOf(ROWS, "1"), new StoreState(store), {
      selection: "customer_vectors",
      vectors: bedrock,
    });
    expect(plan.map((s) => [s.partition, s.action, s.reason])).toEqual([
      [
        "acme",
        "run",
        "embedding model changed (local:tributary-hashing-v1/32 → bedrock:test-embedding/32): every row is embedded again",
      ],
      [
        "globex",
        "run",
        "embedding model changed (local:tributary-hashing-v1/32 → bedrock:test-embedding/32): every row is embedded again",
      ],
    ]);
  });

  it("writes vectors that find their own row first", async () => {
    await materialize(graphOf(ROWS, "1"), store);
    const opened = await VectorTable.open(lanceLocation(dir), "customer_vectors", "acme");
    const [query] = new HashingEmbedder(32).embedSync([ROWS[1]!.text!]);
    const hits = await opened!.table.search(query!, 2, parseVectorsConfig({}, "test").index);
    opened!.table.close();
    expect(hits[0]).toEqual({ row: { customer_id: "a2", tenant_id: "acme" }, distance: expect.any(Number) });
    expect(hits[0]!.distance).toBeLessThan(1e-6);
    expect(hits.map((h) => h.row.tenant_id)).toEqual(["acme", "acme"]);
  });
});

describe("an unpartitioned embedding asset", () => {
  it("keeps one table per tenant of its rows, and empties the table of a tenant whose rows are all gone", async () => {
    const first = await materialize(graphOf(ROWS, "1", 32, true), store);
    expect(
      vectorsOf(first).map(([p, s, v]) => [p, s, counts(v), Object.keys((v as { tables: object }).tables)]),
    ).toEqual([["", "materialized", [5, 0, 0], ["acme", "globex"]]]);
    const second = await materialize(
      graphOf(
        ROWS.filter((r) => r.tenant_id === "acme"),
        "2",
        32,
        true,
      ),
      store,
    );
    const [[, , v]] = vectorsOf(second) as [[string, string, { tables: Record<string, { rows: number }> }]];
    expect([counts(v), v.tables.acme!.rows, v.tables.globex!.rows]).toEqual([[0, 3, 2], 3, 0]);
    expect(await tableRows("globex")).toEqual([]);
  });
});

function counts(v: unknown): [number, number, number] {
  const r = v as { embedded: number; unchanged: number; deleted: number };
  return [r.embedded, r.unchanged, r.deleted];
}
