/**
 * Where an Azure CDC function puts the records of its event hub it could not land after the trigger's
 * last retry: its dead-letter queue in the stack's Service Bus namespace (`TRIBUTARY_DEAD_LETTERS`,
 * infra/azure/function.ts), one message per record, its body the change event as it came and its
 * application properties where it came from. The Event Hubs trigger checkpoints past a batch once the
 * function returns, so the records must be in the queue first: a send that fails fails the invocation.
 */
import { createHash } from "node:crypto";
import { DefaultAzureCredential } from "@azure/identity";
import { ServiceBusClient, type ServiceBusMessage } from "@azure/service-bus";
import { chunks } from "./events.ts";
import type { ServiceBusSenderLike } from "./publish-servicebus.ts";
import { SERVICEBUS_RETRY } from "./publish-servicebus.ts";
import type { FailedRecord, StreamBatch } from "./streams.ts";

/** Takes the records of a stream batch that could not be landed. */
export interface StreamDeadLetters {
  send(batch: StreamBatch, failed: readonly FailedRecord[]): Promise<void>;
}

/** Service Bus application property values are kept short: the reason's first characters. */
const REASON_MAX = 1000;
const SEND_MAX = 50;

/** The dead-letter message of one record: its value, and its origin, position, key and reason. */
export function deadLetterMessage(batch: StreamBatch, record: FailedRecord): ServiceBusMessage {
  return {
    body: record.value,
    contentType: "application/json",
    // The same record dead-lettered twice is one message to a queue with duplicate detection.
    messageId: createHash("sha256").update(`${batch.origin}\u0000${record.id}`).digest("hex"),
    applicationProperties: {
      origin: batch.origin,
      record: record.id,
      ...(record.key === undefined ? {} : { key: record.key }),
      reason: record.error.slice(0, REASON_MAX),
    },
  };
}

export interface ServiceBusDeadLettersOptions {
  /** `<namespace>.servicebus.windows.net` (TRIBUTARY_BUS__fullyQualifiedNamespace). */
  readonly namespace: string;
  /** The function's dead-letter queue (TRIBUTARY_DEAD_LETTERS). */
  readonly queue: string;
  /** A connection string instead of the managed identity (TRIBUTARY_BUS). */
  readonly connectionString?: string;
  /** A sender of its own, for tests. */
  readonly sender?: ServiceBusSenderLike;
}

export class ServiceBusDeadLetters implements StreamDeadLetters {
  readonly #opts: ServiceBusDeadLettersOptions;
  #sender: ServiceBusSenderLike | undefined;

  constructor(opts: ServiceBusDeadLettersOptions) {
    this.#opts = opts;
    this.#sender = opts.sender;
  }

  async send(batch: StreamBatch, failed: readonly FailedRecord[]): Promise<void> {
    const o = this.#opts;
    this.#sender ??= (
      o.connectionString
        ? new ServiceBusClient(o.connectionString, { retryOptions: { ...SERVICEBUS_RETRY } })
        : new ServiceBusClient(o.namespace, new DefaultAzureCredential(), {
            retryOptions: { ...SERVICEBUS_RETRY },
          })
    ).createSender(o.queue);
    for (const chunk of chunks(failed, SEND_MAX)) {
      await this.#sender.sendMessages(chunk.map((r) => deadLetterMessage(batch, r)));
    }
  }
}
