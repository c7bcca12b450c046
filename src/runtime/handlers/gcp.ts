/**
 * The Cloud Functions (2nd gen) entry point, a CloudEvent function of the Functions Framework. What
 * invokes a Tributary function (infra/gcp/function.ts): a Pub/Sub PUSH subscription to the function's
 * URL, filtered on the attributes `type` and `asset` or `source`, and for scheduled assets Cloud
 * Scheduler publishing `{asset}` with attributes {type: tributary.asset.scheduled, asset} to a topic of
 * the function's own, consumed the same way; and GCS `object.v1.finalized` events for landed objects.
 *
 * A push request's body is `{message: {data, attributes, messageId, publishTime}, subscription}`, not a
 * CloudEvent: the Functions Framework converts it into a `google.cloud.pubsub.topic.v1.messagePublished`
 * CloudEvent before calling the function (its legacy Pub/Sub middleware, then its background-event
 * conversion; the subscription name is lost on the way, and a message with empty data is not
 * converted). The handler also takes a raw push body as it is, so neither case depends on the framework.
 * An Eventarc delivery, or any producer, may send a CloudEvent over HTTP in binary content mode (`ce-*`
 * headers, the body the event's data) or structured mode (`application/cloudevents+json`, the body the
 * event): the framework hands the function the same CloudEvent either way, and the handler reads its
 * data whether the framework parsed it (a JSON content type) or not (a string or bytes, or
 * `data_base64`). See {@link gcpItem} for every shape it takes.
 *
 * A CDC source's function is pushed its stream's messages (infra/gcp/stream.ts) by an ordered push
 * subscription: each message one Debezium change event (data: its JSON text; the ordering key Debezium
 * Server's record key; no Tributary `type` attribute), landed as a batch of one (streams.ts). A message
 * that cannot be landed fails the request, and Pub/Sub redelivers it, before the next one of its key.
 *
 * A failure throws: the framework answers 500, Pub/Sub retries with backoff and dead-letters after the
 * subscription's maximum deliveries. Logs are JSON lines with a `severity`, which Cloud Logging turns
 * into `jsonPayload` (the freshness metric counts `jsonPayload.event = "tributary.asset.materialised"`).
 */
import type { CloudEvent } from "@google-cloud/functions-framework";
import { cloudEvent as registerCloudEvent } from "@google-cloud/functions-framework";
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { BigQueryCatalog } from "../iceberg/bigquery.ts";
import { gcpSecretReader } from "../secrets/gcp.ts";
import { GcsStore } from "../storage/gcs.ts";
import { storeOpener } from "../storage/uri.ts";
import {
  type HandlerDeps,
  lazyRuntime,
  PoisonMessageError,
  type Runtime,
  StreamLandingError,
  type Work,
  type WorkReport,
} from "./core.ts";
import {
  attempt,
  busWork,
  EXPECTED_TYPES,
  excerpt,
  isObject,
  type Json,
  jsonBody,
  nonEmpty,
  objectCreatedWork,
  parseJson,
  poisonItem,
  scheduleWork,
  WORK_FAILED_EVENT,
  type WorkItem,
} from "./events.ts";
import { drainOwn } from "./outbox.ts";
import { PubSubPublisher } from "./publish-pubsub.ts";
import { landingDetail, landStream, type StreamBatch } from "./streams.ts";

export {
  PUBSUB_LIMITS,
  PubSubPublisher,
  type PubSubPublisherOptions,
  pubsubAttributes,
} from "./publish-pubsub.ts";

export const PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished";
export const GCS_FINALIZED = "google.cloud.storage.object.v1.finalized";
/** The Functions Framework target the infra deploys (`entryPoint` in infra/gcp/function.ts). */
export const ENTRY_POINT = "handler";

/** Cloud Logging severities of Tributary's log events; the rest are INFO. */
const SEVERITY: Readonly<Record<string, string>> = {
  [WORK_FAILED_EVENT]: "ERROR",
  "tributary.asset.failed": "ERROR",
  "tributary.lineage.warning": "WARNING",
};

/** One structured log line: Cloud Logging reads `severity` and keeps the other fields as jsonPayload. */
export function gcpLogLine(record: Readonly<Record<string, unknown>>): string {
  const severity = (typeof record.event === "string" && SEVERITY[record.event]) || "INFO";
  return JSON.stringify({ severity, ...record });
}

