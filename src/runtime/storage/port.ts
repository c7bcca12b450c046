import type { Readable } from "node:stream";
import { StorageError } from "../../contract/storage-layout.ts";

/** What an object store says about one object. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly modified: Date;
  /**
   * The store's own checksum of the object's bytes, as `<algorithm>:<base64>`, when it keeps one:
   * S3's ChecksumSHA256 (`sha256:…`, or `sha256:…-N` for an object uploaded in N parts), GCS's md5Hash
   * (`md5:…`; `crc32c:…` for a composed object), Azure's Content-MD5 (`md5:…`). The store computes it
   * (or checks it) from the bytes it receives, so it changes whenever the object's bytes do. Only `head`
   * reports it, and `put` says it of what it wrote; the local store has none (a file keeps no checksum).
   */
  readonly checksum?: string;
}

/** What a store says of an object it has just written: its checksum (`ObjectInfo.checksum`), if it keeps one. */
export interface Written {
  readonly checksum?: string;
}

export type Body = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

/**
 * The one storage port every adapter implements (local filesystem, S3, GCS, Azure Blob). It is shaped
 * like an object store: whole objects are put, read, listed by prefix and deleted; there is no rename
 * and no append. A put is atomic: readers see the old object, or the new one whole, never a part.
 */
export interface ObjectStore {
  /** Where the store lives, as a URI (file:///…, s3://bucket/prefix): the OpenLineage namespace. */
  readonly uri: string;
  /**
   * Write an object, and say what the store keeps of it: a cloud store is asked to keep a checksum of
   * what it receives (see `ObjectInfo.checksum`), taken from the upload's own response, so writing
   * needs no right to read. With `ifAbsent`, write only if no object has this key, atomically with
   * respect to other writers, and return false (writing nothing) when one exists.
   */
  put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false>;
  /** The whole object, or undefined when there is none. */
  get(key: string): Promise<Buffer | undefined>;
  /** The object as a stream, or undefined when there is none. */
  read(key: string): Promise<Readable | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Delete an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** A filesystem path DuckDB can read the object from directly, when the store is local. */
  localPath?(key: string): string;
}

/** Objects sorted by key, byte-wise, as every store lists them (`list`'s contract). */
export function sortByKey(objects: ObjectInfo[]): ObjectInfo[] {
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.=|-]*$/;

/**
 * Refuse keys that could escape the store or confuse a path: empty segments, "." or "..", backslashes,
 * control characters, quotes. Every adapter calls this before touching anything.
 */
export function assertObjectKey(key: string): void {
  const segments = key.split("/");
  for (const s of segments) {
    if (!SEGMENT.test(s) || s === "." || s === ".." || s.includes("..")) {
      throw new StorageError(
        `storage: object key ${JSON.stringify(key)} is invalid: segment ${JSON.stringify(s)} must be letters, digits and _ . = | - (no "..", no empty segments).`,
      );
    }
  }
}

/** A prefix is a key, possibly ending in "/" or empty (everything). */
export function assertPrefix(prefix: string): void {
  if (prefix === "") return;
  assertObjectKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}
