/**
 * The one read path to an asset's committed rows, for readers outside a materialisation (`tributary
 * query`, `tributary diff --data`): an asset's Iceberg table at its current snapshot (iceberg/read.ts,
 * which `query --as-of` reads at an earlier one), a source's committed raw batches; each file checked
 * against its commit before DuckDB opens it (Scratch.readable). How committed data is stored is this
 * module's business; callers get SQL and the files it reads.
 */
import type { AnyAsset } from "../../kit/asset.ts";
import { readTable } from "../iceberg/read.ts";
import { readSql } from "./executor.ts";
import type { Scratch } from "./files.ts";
import type { StoreState } from "./state.ts";
import { literal } from "./types.ts";

export interface CommittedRows {
  /** A SELECT of the rows. */
  readonly sql: string;
  /** The local files it reads (for a sandboxed database's allowed paths). */
  readonly files: readonly string[];
}

/** Every committed row of an asset or source, over all its partitions. */
export async function committedRows(
  state: StoreState,
  scratch: Scratch,
  a: AnyAsset,
): Promise<CommittedRows> {
  const table = a.kind === "asset" ? await readTable(state, scratch, a, undefined) : undefined;
  if (table) return { sql: table.sql, files: table.files };
  // A source's raw batches; an asset without a table yet reads as its records name (no rows).
  const files = await Promise.all((await state.committedObjects(a)).map((o) => scratch.readable(o)));
  return { sql: readSql(a, files), files };
}

/**
 * Every committed row of an asset with its partition's key in a first column named `column`, in
 * partition order (an asset without commits: no rows, the same columns).
 */
export async function committedRowsByPartition(
  state: StoreState,
  scratch: Scratch,
  a: AnyAsset,
  column: string,
): Promise<CommittedRows> {
  const manifests = (await state.allManifests(a.key)).sort((x, y) =>
    x.partition < y.partition ? -1 : x.partition > y.partition ? 1 : 0,
  );
  const files: string[] = [];
  const parts: string[] = [];
  for (const m of manifests) {
    const paths = await Promise.all(m.files.map((o) => scratch.readable(o)));
    files.push(...paths);
    parts.push(`SELECT ${literal(m.partition)} AS "${column}", * FROM (${readSql(a, paths)})`);
  }
  if (parts.length === 0)
    parts.push(`SELECT CAST(NULL AS VARCHAR) AS "${column}", * FROM (${readSql(a, [])})`);
  return { sql: parts.join("\nUNION ALL "), files };
}
