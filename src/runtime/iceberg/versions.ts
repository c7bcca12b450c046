/**
 * How a table moves to its next version, for every change Tributary makes (a snapshot's commit, an
 * expiry of snapshots): build the next metadata on the latest version N, create `v<N+1>.metadata.json`
 * only if it does not exist, and when another writer created it first, build again on theirs. Then
 * version-hint.text says N+1.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TableError, type TableMetadata } from "./metadata.ts";
import type { IcebergTable, TableVersion } from "./table.ts";

/** Gave up: the table kept changing under every attempt. */
export class CommitConflictError extends TableError {
  override name = "CommitConflictError";
}

/** One attempt's next metadata, and the files only this attempt wrote (deleted when it loses). */
export interface NextVersion {
  readonly metadata: TableMetadata;
  readonly written: readonly string[];
}

export interface VersionOptions {
  /** Give up after this long (default 5 minutes): many writers of one table take turns. */
  readonly timeoutMs?: number;
  /** The version to build on first (saves reading it again); later attempts reload. */
  readonly base?: TableVersion | null;
  /** Called before each create of v<N+1> (tests interleave writers here). */
  readonly beforeCreate?: (attempt: number, version: number) => Promise<void>;
}

/**
 * Create the table's next version from `next(latest, attempt)`, retried on a lost race; `ours` tells
 * whether a version that exists is this change's own (a create whose answer was lost and retried by the
 * store answers "exists" for its own write). `next` returning undefined means nothing to change.
 */
export async function createNextVersion(
  table: IcebergTable,
  next: (loaded: TableVersion | undefined, attempt: number) => Promise<NextVersion | undefined>,
  ours: (m: TableMetadata) => boolean,
  opts: VersionOptions = {},
): Promise<{ version: TableVersion; previous: TableVersion | undefined; attempts: number } | undefined> {
  const timeout = opts.timeoutMs ?? 300_000;
  const deadline = Date.now() + timeout;
  for (let attempt = 1; ; attempt++) {
    const loaded = attempt === 1 && opts.base !== undefined ? (opts.base ?? undefined) : await table.latest();
    const built = await next(loaded, attempt);
    if (!built) return undefined;
    const n = (loaded?.version ?? 0) + 1;
    await opts.beforeCreate?.(attempt, n);
    const created = await table.store.put(table.versionKey(n), JSON.stringify(built.metadata), {
      ifAbsent: true,
    });
    if (created !== false || ours((await table.version(n)).metadata)) {
      // The hint is for readers: the version stands without it, and the next change writes it again.
      await table.writeHint(n).catch(() => {});
      return { version: { version: n, metadata: built.metadata }, previous: loaded, attempts: attempt };
    }
    await Promise.all(built.written.map((k) => table.store.delete(k)));
    if (Date.now() > deadline) {
      throw new CommitConflictError(
        `table "${table.asset}": gave up committing after ${attempt} attempts in ${Math.round(timeout / 1000)} s: other writers committed first every time. Run it again.`,
      );
    }
    // Back off, with jitter, so that writers racing for the same version spread out.
    await sleep(Math.random() * Math.min(2000, 25 * 2 ** Math.min(attempt, 7)));
  }
}
