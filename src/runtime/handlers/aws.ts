/**
 * The AWS Lambda entry point. What invokes a Tributary function (infra/aws/function.ts):
 * - a CDC source's Kinesis data stream, through an event source mapping with ReportBatchItemFailures: a
 *   batch of one shard's records, each `data` a Debezium change event (base64 of its JSON text; empty for
 *   a tombstone, which is skipped), ingested as one batch (streams.ts); the answer names the records that
 *   could not be landed by their sequence numbers, and Lambda retries from the lowest of them;
 * - an SQS event source mapping with ReportBatchItemFailures: a batch of records, each body the
 *   EventBridge event a bus rule forwarded (detail-type tributary.asset.materialised or
 *   tributary.source.events). Records run one after the other; the answer names exactly the records
 *   that failed, so SQS redelivers only those (and dead-letters them after maxReceiveCount);
 * - EventBridge Scheduler, with the target input `{ asset, scheduledTime }` (or a raw "Scheduled Event");
 * - S3 event notifications, for objects landed under `landing/<source>/`: straight from S3, through an
 *   SNS topic, or through an SQS queue (an SQS record whose body is the notification, or the SNS
 *   notification carrying it); S3's test event is ignored.
 * An asynchronous invocation (schedule, S3) that fails throws: Lambda retries it, then dead-letters it.
 *
 * Logs are JSON lines written straight to stdout (not console.log, which Lambda's JSON log format wraps
 * into a `message` string): every commit's line is also in CloudWatch embedded metric format, which
 * makes the metric `Tributary/AssetMaterialized` (dimensions Environment, Asset) the freshness alarms read.
 */

import { MESSAGES } from "../../contract/bus-messages.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { GlueCatalog } from "../iceberg/glue.ts";
import { awsSecretReader } from "../secrets/aws.ts";
import { S3Store } from "../storage/s3.ts";
import { storeOpener } from "../storage/uri.ts";
import { type HandlerDeps, lazyRuntime, MATERIALISED_EVENT, PoisonMessageError, type Work } from "./core.ts";
import {
  attemptAll,
  busWork,
  excerpt,
  isObject,
  type Json,
  nonEmpty,
  objectCreatedWork,
  parseJson,
  poisonItem,
  scheduleWork,
  type WorkItem,
} from "./events.ts";
import { drainOwn, OUTBOX_SWEPT_EVENT } from "./outbox.ts";
import { EventBridgePublisher } from "./publish-eventbridge.ts";
import { landStream, type StreamBatch } from "./streams.ts";

export {
  EVENTBRIDGE_LIMITS,
  EventBridgePublisher,
  type EventBridgePublisherOptions,
  PUT_EVENTS_MAX,
} from "./publish-eventbridge.ts";

/** The metric every commit adds one to; infra/aws/function.ts alarms on it. */
export const METRIC = { namespace: "Tributary", name: "AssetMaterialized" } as const;
/** The metric each sweep sets (runtime/handlers/outbox.ts): the stack's outbox alarm reads its maximum. */
export const OUTBOX_METRIC = { namespace: "Tributary", name: "OutboxOldestSeconds" } as const;

/** SQS's partial batch response: the records to redeliver. */
export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

const EXPECTED_BODY = `the EventBridge event of a Tributary bus rule (detail-type ${MESSAGES.assetMaterialised} or ${MESSAGES.sourceEvents}), an S3 event notification, or an SNS notification carrying one`;

/**
 * One log line. A commit (`tributary.asset.materialised`) is also a CloudWatch embedded metric format
 * document: `_aws` names the metric and its dimension set, the root holds the dimension values and the
 * metric value, beside the record's own fields.
 */
export function awsLogLine(record: Readonly<Record<string, unknown>>, now: number = Date.now()): string {
  const { asset, environment } = record;
  if (
    record.event === OUTBOX_SWEPT_EVENT &&
    typeof environment === "string" &&
    typeof record.oldestSeconds === "number"
  ) {
    return JSON.stringify({
      _aws: {
        Timestamp: now,
        CloudWatchMetrics: [
          {
            Namespace: OUTBOX_METRIC.namespace,
            Dimensions: [["Environment"]],
            Metrics: [{ Name: OUTBOX_METRIC.name, Unit: "Seconds" }],
          },
        ],
      },
      ...record,
      Environment: environment,
      [OUTBOX_METRIC.name]: record.oldestSeconds,
    });
  }
  if (record.event !== MATERIALISED_EVENT || typeof asset !== "string" || typeof environment !== "string") {
    return JSON.stringify(record);
  }
  return JSON.stringify({
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRIC.namespace,
          Dimensions: [["Environment", "Asset"]],
          Metrics: [{ Name: METRIC.name, Unit: "Count" }],
        },
      ],
    },
    ...record,
    Environment: environment,
    Asset: asset,
    [METRIC.name]: 1,
  });
}

