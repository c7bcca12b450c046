/**
 * What a curated asset's Iceberg table is called and where it lives: one function for each, read by the
 * engine (where it commits, how lineage names it), the deployment plan (the stack's catalog namespace and
 * tables), the cloud catalogs (the pointer each keeps current) and the pull-request preview. No imports of
 * the engine: the plan is pure and the handlers small.
 *
 * - A stack's tables share one catalog namespace (a Glue database, a BigQuery dataset): the stack's name
 *   prefix with `_` for `-` (`trib-dev` → `trib_dev`), a name Glue, Athena and BigQuery all take unquoted.
 *   A local store is a Hadoop (file-system) catalog whose warehouse is the store: its tables' namespace is
 *   their folder, "curated" (Spark: `local.curated.daily_revenue`).
 * - A table is named by its asset's key, already a lowercase SQL identifier.
 * - It lives under `curated/<asset>` in the store that holds the curated zone, as a Hadoop-style table:
 *   `metadata/v<N>.metadata.json`, made current by a put-if-absent of the next N, beside `data/`.
 * - Its OpenLineage dataset follows OpenLineage's naming for where it is catalogued: a Hadoop catalog's
 *   table is its location (`file` + absolute path, or `s3://bucket` + key); Glue
 *   `arn:aws:glue:<region>:<account>` + `table/<database>/<table>`; BigQuery `bigquery` +
 *   `<project>.<dataset>.<table>`.
 */
import { fileURLToPath } from "node:url";

/**
 * The catalog namespace (Glue database, BigQuery dataset) of the tables of the stack whose resources are
 * named `<prefix>-…`: the prefix in lowercase, every character that is not a letter, a digit or "_" made
 * "_" (`trib-dev` → `trib_dev`), since Athena and BigQuery accept no other; a leading digit gets "t_".
 */
export function tableNamespace(prefix: string): string {
  const name = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return /^[0-9]/.test(name) ? `t_${name}` : name;
}

/** The namespace of the tables of a local store: their folder, the store being the warehouse. */
export const LOCAL_TABLE_NAMESPACE = "curated";

/** The name of an asset's table in its namespace. */
export function tableName(asset: string): string {
  return asset;
}

/** The object-key prefix of an asset's table in the curated store, ending in "/". */
export function tablePrefix(asset: string): string {
  return `curated/${asset}/`;
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

/** The table's root location (no trailing "/", as Iceberg writes it) in the store at `storeUri`. */
export function tableLocation(storeUri: string, asset: string): string {
  return `${warehouseUri(storeUri)}/${tablePrefix(asset).slice(0, -1)}`;
}

const METADATA_FILE = /\/metadata\/v([1-9][0-9]*)\.metadata\.json$/;

/** N of a `…/metadata/v<N>.metadata.json` location; undefined for any other name. */
export function metadataVersion(location: string): number | undefined {
  const m = METADATA_FILE.exec(location);
  return m ? Number(m[1]) : undefined;
}

/**
 * The catalog a deployed function tells about its commits (FUNCTION_ENV.catalog, as JSON): a Glue
 * database in a region (with the AWS account when known, which OpenLineage's Glue names need), or a
 * BigQuery dataset (BigLake metastore tables) in a project. Azure has none.
 */
export type CatalogRef =
  | { readonly kind: "glue"; readonly region: string; readonly account?: string; readonly database: string }
  | { readonly kind: "bigquery"; readonly project: string; readonly dataset: string };

/** A catalog reference as its environment variable holds it. */
export function formatCatalogRef(ref: CatalogRef): string {
  return ref.kind === "glue"
    ? JSON.stringify({
        kind: ref.kind,
        region: ref.region,
        ...(ref.account ? { account: ref.account } : {}),
        database: ref.database,
      })
    : JSON.stringify({ kind: ref.kind, project: ref.project, dataset: ref.dataset });
}

/** A catalog reference from its variable's text; a one-line reason when it is not one. */
export function parseCatalogRef(text: string): CatalogRef | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "is not JSON";
  }
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const str = (k: string) => typeof o[k] === "string" && (o[k] as string) !== "";
  if (o.kind === "glue" && str("region") && str("database")) {
    return {
      kind: "glue",
      region: o.region as string,
      ...(str("account") ? { account: o.account as string } : {}),
      database: o.database as string,
    };
  }
  if (o.kind === "bigquery" && str("project") && str("dataset")) {
    return { kind: "bigquery", project: o.project as string, dataset: o.dataset as string };
  }
  return 'is not {"kind":"glue","region":…,"database":…} or {"kind":"bigquery","project":…,"dataset":…}';
}

/**
 * Where a run's tables are catalogued, for their names (commits, lineage, `tributary tables`): the
 * store itself as a Hadoop catalog (`warehouse` is the store's URI, `ObjectStore.uri`), or a stack's
 * catalog (its Glue reference may carry the AWS account, which OpenLineage's Glue names need).
 */
export type TableCatalogRef = { readonly kind: "hadoop"; readonly warehouse: string } | CatalogRef;

/** A table as its catalog names it, or a dataset as OpenLineage names it. */
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

/**
 * The OpenLineage dataset of an asset's table in a store (`storeUri`): as its catalog names it; a Glue
 * table whose account is not known is named by its location, as a Hadoop catalog's.
 */
export function lineageTable(ref: TableCatalogRef, asset: string, storeUri: string): TableId {
  if (ref.kind === "glue" && ref.account !== undefined) {
    return {
      namespace: `arn:aws:glue:${ref.region}:${ref.account}`,
      name: `table/${ref.database}/${tableName(asset)}`,
    };
  }
  if (ref.kind === "bigquery") {
    return { namespace: "bigquery", name: `${ref.project}.${ref.dataset}.${tableName(asset)}` };
  }
  return locationDataset(tableLocation(ref.kind === "hadoop" ? ref.warehouse : storeUri, asset));
}

/**
 * OpenLineage's naming of a location: a file is namespace "file" and its absolute path; an object store
 * URI (s3://bucket/key, gs://…, abfss://container@account…/key) is namespace `<scheme>://<authority>` and
 * the key.
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
