/**
 * `tributary/vectors`: search an embedding asset's vectors from an application, with the model and
 * configuration the pipeline embedded them with, without loading the graph.
 *
 *   import { createVectorSearch } from "tributary/vectors";
 *
 *   const vectors = createVectorSearch({ store: process.env.TRIBUTARY_STORE_CURATED! });
 *   const { hits } = await vectors.search("recommendation_vectors", "customer in DE; segment loyal", {
 *     tenant: "acme",
 *     k: 5,
 *   });
 *   // hits: [{ rank: 1, distance: 0.02, row: { customer_id: "…", tenant_id: "acme" } }, …]
 *
 * The store is where the pipeline materialises (a folder, or a stack's curated store URI: s3://…,
 * gs://…, https://<account>.blob.core.windows.net/<container>); endpoints and credentials come from the
 * environment as for the pipeline's functions. The configuration is $TRIBUTARY_VECTORS unless given:
 * it must name the provider the vectors were embedded with (each table records its model), which
 * embeds the query. The application needs read access to `vectors/<asset>/tenant=<tenant>/` only.
 */
import { layout } from "../../contract/storage-layout.ts";
import { parseVectorsConfig, type VectorsConfig, vectorsConfigFromEnv } from "./config.ts";
import { lanceLocation } from "./location.ts";
import type { ResolvedEmbedder } from "./providers.ts";
import { NoVectorsError, type SearchResult, searchTenant } from "./search.ts";

export { type EffectiveModel, HASHING_MODEL, type VectorsConfig } from "./config.ts";
export type { Embedder, EmbeddingModel } from "./embedder.ts";
export { NoVectorsError, SearchError, type SearchHit, type SearchResult } from "./search.ts";

export interface VectorSearchOptions {
  /** Where the pipeline materialises: a folder or a store URI. */
  readonly store: string;
  /**
   * How to embed queries (every field optional, as in $TRIBUTARY_VECTORS); default: $TRIBUTARY_VECTORS.
   */
  readonly vectors?: unknown;
}

export interface VectorSearch {
  /** The `k` (default 10) rows of `tenant` nearest to `text`, nearest first. */
  search(asset: string, text: string, opts: { tenant: string; k?: number }): Promise<SearchResult>;
}

export function createVectorSearch(options: VectorSearchOptions): VectorSearch {
  const config: VectorsConfig =
    options.vectors === undefined
      ? vectorsConfigFromEnv()
      : parseVectorsConfig(options.vectors, "createVectorSearch({ vectors })");
  const location = lanceLocation(options.store);
  const embedders = new Map<string, Promise<ResolvedEmbedder>>();
  return {
    async search(asset, text, opts) {
      try {
        return await searchTenant({
          location,
          asset,
          tenant: opts.tenant,
          text,
          k: opts.k ?? 10,
          config,
          embedders,
        });
      } catch (e) {
        if (!(e instanceof NoVectorsError) || e.reason !== "missing") throw e;
        const tenants = await tenantsOf(options.store, asset);
        throw new NoVectorsError(
          tenants.length === 0
            ? `search: ${options.store} holds no vectors of "${asset}" (is it an embedding asset, materialised into this store?).`
            : `search: "${asset}" has no tenant "${opts.tenant}" in ${options.store} (its tenants: ${tenants.join(", ")}).`,
          "missing",
        );
      }
    },
  };
}

/** The tenants that have a vector table of `asset` in a store, from a listing of its prefix. */
export async function tenantsOf(storeUri: string, asset: string): Promise<string[]> {
  const { openStoreUri } = await import("../storage/open.ts");
  const objects = await openStoreUri(storeUri).list(layout.vectorsPrefix(asset));
  const tenants = new Set<string>();
  for (const o of objects) {
    const m = /^tenant=([^/]+)\//.exec(o.key.slice(layout.vectorsPrefix(asset).length));
    if (m) tenants.add(m[1]!);
  }
  return [...tenants].sort();
}
