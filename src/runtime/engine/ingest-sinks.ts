/**
 * The objects one ingest batch writes: a raw object per partition (gzip-compressed NDJSON, the records'
 * original bytes), the batch's quarantine object and its ids object (plain NDJSON and plain lines), each
 * hashed as its bytes go to the store so that the batch manifest can record the size and SHA-256 of what
 * the store holds (integrity.ts).
 *
 * Compression runs in node's zlib on the libuv thread pool, off the ingest thread; each raw object is one
 * gzip stream, written while the batch is read (the first STREAMED_PARTITIONS partitions) or staged plain
 * in a temporary file and compressed when the batch commits (the rest, so that a batch touching thousands
 * of hourly partitions does not hold a compressor for each).
 */
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Readable, Transform, type TransformCallback, type Writable } from "node:stream";
import { createGzip, type Gzip } from "node:zlib";
import pLimit from "p-limit";
import { layout, partitionPath } from "../../contract/storage-layout.ts";
import type { SourceDef } from "../../kit/asset.ts";
import type { ObjectStore, Written } from "../storage/port.ts";
import { writeUuid } from "./ingest-ids.ts";
import { IngestError } from "./ingest-input.ts";
import type { ObjectRecord } from "./integrity.ts";
import { Sha256 } from "./integrity.ts";
import type { BatchManifest } from "./manifest.ts";

/**
 * The gzip level of raw objects. Measured on the ingest benchmark's 558 MiB of order events (2 cores,
 * node 24's zlib): level 1 compresses at 180–210 MiB/s to 19.6% of the input, level 6 at 55–85 MiB/s to
 * 17.0%. Level 6 would cost two to three times the CPU of level 1, more than the rest of ingest together,
 * for objects 13% smaller: level 1.
 */
export const RAW_GZIP_LEVEL = 1;
/** Output chunks of the compressor: large enough that a 256 KiB input chunk is one trip to the pool. */
const GZIP_CHUNK = 128 << 10;
/** Partitions written as streams to the store; beyond, partitions are staged in temporary files. */
const STREAMED_PARTITIONS = 64;
const SINK_BUFFER = 256 << 10;
const PIPE_BUFFER = 1 << 20;
const STAGED_IN_FLIGHT = 1 << 20;

