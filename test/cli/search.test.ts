/**
 * `tributary search` on the reference pipeline after the quick start (`tributary materialize`), and the
 * embedding asset through a change and a delete of the source data: exactly the changed customer is
 * embedded again, and a deleted customer's vector is gone.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lanceLocation } from "../../src/runtime/vectors/location.ts";
import { VectorTable } from "../../src/runtime/vectors/table.ts";
import { cli } from "./in-process.ts";

let store: string;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), "tributary-search-"));
  const run = await cli("materialize", "--store", store);
  expect(run.code).toBe(0);
}, 180_000);
afterAll(() => rm(store, { recursive: true, force: true }));

const rows = async (sql: string) => {
  const r = await cli("query", sql, "--json", "--store", store);
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as Record<string, unknown>[];
};
const search = async (...args: string[]) => {
  const r = await cli("search", "recommendation_vectors", ...args, "--store", store);
  return { ...r, json: r.code === 0 && args.includes("--json") ? JSON.parse(r.stdout) : undefined };
};
type Found = { results: { rank: number; distance: number; customer_id: string; tenant_id: string }[] };

/** An acme customer whose features' text no other acme customer has, with a paid order. */
async function uniqueCustomer(): Promise<{ customer_id: string; text: string; order_id: string }> {
  const [row] = await rows(`
    WITH texts AS (
      SELECT customer_id, embedding_text, count(*) OVER (PARTITION BY embedding_text) AS n
      FROM recommendation_features WHERE tenant_id = 'acme'
    )
    SELECT t.customer_id, t.embedding_text AS text, min(o.order_id) AS order_id
    FROM texts t JOIN curated_orders o USING (customer_id)
    WHERE t.n = 1 AND o.status = 'paid'
    GROUP BY ALL ORDER BY t.customer_id LIMIT 1`);
  return row as { customer_id: string; text: string; order_id: string };
}

