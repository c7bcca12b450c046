import type { Readable } from "node:stream";
import { StorageError } from "../../contract/storage-layout.ts";
import {
  assertObjectKey,
  assertPrefix,
  type Body,
  type ObjectInfo,
  type ObjectStore,
  sortByKey,
  type Written,
} from "./port.ts";

/** Which store holds each zone: a key's first segment names its zone (see layout.ts). */
export interface Zones {
  readonly [zone: string]: ObjectStore;
}

/**
 * One store made of several: a deployed stack keeps raw events, curated data (with the manifests,
 * failures, id index and locks) and quarantined records in separate buckets or containers, each with
 * its own key, lifecycle and grants (infra/plan: `StorePlan.zones`). The engine sees one store with the
 * layout it always uses; each key goes to the store of its zone, under the same key.
 */
export class ZonedStore implements ObjectStore {
  readonly uri: string;
  readonly #zones: ReadonlyMap<string, ObjectStore>;

  /** `home` names the zone whose store is the lineage namespace (the curated one). */
  constructor(zones: Zones, home: string) {
    this.#zones = new Map(Object.entries(zones));
    const main = this.#zones.get(home);
    if (!main) throw new StorageError(`storage: the zoned store has no zone "${home}".`);
    this.uri = main.uri;
  }

  #of(key: string): ObjectStore {
    assertObjectKey(key);
    const zone = key.slice(0, key.indexOf("/") >>> 0);
    const store = this.#zones.get(zone);
    if (!store) {
      throw new StorageError(
        `storage: no store holds zone "${zone}" (key ${JSON.stringify(key)}); zones: ${[...this.#zones.keys()].join(", ")}.`,
      );
    }
    return store;
  }

  async put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    return this.#of(key).put(key, body, opts);
  }
  async get(key: string): Promise<Buffer | undefined> {
    return this.#of(key).get(key);
  }
  async read(key: string): Promise<Readable | undefined> {
    return this.#of(key).read(key);
  }
  async head(key: string): Promise<ObjectInfo | undefined> {
    return this.#of(key).head(key);
  }
  async delete(key: string): Promise<void> {
    return this.#of(key).delete(key);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    const slash = prefix.indexOf("/");
    if (slash >= 0) return this.#of(`${prefix.slice(0, slash)}/x`).list(prefix);
    // A prefix within the first segment may span zones: ask every store that holds a matching zone,
    // keeping from each only the keys of its own zones.
    const stores = new Set<ObjectStore>();
    for (const [zone, store] of this.#zones) if (zone.startsWith(prefix)) stores.add(store);
    const lists = await Promise.all(
      [...stores].map(async (s) =>
        (await s.list(prefix)).filter((o) => this.#zones.get(o.key.split("/")[0]!) === s),
      ),
    );
    return sortByKey(lists.flat());
  }
}
