/**
 * The cloud embedding models a stack may choose (`tributary:embedding`), what each provider documents as
 * its limits: infra checks a stack's choice against it, the runtime's providers batch by it. Pure data:
 * no SDK, no engine.
 *
 * A function calls the provider of its own cloud, with its own identity (Lambda role, service account,
 * managed identity): Bedrock on AWS, Vertex AI on GCP, Azure OpenAI on Azure. No key is ever configured.
 */
export const EMBEDDING_PROVIDERS = ["bedrock", "vertex", "azure-openai"] as const;
export type EmbeddingProvider = (typeof EMBEDDING_PROVIDERS)[number];

/** The cloud whose functions may call each provider. */
export const PROVIDER_CLOUD = { bedrock: "aws", vertex: "gcp", "azure-openai": "azure" } as const;

/**
 * One model's documented limits. A request holds at most `maxTexts` texts and, where documented, at most
 * `maxTokensPerRequest` tokens (estimated before sending: see runtime/vectors/providers/batches.ts); one
 * text at most `maxCharsPerText` characters where the provider counts characters.
 */
export interface ModelLimits {
  readonly maxTexts: number;
  readonly maxTokensPerRequest?: number;
  readonly maxTokensPerText: number;
  readonly maxCharsPerText?: number;
  /** The dimensions the model can return: a list, or every size from 1 up to `max`. */
  readonly dimensions: readonly number[] | { readonly max: number };
  /** Whether the request names the dimension (else the model always returns its one size). */
  readonly settable: boolean;
}

/**
 * The models Tributary knows the request shape and limits of, by provider and model id (Azure OpenAI:
 * the model a deployment serves). Sources: the Bedrock user guide (Titan Text Embeddings V2: one text,
 * 8,192 tokens or 50,000 characters, 256/512/1,024 dimensions; Cohere Embed v3: 96 texts of at most
 * 2,048 characters, 1,024 dimensions), the Vertex AI text embeddings reference (250 texts and 20,000
 * tokens a request, 2,048 tokens a text; gemini-embedding-001 one text a request, up to 3,072
 * dimensions), and Azure OpenAI's embeddings guide (2,048 inputs, whose tokens together stay within
 * 8,192).
 */
export const EMBEDDING_MODELS: {
  readonly [P in EmbeddingProvider]: Readonly<Record<string, ModelLimits>>;
} = {
  bedrock: {
    "amazon.titan-embed-text-v2:0": {
      maxTexts: 1,
      maxTokensPerText: 8192,
      maxCharsPerText: 50_000,
      dimensions: [256, 512, 1024],
      settable: true,
    },
    "cohere.embed-english-v3": {
      maxTexts: 96,
      maxTokensPerText: 512,
      maxCharsPerText: 2048,
      dimensions: [1024],
      settable: false,
    },
    "cohere.embed-multilingual-v3": {
      maxTexts: 96,
      maxTokensPerText: 512,
      maxCharsPerText: 2048,
      dimensions: [1024],
      settable: false,
    },
  },
  vertex: {
    "text-embedding-005": {
      maxTexts: 250,
      maxTokensPerRequest: 20_000,
      maxTokensPerText: 2048,
      dimensions: { max: 768 },
      settable: true,
    },
    "text-multilingual-embedding-002": {
      maxTexts: 250,
      maxTokensPerRequest: 20_000,
      maxTokensPerText: 2048,
      dimensions: { max: 768 },
      settable: true,
    },
    "gemini-embedding-001": {
      maxTexts: 1,
      maxTokensPerText: 2048,
      dimensions: { max: 3072 },
      settable: true,
    },
  },
  "azure-openai": {
    "text-embedding-3-small": {
      maxTexts: 2048,
      maxTokensPerRequest: 8192,
      maxTokensPerText: 8192,
      dimensions: { max: 1536 },
      settable: true,
    },
    "text-embedding-3-large": {
      maxTexts: 2048,
      maxTokensPerRequest: 8192,
      maxTokensPerText: 8192,
      dimensions: { max: 3072 },
      settable: true,
    },
    "text-embedding-ada-002": {
      maxTexts: 2048,
      maxTokensPerRequest: 8192,
      maxTokensPerText: 8192,
      dimensions: [1536],
      settable: false,
    },
  },
};

/** The Azure OpenAI data-plane API version the functions call (generally available). */
export const AZURE_OPENAI_API_VERSION = "2024-10-21";

/** The dimensions a model can return, in words: "256, 512 or 1024", "1 to 768". */
export function describeDimensions(limits: ModelLimits): string {
  const d = limits.dimensions;
  if ("max" in d) return `1 to ${d.max}`;
  return d.length === 1 ? String(d[0]) : `${d.slice(0, -1).join(", ")} or ${d.at(-1)}`;
}

/** Whether `dimension` is one the model can return. */
export function dimensionFits(limits: ModelLimits, dimension: number): boolean {
  const d = limits.dimensions;
  return "max" in d ? dimension >= 1 && dimension <= d.max : d.includes(dimension);
}

/**
 * Why a provider, model and dimension cannot be used, or undefined when they can: an unknown model
 * (with the known ones), or a dimension the model does not return.
 */
export function modelProblem(
  provider: EmbeddingProvider,
  model: string,
  dimension: number,
): string | undefined {
  const known = EMBEDDING_MODELS[provider];
  const limits = known[model];
  if (!limits) {
    return `"${model}" is not a ${provider} embedding model Tributary knows the limits of: use one of ${Object.keys(known).join(", ")}`;
  }
  if (!dimensionFits(limits, dimension)) {
    return `${model} returns vectors of ${describeDimensions(limits)} numbers, not ${dimension}`;
  }
  return undefined;
}
