/**
 * What a table still needs, for orphan-file removal: the latest metadata file and those its metadata log
 * names, the version hint, and for every snapshot it keeps, its manifest list, its manifests and its
 * live data files. Everything else under the table's folder belongs to no version a reader can open:
 * outputs of runs that crashed before their commit, attempts that lost a race, and what expired
 * snapshots alone used.
 */
import { type IcebergTable, type TableVersion, VERSION_HINT } from "./table.ts";

/**
 * The keys of a table's reachable files in its latest version, or in `version` (the latest as an expiry
 * would leave it); an empty set when the table has no version.
 */
export async function reachableKeys(table: IcebergTable, version?: TableVersion): Promise<Set<string>> {
  const out = new Set<string>();
  const latest = version ?? (await table.latest());
  if (!latest) return out;
  const m = latest.metadata;
  out.add(table.versionKey(latest.version));
  out.add(table.metadataKey(VERSION_HINT));
  for (const l of m["metadata-log"]) out.add(table.keyOf(l["metadata-file"]));
  for (const s of m.snapshots) {
    out.add(table.keyOf(s["manifest-list"]));
    for (const f of await table.liveFiles(s)) {
      out.add(table.keyOf(f.manifest.manifest_path));
      out.add(f.key);
    }
    // A manifest holding only deleted entries is listed too, while its snapshot is kept.
    for (const manifest of await table.manifestList(s)) out.add(table.keyOf(manifest.manifest_path));
  }
  return out;
}
