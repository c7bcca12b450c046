/**
 * How a run embeds and writes vectors: which provider embeds, how the graph's declared model names map
 * to the provider's models, and the run's backpressure (batch size, embed calls and vector-table writes
 * in flight, rows per write) and ANN index settings.
 *
 * Where it comes from: the environment variable TRIBUTARY_VECTORS (FUNCTION_ENV.vectors), a JSON object
 * of this shape, every field optional. A deployed stack's plan sets it on each embedding asset's function
 * from the stack's configuration; on a laptop it is usually absent, and the local hashing embedder runs.
 * Every command and every function reads it the same way (`vectorsConfigFromEnv`), so a data version
 * computed by `tributary status` is the one `tributary materialize` and the function compute.
 *
 * How the declared model and the provider relate. An embedding asset declares the model it is built for,
 * `model: { name, dimension }`: part of its code version, so changing it re-embeds every row and the
 * preview says so. The provider here serves that declaration:
 *   - `local` (the default): the feature-hashing embedder (`tributary-hashing-v1`, not a semantic model)
 *     stands in for any declared model, at the declared dimension. Its vectors match tokens, not meaning;
 *     output and `tributary search` say so.
 *   - a cloud provider embeds with `models[declared name]` when listed, else the declared name itself (a
 *     Bedrock model id, a Vertex AI model, an Azure OpenAI deployment), asking it for the declared
 *     dimension. One graph can declare a neutral name ("text-embedding") and each stack map it to its
 *     cloud's model.
 * The model that really embedded (`effectiveModel`) is recorded in each vector table and folded into the
 * asset's data version: moving a stack from one provider or mapping to another re-embeds everything, and
 * a search refuses a table written by another model than the one it would embed the query with.
 */
import { TributaryError } from "../../kit/errors.ts";
import type { EmbeddingModel } from "./embedder.ts";

/** The environment variable holding a run's vectors configuration as JSON. */
export const VECTORS_ENV = "TRIBUTARY_VECTORS";

/** The local deterministic embedder's model name. */
export const HASHING_MODEL = "tributary-hashing-v1";

/** Which service embeds. The cloud providers' settings are read by their clients (providers.ts). */
export type ProviderConfig =
  | { readonly kind: "local" }
  | {
      readonly kind: "bedrock";
      /** The Bedrock runtime's region; default AWS_REGION. */
      readonly region?: string;
      /** Requests in flight to the model at once in one function (default 4). */
      readonly concurrency?: number;
    }
  | {
      readonly kind: "vertex";
      /** The Google Cloud project; default GOOGLE_CLOUD_PROJECT. */
      readonly project?: string;
      /** The Vertex AI location, e.g. "europe-west4". */
      readonly location: string;
      /** Requests in flight to the model at once in one function (default 4). */
      readonly concurrency?: number;
    }
  | {
      readonly kind: "azure-openai";
      /** The Azure OpenAI account's endpoint, https://<account>.openai.azure.com. */
      readonly endpoint: string;
      /** The REST API version; default: the provider client's. */
      readonly apiVersion?: string;
      /** Requests in flight to the model at once in one function (default 4). */
      readonly concurrency?: number;
    };

export type ProviderKind = ProviderConfig["kind"];

/** When and how a tenant's vector table gets its ANN index. */
export interface IndexConfig {
  /** Build the index once a tenant's table holds this many rows; below it, searches are exact. */
  readonly minRows: number;
  /** IVF partitions per table; default the square root of its rows (LanceDB's own default). */
  readonly partitions?: number;
  /** IVF partitions a search probes. */
  readonly nprobes: number;
  /** Candidates re-ranked on full vectors, as a multiple of k (RaBitQ codes are 1 bit per dimension). */
  readonly refineFactor: number;
  /**
   * Train the index again when one run leaves this share of a table's rows outside it (a large load);
   * smaller additions are added to the trained index.
   */
  readonly retrainShare: number;
}

