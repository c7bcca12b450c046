/**
 * The event ids ingest has seen, for deduplication. Canonical UUIDs (the common case) are held as four
 * integers in an open-addressing table: 16 bytes a slot instead of a string and a Set entry, and no string
 * hashing. Any other id is held as a string.
 */
import { encodeUuid } from "./ingest-formats.ts";

/**
 * A set of strings. Sharded: one JavaScript Set holds at most 2^24 entries; sixteen of them hold more
 * than one process has memory for.
 */
export class StringIdSet {
  readonly #shards: Set<string>[] = Array.from({ length: 16 }, () => new Set<string>());
  #size = 0;

  get size(): number {
    return this.#size;
  }

  #shard(id: string): Set<string> {
    const n = id.length;
    return this.#shards[(id.charCodeAt(n - 1) ^ (id.charCodeAt(n - 2) << 2)) & 15]!;
  }

  /** Adds an id; false when it was already there. */
  add(id: string): boolean {
    const shard = this.#shard(id);
    const before = shard.size;
    shard.add(id);
    if (shard.size === before) return false;
    this.#size++;
    return true;
  }

  has(id: string): boolean {
    return this.#shard(id).has(id);
  }
}

const MAX_LOAD = 0.75;

export class IdIndex {
  /** Four Int32 a slot; all zeros is an empty slot (the nil UUID is kept with the strings). */
  #slots = new Int32Array(4 << 16);
  #mask = (1 << 16) - 1;
  #uuids = 0;
  readonly #strings = new StringIdSet();
  readonly #scratch = new Int32Array(4);

  get size(): number {
    return this.#uuids + this.#strings.size;
  }

  /** Adds an event id; false when it was already there. */
  add(id: string): boolean {
    return encodeUuid(id, this.#scratch, 0) ? this.addUuid(this.#scratch, 0) : this.#strings.add(id);
  }

  has(id: string): boolean {
    if (!encodeUuid(id, this.#scratch, 0)) return this.#strings.has(id);
    const s = this.#scratch;
    return this.#find(this.#slots, this.#mask, s[0]!, s[1]!, s[2]!, s[3]!) < 0;
  }

  /** Adds the UUID `keys[at..at+3]` (see `encodeUuid`); false when it was already there. */
  addUuid(keys: Int32Array, at: number): boolean {
    const a = keys[at]!;
    const b = keys[at + 1]!;
    const c = keys[at + 2]!;
    const d = keys[at + 3]!;
    const slot = this.#find(this.#slots, this.#mask, a, b, c, d);
    if (slot < 0) return false;
    const t = this.#slots;
    t[slot] = a;
    t[slot + 1] = b;
    t[slot + 2] = c;
    t[slot + 3] = d;
    if (++this.#uuids > (this.#mask + 1) * MAX_LOAD) this.#grow();
    return true;
  }

  /** The offset of the empty slot where the UUID goes, or -1 when it is present. */
  #find(t: Int32Array, mask: number, a: number, b: number, c: number, d: number): number {
    let h = Math.imul(
      a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b) ^ Math.imul(d, 0xc2b2ae35),
      0x27d4eb2f,
    );
    h ^= h >>> 15;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const o = i << 2;
      const x = t[o]!;
      const y = t[o + 1]!;
      const z = t[o + 2]!;
      const w = t[o + 3]!;
      if ((x | y | z | w) === 0) return o;
      if (x === a && y === b && z === c && w === d) return -1;
    }
  }

  #grow(): void {
    const old = this.#slots;
    const capacity = (this.#mask + 1) * 2;
    const t = new Int32Array(capacity * 4);
    const mask = capacity - 1;
    for (let o = 0; o < old.length; o += 4) {
      const a = old[o]!;
      const b = old[o + 1]!;
      const c = old[o + 2]!;
      const d = old[o + 3]!;
      if ((a | b | c | d) === 0) continue;
      const slot = this.#find(t, mask, a, b, c, d);
      t[slot] = a;
      t[slot + 1] = b;
      t[slot + 2] = c;
      t[slot + 3] = d;
    }
    this.#slots = t;
    this.#mask = mask;
  }
}

const HEX_PAIRS = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, "0");
  HEX_PAIRS[2 * i] = h.charCodeAt(0);
  HEX_PAIRS[2 * i + 1] = h.charCodeAt(1);
}

/** Writes the canonical text of the UUID `keys[at..at+3]` (36 bytes) into `out` at `pos`. */
export function writeUuid(keys: Int32Array, at: number, out: Uint8Array, pos: number): void {
  let p = pos;
  for (let k = 0; k < 4; k++) {
    const w = keys[at + k]!;
    for (let shift = 24; shift >= 0; shift -= 8) {
      // Dashes after the 4th, 6th, 8th and 10th byte: 8-4-4-4-12 hex digits.
      const byte = (w >>> shift) & 255;
      out[p++] = HEX_PAIRS[2 * byte]!;
      out[p++] = HEX_PAIRS[2 * byte + 1]!;
      const n = k * 4 + (3 - shift / 8);
      if (n === 3 || n === 5 || n === 7 || n === 9) out[p++] = 45;
    }
  }
}
