/**
 * What every cloud embedder shares: texts cut into requests the model accepts (batches.ts), at most
 * `concurrency` requests in flight per embedder (the function's backpressure on the provider's quota),
 * throttled and failed requests retried with exponential back-off and full jitter, a `Retry-After` the
 * provider sends honoured, a request the provider finds too long split in two, and every answer checked:
 * one vector per text, each of the configured dimension.
 *
 * The SDKs' own retries are off (AWS `maxAttempts: 1`, openai `maxRetries: 0`, gaxios `retry: false`),
 * so the attempts a provider sees are exactly these, as in runtime/storage/retry.ts.
 */
import pLimit from "p-limit";
import { EMBEDDING_MODELS, type ModelLimits } from "../../../contract/embedding.ts";
import { backoffDelay, codesOf, isTransient, type RetryPolicy, statusOf } from "../../storage/retry.ts";
import type { Embedder } from "../embedder.ts";
import { batches } from "./batches.ts";
import { EmbeddingError, retryAfterMs } from "./errors.ts";

/**
 * One cloud model as an embedder calls it: the provider, the provider's model id (Azure OpenAI: the
 * model the stack's deployment of the same name serves), the dimension asked for, where to call it, and
 * how many requests may be in flight at once.
 */
export type CloudEmbeddingConfig = {
  readonly model: string;
  /** The length of every vector (the request asks for it where the model can choose). */
  readonly dimension: number;
  /** Requests in flight at once through this embedder: the function's backpressure on the quota. */
  readonly concurrency: number;
} & (
  | { readonly provider: "bedrock"; readonly region: string }
  | {
      readonly provider: "vertex";
      /** Default: GOOGLE_CLOUD_PROJECT, else the project Application Default Credentials belong to. */
      readonly project?: string;
      readonly location: string;
    }
  | {
      readonly provider: "azure-openai";
      /** The account's endpoint, `https://<custom subdomain>.openai.azure.com/`. */
      readonly endpoint: string;
      readonly deployment: string;
      readonly apiVersion: string;
    }
);

/** What the texts are for: stored documents, or a search's query (models that tell them apart are told). */
export type EmbeddingPurpose = "document" | "query";

export interface EmbeddingRetry extends RetryPolicy {
  /** The longest `Retry-After` waited for; a longer one fails the call (the quota is exhausted for now). */
  readonly maxRetryAfterMs: number;
}

/** Six attempts, waits growing from up to 0.5 s to at most 20 s: about a minute of throttling ridden out. */
export const EMBEDDING_RETRY: EmbeddingRetry = {
  attempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
};

export interface EmbedderHooks {
  readonly retry?: EmbeddingRetry;
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1), like Math.random. */
  readonly random?: () => number;
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** One provider's request: the texts of one batch in, one vector per text out (in order). */
export type SendBatch = (texts: readonly string[]) => Promise<number[][]>;

/** How a provider names its failures: the model's absence, and a request over its token limit. */
export interface ProviderFailures {
  /** Whether the error says the model (or deployment) does not exist or is not enabled. */
  readonly missingModel: (error: unknown) => boolean;
  /** Whether the error says the request's texts have too many tokens. */
  readonly tooLong: (error: unknown) => boolean;
  /** Where the model is, for messages: "bedrock amazon.titan-embed-text-v2:0 in eu-west-1". */
  readonly where: string;
  /** What to do when the model is missing. */
  readonly missingHint: string;
}

const THROTTLED = new Set(["ThrottlingException", "ModelNotReadyException", "RESOURCE_EXHAUSTED", "429"]);

/** Whether a failed call was throttled or failed on the provider's side, and may succeed later. */
export function isRetryable(error: unknown): boolean {
  if (isTransient(error)) return true;
  return codesOf(error).some((c) => THROTTLED.has(c)) || statusCodeOf(error) === "RESOURCE_EXHAUSTED";
}

/** Google's JSON error status (`error.status` in the body gaxios parsed), when there is one. */
function statusCodeOf(error: unknown): string | undefined {
  const e = error as { response?: { data?: { error?: { status?: unknown } } } } | undefined;
  const s = e?.response?.data?.error?.status;
  return typeof s === "string" ? s : undefined;
}

