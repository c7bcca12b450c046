/**
 * Ingest: land NDJSON events of a source in the raw zone, one batch at a time.
 *
 * Every line of the inputs is one record. A record is validated (size, UTF-8, JSON, the source's schema,
 * its event id, its partition: the day or hour of its event time and, for day × tenant sources, a
 * declared tenant), deduplicated by event id against the batch and every committed batch of the source,
 * and then written to the raw zone (its original bytes, one NDJSON object per partition) or to the
 * batch's quarantine object with the reason. Blank lines are not records: they are skipped and not
 * counted (`IngestResult.blankLines` says how many), but they do count in line numbers. A CDC source's
 * events are Debezium's (ingest-cdc.ts): their ids, times and tenants are derived, a `{schema, payload}`
 * record lands as its payload's bytes, and a truncate may land in every tenant's partition.
 *
 *   read = written + quarantined + duplicates, always.
 *
 * Commit order: data objects, quarantine object, ids object (the event ids the batch wrote, one per
 * line), then the batch manifest, the one write that makes the batch visible. Readers, and the
 * deduplication of later batches, see only batches with a manifest: a crash leaves objects that nothing
 * reads. A batch that writes nothing new (all duplicates or invalid) still commits a manifest with its
 * counts, its quarantine and an empty ids object, but no data object.
 *
 * Ingest never deletes what it wrote to the raw and quarantine zones (a cloud function that ingests may
 * only append there). Each attempt of a batch first claims an attempt number, an object created only if
 * absent under `_index/`, and names its objects after it (layout.ts): a retry after a failure or a crash
 * writes beside the leftovers of the attempt before it, never over them. A claim is released when its
 * attempt fails before any of its objects was stored (the next attempt takes the same names), and after
 * the commit.
 *
 * One ingest per source at a time: two concurrent batches of a source do not see each other's ids.
 *
 * How it runs: this thread reads the inputs (gzip or not) and cuts them into blocks of whole lines; worker
 * threads (ingest-worker.ts) parse each record with JSON.parse and check it with ajv, its partition and
 * its event id; this thread applies their verdicts in input order: deduplication (ingest-ids.ts), the
 * original bytes of new records into one buffered stream per partition, the rest to quarantine. Nothing
 * holds more than a few blocks, the id index and the write buffers: memory does not grow with the input.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { layout, partitionPath } from "../../contract/storage-layout.ts";
import { DEFAULT_HORIZON_MINUTES, type SourceDef } from "../../kit/asset.ts";
import { formatDuration } from "../../kit/duration.ts";
import { MULTI_SEPARATOR, staticDimension, timeDimension, timeKeyAt } from "../../kit/partitions.ts";
import type { ObjectStore, Written } from "../storage/port.ts";
import { IdIndex, writeUuid } from "./ingest-ids.ts";
import {
  BlockPool,
  IngestError,
  type IngestInput,
  type InputFile,
  inputBytes,
  LineBlocks,
  OVERSIZE_PREFIX,
  type Piece,
  resolveInputs,
} from "./ingest-input.ts";
import { type ClassifiedBlock, ClassifierPool } from "./ingest-pool.ts";
import {
  BLANK,
  type FormatsMode,
  INVALID,
  RecordClassifier,
  type SourceSpec,
  tooLargeReason,
} from "./ingest-validate.ts";
import {
  type CommittedObject,
  CorruptObjectError,
  hashed,
  judge,
  type ObjectRecord,
  Sha256,
} from "./integrity.ts";
import { acquireLock } from "./lock.ts";
import { type BatchManifest, type SchemaChange, sourceDataVersion } from "./manifest.ts";
import type { Outbox } from "./outbox.ts";

export { IngestError, type IngestInput } from "./ingest-input.ts";
export type { FormatsMode } from "./ingest-validate.ts";

export const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

export interface IngestOptions {
  /** The largest record, in bytes without its newline; larger ones are quarantined. Default 1 MiB. */
  maxRecordBytes?: number;
  /**
   * Worker threads that validate while this thread reads, deduplicates and writes: a number (0 validates
   * on this thread), or "auto" (default): as many as the cores, at most 4, none on a single core, started
   * once an input is known or turns out to be larger than 16 MiB.
   */
  workers?: number | "auto";
  /**
   * The CPUs "auto" counts on (default: `os.availableParallelism()`). A cloud function passes what its
   * memory size buys, which its visible cores overstate (a 512 MB Lambda shows two cores and has a
   * third of one).
   */
  cores?: number;
  /** How ajv checks formats (see `FormatsMode`); default "fast". */
  formats?: FormatsMode;
  /** What "-" reads; default `process.stdin`. */
  stdin?: Readable | AsyncIterable<Uint8Array | string>;
  /** The batch id; default `<UTC time>-<random hex>`, e.g. "20261128T010203.123Z-9f86d081". */
  batch?: string;
  /** The clock, for tests. */
  now?: () => Date;
  /** Age after which another host's ingest lock on the source is taken as abandoned (default 6 hours). */
  lockStaleAfterMs?: number;
  /**
   * Record the batch's announcements (one per partition it wrote) in this outbox before committing it:
   * for functions that announce what they commit.
   */
  outbox?: Outbox;
}

