/**
 * The cloud embedder a configuration names: Bedrock, Vertex AI or Azure OpenAI, each loaded only when
 * chosen (each SDK is heavy, and a function needs only its own cloud's).
 */
import type { Embedder } from "../embedder.ts";
import type { CloudEmbeddingConfig, EmbedderHooks, EmbeddingPurpose } from "./embedder.ts";

export type { CloudEmbeddingConfig, EmbeddingPurpose } from "./embedder.ts";
export { EmbeddingError } from "./errors.ts";

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