/** What a provider said, on one line. */
export function said(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.trim().replace(/\.+$/, "");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The embedder of `config` whose requests `send` makes. */
export function providerEmbedder(
  config: CloudEmbeddingConfig,
  send: SendBatch,
  failures: ProviderFailures,
  hooks: EmbedderHooks = {},
): Embedder {
  const limits: ModelLimits | undefined = EMBEDDING_MODELS[config.provider][config.model];
  if (!limits) {
    throw new EmbeddingError(
      `embedding: "${config.model}" is not a ${config.provider} model Tributary knows the limits of: use one of ${Object.keys(EMBEDDING_MODELS[config.provider]).join(", ")}.`,
    );
  }
  if (!Number.isInteger(config.concurrency) || config.concurrency < 1) {
    throw new EmbeddingError(
      `embedding: concurrency must be a whole number >= 1, not ${config.concurrency}.`,
    );
  }
  const policy = hooks.retry ?? EMBEDDING_RETRY;
  const limit = pLimit(config.concurrency);

  const attempt = async (texts: readonly string[]): Promise<number[][]> => {
    for (let n = 1; ; n++) {
      try {
        return await send(texts);
      } catch (error) {
        if (failures.missingModel(error)) {
          throw wrap(
            `embedding: ${failures.where} does not exist or is not enabled (${said(error)}). ${failures.missingHint}`,
            error,
          );
        }
        if (!isRetryable(error)) throw error;
        const asked = retryAfterMs(error);
        if (asked !== undefined && asked > policy.maxRetryAfterMs) {
          throw wrap(
            `embedding: ${failures.where} is throttled and asks to wait ${Math.ceil(asked / 1000)} s, longer than ${policy.maxRetryAfterMs / 1000} s: raise the model's quota or lower tributary:embedding.concurrency.`,
            error,
          );
        }
        if (n >= policy.attempts) {
          throw wrap(
            `embedding: ${failures.where} still failed after ${n} attempts (${[statusOf(error), codesOf(error)[0]].filter((x) => x !== undefined).join(" ")}: ${said(error)}): raise the model's quota or lower tributary:embedding.concurrency, then run again.`,
            error,
          );
        }
        const delayMs = asked ?? backoffDelay(policy, n, (hooks.random ?? Math.random)());
        hooks.onRetry?.({ attempt: n, delayMs, error });
        await (hooks.sleep ?? sleep)(delayMs);
      }
    }
  };

  /** One batch, split in two while the provider finds it too long; vectors in the batch's order. */
  const embedBatch = async (texts: readonly string[], first: number): Promise<number[][]> => {
    try {
      return checked(await attempt(texts), texts.length, first);
    } catch (error) {
      if (texts.length > 1 && failures.tooLong(error)) {
        // One half after the other: the halves hold the batch's one place among those in flight.
        const half = Math.ceil(texts.length / 2);
        const a = await embedBatch(texts.slice(0, half), first);
        const b = await embedBatch(texts.slice(half), first + half);
        return [...a, ...b];
      }
      if (error instanceof EmbeddingError) throw error;
      const which = texts.length === 1 ? `text ${first}` : `texts ${first} to ${first + texts.length - 1}`;
      throw wrap(`embedding: ${failures.where} refused ${which}: ${said(error)}.`, error);
    }
  };

  const checked = (vectors: number[][], count: number, first: number): number[][] => {
    if (vectors.length !== count) {
      throw new EmbeddingError(
        `embedding: ${failures.where} returned ${vectors.length} vectors for ${count} texts (from text ${first}).`,
      );
    }
    for (const v of vectors) {
      if (v.length !== config.dimension) {
        throw new EmbeddingError(
          `embedding: ${failures.where} returned vectors of ${v.length} numbers, but the stack configures dimension ${config.dimension}: set tributary:embedding.dimension to what the model returns.`,
        );
      }
    }
    return vectors;
  };

  return {
    model: { name: config.model, dimension: config.dimension },
    semantic: true,
    async embed(texts) {
      if (texts.length === 0) return [];
      const parts = batches(texts, limits, config.model);
      const answers = await Promise.all(
        parts.map((indices) =>
          limit(() =>
            embedBatch(
              indices.map((i) => texts[i]!),
              indices[0]!,
            ),
          ),
        ),
      );
      return answers.flat().map((v) => Float32Array.from(v));
    },
  };
}

function wrap(message: string, cause: unknown): EmbeddingError {
  const e = new EmbeddingError(message);
  e.cause = cause;
  return e;
}
