/**
 * Announcing what the outbox owes (runtime/engine/outbox.ts), from a function:
 * - `drainOwn`: every invocation first announces what its own function's earlier commits still owe (a
 *   publish that failed or ran out of time, a crash between commit and publish, a retry the platform
 *   never made), at most DRAIN_LIMIT entries within one publish budget, then does its work. A drain that
 *   cannot publish does not fail the invocation's own work: it logs why and leaves the entries;
 * - `sweep`: the stack's sweeper (a function of its own, on a schedule) does the same for every
 *   function's entries, discards entries whose commit never happened, and logs how long the oldest
 *   commit still unannounced has waited: the metric each stack's outbox alarm watches.
 * Publishing is always bounded (`publishWithin`): a bus that does not answer fails the one call, never
 * the whole invocation's time.
 */
import type { FunctionKind } from "../../contract/function-env.ts";
import type { Announcement, EntryState, Outbox } from "../engine/outbox.ts";
import { PublishError, type Publisher } from "./publish.ts";

/** What announcing needs of a function's runtime (core.ts `Runtime` is one). */
export interface Announcer {
  readonly fn: {
    readonly asset: string;
    readonly kind: FunctionKind;
    readonly environment: string;
    readonly timeoutSeconds: number;
    /** The asset-events bus the announcements go to. */
    readonly assetEvents: string;
  };
  readonly publisher: Publisher;
  /** How long one publish call may take, connection and retries included. */
  readonly publishBudgetMs: number;
  readonly outbox: Outbox;
  readonly log: (record: Readonly<Record<string, unknown>>) => void;
}

/** A drain's log line, when it announced or discarded anything. */
export const OUTBOX_DRAINED_EVENT = "tributary.outbox.drained";
/** The sweeper's log line after every sweep: the outbox alarms of every cloud read `oldestSeconds`. */
export const OUTBOX_SWEPT_EVENT = "tributary.outbox.swept";
/** A drain that could not read the outbox; the work goes on. */
export const OUTBOX_FAILED_EVENT = "tributary.outbox.failed";

/** Entries one invocation drains of its own function's outbox before its work. */
export const DRAIN_LIMIT = 100;
/** Entries one sweep inspects; what is left waits for the next sweep. */
export const SWEEP_LIMIT = 2000;
/** Announcements per publish call of a drain: a failure costs at most this group. */
const GROUP = 50;

/**
 * Publish `announcements` within `budgetMs` (default the runtime's): the publisher is told to stop
 * when the time is up, and this stops waiting for it then whatever it does; throws PublishError.
 */
