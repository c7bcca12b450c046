/**
 * An asset's Iceberg table in a store, as a Hadoop-style (file-system) catalog keeps it, read side:
 *
 *   curated/<asset>/metadata/v<N>.metadata.json   version N of the table; the latest is current
 *   curated/<asset>/metadata/version-hint.text    "<N>", written after each commit: a hint for readers
 *                                                 that open the table by its folder (DuckDB, icebird)
 *   curated/<asset>/metadata/*.avro               manifest lists and manifests
 *   curated/<asset>/data/<partition>/*.parquet    data files
 *
 * The latest version is found as Java's HadoopTableOperations finds it: the hint, then v<N+1>, v<N+2>, …
 * while they exist (a commit whose hint was never written is found); a listing of metadata/ only when the
 * hint is missing or names no file. Metadata holds absolute URIs (`file:///…`, `s3://…`); keys are the
 * store's.
 */
import { layout } from "../../contract/storage-layout.ts";
import { tableLocation } from "../../contract/table-names.ts";
import type { ObjectStore } from "../storage/port.ts";
import { ADDED, DELETED, decodeAvro, type ManifestEntryRecord, type ManifestFileRecord } from "./avro.ts";
import { type Snapshot, TableError, type TableMetadata } from "./metadata.ts";

export const VERSION_HINT = "version-hint.text";

/** One version of the table: N of v<N>.metadata.json and its document. */
export interface TableVersion {
  readonly version: number;
  readonly metadata: TableMetadata;
}

/** A live data file of a snapshot, with the manifest entry and manifest that list it. */
export interface LiveFile {
  /** The file's key in the store. */
  readonly key: string;
  readonly entry: ManifestEntryRecord;
  readonly manifest: ManifestFileRecord;
}

const VERSION_FILE = /^v(\d+)\.metadata\.json$/;

export class IcebergTable {
  readonly store: ObjectStore;
  readonly asset: string;
  /** The table's root as a URI: its `location`. */
  readonly location: string;
  /** Decoded manifests by URI: manifests never change once written. */
  readonly #manifests = new Map<string, ManifestEntryRecord[]>();

  constructor(store: ObjectStore, asset: string) {
    this.store = store;
    this.asset = asset;
    this.location = tableLocation(store.uri, asset);
  }

  /** The key of a file of the metadata folder. */
  metadataKey(file: string): string {
    return layout.tableMetadata(this.asset, file);
  }

  versionKey(version: number): string {
    return this.metadataKey(`v${version}.metadata.json`);
  }

  /** The URI of a key of this table. */
  uri(key: string): string {
    const root = layout.table(this.asset);
    if (!key.startsWith(`${root}/`)) throw new TableError(`${key} is not a file of table ${this.asset}.`);
    return `${this.location}${key.slice(root.length)}`;
  }

  /** The key of a URI the metadata holds. */
  keyOf(uri: string): string {
    if (!uri.startsWith(`${this.location}/`)) {
      throw new TableError(
        `table "${this.asset}" names ${uri}, which is not under its location ${this.location}: was the store moved? Materialise the asset again (--force) to rewrite its table.`,
      );
    }
    return `${layout.table(this.asset)}${uri.slice(this.location.length)}`;
  }

  /** What version-hint.text says, when it is a number. */
  async hint(): Promise<number | undefined> {
    const text = (await this.store.get(this.metadataKey(VERSION_HINT)))?.toString("utf8").trim();
    return text && /^\d+$/.test(text) ? Number(text) : undefined;
  }

  /** The latest version of the table, or undefined when it has none. */
  async latest(): Promise<TableVersion | undefined> {
    let n = (await this.hint()) ?? 0;
    if (n > 0 && !(await this.store.head(this.versionKey(n)))) n = 0;
    if (n === 0) {
      for (const o of await this.store.list(this.metadataKey("v"))) {
        const m = VERSION_FILE.exec(o.key.slice(o.key.lastIndexOf("/") + 1));
        if (m) n = Math.max(n, Number(m[1]));
      }
      if (n === 0) return undefined;
    }
    while (await this.store.head(this.versionKey(n + 1))) n++;
    return this.version(n);
  }

  /** Version N of the table; a TableError when it does not exist. */
  async version(n: number): Promise<TableVersion> {
    const body = await this.store.get(this.versionKey(n));
    if (!body) throw new TableError(`table "${this.asset}" has no version ${n}.`);
    return { version: n, metadata: JSON.parse(body.toString("utf8")) as TableMetadata };
  }

  /** Make version-hint.text say N (readers that trust it then see this version). */
  async writeHint(n: number): Promise<void> {
    await this.store.put(this.metadataKey(VERSION_HINT), String(n));
  }

  async manifestList(snapshot: Snapshot): Promise<ManifestFileRecord[]> {
    const key = this.keyOf(snapshot["manifest-list"]);
    const body = await this.store.get(key);
    if (!body) throw new TableError(`table "${this.asset}": manifest list ${key} is missing.`);
    return (await decodeAvro<ManifestFileRecord>(body)).records;
  }

  /** Remember a manifest this process wrote, so reading it again costs nothing. */
  remember(uri: string, entries: ManifestEntryRecord[]): void {
    this.#manifests.set(uri, entries);
  }

  /**
   * The entries of a manifest, with what they inherit filled in (spec, "Sequence Number Inheritance"):
   * an ADDED entry's null snapshot id and sequence numbers are its manifest's.
   */
  async entries(m: ManifestFileRecord): Promise<ManifestEntryRecord[]> {
    let entries = this.#manifests.get(m.manifest_path);
    if (!entries) {
      const key = this.keyOf(m.manifest_path);
      const body = await this.store.get(key);
      if (!body) throw new TableError(`table "${this.asset}": manifest ${key} is missing.`);
      entries = (await decodeAvro<ManifestEntryRecord>(body)).records;
      this.#manifests.set(m.manifest_path, entries);
    }
    return entries.map((e) => ({
      ...e,
      snapshot_id: e.snapshot_id ?? m.added_snapshot_id,
      sequence_number: e.sequence_number ?? (e.status === ADDED ? m.sequence_number : null),
      file_sequence_number: e.file_sequence_number ?? (e.status === ADDED ? m.sequence_number : null),
    }));
  }

  /** The data files of a snapshot (ADDED and EXISTING entries of its data manifests), in manifest order. */
  async liveFiles(snapshot: Snapshot | undefined): Promise<LiveFile[]> {
    if (!snapshot) return [];
    const out: LiveFile[] = [];
    for (const m of await this.manifestList(snapshot)) {
      if (m.content !== 0) continue;
      for (const entry of await this.entries(m)) {
        if (entry.status !== DELETED)
          out.push({ key: this.keyOf(entry.data_file.file_path), entry, manifest: m });
      }
    }
    return out;
  }
}