const stdoutLine = (line: string) => void process.stdout.write(`${line}\n`);

/** The Lambda handler of one Tributary function. */
export function awsHandler(
  graph: AssetGraph,
  deps: HandlerDeps = {},
): (event: unknown, context?: unknown) => Promise<unknown> {
  const runtime = lazyRuntime(
    graph,
    { ...deps, write: deps.write ?? stdoutLine },
    {
      openStore: storeOpener({ s3: (at) => new S3Store(at) }),
      publisher: (fn) => new EventBridgePublisher({ bus: fn.assetEvents }),
      format: (record) => awsLogLine(record),
      secretReader: () => awsSecretReader(),
      catalogs: { glue: (ref) => new GlueCatalog(ref) },
    },
  );
  return async (event, context) => {
    const rt = runtime();
    await drainOwn(rt);
    if (isKinesisBatch(event)) {
      const batchItemFailures: { itemIdentifier: string }[] = [];
      for (const batch of kinesisBatches(event)) {
        const landing = await landStream(rt, batch);
        for (const f of landing.failed) batchItemFailures.push({ itemIdentifier: f.id });
      }
      return { batchItemFailures } satisfies BatchResponse;
    }
    if (isSqsBatch(event)) {
      const batchItemFailures: { itemIdentifier: string }[] = [];
      for (const record of event.Records) {
        const id = String(record.messageId);
        try {
          // Every item of the message runs; the message fails (and is redelivered) if any item failed.
          await attemptAll(rt, sqsItems(record, id, rt.fn.asset));
        } catch {
          batchItemFailures.push({ itemIdentifier: id });
        }
      }
      return { batchItemFailures } satisfies BatchResponse;
    }
    const requestId =
      isObject(context) && typeof context.awsRequestId === "string" ? context.awsRequestId : "";
    return attemptAll(rt, asyncWork(event, rt.fn.asset, requestId));
  };
}

/** A Lambda event of a Kinesis event source mapping: records of one shard of one stream. */
export function isKinesisBatch(event: unknown): event is { Records: Json[] } {
  return (
    isObject(event) &&
    Array.isArray(event.Records) &&
    event.Records.length > 0 &&
    event.Records.every((r) => isObject(r) && r.eventSource === "aws:kinesis")
  );
}

/**
 * The records of a Kinesis event, as one batch per stream and shard (a mapping's batch has one): each
 * record's `data` is the value Debezium Server put, its partition key the record key, its sequence number
 * its id. A record without a sequence number cannot be reported or retried: the event is not Lambda's.
 */
export function kinesisBatches(event: { Records: Json[] }): StreamBatch[] {
  const batches = new Map<
    string,
    { origin: string; via: string; records: StreamBatch["records"][number][] }
  >();
  event.Records.forEach((r, i) => {
    const k = isObject(r.kinesis) ? r.kinesis : {};
    const seq = k.sequenceNumber;
    if (!nonEmpty(seq)) {
      throw new PoisonMessageError(
        `Kinesis record ${i}: it has no kinesis.sequenceNumber; a Kinesis event source mapping's records have one (${excerpt(r, 120)}).`,
      );
    }
    if (typeof k.data !== "string") {
      throw new PoisonMessageError(
        `Kinesis record ${seq}: its kinesis.data is ${excerpt(k.data)}, not base64 text.`,
      );
    }
    const arn = nonEmpty(r.eventSourceARN) ? r.eventSourceARN : "kinesis";
    const shard =
      nonEmpty(r.eventID) && r.eventID.includes(":") ? r.eventID.slice(0, r.eventID.indexOf(":")) : "";
    const origin = shard ? `${arn}/${shard}` : arn;
    let batch = batches.get(origin);
    if (!batch) {
      batch = { origin, via: "Kinesis", records: [] };
      batches.set(origin, batch);
    }
    batch.records.push({
      id: seq,
      ...(typeof k.partitionKey === "string" ? { key: k.partitionKey } : {}),
      value: Buffer.from(k.data, "base64").toString("utf8"),
    });
  });
  return [...batches.values()];
}

