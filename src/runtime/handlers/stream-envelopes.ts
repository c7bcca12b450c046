/**
 * A CDC source's change events wrapped the way each cloud delivers its stream to the source's function,
 * as Debezium Server's sinks write them (the record key the partition or ordering key, the value the JSON
 * text): what `tributary event --stream` writes and `tributary invoke` delivers. The shapes follow the
 * clouds' documented payloads (../../../shared/fixtures/cloud-events/):
 * - AWS: a Kinesis event source mapping's event, the records of shard 0 (`aws-kinesis.json`);
 * - GCP: Pub/Sub push bodies with ordering keys, one per message (`gcp-pubsub-push-ordering.json`);
 * - Azure: an Event Hubs trigger's batch of one partition, with its trigger metadata (SOURCES.md there).
 */
import type { CdcSpec } from "../../kit/cdc.ts";
import type { Delivery } from "./envelopes.ts";
import { LOCAL } from "./envelopes.ts";

/** One change event: its record key and its value (JSON text). */
export interface StreamEntry {
  readonly key: string;
  readonly value: string;
}

/** Debezium Server's `null.key`, the key of a record without one (a truncate, a table without a key). */
export const NULL_KEY = "default";

/**
 * The record key Debezium Server gives a change event, as its JSON key converter writes it with schemas
 * off: the table's key columns of the row (`after`, or `before` for a delete), in key order; a value with
 * no row (a truncate) or one that is not a change event has none, and the sinks use {@link NULL_KEY}.
 */
export function recordKeyOf(cdc: Pick<CdcSpec, "key">, value: string): string {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return NULL_KEY;
  }
  const envelope = isRecord(v) && isRecord(v.payload) && "schema" in v ? v.payload : v;
  if (!isRecord(envelope)) return NULL_KEY;
  const row = isRecord(envelope.after)
    ? envelope.after
    : isRecord(envelope.before)
      ? envelope.before
      : undefined;
  if (!row || !cdc.key.every((k) => k in row)) return NULL_KEY;
  return JSON.stringify(Object.fromEntries(cdc.key.map((k) => [k, row[k]])));
}

/** The captured table a change event names: `<schema>.<table>` (Postgres) or `<db>.<table>` (MySQL). */
export function tableOf(value: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return undefined;
  }
  const envelope = isRecord(v) && isRecord(v.payload) && "schema" in v ? v.payload : v;
  const source = isRecord(envelope) && isRecord(envelope.source) ? envelope.source : undefined;
  if (!source || typeof source.table !== "string") return undefined;
  const container = typeof source.schema === "string" ? source.schema : source.db;
  return typeof container === "string" ? `${container}.${source.table}` : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A Kinesis sequence number of shard 0: 56 digits, growing with `i`. */
export function kinesisSequence(i: number): string {
  return `4960000000000000000000000000000000000000000${String(i).padStart(13, "0")}`;
}

/** The Lambda event of a Kinesis event source mapping carrying `entries` on stream `stream`, shard 0. */
export function kinesisEvent(stream: string, entries: readonly StreamEntry[], now = new Date()): unknown {
  const arn = `arn:aws:kinesis:${LOCAL.region}:${LOCAL.account}:stream/${stream}`;
  const at = now.getTime() / 1000;
  return {
    Records: entries.map((e, i) => {
      const seq = kinesisSequence(i + 1);
      return {
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: e.key,
          sequenceNumber: seq,
          data: Buffer.from(e.value).toString("base64"),
          approximateArrivalTimestamp: Math.round((at + i / 1000) * 1000) / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `shardId-000000000000:${seq}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: `arn:aws:iam::${LOCAL.account}:role/local-function-role`,
        awsRegion: LOCAL.region,
        eventSourceARN: arn,
      };
    }),
  };
}

/**
 * The push bodies of `entries` published to topic `stream`, as its ordered push subscription to the
 * function `consumer` sends them: one request per message, in order.
 */
export function pubsubPushes(
  consumer: string,
  entries: readonly StreamEntry[],
  now = new Date(),
  firstId = now.getTime(),
): unknown[] {
  return entries.map((e, i) => {
    const id = String(firstId + i);
    const time = new Date(now.getTime() + i).toISOString();
    return {
      message: {
        attributes: {},
        data: Buffer.from(e.value).toString("base64"),
        messageId: id,
        message_id: id,
        orderingKey: e.key,
        publishTime: time,
        publish_time: time,
      },
      subscription: `projects/${LOCAL.project}/subscriptions/${consumer.replaceAll("_", "-")}-trigger`,
    };
  });
}

/** The Event Hubs trigger's delivery of `entries`, partition 0 of event hub `stream`, to the function `consumer`. */
export function eventHubDelivery(
  stream: string,
  consumer: string,
  entries: readonly StreamEntry[],
  now = new Date(),
): Delivery {
  return {
    trigger: "eventHub",
    event: entries.map((e) => e.value),
    triggerMetadata: {
      partitionContext: {
        fullyQualifiedNamespace: LOCAL.eventHubsNamespace,
        eventHubName: stream,
        consumerGroup: consumer,
        partitionId: "0",
      },
      sequenceNumberArray: entries.map((_, i) => i + 1),
      offsetArray: entries.map((_, i) => String(i * 1024)),
      partitionKeyArray: entries.map((e) => e.key),
      enqueuedTimeUtcArray: entries.map((_, i) => new Date(now.getTime() + i).toISOString()),
    },
  };
}
