import { STATUS_CODES } from "node:http";
import { StorageError } from "../../contract/storage-layout.ts";

/**
 * Retries of the cloud adapters (S3Store, GcsStore, AzureBlobStore), and who retries what.
 *
 * Two layers, never both on the same request, so attempts never multiply (three SDK tries inside
 * four of ours would be twelve requests and minutes of waiting during an outage):
 *
 * - This module retries whole operations whose input can be sent again: get, read (until the stream
 *   is handed over), head, each page of list, delete, and put of a string or Uint8Array. Each adapter
 *   makes these calls on a client whose own retries are off (S3 `maxAttempts: 1`, GCS
 *   `autoRetry: false`, Azure `maxTries: 1`), so the attempts a server sees are exactly ours.
 * - The SDK retries the requests of a streamed put (S3 multipart parts through lib-storage, GCS
 *   resumable-upload chunks, Azure staged blocks): the caller's stream is consumed as it is sent and
 *   cannot be replayed, and only the SDK still holds the part it buffered. So a streamed put is never
 *   retried here, and each adapter sends it through a second client with `SDK_STREAM_ATTEMPTS` tries.
 *   (Azure's download also resumes a body cut mid-way with a new ranged request pinned to the ETag:
 *   that is not a retry of a failed request, and the other SDKs have nothing like it.)
 *
 * Retried: throttling (429, S3 SlowDown, Azure ServerBusy, GCS rateLimitExceeded), 408 and 5xx, S3's
 * 409 ConditionalRequestConflict (a concurrent conditional write in flight), and transient network
 * errors (connection reset or refused, time-outs, DNS try-again). Never retried: any other 4xx, which
 * the same request would get again. Waits grow exponentially with "full jitter": before retry n the
 * wait is uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))), so writers that failed together do
 * not come back together.
 *
 * One ambiguity no layer can remove: when a conditional create (`ifAbsent`) succeeded but its response
 * was lost, the retry finds the object it wrote itself and reports false. A caller that takes a lock
 * with `ifAbsent` should write its own identity into the object, so that it can read it back to tell.
 *
 * What else the three adapters share (their prefix, option checks, list order, streamed bodies as
 * Buffers) is in cloud.ts.
 */
export interface RetryPolicy {
  /** Attempts in all, the first one included (1 = no retry). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Tries per request that each SDK makes for the parts of a streamed put (see above). */
export const SDK_STREAM_ATTEMPTS = 4;

export interface RetryHooks {
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1), like Math.random. */
  readonly random?: () => number;
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** The wait before retry number `retry` (1 = the first retry), given a draw in [0, 1). */
export function backoffDelay(policy: RetryPolicy, retry: number, draw: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(draw * ceiling);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Run `fn`, again after a back-off while it fails with a transient error, at most `policy.attempts` times. */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  hooks: RetryHooks = {},
): Promise<T> {
  if (!Number.isInteger(policy.attempts) || policy.attempts < 1) {
    throw new StorageError(`storage: retry attempts must be a whole number >= 1, not ${policy.attempts}.`);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error)) throw error;
      const delayMs = backoffDelay(policy, attempt, (hooks.random ?? Math.random)());
      hooks.onRetry?.({ attempt, delayMs, error });
      await (hooks.sleep ?? sleep)(delayMs);
    }
  }
}

type Loose = Record<string, unknown>;

const asObject = (e: unknown): Loose | undefined =>
  typeof e === "object" && e !== null ? (e as Loose) : undefined;

/** The HTTP status of a failed call, whichever SDK threw it. */
export function statusOf(error: unknown): number | undefined {
  const e = asObject(error);
  if (!e) return undefined;
  const metadata = asObject(e["$metadata"]); // AWS SDK v3
  if (typeof metadata?.["httpStatusCode"] === "number") return metadata["httpStatusCode"];
  if (typeof e["statusCode"] === "number") return e["statusCode"]; // Azure RestError
  if (typeof e["code"] === "number") return e["code"]; // GCS ApiError, resumable upload errors
  if (typeof e["status"] === "number") return e["status"];
  const response = asObject(e["response"]); // gaxios
  if (typeof response?.["status"] === "number") return response["status"];
  return undefined;
}

/** Every error code a failed call carries: SDK names, service codes, GCS reasons, Node's errno codes. */
export function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let e = asObject(error);
  for (let depth = 0; e && depth < 3; depth++) {
    for (const field of ["name", "code", "Code"]) {
      const v = e[field];
      if (typeof v === "string") codes.push(v);
    }
    const details = asObject(e["details"]); // Azure: x-ms-error-code
    if (typeof details?.["errorCode"] === "string") codes.push(details["errorCode"]);
    if (Array.isArray(e["errors"])) {
      for (const item of e["errors"]) {
        const reason = asObject(item)?.["reason"]; // GCS
        if (typeof reason === "string") codes.push(reason);
      }
    }
    e = asObject(e["cause"]);
  }
  return codes;
}

const TRANSIENT_CODES = new Set([
  // network (Node, undici, Azure's REQUEST_SEND_ERROR for any failure to send)
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "REQUEST_SEND_ERROR",
  "TimeoutError",
  // throttling and server-side trouble, named by the services
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "ServerBusy",
  "OperationTimedOut",
  "InternalServerError",
  "rateLimitExceeded",
  "userRateLimitExceeded",
  "backendError",
  "ConditionalRequestConflict",
]);

/** Whether the same call may well succeed if made again a little later. */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined && (status === 408 || status === 429 || status >= 500)) return true;
  return codesOf(error).some((c) => TRANSIENT_CODES.has(c));
}

/**
 * The StorageError for a call that failed for good: what was being done, where, what the service said,
 * and what to do when the cause is on the caller's side (credentials, grants, a missing bucket).
 */
export function storageFailure(what: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  const status = statusOf(error);
  // Names that say nothing (an SDK's generic class, or what it calls an error with no body, as HEAD
  // responses are) give way to the HTTP status.
  const generic = new Set(["Error", "RestError", "ApiError", "Unknown", "UnknownError", ""]);
  const codes = codesOf(error).filter((c) => !generic.has(c));
  const said = error instanceof Error ? error.message.split("\n")[0]!.trim() : String(error);
  const text =
    (generic.has(said)
      ? status !== undefined
        ? STATUS_CODES[status]
        : undefined
      : said.replace(/\.+$/, "")) ?? "no message";
  const tag = [status, codes[0]].filter((x) => x !== undefined).join(" ");
  let hint = "";
  if (status === 401 || status === 403) {
    hint = " Check the credentials in the environment and that this identity is granted access there.";
  } else if (codes.some((c) => c === "NoSuchBucket" || c === "ContainerNotFound")) {
    hint = " The bucket or container does not exist: create it or fix the store URI.";
  } else if (isTransient(error)) {
    hint = " The service or network is failing for now: try again later.";
  } else if (codes.some((c) => c === "CredentialsProviderError" || c === "CredentialUnavailableError")) {
    hint = " No credentials were found in the environment.";
  }
  const failure = new StorageError(`storage: ${what} failed${tag ? ` (${tag})` : ""}: ${text}.${hint}`);
  failure.cause = error;
  return failure;
}
