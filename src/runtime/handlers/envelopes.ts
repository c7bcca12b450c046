/**
 * Tributary's bus messages wrapped the way each cloud delivers them to a function: what `tributary
 * invoke` writes as sample events and what the local cloud (local.ts) hands to the cloud entry points.
 * The shapes follow the clouds' documented payloads (see ../../../shared/fixtures/cloud-events/):
 * - AWS: an SQS batch record whose body is the EventBridge event the bus rule forwarded; a scheduled
 *   invocation is the EventBridge Scheduler target input `{ asset, scheduledTime }`;
 * - GCP: the Pub/Sub messagePublished CloudEvent (data base64, type/asset/source attributes);
 * - Azure: the Service Bus message body with its application properties in the trigger metadata.
 */
import { createHash, randomUUID } from "node:crypto";
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { Announcement } from "./core.ts";
import type { HttpRequest } from "./gcp-http.ts";

export type Cloud = "aws" | "gcp" | "azure";
export const CLOUDS: readonly Cloud[] = ["aws", "gcp", "azure"];

/** One message on a Tributary bus, or a schedule tick, before a cloud wraps it. */
export type BusMessage =
  | { readonly type: typeof MESSAGES.assetMaterialised; readonly id: string; readonly body: Announcement }
  | {
      readonly type: typeof MESSAGES.sourceEvents;
      readonly id: string;
      readonly body: { readonly source: string; readonly records: readonly unknown[] };
    }
  | {
      readonly type: "schedule";
      readonly id: string;
      readonly asset: string;
      readonly scheduledTime: string;
    };

/** The triggers an Azure function app registers (azure.ts `registerAzure`). */
export type AzureTrigger = "serviceBus" | "timer" | "eventGrid" | "eventHub";
export const AZURE_TRIGGERS: readonly AzureTrigger[] = ["serviceBus", "timer", "eventGrid", "eventHub"];

/** The account, project and namespace local deliveries claim to come from. */
export const LOCAL = {
  account: "123456789012",
  region: "us-east-1",
  project: "tributary-local",
  namespace: "tributary-local.servicebus.windows.net",
  eventHubsNamespace: "tributary-local-streams.servicebus.windows.net",
} as const;

/** What a cloud entry point is called with: the event, and Azure's invocation context fields. */
export interface Delivery {
  /** Azure only: which trigger the event is for (an Azure function app registers one per kind). */
  readonly trigger?: AzureTrigger;
  readonly event: unknown;
  /** Azure only: the trigger metadata of the invocation context. */
  readonly triggerMetadata?: Readonly<Record<string, unknown>>;
  /** Azure only: which retry of the trigger's retry policy the invocation is (absent: the first try). */
  readonly retryContext?: { readonly retryCount: number; readonly maxRetryCount: number };
  /**
   * GCP only: the HTTP request that carries the event, delivered through the Functions Framework
   * (gcp-http.ts); `event` is then what the framework makes of it.
   */
  readonly http?: HttpRequest;
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

/**
 * Wrap one message for one consumer. `delivery` is the cloud's own delivery id: a redelivery of the
 * same message keeps it, a duplicate publication gets a new one (SQS message id, Pub/Sub message id
 * stay with the message; pass another to simulate a duplicate publish).
 */
export function envelope(
  cloud: Cloud,
  message: BusMessage,
  consumer: string,
  delivery: string = message.id,
  now = new Date(),
): Delivery {
  const time = now.toISOString();
  if (message.type === "schedule") {
    if (cloud === "aws") return { event: { asset: message.asset, scheduledTime: message.scheduledTime } };
    if (cloud === "gcp") {
      return {
        event: pubsubEvent(
          `${consumer}-schedule`,
          delivery,
          message.scheduledTime,
          { type: MESSAGES.assetScheduled, asset: message.asset },
          { asset: message.asset },
        ),
      };
    }
    return {
      trigger: "timer",
      event: {
        isPastDue: false,
        schedule: { adjustForDST: false },
        scheduleStatus: { last: time, next: time, lastUpdated: time },
      },
      triggerMetadata: { scheduledTime: message.scheduledTime },
    };
  }
  const detail = message.body;
  const attributes: Record<string, string> =
    message.type === MESSAGES.assetMaterialised
      ? { producer: MESSAGES.producer, type: message.type, asset: message.body.asset }
      : { type: message.type, source: message.body.source };
  if (cloud === "aws") {
    const body = JSON.stringify({
      version: "0",
      id: message.id,
      "detail-type": message.type,
      source: message.type === MESSAGES.assetMaterialised ? MESSAGES.producer : "local.producer",
      account: LOCAL.account,
      time,
      region: LOCAL.region,
      resources: [],
      detail,
    });
    return {
      event: {
        Records: [
          {
            messageId: delivery,
            receiptHandle: `local-${randomUUID()}`,
            body,
            attributes: {
              ApproximateReceiveCount: "1",
              SentTimestamp: String(now.getTime()),
              SenderId: "AROAEXAMPLE:events.amazonaws.com",
              ApproximateFirstReceiveTimestamp: String(now.getTime()),
            },
            messageAttributes: {},
            md5OfBody: md5(body),
            eventSource: "aws:sqs",
            eventSourceARN: `arn:aws:sqs:${LOCAL.region}:${LOCAL.account}:${consumer}-queue`,
            awsRegion: LOCAL.region,
          },
        ],
      },
    };
  }
  if (cloud === "gcp") {
    const topic = message.type === MESSAGES.assetMaterialised ? "asset-events" : "source-events";
    return { event: pubsubEvent(topic, delivery, time, attributes, detail, consumer) };
  }
  return {
    trigger: "serviceBus",
    event: detail,
    triggerMetadata: {
      messageId: delivery,
      contentType: "application/json",
      deliveryCount: 1,
      enqueuedTimeUtc: time,
      applicationProperties: attributes,
    },
  };
}

function pubsubEvent(
  topic: string,
  id: string,
  time: string,
  attributes: Readonly<Record<string, string>>,
  body: unknown,
  consumer = topic,
): Record<string, unknown> {
  return {
    specversion: "1.0",
    type: "google.cloud.pubsub.topic.v1.messagePublished",
    source: `//pubsub.googleapis.com/projects/${LOCAL.project}/topics/${topic}`,
    id,
    time,
    datacontenttype: "application/json",
    data: {
      subscription: `projects/${LOCAL.project}/subscriptions/${consumer}-trigger`,
      message: {
        "@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage",
        messageId: id,
        publishTime: time,
        attributes,
        data: Buffer.from(JSON.stringify(body)).toString("base64"),
      },
    },
  };
}
