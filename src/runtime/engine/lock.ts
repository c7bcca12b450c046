import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { layout } from "../../contract/storage-layout.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { ObjectStore } from "../storage/port.ts";

export interface LockBody {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly at: string;
}

export class LockTimeoutError extends TributaryError {
  override name = "LockTimeoutError";
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A per-partition lock: an object created only if absent. A lock whose process is gone (same host)
 * or older than `staleAfterMs` is taken over; otherwise we wait for it up to `timeoutMs`.
 * Returns the function that releases it.
 */
export async function acquireLock(
  store: ObjectStore,
  asset: string,
  ppath: string,
  runId: string,
  opts: { timeoutMs?: number; staleAfterMs?: number; pollMs?: number } = {},
): Promise<() => Promise<void>> {
  const key = layout.lock(asset, ppath);
  const body: LockBody = { runId, pid: process.pid, host: hostname(), at: new Date().toISOString() };
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  const staleAfter = opts.staleAfterMs ?? 6 * 3600_000;
  const release = async () => {
    const current = await store.get(key);
    if (current && (JSON.parse(current.toString()) as LockBody).runId === runId) await store.delete(key);
    // Takeover markers of locks this lock replaced: their stale locks are long gone.
    for (const m of await store.list(`${key}.takeover-`)) await store.delete(m.key);
  };
  for (;;) {
    if (await store.put(key, JSON.stringify(body), { ifAbsent: true })) return release;
    const raw = await store.get(key);
    if (raw === undefined) continue;
    let holder: LockBody | undefined;
    try {
      holder = JSON.parse(raw.toString()) as LockBody;
    } catch {
      holder = undefined; // a torn lock cannot be written by put; treat an unreadable one as stale
    }
    const stale =
      !holder ||
      (holder.host === body.host && !alive(holder.pid)) ||
      Date.now() - Date.parse(holder.at) > staleAfter;
    // Our own lock: a create whose answer was lost and retried reads as "exists" (storage/retry.ts).
    if (
      holder?.runId === runId &&
      holder.pid === body.pid &&
      holder.host === body.host &&
      holder.at === body.at
    ) {
      return release;
    }
    if (stale) {
      // Take over through a marker named after the stale lock's content, created only if absent: of
      // several runs that read the same stale lock, exactly one deletes it, and only while it is still
      // that lock. The marker stays until the new holder releases, so no late reader of the stale lock
      // can win it meanwhile.
      const marker = `${key}.takeover-${createHash("sha256").update(raw).digest("hex").slice(0, 16)}`;
      if (await store.put(marker, JSON.stringify(body), { ifAbsent: true })) {
        const still = await store.get(key);
        if (still?.equals(raw)) await store.delete(key);
      } else {
        await sleep(opts.pollMs ?? 200);
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new LockTimeoutError(
        `"${asset}" partition ${ppath} is being materialised by run ${holder!.runId} (pid ${holder!.pid} on ${holder!.host}) since ${holder!.at}; gave up waiting. Retry when it has finished.`,
      );
    }
    await sleep(opts.pollMs ?? 200);
  }
}
