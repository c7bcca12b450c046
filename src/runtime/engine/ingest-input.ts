/**
 * The inputs of ingest: files, directories, standard input and streams, read as plain or gzip NDJSON,
 * and cut into blocks of whole lines for validation.
 */
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { TributaryError } from "../../kit/errors.ts";

/** A user error of ingest: a missing input, a damaged gzip file, a source that cannot be ingested. */
export class IngestError extends TributaryError {
  override name = "IngestError";
}

/** An input that is already a stream: its name appears in the manifest and in quarantine records. */
export interface IngestInput {
  readonly name: string;
  readonly stream: Readable | AsyncIterable<Uint8Array | string>;
}

/** One file (or stream) to read, in order. */
export interface InputFile {
  /** How quarantine records name it: the path (a directory's files as "<dir>/<file>"), "-", or a stream's name. */
  readonly name: string;
  /** Its size in bytes when known (files): sizes the worker pool before reading starts. */
  readonly size?: number;
  open(): Readable | AsyncIterable<Uint8Array | string>;
}

export interface ResolvedInputs {
  /** The inputs as given (the manifest's `inputs`). */
  readonly given: string[];
  readonly files: InputFile[];
}

const READ_CHUNK = 1 << 20;
const DATA_FILE = /\.ndjson(\.gz)?$/;

/**
 * Checks and expands the inputs before anything is read: a path is a file or a directory (its *.ndjson
 * and *.ndjson.gz files, sorted by name), "-" is `stdin`, an object is a stream.
 */
export async function resolveInputs(
  source: string,
  inputs: readonly (string | IngestInput)[],
  stdin: Readable | AsyncIterable<Uint8Array | string>,
): Promise<ResolvedInputs> {
  if (inputs.length === 0)
    throw new IngestError(`ingest ${source}: no inputs; give files, directories or "-" for standard input.`);
  const given: string[] = [];
  const files: InputFile[] = [];
  let stdinUsed = false;
  for (const input of inputs) {
    if (typeof input !== "string") {
      given.push(input.name);
      files.push({ name: input.name, open: () => input.stream });
      continue;
    }
    given.push(input);
    if (input === "-") {
      if (stdinUsed) throw new IngestError(`ingest ${source}: "-" (standard input) is given twice.`);
      stdinUsed = true;
      files.push({ name: "-", open: () => stdin });
      continue;
    }
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new IngestError(`ingest ${source}: input "${input}" does not exist.`);
      throw new IngestError(`ingest ${source}: cannot read input "${input}": ${(e as Error).message}`);
    }
    if (info.isDirectory()) {
      const names = (await readdir(input, { withFileTypes: true }))
        .filter((e) => e.isFile() && DATA_FILE.test(e.name))
        .map((e) => e.name)
        .sort();
      if (names.length === 0) {
        throw new IngestError(`ingest ${source}: directory "${input}" has no *.ndjson or *.ndjson.gz files.`);
      }
      for (const name of names) {
        const path = join(input, name);
        const size = (await stat(path)).size;
        files.push({ name: path, size, open: () => createReadStream(path, { highWaterMark: READ_CHUNK }) });
      }
    } else {
      files.push({
        name: input,
        size: info.size,
        open: () => createReadStream(input, { highWaterMark: READ_CHUNK }),
      });
    }
  }
  return { given, files };
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === "string") return Buffer.from(chunk);
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * The bytes of an input, decompressed when it is gzip (detected by its magic bytes 1f 8b, whatever its
 * name), without a leading UTF-8 byte order mark. Errors name the input.
 */
export async function* inputBytes(file: InputFile, source: string): AsyncGenerator<Buffer> {
  const it = (file.open() as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  const fail = (e: unknown): never => {
    if (e instanceof IngestError) throw e;
    throw new IngestError(`ingest ${source}: cannot read input "${file.name}": ${(e as Error).message}`);
  };
  // Enough bytes to recognise gzip and a byte order mark.
  const head: Buffer[] = [];
  let headBytes = 0;
  let done = false;
  try {
    while (headBytes < 3) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      const b = toBuffer(r.value);
      head.push(b);
      headBytes += b.length;
    }
  } catch (e) {
    fail(e);
  }
  const first = head.length === 1 ? head[0]! : Buffer.concat(head);
  const rest = async function* (): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield toBuffer(r.value);
  };
  let body: AsyncIterable<Buffer> = rest();
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    const gunzip = createGunzip({ chunkSize: 1 << 18 });
    // Errors of either side end the gunzip stream, which the loop below rethrows.
    pipeline(Readable.from(rest()), gunzip, () => {});
    body = gunzip;
  }
  let start = true;
  try {
    for await (const chunk of body) {
      let b = toBuffer(chunk);
      if (start) {
        start = false;
        if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
      }
      if (b.length > 0) yield b;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("Z_")) {
      throw new IngestError(
        `ingest ${source}: input "${file.name}" is not a valid gzip file: ${(e as Error).message}`,
      );
    }
    fail(e);
  } finally {
    // Stopped early (a failure downstream): close the input.
    await it.return?.();
  }
}

