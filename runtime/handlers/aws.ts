/**
 * The AWS Lambda entry point. What invokes a Tributary function (infra/aws/function.ts):
 * - an SQS event source mapping with ReportBatchItemFailures: a batch of records, each body the
 *   EventBridge event a bus rule forwarded (detail-type tributary.asset.materialised or
 *   tributary.source.events). Records run one after the other; the answer names exactly the records
 *   that failed, so SQS redelivers only those (and dead-letters them after maxReceiveCount);
 * - EventBridge Scheduler, with the target input `{ asset, scheduledTime }` (or a raw "Scheduled Event");
 * - S3 event notifications, for objects landed under `landing/<source>/`.
 * An asynchronous invocation (schedule, S3) that fails throws: Lambda retries it, then dead-letters it.
 *
 * Logs are JSON lines written straight to stdout (not console.log, which Lambda's JSON log format wraps
 * into a `message` string): every commit's line is also in CloudWatch embedded metric format, which
 * makes the metric `Tributary/AssetMaterialized` (dimensions Environment, Asset) the freshness alarms read.
 */
import type { AssetGraph } from "../../assets/graph/graph.ts";
import { S3Store } from "../storage/s3.ts";
import { storeOpener } from "../storage/uri.ts";
import { type HandlerDeps, lazyRuntime, MATERIALISED_EVENT, PoisonMessageError, type Work } from "./core.ts";
import {
  attempt,
  attemptAll,
  busWork,
  excerpt,
  isObject,
  type Json,
  parseJson,
  scheduleWork,
} from "./events.ts";
import { MESSAGES } from "./messages.ts";
import { drainOwn, OUTBOX_SWEPT_EVENT } from "./outbox.ts";
import { EventBridgePublisher } from "./publish-eventbridge.ts";

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

const EXPECTED_BODY = `the EventBridge event of a Tributary bus rule (detail-type ${MESSAGES.assetMaterialised} or ${MESSAGES.sourceEvents})`;

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
    },
  );
  return async (event, context) => {
    const rt = runtime();
    await drainOwn(rt);
    if (isSqsBatch(event)) {
      const batchItemFailures: { itemIdentifier: string }[] = [];
      for (const record of event.Records) {
        const id = String(record.messageId);
        try {
          await attempt(rt, id, () => sqsWork(record, id, rt.fn.asset));
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

function isSqsBatch(event: unknown): event is { Records: Json[] } {
  return (
    isObject(event) &&
    Array.isArray(event.Records) &&
    event.Records.length > 0 &&
    event.Records.every((r) => isObject(r) && r.eventSource === "aws:sqs")
  );
}

/** One SQS record: its body is the EventBridge event a bus rule sent to the queue. */
export function sqsWork(record: Json, id: string, self: string): Work {
  const where = `SQS message ${id}`;
  if (typeof record.body !== "string") {
    throw new PoisonMessageError(`${where}: it has no body; expected ${EXPECTED_BODY}.`);
  }
  const body = parseJson(record.body, where, EXPECTED_BODY);
  if (!isObject(body) || typeof body["detail-type"] !== "string") {
    throw new PoisonMessageError(
      `${where}: the body is not an EventBridge event (no "detail-type"): ${excerpt(body)}; expected ${EXPECTED_BODY}.`,
    );
  }
  // The EventBridge event id, not the SQS message id, names the work: EventBridge may put one event
  // in the queue twice (two SQS messages), and both deliveries must make one ingest batch.
  return eventBridgeWork(body, typeof body.id === "string" && body.id !== "" ? body.id : id, where, self);
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

/** The work of an asynchronous invocation (S3, EventBridge Scheduler, EventBridge), item by item. */
export function asyncWork(
  event: unknown,
  self: string,
  requestId = "",
): { readonly id: string; readonly make: () => Work }[] {
  if (isObject(event) && Array.isArray(event.Records) && event.Records.length > 0) {
    return event.Records.map((record, i) => {
      const id = isObject(record) ? s3Id(record) : undefined;
      return {
        id: id ?? `${requestId || "event"}#${i}`,
        make: () => s3Work(record, id ?? `record ${i}`),
      };
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
    {
      id,
      make: () => {
        throw new PoisonMessageError(
          `lambda invocation ${id}: the event is none of an SQS batch, an S3 notification, an EventBridge Scheduler input {asset, scheduledTime} or an EventBridge event (its keys: ${keys}).`,
        );
      },
    },
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

/** The id of an S3 notification: the object's write (S3 may notify it twice; both get this id). */
function s3Id(record: Json): string | undefined {
  const o = s3Object(record);
  return o ? `s3://${o.bucket}/${o.key}${o.version ? `@${o.version}` : ""}` : undefined;
}

function s3Work(record: unknown, id: string): Work {
  const o = isObject(record) ? s3Object(record) : undefined;
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
  return { kind: "object-created", id, store: `s3://${o.bucket}`, key: o.key };
}
