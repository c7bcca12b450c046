import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ObjectStore } from "../storage/port.ts";
import {
  assertReadable,
  type CommittedObject,
  CorruptObjectError,
  checkObject,
  fileSha256,
  hashed,
  judge,
  MISSING,
  type ObjectRecord,
  Sha256,
} from "./integrity.ts";

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

  /**
   * A path DuckDB can read a committed object from, once its bytes are checked against its commit:
   * a local file is hashed (see integrity.ts), a remote object is hashed as it is copied. Throws
   * CorruptObjectError when the bytes are not the committed ones.
   */
  async readable(o: CommittedObject): Promise<string> {
    const local = this.store.localPath?.(o.key);
    if (local) {
      assertReadable(await checkObject(this.store, o, "quick"));
      return local;
    }
    const path = join(await this.dir(), `${++this.#n}-${o.key.split("/").pop()}`);
    const body = await this.store.read(o.key);
    if (!body) throw new CorruptObjectError({ key: o.key, state: "missing", why: MISSING });
    const hash = new Sha256();
    await pipeline(hashed(body, hash), createWriteStream(path));
    const check = judge(o, hash.digest(), hash.bytes);
    if (check.state === "corrupt") await rm(path, { force: true });
    assertReadable(check);
    return path;
  }

  /**
   * A path DuckDB may write the object to, and the function that makes it the object and says what its
   * commit records of it: size and SHA-256, taken as the bytes go to the store, and the store's checksum.
   */
  async writable(key: string): Promise<{ path: string; publish: () => Promise<ObjectRecord> }> {
    const local = this.store.localPath?.(key);
    if (local) {
      await mkdir(dirname(local), { recursive: true });
      // Written in place: nothing reads a data object before a manifest names it.
      return {
        path: local,
        publish: async () => {
          // Remembered in the store's memo: the next plan of this store trusts what it hashed here.
          const read = await fileSha256(local, { root: local.slice(0, local.length - key.length - 1) });
          if (!read) throw new Error(`DuckDB wrote no file at ${local}`);
          return read;
        },
      };
    }
    const path = join(await this.dir(), `${++this.#n}-${key.split("/").pop()}`);
    return {
      path,
      publish: async () => {
        const hash = new Sha256();
        const written = await this.store.put(key, Readable.from(hashed(createReadStream(path), hash)));
        return { sha256: hash.digest(), bytes: hash.bytes, ...written };
      },
    };
  }

  async cleanup(): Promise<void> {
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}
