/**
 * Announcements to a Service Bus topic, bounded: every AMQP operation (connecting, authorising the
 * link, sending) has three seconds and two retries, and the send stops when the caller's signal is
 * aborted (runtime/handlers/outbox.ts `publishWithin`). The client signs in with the function's
 * managed identity; a connection string in the app setting TRIBUTARY_BUS, as the Functions host would
 * take it for the trigger, is used instead when set (the Service Bus emulator, a local fake).
 */
import { createHash } from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import { ServiceBusClient, type ServiceBusClientOptions, type ServiceBusMessage } from "@azure/service-bus";
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { Announcement } from "./core.ts";
import { chunks } from "./events.ts";
import { PublishError, type Publisher, type PublishOptions } from "./publish.ts";

/** What a Service Bus sender must do for the publisher (a `ServiceBusSender`, or a test's recorder). */
export interface ServiceBusSenderLike {
  sendMessages(messages: ServiceBusMessage[], options?: { abortSignal?: AbortSignal }): Promise<void>;
}

export interface ServiceBusPublisherOptions {
  /** `<namespace>.servicebus.windows.net` (TRIBUTARY_BUS__fullyQualifiedNamespace). */
  readonly namespace: string;
  /** The asset-events topic (TRIBUTARY_ASSET_EVENTS). */
  readonly topic: string;
  /** A sender of its own; default one of a ServiceBusClient with DefaultAzureCredential. */
  readonly sender?: ServiceBusSenderLike;
  /** A connection string instead of the managed identity (TRIBUTARY_BUS). */
  readonly connectionString?: string;
}

/** Messages per send call: a batch stays far below the 256 KB of a standard namespace. */
const SEND_MAX = 50;
/** Service Bus message ids are at most 128 characters. */
const MESSAGE_ID_MAX = 128;

/** The bounds of the client's operations. */
export const SERVICEBUS_RETRY = {
  timeoutInMs: 3000,
  maxRetries: 2,
  retryDelayInMs: 200,
  maxRetryDelayInMs: 1000,
} as const;

const CLIENT_OPTIONS: ServiceBusClientOptions = { retryOptions: { ...SERVICEBUS_RETRY } };

/**
 * The message of one announcement: the JSON body, and the application properties the subscriptions'
 * SQL filters read. The message id is the announcement itself, so a repeated announcement is a
 * duplicate that a topic with duplicate detection drops.
 */
export function serviceBusMessage(a: Announcement): ServiceBusMessage {
  const id = `${a.asset}/${a.partition}/${a.dataVersion}`;
  return {
    body: { asset: a.asset, partition: a.partition, dataVersion: a.dataVersion },
    contentType: "application/json",
    messageId: id.length <= MESSAGE_ID_MAX ? id : createHash("sha256").update(id).digest("hex"),
    applicationProperties: { producer: MESSAGES.producer, type: MESSAGES.assetMaterialised, asset: a.asset },
  };
}

/** Announcements to the asset-events topic. */
export class ServiceBusPublisher implements Publisher {
  readonly namespace: string;
  readonly topic: string;
  readonly #connectionString: string | undefined;
  #sender: ServiceBusSenderLike | undefined;

  constructor(opts: ServiceBusPublisherOptions) {
    this.namespace = opts.namespace;
    this.topic = opts.topic;
    this.#sender = opts.sender;
    this.#connectionString = opts.connectionString;
  }

  async publish(announcements: readonly Announcement[], opts: PublishOptions = {}): Promise<void> {
    this.#sender ??= (
      this.#connectionString
        ? new ServiceBusClient(this.#connectionString, CLIENT_OPTIONS)
        : new ServiceBusClient(this.namespace, new DefaultAzureCredential(), CLIENT_OPTIONS)
    ).createSender(this.topic);
    for (const chunk of chunks(announcements, SEND_MAX)) {
      try {
        await this.#sender.sendMessages(
          chunk.map(serviceBusMessage),
          opts.signal ? { abortSignal: opts.signal } : undefined,
        );
      } catch (e) {
        throw new PublishError(
          `servicebus: ${chunk.length} announcements were not sent to topic ${this.topic} of ${this.namespace}: ${reason(e)}`,
        );
      }
    }
  }
}

/** Why a send failed: the client's code and message; of its retries (an AggregateError), the last one. */
function reason(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) {
    return `${e.errors.length} attempts, the last: ${reason(e.errors.at(-1))}`;
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return `${typeof code === "string" && code !== "" ? `${code}: ` : ""}${e.message || e.name}`;
  }
  return String(e);
}
