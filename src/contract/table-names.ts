/**
 * What a curated asset's Apache Iceberg table is called, in one place for the engine (commits, lineage,
 * `tributary tables`), the stacks (Glue databases, BigQuery datasets) and the pull-request preview:
 *
 *   table           the asset's key ("daily_revenue"), in every catalog
 *   namespace       locally: "curated", the table's folder in the store, which is a Hadoop (file-system)
 *                   catalog's warehouse (Spark: `local.curated.daily_revenue`); in a deployed stack: the
 *                   stack's resource prefix as an identifier ("trib-dev" → "trib_dev"), the name of its
 *                   Glue database or BigQuery dataset
 *   location        `<store>/curated/<asset>` (storage-layout.ts `layout.table`), the same in every store
 *   lineage         the OpenLineage dataset of the table, by OpenLineage's naming rules for where it is
 *                   catalogued: a Hadoop catalog's table is its location (`file` + absolute path, or
 *                   `s3://bucket` + key); Glue `arn:aws:glue:<region>:<account>` + `table/<database>/<table>`;
 *                   BigQuery `bigquery` + `<project>.<dataset>.<table>`
 * Imports nothing of the engine: the plan and the preview use it.
 */
import { fileURLToPath } from "node:url";

/** The namespace of the tables of a local store: their folder, the store being the warehouse. */
export const LOCAL_TABLE_NAMESPACE = "curated";

/**
 * The catalog namespace (Glue database, BigQuery dataset) of a deployed stack's tables: its resource
 * prefix (`DeploymentPlan.prefix`, "trib-dev") in lowercase, every character that is not a letter, a
 * digit or "_" made "_" ("trib_dev"), since Athena and BigQuery accept no other. A name starting with a
 * digit gets a leading "t_".
 */
export function stackTableNamespace(prefix: string): string {
  const name = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `t_${name}` : name;
}

/** An asset's table name: its key (keys are already lowercase identifiers). */
export function tableName(asset: string): string {
  return asset;
}

/** Where a stack's or a store's tables are catalogued. */
export type TableCatalogRef =
  /** The store itself, as a Hadoop catalog: `warehouse` is the store's URI (`ObjectStore.uri`). */
  | { readonly kind: "hadoop"; readonly warehouse: string }
  | { readonly kind: "glue"; readonly region: string; readonly account: string; readonly database: string }
  | { readonly kind: "bigquery"; readonly project: string; readonly dataset: string };

/** A table as its catalog names it. */
export interface TableId {
  readonly namespace: string;
  readonly name: string;
}

/** The namespace and name of an asset's table in a catalog. */
export function catalogTable(ref: TableCatalogRef, asset: string): TableId {
  switch (ref.kind) {
    case "hadoop":
      return { namespace: LOCAL_TABLE_NAMESPACE, name: tableName(asset) };
    case "glue":
      return { namespace: ref.database, name: tableName(asset) };
    case "bigquery":
      return { namespace: ref.dataset, name: tableName(asset) };
  }
}

const AZURE_BLOB = /^https:\/\/([a-z0-9]+)\.blob\.core\.windows\.net\/([^/]+)(\/.*)?$/;

/**
 * A store's URI as Iceberg readers address it (the warehouse of its tables): the same URI, but for an
 * Azure Blob store (`https://<account>.blob.core.windows.net/<container>/<prefix>`), which Iceberg
 * readers (Spark, Synapse, Fabric) address through the Data Lake endpoint:
 * `abfss://<container>@<account>.dfs.core.windows.net/<prefix>`. No trailing slash.
 */
export function warehouseUri(storeUri: string): string {
  const uri = storeUri.replace(/\/+$/, "");
  const azure = AZURE_BLOB.exec(uri);
  return azure ? `abfss://${azure[2]}@${azure[1]}.dfs.core.windows.net${azure[3] ?? ""}` : uri;
}

/** The table's location: `<warehouse>/curated/<asset>`. */
export function tableLocation(storeUri: string, asset: string): string {
  return `${warehouseUri(storeUri)}/${LOCAL_TABLE_NAMESPACE}/${asset}`;
}

/** The OpenLineage dataset (namespace and name) of an asset's table. */
export function lineageTable(ref: TableCatalogRef, asset: string): TableId {
  switch (ref.kind) {
    case "hadoop":
      return locationDataset(tableLocation(ref.warehouse, asset));
    case "glue":
      return {
        namespace: `arn:aws:glue:${ref.region}:${ref.account}`,
        name: `table/${ref.database}/${tableName(asset)}`,
      };
    case "bigquery":
      return { namespace: "bigquery", name: `${ref.project}.${ref.dataset}.${tableName(asset)}` };
  }
}

/**
 * OpenLineage's naming of a location: a file is namespace "file" and its absolute path; an object store
 * URI (s3://bucket/key, gs://…, abfss://container@account…/key, https://account.blob…/container/key) is
 * namespace `<scheme>://<authority>` and the key.
 */
export function locationDataset(location: string): TableId {
  const url = new URL(location);
  if (url.protocol === "file:") return { namespace: "file", name: fileURLToPath(url) };
  const user = url.username ? `${url.username}@` : "";
  return {
    namespace: `${url.protocol}//${user}${url.host}`,
    name: decodeURIComponent(url.pathname.replace(/^\/+/, "")),
  };
}
