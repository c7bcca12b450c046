/**
 * The Iceberg view of a store, checked against Tributary's records and `tributary query` (shared by the
 * crash and concurrency tests): each asset's table holds exactly the files its committed records name
 * (with their sizes and rows), its latest metadata validates against the REST catalog's `TableMetadata`,
 * every record's snapshot is in it, and icebird, opening the table by its folder as any reader does
 * (through version-hint.text), reads exactly what `query` returns for the snapshot it finds.
 */
import { expect } from "vitest";
import type { AssetManifest } from "../../../src/runtime/engine/manifest.ts";
import { currentSchema, currentSnapshot } from "../../../src/runtime/iceberg/metadata.ts";
import { Tables } from "../../../src/runtime/iceberg/tables.ts";
import type { LocalStore } from "../../../src/runtime/storage/local.ts";
import { hintedMetadata, icebirdRows, rowSet, tableMetadataValidator } from "../../iceberg/readers.ts";
import { ASSETS, type CliServer } from "./store.ts";

export interface TablesSeen {
  /** Tables whose version hint names an older version than the latest (a crash between the two). */
  readonly lagging: number;
  /** Table versions, summed over the assets. */
  readonly versions: number;
}

let validate: ((m: unknown) => string[]) | undefined;

/** Check every asset's table of the store in `dir` against `records` (by "asset/partition") and `query`. */
export async function checkTables(
  dir: string,
  store: LocalStore,
  records: ReadonlyMap<string, AssetManifest>,
  server: CliServer,
): Promise<TablesSeen> {
  validate ??= await tableMetadataValidator();
  const tables = new Tables(store);
  let lagging = 0;
  let versions = 0;
  for (const a of ASSETS) {
    const committed = [...records.values()].filter((m) => m.asset === a.key);
    const latest = await tables.latest(a.key);
    if (!latest) {
      expect({ asset: a.key, committed: committed.length }).toEqual({ asset: a.key, committed: 0 });
      continue;
    }
    versions += latest.version;
    const m = latest.metadata;
    expect({ asset: a.key, errors: validate(m) }).toEqual({ asset: a.key, errors: [] });
    const snapshot = currentSnapshot(m)!;
    // The table holds exactly the committed records' files, as they recorded them.
    const live = await tables.table(a.key).liveFiles(snapshot);
    const named = committed.flatMap((r) => r.files);
    expect({
      asset: a.key,
      files: live
        .map((f) => [f.key, f.entry.data_file.file_size_in_bytes, f.entry.data_file.record_count])
        .sort(),
    }).toEqual({ asset: a.key, files: named.map((f) => [f.key, f.bytes, f.rows]).sort() });
    expect({ asset: a.key, records: Number(snapshot.summary["total-records"]) }).toEqual({
      asset: a.key,
      records: committed.reduce((n, r) => n + r.rowCount, 0),
    });
    const ids = new Set(m.snapshots.map((s) => String(s["snapshot-id"])));
    for (const r of committed) {
      expect({ record: `${a.key}/${r.partition}`, inTable: ids.has(r.snapshot ?? "") }).toEqual({
        record: `${a.key}/${r.partition}`,
        inTable: true,
      });
    }
    // icebird, by the table's folder: a whole snapshot, the one query shows (or, when the hint lags
    // behind a commit a kill interrupted, the one query shows as of that snapshot).
    const location = tables.table(a.key).location;
    const hinted = await hintedMetadata(location);
    const schema = currentSchema(m);
    const seen = await icebirdRows(location);
    if (hinted["current-snapshot-id"] === m["current-snapshot-id"]) {
      expect({ asset: a.key, rows: seen }).toEqual({
        asset: a.key,
        rows: await queried(server, dir, a.key, schema),
      });
    } else {
      lagging++;
      const asOf = String(hinted["current-snapshot-id"]);
      expect({ asset: a.key, rows: seen }).toEqual({
        asset: a.key,
        rows: await queried(server, dir, a.key, schema, asOf),
      });
    }
  }
  return { lagging, versions };
}

async function queried(
  server: CliServer,
  dir: string,
  asset: string,
  schema: Parameters<typeof rowSet>[1],
  asOf?: string,
): Promise<string[]> {
  const r = await server.run([
    "query",
    `SELECT * FROM ${asset}`,
    "--json",
    "--store",
    dir,
    ...(asOf ? ["--as-of", asOf] : []),
  ]);
  if (r.code !== 0 || r.err !== "") throw new Error(`query of ${asset} exited ${r.code}: ${r.err}`);
  return rowSet(JSON.parse(r.out) as Record<string, unknown>[], schema);
}
