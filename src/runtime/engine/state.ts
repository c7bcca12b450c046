import { layout, partitionPath } from "../../contract/storage-layout.ts";
import type { AnyAsset } from "../../kit/asset.ts";
import { Tables } from "../iceberg/tables.ts";
import type { ObjectStore } from "../storage/port.ts";
import { committedBatches, partitionsOf, type SourcePartition } from "./ingest.ts";
import { type CommittedObject, checkObject, type ObjectCheck } from "./integrity.ts";
import type { AssetManifest, BatchManifest, CheckResult } from "./manifest.ts";
import { type RecordFile, readRecordFile, resolveRecord } from "./records.ts";

/** The last failed attempt at an asset partition, kept until a commit replaces it. */
export interface FailureRecord {
  readonly asset: string;
  readonly partition: string;
  readonly runId: string;
  readonly at: string;
  readonly error?: string;
  readonly checks: readonly CheckResult[];
}

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const body = await store.get(key);
  return body === undefined ? undefined : (JSON.parse(body.toString()) as T);
}

/** An asset partition whose record file's pending record is committed but not yet settled (records.ts). */
export interface Unsettled {
  readonly asset: string;
  readonly partition: string;
}

/**
 * Reads of the store's committed state, each done once per run: asset records (resolved against their
 * tables, see records.ts), failure records and source partitions. `forget` drops what a commit in this
 * run replaced.
 */
export class StoreState {
  readonly store: ObjectStore;
  /** The assets' Iceberg tables, as this run knows them. */
  readonly tables: Tables;
  readonly #manifests = new Map<string, Promise<AssetManifest | undefined>>();
  readonly #batches = new Map<string, Promise<BatchManifest[]>>();
  readonly #unsettled = new Map<string, Unsettled>();
  readonly #sources = new Map<string, Promise<Map<string, SourcePartition>>>();
  readonly #integrity = new Map<string, Promise<ObjectCheck[]>>();

  constructor(store: ObjectStore) {
    this.store = store;
    this.tables = new Tables(store);
  }

  /** The committed record of an asset partition (undefined when it has none). */
  manifest(asset: AnyAsset, partition: string): Promise<AssetManifest | undefined> {
    const key = layout.manifest(asset.key, partitionPath(asset.partitions, partition, asset.key));
    let m = this.#manifests.get(key);
    if (!m) {
      m = this.#resolve(asset.key, key);
      this.#manifests.set(key, m);
    }
    return m;
  }

  async #resolve(asset: string, key: string): Promise<AssetManifest | undefined> {
    const file = await readRecordFile(this.store, key);
    const r = await resolveRecord(file, (snapshot) => this.tables.holds(asset, snapshot));
    if (r.unsettled) this.#unsettled.set(key, { asset, partition: r.record!.partition });
    else this.#unsettled.delete(key);
    return r.record;
  }

  /** The record file of an asset partition as it is now (read again, not remembered): for its writer. */
  recordFile(asset: AnyAsset, partition: string): Promise<RecordFile | undefined> {
    return readRecordFile(
      this.store,
      layout.manifest(asset.key, partitionPath(asset.partitions, partition, asset.key)),
    );
  }

  /** The partitions read so far whose committed pending record is still to be settled. */
  unsettled(): Unsettled[] {
    return [...this.#unsettled.values()];
  }

  failure(asset: AnyAsset, partition: string): Promise<FailureRecord | undefined> {
    return readJson<FailureRecord>(
      this.store,
      layout.failure(asset.key, partitionPath(asset.partitions, partition, asset.key)),
    );
  }

  /** The committed batch manifests of a source, oldest first. */
  batches(source: string): Promise<BatchManifest[]> {
    let b = this.#batches.get(source);
    if (!b) {
      b = committedBatches(this.store, source);
      this.#batches.set(source, b);
    }
    return b;
  }

  sourcePartitions(source: string): Promise<Map<string, SourcePartition>> {
    let s = this.#sources.get(source);
    if (!s) {
      s = this.batches(source).then(partitionsOf);
      this.#sources.set(source, s);
    }
    return s;
  }

  /** The committed data version of an upstream partition: "empty" for a source partition without data. */
  async version(upstream: AnyAsset, partition: string): Promise<string | undefined> {
    if (upstream.kind === "source")
      return (await this.sourcePartitions(upstream.key)).get(partition)?.dataVersion ?? "empty";
    return (await this.manifest(upstream, partition))?.dataVersion;
  }

  /** Every committed partition's record of an asset, by listing its record files. */
  async allManifests(asset: string): Promise<AssetManifest[]> {
    const keys = (await this.store.list(layout.manifestPrefix(asset))).filter((o) =>
      o.key.endsWith("/manifest.json"),
    );
    const out = await Promise.all(
      keys.map(async (o) => {
        let m = this.#manifests.get(o.key);
        if (!m) {
          m = this.#resolve(asset, o.key);
          this.#manifests.set(o.key, m);
        }
        return m;
      }),
    );
    return out.filter((m): m is AssetManifest => m !== undefined);
  }

  /**
   * The objects holding the committed data of an asset or source, with what their commits recorded of
   * them: of `partitions`, or of every partition.
   */
  async committedObjects(a: AnyAsset, partitions?: readonly string[]): Promise<CommittedObject[]> {
    if (a.kind === "source") {
      const parts = await this.sourcePartitions(a.key);
      const chosen = partitions ? partitions.map((p) => parts.get(p)) : [...parts.values()];
      return chosen.flatMap((p) => p?.files ?? []);
    }
    const manifests = partitions
      ? await Promise.all(partitions.map((p) => this.manifest(a, p)))
      : await this.allManifests(a.key);
    return manifests.flatMap((m) => m?.files ?? []);
  }

  /**
   * The quick check (integrity.ts) of an asset partition's committed objects, once per run: an empty
   * list when it has no commit.
   */
  integrity(asset: AnyAsset, partition: string): Promise<ObjectCheck[]> {
    const key = layout.manifest(asset.key, partitionPath(asset.partitions, partition, asset.key));
    let checks = this.#integrity.get(key);
    if (!checks) {
      checks = this.manifest(asset, partition).then((m) =>
        Promise.all((m?.files ?? []).map((f) => checkObject(this.store, f, "quick"))),
      );
      this.#integrity.set(key, checks);
    }
    return checks;
  }

  forget(asset: AnyAsset, partition: string): void {
    const key = layout.manifest(asset.key, partitionPath(asset.partitions, partition, asset.key));
    this.#manifests.delete(key);
    this.#integrity.delete(key);
    this.#unsettled.delete(key);
  }
}
