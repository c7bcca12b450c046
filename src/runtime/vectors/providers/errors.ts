/**
 * Errors of the cloud embedding providers: what a call was, what the provider said, and what to do.
 */
import { TributaryError } from "../../../kit/errors.ts";

/** An embedding call that failed for good, or a configuration the provider refuses. */
export class EmbeddingError extends TributaryError {
  override name = "EmbeddingError";
}

type Loose = Record<string, unknown>;
const asObject = (e: unknown): Loose | undefined =>
  typeof e === "object" && e !== null ? (e as Loose) : undefined;

/** A header of a failed call's response, whichever SDK threw it (AWS, openai, gaxios). */
export function headerOf(error: unknown, name: string): string | undefined {
  const e = asObject(error);
  if (!e) return undefined;
  const sources = [
    e["headers"], // openai APIError
    asObject(e["response"])?.["headers"], // gaxios
    asObject(e["$response"])?.["headers"], // AWS SDK v3
  ];
  for (const h of sources) {
    // A fetch Headers (possibly another realm's, so not `instanceof Headers`), or a plain object.
    if (typeof (h as Headers | undefined)?.get === "function") {
      const v = (h as Headers).get(name);
      if (v !== null && v !== undefined) return v;
    } else if (asObject(h)) {
      for (const [k, v] of Object.entries(h as Loose)) {
        if (k.toLowerCase() === name && typeof v === "string") return v;
      }
    }
  }
  return undefined;
}

/**
 * How long a throttled call's response asks the caller to wait, in milliseconds: `retry-after-ms`
 * (Azure OpenAI), else `retry-after` in seconds or as an HTTP date. Undefined when it says nothing.
 */
export function retryAfterMs(error: unknown, now: number = Date.now()): number | undefined {
  const ms = headerOf(error, "retry-after-ms");
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const after = headerOf(error, "retry-after")?.trim();
  if (after === undefined || after === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.ceil(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
