/**
 * What a curated asset's Iceberg table is called and where it lives: one function for each, read by the
 * engine (where it commits), the deployment plan (the stack's catalog namespace and tables) and the
 * cloud catalogs (the pointer each keeps current). No imports: the plan is pure and the handlers small.
 *
 * - A stack's tables share one catalog namespace (a Glue database, a BigQuery dataset): the stack's name
 *   prefix with `_` for `-` (`trib-dev` → `trib_dev`), a name Glue, Athena and BigQuery all take unquoted.
 * - A table is named by its asset's key, already a lowercase SQL identifier.
 * - It lives under `curated/<asset>` in the store that holds the curated zone, as a Hadoop-style table:
 *   `metadata/v<N>.metadata.json`, made current by a put-if-absent of the next N, beside `data/`.
 */

/** The catalog namespace of the tables of the stack whose resources are named `<prefix>-…`. */
export function tableNamespace(prefix: string): string {
  return prefix.replaceAll("-", "_");
}

/** The name of an asset's table in its namespace. */
export function tableName(asset: string): string {
  return asset;
}

/** The object-key prefix of an asset's table in the curated store, ending in "/". */
export function tablePrefix(asset: string): string {
  return `curated/${asset}/`;
}

/** The table's root location (no trailing "/", as Iceberg writes it) in the store at `storeUri`. */
export function tableLocation(storeUri: string, asset: string): string {
  return `${storeUri.replace(/\/+$/, "")}/${tablePrefix(asset).slice(0, -1)}`;
}

const METADATA_FILE = /\/metadata\/v([1-9][0-9]*)\.metadata\.json$/;

/** N of a `…/metadata/v<N>.metadata.json` location; undefined for any other name. */
export function metadataVersion(location: string): number | undefined {
  const m = METADATA_FILE.exec(location);
  return m ? Number(m[1]) : undefined;
}

/**
 * The catalog a deployed function tells about its commits (FUNCTION_ENV.catalog, as JSON): a Glue
 * database in a region, or a BigQuery dataset (BigLake metastore tables) in a project. Azure has none.
 */
export type CatalogRef =
  | { readonly kind: "glue"; readonly region: string; readonly database: string }
  | { readonly kind: "bigquery"; readonly project: string; readonly dataset: string };

/** A catalog reference as its environment variable holds it. */
export function formatCatalogRef(ref: CatalogRef): string {
  return ref.kind === "glue"
    ? JSON.stringify({ kind: ref.kind, region: ref.region, database: ref.database })
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
    return { kind: "glue", region: o.region as string, database: o.database as string };
  }
  if (o.kind === "bigquery" && str("project") && str("dataset")) {
    return { kind: "bigquery", project: o.project as string, dataset: o.dataset as string };
  }
  return 'is not {"kind":"glue","region":…,"database":…} or {"kind":"bigquery","project":…,"dataset":…}';
}
