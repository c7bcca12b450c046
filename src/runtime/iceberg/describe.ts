/**
 * What `tributary tables` says of an asset's table: where it is, its current version and snapshot, how
 * many rows and files the snapshot holds (from its summary, nothing else read), how it is partitioned.
 */
import { catalogTable, type TableCatalogRef } from "../../contract/table-names.ts";
import { currentSchema, currentSnapshot, defaultSpec, type TableMetadata } from "./metadata.ts";
import type { Tables } from "./tables.ts";

export interface TableInfo {
  readonly asset: string;
  /** The table's namespace and name in its catalog (locally the store's: "curated"). */
  readonly namespace: string;
  readonly name: string;
  /** The table's root (a URI): what an Iceberg reader opens. */
  readonly location: string;
  /** The current metadata file (a URI), its version N, and the current snapshot; null before the first commit. */
  readonly metadataLocation: string | null;
  readonly version: number | null;
  readonly snapshotId: string | null;
  readonly rows: number;
  readonly files: number;
  /** The partition fields, e.g. "day(order_date)", "identity(tenant_id)". */
  readonly partitionedBy: readonly string[];
  /** How many snapshots the table keeps (gc expires older ones). */
  readonly snapshots: number;
  readonly lastUpdated: string | null;
}

function spec(m: TableMetadata): string[] {
  const schema = currentSchema(m);
  return defaultSpec(m).fields.map((f) => {
    const column = schema.fields.find((c) => c.id === f["source-id"])?.name ?? `field ${f["source-id"]}`;
    return `${f.transform}(${column})`;
  });
}

/** What an asset's table is now. */
export async function describeTable(
  tables: Tables,
  asset: string,
  ref?: TableCatalogRef,
): Promise<TableInfo> {
  const table = tables.table(asset);
  const id = catalogTable(ref ?? { kind: "hadoop", warehouse: tables.store.uri }, asset);
  const latest = await tables.latest(asset);
  const m = latest?.metadata;
  const snapshot = m ? currentSnapshot(m) : undefined;
  return {
    asset,
    namespace: id.namespace,
    name: id.name,
    location: table.location,
    metadataLocation: latest ? table.uri(table.versionKey(latest.version)) : null,
    version: latest?.version ?? null,
    snapshotId: snapshot ? String(snapshot["snapshot-id"]) : null,
    rows: Number(snapshot?.summary["total-records"] ?? 0),
    files: Number(snapshot?.summary["total-data-files"] ?? 0),
    partitionedBy: m ? spec(m) : [],
    snapshots: m?.snapshots.length ?? 0,
    lastUpdated: m ? new Date(m["last-updated-ms"]).toISOString() : null,
  };
}
