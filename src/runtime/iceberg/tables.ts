/**
 * The tables of a store as one run sees them: each asset's table, its definition from the asset, and
 * its latest version read once and kept current by the run's own commits.
 */
import { tableLocation } from "../../contract/table-names.ts";
import { partitionSources } from "../../contract/table-schema.ts";
import type { AssetDef } from "../../kit/asset.ts";
import type { ObjectStore } from "../storage/port.ts";
import type { CommitResult } from "./commit.ts";
import type { TableDefinition } from "./metadata.ts";
import { IcebergTable, type TableVersion } from "./table.ts";

/** What an asset's table should be: its location, the asset's schema, its partition fields. */
export function tableDefinition(store: ObjectStore, a: AssetDef): TableDefinition {
  return {
    location: tableLocation(store.uri, a.key),
    schema: a.schema,
    partitions: partitionSources(a.schema, a.partitions),
  };
}

export class Tables {
  readonly store: ObjectStore;
  readonly #tables = new Map<string, IcebergTable>();
  readonly #latest = new Map<string, Promise<TableVersion | undefined>>();

  constructor(store: ObjectStore) {
    this.store = store;
  }

  table(asset: string): IcebergTable {
    let t = this.#tables.get(asset);
    if (!t) {
      t = new IcebergTable(this.store, asset);
      this.#tables.set(asset, t);
    }
    return t;
  }

  /** The latest version of an asset's table, read once per run (or again after `refresh`). */
  latest(asset: string): Promise<TableVersion | undefined> {
    let v = this.#latest.get(asset);
    if (!v) {
      v = this.table(asset).latest();
      this.#latest.set(asset, v);
      v.catch(() => this.#latest.delete(asset));
    }
    return v;
  }

  refresh(asset: string): void {
    this.#latest.delete(asset);
  }

  /** This run committed a version: it is the latest it knows. */
  committed(asset: string, result: CommitResult): void {
    this.#latest.set(asset, Promise.resolve({ version: result.version, metadata: result.metadata }));
  }

  /**
   * Whether the asset's table holds a snapshot: in the latest version this run knows, else in the
   * latest version now (a commit of another run may have made it since).
   */
  async holds(asset: string, snapshot: string): Promise<boolean> {
    const has = (v: TableVersion | undefined) =>
      v?.metadata.snapshots.some((s) => String(s["snapshot-id"]) === snapshot);
    if (has(await this.latest(asset))) return true;
    this.refresh(asset);
    return has(await this.latest(asset)) ?? false;
  }
}
