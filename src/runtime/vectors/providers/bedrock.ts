/**
 * Amazon Bedrock: `InvokeModel` with the function's role, one request body per model family, as the
 * Bedrock user guide documents them. Titan Text Embeddings V2 takes one text a call (`inputText`, with
 * `dimensions` and `normalize`) and answers `{ embedding, inputTextTokenCount }`; Cohere Embed v3 takes
 * up to 96 texts (`texts`, `input_type` search_document or search_query, `truncate: NONE`: nothing is
 * cut silently) and answers `{ embeddings, id, response_type: "embeddings_floats", texts }`.
 *
 * The client's endpoint comes from the standard environment (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`,
 * `AWS_ENDPOINT_URL`) like every AWS SDK client's.
 */
import { BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";
import { codesOf } from "../../storage/retry.ts";
import type { Embedder } from "../embedder.ts";
import {
  type CloudEmbeddingConfig,
  type EmbedderHooks,
  type EmbeddingPurpose,
  providerEmbedder,
  said,
} from "./embedder.ts";
import { EmbeddingError } from "./errors.ts";

type BedrockConfig = Extract<CloudEmbeddingConfig, { provider: "bedrock" }>;

/** The request body of one call for `texts`. */
export function bedrockRequest(
  config: Pick<BedrockConfig, "model" | "dimension">,
  texts: readonly string[],
  purpose: EmbeddingPurpose,
): Record<string, unknown> {
  if (config.model.startsWith("amazon.titan-embed-text-v2")) {
    return { inputText: texts[0], dimensions: config.dimension, normalize: true };
  }
  return {
    texts: [...texts],
    input_type: purpose === "query" ? "search_query" : "search_document",
    truncate: "NONE",
  };
}

/** The vectors of a response body. */
export function bedrockVectors(model: string, body: unknown): number[][] {
  const b = body as { embedding?: unknown; embeddings?: unknown };
  if (model.startsWith("amazon.titan-embed-text-v2")) {
    if (Array.isArray(b.embedding)) return [b.embedding as number[]];
  } else if (Array.isArray(b.embeddings)) {
    return b.embeddings as number[][];
  } else if (b.embeddings && typeof b.embeddings === "object" && "float" in b.embeddings) {
    // The by-type shape, when embedding_types is asked for.
    return (b.embeddings as { float: number[][] }).float;
  }
  throw new EmbeddingError(
    `embedding: bedrock ${model} answered without embeddings: ${JSON.stringify(body).slice(0, 200)}.`,
  );
}

export function bedrockEmbedder(
  config: BedrockConfig,
  options: {
    readonly purpose?: EmbeddingPurpose;
    readonly client?: BedrockRuntimeClient;
    readonly hooks?: EmbedderHooks;
  } = {},
): Embedder {
  const client = options.client ?? new BedrockRuntimeClient({ region: config.region, maxAttempts: 1 });
  const purpose = options.purpose ?? "document";
  const where = `bedrock ${config.model} in ${config.region}`;
  return providerEmbedder(
    config,
    async (texts) => {
      const out = await client.send(
        new InvokeModelCommand({
          modelId: config.model,
          contentType: "application/json",
          accept: "application/json",
          body: JSON.stringify(bedrockRequest(config, texts, purpose)),
        }),
      );
      return bedrockVectors(config.model, JSON.parse(Buffer.from(out.body).toString("utf8")));
    },
    {
      where,
      missingHint: `Enable the model under "Model access" in the Bedrock console of ${config.region}, or choose another in tributary:embedding.models.`,
      missingModel: (e) => {
        const codes = codesOf(e);
        if (codes.includes("ResourceNotFoundException")) return true;
        if (codes.includes("AccessDeniedException")) return /model/i.test(said(e));
        return codes.includes("ValidationException") && /model identifier is invalid/i.test(said(e));
      },
      tooLong: (e) => codesOf(e).includes("ValidationException") && /too long|token/i.test(said(e)),
    },
    options.hooks,
  );
}
