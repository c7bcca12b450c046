/**
 * Snapshot expiry: a table's snapshots older than a cutoff leave its metadata, but the current one, so
 * its history (and with it `--as-of` and the metadata file) stops growing. A new version without them
 * is committed like any change (versions.ts); their files become unreachable, for orphan removal.
 */
import type { Snapshot, TableMetadata } from "./metadata.ts";
import type { IcebergTable, TableVersion } from "./table.ts";
import { createNextVersion } from "./versions.ts";

export interface Expired {
  /** The snapshots removed from the table's metadata. */
  readonly snapshots: readonly Snapshot[];
  /** The version without them, when there were any. */
  readonly version?: TableVersion;
}

/**
 * The metadata without the snapshots older than `cutoff` (ms) but the current one, and with its metadata
 * log cut at the cutoff too (`previous`, the file it replaces, joins the log first); undefined when no
 * snapshot is that old.
 */
export function withoutExpired(
  m: TableMetadata,
  cutoff: number,
  previous?: { readonly "metadata-file": string; readonly "timestamp-ms": number },
): TableMetadata | undefined {
  const current = m["current-snapshot-id"];
  const keep = (s: Snapshot) => s["snapshot-id"] === current || s["timestamp-ms"] >= cutoff;
  if (m.snapshots.every(keep)) return undefined;
  const kept = new Set(m.snapshots.filter(keep).map((s) => s["snapshot-id"]));
  return {
    ...m,
    "last-updated-ms": Math.max(Date.now(), m["last-updated-ms"] + 1),
    snapshots: m.snapshots.filter(keep),
    "snapshot-log": m["snapshot-log"].filter((l) => kept.has(l["snapshot-id"])),
    "metadata-log": [...m["metadata-log"], ...(previous ? [previous] : [])].filter(
      (l) => l["timestamp-ms"] >= cutoff,
    ),
  };
}

/** Expire the table's snapshots older than `cutoff` (ms since the epoch); `dryRun` commits nothing. */
export async function expireSnapshots(
  table: IcebergTable,
  cutoff: number,
  opts: { dryRun?: boolean } = {},
): Promise<Expired> {
  const latest = await table.latest();
  if (!latest) return { snapshots: [] };
  const next = withoutExpired(latest.metadata, cutoff);
  const gone = (m: TableMetadata, n: TableMetadata | undefined) =>
    n ? m.snapshots.filter((s) => !n.snapshots.includes(s)) : [];
  if (opts.dryRun || !next) return { snapshots: gone(latest.metadata, next) };
  let removed: Snapshot[] = [];
  const done = await createNextVersion(
    table,
    async (loaded) => {
      const m = loaded
        ? withoutExpired(loaded.metadata, cutoff, {
            "metadata-file": table.uri(table.versionKey(loaded.version)),
            "timestamp-ms": loaded.metadata["last-updated-ms"],
          })
        : undefined;
      removed = loaded ? gone(loaded.metadata, m) : [];
      return m ? { metadata: m, written: [] } : undefined;
    },
    // An expiry leaves no mark of its own: a version that exists is another writer's; build again.
    () => false,
    { base: latest },
  );
  return { snapshots: done ? removed : [], ...(done ? { version: done.version } : {}) };
}
