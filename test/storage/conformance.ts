import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageError } from "../../src/contract/storage-layout.ts";
import type { ObjectStore } from "../../src/runtime/storage/port.ts";

export interface OpenedStore {
  readonly store: ObjectStore;
  close(): Promise<void>;
}

export interface StoreCapabilities {
  /**
   * Why the store cannot refuse an `ifAbsent` put of an existing key, when it cannot (an emulator
   * that ignores the condition). The tests that need the refusal are skipped with this reason.
   */
  readonly noConditionalCreate?: string;
  /**
   * The checksum `head` reports, as what it is computed with, or why there is none: "sha256" or "md5"
   * of the whole object's bytes, or `{ none: reason }` (the store keeps none, or the emulator does not).
   */
  readonly checksum: "sha256" | "md5" | { readonly none: string };
}

/**
 * What every ObjectStore must do, as one suite to run against each adapter. `open(path)` opens a
 * store at a fresh place of the backend, `path` being a key prefix in the bucket (a folder for the
 * local store): each test opens its own, so tests never see each other's objects. Stores must list with a page size of 10 or less, so that 25 keys take
 * several pages.
 */
export function describeObjectStore(
  name: string,
  open: (path: string) => Promise<OpenedStore>,
  capabilities: StoreCapabilities,
): void {
  describe(`${name} conforms to the ObjectStore port`, () => {
    let opened: OpenedStore[] = [];
    let store: ObjectStore;
    let run = 0;
    const place = () => `conformance-${process.pid}-${Date.now().toString(36)}-${++run}`;
    const openAt = async (path: string) => {
      const o = await open(path);
      opened.push(o);
      return o.store;
    };
    beforeEach(async () => {
      store = await openAt(place());
    });
    afterEach(async () => {
      await Promise.all(opened.map((o) => o.close()));
      opened = [];
    });

    const algorithm = typeof capabilities.checksum === "string" ? capabilities.checksum : undefined;
    const noChecksum = typeof capabilities.checksum === "object" ? capabilities.checksum.none : undefined;
    /** The store's checksum of `data`, as head reports it. */
    const digest = (data: string | Uint8Array) =>
      `${algorithm}:${createHash(algorithm!).update(data).digest("base64")}`;
    /** What put answers when it wrote `data`: the store's checksum of it, when the store keeps one. */
    const written = (data: string | Uint8Array) => (algorithm ? { checksum: digest(data) } : {});

    const text = async (r: Readable | undefined) => {
      const chunks: Buffer[] = [];
      for await (const c of r!) chunks.push(Buffer.from(c as Uint8Array));
      return Buffer.concat(chunks).toString();
    };

    it("round-trips a string, bytes, a Readable and an async iterable", async () => {
      expect(await store.put("raw/s/one.ndjson", "one\n")).toEqual(written("one\n"));
      expect(await store.put("raw/s/two.bin", new Uint8Array([116, 119, 111]))).toEqual(written("two"));
      expect(
        await store.put("raw/s/three.ndjson", Readable.from([Buffer.from("th"), Buffer.from("ree")])),
      ).toEqual(written("three"));
      async function* parts() {
        yield new TextEncoder().encode("fo");
        yield new TextEncoder().encode("ur");
      }
      expect(await store.put("raw/s/four.ndjson", parts())).toEqual(written("four"));
      expect((await store.get("raw/s/one.ndjson"))!.toString()).toBe("one\n");
      expect((await store.get("raw/s/two.bin"))!.toString()).toBe("two");
      expect((await store.get("raw/s/three.ndjson"))!.toString()).toBe("three");
      expect((await store.get("raw/s/four.ndjson"))!.toString()).toBe("four");
      expect(await text(await store.read("raw/s/three.ndjson"))).toBe("three");
      expect(Buffer.isBuffer(await store.get("raw/s/two.bin"))).toBe(true);
    });

    it("keeps every byte of binary data, and empty objects", async () => {
      const all = Buffer.alloc(256 * 4);
      for (let i = 0; i < all.length; i++) all[i] = i % 256;
      await store.put("curated/b/all-bytes.bin", all);
      await store.put("curated/b/empty.bin", "");
      await store.put("curated/b/empty-stream.bin", Readable.from([]));
      expect((await store.get("curated/b/all-bytes.bin"))!.equals(all)).toBe(true);
      expect((await store.get("curated/b/empty.bin"))!.length).toBe(0);
      expect((await store.get("curated/b/empty-stream.bin"))!.length).toBe(0);
      expect(await text(await store.read("curated/b/empty.bin"))).toBe("");
      expect((await store.head("curated/b/empty.bin"))!.size).toBe(0);
      expect((await store.head("curated/b/all-bytes.bin"))!.size).toBe(1024);
    });

    it("streams a 12 MiB object in and out whole (past multipart thresholds)", async () => {
      const size = 12 * 1024 * 1024;
      const data = randomBytes(size);
      // 1 MiB chunks from a generator: the store cannot know the length in advance.
      async function* chunks() {
        for (let at = 0; at < size; at += 1024 * 1024) yield data.subarray(at, at + 1024 * 1024);
      }
      expect(await store.put("curated/big/v1.parquet", Readable.from(chunks()))).toEqual(written(data));
      expect((await store.head("curated/big/v1.parquet"))!.size).toBe(size);
      const back = await store.get("curated/big/v1.parquet");
      expect(back!.length).toBe(size);
      expect(back!.equals(data)).toBe(true);
      let streamed = 0;
      const parts: Buffer[] = [];
      for await (const c of (await store.read("curated/big/v1.parquet"))!) {
        streamed += (c as Buffer).length;
        parts.push(c as Buffer);
      }
      expect(streamed).toBe(size);
      expect(Buffer.concat(parts).equals(data)).toBe(true);
    });

    it("replaces an object whole on overwrite", async () => {
      await store.put("_manifests/a/_all/manifest.json", "old and longer");
      await store.put("_manifests/a/_all/manifest.json", "new");
      expect((await store.get("_manifests/a/_all/manifest.json"))!.toString()).toBe("new");
      expect((await store.head("_manifests/a/_all/manifest.json"))!.size).toBe(3);
      expect((await store.list("_manifests/")).map((o) => o.key)).toEqual([
        "_manifests/a/_all/manifest.json",
      ]);
    });

    it("creates with ifAbsent when the key is free", async () => {
      expect(await store.put("_locks/a/p.lock", "first", { ifAbsent: true })).toEqual(written("first"));
      expect((await store.get("_locks/a/p.lock"))!.toString()).toBe("first");
      async function* body() {
        yield Buffer.from("streamed");
      }
      expect(await store.put("_locks/a/q.lock", body(), { ifAbsent: true })).toEqual(written("streamed"));
      expect((await store.get("_locks/a/q.lock"))!.toString()).toBe("streamed");
      expect(await store.put("_locks/a/p.lock", "plain overwrite", { ifAbsent: false })).toEqual(
        written("plain overwrite"),
      );
      expect((await store.get("_locks/a/p.lock"))!.toString()).toBe("plain overwrite");
    });

    const refusal = capabilities.noConditionalCreate;
    const refusalTitle = (title: string) => (refusal ? `${title} [skipped: ${refusal}]` : title);

    it.skipIf(refusal !== undefined)(
      refusalTitle("refuses ifAbsent when the key exists, writing nothing"),
      async () => {
        await store.put("_locks/a/p.lock", "first");
        expect(await store.put("_locks/a/p.lock", "second", { ifAbsent: true })).toBe(false);
        expect(
          await store.put("_locks/a/p.lock", Readable.from([Buffer.from("third")]), { ifAbsent: true }),
        ).toBe(false);
        expect((await store.get("_locks/a/p.lock"))!.toString()).toBe("first");
      },
    );

    it.skipIf(refusal !== undefined)(
      refusalTitle("lets exactly one of concurrent ifAbsent writers win"),
      async () => {
        const writers = ["w0", "w1", "w2", "w3"];
        const wins = await Promise.all(
          writers.map((w) => store.put("_locks/race/p.lock", w, { ifAbsent: true })),
        );
        expect(wins.filter((w) => w !== false).length).toBe(1);
        const winner = writers[wins.findIndex((w) => w !== false)];
        expect((await store.get("_locks/race/p.lock"))!.toString()).toBe(winner);
      },
    );

    it.skipIf(algorithm === undefined)(
      algorithm
        ? `heads an object with the ${algorithm} of its bytes, put whole or streamed, and a new one when they change`
        : `heads an object with the store's checksum [skipped: ${noChecksum}]`,
      async () => {
        const small = Buffer.from("PAR1 small\n");
        // Past the block or part size the tests open stores with: a streamed upload in several requests.
        const big = randomBytes(6 * 1024 * 1024 + 7);
        async function* chunks() {
          for (let at = 0; at < big.length; at += 1024 * 1024) yield big.subarray(at, at + 1024 * 1024);
        }
        // The answer to the put and a later head agree: what a commit records is what a check compares.
        expect(await store.put("curated/c/small.parquet", small)).toEqual({ checksum: digest(small) });
        expect(await store.put("curated/c/big.parquet", Readable.from(chunks()), { ifAbsent: true })).toEqual(
          {
            checksum: digest(big),
          },
        );
        expect((await store.head("curated/c/small.parquet"))!.checksum).toBe(digest(small));
        expect((await store.head("curated/c/big.parquet"))!.checksum).toBe(digest(big));
        await store.put("curated/c/small.parquet", "other bytes");
        expect((await store.head("curated/c/small.parquet"))!.checksum).toBe(
          digest(Buffer.from("other bytes")),
        );
      },
    );

    it.skipIf(noChecksum === undefined)(
      noChecksum === undefined
        ? "heads an object without a checksum when the store keeps none [skipped: it keeps one]"
        : `heads an object without a checksum (${noChecksum})`,
      async () => {
        expect(await store.put("curated/c/small.parquet", "PAR1")).toEqual({});
        expect((await store.head("curated/c/small.parquet"))!.checksum).toBe(undefined);
      },
    );

    it("heads an object: its key (relative to the store), size and a recent modification time", async () => {
      const before = Date.now();
      await store.put("curated/h/x.parquet", "12345");
      const info = await store.head("curated/h/x.parquet");
      expect(info!.key).toBe("curated/h/x.parquet");
      expect(info!.size).toBe(5);
      expect(info!.modified).toBeInstanceOf(Date);
      // Clocks of a server and of this process agree within a few seconds (second precision on S3).
      expect(Math.abs(info!.modified.getTime() - before)).toBeLessThan(60_000);
    });

    it("lists by prefix, sorted by key, with exact prefix boundaries", async () => {
      // No key is also the "folder" of another: a filesystem cannot hold both.
      const keys = ["a/bc", "a/b/2", "a/b/1", "a/c/1", "ab/1", "b/1"];
      for (const k of keys) await store.put(k, k);
      const list = async (p: string) => (await store.list(p)).map((o) => o.key);
      expect(await list("a/b")).toEqual(["a/b/1", "a/b/2", "a/bc"]);
      expect(await list("a/b/")).toEqual(["a/b/1", "a/b/2"]);
      expect(await list("a/")).toEqual(["a/b/1", "a/b/2", "a/bc", "a/c/1"]);
      expect(await list("a")).toEqual(["a/b/1", "a/b/2", "a/bc", "a/c/1", "ab/1"]);
      expect(await list("")).toEqual(["a/b/1", "a/b/2", "a/bc", "a/c/1", "ab/1", "b/1"]);
      expect(await list("c/")).toEqual([]);
      const sizes = (await store.list("a/b/")).map((o) => [o.key, o.size]);
      expect(sizes).toEqual([
        ["a/b/1", 5],
        ["a/b/2", 5],
      ]);
    });

    it("round-trips and lists keys with every character the port allows", async () => {
      const keys = [
        "raw/src/2026-11-01/acme|eu/b_1.ndjson",
        "raw/src/dt=2026-11-02/B-2.x.ndjson",
        "raw/src/Z9/_x",
      ];
      for (const k of keys) await store.put(k, k);
      for (const k of keys) expect((await store.get(k))!.toString()).toBe(k);
      expect((await store.list("raw/src/")).map((o) => o.key)).toEqual([
        "raw/src/2026-11-01/acme|eu/b_1.ndjson",
        "raw/src/Z9/_x",
        "raw/src/dt=2026-11-02/B-2.x.ndjson",
      ]);
    });

    it("lists past one page (25 keys, pages of at most 10)", async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `_index/src/${String(i).padStart(2, "0")}.ids`);
      await Promise.all(keys.map((k) => store.put(k, "x")));
      expect((await store.list("_index/src/")).map((o) => o.key)).toEqual(keys);
      expect((await store.list("_index/src/1")).map((o) => o.key)).toEqual(keys.slice(10, 20));
    });

    it("deletes, and deleting a missing key is not an error", async () => {
      await store.put("quarantine/s/b1.ndjson", "bad");
      await store.delete("quarantine/s/b1.ndjson");
      await store.delete("quarantine/s/b1.ndjson");
      await store.delete("quarantine/never/was.ndjson");
      expect(await store.get("quarantine/s/b1.ndjson")).toBe(undefined);
      expect(await store.list("quarantine/")).toEqual([]);
    });

    it("answers undefined for missing keys", async () => {
      await store.put("raw/s/present", "here");
      expect(await store.get("raw/s/absent")).toBe(undefined);
      expect(await store.read("raw/s/absent")).toBe(undefined);
      expect(await store.head("raw/s/absent")).toBe(undefined);
      expect(await store.head("raw/s")).toBe(undefined); // a "folder" is not an object
      expect(await store.list("raw/t")).toEqual([]);
    });

    it("rejects invalid keys and prefixes with a StorageError before any request", async () => {
      const bad = (key: string, segment: string) =>
        `storage: object key ${JSON.stringify(key)} is invalid: segment ${JSON.stringify(segment)} must be letters, digits and _ . = | - (no "..", no empty segments).`;
      const calls: [string, () => Promise<unknown>, string][] = [
        ["put", () => store.put("../etc/passwd", "x"), bad("../etc/passwd", "..")],
        ["put ifAbsent", () => store.put("a//b", "x", { ifAbsent: true }), bad("a//b", "")],
        ["get", () => store.get("/abs"), bad("/abs", "")],
        ["read", () => store.read("a/./b"), bad("a/./b", ".")],
        ["head", () => store.head("a\\b"), bad("a\\b", "a\\b")],
        ["delete", () => store.delete("a b"), bad("a b", "a b")],
        ["list", () => store.list("a/../"), bad("a/..", "..")],
        ["list", () => store.list("/"), bad("", "")],
      ];
      for (const [what, call, message] of calls) {
        const error = await call().then(
          () => new Error(`${what} did not throw`),
          (e: unknown) => e,
        );
        expect(error, what).toBeInstanceOf(StorageError);
        expect((error as Error).message, what).toBe(message);
      }
      expect(await store.list("")).toEqual([]);
    });

    it("keeps keys relative to the store's own prefix", async () => {
      const parentPath = place();
      const parent = await openAt(parentPath);
      const child = await openAt(`${parentPath}/zone`);
      expect(child.uri).toBe(`${parent.uri}/zone`);
      await child.put("curated/a/v1.parquet", "in child");
      await parent.put("zone-sibling/x", "in parent");
      expect((await child.list("")).map((o) => [o.key, o.size])).toEqual([["curated/a/v1.parquet", 8]]);
      expect((await child.head("curated/a/v1.parquet"))!.key).toBe("curated/a/v1.parquet");
      expect((await parent.list("")).map((o) => o.key)).toEqual([
        "zone-sibling/x",
        "zone/curated/a/v1.parquet",
      ]);
      expect((await parent.get("zone/curated/a/v1.parquet"))!.toString()).toBe("in child");
      await parent.delete("zone/curated/a/v1.parquet");
      expect(await child.get("curated/a/v1.parquet")).toBe(undefined);
    });
  });
}
