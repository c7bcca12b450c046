/**
 * The cloud embedders: Bedrock, Vertex AI and Azure OpenAI, each loaded only when chosen (each SDK is
 * heavy, and a function needs only its own cloud's). `cloudEmbedderOf` is what the provider table
 * (../providers.ts) calls with a vectors configuration's provider settings and the resolved model.
 */
import { AZURE_OPENAI_API_VERSION } from "../../../contract/embedding.ts";
import type { ProviderConfig } from "../config.ts";
import type { Embedder, EmbeddingModel } from "../embedder.ts";
import type { CloudEmbeddingConfig, EmbedderHooks, EmbeddingPurpose } from "./embedder.ts";
import { EmbeddingError } from "./errors.ts";

export type { CloudEmbeddingConfig, EmbeddingPurpose } from "./embedder.ts";
export { EmbeddingError } from "./errors.ts";

/** Requests in flight per function when the configuration says nothing. */
export const DEFAULT_CONCURRENCY = 4;

export interface CloudEmbedderOptions {
  readonly purpose?: EmbeddingPurpose;
  readonly hooks?: EmbedderHooks;
}

export async function cloudEmbedder(
  config: CloudEmbeddingConfig,
  options: CloudEmbedderOptions = {},
): Promise<Embedder> {
  switch (config.provider) {
    case "bedrock":
      return (await import("./bedrock.ts")).bedrockEmbedder(config, options);
    case "vertex":
      return (await import("./vertex.ts")).vertexEmbedder(config, options);
    case "azure-openai":
      return (await import("./azure-openai.ts")).azureOpenAIEmbedder(config, options);
  }
}

/**
 * What an embedder is made of for a vectors configuration's provider and `model` (the provider's model,
 * the declared dimension). Bedrock's region defaults to the function's (AWS_REGION); Vertex AI's project
 * to the function's own (found by Application Default Credentials); an Azure OpenAI deployment is the
 * stack's deployment named after the model, called with the generally available API version.
 */
export function cloudEmbeddingConfig(
  provider: Exclude<ProviderConfig, { kind: "local" }>,
  model: EmbeddingModel,
  env: NodeJS.ProcessEnv = process.env,
): CloudEmbeddingConfig {
  const common = {
    model: model.name,
    dimension: model.dimension,
    concurrency: provider.concurrency ?? DEFAULT_CONCURRENCY,
  };
  switch (provider.kind) {
    case "bedrock": {
      const region = provider.region ?? env.AWS_REGION;
      if (!region) {
        throw new EmbeddingError(
          "embedding: bedrock needs a region: set provider.region in $TRIBUTARY_VECTORS or AWS_REGION.",
        );
      }
      return { ...common, provider: "bedrock", region };
    }
    case "vertex":
      return {
        ...common,
        provider: "vertex",
        location: provider.location,
        ...(provider.project ? { project: provider.project } : {}),
      };
    case "azure-openai":
      return {
        ...common,
        provider: "azure-openai",
        endpoint: provider.endpoint,
        deployment: model.name,
        apiVersion: provider.apiVersion ?? AZURE_OPENAI_API_VERSION,
      };
  }
}

/** The cloud embedder of a vectors configuration's provider for `model` (see cloudEmbeddingConfig). */
export async function cloudEmbedderOf(
  provider: Exclude<ProviderConfig, { kind: "local" }>,
  model: EmbeddingModel,
  options: CloudEmbedderOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<Embedder> {
  return cloudEmbedder(cloudEmbeddingConfig(provider, model, env), options);
}
