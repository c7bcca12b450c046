/**
 * The outbox: the announcements a commit owes, kept in the same store as the commit.
 *
 * Object stores have no transaction over two objects, so the outbox entry is written first and the commit
 * decides: an entry is owed only when the commit object it names exists (for an asset partition, with the
 * entry's data version). A crash before the commit leaves an entry whose commit never appears; after a
 * grace period longer than any function runs, it is discarded. A crash after the commit leaves an owed
 * entry, which the next invocation of the function, or the stack's sweep, announces. Whoever announces
 * it deletes it. Announcing twice is harmless (a consumer of a repeated announcement finds itself
 * fresh), so the guarantee is: every commit is announced at least once.
 *
 *   _outbox/<asset>/<partition>/<data version>.json   owed by an asset partition's manifest
 *   _outbox/<source>/_batches/<batch>.json            owed by an ingest batch's manifest
 *
 * Only functions that publish write an outbox: a local `tributary materialize` announces nothing and
 * owes nothing.
 */
import { layout } from "../../contract/storage-layout.ts";
import { Tables } from "../iceberg/tables.ts";
import type { ObjectInfo, ObjectStore } from "../storage/port.ts";

/** "This asset partition is committed with this data version": the body of an asset-events message. */
export interface Announcement {
  readonly asset: string;
  readonly partition: string;
  readonly dataVersion: string;
}

/** One outbox entry: the commit it belongs to and the announcements that commit owes. */
export interface OutboxEntry {
  readonly format: 1;
  /** The key of the commit object: an asset partition's manifest, or an ingest batch's manifest. */
  readonly commit: string;
  /** For an asset partition: the data version its manifest must hold for the entry to be owed. */
  readonly dataVersion?: string;
  readonly announcements: readonly Announcement[];
  /** When the entry was written, just before the commit. */
  readonly at: string;
}

/**
 * What an entry is now:
 * - `owed`: its commit exists (with its data version): announce it, then delete it;
 * - `pending`: its commit is not there (yet, or any more with this data version) and the entry is
 *   younger than the grace period: a run may be committing it now;
 * - `abandoned`: the same, past the grace period: the commit never happened or was replaced by a later
 *   one (which owes its own announcements); the entry is deleted;
 * - `damaged`: not an outbox entry (unreadable): deleted, with the reason logged.
 */
export type EntryState =
  | {
      readonly state: "owed";
      readonly key: string;
      readonly entry: OutboxEntry;
      /** When the commit was made (the manifest's finish time, the batch's commit time). */
      readonly committedAt: string;
      /** How long it has waited to be announced, from the commit. */
      readonly ageMs: number;
    }
  | {
      readonly state: "pending" | "abandoned";
      readonly key: string;
      readonly entry: OutboxEntry;
      /** From the entry's writing. */
      readonly ageMs: number;
    }
  | { readonly state: "damaged"; readonly key: string; readonly reason: string; readonly ageMs: number };

/**
 * How long an entry may wait for its commit: longer than any function runs (15 minutes on every
 * cloud; stack configs cap timeouts at 900 s), as for locks (CLOUD_LOCK_STALE_MS).
 */
export const OUTBOX_GRACE_MS = 16 * 60_000;

export interface OutboxOptions {
  /** The clock, for tests. */
  readonly now?: () => Date;
  /** How long an entry waits for its commit before it is discarded (default OUTBOX_GRACE_MS). */
  readonly graceMs?: number;
}

export interface ScanOptions {
  /** Inspect at most this many entries, oldest keys first (default 1,000). */
  readonly limit?: number;
  /** Stop reading entries at this time (ms since the epoch); those not read are left for later. */
  readonly deadline?: number;
}

/** Reads at once while inspecting entries: each needs the entry and its commit. */
const READS_AT_ONCE = 16;

/** The outbox of one store. */
export class Outbox {
  readonly store: ObjectStore;
  readonly #now: () => Date;
  readonly #graceMs: number;
  readonly #tables: Tables;

  constructor(store: ObjectStore, opts: OutboxOptions = {}) {
    this.store = store;
    this.#tables = new Tables(store);
    this.#now = opts.now ?? (() => new Date());
    this.#graceMs = opts.graceMs ?? OUTBOX_GRACE_MS;
  }

