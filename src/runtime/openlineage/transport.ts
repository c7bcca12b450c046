/**
 * Where OpenLineage events go. Lineage must never fail a materialisation: no transport's `emit` or
 * `close` rejects; whatever goes wrong becomes a warning in `warnings` (and is passed to `onWarning`).
 *
 *   FileTransport        every event of a run, one JSON object per line, in the store at
 *                        `_lineage/<day>/<run id>.ndjson` (always on: the record that travels with the data)
 *   HttpTransport        each event POSTed to `<url>/api/v1/lineage` (Marquez and any OpenLineage backend)
 *   CompositeTransport   several at once
 *   transportsFromEnv    the file, plus HTTP when OPENLINEAGE_URL is set
 */

import { layout } from "../../contract/storage-layout.ts";
import type { ObjectStore } from "../storage/port.ts";
import type { RunEvent } from "./events.ts";

export interface LineageTransport {
  /** Send one event. Never rejects: a failure becomes a warning. */
  emit(event: RunEvent): Promise<void>;
  /** Wait for everything sent so far, then release resources. Never rejects. */
  close(): Promise<void>;
  /** What went wrong so far, one sentence each. */
  readonly warnings: readonly string[];
}

export type WarningHandler = (warning: string) => void;

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (e.name === "TimeoutError" || e.name === "AbortError") return "timed out";
  if (typeof code === "string") return `${e.message} (${code})`;
  if (cause instanceof Error) return `${e.message}: ${cause.message}`;
  return e.message;
}

function what(event: RunEvent): string {
  return `${event.eventType} of ${event.job.name} (run ${event.run.runId})`;
}

abstract class WarningCollector {
  readonly #warnings: string[] = [];
  readonly #onWarning: WarningHandler | undefined;

  constructor(onWarning: WarningHandler | undefined) {
    this.#onWarning = onWarning;
  }

  get warnings(): readonly string[] {
    return this.#warnings;
  }

  protected warn(text: string): void {
    this.#warnings.push(text);
    try {
      this.#onWarning?.(text);
    } catch {
      // A throwing handler must not turn a warning into a failure.
    }
  }
}

/**
 * The events of one run (usually the CLI invocation, whose children share its file) as NDJSON in the
 * store. Object stores cannot append, so the transport keeps the lines in memory and puts the whole
 * object again after every event. A put is atomic, so a crash loses at most the event being written:
 * every earlier event is already in the store, complete. Writes are serialised (an older put never
 * lands after a newer one), and events that arrive while a put is running share the next put. This
 * costs O(events²) bytes written, which is fine for a run's few hundred events.
 * The day is the UTC date the transport was created, so a run that crosses midnight stays in one file.
 */
export class FileTransport extends WarningCollector implements LineageTransport {
  readonly key: string;
  readonly #store: ObjectStore;
  readonly #lines: string[] = [];
  #written = 0;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(store: ObjectStore, runId: string, opts: { now?: Date; onWarning?: WarningHandler } = {}) {
    super(opts.onWarning);
    this.#store = store;
    this.key = layout.lineage((opts.now ?? new Date()).toISOString().slice(0, 10), runId);
  }

  emit(event: RunEvent): Promise<void> {
    if (this.#closed) {
      this.warn(`lineage: ${what(event)} was emitted after the file transport was closed; not written.`);
      return Promise.resolve();
    }
    this.#lines.push(JSON.stringify(event));
    return this.#flush();
  }

  #flush(): Promise<void> {
    this.#queue = this.#queue.then(async () => {
      const count = this.#lines.length;
      if (count === this.#written) return;
      try {
        await this.#store.put(this.key, `${this.#lines.slice(0, count).join("\n")}\n`);
        this.#written = count;
      } catch (e) {
        this.warn(`lineage: could not write ${this.key} to ${this.#store.uri}: ${describe(e)}.`);
      }
    });
    return this.#queue;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Retry a write that failed, once, then give up with what was written.
    await this.#flush();
  }
}

export interface HttpTransportOptions {
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Per attempt; default 5000. */
  timeoutMs?: number;
  /** Path appended to the URL; default "api/v1/lineage" (Marquez's endpoint). */
  endpoint?: string;
  /** Wait before the one retry; default 250 ms. */
  retryDelayMs?: number;
  fetch?: typeof fetch;
  onWarning?: WarningHandler;
}

/**
 * POSTs each event as JSON to `<url>/api/v1/lineage`. A 5xx answer, a network error or a timeout is
 * retried once; a 4xx is not (the event would be refused again). What still fails is a warning.
 */
export class HttpTransport extends WarningCollector implements LineageTransport {
  readonly endpoint: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #retryDelayMs: number;
  readonly #fetch: typeof fetch;
  readonly #pending = new Set<Promise<void>>();

  constructor(url: string, opts: HttpTransportOptions = {}) {
    super(opts.onWarning);
    const path = (opts.endpoint ?? "api/v1/lineage").replace(/^\/+/, "");
    this.endpoint = `${url.replace(/\/+$/, "")}/${path}`;
    this.#apiKey = opts.apiKey;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#retryDelayMs = opts.retryDelayMs ?? 250;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  emit(event: RunEvent): Promise<void> {
    const p = this.#send(event).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
    return p;
  }

