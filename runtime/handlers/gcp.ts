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
 *
 * A failure throws: the framework answers 500, Pub/Sub retries with backoff and dead-letters after the
 * subscription's maximum deliveries. Logs are JSON lines with a `severity`, which Cloud Logging turns
 * into `jsonPayload` (the freshness metric counts `jsonPayload.event = "tributary.asset.materialised"`).
 */
import type { CloudEvent } from "@google-cloud/functions-framework";
import { cloudEvent as registerCloudEvent } from "@google-cloud/functions-framework";
import type { AssetGraph } from "../../assets/graph/graph.ts";
import { GcsStore } from "../storage/gcs.ts";
import { storeOpener } from "../storage/uri.ts";
import { type HandlerDeps, lazyRuntime, PoisonMessageError, type Work, type WorkReport } from "./core.ts";
import {
  attempt,
  busWork,
  EXPECTED_TYPES,
  excerpt,
  isObject,
  type Json,
  parseJson,
  scheduleWork,
  WORK_FAILED_EVENT,
} from "./events.ts";
import { MESSAGES } from "./messages.ts";
import { drainOwn } from "./outbox.ts";
import { PubSubPublisher } from "./publish-pubsub.ts";

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
  });
  return async (event) => {
    const rt = runtime();
    await drainOwn(rt);
    const id = eventId(event);
    return attempt(rt, id, () => gcpWork(event, id));
  };
}

/** Register the handler with the Functions Framework under the infra's entry point. */
export function registerGcp(graph: AssetGraph, deps: HandlerDeps = {}, name: string = ENTRY_POINT): void {
  registerCloudEvent(name, gcpHandler(graph, deps));
}

/** A Pub/Sub push request body, as the subscription sends it (not converted into a CloudEvent). */
function isPushBody(event: unknown): event is { message: Json; subscription?: unknown } {
  return isObject(event) && !("specversion" in event) && isObject(event.message);
}

function pubsubMessage(event: unknown): Json | undefined {
  if (isPushBody(event)) return event.message;
  if (
    isObject(event) &&
    event.type === PUBSUB_PUBLISHED &&
    isObject(event.data) &&
    isObject(event.data.message)
  ) {
    return event.data.message;
  }
  return undefined;
}

function eventId(event: unknown): string {
  const message = pubsubMessage(event);
  if (message && typeof message.messageId === "string" && message.messageId !== "") return message.messageId;
  if (isObject(event) && event.type === GCS_FINALIZED && isObject(event.data)) {
    const { bucket, name, generation } = event.data;
    if (typeof bucket === "string" && typeof name === "string") {
      return `gs://${bucket}/${name}${typeof generation === "string" || typeof generation === "number" ? `#${generation}` : ""}`;
    }
  }
  return isObject(event) && typeof event.id === "string" ? event.id : "event";
}

/** The work of one CloudEvent (or raw push body). */
export function gcpWork(event: unknown, id: string = eventId(event)): Work {
  const message = pubsubMessage(event);
  if (message) return pubsubWork(message, id);
  if (isObject(event) && event.type === GCS_FINALIZED) {
    const data = event.data;
    if (!isObject(data) || typeof data.bucket !== "string" || typeof data.name !== "string") {
      throw new PoisonMessageError(`GCS event ${id}: its data has no bucket and name: ${excerpt(data)}.`);
    }
    return { kind: "object-created", id, store: `gs://${data.bucket}`, key: data.name };
  }
  const type = isObject(event) ? event.type : undefined;
  throw new PoisonMessageError(
    `event ${id}: a CloudEvent of type ${excerpt(type)} is neither a Pub/Sub message (${PUBSUB_PUBLISHED}) nor a landed object (${GCS_FINALIZED}).`,
  );
}

function pubsubWork(message: Json, id: string): Work {
  const where = `Pub/Sub message ${id}`;
  const attributes = isObject(message.attributes) ? message.attributes : {};
  const type = attributes.type;
  if (
    type !== MESSAGES.assetMaterialised &&
    type !== MESSAGES.sourceEvents &&
    type !== MESSAGES.assetScheduled
  ) {
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
