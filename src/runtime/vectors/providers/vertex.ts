/**
 * Vertex AI: the text embeddings `predict` method of the Google publisher model, over the documented REST
 * endpoint (`https://<location>-aiplatform.googleapis.com/v1/projects/<project>/locations/<location>/
 * publishers/google/models/<model>:predict`), authorised by google-auth-library with the function's
 * service account (Application Default Credentials). The lighter of the two official paths: the
 * `@google-cloud/aiplatform` client would add every Vertex AI service's generated protos to each bundle
 * for this one method.
 *
 * A request holds up to 250 instances `{ content, task_type }` (RETRIEVAL_DOCUMENT or RETRIEVAL_QUERY)
 * and `parameters: { autoTruncate: false, outputDimensionality }`: a text over the model's 2,048 tokens is
 * an error, never silently cut. The answer: `predictions[i].embeddings.values`.
 */
import { GoogleAuth } from "google-auth-library";
import { statusOf } from "../../storage/retry.ts";
import type { Embedder } from "../embedder.ts";
import {
  type CloudEmbeddingConfig,
  type EmbedderHooks,
  type EmbeddingPurpose,
  providerEmbedder,
  said,
} from "./embedder.ts";
import { EmbeddingError } from "./errors.ts";

type VertexConfig = Extract<CloudEmbeddingConfig, { provider: "vertex" }>;

/** What google-auth-library's clients offer: an authorised request. */
export interface AuthorisedRequester {
  request<T>(opts: { url: string; method: "POST"; data: unknown; retry: boolean }): Promise<{ data: T }>;
}

/** The predict endpoint of the model in `project` (`apiEndpoint` replaces the regional host, e.g. in tests). */
export function vertexPredictUrl(
  config: VertexConfig & { readonly project: string },
  apiEndpoint?: string,
): string {
  const host =
    apiEndpoint ??
    (config.location === "global"
      ? "https://aiplatform.googleapis.com"
      : `https://${config.location}-aiplatform.googleapis.com`);
  return `${host}/v1/projects/${config.project}/locations/${config.location}/publishers/google/models/${config.model}:predict`;
}

export function vertexRequest(
  config: Pick<VertexConfig, "dimension">,
  texts: readonly string[],
  purpose: EmbeddingPurpose,
): Record<string, unknown> {
  const task_type = purpose === "query" ? "RETRIEVAL_QUERY" : "RETRIEVAL_DOCUMENT";
  return {
    instances: texts.map((content) => ({ content, task_type })),
    parameters: { autoTruncate: false, outputDimensionality: config.dimension },
  };
}

export function vertexVectors(model: string, body: unknown): number[][] {
  const predictions = (body as { predictions?: unknown })?.predictions;
  if (Array.isArray(predictions)) {
    const out = predictions.map((p) => (p as { embeddings?: { values?: unknown } })?.embeddings?.values);
    if (out.every(Array.isArray)) return out as number[][];
  }
  throw new EmbeddingError(
    `embedding: vertex ${model} answered without embeddings: ${JSON.stringify(body).slice(0, 200)}.`,
  );
}

export function vertexEmbedder(
  config: VertexConfig,
  options: {
    readonly purpose?: EmbeddingPurpose;
    /** An authorised client (default: Application Default Credentials, scope cloud-platform). */
    readonly auth?: AuthorisedRequester;
    readonly apiEndpoint?: string;
    readonly hooks?: EmbedderHooks;
  } = {},
): Embedder {
  const google = new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
  let auth: Promise<AuthorisedRequester> | undefined = options.auth
    ? Promise.resolve(options.auth)
    : undefined;
  const client = () => (auth ??= google.getClient() as Promise<AuthorisedRequester>);
  const given = config.project ?? process.env.GOOGLE_CLOUD_PROJECT;
  let url: Promise<string> | undefined;
  const endpoint = () =>
    (url ??= (given ? Promise.resolve(given) : google.getProjectId()).then((project) =>
      vertexPredictUrl({ ...config, project }, options.apiEndpoint),
    ));
  const purpose = options.purpose ?? "document";
  return providerEmbedder(
    config,
    async (texts) => {
      const res = await (await client()).request<unknown>({
        url: await endpoint(),
        method: "POST",
        data: vertexRequest(config, texts, purpose),
        retry: false,
      });
      return vertexVectors(config.model, res.data);
    },
    {
      where: `vertex ${config.model} in ${given ?? "the function's project"}/${config.location}`,
      missingHint: `Enable the Vertex AI API (aiplatform.googleapis.com) in ${given ?? "the project"}, and choose a model served in ${config.location} in tributary:embedding.models.`,
      missingModel: (e) => statusOf(e) === 404,
      tooLong: (e) => statusOf(e) === 400 && /token/i.test(said(e)),
    },
    options.hooks,
  );
}