describe("tributary search after the quick start", () => {
  it("finds a customer first by its features' text, and only rows of the tenant searched", async () => {
    const c = await uniqueCustomer();
    const acme = await search(c.text, "--tenant", "acme", "--json");
    expect(acme.code).toBe(0);
    const found = acme.json as Found & Record<string, unknown>;
    expect(found.results[0]).toEqual({ rank: 1, distance: 0, customer_id: c.customer_id, tenant_id: "acme" });
    expect(found.results).toHaveLength(10);
    expect(new Set(found.results.map((r) => r.tenant_id))).toEqual(new Set(["acme"]));
    expect({ ...found, results: undefined }).toEqual({
      asset: "recommendation_vectors",
      tenant: "acme",
      model: { provider: "local", name: "tributary-hashing-v1", dimension: 256 },
      semantic: false,
      note: "tributary-hashing-v1 is not a semantic model: it matches words and word pairs, not meaning",
      indexed: false,
      results: undefined,
    });
    const acmeIds = new Set(
      (await rows("SELECT customer_id FROM recommendation_features WHERE tenant_id = 'acme'")).map(
        (r) => r.customer_id,
      ),
    );
    for (const tenant of ["globex", "initech"]) {
      const other = (await search(c.text, "--tenant", tenant, "--json", "-k", "50")).json as Found;
      expect(other.results.length).toBeGreaterThan(0);
      expect(other.results.filter((r) => r.tenant_id !== tenant || acmeIds.has(r.customer_id))).toEqual([]);
    }
  });

  it("prints a table, saying the model is not a semantic one", async () => {
    const c = await uniqueCustomer();
    const r = await search(c.text, "--tenant", "acme", "-k", "2");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "2 nearest rows of tenant acme in recommendation_vectors by cosine distance (local:tributary-hashing-v1/256, exact search)",
      "note: tributary-hashing-v1 is not a semantic model: it matches words and word pairs, not meaning",
      "rank  customer_id                           tenant_id  distance",
    ]);
    expect(lines[3]).toBe(`1     ${c.customer_id}  acme       0.0000`);
    expect(lines[4]).toMatch(/^2 {5}[0-9a-f-]{36} {2}acme {7}0\.\d{4}$/);
  });

  it.each([
    [
      ["recommendation_vector", "x", "--tenant", "acme"],
      'tributary: search: no asset "recommendation_vector" in the graph. Did you mean "recommendation_vectors"?\n',
    ],
    [
      ["recommendation_features", "x", "--tenant", "acme"],
      'tributary: search: "recommendation_features" is not an embedding asset, so it has no vectors to search (embedding assets: recommendation_vectors).\n',
    ],
    [
      ["recommendation_vectors", "x", "--tenant", "acme-corp"],
      'tributary: search: recommendation_vectors has no tenant "acme-corp" (its tenants: acme, globex, initech). Did you mean "acme"?\n',
    ],
    [
      ["recommendation_vectors", "x", "--tenant", "acme", "-k", "0"],
      "tributary: search: k must be a whole number from 1 to 1000, not 0.\n",
    ],
    [
      ["recommendation_vectors", "  ", "--tenant", "acme"],
      "tributary: search: the text to search for is empty.\n",
    ],
  ])("refuses %j with one line", async (args, message) => {
    const r = await cli("search", ...args, "--store", store);
    expect(r).toEqual({ code: 1, stdout: "", stderr: message });
  });

  it("says when a tenant has no vectors yet, and when its table is empty", async () => {
    const empty = await mkdtemp(join(tmpdir(), "tributary-search-empty-"));
    try {
      const none = await cli("search", "recommendation_vectors", "x", "--tenant", "acme", "--store", empty);
      expect(none).toEqual({
        code: 1,
        stdout: "",
        stderr:
          'tributary: search: tenant "acme" of recommendation_vectors has no vectors yet: run tributary materialize recommendation_vectors --partition acme.\n',
      });
      const opened = await VectorTable.open(lanceLocation(empty), "recommendation_vectors", "globex", {
        asset: "recommendation_vectors",
        keys: [{ name: "customer_id", type: "string" }],
        tenantColumn: "tenant_id",
        model: { provider: "local", name: "tributary-hashing-v1", dimension: 256 },
        semantic: false,
      });
      opened!.table.close();
      const nothing = await cli(
        "search",
        "recommendation_vectors",
        "x",
        "--tenant",
        "globex",
        "--store",
        empty,
      );
      expect(nothing).toEqual({
        code: 1,
        stdout: "",
        stderr:
          'tributary: search: tenant "globex" of recommendation_vectors has no vectors: its table is empty.\n',
      });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("the embedding asset through changes of the source data", () => {
  /** The newest change event of a row, from the sample input the quick start generated and ingested. */
  async function newest(source: string, column: string, id: string): Promise<Record<string, unknown>> {
    const dir = join(store, "samples", source);
    const events: Record<string, unknown>[] = [];
    for (const f of await readdir(dir)) {
      for (const line of (await readFile(join(dir, f), "utf8")).split("\n")) {
        if (!line.includes(id)) continue;
        const e = JSON.parse(line) as Record<string, unknown>;
        const row = (e.after ?? e.before) as Record<string, unknown> | null;
        if (row?.[column] === id) events.push(e);
      }
    }
    const lsn = (e: Record<string, unknown>) => Number((e.source as { lsn: number }).lsn);
    events.sort((a, b) => String(a.event_time).localeCompare(String(b.event_time)) || lsn(a) - lsn(b));
    return events.at(-1)!;
  }
  const later = (iso: unknown) => new Date(Date.parse(String(iso)) + 1000).toISOString();
  const vectorsOf = async () => {
    const r = await cli("materialize", "--store", store, "--json");
    expect(r.code).toBe(0);
    const run = JSON.parse(r.stdout) as {
      outcomes: { asset: string; partition: string; status: string; vectors?: Record<string, unknown> }[];
    };
    return run.outcomes
      .filter((o) => o.asset === "recommendation_vectors" && o.status !== "fresh")
      .map((o) => [
        o.partition,
        o.status,
        o.vectors && [o.vectors.embedded, o.vectors.unchanged, o.vectors.deleted],
      ]);
  };
  const acmeRows = async () =>
    Number((await rows("SELECT count(*) AS n FROM recommendation_features WHERE tenant_id = 'acme'"))[0]!.n);

  it("embeds again exactly the customer whose order changed, and drops a deleted customer's vector", async () => {
    const c = await uniqueCustomer();
    const n = await acmeRows();
    // One paid order of the customer is corrected (its amount), as the shop's database would send it.
    const order = await newest("orders_cdc", "order_id", c.order_id);
    const after = order.after as Record<string, unknown>;
    const update = {
      event_id: "0a1b2c3d-0000-4000-8000-000000000001",
      event_time: later(order.event_time),
      tenant_id: "acme",
      op: "u",
      before: after,
      after: {
        ...after,
        amount_cents: Number(after.amount_cents) + 1000,
        updated_at: later(after.updated_at),
      },
      source: { ...(order.source as object), lsn: Number((order.source as { lsn: unknown }).lsn) + 1 },
    };
    const file = join(store, "update.ndjson");
    await writeFile(file, `${JSON.stringify(update)}\n`);
    expect((await cli("ingest", "orders_cdc", file, "--store", store)).code).toBe(0);
    expect(await vectorsOf()).toEqual([["acme", "materialized", [1, n - 1, 0]]]);

    // The customer is deleted in the shop's database: its vector goes.
    const customer = await newest("customers_cdc", "customer_id", c.customer_id);
    const del = {
      event_id: "0a1b2c3d-0000-4000-8000-000000000002",
      event_time: later(customer.event_time),
      tenant_id: "acme",
      op: "d",
      before: customer.after,
      after: null,
      source: { ...(customer.source as object), lsn: Number((customer.source as { lsn: unknown }).lsn) + 1 },
    };
    await writeFile(file, `${JSON.stringify(del)}\n`);
    expect((await cli("ingest", "customers_cdc", file, "--store", store)).code).toBe(0);
    expect(await vectorsOf()).toEqual([["acme", "materialized", [0, n - 1, 1]]]);
    const found = (await search(c.text, "--tenant", "acme", "--json", "-k", "50")).json as Found;
    expect(found.results.map((r) => r.customer_id)).not.toContain(c.customer_id);

    // Nothing changed since: everything is fresh, the embedding asset too.
    const again = await cli("materialize", "--store", store);
    expect(again.stdout).toMatch(/everything is fresh/);
  });
});