function isSqsBatch(event: unknown): event is { Records: Json[] } {
  return (
    isObject(event) &&
    Array.isArray(event.Records) &&
    event.Records.length > 0 &&
    event.Records.every((r) => isObject(r) && r.eventSource === "aws:sqs")
  );
}

/**
 * The work of one SQS record. Its body is one of: the EventBridge event a bus rule forwarded (Tributary's
 * own wiring); an S3 event notification (S3 → SQS), one item per record in it; an SNS notification whose
 * message is one of those (S3 → SNS → SQS without raw message delivery). An S3 test event, which S3 sends
 * when a notification is configured, is ignored. Items are made when they run: a body that cannot be
 * understood is one item that fails as poison.
 */
export function sqsItems(record: Json, id: string, self: string): WorkItem[] {
  const where = `SQS message ${id}`;
  if (typeof record.body !== "string") {
    return [poisonItem(id, new PoisonMessageError(`${where}: it has no body; expected ${EXPECTED_BODY}.`))];
  }
  let body: unknown;
  try {
    body = parseJson(record.body, where, EXPECTED_BODY);
  } catch (e) {
    return [poisonItem(id, e)];
  }
  return bodyItems(body, id, where, self);
}

/** What an SQS body or an SNS message carries, as work items (see {@link sqsItems}). */
function bodyItems(body: unknown, id: string, where: string, self: string): WorkItem[] {
  if (isObject(body) && typeof body["detail-type"] === "string") {
    // The EventBridge event id, not the SQS message id, names the work: EventBridge may put one event
    // in the queue twice (two SQS messages), and both deliveries must make one ingest batch.
    const eventId = nonEmpty(body.id) ? body.id : id;
    return [{ id: eventId, make: () => eventBridgeWork(body, eventId, where, self) }];
  }
  if (isObject(body) && body.Type === "Notification" && typeof body.Message === "string") {
    const inner = `${where}: SNS message ${nonEmpty(body.MessageId) ? body.MessageId : "(no id)"}`;
    let message: unknown;
    try {
      message = parseJson(body.Message, inner, "an S3 event notification");
    } catch (e) {
      return [poisonItem(id, e)];
    }
    if (isS3Notification(message) || isS3TestEvent(message)) return bodyItems(message, id, inner, self);
    return [
      poisonItem(
        id,
        new PoisonMessageError(
          `${inner}: the message is not an S3 event notification: ${excerpt(message)}; Tributary takes S3 notifications through SNS.`,
        ),
      ),
    ];
  }
  if (isS3Notification(body)) return body.Records.map((r, i) => s3Item(r, `${where} record ${i}`));
  if (isS3TestEvent(body)) {
    const bucket = typeof body.Bucket === "string" ? body.Bucket : "(unnamed)";
    return [
      {
        id,
        make: () => ({
          kind: "ignored",
          id,
          reason: `${where} is the S3 test event (s3:TestEvent) of bucket ${bucket}, sent when its notifications were configured.`,
        }),
      },
    ];
  }
  const what = isObject(body)
    ? `an object with the keys ${Object.keys(body).join(", ") || "(none)"}`
    : excerpt(body);
  return [
    poisonItem(
      id,
      new PoisonMessageError(
        `${where}: the body is ${what}, which Tributary does not take; expected ${EXPECTED_BODY}.`,
      ),
    ),
  ];
}

/** An S3 event notification: `{Records: [{eventSource: "aws:s3", s3: …}, …]}`. */
function isS3Notification(v: unknown): v is { Records: unknown[] } {
  return (
    isObject(v) &&
    Array.isArray(v.Records) &&
    v.Records.length > 0 &&
    v.Records.every((r) => isObject(r) && r.eventSource === "aws:s3")
  );
}

/** The message S3 sends when a bucket's notification configuration is saved. */
function isS3TestEvent(v: unknown): v is Json {
  return isObject(v) && v.Event === "s3:TestEvent" && v.Service === "Amazon S3";
}

