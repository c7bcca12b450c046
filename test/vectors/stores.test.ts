/**
 * Vector tables on the cloud stores' emulators (s3rver, Azurite): the engine materialises the embedding
 * asset into a store there (its ledger and manifests through the store adapter, its vectors through
 * LanceDB), an application searches it through `tributary/vectors`, and every object of a tenant's
 * vectors lies under that tenant's prefix.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { AzureBlobStore } from "../../src/runtime/storage/azure-blob.ts";
import type { ObjectStore } from "../../src/runtime/storage/port.ts";
import { S3Store } from "../../src/runtime/storage/s3.ts";
import { createVectorSearch } from "../../src/runtime/vectors/client.ts";
import { type AzureEmulator, type S3Emulator, startAzurite, startS3 } from "../storage/emulators.ts";
import { graphOf, ROWS } from "./graph.ts";

let s3: S3Emulator;
let azure: AzureEmulator;
beforeAll(async () => {
  [s3, azure] = await Promise.all([startS3("vectors-test"), startAzurite("vectors-test")]);
  for (const [k, v] of Object.entries({ ...s3.env, ...azure.env })) vi.stubEnv(k, v);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([s3?.stop(), azure?.stop()]);
});

const stores: [string, () => { store: ObjectStore; uri: string }][] = [
  [
    "S3 (s3rver)",
    () => {
      const store = new S3Store({ bucket: s3.bucket, prefix: "curated" });
      return { store, uri: store.uri };
    },
  ],
  [
    "Azure Blob (Azurite)",
    () => {
      const store = new AzureBlobStore({
        account: azure.account,
        container: azure.container,
        prefix: "curated",
        serviceUrl: azure.serviceUrl,
      });
      return { store, uri: `${azure.serviceUrl}/${azure.container}/curated` };
    },
  ],
];

describe.each(stores)("vector tables on %s", (_name, make) => {
  it("are written by the engine, searched by an application, and kept each under its tenant's prefix", async () => {
    const { store, uri } = make();
    const first = await materialize(graphOf(ROWS, "1"), store);
    expect(first.counts).toEqual({ materialized: 4, fresh: 0, failed: 0, skipped: 0 });
    const changed = ROWS.filter((r) => r.customer_id !== "a3").map((r) =>
      r.customer_id === "g2" ? { ...r, text: "customer in GB; segment loyal; 4 orders" } : r,
    );
    const second = await materialize(graphOf(changed, "2"), store);
    expect(
      second.outcomes
        .filter((o) => o.item.asset === "customer_vectors" && o.status === "materialized")
        .map((o) => {
          const v = o.status === "materialized" ? o.manifest!.vectors! : undefined;
          return [o.item.partition, v!.embedded, v!.unchanged, v!.deleted, v!.tables[o.item.partition]!.rows];
        }),
    ).toEqual([
      ["acme", 0, 2, 1, 2],
      ["globex", 1, 1, 0, 2],
    ]);

    const search = createVectorSearch({ store: uri });
    const found = await search.search("customer_vectors", ROWS[0]!.text!, { tenant: "acme", k: 5 });
    expect(found.hits.map((h) => h.row)).toEqual([
      { customer_id: "a1", tenant_id: "acme" },
      { customer_id: "a2", tenant_id: "acme" },
    ]);
    expect(found.hits[0]!.distance).toBeLessThan(1e-6);
    expect(found.model).toEqual({ provider: "local", name: "tributary-hashing-v1", dimension: 32 });
    const globex = await search.search("customer_vectors", ROWS[0]!.text!, { tenant: "globex", k: 5 });
    expect(globex.hits.map((h) => h.row.customer_id)).toEqual(["g1", "g2"]);

    const objects = (await store.list("vectors/")).map((o) => o.key);
    expect(objects.length).toBeGreaterThan(0);
    expect(
      objects.filter((k) => !/^vectors\/customer_vectors\/tenant=(acme|globex)\/vectors\.lance\//.test(k)),
    ).toEqual([]);
    await expect(search.search("customer_vectors", "x", { tenant: "initech" })).rejects.toThrow(
      `search: "customer_vectors" has no tenant "initech" in ${uri} (its tenants: acme, globex).`,
    );
  });
});