  async #send(event: RunEvent): Promise<void> {
    const body = JSON.stringify(event);
    let problem = "";
    for (let attempt = 1; attempt <= 2; attempt++) {
      const outcome = await this.#post(body);
      if (outcome.ok) return;
      problem = attempt === 1 ? outcome.problem : `${problem}; retried: ${outcome.problem}`;
      if (!outcome.retry) break;
      if (attempt === 1 && this.#retryDelayMs > 0)
        await new Promise((r) => setTimeout(r, this.#retryDelayMs));
    }
    this.warn(`lineage: POST ${this.endpoint} failed for ${what(event)}: ${problem}.`);
  }

  async #post(body: string): Promise<{ ok: true } | { ok: false; retry: boolean; problem: string }> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.#apiKey) headers["authorization"] = `Bearer ${this.#apiKey}`;
    try {
      const res = await this.#fetch(this.endpoint, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      // Read the body so the connection can be reused.
      const text = await res.text().catch(() => "");
      if (res.ok) return { ok: true };
      const detail = text.trim().slice(0, 200);
      return {
        ok: false,
        retry: res.status >= 500,
        problem: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${detail ? ` (${detail})` : ""}`,
      };
    } catch (e) {
      return { ok: false, retry: true, problem: describe(e) };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pending]);
  }
}

/** Sends every event to each of its transports at once; its warnings are theirs. */
export class CompositeTransport implements LineageTransport {
  readonly transports: readonly LineageTransport[];

  constructor(transports: readonly LineageTransport[]) {
    this.transports = transports;
  }

  get warnings(): readonly string[] {
    return this.transports.flatMap((t) => t.warnings);
  }

  async emit(event: RunEvent): Promise<void> {
    await Promise.allSettled(this.transports.map((t) => t.emit(event)));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.transports.map((t) => t.close()));
  }
}

const TRUE = /^(true|1|yes)$/i;

/**
 * The transports the environment asks for: always the file in the store; plus HTTP when OPENLINEAGE_URL
 * is set (an http or https URL) and OPENLINEAGE_DISABLED is not "true", with OPENLINEAGE_API_KEY as a
 * bearer token, OPENLINEAGE_ENDPOINT (default "api/v1/lineage") and OPENLINEAGE_TIMEOUT_MS. A URL that
 * is not http(s) is a warning, and the file alone is used.
 */
export function transportsFromEnv(
  store: ObjectStore,
  runId: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  opts: { now?: Date; fetch?: typeof fetch; onWarning?: WarningHandler; retryDelayMs?: number } = {},
): CompositeTransport {
  const onWarning = opts.onWarning;
  const transports: LineageTransport[] = [
    new FileTransport(store, runId, {
      ...(opts.now ? { now: opts.now } : {}),
      ...(onWarning ? { onWarning } : {}),
    }),
  ];
  const http = httpTransportFromEnv(env, opts);
  if (http) transports.push(http);
  return new CompositeTransport(transports);
}

/**
 * The HTTP transport the environment asks for (OPENLINEAGE_URL, …, as `transportsFromEnv` reads them),
 * or undefined when none is set or OPENLINEAGE_DISABLED is "true". Cloud functions use it alone: their
 * grants do not reach the store's `_lineage/` zone.
 */
export function httpTransportFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  opts: { fetch?: typeof fetch; onWarning?: WarningHandler; retryDelayMs?: number } = {},
): LineageTransport | undefined {
  const onWarning = opts.onWarning;
  const url = env["OPENLINEAGE_URL"]?.trim();
  if (!url || TRUE.test(env["OPENLINEAGE_DISABLED"]?.trim() ?? "")) return undefined;
  if (/^https?:\/\/[^/]/i.test(url)) {
    const timeout = Number(env["OPENLINEAGE_TIMEOUT_MS"]);
    const apiKey = env["OPENLINEAGE_API_KEY"]?.trim();
    const endpoint = env["OPENLINEAGE_ENDPOINT"]?.trim();
    return new HttpTransport(url, {
      ...(apiKey ? { apiKey } : {}),
      ...(endpoint ? { endpoint } : {}),
      ...(Number.isFinite(timeout) && timeout > 0 ? { timeoutMs: timeout } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.retryDelayMs === undefined ? {} : { retryDelayMs: opts.retryDelayMs }),
      ...(onWarning ? { onWarning } : {}),
    });
  }
  return new Rejected(
    `lineage: OPENLINEAGE_URL ${JSON.stringify(url)} is not an http(s) URL; events go to the store only.`,
    onWarning,
  );
}

/** A transport that sends nothing and carries the warning of why. */
class Rejected extends WarningCollector implements LineageTransport {
  constructor(reason: string, onWarning: WarningHandler | undefined) {
    super(onWarning);
    this.warn(reason);
  }

  async emit(): Promise<void> {}

  async close(): Promise<void> {}
}
