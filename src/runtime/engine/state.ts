import { layout, partitionPath } from "../../contract/storage-layout.ts";
import type { AnyAsset } from "../../kit/asset.ts";
import type { ObjectStore } from "../storage/port.ts";
import { committedBatches, partitionsOf, type SourcePartition } from "./ingest.ts";
import { type CommittedObject, checkObject, type ObjectCheck } from "./integrity.ts";
import type { AssetManifest, BatchManifest, CheckResult } from "./manifest.ts";

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

/**
 * Reads of the store's committed state, each done once per run: asset manifests, failure records and
 * source partitions. `forget` drops what a commit in this run replaced.
 */
export class StoreState {
  readonly store: ObjectStore;
  readonly #manifests = new Map<string, Promise<AssetManifest | undefined>>();
  readonly #batches = new Map<string, Promise<BatchManifest[]>>();
  readonly #sources = new Map<string, Promise<Map<string, SourcePartition>>>();
  readonly #integrity = new Map<string, Promise<ObjectCheck[]>>();

  constructor(store: ObjectStore) {
    this.store = store;
  }

  manifest(asset: AnyAsset, partition: string): Promise<AssetManifest | undefined> {
    const key = layout.manifest(asset.key, partitionPath(asset.partitions, partition, asset.key));
    let m = this.#manifests.get(key);
    if (!m) {
      m = readJson<AssetManifest>(this.store, key);
      this.#manifests.set(key, m);
    }
    return m;
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

  /** Every committed partition's manifest of an asset, by listing its manifests. */
  async allManifests(asset: string): Promise<AssetManifest[]> {
    const keys = (await this.store.list(layout.manifestPrefix(asset))).filter((o) =>
      o.key.endsWith("/manifest.json"),
    );
    const out = await Promise.all(keys.map((o) => readJson<AssetManifest>(this.store, o.key)));
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
  }
}