/** A pass-through that hashes (and counts) the bytes it passes: what the store receives. */
class Hashing extends Transform {
  readonly hash = new Sha256();
  constructor() {
    super({ highWaterMark: PIPE_BUFFER });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/**
 * The bytes of one object on their way to the store: `input` takes the object's content; what comes out
 * of `output` is what the store keeps (gzip-compressed when `gzip`), hashed on the way.
 */
function encoder(gzip: boolean): { input: Writable; output: Readable; hash: Sha256; gzip?: Gzip } {
  const hashing = new Hashing();
  if (!gzip) return { input: hashing, output: hashing, hash: hashing.hash };
  const z = createGzip({ level: RAW_GZIP_LEVEL, chunkSize: GZIP_CHUNK });
  z.on("error", (e) => hashing.destroy(e));
  z.pipe(hashing);
  return { input: z, output: hashing, hash: hashing.hash, gzip: z };
}

/** Appends records or lines into buffers of SINK_BUFFER bytes and hands full buffers to `emit`. */
export abstract class Sink {
  readonly key: string;
  rows = 0;
  /**
   * Whether this object's put got an answer: it was stored, or its name was taken. Either way the
   * attempt's names are spent; a put that failed (or was abandoned) stored nothing.
   */
  spent = false;
  #buf: Buffer = Buffer.allocUnsafe(SINK_BUFFER);
  #pos = 0;

  constructor(key: string) {
    this.key = key;
  }

  protected abstract emit(chunk: Buffer): void;
  /** Whether `drain` has to be awaited: the object is full for now, or failed. */
  abstract needsDrain(): boolean;
  /** Waits until the object has room for more; rejects when it failed. */
  abstract drain(): Promise<void>;
  /** Writes the object and says what the batch manifest records of it; rejects when it cannot be written. */
  abstract close(): Promise<ObjectRecord>;
  /** Stops writing, and waits for its put to settle: the object is not written (or left unreferenced). */
  abstract abort(): Promise<void>;

  /** Bytes [start, end) of `src` and a newline. */
  record(src: Buffer, start: number, end: number): void {
    const n = end - start + 1;
    if (this.#pos + n > this.#buf.length) this.flush();
    if (n > this.#buf.length) {
      const own = Buffer.allocUnsafe(n);
      src.copy(own, 0, start, end);
      own[n - 1] = 10;
      this.emit(own);
    } else {
      src.copy(this.#buf, this.#pos, start, end);
      this.#buf[this.#pos + n - 1] = 10;
      this.#pos += n;
    }
    this.rows++;
  }

  /** A line of text (without its newline). */
  line(text: string): void {
    const n = Buffer.byteLength(text) + 1;
    if (this.#pos + n > this.#buf.length) this.flush();
    if (n > this.#buf.length) {
      this.emit(Buffer.from(`${text}\n`));
    } else {
      this.#buf.write(text, this.#pos);
      this.#buf[this.#pos + n - 1] = 10;
      this.#pos += n;
    }
    this.rows++;
  }

  /** The canonical text of the UUID `keys[at..at+3]` as a line. */
  uuid(keys: Int32Array, at: number): void {
    if (this.#pos + 37 > this.#buf.length) this.flush();
    writeUuid(keys, at, this.#buf, this.#pos);
    this.#buf[this.#pos + 36] = 10;
    this.#pos += 37;
    this.rows++;
  }

  protected flush(): void {
    if (this.#pos === 0) return;
    const full = this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafe(SINK_BUFFER);
    this.#pos = 0;
    this.emit(full);
  }
}

const exists = (key: string) =>
  new IngestError(`ingest: object ${key} already exists; nothing was overwritten.`);
const abandoned = (key: string) => new IngestError(`ingest: writing ${key} was abandoned.`);

/** An object written while it is produced: a put whose body is a stream. */
class StreamSink extends Sink {
  readonly #in: Writable;
  readonly #out: Readable;
  readonly #hash: Sha256;
  readonly #put: Promise<Written | false>;
  readonly #settled: Promise<void>;
  #error: unknown;

  constructor(store: ObjectStore, key: string, gzip: boolean) {
    super(key);
    const e = encoder(gzip);
    this.#in = e.input;
    this.#out = e.output;
    this.#hash = e.hash;
    // The put reports the stream's errors; without a listener an aborted stream would throw.
    this.#in.on("error", () => {});
    this.#out.on("error", () => {});
    this.#put = store.put(key, this.#out, { ifAbsent: true });
    this.#settled = this.#put.then(
      () => {
        this.spent = true;
      },
      (err: unknown) => {
        this.#error ??= err;
      },
    );
  }

  protected emit(chunk: Buffer): void {
    this.#in.write(chunk);
  }

  needsDrain(): boolean {
    // The stream's own flag: a "drain" that fired while another sink was awaited is not waited for again.
    return this.#error !== undefined || this.#in.writableNeedDrain;
  }

  async drain(): Promise<void> {
    if (this.#error) throw this.#error;
    if (!this.#in.writableNeedDrain) return;
    const stop = new AbortController();
    await Promise.race([once(this.#in, "drain", { signal: stop.signal }).catch(() => {}), this.#settled]);
    stop.abort();
    if (this.#error) throw this.#error;
  }

  async close(): Promise<ObjectRecord> {
    this.flush();
    this.#in.end();
    await this.#settled;
    if (this.#error) throw this.#error;
    const written = await this.#put;
    if (!written) throw exists(this.key);
    return { bytes: this.#hash.bytes, sha256: this.#hash.digest(), ...written };
  }

  async abort(): Promise<void> {
    this.#in.destroy(abandoned(this.key));
    this.#out.destroy(abandoned(this.key));
    await this.#settled;
  }
}

/**
 * An object staged (uncompressed) in a temporary file and put, compressed, when the batch commits: for
 * batches with many partitions.
 */
class StagedSink extends Sink {
  readonly #store: ObjectStore;
  readonly #gzip: boolean;
  #path = "";
  /** Appends in order; the first step waits for the temporary folder. */
  #chain: Promise<void>;
  #queued = 0;
  #error: unknown;
  #aborted = false;
  #putting: Promise<Written | false> | undefined;

  constructor(store: ObjectStore, key: string, path: Promise<string>, gzip: boolean) {
    super(key);
    this.#store = store;
    this.#gzip = gzip;
    this.#chain = path.then(
      (p) => {
        this.#path = p;
      },
      (e: unknown) => {
        this.#error = e;
      },
    );
  }

  protected emit(chunk: Buffer): void {
    this.#queued += chunk.length;
    this.#chain = this.#chain.then(async () => {
      if (!this.#error) await appendFile(this.#path, chunk).catch((e: unknown) => (this.#error ??= e));
      this.#queued -= chunk.length;
    });
  }

  needsDrain(): boolean {
    return this.#error !== undefined || this.#queued > STAGED_IN_FLIGHT;
  }

  async drain(): Promise<void> {
    if (this.#queued > STAGED_IN_FLIGHT) await this.#chain;
    if (this.#error) throw this.#error;
  }

  async close(): Promise<ObjectRecord> {
    this.flush();
    await this.#chain;
    if (this.#error) throw this.#error;
    if (this.#aborted) throw abandoned(this.key);
    const e = encoder(this.#gzip);
    const file = createReadStream(this.#path);
    file.on("error", (err) => e.output.destroy(err));
    file.pipe(e.input);
    this.#putting = this.#store.put(this.key, e.output, { ifAbsent: true });
    const written = await this.#putting;
    this.spent = true;
    if (!written) throw exists(this.key);
    return { bytes: e.hash.bytes, sha256: e.hash.digest(), ...written };
  }

  async abort(): Promise<void> {
    this.#aborted = true;
    await this.#chain;
    await this.#putting?.then(
      () => {
        this.spent = true;
      },
      () => {},
    );
  }
}

/** What the batch manifest lists of a batch's objects. */
export type BatchObjects = Pick<BatchManifest, "files" | "quarantine" | "ids" | "idsObject">;

/** The objects of one batch being written. */
export class BatchWriter {
  readonly #store: ObjectStore;
  readonly #source: Pick<SourceDef, "key" | "partitions">;
  /** The stem of this attempt's object names (layout.attemptStem). */
  readonly #stem: string;
  readonly #partitions = new Map<string, Sink>();
  #quarantine: Sink | undefined;
  #ids: Sink | undefined;
  #staging: Promise<string> | undefined;
  #staged = 0;

  constructor(store: ObjectStore, source: Pick<SourceDef, "key" | "partitions">, stem: string) {
    this.#store = store;
    this.#source = source;
    this.#stem = stem;
  }

  /** The raw object of a partition, created by its first record. */
  partition(key: string): Sink {
    let sink = this.#partitions.get(key);
    if (!sink) {
      const source = this.#source;
      const objectKey = layout.raw(source.key, partitionPath(source.partitions, key, source.key), this.#stem);
      if (this.#partitions.size < STREAMED_PARTITIONS) {
        sink = new StreamSink(this.#store, objectKey, true);
      } else {
        this.#staging ??= mkdtemp(join(tmpdir(), "tributary-ingest-"));
        const n = this.#staged++;
        sink = new StagedSink(
          this.#store,
          objectKey,
          this.#staging.then((dir) => join(dir, `${n}.ndjson`)),
          true,
        );
      }
      this.#partitions.set(key, sink);
    }
    return sink;
  }

  quarantine(): Sink {
    this.#quarantine ??= new StreamSink(this.#store, layout.quarantine(this.#source.key, this.#stem), false);
    return this.#quarantine;
  }

  ids(): Sink {
    this.#ids ??= new StreamSink(this.#store, layout.ids(this.#source.key, this.#stem), false);
    return this.#ids;
  }

  /** Waits for the objects that are full for now; rejects when one failed. */
  async drain(): Promise<void> {
    for (const sink of this.#partitions.values()) if (sink.needsDrain()) await sink.drain();
    if (this.#quarantine?.needsDrain()) await this.#quarantine.drain();
    if (this.#ids?.needsDrain()) await this.#ids.drain();
  }

  /** Writes the data, quarantine and ids objects, in that order; returns what the manifest lists. */
  async close(): Promise<BatchObjects & { ids: string; idsObject: ObjectRecord }> {
    const entries = [...this.#partitions.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const records = new Map<Sink, ObjectRecord>();
    const close = async (s: Sink) => {
      records.set(s, await s.close());
    };
    const staged = pLimit(4);
    await Promise.all(entries.map(([, s]) => (s instanceof StreamSink ? close(s) : staged(() => close(s)))));
    const files = entries.map(([partition, s]) => ({
      key: s.key,
      partition,
      rows: s.rows,
      ...records.get(s)!,
    }));
    let quarantine: BatchManifest["quarantine"];
    if (this.#quarantine) {
      await close(this.#quarantine);
      quarantine = {
        key: this.#quarantine.key,
        rows: this.#quarantine.rows,
        ...records.get(this.#quarantine)!,
      };
    }
    const ids = this.ids();
    await close(ids);
    await this.#cleanup();
    return { files, ...(quarantine ? { quarantine } : {}), ids: ids.key, idsObject: records.get(ids)! };
  }

  /**
   * Stops every object and waits for their puts to settle. Deletes nothing: resolves to whether any
   * object of the attempt was stored (or found its name taken), that is whether its names are spent.
   */
  async abort(): Promise<boolean> {
    const sinks = [...this.#partitions.values(), this.#quarantine, this.#ids].filter((s) => s !== undefined);
    await Promise.all(sinks.map((s) => s.abort().catch(() => {})));
    await this.#cleanup();
    return sinks.some((s) => s.spent);
  }

  async #cleanup(): Promise<void> {
    if (!this.#staging) return;
    const dir = await this.#staging.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}
