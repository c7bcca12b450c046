/**
 * Cutting a list of texts into requests a model accepts: at most its documented number of texts, and
 * where it documents a token budget per request, texts whose estimated tokens fit in it. A text longer
 * than the model takes is refused before anything is sent, naming the text, so nothing is cut silently.
 */
import type { ModelLimits } from "../../../contract/embedding.ts";
import { EmbeddingError } from "./errors.ts";

/**
 * Tokens a text is likely to cost: a quarter of its UTF-8 bytes, rounded up, which is what the
 * providers' guides give for English ("about 4 characters a token"). Only an estimate: a request the
 * provider still finds too long is split in two and sent again (see embedder.ts).
 */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(text, "utf8") / 4));
}

/**
 * The requests for `texts`, as lists of their indices, in order. `model` names the model in messages.
 */
export function batches(texts: readonly string[], limits: ModelLimits, model: string): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  let tokens = 0;
  const budget = limits.maxTokensPerRequest ?? Number.POSITIVE_INFINITY;
  texts.forEach((text, i) => {
    if (text.length === 0) {
      throw new EmbeddingError(
        `embedding: text ${i} is empty; ${model} embeds no empty text: leave the row out or give it text.`,
      );
    }
    if (limits.maxCharsPerText !== undefined && text.length > limits.maxCharsPerText) {
      throw new EmbeddingError(
        `embedding: text ${i} has ${text.length} characters; ${model} takes at most ${limits.maxCharsPerText} a text: shorten the column it embeds (e.g. left(text, ${limits.maxCharsPerText}) in SQL).`,
      );
    }
    const cost = estimateTokens(text);
    if (current.length > 0 && (current.length >= limits.maxTexts || tokens + cost > budget)) {
      out.push(current);
      current = [];
      tokens = 0;
    }
    current.push(i);
    tokens += cost;
  });
  if (current.length > 0) out.push(current);
  return out;
}