/** An EventBridge event: a Tributary bus message, or a scheduled event for this function. */
function eventBridgeWork(event: Json, id: string, where: string, self: string): Work {
  const type = event["detail-type"];
  const detail =
    typeof event.detail === "string" ? parseJson(event.detail, where, "a JSON detail") : event.detail;
  if (type === "Scheduled Event") {
    const asset = isObject(detail) && typeof detail.asset === "string" ? detail.asset : self;
    return scheduleWork(asset, event.time, id, where);
  }
  if (type !== MESSAGES.assetMaterialised && type !== MESSAGES.sourceEvents) {
    throw new PoisonMessageError(
      `${where}: detail-type ${excerpt(type)} is not a Tributary event; expected ${EXPECTED_BODY}.`,
    );
  }
  return busWork(type, detail, id, where);
}

/**
 * The work of an asynchronous invocation, item by item: S3 event notifications (S3 → Lambda), SNS
 * notifications carrying them (S3 → SNS → Lambda), EventBridge Scheduler inputs and EventBridge events.
 */
export function asyncWork(event: unknown, self: string, requestId = ""): WorkItem[] {
  if (isObject(event) && Array.isArray(event.Records) && event.Records.length > 0) {
    return event.Records.flatMap((record, i) => {
      if (isObject(record) && record.EventSource === "aws:sns" && isObject(record.Sns)) {
        const sns = record.Sns;
        const id = nonEmpty(sns.MessageId) ? sns.MessageId : `${requestId || "event"}#${i}`;
        return bodyItems({ ...sns, Type: sns.Type ?? "Notification" }, id, `SNS record ${i}`, self);
      }
      return [s3Item(record, `record ${i}`, `${requestId || "event"}#${i}`)];
    });
  }
  if (isObject(event) && typeof event["detail-type"] === "string") {
    const id = typeof event.id === "string" ? event.id : requestId || "event";
    return [{ id, make: () => eventBridgeWork(event, id, `EventBridge event ${id}`, self) }];
  }
  if (isObject(event) && "scheduledTime" in event) {
    const id = `${String(event.asset)}@${String(event.scheduledTime)}`;
    return [
      { id, make: () => scheduleWork(event.asset, event.scheduledTime, id, "EventBridge Scheduler input") },
    ];
  }
  const keys = isObject(event) ? Object.keys(event).join(", ") || "none" : typeof event;
  const id = requestId || "event";
  return [
    poisonItem(
      id,
      new PoisonMessageError(
        `lambda invocation ${id}: the event is none of an SQS batch, an S3 notification, an SNS notification, an EventBridge Scheduler input {asset, scheduledTime} or an EventBridge event (its keys: ${keys}).`,
      ),
    ),
  ];
}

interface S3Object {
  readonly bucket: string;
  readonly key: string;
  readonly version?: string;
}

function s3Object(record: Json): S3Object | undefined {
  const s3 = record.s3;
  if (record.eventSource !== "aws:s3" || !isObject(s3) || !isObject(s3.bucket) || !isObject(s3.object)) {
    return undefined;
  }
  const { name } = s3.bucket;
  const { key, versionId, sequencer } = s3.object;
  if (typeof name !== "string" || typeof key !== "string") return undefined;
  let decoded: string;
  try {
    // S3 URL-encodes keys in notifications, with + for spaces.
    decoded = decodeURIComponent(key.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
  const version = [versionId, sequencer].find((v): v is string => typeof v === "string" && v !== "");
  return { bucket: name, key: decoded, ...(version ? { version } : {}) };
}

/**
 * One record of an S3 notification. Its id is the object's write, whatever carried the notification
 * (S3 may notify it twice, and SQS or SNS deliver it again: every delivery gets this id).
 */
function s3Item(record: unknown, where: string, fallback = where): WorkItem {
  const o = isObject(record) ? s3Object(record) : undefined;
  const id = o ? `s3://${o.bucket}/${o.key}${o.version ? `@${o.version}` : ""}` : fallback;
  return { id, make: () => s3Work(record, o ? id : where, o) };
}

function s3Work(record: unknown, id: string, o: S3Object | undefined): Work {
  if (!o || !isObject(record)) {
    throw new PoisonMessageError(
      `${id}: not an S3 event notification record (eventSource ${excerpt(isObject(record) ? record.eventSource : record)}).`,
    );
  }
  const name = typeof record.eventName === "string" ? record.eventName : "";
  if (!name.startsWith("ObjectCreated:")) {
    return {
      kind: "ignored",
      id,
      reason: `S3 event ${name || "(unnamed)"} of ${id} is not an object creation.`,
    };
  }
  return objectCreatedWork(id, `s3://${o.bucket}`, o.key);
}
