/**
 * Nearest-neighbour search in one tenant's vector table: the query text is embedded with the model that
 * wrote the table (its schema records it), under the same configuration the run used ($TRIBUTARY_VECTORS),
 * and the table's `k` nearest rows come back by cosine distance. One tenant's table is opened, so only
 * that tenant's rows can come back. `tributary search` and applications (`tributary/vectors`) both call
 * this.
 */
import { TributaryError } from "../../kit/errors.ts";
import { PARTITION_VALUE_PATTERN } from "../../kit/keys.ts";
import { type EffectiveModel, modelTag, type VectorsConfig } from "./config.ts";
import { lanceMessage } from "./lance.ts";
import type { LanceLocation } from "./location.ts";
import { embedderOf, type ResolvedEmbedder } from "./providers.ts";
import { VectorTable } from "./table.ts";

export class SearchError extends TributaryError {
  override name = "SearchError";
}

/** Why a search found nothing to search: the table is missing, or empty. */
export class NoVectorsError extends SearchError {
  override name = "NoVectorsError";
  readonly reason: "missing" | "empty";
  constructor(message: string, reason: "missing" | "empty") {
    super(message);
    this.reason = reason;
  }
}

export interface SearchHit {
  /** 1 for the nearest. */
  readonly rank: number;
  /** Cosine distance to the query: 0 is the same direction, 2 the opposite. */
  readonly distance: number;
  /** The row's key columns and tenant column, by name. */
  readonly row: Readonly<Record<string, string | number>>;
}

export interface SearchResult {
  readonly asset: string;
  readonly tenant: string;
  /** The model that embedded the table and the query. */
  readonly model: EffectiveModel;
  /** False for the local hashing embedder: its vectors match words, not meaning. */
  readonly semantic: boolean;
  /** Whether the table's ANN index answered (approximate) rather than an exact scan. */
  readonly indexed: boolean;
  readonly hits: readonly SearchHit[];
}

export const MAX_K = 1000;

/** What a search says of a non-semantic model, wherever it prints results. */
export function notSemantic(model: EffectiveModel): string {
  return `${model.name} is not a semantic model: it matches words and word pairs, not meaning`;
}

/** Search one tenant's table of `asset`; `embedders` caches query embedders across searches. */
export async function searchTenant(args: {
  readonly location: LanceLocation;
  readonly asset: string;
  readonly tenant: string;
  readonly text: string;
  readonly k: number;
  readonly config: VectorsConfig;
  readonly embedders?: Map<string, Promise<ResolvedEmbedder>>;
}): Promise<SearchResult> {
  const { asset, tenant, text, k } = args;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new SearchError(`search: k must be a whole number from 1 to ${MAX_K}, not ${k}.`);
  }
  if (text.trim() === "") throw new SearchError("search: the text to search for is empty.");
  if (!PARTITION_VALUE_PATTERN.test(tenant)) {
    throw new SearchError(
      `search: ${JSON.stringify(tenant)} is not a tenant name (tenants match ${PARTITION_VALUE_PATTERN.source}).`,
    );
  }
  const opened = await VectorTable.open(args.location, asset, tenant).catch((e: unknown) => {
    if (e instanceof TributaryError) throw e;
    throw new SearchError(
      `search: the vector table of tenant "${tenant}" of ${asset} cannot be read: ${lanceMessage(e)}`,
    );
  });
  if (!opened) {
    throw new NoVectorsError(`search: tenant "${tenant}" of ${asset} has no vector table.`, "missing");
  }
  const table = opened.table;
  try {
    if ((await table.count()) === 0) {
      throw new NoVectorsError(
        `search: tenant "${tenant}" of ${asset} has no vectors: its table is empty.`,
        "empty",
      );
    }
    const model = table.shape.model;
    const tag = modelTag(model);
    let made = args.embedders?.get(tag);
    if (!made) {
      made = embedderOf(model, args.config, `search ${asset}`);
      args.embedders?.set(tag, made);
      made.catch(() => args.embedders?.delete(tag));
    }
    const { embedder } = await made;
    const [vector] = await embedder.embed([text]);
    const hits = await table.search(vector!, k, args.config.index);
    return {
      asset,
      tenant,
      model,
      semantic: embedder.semantic,
      indexed: await table.indexed(),
      hits: hits.map((h, i) => ({ rank: i + 1, distance: h.distance, row: h.row })),
    };
  } finally {
    table.close();
  }
}
