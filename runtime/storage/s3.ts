import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  assertObjectKey,
  assertPrefix,
  type Body,
  type ObjectInfo,
  type ObjectStore,
  StorageError,
} from "./port.ts";
import {
  byteStream,
  checkRange,
  checkStorePrefix,
  codesOf,
  DEFAULT_RETRY,
  type RetryPolicy,
  SDK_STREAM_ATTEMPTS,
  sortByKey,
  statusOf,
  storageFailure,
  withRetry,
} from "./retry.ts";

export interface S3StoreOptions {
  readonly bucket: string;
  /** Keys live under `<prefix>/` in the bucket; list and head return them relative to it. */
  readonly prefix?: string;
  /** Default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  readonly region?: string;
  /**
   * Default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL (an emulator or an S3-compatible service).
   * With an endpoint, requests use path-style addressing, which emulators need.
   */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  /** Default: the SDK's provider chain (environment, profile, container or instance role). */
  readonly credentials?: S3ClientConfig["credentials"];
  /** Keys per list request, 1 to 1000 (S3's maximum and default). */
  readonly pageSize?: number;
  /** Part size of a streamed multipart upload, at least 5 MiB (S3's minimum); default 8 MiB. */
  readonly partSize?: number;
  readonly retry?: RetryPolicy;
}

const MiB = 1024 * 1024;

/**
 * An S3 bucket (or a prefix in one) behind the ObjectStore port.
 *
 * - `put` of a string or bytes is one PutObject; `put` of a stream goes through lib-storage's Upload,
 *   which sends one PutObject when the stream is shorter than a part and a multipart upload otherwise,
 *   holding at most 4 parts in memory. Either way the object appears whole or not at all.
 * - `ifAbsent` sends `If-None-Match: *` (on PutObject, and on CompleteMultipartUpload for a multipart
 *   upload), which S3 evaluates atomically: 412 PreconditionFailed means another writer got there
 *   first, and put returns false.
 * - Retries: see retry.ts. `client` makes single requests with the SDK's retries off; `streamClient`
 *   makes the requests of streamed uploads with the SDK's retries on.
 */
export class S3Store implements ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #streamClient: S3Client;
  readonly #pageSize: number;
  readonly #partSize: number;
  readonly #retry: RetryPolicy;

  constructor(opts: S3StoreOptions) {
    this.bucket = checkS3Bucket(opts.bucket);
    this.prefix = checkStorePrefix(opts.prefix ?? "", `s3://${opts.bucket}`);
    this.uri = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ""}`;
    this.#pageSize = checkRange(opts.pageSize ?? 1000, 1, 1000, "pageSize", this.uri);
    this.#partSize = checkRange(opts.partSize ?? 8 * MiB, 5 * MiB, 5 * 1024 * MiB, "partSize", this.uri);
    this.#retry = opts.retry ?? DEFAULT_RETRY;
    const env = process.env;
    const endpoint = opts.endpoint ?? env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"];
    const config: S3ClientConfig = {
      region: opts.region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1",
      // A bucket in another region than AWS_REGION still works: the SDK follows S3's redirect.
      followRegionRedirects: true,
      ...(endpoint ? { endpoint, forcePathStyle: opts.forcePathStyle ?? true } : {}),
      ...(opts.forcePathStyle !== undefined ? { forcePathStyle: opts.forcePathStyle } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    };
    this.#client = new S3Client({ ...config, maxAttempts: 1 });
    this.#streamClient = new S3Client({ ...config, maxAttempts: SDK_STREAM_ATTEMPTS });
  }

  async put(key: string, body: Body, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
    assertObjectKey(key);
    const params = {
      Bucket: this.bucket,
      Key: this.#full(key),
      ...(opts.ifAbsent ? { IfNoneMatch: "*" } : {}),
    };
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        await withRetry(
          () => this.#client.send(new PutObjectCommand({ ...params, Body: body })),
          this.#retry,
        );
      } else {
        const upload = new Upload({
          client: this.#streamClient,
          params: { ...params, Body: byteStream(body) },
          partSize: this.#partSize,
          queueSize: 4,
        });
        await upload.done();
      }
      return true;
    } catch (e) {
      if (opts.ifAbsent && statusOf(e) === 412) return false;
      throw storageFailure(`put ${this.#where(key)}`, e);
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertObjectKey(key);
    return this.#call(`get ${this.#where(key)}`, async () => {
      const out = await this.#getObject(key);
      if (!out) return undefined;
      const bytes = await out.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async read(key: string): Promise<Readable | undefined> {
    assertObjectKey(key);
    return this.#call(`read ${this.#where(key)}`, async () => {
      const out = await this.#getObject(key);
      if (!out) return undefined;
      if (out instanceof Readable) return out;
      throw new Error(`S3 GetObject returned a body that is not a Node stream (${typeof out}).`);
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    return this.#call(`head ${this.#where(key)}`, async () => {
      try {
        const out = await this.#client.send(
          new HeadObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }),
        );
        return { key, size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0) };
      } catch (e) {
        // HEAD responses have no body, so a missing bucket looks like a missing key here.
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    });
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call(`list ${this.#where(prefix)}`, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.#full(prefix),
            MaxKeys: this.#pageSize,
            ContinuationToken: token,
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        out.push({ key: this.#relative(o.Key), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return sortByKey(out);
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // S3 answers 204 for a key that is not there.
    await this.#call(`delete ${this.#where(key)}`, () =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#full(key) })),
    );
  }

  /** Close the clients' connections (the store is unusable afterwards). */
  destroy(): void {
    this.#client.destroy();
    this.#streamClient.destroy();
  }

  async #getObject(key: string) {
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }),
      );
      return out.Body;
    } catch (e) {
      // NoSuchBucket is a 404 too, and an error: a wrong bucket must not look like an empty one.
      if (codesOf(e).includes("NoSuchKey")) return undefined;
      throw e;
    }
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, this.#retry);
    } catch (e) {
      throw storageFailure(what, e);
    }
  }

  #full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  #relative(full: string): string {
    return this.prefix && full.startsWith(`${this.prefix}/`) ? full.slice(this.prefix.length + 1) : full;
  }

  #where(key: string): string {
    return `${this.uri}/${key}`;
  }
}

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** S3's bucket naming rules (the ones a typo breaks): 3-63 of a-z 0-9 . -, starting and ending alphanumeric. */
export function checkS3Bucket(bucket: string): string {
  if (!S3_BUCKET.test(bucket) || bucket.includes("..")) {
    throw new StorageError(
      `storage: S3 bucket name ${JSON.stringify(bucket)} is invalid: use 3 to 63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit.`,
    );
  }
  return bucket;
}
