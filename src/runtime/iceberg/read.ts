/**
 * Reading an asset as its Iceberg table shows it, for `tributary query [--as-of]`: the snapshot asked
 * for (the current one, one by id, or the one current at a time), its live data files from the
 * manifests, each checked before DuckDB opens it (against its partition's record when it is the
 * committed file, else its size against the manifest's), and read by field id with the snapshot's
 * schema. Any Iceberg reader of the same snapshot sees the same rows.
 */
import type { AssetDef } from "../../kit/asset.ts";
import type { Scratch } from "../engine/files.ts";
import type { CommittedObject } from "../engine/integrity.ts";
import type { StoreState } from "../engine/state.ts";
import { readFilesSql } from "./duck.ts";
import { currentSchema, type Snapshot, snapshotAsOf, TableError, type TableMetadata } from "./metadata.ts";

/** Which snapshot to read: the current one, a snapshot id, or a time (ms since the epoch). */
export type AsOf = { readonly snapshot: string } | { readonly time: number } | undefined;

/** An asset's table read at a snapshot: SQL over the files, and the local paths DuckDB may open. */
export interface TableRead {
  readonly sql: string;
  readonly files: readonly string[];
  /** The snapshot read; absent when the table had none (then the relation is empty). */
  readonly snapshot?: Snapshot;
}

/** The snapshot of `m` at `asOf` (undefined: none then, or the table is empty). */
export function snapshotAt(m: TableMetadata, asOf: AsOf, asset: string): Snapshot | undefined {
  if (asOf === undefined) return snapshotAsOf(m, undefined, asset);
  if ("snapshot" in asOf) return snapshotAsOf(m, asOf.snapshot, asset);
  if (!m["snapshot-log"].some((l) => l["timestamp-ms"] <= asOf.time)) return undefined;
  return snapshotAsOf(m, new Date(asOf.time).toISOString(), asset);
}

/**
 * Resolve `--as-of` for the tables of `assets`: a snapshot id is read in the table that has it, and the
 * other tables as they were when it was made; a time, in every table.
 */
export async function resolveAsOf(
  state: StoreState,
  assets: readonly string[],
  asOf: string | undefined,
): Promise<Map<string, AsOf>> {
  const out = new Map<string, AsOf>(assets.map((a) => [a, undefined]));
  if (asOf === undefined) return out;
  if (/^\d{9,}$/.test(asOf)) {
    for (const a of assets) {
      const s = (await state.tables.latest(a))?.metadata.snapshots.find(
        (x) => String(x["snapshot-id"]) === asOf,
      );
      if (!s) continue;
      for (const other of assets) out.set(other, { time: s["timestamp-ms"] });
      out.set(a, { snapshot: asOf });
      return out;
    }
    throw new TableError(
      `--as-of ${asOf}: no table of ${assets.map((a) => `"${a}"`).join(", ") || "the query"} has snapshot ${asOf} (tributary tables lists the current ones).`,
    );
  }
  const time = Date.parse(asOf);
  if (Number.isNaN(time)) {
    throw new TableError(
      `--as-of ${JSON.stringify(asOf)} is neither a snapshot id nor a time like 2026-11-01T10:00:00Z.`,
    );
  }
  for (const a of assets) out.set(a, { time });
  return out;
}

/** An asset's table at `asOf`, its files checked and made readable by `scratch`. */
export async function readTable(
  state: StoreState,
  scratch: Scratch,
  a: AssetDef,
  asOf: AsOf,
): Promise<TableRead | undefined> {
  const latest = await state.tables.latest(a.key);
  if (!latest) return undefined;
  const m = latest.metadata;
  const snapshot = snapshotAt(m, asOf, a.key);
  const schema = snapshot
    ? (m.schemas.find((s) => s["schema-id"] === snapshot["schema-id"]) ?? currentSchema(m))
    : currentSchema(m);
  const live = await state.tables.table(a.key).liveFiles(snapshot);
  // What the records say of the files they name: their checksums.
  const recorded = new Map<string, CommittedObject>();
  for (const r of await state.allManifests(a.key)) for (const f of r.files) recorded.set(f.key, f);
  const files = await Promise.all(
    live.map((f) =>
      scratch.readable(recorded.get(f.key) ?? { key: f.key, bytes: f.entry.data_file.file_size_in_bytes }),
    ),
  );
  return { sql: readFilesSql(schema, files, m.schemas.length > 1), files, ...(snapshot ? { snapshot } : {}) };
}
