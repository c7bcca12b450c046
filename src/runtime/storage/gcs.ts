import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type Bucket,
  type CreateWriteStreamOptions,
  IdempotencyStrategy,
  Storage,
} from "@google-cloud/storage";
import { CloudStore, checkRange, type ListPage } from "./cloud.ts";
import { checkGcsBucket } from "./names.ts";
import { assertObjectKey, type ObjectInfo, type ObjectStore } from "./port.ts";
import { type RetryPolicy, SDK_STREAM_ATTEMPTS, statusOf } from "./retry.ts";

export interface GcsStoreOptions {
  readonly bucket: string;
  /** Keys live under `<prefix>/` in the bucket; list and head return them relative to it. */
  readonly prefix?: string;
  /** Objects per list request, 1 to 1000 (GCS's maximum and default). */
  readonly pageSize?: number;
  readonly retry?: RetryPolicy;
}

/**
 * A Cloud Storage bucket (or a prefix in one) behind the ObjectStore port.
 *
 * The client takes everything else from the environment, as every Google client does: credentials
 * from Application Default Credentials (the function's service account when deployed), the project
 * from GOOGLE_CLOUD_PROJECT (object calls need none), and STORAGE_EMULATOR_HOST to talk to an
 * emulator instead of storage.googleapis.com.
 *
 * - `put` of a string or bytes is one multipart (metadata + media) upload; `put` of a stream is a
 *   resumable upload, sent as one streaming request that the SDK resumes from the last byte GCS
 *   acknowledged when it breaks. An object appears whole when the upload finalises.
 * - `ifAbsent` sends `ifGenerationMatch=0`, which GCS checks atomically when the object is created
 *   (and, for resumable uploads, also when the session starts): 412 means it exists, and put returns false.
 * - Checksums: GCS keeps an MD5 and a CRC32C of every object it stores; `head` reports the MD5. The
 *   SDK checks uploads and downloads against them.
 * - Retries: see retry.ts. `#ops` has the SDK's retries off; `#streams` (streamed uploads) has them on.
 */
export class GcsStore extends CloudStore implements ObjectStore {
  readonly bucket: string;
  readonly #ops: Bucket;
  readonly #streams: Bucket;
  readonly #pageSize: number;

  constructor(opts: GcsStoreOptions) {
    const bucket = checkGcsBucket(opts.bucket);
    super(`gs://${bucket}`, opts.prefix, opts.retry);
    this.bucket = bucket;
    this.#pageSize = checkRange(opts.pageSize ?? 1000, 1, 1000, "pageSize", this.uri);
    this.#ops = new Storage({ retryOptions: { autoRetry: false } }).bucket(this.bucket);
    this.#streams = new Storage({
      retryOptions: {
        autoRetry: true,
        maxRetries: SDK_STREAM_ATTEMPTS - 1,
        // Starting a resumable session creates nothing, and its chunks are tied to the session, so
        // every request of a streamed upload is safe to repeat, with or without ifGenerationMatch.
        idempotencyStrategy: IdempotencyStrategy.RetryAlways,
      },
    }).bucket(this.bucket);
  }

  protected async putBytes(
    name: string,
    body: string | Uint8Array,
    ifAbsent: boolean,
  ): Promise<string | undefined> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    const file = this.#ops.file(name);
    await file.save(data, { ...putOptions(ifAbsent), resumable: false });
    return checksumOf(file.metadata);
  }

  protected async putStream(name: string, body: Readable, ifAbsent: boolean): Promise<string | undefined> {
    const file = this.#streams.file(name);
    await pipeline(body, file.createWriteStream({ ...putOptions(ifAbsent), resumable: true }));
    return checksumOf(file.metadata);
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertObjectKey(key);
    return this.call(`get ${this.where(key)}`, async () => {
      try {
        const [data] = await this.#ops.file(this.full(key)).download();
        return data;
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    });
  }

  async read(key: string): Promise<Readable | undefined> {
    assertObjectKey(key);
    // The SDK's stream reports a missing object only once read from: wait for the first chunk (or the
    // end) so that a missing object is undefined here, not an error on the caller's stream later.
    return this.call(`read ${this.where(key)}`, async () => {
      const chunks = this.#ops.file(this.full(key)).createReadStream()[Symbol.asyncIterator]();
      let first: IteratorResult<Buffer>;
      try {
        first = await chunks.next();
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
      return Readable.from(rest(first, chunks), { objectMode: false });
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    return this.call(`head ${this.where(key)}`, async () => {
      try {
        const [meta] = await this.#ops.file(this.full(key)).getMetadata();
        const checksum = checksumOf(meta);
        return {
          key,
          size: Number(meta.size ?? 0),
          modified: new Date(meta.updated ?? 0),
          ...(checksum ? { checksum } : {}),
        };
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    });
  }

  protected async listPage(full: string, pageToken: string | undefined): Promise<ListPage> {
    const [files, next] = await this.#ops.getFiles({
      prefix: full,
      maxResults: this.#pageSize,
      autoPaginate: false,
      ...(pageToken ? { pageToken } : {}),
    });
    return {
      objects: files.map((f) => ({
        key: f.name,
        size: Number(f.metadata.size ?? 0),
        modified: new Date(f.metadata.updated ?? 0),
      })),
      next: next && "pageToken" in next ? next.pageToken : undefined,
    };
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    await this.call(`delete ${this.where(key)}`, () =>
      this.#ops.file(this.full(key)).delete({ ignoreNotFound: true }),
    );
  }
}

function putOptions(ifAbsent: boolean): CreateWriteStreamOptions {
  return {
    contentType: "application/octet-stream",
    ...(ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
  };
}

async function* rest(first: IteratorResult<Buffer>, chunks: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (first.done) return;
  yield first.value;
  try {
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  } finally {
    await chunks.return?.();
  }
}

/**
 * An object's checksum from its resource (a metadata read, or the answer to an upload, which the SDK
 * keeps as the file's metadata): GCS computes both for every object it stores; a composed one has no MD5.
 */
function checksumOf(meta: { md5Hash?: string | undefined; crc32c?: string | undefined }): string | undefined {
  return meta.md5Hash ? `md5:${meta.md5Hash}` : meta.crc32c ? `crc32c:${meta.crc32c}` : undefined;
}
