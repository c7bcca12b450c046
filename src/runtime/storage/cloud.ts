import { Readable } from "node:stream";
import { StorageError } from "../../contract/storage-layout.ts";
import {
  assertObjectKey,
  assertPrefix,
  type Body,
  type ObjectInfo,
  sortByKey,
  type Written,
} from "./port.ts";
import { DEFAULT_RETRY, type RetryPolicy, statusOf, storageFailure, withRetry } from "./retry.ts";

/**
 * What the three cloud adapters (S3Store, GcsStore, AzureBlobStore) share: a store is a place in a
 * bucket or container (`base`, such as s3://bucket) and a key prefix under it, its URI is the two
 * together, and every call that may be sent again goes through our retries (see retry.ts) and fails
 * as a StorageError that names the operation and the object. `put` and `list` work the same way
 * everywhere; each adapter only says how to send one upload (`putBytes`, `putStream`, `alreadyExists`)
 * and fetch one page of a listing (`listPage`).
 */
export abstract class CloudStore {
  /** Where the store lives: `base`, then `/<prefix>` when there is one. */
  readonly uri: string;
  /** The key prefix in the bucket or container, with no trailing "/"; "" for none. */
  readonly prefix: string;
  readonly #retry: RetryPolicy;

  /** `base` must already be checked: it is the store's URI without the prefix. */
  protected constructor(base: string, prefix: string | undefined, retry: RetryPolicy | undefined) {
    this.prefix = checkStorePrefix(prefix ?? "", base);
    this.uri = `${base}${this.prefix ? `/${this.prefix}` : ""}`;
    this.#retry = retry ?? DEFAULT_RETRY;
  }

  /**
   * A string or bytes is one request, retried here; a stream is the SDK's upload, which retries its own
   * parts and is never sent again from here (see retry.ts). With `ifAbsent`, false when the object exists.
   */
  async put(key: string, body: Body, opts: { ifAbsent?: boolean } = {}): Promise<Written | false> {
    assertObjectKey(key);
    const ifAbsent = Boolean(opts.ifAbsent);
    try {
      const checksum =
        typeof body === "string" || body instanceof Uint8Array
          ? await this.retried(() => this.putBytes(this.full(key), body, ifAbsent))
          : await this.putStream(this.full(key), byteStream(body), ifAbsent);
      return checksum ? { checksum } : {};
    } catch (e) {
      if (ifAbsent && this.alreadyExists(e)) return false;
      throw storageFailure(`put ${this.where(key)}`, e);
    }
  }

  /**
   * One request that uploads the whole object `name`; with `ifAbsent`, only if it does not exist.
   * Resolves to the store's checksum of what it received (`ObjectInfo.checksum`), when it keeps one.
   */
  protected abstract putBytes(
    name: string,
    body: string | Uint8Array,
    ifAbsent: boolean,
  ): Promise<string | undefined>;

  /** The SDK's streamed upload, through a client with its own retries on; resolves as `putBytes`. */
  protected abstract putStream(name: string, body: Readable, ifAbsent: boolean): Promise<string | undefined>;

  /** Whether a put with `ifAbsent` failed because the object exists: 412 Precondition Failed. */
  protected alreadyExists(error: unknown): boolean {
    return statusOf(error) === 412;
  }

  /** Every object whose key starts with `prefix`, sorted by key; each page is retried on its own. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(`list ${this.where(prefix)}`, () =>
        this.listPage(this.full(prefix), token),
      );
      for (const o of page.objects) out.push({ ...o, key: this.relative(o.key) });
      token = page.next;
    } while (token);
    return sortByKey(out);
  }

  /** One page of the objects whose names in the bucket start with `full`, from where `token` says. */
  protected abstract listPage(full: string, token: string | undefined): Promise<ListPage>;

  /** `fn` under the store's retry policy; what it finally throws is left to the caller. */
  protected retried<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, this.#retry);
  }

  /** `fn` under the store's retry policy; a final failure is the StorageError for `what`. */
  protected async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.retried(fn);
    } catch (e) {
      throw storageFailure(what, e);
    }
  }

  /** The name of a key (or list prefix) in the bucket or container. */
  protected full(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** A name in the bucket or container as a key of this store. */
  protected relative(full: string): string {
    return this.prefix && full.startsWith(`${this.prefix}/`) ? full.slice(this.prefix.length + 1) : full;
  }

  /** A key as a URI, for error messages. */
  protected where(key: string): string {
    return `${this.uri}/${key}`;
  }
}

/** A page of a listing: keys are full names in the bucket; `next` is undefined on the last page. */
export interface ListPage {
  readonly objects: ObjectInfo[];
  readonly next: string | undefined;
}

/** A store's key prefix, a trailing "/" dropped; "" for none. */
export function checkStorePrefix(prefix: string, where: string): string {
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (trimmed === "") return "";
  try {
    assertObjectKey(trimmed);
  } catch (e) {
    throw new StorageError(
      `storage: key prefix ${JSON.stringify(prefix)} of ${where} is invalid: ${(e as Error).message.replace(/^storage: /, "")}`,
    );
  }
  return trimmed;
}

export function checkRange(value: number, min: number, max: number, name: string, where: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StorageError(
      `storage: ${name} of ${where} must be a whole number from ${min} to ${max}, not ${value}.`,
    );
  }
  return value;
}

/**
 * A streamed body as a byte stream of Buffers: the SDKs' upload helpers copy chunks with Buffer
 * methods, so bare Uint8Arrays (or strings from an object-mode stream) must be turned into Buffers.
 */
export function byteStream(body: Readable | AsyncIterable<Uint8Array>): Readable {
  return Readable.from(buffers(body), { objectMode: false });
}

async function* buffers(body: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    if (Buffer.isBuffer(chunk)) yield chunk;
    else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else if (typeof chunk === "string") yield Buffer.from(chunk);
    else throw new StorageError(`storage: a streamed body must yield bytes or strings, not ${typeof chunk}.`);
  }
}
