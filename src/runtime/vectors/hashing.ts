/**
 * The local deterministic embedder, `tributary-hashing-v1`: feature hashing of a text's tokens.
 *
 * A text is lower-cased (NFKC) and cut into tokens: runs of letters and digits, a number keeping its
 * decimal point ("12.50"). Each token and each pair of neighbouring tokens is a feature; a feature's
 * 32-bit hash picks a coordinate (hash mod dimension) and a sign (its top bit, after a second mix), and
 * adds ±1 there. The vector is then scaled to length 1 (L2), so cosine distance compares texts by the
 * tokens and token pairs they share. A text with no token gets the vector of the one feature "".
 *
 * It needs no network and no model file and gives the same vector for the same text on every machine,
 * which makes it the embedder of local runs and tests. It is NOT a semantic model: "cheap" and
 * "inexpensive" share nothing. The algorithm is fixed for this name; a change is a new name.
 */
import { HASHING_MODEL } from "./config.ts";
import type { Embedder, EmbeddingModel } from "./embedder.ts";

/** Letters and digits; a number keeps its decimal separator ("12.50", "3,5"). */
const TOKEN = /\p{N}+(?:[.,]\p{N}+)*|[\p{L}\p{N}]+/gu;

/** FNV-1a over the UTF-16 code units of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's finaliser: spreads every input bit over the output. */
function fmix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Write the embedding of `text` into `out[at .. at + dim)` (which must be zeros). */
export function hashInto(text: string, out: Float32Array, at: number, dim: number): void {
  const tokens = text.normalize("NFKC").toLowerCase().match(TOKEN);
  const add = (h: number) => {
    const m = fmix(h);
    out[at + (h % dim)]! += m & 0x80000000 ? -1 : 1;
  };
  if (tokens === null) {
    add(fnv1a(""));
  } else {
    let previous = -1;
    for (const t of tokens) {
      const h = fnv1a(t);
      add(h);
      // The pair (previous, this): a hash of the two hashes, order-sensitive.
      if (previous >= 0) add(fmix((Math.imul(previous, 0x9e3779b1) ^ h) >>> 0));
      previous = h;
    }
  }
  let sum = 0;
  for (let j = at; j < at + dim; j++) sum += out[j]! * out[j]!;
  // A non-empty feature set never cancels to zero everywhere unless features collide with opposite
  // signs; then the vector stays zero and its distance to everything is the same.
  if (sum > 0) {
    const k = 1 / Math.sqrt(sum);
    for (let j = at; j < at + dim; j++) out[j]! *= k;
  }
}

/** The feature-hashing embedder at a given dimension. */
export class HashingEmbedder implements Embedder {
  readonly model: EmbeddingModel;
  readonly semantic = false;

  constructor(dimension: number) {
    if (!Number.isInteger(dimension) || dimension < 2) {
      throw new RangeError(`${HASHING_MODEL}: the dimension must be a whole number of at least 2.`);
    }
    this.model = Object.freeze({ name: HASHING_MODEL, dimension });
  }

  /** One vector per text, each a view into one buffer for the whole batch. */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return this.embedSync(texts);
  }

  embedSync(texts: readonly string[]): Float32Array[] {
    const dim = this.model.dimension;
    const buffer = new Float32Array(texts.length * dim);
    const out: Float32Array[] = new Array(texts.length);
    for (let i = 0; i < texts.length; i++) {
      hashInto(texts[i]!, buffer, i * dim, dim);
      out[i] = buffer.subarray(i * dim, (i + 1) * dim);
    }
    return out;
  }
}