export interface VectorsConfig {
  readonly provider: ProviderConfig;
  /**
   * The provider's model for a declared model name: a Bedrock model id, a Vertex AI model, an Azure
   * OpenAI deployment. A declared name not listed is passed as it is. The local provider ignores it.
   */
  readonly models: Readonly<Record<string, string>>;
  /** Texts per `embed()` call. */
  readonly batchSize: number;
  /**
   * `embed()` calls in flight at once in one function (one run). A provider may send one call as several
   * requests (to its own limits, with its own retries), all within the call.
   */
  readonly embedConcurrency: number;
  /** Vector tables (tenants) written at once in one run; writes to one table are always sequential. */
  readonly writeConcurrency: number;
  /** Rows per write to a vector table (one LanceDB commit); embedding runs at most one write ahead. */
  readonly writeBatchRows: number;
  readonly index: IndexConfig;
}

/**
 * An exact search reads every vector: about 3.5 µs per 256-dimension vector on a 2-core machine (9 µs
 * under heavy load), so past 10,000 rows it no longer answers within 50 ms; the index does.
 */
export const DEFAULT_INDEX: IndexConfig = Object.freeze({
  minRows: 10_000,
  nprobes: 20,
  refineFactor: 50,
  retrainShare: 0.2,
});

export const DEFAULT_VECTORS: VectorsConfig = Object.freeze({
  provider: Object.freeze({ kind: "local" }),
  models: Object.freeze({}),
  batchSize: 256,
  embedConcurrency: 4,
  writeConcurrency: 2,
  writeBatchRows: 20_000,
  index: DEFAULT_INDEX,
});

/** A vectors configuration that is not valid: names the setting, its source, and what is accepted. */
export class VectorsConfigError extends TributaryError {
  override name = "VectorsConfigError";
}

const PROVIDERS: readonly ProviderKind[] = ["local", "bedrock", "vertex", "azure-openai"];

/** The configuration in $TRIBUTARY_VECTORS (defaults when unset). */
export function vectorsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): VectorsConfig {
  const text = env[VECTORS_ENV];
  if (text === undefined || text.trim() === "") return DEFAULT_VECTORS;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new VectorsConfigError(
      `vectors: $${VECTORS_ENV} is not JSON (${(e as Error).message}); it must be an object like {"provider":{"kind":"local"}}.`,
    );
  }
  return parseVectorsConfig(value, `$${VECTORS_ENV}`);
}

/** Check a configuration object (every field optional) and fill in the defaults. */
export function parseVectorsConfig(value: unknown, where: string): VectorsConfig {
  const fail = (what: string): never => {
    throw new VectorsConfigError(`vectors: ${where}: ${what}.`);
  };
  if (!isObject(value)) return fail(`must be a JSON object, not ${JSON.stringify(value)}`);
  const known = [
    "provider",
    "models",
    "batchSize",
    "embedConcurrency",
    "writeConcurrency",
    "writeBatchRows",
    "index",
  ];
  const unknown = Object.keys(value).find((k) => !known.includes(k));
  if (unknown !== undefined) fail(`unknown setting "${unknown}" (settings: ${known.join(", ")})`);
  const provider = parseProvider(value.provider ?? DEFAULT_VECTORS.provider, fail);
  const models = value.models ?? {};
  if (!isObject(models) || Object.values(models).some((m) => typeof m !== "string" || m === "")) {
    fail(`models must map declared model names to provider model names (strings)`);
  }
  const whole = (name: string, v: unknown, fallback: number, min = 1): number => {
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      return fail(`${name} must be a whole number of at least ${min}, not ${JSON.stringify(v)}`);
    }
    return v;
  };
  const index = value.index ?? {};
  if (!isObject(index)) return fail(`index must be an object`);
  const indexKnown = ["minRows", "partitions", "nprobes", "refineFactor", "retrainShare"];
  const unknownIndex = Object.keys(index).find((k) => !indexKnown.includes(k));
  if (unknownIndex !== undefined) {
    fail(`unknown setting "index.${unknownIndex}" (index settings: ${indexKnown.join(", ")})`);
  }
  const share = index.retrainShare ?? DEFAULT_INDEX.retrainShare;
  if (typeof share !== "number" || !(share > 0 && share <= 1)) {
    fail(`index.retrainShare must be a number above 0 and at most 1, not ${JSON.stringify(share)}`);
  }
  const partitions =
    index.partitions === undefined ? undefined : whole("index.partitions", index.partitions, 1);
  return Object.freeze({
    provider,
    models: Object.freeze({ ...(models as Record<string, string>) }),
    batchSize: whole("batchSize", value.batchSize, DEFAULT_VECTORS.batchSize),
    embedConcurrency: whole("embedConcurrency", value.embedConcurrency, DEFAULT_VECTORS.embedConcurrency),
    writeConcurrency: whole("writeConcurrency", value.writeConcurrency, DEFAULT_VECTORS.writeConcurrency),
    writeBatchRows: whole("writeBatchRows", value.writeBatchRows, DEFAULT_VECTORS.writeBatchRows),
    index: Object.freeze({
      minRows: whole("index.minRows", index.minRows, DEFAULT_INDEX.minRows),
      ...(partitions === undefined ? {} : { partitions }),
      nprobes: whole("index.nprobes", index.nprobes, DEFAULT_INDEX.nprobes),
      refineFactor: whole("index.refineFactor", index.refineFactor, DEFAULT_INDEX.refineFactor),
      retrainShare: share as number,
    }),
  });
}

