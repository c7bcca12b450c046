import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORE_ZONES, StorageError } from "../../src/contract/storage-layout.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { ZonedStore } from "../../src/runtime/storage/zoned.ts";

let dir: string;
let raw: LocalStore;
let curated: LocalStore;
let quarantine: LocalStore;
let store: ZonedStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-zoned-"));
  raw = new LocalStore(join(dir, "raw"));
  curated = new LocalStore(join(dir, "curated"));
  quarantine = new LocalStore(join(dir, "quarantine"));
  const zones: Record<string, LocalStore> = {};
  for (const z of STORE_ZONES.raw) zones[z] = raw;
  for (const z of STORE_ZONES.curated) zones[z] = curated;
  for (const z of STORE_ZONES.quarantine) zones[z] = quarantine;
  store = new ZonedStore(zones, "curated");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const files = async (root: string) =>
  (
    (await readdir(root, { recursive: true, withFileTypes: true })) as {
      name: string;
      parentPath: string;
      isFile(): boolean;
    }[]
  )
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();

describe("the zoned store", () => {
  it("puts each key in the store of its zone, under the same key", async () => {
    await store.put("raw/orders/2026-11-01/b.ndjson", "r\n");
    await store.put("curated/daily/acme/v1.parquet", "c");
    await store.put("_manifests/daily/acme/manifest.json", "{}");
    await store.put("quarantine/orders/b.ndjson", "q\n");
    expect(await files(raw.root)).toEqual(["raw/orders/2026-11-01/b.ndjson"]);
    expect(await files(curated.root)).toEqual([
      "_manifests/daily/acme/manifest.json",
      "curated/daily/acme/v1.parquet",
    ]);
    expect(await files(quarantine.root)).toEqual(["quarantine/orders/b.ndjson"]);
    expect((await store.get("raw/orders/2026-11-01/b.ndjson"))!.toString()).toBe("r\n");
    expect((await store.head("quarantine/orders/b.ndjson"))!.size).toBe(2);
    expect(store.uri).toBe(curated.uri);
  });

  it("keeps conditional creates conditional", async () => {
    expect(await store.put("_locks/daily/acme.lock", "a", { ifAbsent: true })).toEqual({});
    expect(await store.put("_locks/daily/acme.lock", "b", { ifAbsent: true })).toBe(false);
    expect((await curated.get("_locks/daily/acme.lock"))!.toString()).toBe("a");
  });

  it("lists one zone from its store, and a prefix spanning zones from every store, sorted", async () => {
    await store.put("raw/a/x", "1");
    await store.put("curated/a/y", "22");
    await store.put("_index/a/z", "333");
    // A stray object in the wrong store is not the zone's: the raw store does not hold curated keys.
    await raw.put("curated/a/stray", "4444");
    expect((await store.list("curated/")).map((o) => o.key)).toEqual(["curated/a/y"]);
    expect((await store.list("")).map((o) => [o.key, o.size])).toEqual([
      ["_index/a/z", 3],
      ["curated/a/y", 2],
      ["raw/a/x", 1],
    ]);
    expect((await store.list("cu")).map((o) => o.key)).toEqual(["curated/a/y"]);
  });

  it("refuses a key of a zone no store holds, naming the zone", async () => {
    await expect(store.put("landing/orders/x.ndjson", "x")).rejects.toThrow(
      new StorageError(
        'storage: no store holds zone "landing" (key "landing/orders/x.ndjson"); zones: raw, curated, _manifests, _failures, _index, _locks, _lineage, _outbox, vectors, quarantine.',
      ),
    );
    await expect(store.get("../x")).rejects.toThrow(StorageError);
  });
});
