/**
 * The table commit (iceberg/commit.ts) on every store that can create an object only if absent: the
 * local store (link(2)), Azurite (If-None-Match: *) and the GCS fake (ifGenerationMatch=0). Writers race
 * for the next version and none loses another's commit; a create whose answer was lost counts as the
 * writer's own; a version whose hint was never written is found by probing. s3rver ignores If-None-Match
 * (see test/storage/conformance.test.ts, whose S3 loopback tests check that S3Store sends it and takes 412
 * as "exists", which is all the commit relies on): on S3 only a single writer's commits are checked.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { staticPartitions, Type } from "tributary";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { layout } from "../../src/contract/storage-layout.ts";
import { partitionSources } from "../../src/contract/table-schema.ts";
import { type CommitRequest, commitTable } from "../../src/runtime/iceberg/commit.ts";
import { currentSnapshot, newSnapshotId, type TableDefinition } from "../../src/runtime/iceberg/metadata.ts";
import type { FileMetrics } from "../../src/runtime/iceberg/stats.ts";
import { IcebergTable } from "../../src/runtime/iceberg/table.ts";
import { AzureBlobStore } from "../../src/runtime/storage/azure-blob.ts";
import { GcsStore } from "../../src/runtime/storage/gcs.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { Body, ObjectStore, Written } from "../../src/runtime/storage/port.ts";
import { S3Store } from "../../src/runtime/storage/s3.ts";
import { type AzureEmulator, type S3Emulator, startAzurite, startS3 } from "../storage/emulators.ts";
import { type GcsFake, startGcsFake } from "../storage/gcs-fake.ts";

const TENANTS = ["a", "b", "c", "d", "e", "f", "g", "h"];
const partitions = staticPartitions("tenant", TENANTS);
const schema = Type.Object({ id: Type.Integer(), tenant: Type.String() });

let dir: string;
let s3: S3Emulator;
let azure: AzureEmulator;
let gcs: GcsFake;
const fast = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };
let n = 0;
const place = () => `commit-${process.pid}-${++n}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-commit-"));
  [s3, azure, gcs] = await Promise.all([startS3(), startAzurite(), startGcsFake()]);
  for (const [k, v] of Object.entries(gcs.env)) vi.stubEnv(k, v);
}, 120_000);
afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([s3?.stop(), azure?.stop(), gcs?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

/** The metrics of a data file of `rows` rows of tenant `t` (the commit reads no data file). */
function metrics(t: string, rows: number): FileMetrics {
  return {
    recordCount: rows,
    fileSizeInBytes: 1000 + rows,
    columnSizes: new Map(),
    valueCounts: new Map([
      [1, rows],
      [2, rows],
    ]),
    nullValueCounts: new Map([
      [1, 0],
      [2, 0],
    ]),
    lowerBounds: new Map(),
    upperBounds: new Map(),
    ranges: new Map([[2, { min: t, max: t }]]),
  };
}

function setup(store: ObjectStore) {
  const table = new IcebergTable(store, "t");
  const definition: TableDefinition = {
    location: table.location,
    schema,
    partitions: partitionSources(schema, partitions),
  };
  /** The commit of one new file of tenant `t`, replacing the tenant's files. */
  const request = (t: string, rows = 10): CommitRequest => ({
    definition,
    partitions,
    replace: [t],
    add: [{ key: layout.curated("t", t, `f-${newSnapshotId()}`), partition: t, metrics: metrics(t, rows) }],
    snapshotId: newSnapshotId(),
  });
  /** The current snapshot's files, as "tenant: rows". */
  const live = async () => {
    const latest = await table.latest();
    const files = await table.liveFiles(latest && currentSnapshot(latest.metadata));
    return files.map((f) => `${f.key.split("/")[3]}: ${f.entry.data_file.record_count}`).sort();
  };
  return { table, request, live };
}

type Opened = { name: string; open: () => ObjectStore; races: boolean };
const STORES: Opened[] = [
  { name: "the local store", open: () => new LocalStore(join(dir, place())), races: true },
  {
    name: "Azurite",
    open: () =>
      new AzureBlobStore({
        account: azure.account,
        container: azure.container,
        serviceUrl: azure.serviceUrl,
        connectionString: azure.connectionString,
        prefix: place(),
        retry: fast,
      }),
    races: true,
  },
  {
    name: "the GCS fake",
    open: () => new GcsStore({ bucket: gcs.bucket, prefix: place(), retry: fast }),
    races: true,
  },
  {
    name: "s3rver",
    open: () =>
      new S3Store({
        bucket: s3.bucket,
        prefix: place(),
        endpoint: s3.endpoint,
        region: "us-east-1",
        credentials: s3.credentials,
        retry: fast,
      }),
    races: false,
  },
];

