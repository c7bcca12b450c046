import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import pLimit from "p-limit";
import {
  assertObjectKey,
  assertPrefix,
  type Body,
  type ObjectInfo,
  type ObjectStore,
  sortByKey,
  type Written,
} from "./port.ts";

let counter = 0;
const TMP = ".tmp-";

/**
 * Files and folders open at once for reading, across every local store of the process. A plan of a
 * large graph asks for every manifest together (86,000 on a 10,000-asset graph), and the asset-graph
 * page lists every asset's manifests together; without a bound the process runs out of file handles
 * (EMFILE) long before the disk is the limit.
 */
const reads = pLimit(256);

/**
 * The default store: a folder on this machine (`.tributary/` in the project). Puts write a temporary
 * file and link it into place, so an object appears whole or not at all, and `ifAbsent` is an atomic
 * create (link fails when the name exists).
 */
export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly uri: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  localPath(key: string): string {
    assertObjectKey(key);
    return join(this.root, ...key.split("/"));
  }

  async put(key: string, body: Body, opts: { ifAbsent?: boolean } = {}): Promise<Written | false> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}${TMP}${process.pid}-${++counter}`;
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        await pipeline(
          Readable.from([typeof body === "string" ? Buffer.from(body) : body]),
          createWriteStream(tmp),
        );
      } else {
        await pipeline(body, createWriteStream(tmp));
      }
      if (opts.ifAbsent) {
        try {
          await link(tmp, path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
          throw e;
        }
      } else {
        // rename replaces atomically; link + unlink would leave a window with no object.
        await rename(tmp, path);
      }
      // A file keeps no checksum.
      return {};
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const path = this.localPath(key);
      return await reads(() => readFile(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async read(key: string): Promise<Readable | undefined> {
    const info = await this.head(key);
    return info ? createReadStream(this.localPath(key)) : undefined;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.localPath(key));
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    // Start at the deepest folder the prefix names fully, then filter by the whole prefix.
    const cut = prefix.lastIndexOf("/");
    const base = cut < 0 ? "" : prefix.slice(0, cut);
    const start = base === "" ? this.root : join(this.root, ...base.split("/"));
    const out: ObjectInfo[] = [];
    let entries: { name: string; parentPath: string; isFile(): boolean }[];
    try {
      entries = (await reads(() =>
        readdir(start, { recursive: true, withFileTypes: true }),
      )) as typeof entries;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.includes(TMP)) continue;
      const full = join(entry.parentPath, entry.name);
      const key = full
        .slice(this.root.length + 1)
        .split(sep)
        .join("/");
      if (!key.startsWith(prefix)) continue;
      const s = await stat(full).catch(() => undefined);
      if (s) out.push({ key, size: s.size, modified: s.mtime });
    }
    return sortByKey(out);
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.localPath(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}
