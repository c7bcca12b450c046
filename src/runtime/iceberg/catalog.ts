/**
 * Table catalogs: where a cloud's serverless SQL finds a curated asset's Iceberg table.
 *
 * The store itself is the table's source of truth (a Hadoop-style catalog: `metadata/vN.metadata.json`
 * made current by a put-if-absent of the next version). After each commit the engine tells the stack's
 * catalog (Glue, BigQuery) where the new metadata file is, so Athena or BigQuery read the same snapshot.
 * Locally there is no catalog to tell.
 */

/** One committed version of one table, as a catalog needs it. */
export interface TableCommit {
  /** The catalog namespace the table lives in (a Glue database, a BigQuery dataset). */
  readonly namespace: string;
  /** The table's name in that namespace (the asset's key). */
  readonly name: string;
  /** The table's root location in the store, as a URI (`s3://…`, `gs://…`, `abfss://…`, `file://…`). */
  readonly location: string;
  /** The metadata file this commit made current, as a URI. */
  readonly metadataLocation: string;
  /** The metadata file it replaced; absent for a table's first commit. */
  readonly previousMetadataLocation?: string;
  /** The table metadata's format version sequence number (N of vN.metadata.json): never goes backwards. */
  readonly version: number;
  /** The current snapshot's id, as a decimal string (a 64-bit integer). */
  readonly snapshotId: string;
  /** The current schema, as Iceberg JSON (`{ type: "struct", "schema-id", fields: [...] }`). */
  readonly schema: Record<string, unknown>;
}

/**
 * A catalog that is told about commits. `publish` is idempotent and never moves a table backwards: a
 * commit older than the one the catalog holds (by `version`) is a no-op, so a retried or late call is safe.
 */
export interface TableCatalog {
  /** The namespace the catalog keeps the stack's tables in, when it says: commits are named in it. */
  readonly namespace?: string;
  publish(commit: TableCommit): Promise<void>;
}