export interface IngestResult {
  readonly batch: string;
  /** The key of the batch manifest: the batch is committed. */
  readonly manifestKey: string;
  readonly manifest: BatchManifest;
  /** Blank lines skipped: they are not records and not in `manifest.counts`. */
  readonly blankLines: number;
  /** Worker threads that validated blocks (0: all on the calling thread). */
  readonly workers: number;
  /**
   * The partitions the batch wrote to, as committed now (with every earlier batch), each with its data
   * version: what `sourcePartitions` would read back, without reading the batch manifests again.
   */
  readonly partitions: ReadonlyMap<string, SourcePartition>;
}

/**
 * One partition of a source as committed batches left it: its raw objects (with what their batches
 * recorded of them) and its data version.
 */
export interface SourcePartition {
  readonly files: readonly (CommittedObject & { readonly rows: number })[];
  readonly dataVersion: string;
}

const BLOCK_SIZE = 1 << 20;
const WORKER_THRESHOLD = 16 << 20;
/** Partitions written as streams to the store; beyond, partitions are staged in temporary files. */
const STREAMED_PARTITIONS = 64;
const SINK_BUFFER = 256 << 10;
const PIPE_BUFFER = 1 << 20;
const STAGED_IN_FLIGHT = 1 << 20;
const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A sortable, unique batch id: "20261128T010203.123Z-9f86d081". */
export function newBatchId(at: Date): string {
  const iso = at.toISOString(); // 2026-11-28T01:02:03.123Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 23)}Z`;
  return `${stamp}-${randomBytes(4).toString("hex")}`;
}

// ---------------------------------------------------------------------------------------------------------
// Committed batches

/** Runs `fn` over `items` with at most `limit` at a time; results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

function parseBatchManifest(body: Buffer, key: string, source: string): BatchManifest {
  let m: Partial<BatchManifest> | undefined;
  try {
    m = JSON.parse(body.toString("utf8")) as Partial<BatchManifest>;
  } catch {
    m = undefined;
  }
  if (
    m?.format !== 1 ||
    m.source !== source ||
    typeof m.batch !== "string" ||
    typeof m.ids !== "string" ||
    !Array.isArray(m.files)
  ) {
    throw new IngestError(
      `ingest: ${key} is not a batch manifest of source "${source}" (format 1); the store is damaged.`,
    );
  }
  return m as BatchManifest;
}

/** The committed batches of a source, oldest first: those with a manifest, and only those. */
export async function committedBatches(store: ObjectStore, source: string): Promise<BatchManifest[]> {
  const objects = (await store.list(layout.batchPrefix(source))).filter((o) => o.key.endsWith(".json"));
  return mapLimit(objects, 16, async (o) => {
    const body = await store.get(o.key);
    if (!body) throw new IngestError(`ingest: batch manifest ${o.key} disappeared while it was read.`);
    return parseBatchManifest(body, o.key, source);
  });
}

