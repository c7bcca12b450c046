/**
 * Azure OpenAI: the embeddings operation of the stack's deployment
 * (`POST <endpoint>/openai/deployments/<deployment>/embeddings?api-version=…`) through the `openai`
 * package's `AzureOpenAI` client, which Microsoft recommends over the retired `@azure/openai` client,
 * authorised with a Microsoft Entra token of the function's managed identity (`getBearerTokenProvider`
 * of `@azure/identity`, scope `https://cognitiveservices.azure.com/.default`): the account has local
 * (key) authentication disabled.
 *
 * A request holds up to 2,048 inputs whose tokens together stay within 8,192, asks for float vectors
 * (`encoding_format: "float"`) and, for the text-embedding-3 models, for the configured `dimensions`.
 */
import { DefaultAzureCredential, getBearerTokenProvider, type TokenCredential } from "@azure/identity";
import { AzureOpenAI } from "openai";
import { EMBEDDING_MODELS } from "../../../contract/embedding.ts";
import { codesOf, statusOf } from "../../storage/retry.ts";
import type { Embedder } from "../embedder.ts";
import {
  type CloudEmbeddingConfig,
  type EmbedderHooks,
  type EmbeddingPurpose,
  providerEmbedder,
  said,
} from "./embedder.ts";

type AzureConfig = Extract<CloudEmbeddingConfig, { provider: "azure-openai" }>;

/** The scope of a Microsoft Entra token for Azure OpenAI. */
export const COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default";

export function azureOpenAIRequest(
  config: Pick<AzureConfig, "model" | "dimension" | "deployment">,
  texts: readonly string[],
): { model: string; input: string[]; encoding_format: "float"; dimensions?: number } {
  const settable = EMBEDDING_MODELS["azure-openai"][config.model]?.settable ?? false;
  return {
    model: config.deployment,
    input: [...texts],
    encoding_format: "float",
    ...(settable ? { dimensions: config.dimension } : {}),
  };
}

export function azureOpenAIEmbedder(
  config: AzureConfig,
  options: {
    /** Azure OpenAI's embedding models embed queries and documents alike. */
    readonly purpose?: EmbeddingPurpose;
    readonly credential?: TokenCredential;
    /** A client to use instead (e.g. one whose `fetch` goes to a test server). */
    readonly client?: AzureOpenAI;
    readonly hooks?: EmbedderHooks;
  } = {},
): Embedder {
  const client =
    options.client ??
    new AzureOpenAI({
      endpoint: config.endpoint,
      deployment: config.deployment,
      apiVersion: config.apiVersion,
      azureADTokenProvider: getBearerTokenProvider(
        options.credential ?? new DefaultAzureCredential(),
        COGNITIVE_SERVICES_SCOPE,
      ),
      maxRetries: 0,
    });
  return providerEmbedder(
    config,
    async (texts) => {
      const res = await client.embeddings.create(azureOpenAIRequest(config, texts));
      return [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
    },
    {
      where: `azure-openai deployment ${config.deployment} (${config.model}) at ${config.endpoint}`,
      missingHint: "Deploy the stack again (pulumi up): it creates the deployment the function calls.",
      missingModel: (e) => statusOf(e) === 404 || codesOf(e).includes("DeploymentNotFound"),
      tooLong: (e) => statusOf(e) === 400 && /token|context length/i.test(said(e)),
    },
    options.hooks,
  );
}
