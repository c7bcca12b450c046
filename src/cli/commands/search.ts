import type { AssetDef } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import { didYouMean } from "../../kit/suggest.ts";
import { openStoreUri } from "../../runtime/storage/open.ts";
import type { ObjectStore } from "../../runtime/storage/port.ts";
import { tenantsOf } from "../../runtime/vectors/client.ts";
import { effectiveModel, modelTag, vectorsConfigFromEnv } from "../../runtime/vectors/config.ts";
import { lanceLocation } from "../../runtime/vectors/location.ts";
import {
  NoVectorsError,
  notSemantic,
  type SearchResult,
  searchTenant,
} from "../../runtime/vectors/search.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface SearchOptions {
  graph?: string;
  config?: string;
  store?: string;
  tenant: string;
  /** -k: how many rows (default 10). */
  k?: string;
  json?: boolean;
}

class SearchCommandError extends TributaryError {
  override name = "SearchCommandError";
}

/**
 * `tributary search <asset> "<text>" --tenant <t>`: the rows of one tenant nearest to a text in an
 * embedding asset's vectors, with their cosine distances (runtime/vectors/search.ts).
 */
export async function searchCommand(
  asset: string,
  text: string,
  opts: SearchOptions,
  io: Io,
): Promise<number> {
  const graph = await commandGraph(opts);
  const embeddings = graph.order.filter((k) => (graph.get(k) as Partial<AssetDef>).embedding !== undefined);
  if (!graph.has(asset)) {
    throw new SearchCommandError(
      `search: no asset "${asset}" in the graph.${didYouMean(asset, graph.order)}${embeddings.length > 0 ? "" : " The graph has no embedding asset."}`,
    );
  }
  const a = graph.get(asset) as AssetDef;
  if (a.embedding === undefined) {
    throw new SearchCommandError(
      `search: "${asset}" is not an embedding asset, so it has no vectors to search${embeddings.length > 0 ? ` (embedding assets: ${embeddings.join(", ")})` : " (the graph has none: declare one with embedding())"}.`,
    );
  }
  const k = opts.k === undefined ? 10 : Number(opts.k);
  const tenants = a.partitions?.kind === "static" ? a.partitions.keys : undefined;
  if (tenants !== undefined && !tenants.includes(opts.tenant)) {
    throw new SearchCommandError(
      `search: ${asset} has no tenant "${opts.tenant}" (its tenants: ${tenants.join(", ")}).${didYouMean(opts.tenant, tenants)}`,
    );
  }
  const store = await searchStore(opts.store, opts);
  const config = vectorsConfigFromEnv();
  let result: SearchResult;
  try {
    result = await searchTenant({
      location: lanceLocation(store.uri),
      asset,
      tenant: opts.tenant,
      text,
      k,
      config,
    });
  } catch (e) {
    if (!(e instanceof NoVectorsError) || e.reason !== "missing") throw e;
    if (tenants !== undefined) {
      throw new SearchCommandError(
        `search: tenant "${opts.tenant}" of ${asset} has no vectors yet: run tributary materialize ${asset} --partition ${opts.tenant}.`,
      );
    }
    const have = await tenantsOf(store.uri, asset);
    throw new SearchCommandError(
      have.length === 0
        ? `search: ${asset} has no vectors yet: run tributary materialize ${asset}.`
        : `search: ${asset} has no tenant "${opts.tenant}" (its tenants: ${have.join(", ")}).${didYouMean(opts.tenant, have)}`,
    );
  }
  const declared = modelTag(effectiveModel(a.embedding.model, config));
  const stale =
    modelTag(result.model) === declared
      ? undefined
      : `the vectors were embedded by ${modelTag(result.model)}; the graph and configuration now embed with ${declared}: materialise ${asset} to embed them again`;
  if (opts.json) {
    io.out(
      `${JSON.stringify(
        {
          asset,
          tenant: result.tenant,
          model: result.model,
          semantic: result.semantic,
          ...(result.semantic ? {} : { note: notSemantic(result.model) }),
          ...(stale ? { warning: stale } : {}),
          indexed: result.indexed,
          results: result.hits.map((h) => ({ rank: h.rank, distance: h.distance, ...h.row })),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  if (stale) io.err(`tributary: warning: ${stale}.\n`);
  const columns = result.hits.length > 0 ? Object.keys(result.hits[0]!.row) : [...a.embedding.key];
  io.out(
    `${result.hits.length} nearest row${result.hits.length === 1 ? "" : "s"} of tenant ${result.tenant} in ${asset} by cosine distance (${modelTag(result.model)}, ${result.indexed ? "ANN index" : "exact search"})\n`,
  );
  if (!result.semantic) io.out(`note: ${notSemantic(result.model)}\n`);
  io.out(
    formatTable(
      ["rank", ...columns, "distance"],
      result.hits.map((h) => [
        String(h.rank),
        ...columns.map((c) => String(h.row[c])),
        h.distance.toFixed(4),
      ]),
    ),
  );
  return 0;
}

/** A folder (default: the project's store) or a deployed stack's curated store URI. */
async function searchStore(store: string | undefined, opts: SearchOptions): Promise<ObjectStore> {
  if (store !== undefined && /^[a-z][a-z0-9+.-]*:\/\//.test(store) && !store.startsWith("file:")) {
    return openStoreUri(store);
  }
  return openStore(store, opts);
}
