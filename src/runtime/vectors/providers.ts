/**
 * The embedder of each provider kind, and the one function the engine and `search` call to get one.
 *
 * A provider's entry receives its settings (config.ts `ProviderConfig`) and the model to embed with,
 * already resolved: `name` is the provider's model (Bedrock model id, Vertex AI model, Azure OpenAI
 * deployment: `config.models[declared]` or the declared name) and `dimension` the declared dimension,
 * which it asks the provider for. It returns an `Embedder` whose `model` is exactly that model. Cloud
 * entries import their SDK lazily (`await import(...)`), so a function bundles and loads only its own.
 * The engine batches (`batchSize` texts per `embed()`) and bounds the calls in flight
 * (`embedConcurrency`); retries on throttling and splitting a call to the provider's request limits
 * belong to the provider's client.
 */
import { TributaryError } from "../../kit/errors.ts";
import {
  type EffectiveModel,
  effectiveModel,
  modelTag,
  type ProviderConfig,
  type ProviderKind,
  type VectorsConfig,
} from "./config.ts";
import type { Embedder, EmbeddingModel } from "./embedder.ts";
import { HashingEmbedder } from "./hashing.ts";

export type ProviderFactory<K extends ProviderKind> = (
  provider: Extract<ProviderConfig, { kind: K }>,
  model: EmbeddingModel,
) => Promise<Embedder>;

/** The providers this build has; the cloud ones are added beside `local` by their clients. */
export const PROVIDERS: { readonly [K in ProviderKind]?: ProviderFactory<K> } = {
  local: async (_provider, model) => new HashingEmbedder(model.dimension),
  // The cloud providers' clients load their SDK only when chosen (providers/index.ts).
  bedrock: async (provider, model) => (await import("./providers/index.ts")).cloudEmbedderOf(provider, model),
  vertex: async (provider, model) => (await import("./providers/index.ts")).cloudEmbedderOf(provider, model),
  "azure-openai": async (provider, model) =>
    (await import("./providers/index.ts")).cloudEmbedderOf(provider, model),
};

export class EmbedderError extends TributaryError {
  override name = "EmbedderError";
}

/** An embedder, with the model it embeds with (as vector tables record it). */
export interface ResolvedEmbedder {
  readonly embedder: Embedder;
  readonly model: EffectiveModel;
}

/** The embedder `config` gives for a declared model; `what` names who asks, for errors. */
export async function createEmbedder(
  declared: EmbeddingModel,
  config: VectorsConfig,
  what: string,
): Promise<ResolvedEmbedder> {
  return embedderOf(effectiveModel(declared, config), config, what);
}

/**
 * The embedder of a model as it embeds (a vector table records it): its provider must be the one
 * `config` sets up, whose settings (region, endpoint…) it gets.
 */
export async function embedderOf(
  model: EffectiveModel,
  config: VectorsConfig,
  what: string,
): Promise<ResolvedEmbedder> {
  if (model.provider !== config.provider.kind) {
    throw new EmbedderError(
      `${what}: the vectors were embedded by ${modelTag(model)}, but the configured provider is "${config.provider.kind}" ($TRIBUTARY_VECTORS): use the configuration that materialised them.`,
    );
  }
  const factory = PROVIDERS[config.provider.kind] as ProviderFactory<ProviderKind> | undefined;
  if (factory === undefined) {
    const have = Object.keys(PROVIDERS).join(", ");
    throw new EmbedderError(
      `${what}: the embedding provider "${config.provider.kind}" is not available in this build (it has ${have}).`,
    );
  }
  const embedder = await factory(config.provider, { name: model.name, dimension: model.dimension });
  if (embedder.model.name !== model.name || embedder.model.dimension !== model.dimension) {
    throw new EmbedderError(
      `${what}: the "${config.provider.kind}" provider gave an embedder of ${embedder.model.name}/${embedder.model.dimension}, not ${modelTag(model)}.`,
    );
  }
  return { embedder, model };
}