/** Every event id committed for a source: the ids objects named by committed batch manifests. */
export async function committedIds(
  store: ObjectStore,
  source: string,
  batches?: readonly BatchManifest[],
): Promise<IdIndex> {
  const seen = new IdIndex();
  batches ??= await committedBatches(store, source);
  await mapLimit(batches, 4, async (m) => {
    const stream = await store.read(m.ids);
    if (!stream) {
      throw new IngestError(
        `ingest ${source}: batch ${m.batch} names ids object ${m.ids}, which is missing; the store is damaged.`,
      );
    }
    const decoder = new StringDecoder("utf8");
    const hash = new Sha256();
    let carry = "";
    for await (const chunk of hashed(stream, hash)) {
      const lines = (carry + decoder.write(chunk)).split("\n");
      carry = lines.pop()!;
      for (const id of lines) if (id !== "") seen.add(id);
    }
    carry += decoder.end();
    if (carry !== "") seen.add(carry);
    // Deduplicating against ids that are not the committed ones would let duplicates in, or drop new events.
    const check = judge({ key: m.ids, ...m.idsObject }, hash.digest(), hash.bytes);
    if (check.state === "corrupt") {
      throw new IngestError(
        `ingest ${source}: batch ${m.batch}'s ids, which deduplication reads, are damaged: ${new CorruptObjectError(check).message}`,
      );
    }
  });
  return seen;
}

/**
 * Every partition of a source that committed batches wrote to, sorted by key: its raw objects (oldest
 * batch first) with their row counts, and its data version (`sourceDataVersion`).
 */
export async function sourcePartitions(
  store: ObjectStore,
  source: Pick<SourceDef, "key">,
): Promise<Map<string, SourcePartition>> {
  return partitionsOf(await committedBatches(store, source.key));
}

