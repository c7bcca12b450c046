/**
 * The event ids ingest has seen, for deduplication. Canonical UUIDs (the common case) are held as four
 * integers in an open-addressing table: 16 bytes a slot instead of a string and a Set entry, and no string
 * hashing. Any other id (a Debezium source's) is held as its UTF-8 bytes (`StringIdSet`).
 */
import { encodeUuid } from "./ingest-formats.ts";

/** Bytes of one arena chunk: ids are appended to the last chunk and never span two. */
const CHUNK = 1 << 23;
/** Chunks a positive 31-bit reference can name (almost 2 GiB of ids). */
const MAX_CHUNKS = 255;

/**
 * A set of strings held as their UTF-8 bytes, exactly: each id once in an arena of 8 MiB chunks (a length
 * and the bytes), and an open-addressing table of (hash, reference) pairs. About 12 bytes plus the id's
 * length per id, where a JavaScript Set of strings costs the string (its length and some 20 bytes) and
 * an entry, and grows by rehashing every string: Debezium's event ids ("<db>/<lsn>/<txId>/<op>/<key>")
 * are some 70 bytes, and a batch of millions of them is the index's common case. The hash is seeded per
 * process, so no input can be made to collide on purpose; colliding hashes are told apart by their bytes.
 */
export class StringIdSet {
  readonly #chunks: Buffer[] = [Buffer.allocUnsafe(CHUNK)];
  /** Where the next id goes in the last chunk. */
  #pos = 0;
  /** Two Int32 a slot: the id's hash, and its reference + 1 (0: the slot is empty). */
  #slots = new Int32Array(2 << 12);
  #mask = (1 << 12) - 1;
  #size = 0;
  readonly #seed = (Math.random() * 0x1_0000_0000) | 0;

  get size(): number {
    return this.#size;
  }

  /** Adds an id; false when it was already there. */
  add(id: string): boolean {
    const at = this.#stage(id);
    const hash = this.#hash(this.#chunks.at(-1)!, at, this.#end);
    const slot = this.#find(hash, at);
    if (slot < 0) return false;
    this.#slots[slot] = hash;
    this.#slots[slot + 1] = (this.#chunks.length - 1) * CHUNK + (at - 4) + 1;
    this.#pos = this.#end;
    if (++this.#size > (this.#mask + 1) * MAX_LOAD) this.#grow();
    return true;
  }

  has(id: string): boolean {
    const at = this.#stage(id);
    return this.#find(this.#hash(this.#chunks.at(-1)!, at, this.#end), at) < 0;
  }

  /** End of the id #stage wrote last. */
  #end = 0;

  /**
   * Writes an id's length and UTF-8 bytes at the end of the arena (a new chunk when it does not fit)
   * without taking the space: returns where its bytes start, and sets #end.
   */
  #stage(id: string): number {
    const most = 4 + 3 * id.length;
    let chunk = this.#chunks.at(-1)!;
    // A chunk larger than CHUNK holds one id (a reference's offset is below CHUNK).
    if (this.#pos + most > chunk.length || chunk.length > CHUNK) {
      // An id too large for a chunk gets a chunk of its own (ids are cut to a record's size anyway).
      if (this.#chunks.length === MAX_CHUNKS) {
        throw new RangeError("ingest: more than 2 GiB of event ids in one batch's index");
      }
      chunk = Buffer.allocUnsafe(Math.max(CHUNK, most));
      this.#chunks.push(chunk);
      this.#pos = 0;
    }
    const at = this.#pos + 4;
    const n = chunk.write(id, at, "utf8");
    chunk.writeUInt32LE(n, this.#pos);
    this.#end = at + n;
    return at;
  }

  /** A 32-bit hash of bytes [start, end) of `b` (murmur3's mixing, four bytes at a time, seeded). */
  #hash(b: Buffer, start: number, end: number): number {
    let h = this.#seed ^ (end - start);
    let i = start;
    for (; i + 4 <= end; i += 4) {
      let k = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    let k = 0;
    for (let s = 0; i < end; i++, s += 8) k |= b[i]! << s;
    k = Math.imul(k, 0xcc9e2d51);
    h ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** The slot where the staged id (at `at` in the last chunk) goes, or -1 when it is present. */
  #find(hash: number, at: number): number {
    const t = this.#slots;
    const mask = this.#mask;
    const staged = this.#chunks.at(-1)!;
    const n = this.#end - at;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const o = i << 1;
      const ref = t[o + 1]!;
      if (ref === 0) return o;
      if (t[o] !== hash) continue;
      const chunk = this.#chunks[((ref - 1) / CHUNK) | 0]!;
      const from = (ref - 1) % CHUNK;
      if (chunk.readUInt32LE(from) === n && chunk.compare(staged, at, at + n, from + 4, from + 4 + n) === 0) {
        return -1;
      }
    }
  }

  #grow(): void {
    const old = this.#slots;
    const capacity = (this.#mask + 1) * 2;
    const t = new Int32Array(capacity * 2);
    const mask = capacity - 1;
    for (let o = 0; o < old.length; o += 2) {
      const ref = old[o + 1]!;
      if (ref === 0) continue;
      const hash = old[o]!;
      let i = hash & mask;
      while (t[(i << 1) + 1] !== 0) i = (i + 1) & mask;
      t[i << 1] = hash;
      t[(i << 1) + 1] = ref;
    }
    this.#slots = t;
    this.#mask = mask;
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