/** A block of whole lines, or a line longer than the limit that was skipped (only its start is kept). */
export type Piece =
  | { readonly kind: "block"; readonly block: Buffer }
  | { readonly kind: "oversize"; readonly prefix: Buffer };

/**
 * Recycled memory for blocks: each block has an ArrayBuffer of its own (so it can be transferred to a
 * worker thread and back), and reusing them spares the garbage collector a megabyte a block.
 */
export class BlockPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #owned = new WeakSet<ArrayBuffer>();
  readonly #capacity: number;

  /** `capacity`: the size of new buffers (larger when a block needs more). */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** A buffer of `length` bytes at offset 0 of an ArrayBuffer that nothing else uses. */
  take(length: number): Buffer {
    for (let i = this.#free.length - 1; i >= 0; i--) {
      const ab = this.#free[i]!;
      if (ab.byteLength >= length) {
        this.#free.splice(i, 1);
        return Buffer.from(ab, 0, length);
      }
    }
    const ab = new ArrayBuffer(Math.max(length, this.#capacity));
    this.#owned.add(ab);
    return Buffer.from(ab, 0, length);
  }

  /** Whether `block` came from `take` (so its whole ArrayBuffer may be transferred). */
  owns(block: Buffer): boolean {
    return block.byteOffset === 0 && this.#owned.has(block.buffer as ArrayBuffer);
  }

  /**
   * Gives a block's memory back once nothing reads the block any more. A block that went to a worker and
   * came back has a new ArrayBuffer object over the same memory: it is adopted again.
   */
  give(block: Buffer): void {
    const ab = block.buffer as ArrayBuffer;
    if (block.byteOffset !== 0 || this.#free.length >= 16 || this.#free.includes(ab)) return;
    this.#owned.add(ab);
    this.#free.push(ab);
  }
}

/** How much of a record that is too large is kept in quarantine. */
export const OVERSIZE_PREFIX = 1024;

/**
 * Cuts a byte stream into blocks of whole lines of about `blockSize` bytes, in buffers of the pool. A
 * line that grows beyond `max`
 * bytes before its newline is not buffered: it becomes an "oversize" piece with its first bytes.
 */
export class LineBlocks {
  readonly #blockSize: number;
  readonly #max: number;
  readonly #pool: BlockPool;
  #parts: Buffer[] = [];
  #bytes = 0;
  /** Bytes after the last newline held in #parts: the line in progress. */
  #tail = 0;
  /** The start of a line being skipped because it is too large. */
  #skip: Buffer | undefined;

  constructor(blockSize: number, max: number, pool: BlockPool) {
    this.#blockSize = blockSize;
    this.#max = max;
    this.#pool = pool;
  }

  push(chunk: Buffer, out: Piece[]): void {
    if (this.#skip) {
      const nl = chunk.indexOf(10);
      if (nl < 0) return;
      out.push({ kind: "oversize", prefix: this.#skip });
      this.#skip = undefined;
      chunk = chunk.subarray(nl + 1);
      if (chunk.length === 0) return;
    }
    const last = chunk.lastIndexOf(10);
    this.#parts.push(chunk);
    this.#bytes += chunk.length;
    this.#tail = last < 0 ? this.#tail + chunk.length : chunk.length - last - 1;
    const whole = this.#bytes - this.#tail;
    if (this.#tail > this.#max) {
      // The line in progress is already too large: hand over what precedes it and skip the rest of it.
      if (whole > 0) out.push({ kind: "block", block: this.#copy(0, whole) });
      this.#skip = Buffer.from(this.#copy(whole, whole + OVERSIZE_PREFIX));
      this.#parts = [];
      this.#bytes = 0;
      this.#tail = 0;
    } else if (whole >= this.#blockSize) {
      out.push({ kind: "block", block: this.#copy(0, whole) });
      const rest = this.#tail === 0 ? [] : [chunk.subarray(chunk.length - this.#tail)];
      this.#parts = rest;
      this.#bytes = this.#tail;
    }
  }

  /** The end of the input: the last line needs no newline. */
  end(out: Piece[]): void {
    if (this.#skip) {
      out.push({ kind: "oversize", prefix: this.#skip });
      this.#skip = undefined;
    } else if (this.#bytes > 0) {
      out.push({ kind: "block", block: this.#copy(0, this.#bytes) });
    }
    this.#parts = [];
    this.#bytes = 0;
    this.#tail = 0;
  }

  /** Bytes [from, to) of #parts (to clamped) in a buffer of the pool. */
  #copy(from: number, to: number): Buffer {
    const end = Math.min(to, this.#bytes);
    const out = this.#pool.take(end - from);
    let offset = 0;
    let at = 0;
    for (const part of this.#parts) {
      const partEnd = offset + part.length;
      if (partEnd > from && offset < end) {
        const s = Math.max(from, offset) - offset;
        const e = Math.min(end, partEnd) - offset;
        part.copy(out, at, s, e);
        at += e - s;
      }
      offset = partEnd;
      if (offset >= end) break;
    }
    return out;
  }
}
