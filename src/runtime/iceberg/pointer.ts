/**
 * What every cloud catalog does with a commit: move the table's pointer (the catalog's
 * `metadata_location`) forward to the commit's metadata file, never backwards, and never over another
 * writer's move. Each catalog (glue.ts, bigquery.ts) only says how it reads, creates and conditionally
 * updates its entry; the loop is here:
 *
 * 1. read the entry: its pointer, and the token its conditional update needs (Glue's VersionId, BigQuery's
 *    etag);
 * 2. if it points at version N of our metadata files (`v<N>.metadata.json`) and N is the commit's version
 *    or later, stop: a retried, late or slower writer's publish changes nothing;
 * 3. else update it on that token (or create it when there is none); if another writer changed it in
 *    between, the catalog refuses the token: read again and go back to 2.
 * A pointer that names no version of ours (set by hand, say) counts as older than any commit.
 */
import { metadataVersion } from "../../contract/table-names.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { TableCommit } from "./catalog.ts";

/** A catalog refused or failed a publish in a way no retry of the same call fixes. */
export class CatalogError extends TributaryError {
  override name = "CatalogError";
}

/** A catalog entry as read: where it points (absent: nowhere yet), and what its update is conditioned on. */
export interface Entry<E> {
  readonly location: string | undefined;
  readonly entry: E;
}

/** How one catalog keeps one table's pointer. */
export interface PointerStore<E> {
  /** The entry as messages name it, e.g. `glue table trib_dev.orders`. */
  readonly name: string;
  /** The entry; undefined when the catalog has no such table. */
  read(): Promise<Entry<E> | undefined>;
  /** Create the entry pointing at the commit; false when another writer created it first. */
  create(commit: TableCommit): Promise<boolean>;
  /** Point the entry read as `current` at the commit; false when it changed since it was read. */
  update(current: Entry<E>, commit: TableCommit): Promise<boolean>;
}

/** What a publish did: moved the pointer, found it already there, or found a later commit there. */
export type Moved = "created" | "updated" | "current" | "newer";

/** How many times a publish reads again after losing a race, before it gives up. */
export const MAX_ATTEMPTS = 8;

/** Move the pointer of `store` forward to `commit` (see the module's comment). */
export async function advance<E>(store: PointerStore<E>, commit: TableCommit): Promise<Moved> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await store.read();
    if (!current) {
      if (await store.create(commit)) return "created";
      continue;
    }
    const held = current.location === undefined ? undefined : metadataVersion(current.location);
    if (held !== undefined && held >= commit.version) return held === commit.version ? "current" : "newer";
    if (await store.update(current, commit)) return "updated";
  }
  throw new CatalogError(
    `${store.name}: another writer changed it ${MAX_ATTEMPTS} times while v${commit.version} was published; ` +
      "the next commit of the table publishes again.",
  );
}
