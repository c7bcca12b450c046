/**
 * Announcements to a Pub/Sub topic, bounded: each Publish RPC has a three-second deadline (connecting
 * included: gRPC waits for the channel within the call's deadline), retried on the codes Google retries
 * Publish on, within nine seconds in all (the client's own defaults are 60 s per RPC and 600 s in all),
 * and the caller stops waiting when its signal is aborted (runtime/handlers/outbox.ts `publishWithin`).
 */
import { PubSub, type Topic } from "@google-cloud/pubsub";
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { Announcement } from "./core.ts";
import { PublishError, type Publisher, type PublishOptions } from "./publish.ts";

export interface PubSubPublisherOptions {
  /** The topic's full name, `projects/<project>/topics/<topic>` (TRIBUTARY_ASSET_EVENTS). */
  readonly topic: string;
  /** A client of its own (another endpoint, the REST fallback); default one from the environment. */
  readonly pubsub?: PubSub;
}

/** gRPC status codes Google's Publish retry settings retry on (publisher_client_config.json). */
const RETRY_CODES = [
  1, // CANCELLED
  2, // UNKNOWN
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL
  14, // UNAVAILABLE
];

/** The bounds of one publish: each RPC, and every retry of it together. */
export const PUBSUB_LIMITS = { rpcTimeoutMs: 3000, totalTimeoutMs: 9000 } as const;

/** The call settings of every Publish RPC (google-gax CallOptions). */
export const PUBLISH_GAX_OPTIONS = {
  timeout: PUBSUB_LIMITS.rpcTimeoutMs,
  retry: {
    retryCodes: RETRY_CODES,
    backoffSettings: {
      initialRetryDelayMillis: 100,
      retryDelayMultiplier: 2,
      maxRetryDelayMillis: 1000,
      initialRpcTimeoutMillis: PUBSUB_LIMITS.rpcTimeoutMs,
      rpcTimeoutMultiplier: 1,
      maxRpcTimeoutMillis: PUBSUB_LIMITS.rpcTimeoutMs,
      totalTimeoutMillis: PUBSUB_LIMITS.totalTimeoutMs,
    },
  },
} as const;

/** Announcements to the asset-events topic, with the attributes the consumers' subscriptions filter on. */
export class PubSubPublisher implements Publisher {
  readonly topic: string;
  readonly #pubsub: PubSub;
  #topic: Topic | undefined;

  constructor(opts: PubSubPublisherOptions) {
    this.topic = opts.topic;
    this.#pubsub = opts.pubsub ?? new PubSub();
  }

  async publish(announcements: readonly Announcement[], opts: PublishOptions = {}): Promise<void> {
    this.#topic ??= this.#pubsub.topic(this.topic, {
      batching: { maxMessages: 100, maxMilliseconds: 10 },
      gaxOpts: PUBLISH_GAX_OPTIONS as never,
    });
    const topic = this.#topic;
    const aborted = new Promise<never>((_, fail) => {
      const stop = () => fail(new Error(`no answer before the publish budget ran out`));
      if (opts.signal?.aborted) stop();
      else opts.signal?.addEventListener("abort", stop, { once: true });
    });
    aborted.catch(() => {});
    const results = await Promise.allSettled(
      announcements.map((a) =>
        Promise.race([
          topic.publishMessage({
            data: Buffer.from(
              JSON.stringify({ asset: a.asset, partition: a.partition, dataVersion: a.dataVersion }),
            ),
            attributes: pubsubAttributes(a),
          }),
          aborted,
        ]),
      ),
    );
    const failed = results.flatMap((r, i) =>
      r.status === "rejected"
        ? [
            `${announcements[i]!.asset}/${announcements[i]!.partition}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`,
          ]
        : [],
    );
    if (failed.length > 0) {
      throw new PublishError(
        `pubsub: ${failed.length} of ${announcements.length} announcements were not published to ${this.topic}: ${failed.join("; ")}.`,
      );
    }
  }
}

/** The attributes of an announcement: `type` and `asset` are what subscriptions filter on. */
export function pubsubAttributes(a: Announcement): Record<string, string> {
  return { type: MESSAGES.assetMaterialised, asset: a.asset, producer: MESSAGES.producer };
}
