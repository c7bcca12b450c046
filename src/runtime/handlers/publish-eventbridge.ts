/**
 * Announcements to an EventBridge bus with PutEvents, bounded: the client connects within a second,
 * gives each request three seconds and three attempts (its standard retries of throttling, 5xx and
 * timeouts), entries EventBridge reports as failed are put again with back-off, and the whole call
 * stops when the caller's signal is aborted (runtime/handlers/outbox.ts `publishWithin`). A bus that
 * never answers costs one publish budget, not the function's timeout.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { Announcement } from "./core.ts";
import { chunks } from "./events.ts";
import { PublishError, type Publisher, type PublishOptions } from "./publish.ts";

export interface EventBridgePublisherOptions {
  /** The bus name (TRIBUTARY_ASSET_EVENTS). */
  readonly bus: string;
  /** A client of its own; default one from the environment (AWS_REGION, AWS_ENDPOINT_URL_EVENTBRIDGE). */
  readonly client?: EventBridgeClient;
  /** Or an endpoint for the default client (tests, LocalStack). */
  readonly endpoint?: string;
  /** Attempts for entries PutEvents reports as failed (default 4). */
  readonly attempts?: number;
  /** Wait before the first retry, doubled each time (default 100 ms). */
  readonly backoffMs?: number;
}

/** EventBridge accepts at most 10 entries per PutEvents call. */
export const PUT_EVENTS_MAX = 10;

/** The default client's bounds: connection, each request, attempts per request. */
export const EVENTBRIDGE_LIMITS = {
  connectionTimeoutMs: 1000,
  requestTimeoutMs: 3000,
  maxAttempts: 3,
} as const;

/** The client a function uses when none is given: bounded connections and requests. */
export function eventBridgeClient(endpoint?: string): EventBridgeClient {
  return new EventBridgeClient({
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: EVENTBRIDGE_LIMITS.maxAttempts,
    requestHandler: {
      connectionTimeout: EVENTBRIDGE_LIMITS.connectionTimeoutMs,
      requestTimeout: EVENTBRIDGE_LIMITS.requestTimeoutMs,
    },
  });
}

/** Announcements to the asset-events bus: PutEvents, retrying the entries EventBridge reports as failed. */
export class EventBridgePublisher implements Publisher {
  readonly bus: string;
  readonly #client: EventBridgeClient;
  readonly #attempts: number;
  readonly #backoffMs: number;

  constructor(opts: EventBridgePublisherOptions) {
    this.bus = opts.bus;
    this.#client = opts.client ?? eventBridgeClient(opts.endpoint);
    this.#attempts = Math.max(1, opts.attempts ?? 4);
    this.#backoffMs = opts.backoffMs ?? 100;
  }

  async publish(announcements: readonly Announcement[], opts: PublishOptions = {}): Promise<void> {
    for (const chunk of chunks(announcements, PUT_EVENTS_MAX)) await this.#put(chunk, opts.signal);
  }

  async #put(announcements: readonly Announcement[], signal: AbortSignal | undefined): Promise<void> {
    let pending: { entry: PutEventsRequestEntry; a: Announcement }[] = announcements.map((a) => ({
      a,
      entry: {
        EventBusName: this.bus,
        Source: MESSAGES.producer,
        DetailType: MESSAGES.assetMaterialised,
        Detail: JSON.stringify({ asset: a.asset, partition: a.partition, dataVersion: a.dataVersion }),
      },
    }));
    for (let n = 1; ; n++) {
      let out: PutEventsCommandOutput;
      try {
        out = await this.#client.send(
          new PutEventsCommand({ Entries: pending.map((p) => p.entry) }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (e) {
        throw new PublishError(
          `eventbridge: ${announcements.length} announcements were not put on bus ${this.bus}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
        );
      }
      if (!out.FailedEntryCount) return;
      // Results come in the order of the entries; a failed one has an error code and no event id.
      const failed = pending
        .map((p, i) => ({ ...p, result: out.Entries?.[i] }))
        .filter((p) => p.result?.ErrorCode !== undefined || p.result?.EventId === undefined);
      if (n >= this.#attempts || signal?.aborted) {
        const reasons = failed
          .map(
            (f) =>
              `${f.a.asset}/${f.a.partition}: ${f.result?.ErrorCode ?? "no result"}${f.result?.ErrorMessage ? ` (${f.result.ErrorMessage})` : ""}`,
          )
          .join("; ");
        throw new PublishError(
          `eventbridge: ${failed.length} of ${announcements.length} announcements were not put on bus ${this.bus} after ${n} attempts: ${reasons}.`,
        );
      }
      await new Promise((r) => setTimeout(r, this.#backoffMs * 2 ** (n - 1)));
      pending = failed;
    }
  }
}