/** The partitions committed batches wrote to, from their manifests in commit-key order (see sourcePartitions). */
export function partitionsOf(batches: readonly BatchManifest[]): Map<string, SourcePartition> {
  const files = new Map<string, (CommittedObject & { rows: number })[]>();
  for (const m of batches) {
    for (const { partition, ...file } of m.files) {
      let list = files.get(partition);
      if (!list) {
        list = [];
        files.set(partition, list);
      }
      list.push(file);
    }
  }
  const out = new Map<string, SourcePartition>();
  for (const key of [...files.keys()].sort()) {
    const list = files.get(key)!;
    out.set(key, { files: list, dataVersion: sourceDataVersion(list) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Writing objects

/**
 * Appends records or lines into buffers of SINK_BUFFER bytes and hands full buffers to `emit`, hashing
 * them on the way: the batch manifest records each object's SHA-256 (see integrity.ts).
 */
abstract class Sink {
  readonly key: string;
  rows = 0;
  bytes = 0;
  /**
   * Whether this object's put got an answer: it was stored, or its name was taken. Either way the
   * attempt's names are spent; a put that failed (or was abandoned) stored nothing.
   */
  spent = false;
  #buf: Buffer = Buffer.allocUnsafe(SINK_BUFFER);
  #pos = 0;
  readonly #hash = new Sha256();
  #sha256: string | undefined;

  constructor(key: string) {
    this.key = key;
  }

  /** SHA-256 of everything emitted, once the last of it was. */
  get sha256(): string {
    this.#sha256 ??= this.#hash.digest();
    return this.#sha256;
  }

  #send(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.emit(chunk);
  }

  protected abstract emit(chunk: Buffer): void;
  /** Whether `drain` has to be awaited: the object is full for now, or failed. */
  abstract needsDrain(): boolean;
  /** Waits until the object has room for more; rejects when it failed. */
  abstract drain(): Promise<void>;
  /** Writes the object and says what the store keeps of it; rejects when it cannot be written. */
  abstract close(): Promise<Written>;
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
      this.#send(own);
    } else {
      src.copy(this.#buf, this.#pos, start, end);
      this.#buf[this.#pos + n - 1] = 10;
      this.#pos += n;
    }
    this.rows++;
    this.bytes += n;
  }

  /** A line of text (without its newline). */
  line(text: string): void {
    const n = Buffer.byteLength(text) + 1;
    if (this.#pos + n > this.#buf.length) this.flush();
    if (n > this.#buf.length) {
      this.#send(Buffer.from(`${text}\n`));
    } else {
      this.#buf.write(text, this.#pos);
      this.#buf[this.#pos + n - 1] = 10;
      this.#pos += n;
    }
    this.rows++;
    this.bytes += n;
  }

  /** The canonical text of the UUID `keys[at..at+3]` as a line. */
  uuid(keys: Int32Array, at: number): void {
    if (this.#pos + 37 > this.#buf.length) this.flush();
    writeUuid(keys, at, this.#buf, this.#pos);
    this.#buf[this.#pos + 36] = 10;
    this.#pos += 37;
    this.rows++;
    this.bytes += 37;
  }

  protected flush(): void {
    if (this.#pos === 0) return;
    const full = this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafe(SINK_BUFFER);
    this.#pos = 0;
    this.#send(full);
  }
}

/** An object written while it is produced: a put whose body is a stream. */
class StreamSink extends Sink {
  readonly #stream = new PassThrough({ highWaterMark: PIPE_BUFFER });
  readonly #put: Promise<Written | false>;
  readonly #settled: Promise<void>;
  #error: unknown;

  constructor(store: ObjectStore, key: string) {
    super(key);
    // The put reports the stream's errors; without a listener an aborted stream would throw.
    this.#stream.on("error", () => {});
    this.#put = store.put(key, this.#stream, { ifAbsent: true });
    this.#settled = this.#put.then(
      () => {
        this.spent = true;
      },
      (e: unknown) => {
        this.#error ??= e;
      },
    );
  }

  protected emit(chunk: Buffer): void {
    this.#stream.write(chunk);
  }

  needsDrain(): boolean {
    // The stream's own flag: a "drain" that fired while another sink was awaited is not waited for again.
    return this.#error !== undefined || this.#stream.writableNeedDrain;
  }

  async drain(): Promise<void> {
    if (this.#error) throw this.#error;
    if (!this.#stream.writableNeedDrain) return;
    const stop = new AbortController();
    await Promise.race([once(this.#stream, "drain", { signal: stop.signal }).catch(() => {}), this.#settled]);
    stop.abort();
    if (this.#error) throw this.#error;
  }

  async close(): Promise<Written> {
    this.flush();
    this.#stream.end();
    await this.#settled;
    if (this.#error) throw this.#error;
    const written = await this.#put;
    if (!written)
      throw new IngestError(`ingest: object ${this.key} already exists; nothing was overwritten.`);
    return written;
  }

  async abort(): Promise<void> {
    this.#stream.destroy(new IngestError(`ingest: writing ${this.key} was abandoned.`));
    await this.#settled;
  }
}

/** An object staged in a temporary file and put when the batch commits: for batches with many partitions. */
class StagedSink extends Sink {
  readonly #store: ObjectStore;
  #path = "";
  /** Appends in order; the first step waits for the temporary folder. */
  #chain: Promise<void>;
  #queued = 0;
  #error: unknown;
  #aborted = false;
  #putting: Promise<Written | false> | undefined;

  constructor(store: ObjectStore, key: string, path: Promise<string>) {
    super(key);
    this.#store = store;
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

  async close(): Promise<Written> {
    this.flush();
    await this.#chain;
    if (this.#error) throw this.#error;
    if (this.#aborted) throw new IngestError(`ingest: writing ${this.key} was abandoned.`);
    this.#putting = this.#store.put(this.key, createReadStream(this.#path), { ifAbsent: true });
    const written = await this.#putting;
    this.spent = true;
    if (!written)
      throw new IngestError(`ingest: object ${this.key} already exists; nothing was overwritten.`);
    return written;
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

/** The objects of one batch being written. */
class BatchWriter {
  readonly #store: ObjectStore;
  readonly #source: SourceDef;
  /** The stem of this attempt's object names (layout.attemptStem). */
  readonly #stem: string;
  readonly #partitions = new Map<string, Sink>();
  #quarantine: Sink | undefined;
  #ids: Sink | undefined;
  #staging: Promise<string> | undefined;
  #staged = 0;

  constructor(store: ObjectStore, source: SourceDef, stem: string) {
    this.#store = store;
    this.#source = source;
    this.#stem = stem;
  }

  partition(key: string): Sink {
    let sink = this.#partitions.get(key);
    if (!sink) {
      const source = this.#source;
      const objectKey = layout.raw(source.key, partitionPath(source.partitions, key, source.key), this.#stem);
      if (this.#partitions.size < STREAMED_PARTITIONS) {
        sink = new StreamSink(this.#store, objectKey);
      } else {
        this.#staging ??= mkdtemp(join(tmpdir(), "tributary-ingest-"));
        const n = this.#staged++;
        sink = new StagedSink(
          this.#store,
          objectKey,
          this.#staging.then((dir) => join(dir, `${n}.ndjson`)),
        );
      }
      this.#partitions.set(key, sink);
    }
    return sink;
  }

  quarantine(): Sink {
    this.#quarantine ??= new StreamSink(this.#store, layout.quarantine(this.#source.key, this.#stem));
    return this.#quarantine;
  }

  ids(): Sink {
    this.#ids ??= new StreamSink(this.#store, layout.ids(this.#source.key, this.#stem));
    return this.#ids;
  }

  /** Waits for the objects that are full for now; rejects when one failed. */
  async drain(): Promise<void> {
    for (const sink of this.#partitions.values()) if (sink.needsDrain()) await sink.drain();
    if (this.#quarantine?.needsDrain()) await this.#quarantine.drain();
    if (this.#ids?.needsDrain()) await this.#ids.drain();
  }

  /** Writes the data, quarantine and ids objects, in that order; returns what the manifest lists. */
  async close(): Promise<{
    files: BatchManifest["files"];
    quarantine?: BatchManifest["quarantine"];
    ids: string;
    idsObject: ObjectRecord;
  }> {
    const entries = [...this.#partitions.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const streamed = entries.filter(([, s]) => s instanceof StreamSink);
    const staged = entries.filter(([, s]) => !(s instanceof StreamSink));
    const records = new Map<Sink, ObjectRecord>();
    const close = async (s: Sink) => {
      const written = await s.close();
      // What the manifest records of the object: its size, SHA-256 and the store's checksum.
      records.set(s, { bytes: s.bytes, sha256: s.sha256, ...written });
    };
    await Promise.all(streamed.map(([, s]) => close(s)));
    await mapLimit(staged, 4, ([, s]) => close(s));
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

// ---------------------------------------------------------------------------------------------------------
// Ingest

/** Attempts of one batch before ingest gives up: far more than any cloud redelivers a message. */
const MAX_ATTEMPTS = 1000;

/** Claims the next attempt number of a batch: its claim object, created only if absent. */
async function claimAttempt(store: ObjectStore, source: string, batch: string): Promise<number> {
  const body = JSON.stringify({ host: hostname(), pid: process.pid, at: new Date().toISOString() });
  for (let n = 1; n <= MAX_ATTEMPTS; n++) {
    if (await store.put(layout.attempt(source, batch, n), body, { ifAbsent: true })) return n;
  }
  throw new IngestError(
    `ingest ${source}: batch ${batch} was attempted ${MAX_ATTEMPTS} times without committing; look at why it fails (its objects are under raw/${source}/ and quarantine/${source}/) and ingest it under another batch id.`,
  );
}

function assertIngestible(source: SourceDef): void {
  const properties = (source.schema as { properties?: Record<string, unknown> }).properties ?? {};
  // A CDC source's are derived from each event (ingest-cdc.ts), not fields of it.
  for (const [what, field] of source.cdc
    ? []
    : ([
        ["eventId", source.eventId],
        ["eventTime", source.eventTime],
        ["tenant", source.tenant],
      ] as const)) {
    if (field !== undefined && !(field in properties)) {
      throw new IngestError(
        `ingest ${source.key}: ${what} "${field}" is not a column of the source's schema.`,
      );
    }
  }
  const stat = staticDimension(source.partitions);
  if (stat && source.tenant === undefined) {
    throw new IngestError(
      `ingest ${source.key}: the source is partitioned by ${stat.dimension} (${stat.keys.join(", ")}) but declares no tenant field; add tenant: "<column>" to its declaration.`,
    );
  }
}

/**
 * What validating a source's records takes, as plain data a worker thread can receive. `now` fixes the
 * last partition an event may be in (now + the source's horizon).
 */
export function sourceSpec(
  source: SourceDef,
  maxRecordBytes: number,
  formats: FormatsMode,
  now: Date = new Date(),
): SourceSpec {
  const time = timeDimension(source.partitions);
  const stat = staticDimension(source.partitions);
  const horizon = source.horizonMinutes ?? DEFAULT_HORIZON_MINUTES;
  const cdc = source.cdc;
  return {
    key: source.key,
    // A JSON round trip drops TypeBox's symbol keys, which a worker could not receive anyway.
    schema: JSON.parse(JSON.stringify(source.schema)) as Record<string, unknown>,
    eventId: source.eventId,
    eventTime: source.eventTime,
    ...(source.tenant === undefined ? {} : { tenant: source.tenant }),
    ...(time ? { time } : {}),
    ...(stat ? { static: stat } : {}),
    separator: MULTI_SEPARATOR,
    maxRecordBytes,
    formats,
    ...(time
      ? { lastKey: timeKeyAt(time, now.getTime() + horizon * 60_000), horizon: formatDuration(horizon) }
      : {}),
    ...(cdc
      ? {
          cdc: {
            connector: cdc.connector,
            table: cdc.table,
            key: [...cdc.key],
            row: JSON.parse(JSON.stringify(cdc.row)) as Record<string, unknown>,
            ...(cdc.tenant ? { tenant: { ...cdc.tenant } } : {}),
          },
        }
      : {}),
  };
}

function workerCount(
  option: number | "auto" | undefined,
  cores: number = availableParallelism(),
): { count: number; auto: boolean } {
  if (option === undefined || option === "auto") {
    return { count: cores >= 2 ? Math.min(cores, 4) : 0, auto: true };
  }
  if (!Number.isInteger(option) || option < 0) {
    throw new IngestError(`ingest: workers must be "auto" or a whole number of at least 0, not ${option}.`);
  }
  return { count: option, auto: false };
}

type Item = ClassifiedBlock | (Piece & { kind: "oversize" });

/**
 * Ingests `inputs` into `source` as one batch: paths of files or directories, "-" for standard input, or
 * named streams, read in order (plain or gzip NDJSON). Resolves once the batch is committed.
 */
export async function ingest(
  store: ObjectStore,
  source: SourceDef,
  inputs: readonly (string | IngestInput)[],
  opts: IngestOptions = {},
): Promise<IngestResult> {
  assertIngestible(source);
  const max = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isInteger(max) || max < 1) {
    throw new IngestError(
      `ingest ${source.key}: maxRecordBytes must be a whole number of bytes of at least 1, not ${max}.`,
    );
  }
  const now = opts.now ?? (() => new Date());
  const batch = opts.batch ?? newBatchId(now());
  if (!BATCH_ID.test(batch)) {
    throw new IngestError(
      `ingest ${source.key}: batch id ${JSON.stringify(batch)} must be letters, digits, _ . and -.`,
    );
  }
  // One batch of a source at a time: a concurrent batch would not see this one's ids and let
  // duplicates through. The lock is the engine's per-partition lock, on the source's "_ingest".
  const release = await acquireLock(store, source.key, "_ingest", batch, {
    ...(opts.lockStaleAfterMs === undefined ? {} : { staleAfterMs: opts.lockStaleAfterMs }),
  });
  try {
    return await ingestBatch(store, source, inputs, opts, max, batch);
  } finally {
    await release();
  }
}

async function ingestBatch(
  store: ObjectStore,
  source: SourceDef,
  inputs: readonly (string | IngestInput)[],
  opts: IngestOptions,
  max: number,
  batch: string,
): Promise<IngestResult> {
  const now = opts.now ?? (() => new Date());
  const threads = workerCount(opts.workers, opts.cores);
  const resolved = await resolveInputs(source.key, inputs, opts.stdin ?? process.stdin);
  const spec = sourceSpec(source, max, opts.formats ?? "fast", now());
  const local = new RecordClassifier(spec);

  let pool: ClassifierPool | undefined;
  let poolFailed = false;
  const startPool = () => {
    if (pool || poolFailed || threads.count === 0) return;
    try {
      pool = new ClassifierPool(spec, threads.count);
    } catch {
      // No way to start workers here (say, TypeScript run by a loader other than tsx): validate on this thread.
      poolFailed = true;
    }
  };
  const known = resolved.files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  if (!threads.auto || known >= WORKER_THRESHOLD) startPool();

  const manifestKey = layout.batch(source.key, batch);
  let writer: BatchWriter | undefined;
  let claim: string | undefined;
  try {
    if (await store.head(manifestKey)) {
      throw new IngestError(
        `ingest ${source.key}: batch ${batch} is already committed; give another batch id.`,
      );
    }
    const attempt = await claimAttempt(store, source.key, batch);
    claim = layout.attempt(source.key, batch, attempt);
    const w = new BatchWriter(store, source, layout.attemptStem(batch, attempt));
    writer = w;
    const batches = await committedBatches(store, source.key);
    const seen = await committedIds(store, source.key, batches);
    // Workers asked for by number are waited for; "auto" ones join when they are up.
    if (pool && !threads.auto) await pool.whenReady();
    const counts = { read: 0, written: 0, quarantined: 0, duplicates: 0 };
    /** A CDC source's new columns, by name, in the order first seen. */
    const newColumns = new Map<string, { types: string[]; count: number; first: SchemaChange["first"] }>();
    let blankLines = 0;
    let usedWorkers = false;
    const tooLarge = tooLargeReason(max);

    // Items are applied in input order, whichever thread validated them.
    let file: InputFile | undefined;
    let line = 0;
    const quarantine = (at: number, reason: string, record: string) => {
      counts.quarantined++;
      w.quarantine().line(JSON.stringify({ file: file!.name, line: at, reason, record }));
    };
    const apply = (item: Item, from: InputFile) => {
      if (from !== file) {
        file = from;
        line = 0;
      }
      if (item.kind === "oversize") {
        counts.read++;
        quarantine(++line, tooLarge, item.prefix.toString("utf8"));
        return;
      }
      const { block, lines, bounds, codes, partitions, keys, ids, reasons, fanout, columns } = item;
      for (const c of columns ?? []) {
        const seen = newColumns.get(c.column);
        if (seen === undefined) {
          newColumns.set(c.column, {
            types: [...c.types],
            count: c.count,
            first: { file: file!.name, line: line + c.line + 1 },
          });
        } else {
          seen.count += c.count;
          for (const t of c.types) if (!seen.types.includes(t)) seen.types.push(t);
        }
      }
      // A partition's object is created by its first new record: duplicates alone write nothing.
      const sinks: (Sink | undefined)[] = new Array(partitions.length);
      const sinkOf = (code: number): Sink => {
        let sink = sinks[code];
        if (!sink) {
          sink = w.partition(partitions[code]!);
          sinks[code] = sink;
        }
        return sink;
      };
      const idSink = w.ids();
      let v = 0;
      let other = 0;
      let r = 0;
      let f = 0;
      for (let i = 0; i < lines; i++) {
        const code = codes[i]!;
        if (code === BLANK) {
          blankLines++;
          continue;
        }
        counts.read++;
        const start = bounds[2 * i]!;
        const end = bounds[2 * i + 1]!;
        if (code === INVALID) {
          // A record too large to keep is cut to its first KiB.
          const text = block.toString(
            "utf8",
            start,
            end - start > max ? Math.min(end, start + OVERSIZE_PREFIX) : end,
          );
          quarantine(line + i + 1, reasons[r++]!, text);
          continue;
        }
        const k = 4 * v++;
        let fresh: boolean;
        if ((keys[k]! | keys[k + 1]! | keys[k + 2]! | keys[k + 3]!) !== 0) {
          fresh = seen.addUuid(keys, k);
          if (fresh) idSink.uuid(keys, k);
        } else {
          const id = ids[other++]!;
          fresh = seen.add(id);
          if (fresh) idSink.line(id);
        }
        if (fresh) {
          sinkOf(code).record(block, start, end);
          counts.written++;
        } else {
          counts.duplicates++;
        }
        // A record landed in more partitions (a CDC truncate, in every tenant's): one record, one count.
        if (fanout !== undefined && f < fanout.length && fanout[f]![0] === i) {
          if (fresh) for (const more of fanout[f]![1]) sinkOf(more).record(block, start, end);
          f++;
        }
      }
      line += lines;
    };

    const blocks = new BlockPool(2 * BLOCK_SIZE);
    const queue: { item: Promise<Item>; file: InputFile }[] = [];
    const next = async () => {
      const head = queue.shift()!;
      const item = await head.item;
      apply(item, head.file);
      // apply copied what it keeps: the block's memory (ours alone) serves again.
      if (item.kind === "block") blocks.give(item.block);
      await w.drain();
    };
    const pieces: Piece[] = [];
    const feed = async (from: InputFile) => {
      for (const piece of pieces) {
        let item: Promise<Item>;
        if (piece.kind === "oversize") {
          item = Promise.resolve(piece);
        } else if (pool?.ready) {
          usedWorkers = true;
          item = pool.classify(piece.block, blocks.owns(piece.block));
          // Awaited in order below; a rejection must not count as unhandled meanwhile.
          item.catch(() => {});
        } else {
          item = Promise.resolve({ kind: "block", block: piece.block, ...local.classify(piece.block) });
        }
        queue.push({ item, file: from });
        const limit = pool?.ready ? pool.size * 3 : 0;
        while (queue.length > limit) await next();
      }
      pieces.length = 0;
    };

    let bytesRead = 0;
    for (const input of resolved.files) {
      const splitter = new LineBlocks(BLOCK_SIZE, max, blocks);
      for await (const chunk of inputBytes(input, source.key)) {
        bytesRead += chunk.length;
        if (bytesRead >= WORKER_THRESHOLD) startPool();
        splitter.push(chunk, pieces);
        if (pieces.length > 0) await feed(input);
      }
      splitter.end(pieces);
      await feed(input);
    }
    while (queue.length > 0) await next();

    if (counts.read !== counts.written + counts.quarantined + counts.duplicates) {
      throw new Error(
        `ingest ${source.key}: internal error: counts do not add up: ${JSON.stringify(counts)}`,
      );
    }
    const objects = await w.close();
    const manifest: BatchManifest = {
      format: 1,
      source: source.key,
      batch,
      committedAt: now().toISOString(),
      inputs: resolved.given,
      files: objects.files,
      ...(objects.quarantine ? { quarantine: objects.quarantine } : {}),
      ids: objects.ids,
      idsObject: objects.idsObject,
      counts,
      ...(newColumns.size > 0
        ? {
            schemaChanges: [...newColumns].map(([column, c]) => ({
              column,
              types: c.types,
              count: c.count,
              first: c.first,
            })),
          }
        : {}),
    };
    // In the order a listing of the manifests gives, as committedBatches reads them back.
    const key = (m: BatchManifest) => layout.batch(source.key, m.batch);
    const all = partitionsOf(
      [...batches, manifest].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)),
    );
    const partitions = new Map(manifest.files.map((f) => [f.partition, all.get(f.partition)!] as const));
    // What the commit owes the asset-events bus, recorded before it: owed once the manifest exists.
    if (opts.outbox && partitions.size > 0) {
      await opts.outbox.oweBatch(
        source.key,
        batch,
        [...partitions].map(([partition, p]) => ({
          asset: source.key,
          partition,
          dataVersion: p.dataVersion,
        })),
      );
    }
    if (!(await store.put(manifestKey, `${JSON.stringify(manifest, null, 2)}\n`, { ifAbsent: true }))) {
      throw new IngestError(
        `ingest ${source.key}: batch ${batch} is already committed; give another batch id.`,
      );
    }
    // Committed: the claim has done its work (a leftover one only makes a later attempt skip a number).
    await store.delete(claim).catch(() => {});
    return { batch, manifestKey, manifest, blankLines, workers: usedWorkers ? pool!.size : 0, partitions };
  } catch (e) {
    // Nothing the attempt stored is deleted. If it stored nothing, its claim is released and the next
    // attempt names its objects the same; otherwise the next attempt takes the next number.
    const spent = writer ? await writer.abort() : false;
    if (claim && !spent) await store.delete(claim).catch(() => {});
    throw e;
  } finally {
    await pool?.close();
  }
}