/** The CloudEvent function of one Tributary function; resolves to what it did. */
export function gcpHandler(
  graph: AssetGraph,
  deps: HandlerDeps = {},
): (cloudEvent: CloudEvent<unknown>) => Promise<WorkReport> {
  const runtime = lazyRuntime(graph, deps, {
    openStore: storeOpener({ gcs: (at) => new GcsStore(at) }),
    publisher: (fn) => new PubSubPublisher({ topic: fn.assetEvents }),
    format: gcpLogLine,
    secretReader: () => gcpSecretReader(),
    catalogs: { bigquery: (ref) => new BigQueryCatalog(ref) },
  });
  return async (event) => {
    const rt = runtime();
    await drainOwn(rt);
    const source = rt.graph.has(rt.fn.asset) ? rt.graph.get(rt.fn.asset) : undefined;
    const change = source?.kind === "source" && source.cdc ? streamMessage(event) : undefined;
    if (change) return landChange(rt, change);
    const item = gcpItem(event);
    return attempt(rt, item.id, item.make);
  };
}

/**
 * A Pub/Sub message that is a stream's change event, not a Tributary message: pushed as it is, or as the
 * Functions Framework's messagePublished CloudEvent of it, without a Tributary `type` attribute.
 */
export function streamMessage(event: unknown): StreamBatch | undefined {
  let message: Json | undefined;
  if (isPushBody(event)) message = event.message;
  else if (isObject(event) && event.type === PUBSUB_PUBLISHED) {
    let data: unknown;
    try {
      data = eventData(event, "CloudEvent", "a Pub/Sub push message");
    } catch {
      return undefined;
    }
    if (isObject(data) && isObject(data.message)) message = data.message;
  }
  if (!message) return undefined;
  const attributes = isObject(message.attributes) ? message.attributes : {};
  if (TRIBUTARY_TYPES.includes(attributes.type)) return undefined;
  const id = nonEmpty(message.messageId)
    ? message.messageId
    : nonEmpty(message.message_id)
      ? message.message_id
      : undefined;
  if (id === undefined) return undefined;
  const key = nonEmpty(message.orderingKey) ? message.orderingKey : undefined;
  return {
    origin: "pubsub",
    via: "Pub/Sub",
    records: [
      {
        id,
        ...(key === undefined ? {} : { key }),
        value: typeof message.data === "string" ? Buffer.from(message.data, "base64").toString("utf8") : "",
      },
    ],
  };
}

/**
 * Land one pushed change event; a message that cannot be landed throws, which answers the push with a
 * 500: Pub/Sub redelivers it, and holds back the later messages of its ordering key until it is through.
 */
async function landChange(rt: Runtime, batch: StreamBatch): Promise<WorkReport> {
  const landing = await landStream(rt, batch);
  const record = batch.records[0]!;
  if (landing.failed.length > 0) {
    throw new StreamLandingError(
      `Pub/Sub message ${record.id}${record.key === undefined ? "" : ` (ordering key ${record.key})`} could not be landed; Pub/Sub redelivers it: ${landing.failed[0]!.error}`,
    );
  }
  return (
    landing.reports[0] ?? {
      id: record.id,
      kind: "source-events",
      status: "ignored",
      detail: landingDetail(batch, landing),
      announced: [],
    }
  );
}

/** Register the handler with the Functions Framework under the infra's entry point. */
export function registerGcp(graph: AssetGraph, deps: HandlerDeps = {}, name: string = ENTRY_POINT): void {
  registerCloudEvent(name, gcpHandler(graph, deps));
}

/** A Pub/Sub push request body, as the subscription sends it (not converted into a CloudEvent). */
function isPushBody(event: unknown): event is { message: Json; subscription?: unknown } {
  return isObject(event) && !("specversion" in event) && isObject(event.message);
}

const TRIBUTARY_TYPES: readonly unknown[] = [
  MESSAGES.assetMaterialised,
  MESSAGES.sourceEvents,
  MESSAGES.assetScheduled,
];

/**
 * A CloudEvent's data as a JSON value. In binary content mode the Functions Framework hands the function
 * the request body as `data`: parsed JSON for a JSON content type, else a string or a Buffer. In
 * structured mode binary data comes base64 in `data_base64`.
 */
function eventData(event: Json, where: string, expected: string): unknown {
  if (typeof event.data_base64 === "string") {
    return parseJson(Buffer.from(event.data_base64, "base64").toString("utf8"), where, expected);
  }
  return jsonBody(event.data, where, expected);
}

/**
 * The work of what the Functions Framework hands the function (see gcp-http.ts for how a request
 * becomes it):
 * - a `messagePublished` CloudEvent whose data is the push message `{message, subscription}`: the
 *   framework's conversion of a push request, or an Eventarc delivery in binary or structured mode;
 * - a raw push body, which the framework passes on unconverted when the message has no data;
 * - a GCS `object.v1.finalized` CloudEvent, for a landed object;
 * - a CloudEvent whose type is a Tributary message type (`tributary.source.events`…) and whose data is
 *   the message's body, as a producer may send one in either content mode.
 * Made when it runs: what cannot be understood fails as poison, under the event's id.
 */
