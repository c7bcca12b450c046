import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import {
  type BlobHTTPHeaders,
  BlobServiceClient,
  type ContainerClient,
  type StoragePipelineOptions,
  type StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { StorageError } from "../../contract/storage-layout.ts";
import { CloudStore, checkRange, type ListPage } from "./cloud.ts";
import { checkAzureAccount, checkAzureContainer } from "./names.ts";
import { assertObjectKey, type ObjectInfo, type ObjectStore } from "./port.ts";
import { codesOf, type RetryPolicy, SDK_STREAM_ATTEMPTS, statusOf } from "./retry.ts";

export interface AzureBlobStoreOptions {
  readonly account: string;
  readonly container: string;
  /** Blobs live under `<prefix>/` in the container; list and head return keys relative to it. */
  readonly prefix?: string;
  /** Default https://<account>.blob.core.windows.net; Azurite: http://127.0.0.1:10000/<account>. */
  readonly serviceUrl?: string;
  /** Default AZURE_STORAGE_CONNECTION_STRING; it must name the same account and endpoint. */
  readonly connectionString?: string;
  /** Overrides the connection string and DefaultAzureCredential. */
  readonly credential?: TokenCredential | StorageSharedKeyCredential;
  /** Blobs per list request, 1 to 5000 (Azure's maximum and default). */
  readonly pageSize?: number;
  /** Block size of a streamed upload; default 8 MiB. */
  readonly blockSize?: number;
  readonly retry?: RetryPolicy;
}

const MiB = 1024 * 1024;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * An Azure Blob Storage container (or a prefix in one) behind the ObjectStore port.
 *
 * Credentials: AZURE_STORAGE_CONNECTION_STRING when it is set (local development, Azurite), else
 * DefaultAzureCredential (the Function App's managed identity when deployed, `az login` on a laptop).
 * The deployed storage accounts allow no shared keys, so production never needs the connection
 * string. An Azurite URI with no connection string uses Azurite's published development account.
 *
 * - `put` of a string or bytes is one Put Blob; `put` of a stream stages blocks and commits the block
 *   list (uploadStream), holding at most 4 blocks in memory. The blob appears whole at the commit.
 * - `ifAbsent` sends `If-None-Match: *` (on Put Blob, or on the final Put Block List), checked
 *   atomically by the service: 409 BlobAlreadyExists or 412 ConditionNotMet means it exists, and put
 *   returns false.
 * - Checksums: the service computes a blob's Content-MD5 for a single Put Blob; for a streamed upload
 *   the store hashes the blocks as they pass and sends the MD5 with the block list. `head` reports it.
 * - Retries: see retry.ts. `#ops` has the SDK's retries off; `#streams` (streamed uploads) has them on.
 */
export class AzureBlobStore extends CloudStore implements ObjectStore {
  readonly account: string;
  readonly container: string;
  readonly #ops: ContainerClient;
  readonly #streams: ContainerClient;
  readonly #pageSize: number;
  readonly #blockSize: number;

  constructor(opts: AzureBlobStoreOptions) {
    const account = checkAzureAccount(opts.account);
    const container = checkAzureContainer(opts.container);
    const serviceUrl = (opts.serviceUrl ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, "");
    super(`${serviceUrl}/${container}`, opts.prefix, opts.retry);
    this.account = account;
    this.container = container;
    this.#pageSize = checkRange(opts.pageSize ?? 5000, 1, 5000, "pageSize", this.uri);
    this.#blockSize = checkRange(opts.blockSize ?? 8 * MiB, 1, 4000 * MiB, "blockSize", this.uri);

    const ops: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };
    const streams: StoragePipelineOptions = { retryOptions: { maxTries: SDK_STREAM_ATTEMPTS } };
    const connectionString = opts.connectionString ?? process.env["AZURE_STORAGE_CONNECTION_STRING"];
    let make: (options: StoragePipelineOptions) => BlobServiceClient;
    if (opts.credential) {
      const credential = opts.credential;
      make = (options) => new BlobServiceClient(serviceUrl, credential, options);
    } else if (connectionString) {
      make = (options) => fromConnectionString(connectionString, options, this.uri);
      const probe = make(ops);
      const names = `${probe.url.replace(/\/+$/, "")} (account ${probe.accountName})`;
      if (probe.accountName !== this.account || !sameUrl(probe.url, serviceUrl)) {
        throw new StorageError(
          `storage: AZURE_STORAGE_CONNECTION_STRING points at ${names}, but the store is ${this.uri}: use a connection string for account ${this.account}, or unset it to use DefaultAzureCredential.`,
        );
      }
    } else if (LOOPBACK.has(new URL(serviceUrl).host.replace(/:\d+$/, ""))) {
      // Azurite's development account; its key is public and only Azurite accepts it.
      const dev = fromConnectionString("UseDevelopmentStorage=true", ops, this.uri);
      if (this.account !== dev.accountName) {
        throw new StorageError(
          `storage: ${this.uri} is an Azurite URI for account ${this.account}: set AZURE_STORAGE_CONNECTION_STRING with that account's key (only ${dev.accountName} needs none).`,
        );
      }
      const credential = dev.credential as StorageSharedKeyCredential;
      make = (options) => new BlobServiceClient(serviceUrl, credential, options);
    } else {
      const credential = new DefaultAzureCredential();
      make = (options) => new BlobServiceClient(serviceUrl, credential, options);
    }
    this.#ops = make(ops).getContainerClient(this.container);
    this.#streams = make(streams).getContainerClient(this.container);
  }

  protected async putBytes(
    name: string,
    body: string | Uint8Array,
    ifAbsent: boolean,
  ): Promise<string | undefined> {
    const data = typeof body === "string" ? Buffer.from(body) : body;
    // Put Blob answers with the Content-MD5 the service computed of the blob.
    const out = await this.#ops.getBlockBlobClient(name).upload(data, data.byteLength, putOptions(ifAbsent));
    return md5Checksum(out.contentMD5);
  }

  protected async putStream(name: string, body: Readable, ifAbsent: boolean): Promise<string | undefined> {
    // A block list's Content-MD5 is the client's to send: hash the blocks as they pass, and set it
    // before the SDK commits the list (it commits once the stream has ended).
    const options = putOptions(ifAbsent);
    const md5 = createHash("md5");
    async function* hashed() {
      for await (const chunk of body) {
        md5.update(chunk as Buffer);
        yield chunk as Buffer;
      }
      options.blobHTTPHeaders.blobContentMD5 = md5.digest();
    }
    await this.#streams
      .getBlockBlobClient(name)
      .uploadStream(Readable.from(hashed(), { objectMode: false }), this.#blockSize, 4, options);
    // Put Block List answers with the MD5 of the list it received, not of the blob: the blob's is ours.
    return md5Checksum(options.blobHTTPHeaders.blobContentMD5);
  }

  /** 412 ConditionNotMet, or 409 BlobAlreadyExists: Put Blob and Put Block List answer either. */
  protected override alreadyExists(e: unknown): boolean {
    const status = statusOf(e);
    return status === 412 || (status === 409 && codesOf(e).includes("BlobAlreadyExists"));
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertObjectKey(key);
    return this.call(`get ${this.where(key)}`, async () => {
      const stream = await this.#download(key);
      if (!stream) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    });
  }

  async read(key: string): Promise<Readable | undefined> {
    assertObjectKey(key);
    return this.call(`read ${this.where(key)}`, () => this.#download(key));
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    return this.call(`head ${this.where(key)}`, async () => {
      try {
        const p = await this.#ops.getBlobClient(this.full(key)).getProperties();
        return {
          key,
          size: p.contentLength ?? 0,
          modified: p.lastModified ?? new Date(0),
          ...(p.contentMD5 ? { checksum: md5Checksum(p.contentMD5) } : {}),
        };
      } catch (e) {
        if (isMissingBlob(e)) return undefined;
        throw e;
      }
    });
  }

  protected async listPage(full: string, continuationToken: string | undefined): Promise<ListPage> {
    const pages = this.#ops
      .listBlobsFlat({ prefix: full })
      .byPage({ maxPageSize: this.#pageSize, ...(continuationToken ? { continuationToken } : {}) });
    const page = (await pages.next()).value;
    const objects: ObjectInfo[] = [];
    for (const b of page?.segment.blobItems ?? []) {
      objects.push({
        key: b.name,
        size: b.properties.contentLength ?? 0,
        modified: b.properties.lastModified,
      });
    }
    return { objects, next: page?.continuationToken || undefined };
  }

  async delete(key: string): Promise<void> {
    assertObjectKey(key);
    // deleteIfExists swallows BlobNotFound only: a missing container stays an error.
    await this.call(`delete ${this.where(key)}`, () =>
      this.#ops.getBlobClient(this.full(key)).deleteIfExists(),
    );
  }

  async #download(key: string): Promise<Readable | undefined> {
    try {
      const response = await this.#ops.getBlobClient(this.full(key)).download();
      const body = response.readableStreamBody;
      if (!(body instanceof Readable)) throw new Error("Azure download returned no Node stream.");
      return body;
    } catch (e) {
      if (isMissingBlob(e)) return undefined;
      throw e;
    }
  }
}

function putOptions(ifAbsent: boolean): {
  blobHTTPHeaders: BlobHTTPHeaders;
  conditions?: { ifNoneMatch: string };
} {
  return {
    blobHTTPHeaders: { blobContentType: "application/octet-stream" },
    ...(ifAbsent ? { conditions: { ifNoneMatch: "*" } } : {}),
  };
}

const md5Checksum = (md5: Uint8Array | undefined) =>
  md5 ? `md5:${Buffer.from(md5).toString("base64")}` : undefined;

/** A 404 for the blob; a 404 for the container (ContainerNotFound) is an error, not an empty store. */
function isMissingBlob(e: unknown): boolean {
  return statusOf(e) === 404 && !codesOf(e).includes("ContainerNotFound");
}

function fromConnectionString(cs: string, options: StoragePipelineOptions, where: string): BlobServiceClient {
  try {
    return BlobServiceClient.fromConnectionString(cs, options);
  } catch (e) {
    throw new StorageError(
      `storage: AZURE_STORAGE_CONNECTION_STRING cannot open ${where}: ${(e as Error).message.replace(/\.$/, "")}; it should read DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net.`,
    );
  }
}

const sameUrl = (a: string, b: string) =>
  a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase();
