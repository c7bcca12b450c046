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
import { CloudStore, checkRange, type ListPage } from "./cloud.ts";
import { checkS3Bucket } from "./names.ts";
import { assertObjectKey, type ObjectInfo, type ObjectStore } from "./port.ts";
import { codesOf, type RetryPolicy, SDK_STREAM_ATTEMPTS, statusOf } from "./retry.ts";

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
 * - Checksums: every put names SHA256 as its checksum algorithm, so S3 checks each request's body
 *   against the SHA-256 the SDK sends with it and keeps it with the object (for a multipart upload, a
 *   SHA-256 of the parts' ones, `…-N`); `head` reads it back and `get`/`read` have the SDK check the
 *   body against it (ChecksumMode ENABLED).
 * - Retries: see retry.ts. `client` makes single requests with the SDK's retries off; `streamClient`
 *   makes the requests of streamed uploads with the SDK's retries on.
 */
export class S3Store extends CloudStore implements ObjectStore {
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #streamClient: S3Client;
  readonly #pageSize: number;
  readonly #partSize: number;

  constructor(opts: S3StoreOptions) {
    const bucket = checkS3Bucket(opts.bucket);
    super(`s3://${bucket}`, opts.prefix, opts.retry);
    this.bucket = bucket;
    this.#pageSize = checkRange(opts.pageSize ?? 1000, 1, 1000, "pageSize", this.uri);
    this.#partSize = checkRange(opts.partSize ?? 8 * MiB, 5 * MiB, 5 * 1024 * MiB, "partSize", this.uri);
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

  protected async putBytes(
    name: string,
    body: string | Uint8Array,
    ifAbsent: boolean,
  ): Promise<string | undefined> {
    return checksumOf(
      await this.#client.send(new PutObjectCommand({ ...this.#putParams(name, ifAbsent), Body: body })),
    );
  }

  protected async putStream(name: string, body: Readable, ifAbsent: boolean): Promise<string | undefined> {
    const upload = new Upload({
      client: this.#streamClient,
      params: { ...this.#putParams(name, ifAbsent), Body: body },
      partSize: this.#partSize,
      queueSize: 4,
    });
    // PutObject's answer, or CompleteMultipartUpload's with the checksum of the parts' checksums.
    return checksumOf(await upload.done());
  }

  #putParams(name: string, ifAbsent: boolean) {
    return {
      Bucket: this.bucket,
      Key: name,
      // S3 checks the SHA-256 the SDK computes of each request's body and keeps it with the object.
      ChecksumAlgorithm: "SHA256" as const,
      ...(ifAbsent ? { IfNoneMatch: "*" } : {}),
    };
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertObjectKey(key);
    return this.call(`get ${this.where(key)}`, async () => {
      const out = await this.#getObject(key);
      if (!out) return undefined;
      const bytes = await out.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async read(key: string): Promise<Readable | undefined> {
    assertObjectKey(key);
    return this.call(`read ${this.where(key)}`, async () => {
      const out = await this.#getObject(key);
      if (!out) return undefined;
      if (out instanceof Readable) return out;
      throw new Error(`S3 GetObject returned a body that is not a Node stream (${typeof out}).`);
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    return this.call(`head ${this.where(key)}`, async () => {
      try {
        const out = await this.#client.send(
          new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key), ChecksumMode: "ENABLED" }),
        );
        const checksum = checksumOf(out);
        return {
          key,
          size: out.ContentLength ?? 0,
          modified: out.LastModified ?? new Date(0),
          ...(checksum ? { checksum } : {}),
        };
      } catch (e) {
        // HEAD responses have no body, so a missing bucket looks like a missing key here.
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    });
  }

  protected async listPage(full: string, token: string | undefined): Promise<ListPage> {
    const page = await this.#client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: full,
        MaxKeys: this.#pageSize,
        ContinuationToken: token,
      }),
    );
    const objects: ObjectInfo[] = [];
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      objects.push({ key: o.Key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
    }
    return { objects, next: page.IsTruncated ? page.NextContinuationToken : undefined };
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // S3 answers 204 for a key that is not there.
    await this.call(`delete ${this.where(key)}`, () =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })),
    );
  }

  /** Close the clients' connections (the store is unusable afterwards). */
  destroy(): void {
    this.#client.destroy();
    this.#streamClient.destroy();
  }

  async #getObject(key: string) {
    try {
      // With ChecksumMode, the SDK checks the body against the object's full-object checksum as it arrives.
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), ChecksumMode: "ENABLED" }),
      );
      return out.Body;
    } catch (e) {
      // NoSuchBucket is a 404 too, and an error: a wrong bucket must not look like an empty one.
      if (codesOf(e).includes("NoSuchKey")) return undefined;
      throw e;
    }
  }
}

/**
 * The object's checksum as S3 reports it (in the answer to a put or a head): SHA-256 when it was put
 * with one (as S3Store puts), else the CRC S3 computes by default for uploads that name no algorithm.
 */
function checksumOf(out: {
  ChecksumSHA256?: string | undefined;
  ChecksumCRC64NVME?: string | undefined;
  ChecksumCRC32C?: string | undefined;
  ChecksumCRC32?: string | undefined;
  ChecksumSHA1?: string | undefined;
}): string | undefined {
  const [algorithm, value] =
    (
      [
        ["sha256", out.ChecksumSHA256],
        ["crc64nvme", out.ChecksumCRC64NVME],
        ["crc32c", out.ChecksumCRC32C],
        ["crc32", out.ChecksumCRC32],
        ["sha1", out.ChecksumSHA1],
      ] as const
    ).find(([, v]) => v) ?? [];
  return value ? `${algorithm}:${value}` : undefined;
}
