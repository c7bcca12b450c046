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

/** MurmurHash3's finaliser: spreads every input bit over the output. */
function fmix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** ASCII classes: 1 letter, 2 digit, 0 anything else. */
const ASCII = new Uint8Array(128);
for (let c = 48; c <= 57; c++) ASCII[c] = 2;
for (let c = 65; c <= 90; c++) ASCII[c] = 1;
for (let c = 97; c <= 122; c++) ASCII[c] = 1;
const WORD = /[\p{L}\p{N}]/u;
const DIGIT = /\p{N}/u;

/** 1 letter, 2 digit, 0 other, for the code point `cp` (the text is already lower case). */
function classOf(cp: number): number {
  if (cp < 128) return ASCII[cp]!;
  const ch = String.fromCodePoint(cp);
  return DIGIT.test(ch) ? 2 : WORD.test(ch) ? 1 : 0;
}

/**
 * Write the embedding of `text` into `out[at .. at + dim)` (which must be zeros).
 *
 * Tokens are maximal runs of letters and digits of the lower-cased (NFKC) text, a "." or "," between two
 * digits included ("12.50" is one token). A token's hash is FNV-1a over its UTF-16 code units; a pair's
 * is fmix(previous × 0x9e3779b1 xor this). Each feature hash h adds ±1 at h mod dim, minus when the top bit
 * of fmix(h) is set.
 */
export function hashInto(text: string, out: Float32Array, at: number, dim: number): void {
  if (seen.length < dim) seen = new Uint16Array(dim);
  let t = text;
  for (let i = 0; i < t.length; i++) {
    if (t.charCodeAt(i) >= 128) {
      t = t.normalize("NFKC").toLowerCase();
      break;
    }
  }
  // The coordinates touched, to scale only those (a text has tens of features, a vector hundreds of
  // coordinates).
  let features = 0;
  const add = (h: number) => {
    const j = at + (h % dim);
    out[j]! += fmix(h) & 0x80000000 ? -1 : 1;
    if (features === touched.length) touched = grow(touched);
    touched[features++] = j;
  };
  let previous = -1;
  let h = FNV_OFFSET;
  let inToken = false;
  let lastDigit = false;
  const n = t.length;
  for (let i = 0; i < n; ) {
    let c = t.charCodeAt(i);
    let width = 1;
    let cls: number;
    if (c < 128) {
      cls = ASCII[c]!;
      if (cls === 1 && c < 97) c += 32; // ASCII upper case to lower
    } else {
      const cp = t.codePointAt(i)!;
      width = cp > 0xffff ? 2 : 1;
      cls = classOf(cp);
    }
    // A "." or "," between two digits stays in the number.
    if (cls === 0 && inToken && lastDigit && (c === 46 || c === 44) && i + 1 < n) {
      const next = t.charCodeAt(i + 1);
      if (next < 128 ? ASCII[next] === 2 : classOf(t.codePointAt(i + 1)!) === 2) cls = 3;
    }
    if (cls !== 0) {
      if (!inToken) {
        h = FNV_OFFSET;
        inToken = true;
      }
      for (let j = 0; j < width; j++) {
        h ^= j === 0 ? c : t.charCodeAt(i + j);
        h = Math.imul(h, FNV_PRIME);
      }
      lastDigit = cls === 2;
    } else if (inToken) {
      h >>>= 0;
      add(h);
      if (previous >= 0) add(fmix((Math.imul(previous, 0x9e3779b1) ^ h) >>> 0));
      previous = h;
      inToken = false;
    }
    i += width;
  }
  if (inToken) {
    h >>>= 0;
    add(h);
    if (previous >= 0) add(fmix((Math.imul(previous, 0x9e3779b1) ^ h) >>> 0));
  }
  // A text with no token: the vector of the one feature "" (FNV's offset basis).
  if (features === 0) add(FNV_OFFSET);
  // Each non-zero touched coordinate once (marked in `seen`, the marks cleared as it is scaled).
  let sum = 0;
  for (let f = 0; f < features; f++) {
    const j = touched[f]!;
    const v = out[j]!;
    if (v !== 0 && seen[j - at] !== stamp) {
      seen[j - at] = stamp;
      sum += v * v;
    }
  }
  // Features whose ±1s cancel everywhere leave a zero vector: its distance to everything is the same.
  if (sum > 0) {
    const k = 1 / Math.sqrt(sum);
    for (let f = 0; f < features; f++) {
      const j = touched[f]!;
      if (seen[j - at] === stamp) {
        out[j]! *= k;
        seen[j - at] = 0;
      }
    }
  }
  stamp = stamp === 0xffff ? 1 : stamp + 1;
}

let touched: Int32Array = new Int32Array(256);
let seen: Uint16Array = new Uint16Array(0);
let stamp = 1;

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
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