  /** Record what the commit of an asset partition owes; call before writing its manifest. */
  async oweAsset(asset: string, ppath: string, a: Announcement): Promise<string> {
    const key = layout.outbox(asset, ppath, a.dataVersion);
    await this.#write(key, {
      commit: layout.manifest(asset, ppath),
      dataVersion: a.dataVersion,
      announcements: [a],
    });
    return key;
  }

  /** Record what the commit of an ingest batch owes (one announcement per partition it wrote). */
  async oweBatch(source: string, batch: string, announcements: readonly Announcement[]): Promise<string> {
    const key = layout.outboxBatch(source, batch);
    await this.#write(key, { commit: layout.batch(source, batch), announcements });
    return key;
  }

  async #write(key: string, e: Omit<OutboxEntry, "format" | "at">): Promise<void> {
    const entry: OutboxEntry = { format: 1, ...e, at: this.#now().toISOString() };
    await this.store.put(key, `${JSON.stringify(entry)}\n`);
  }

  /** The entries are announced (or discarded): delete them. */
  async settle(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => this.store.delete(k)));
  }

  /**
   * The entries under the outbox of `asset` (or of every asset and source), each with what it is now,
   * in key order, at most `limit` of them.
   */
  async scan(asset?: string, opts: ScanOptions = {}): Promise<EntryState[]> {
    const listed = (await this.store.list(layout.outboxPrefix(asset))).filter((o) => o.key.endsWith(".json"));
    const chosen = listed.slice(0, opts.limit ?? 1000);
    const out: (EntryState | undefined)[] = [];
    let next = 0;
    const worker = async () => {
      while (next < chosen.length) {
        if (opts.deadline !== undefined && Date.now() >= opts.deadline) return;
        const i = next++;
        out[i] = await this.inspect(chosen[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READS_AT_ONCE, chosen.length) }, worker));
    return out.filter((s): s is EntryState => s !== undefined);
  }

  /** What one entry is now (read it, then its commit); undefined when someone else deleted it meanwhile. */
  async inspect(info: ObjectInfo): Promise<EntryState | undefined> {
    const now = this.#now().getTime();
    const body = await this.store.get(info.key);
    if (!body) return undefined;
    const entry = parseEntry(body);
    if (typeof entry === "string") {
      return { state: "damaged", key: info.key, reason: entry, ageMs: now - info.modified.getTime() };
    }
    const committedAt = await this.#committed(entry);
    if (committedAt !== undefined) {
      const at = Date.parse(committedAt);
      return {
        state: "owed",
        key: info.key,
        entry,
        committedAt,
        ageMs: Math.max(0, now - (Number.isNaN(at) ? Date.parse(entry.at) : at)),
      };
    }
    const ageMs = Math.max(0, now - Date.parse(entry.at));
    return { state: ageMs >= this.#graceMs ? "abandoned" : "pending", key: info.key, entry, ageMs };
  }

  /**
   * When the entry's commit was made, or undefined when it does not exist (with the entry's version). An
   * asset partition's record that is still pending counts once its table holds its snapshot (records.ts).
   */
  async #committed(entry: OutboxEntry): Promise<string | undefined> {
    const body = await this.store.get(entry.commit);
    if (!body) return undefined;
    let commit: {
      dataVersion?: unknown;
      committedAt?: unknown;
      timings?: { finishedAt?: unknown };
      pending?: { dataVersion?: unknown; snapshot?: unknown; timings?: { finishedAt?: unknown } };
    };
    try {
      commit = JSON.parse(body.toString("utf8")) as typeof commit;
    } catch {
      return undefined;
    }
    const pending = commit.pending;
    if (entry.dataVersion !== undefined && commit.dataVersion !== entry.dataVersion) {
      const asset = entry.commit.split("/")[1]!;
      if (
        pending?.dataVersion !== entry.dataVersion ||
        typeof pending.snapshot !== "string" ||
        !(await this.#tables.holds(asset, pending.snapshot))
      ) {
        return undefined;
      }
      commit = pending;
    }
    const at = commit.timings?.finishedAt ?? commit.committedAt;
    return typeof at === "string" ? at : entry.at;
  }
}

/** An entry's JSON, or why it is not one. */
function parseEntry(body: Buffer): OutboxEntry | string {
  let e: Partial<OutboxEntry>;
  try {
    e = JSON.parse(body.toString("utf8")) as Partial<OutboxEntry>;
  } catch {
    return "not JSON";
  }
  if (
    e?.format !== 1 ||
    typeof e.commit !== "string" ||
    !e.commit.startsWith("_manifests/") ||
    typeof e.at !== "string" ||
    !Array.isArray(e.announcements) ||
    !e.announcements.every(
      (a) =>
        typeof a?.asset === "string" && typeof a.partition === "string" && typeof a.dataVersion === "string",
    )
  ) {
    return "not an outbox entry of format 1";
  }
  return e as OutboxEntry;
}
