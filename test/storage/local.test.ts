import { writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { daily, multiPartitions, staticPartitions } from "tributary";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { layout, partitionPath, StorageError } from "../../src/contract/storage-layout.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-store-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const text = async (r: Readable | undefined) => {
  const chunks: Buffer[] = [];
  for await (const c of r!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
};

describe("the local store", () => {
  it("reads more objects at once than the process may open files (a plan of a large graph does)", async () => {
    // Past this machine's open-file limit (20,000 here; 1,024 on many): unbounded, the reads fail EMFILE.
    const n = 25_000;
    const folder = join(dir, "store", "_manifests", "big");
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(folder, `${i}.json`), String(i));
    const got = await Promise.all(Array.from({ length: n }, (_, i) => store.get(`_manifests/big/${i}.json`)));
    expect(got.every((b, i) => b?.toString() === String(i))).toBe(true);
  }, 60_000);

  it("puts, gets, streams, lists by prefix and deletes", async () => {
    expect(await store.put("raw/a/2026-11-01/b1.ndjson", "one\n")).toEqual({});
    await store.put("raw/a/2026-11-02/b2.ndjson", Buffer.from("two\n"));
    await store.put("raw/ab/x.ndjson", Readable.from([Buffer.from("th"), Buffer.from("ree\n")]));
    expect((await store.get("raw/a/2026-11-01/b1.ndjson"))!.toString()).toBe("one\n");
    expect(await text(await store.read("raw/ab/x.ndjson"))).toBe("three\n");
    expect((await store.list("raw/a/")).map((o) => [o.key, o.size])).toEqual([
      ["raw/a/2026-11-01/b1.ndjson", 4],
      ["raw/a/2026-11-02/b2.ndjson", 4],
    ]);
    expect((await store.list("raw/a")).map((o) => o.key)).toEqual([
      "raw/a/2026-11-01/b1.ndjson",
      "raw/a/2026-11-02/b2.ndjson",
      "raw/ab/x.ndjson",
    ]);
    expect((await store.list("")).length).toBe(3);
    expect(await store.list("nothing/")).toEqual([]);
    await store.delete("raw/a/2026-11-01/b1.ndjson");
    await store.delete("raw/a/2026-11-01/b1.ndjson");
    expect(await store.get("raw/a/2026-11-01/b1.ndjson")).toBe(undefined);
    expect(await store.read("raw/a/2026-11-01/b1.ndjson")).toBe(undefined);
    expect(await store.head("raw/a/2026-11-01/b1.ndjson")).toBe(undefined);
    expect((await store.head("raw/ab/x.ndjson"))!.size).toBe(6);
    expect(store.uri).toBe(`file://${join(dir, "store")}`);
  });

  it("replaces an object whole, and creates only if absent when asked", async () => {
    await store.put("_manifests/a/m.json", "old");
    await store.put("_manifests/a/m.json", "new");
    expect((await store.get("_manifests/a/m.json"))!.toString()).toBe("new");
    expect(await store.put("_locks/a/p.lock", "first", { ifAbsent: true })).toEqual({});
    expect(await store.put("_locks/a/p.lock", "second", { ifAbsent: true })).toBe(false);
    expect((await store.get("_locks/a/p.lock"))!.toString()).toBe("first");
    // Of many concurrent creators exactly one wins.
    const wins = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.put("_locks/a/q.lock", `${i}`, { ifAbsent: true })),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
    // No temporary file is left behind.
    expect(await readdir(join(dir, "store", "_locks", "a"))).toEqual(["p.lock", "q.lock"]);
  });

  it("leaves no object when a streamed put fails midway", async () => {
    async function* failing() {
      yield Buffer.from("partial");
      throw new Error("disk on fire");
    }
    await expect(store.put("curated/a/_all/v.parquet", failing())).rejects.toThrow("disk on fire");
    expect(await store.list("curated/")).toEqual([]);
  });

  it("refuses keys that could escape the store", async () => {
    for (const key of ["../x", "a/../../x", "a//b", "/abs", "a/b\\c", "a/'b", "a/b;c", "a/.", "a\0b", ""]) {
      await expect(store.put(key, "x")).rejects.toThrow(StorageError);
      await expect(store.get(key)).rejects.toThrow(
        /^storage: object key .* is invalid: segment .* must be letters, digits and _ \. = \| - \(no "\.\.", no empty segments\)\.$/,
      );
    }
  });
});

describe("the storage layout", () => {
  const p = multiPartitions(daily({ start: "2026-11-01" }), staticPartitions("tenant", ["acme"]));
  it("turns partition keys into paths, and refuses keys that are not partitions", () => {
    expect(partitionPath(p, "2026-11-03|acme", "orders")).toBe("2026-11-03/acme");
    expect(partitionPath(undefined, "", "totals")).toBe("_all");
    expect(layout.manifest("orders", "2026-11-03/acme")).toBe(
      "_manifests/orders/2026-11-03/acme/manifest.json",
    );
    for (const bad of [
      "../../etc|acme",
      "2026-11-03|acme'; DROP TABLE x; --",
      "2026-11-03|../acme",
      "2026-11-03",
    ]) {
      expect(() => partitionPath(p, bad, "orders")).toThrow(
        `"orders" has no partition ${JSON.stringify(bad)}.`,
      );
    }
  });
});
