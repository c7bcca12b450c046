import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ObjectStore } from "../storage/port.ts";

/**
 * Local files for objects, for DuckDB to read and write: the object's own path in a local store, or a
 * scratch copy for a remote one. `cleanup` removes the scratch folder.
 */
export class Scratch {
  readonly store: ObjectStore;
  #dir: string | undefined;
  #n = 0;
  constructor(store: ObjectStore) {
    this.store = store;
  }

  async dir(): Promise<string> {
    this.#dir ??= await mkdtemp(join(tmpdir(), "tributary-"));
    return this.#dir;
  }

  /** A path DuckDB can read the object from. */
  async readable(key: string): Promise<string> {
    const local = this.store.localPath?.(key);
    if (local) return local;
    const path = join(await this.dir(), `${++this.#n}-${key.split("/").pop()}`);
    const body = await this.store.read(key);
    if (!body) throw new Error(`object ${key} disappeared while being read`);
    await pipeline(body, createWriteStream(path));
    return path;
  }

  /** A path DuckDB may write the object to, and the function that makes it the object. */
  async writable(key: string): Promise<{ path: string; publish: () => Promise<void> }> {
    const local = this.store.localPath?.(key);
    if (local) {
      await mkdir(dirname(local), { recursive: true });
      // Written in place: nothing reads a data object before a manifest names it.
      return { path: local, publish: async () => {} };
    }
    const path = join(await this.dir(), `${++this.#n}-${key.split("/").pop()}`);
    return { path, publish: async () => void (await this.store.put(key, createReadStream(path))) };
  }

  async cleanup(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