function parseProvider(value: unknown, fail: (what: string) => never): ProviderConfig {
  if (!isObject(value) || !PROVIDERS.includes(value.kind as ProviderKind)) {
    return fail(
      `provider must be an object whose kind is one of ${PROVIDERS.join(", ")}, not ${JSON.stringify(value)}`,
    );
  }
  const str = (name: string, required: boolean): string | undefined => {
    const v = value[name];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v === "") {
      return fail(`provider.${name} of provider "${value.kind}" must be a non-empty string`);
    }
    return v;
  };
  const settings: Record<ProviderKind, readonly string[]> = {
    local: [],
    bedrock: ["region", "concurrency"],
    vertex: ["project", "location", "concurrency"],
    "azure-openai": ["endpoint", "apiVersion", "concurrency"],
  };
  const kind = value.kind as ProviderKind;
  const unknown = Object.keys(value).find((k) => k !== "kind" && !settings[kind].includes(k));
  if (unknown !== undefined) {
    fail(
      `unknown setting "provider.${unknown}" of provider "${kind}" (its settings: ${["kind", ...settings[kind]].join(", ")})`,
    );
  }
  const concurrency = value.concurrency;
  if (
    concurrency !== undefined &&
    (typeof concurrency !== "number" || !Number.isInteger(concurrency) || concurrency < 1)
  ) {
    fail(`provider.concurrency must be a whole number of at least 1, not ${JSON.stringify(concurrency)}`);
  }
  const limit = concurrency === undefined ? {} : { concurrency: concurrency as number };
  switch (kind) {
    case "local":
      return Object.freeze({ kind });
    case "bedrock": {
      const region = str("region", false);
      return Object.freeze({ kind, ...(region ? { region } : {}), ...limit });
    }
    case "vertex": {
      const project = str("project", false);
      return Object.freeze({
        kind,
        ...(project ? { project } : {}),
        location: str("location", true)!,
        ...limit,
      });
    }
    case "azure-openai": {
      const apiVersion = str("apiVersion", false);
      return Object.freeze({
        kind,
        endpoint: str("endpoint", true)!,
        ...(apiVersion ? { apiVersion } : {}),
        ...limit,
      });
    }
  }
}

/**
 * The model that really embeds an asset's text under `config`: the local hashing embedder at the
 * declared dimension, or the provider's model for the declared name. With the provider's kind it is
 * what a vector table records and what an embedding asset's data version includes.
 */
export function effectiveModel(declared: EmbeddingModel, config: VectorsConfig): EffectiveModel {
  if (config.provider.kind === "local") {
    return { provider: "local", name: HASHING_MODEL, dimension: declared.dimension };
  }
  return {
    provider: config.provider.kind,
    name: config.models[declared.name] ?? declared.name,
    dimension: declared.dimension,
  };
}

/** A model as it embeds: the provider, the provider's model name, the dimension. */
export interface EffectiveModel extends EmbeddingModel {
  readonly provider: ProviderKind;
}

/** "local:tributary-hashing-v1/256": a model as data versions, manifests and vector tables record it. */
export function modelTag(m: EffectiveModel): string {
  return `${m.provider}:${m.name}/${m.dimension}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