export function gcpItem(event: unknown): WorkItem {
  if (isPushBody(event)) {
    const id = nonEmpty(event.message.messageId) ? event.message.messageId : "event";
    return { id, make: () => pubsubWork(event.message, id) };
  }
  if (!isObject(event) || (!("specversion" in event) && !("type" in event))) {
    const keys = isObject(event) ? Object.keys(event).join(", ") || "none" : typeof event;
    return poisonItem(
      "event",
      new PoisonMessageError(
        `event: neither a CloudEvent nor a Pub/Sub push body (its keys: ${keys}). An HTTP request (ce-* headers and a body) reaches the function through the Functions Framework, which makes the CloudEvent; tributary invoke takes one as {"headers": …, "body": …}.`,
      ),
    );
  }
  const ceId = nonEmpty(event.id) ? event.id : "event";
  const where = `CloudEvent ${ceId}`;
  const type = event.type;
  if (type === PUBSUB_PUBLISHED) {
    let data: unknown;
    try {
      data = eventData(event, where, "a Pub/Sub push message {message, subscription}");
    } catch (e) {
      return poisonItem(ceId, e);
    }
    if (!isObject(data) || !isObject(data.message)) {
      return poisonItem(
        ceId,
        new PoisonMessageError(
          `${where}: a ${PUBSUB_PUBLISHED} event carries the push message {message, subscription}, not ${excerpt(data, 120)}.`,
        ),
      );
    }
    const message = data.message;
    const id = nonEmpty(message.messageId) ? message.messageId : ceId;
    return { id, make: () => pubsubWork(message, id) };
  }
  if (type === GCS_FINALIZED) {
    let data: unknown;
    try {
      data = eventData(event, where, "a Cloud Storage object");
    } catch (e) {
      return poisonItem(ceId, e);
    }
    if (!isObject(data) || typeof data.bucket !== "string" || typeof data.name !== "string") {
      return poisonItem(
        ceId,
        new PoisonMessageError(`GCS event ${ceId}: its data has no bucket and name: ${excerpt(data)}.`),
      );
    }
    const { bucket, name, generation } = data;
    const id = `gs://${bucket}/${name}${typeof generation === "string" || typeof generation === "number" ? `#${generation}` : ""}`;
    return { id, make: () => objectCreatedWork(id, `gs://${bucket}`, name) };
  }
  if (TRIBUTARY_TYPES.includes(type)) {
    return {
      id: ceId,
      make: () => {
        const body = eventData(event, where, `the JSON body of a ${String(type)} message`);
        if (type === MESSAGES.assetScheduled) {
          return scheduleWork(isObject(body) ? body.asset : undefined, event.time, ceId, where);
        }
        return busWork(type, body, ceId, where);
      },
    };
  }
  return poisonItem(
    ceId,
    new PoisonMessageError(
      `event ${ceId}: a CloudEvent of type ${excerpt(type)} is none of a Pub/Sub message (${PUBSUB_PUBLISHED}), a landed object (${GCS_FINALIZED}) or a Tributary message (${EXPECTED_TYPES}).`,
    ),
  );
}

/** The work of one CloudEvent (or raw push body); throws what {@link gcpItem}'s item would. */
export function gcpWork(event: unknown): Work {
  return gcpItem(event).make();
}

function pubsubWork(message: Json, id: string): Work {
  const where = `Pub/Sub message ${id}`;
  const attributes = isObject(message.attributes) ? message.attributes : {};
  const type = attributes.type;
  if (!TRIBUTARY_TYPES.includes(type)) {
    const names = Object.keys(attributes);
    throw new PoisonMessageError(
      `${where}: not a Tributary message: its attribute "type" is ${type === undefined ? "missing" : excerpt(type)} (attributes: ${names.length ? names.join(", ") : "none"}); expected ${EXPECTED_TYPES}.`,
    );
  }
  const text = typeof message.data === "string" ? Buffer.from(message.data, "base64").toString("utf8") : "";
  if (type === MESSAGES.assetScheduled) {
    // Cloud Scheduler publishes {asset}; the tick's time is when it published.
    const body = text ? parseJson(text, where, `{"asset": <key>}`) : {};
    const asset = attributes.asset ?? (isObject(body) ? body.asset : undefined);
    return scheduleWork(asset, message.publishTime, id, where);
  }
  const body = parseJson(text, where, `the JSON body of a ${type} message`);
  return busWork(type, body, id, where);
}