export async function publishWithin(
  rt: Pick<Announcer, "publisher" | "publishBudgetMs" | "fn">,
  announcements: readonly Announcement[],
  budgetMs: number = rt.publishBudgetMs,
): Promise<void> {
  const ms = Math.max(0, Math.round(budgetMs));
  const controller = new AbortController();
  // Registered before the publisher's own abort listeners, so a timeout reads the same everywhere.
  const expired = new Promise<never>((_, fail) => {
    controller.signal.addEventListener(
      "abort",
      () =>
        fail(
          new PublishError(
            `publish: the asset-events bus ${rt.fn.assetEvents} did not take ${announcements.length} announcement${announcements.length === 1 ? "" : "s"} within ${ms} ms; they stay in the outbox for the next attempt.`,
          ),
        ),
      { once: true },
    );
  });
  const timer = setTimeout(() => controller.abort(), ms);
  const call = rt.publisher.publish(announcements, { signal: controller.signal });
  call.catch(() => {});
  expired.catch(() => {});
  try {
    await Promise.race([call, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** What one drain or sweep did. */
export interface DrainResult {
  /** Entries inspected. */
  readonly inspected: number;
  /** Entries whose commit exists: owed. */
  readonly owed: number;
  /** Owed entries announced and deleted, and their announcements. */
  readonly settled: number;
  readonly announced: readonly Announcement[];
  /** Entries whose commit is not there yet (a run may be committing it). */
  readonly pending: number;
  /** Entries deleted unannounced: their commit never happened (or was replaced), or unreadable. */
  readonly discarded: number;
  /** Owed entries still in the outbox after the drain, and how long the oldest has waited (0: none). */
  readonly unannounced: number;
  readonly oldestMs: number;
  /** Why publishing stopped, when it did. */
  readonly error?: string;
}

/**
 * Announce what the outbox of `asset` (or of the whole store) owes, oldest commit first, in groups,
 * each group deleted once published; stop at the first publish that fails or when `budgetMs` is spent.
 * Entries past their grace period whose commit never happened, and unreadable ones, are deleted.
 */
export async function drain(
  rt: Pick<Announcer, "publisher" | "publishBudgetMs" | "fn" | "outbox">,
  asset: string | undefined,
  opts: { readonly limit: number; readonly budgetMs: number },
): Promise<DrainResult> {
  const deadline = Date.now() + opts.budgetMs;
  const states = await rt.outbox.scan(asset, { limit: opts.limit, deadline });
  const owed = states
    .filter((s): s is Extract<EntryState, { state: "owed" }> => s.state === "owed")
    .sort((a, b) => b.ageMs - a.ageMs);
  const discard = states.filter((s) => s.state === "abandoned" || s.state === "damaged").map((s) => s.key);
  await rt.outbox.settle(discard);

  const announced: Announcement[] = [];
  let settled = 0;
  let error: string | undefined;
  let next = 0;
  while (next < owed.length) {
    const group: typeof owed = [];
    let size = 0;
    while (
      next < owed.length &&
      (group.length === 0 || size + owed[next]!.entry.announcements.length <= GROUP)
    ) {
      size += owed[next]!.entry.announcements.length;
      group.push(owed[next++]!);
    }
    const budget = Math.min(rt.publishBudgetMs, deadline - Date.now());
    if (budget <= 0) {
      error = `the drain's ${opts.budgetMs} ms were spent before every entry was announced`;
      next -= group.length;
      break;
    }
    const batch = group.flatMap((s) => s.entry.announcements);
    try {
      await publishWithin(rt, batch, budget);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
      next -= group.length;
      break;
    }
    await rt.outbox.settle(group.map((s) => s.key));
    announced.push(...batch);
    settled += group.length;
  }
  const left = owed.slice(next);
  return {
    inspected: states.length,
    owed: owed.length,
    settled,
    announced,
    pending: states.filter((s) => s.state === "pending").length,
    discarded: discard.length,
    unannounced: left.length,
    oldestMs: left.reduce((m, s) => Math.max(m, s.ageMs), 0),
    ...(error ? { error } : {}),
  };
}

/**
 * Before an invocation's work: announce what this function's earlier commits still owe. Never throws:
 * what it could not do is logged and left for the next invocation or the sweep.
 */
export async function drainOwn(rt: Announcer): Promise<void> {
  // The sweeper drains everybody's; the table maintenance announces nothing (its commits change no data).
  if (rt.fn.kind === "sweep" || rt.fn.kind === "maintain") return;
  try {
    const r = await drain(rt, rt.fn.asset, { limit: DRAIN_LIMIT, budgetMs: rt.publishBudgetMs });
    if (r.settled + r.discarded + r.unannounced > 0) {
      rt.log({
        event: OUTBOX_DRAINED_EVENT,
        asset: rt.fn.asset,
        settled: r.settled,
        announced: r.announced.length,
        discarded: r.discarded,
        unannounced: r.unannounced,
        ...(r.error ? { error: r.error } : {}),
      });
    }
  } catch (e) {
    rt.log({
      event: OUTBOX_FAILED_EVENT,
      asset: rt.fn.asset,
      error: e instanceof Error ? e.name : "Error",
      message: e instanceof Error ? e.message : String(e),
    });
  }
}

/**
 * The sweeper's work: drain every function's outbox within a third of its timeout, and log the result
 * with `oldestSeconds`, how long the oldest commit still unannounced has waited (0 when none is).
 */
export async function sweep(rt: Announcer): Promise<DrainResult & { readonly detail: string }> {
  const r = await drain(rt, undefined, {
    limit: SWEEP_LIMIT,
    budgetMs: Math.max(rt.publishBudgetMs, (rt.fn.timeoutSeconds * 1000) / 3),
  });
  const oldestSeconds = Math.round(r.oldestMs / 1000);
  rt.log({
    event: OUTBOX_SWEPT_EVENT,
    environment: rt.fn.environment,
    inspected: r.inspected,
    owed: r.owed,
    settled: r.settled,
    announced: r.announced.length,
    pending: r.pending,
    discarded: r.discarded,
    unannounced: r.unannounced,
    oldestSeconds,
    ...(r.error ? { error: r.error } : {}),
  });
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const detail =
    `outbox: ${plural(r.settled, "commit")} announced (${plural(r.announced.length, "announcement")}), ` +
    `${r.pending} pending, ${r.discarded} discarded; ` +
    (r.unannounced === 0
      ? "nothing is left unannounced."
      : `${plural(r.unannounced, "commit is", "commits are")} still unannounced, the oldest for ${oldestSeconds} s${r.error ? `: ${r.error}` : "."}`);
  return { ...r, detail };
}
