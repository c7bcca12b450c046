/**
 * A store that allows a function exactly what its grants in the deployment plan allow, the way the
 * cloud's IAM would: the end-to-end tests run every handler behind it, so a function that needs a
 * right the plan does not give it fails here, not after `pulumi up`.
 *   get, read, head → "read" on a prefix of the key; list(prefix) → "list" on a prefix of the listed
 *   prefix (S3's ListBucket with an s3:prefix condition); put → "write"; delete → "delete".
 */
import type { Readable } from "node:stream";
import type { Access, GrantPlan, StoreId } from "../../src/infra/plan/types.ts";
import type { Body, ObjectInfo, ObjectStore, Written } from "../../src/runtime/storage/port.ts";

export class AccessDenied extends Error {
  override name = "AccessDenied";
}

export class GrantedStore implements ObjectStore {
  readonly uri: string;
  readonly #inner: ObjectStore;
  readonly #grants: readonly GrantPlan[];
  readonly #fn: string;
  readonly #store: StoreId;
  /** Every denial, for the test to show. */
  static readonly denied: string[] = [];

  constructor(inner: ObjectStore, fn: string, store: StoreId, grants: readonly GrantPlan[]) {
    this.#inner = inner;
    this.uri = inner.uri;
    this.#fn = fn;
    this.#store = store;
    this.#grants = grants.filter((g) => g.function === fn && g.store === store);
  }

  #check(access: Access, key: string): void {
    if (this.#grants.some((g) => g.access.includes(access) && key.startsWith(g.prefix))) return;
    const msg = `${this.#fn} may not ${access} ${this.#store}:${key}`;
    GrantedStore.denied.push(msg);
    throw new AccessDenied(msg);
  }

  async put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    this.#check("write", key);
    return this.#inner.put(key, body, opts);
  }
  async get(key: string): Promise<Buffer | undefined> {
    this.#check("read", key);
    return this.#inner.get(key);
  }
  async read(key: string): Promise<Readable | undefined> {
    this.#check("read", key);
    return this.#inner.read(key);
  }
  async head(key: string): Promise<ObjectInfo | undefined> {
    this.#check("read", key);
    return this.#inner.head(key);
  }
  async list(prefix: string): Promise<ObjectInfo[]> {
    this.#check("list", prefix);
    return this.#inner.list(prefix);
  }
  async delete(key: string): Promise<void> {
    this.#check("delete", key);
    return this.#inner.delete(key);
  }
}