describe.each(STORES)("the table commit on $name", ({ open, races }) => {
  it("commits a new table, adds partitions and replaces one, each a version with one snapshot", async () => {
    const store = open();
    const { table, request, live } = setup(store);
    const r1 = await commitTable(table, request("a", 3));
    const r2 = await commitTable(table, request("b", 5));
    const r3 = await commitTable(table, request("a", 7));
    expect([r1.version, r2.version, r3.version]).toEqual([1, 2, 3]);
    expect([r1, r2, r3].map((r) => r.snapshot.summary.operation)).toEqual(["append", "append", "overwrite"]);
    expect(r3.snapshot.summary).toMatchObject({
      "added-records": "7",
      "deleted-records": "3",
      "total-records": "12",
      "total-data-files": "2",
    });
    expect(await live()).toEqual(["a: 7", "b: 5"]);
    expect(await table.hint()).toBe(3);
    const latest = (await table.latest())!;
    expect(latest.metadata.snapshots.map((s) => s["snapshot-id"])).toEqual(
      [r1, r2, r3].map((r) => r.snapshot["snapshot-id"]),
    );
    expect(latest.metadata["partition-specs"]).toEqual([
      { "spec-id": 0, fields: [{ "source-id": 2, "field-id": 1000, name: "tenant", transform: "identity" }] },
    ]);
    // Snapshot 1 is still readable as it was.
    expect(
      (await table.liveFiles(latest.metadata.snapshots[0])).map((f) => f.entry.data_file.record_count),
    ).toEqual([3]);
    if (store instanceof S3Store) store.destroy();
  });

  it.skipIf(!races)(
    "writers racing for the next version: the loser rebuilds on the winner's, both commits land",
    async () => {
      const store = open();
      const { table, request, live } = setup(store);
      await commitTable(table, request("a", 1));
      const base = await table.latest();
      // A builds on version 1 and waits; B commits version 2 meanwhile; A's create of version 2 fails.
      let bDone: Promise<unknown> | undefined;
      const a = await commitTable(table, request("c", 3), {
        base: base ?? null,
        beforeCreate: async (attempt) => {
          if (attempt === 1) {
            bDone = commitTable(table, request("b", 2));
            await bDone;
          }
        },
      });
      const b = (await bDone) as Awaited<ReturnType<typeof commitTable>>;
      expect([b.version, b.attempts, a.version, a.attempts]).toEqual([2, 1, 3, 2]);
      expect(a.snapshot["parent-snapshot-id"]).toBe(b.snapshot["snapshot-id"]);
      expect(await live()).toEqual(["a: 1", "b: 2", "c: 3"]);
      // What only A's lost attempt wrote is gone: its manifest list.
      const lists = (await store.list(table.metadataKey("snap-"))).map((o) => o.key);
      expect(lists.filter((k) => k.includes(`snap-${a.snapshot["snapshot-id"]}-1-`))).toEqual([]);
      expect(lists.filter((k) => k.includes(`snap-${a.snapshot["snapshot-id"]}-2-`))).toHaveLength(1);
    },
  );

  it.skipIf(!races)(
    "eight writers of eight partitions at once: eight versions, none lost",
    async () => {
      const { table, request, live } = setup(open());
      const results = await Promise.all(TENANTS.map((t, i) => commitTable(table, request(t, i + 1))));
      expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(await live()).toEqual(TENANTS.map((t, i) => `${t}: ${i + 1}`));
      const latest = (await table.latest())!;
      expect(latest.version).toBe(8);
      expect(latest.metadata.snapshots).toHaveLength(8);
      expect(currentSnapshot(latest.metadata)!.summary["total-records"]).toBe("36");
    },
    60_000,
  );

  it.skipIf(!races)(
    "two writers of one partition at once: one replaces the other, no file twice",
    async () => {
      const { table, request, live } = setup(open());
      await Promise.all([commitTable(table, request("a", 4)), commitTable(table, request("a", 9))]);
      const files = await live();
      expect(files).toHaveLength(1);
      expect(["a: 4", "a: 9"]).toContain(files[0]);
      expect((await table.latest())!.version).toBe(2);
    },
  );
});

/** A store that answers `false` to the first create of a key it has just written: a lost answer, retried. */
class LostAnswer implements ObjectStore {
  readonly uri: string;
  readonly inner: LocalStore;
  lost = 0;
  constructor(inner: LocalStore) {
    this.inner = inner;
    this.uri = inner.uri;
  }
  async put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    const r = await this.inner.put(key, body, opts);
    if (opts?.ifAbsent && r !== false && this.lost === 0) {
      this.lost++;
      return false;
    }
    return r;
  }
  get = (key: string) => this.inner.get(key);
  read = (key: string) => this.inner.read(key);
  head = (key: string) => this.inner.head(key);
  list = (prefix: string) => this.inner.list(prefix);
  delete = (key: string) => this.inner.delete(key);
}

describe("the table commit when a store's answer is lost or a hint is never written", () => {
  it("a create that landed but answered 'exists' is the writer's own: one version, one attempt", async () => {
    const store = new LostAnswer(new LocalStore(join(dir, place())));
    const { table, request, live } = setup(store);
    const r = await commitTable(table, request("a", 2));
    expect([store.lost, r.version, r.attempts]).toEqual([1, 1, 1]);
    expect(await live()).toEqual(["a: 2"]);
    expect(await store.list(table.metadataKey("v2"))).toEqual([]);
  });

  it("a version whose hint was never written is found by probing, and the next commit writes the hint", async () => {
    const store = new LocalStore(join(dir, place()));
    const { table, request } = setup(store);
    await commitTable(table, request("a", 1));
    await commitTable(table, request("b", 1));
    await store.put(table.metadataKey("version-hint.text"), "1");
    expect((await table.latest())!.version).toBe(2);
    expect((await commitTable(table, request("c", 1))).version).toBe(3);
    expect(await table.hint()).toBe(3);
    // With no hint at all, the metadata folder is listed.
    await store.delete(table.metadataKey("version-hint.text"));
    expect((await table.latest())!.version).toBe(3);
  });
});
