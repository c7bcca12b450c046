/**
 * The Azure Functions entry points (Node.js programming model v4). What invokes a Tributary function
 * (infra/azure/function.ts):
 * - a Service Bus topic subscription (`%TRIBUTARY_TOPIC%` / `%TRIBUTARY_SUBSCRIPTION%`, identity
 *   connection `TRIBUTARY_BUS__fullyQualifiedNamespace`) whose SQL filter reads the application
 *   properties `producer`, `type`, `asset` or `source`; one message per invocation, its body the JSON
 *   body of the message. The worker hands the trigger metadata over with camel-cased keys: the message id
 *   is `triggerMetadata.messageId`, the properties are `triggerMetadata.applicationProperties` (also
 *   given as `userProperties`, their older name). A failure throws: Service Bus redelivers the message up
 *   to the subscription's maxDeliveryCount, then dead-letters it;
 * - a timer (`%TRIBUTARY_SCHEDULE%`, NCRONTAB in UTC on Flex Consumption). It fires at every UTC hour
 *   the schedule's local hours can map to, so the handler runs only when TRIBUTARY_SCHEDULE_CRON matches
 *   the local time in TRIBUTARY_SCHEDULE_TIMEZONE (infra/azure/schedule.ts);
 * - Event Grid `Microsoft.Storage.BlobCreated`, for objects landed under `landing/<source>/`;
 * - a CDC source's event hub (`%TRIBUTARY_STREAM_HUB%`, its own consumer group
 *   `%TRIBUTARY_STREAM_CONSUMER_GROUP%`, identity connection `TRIBUTARY_STREAM__fullyQualifiedNamespace`):
 *   batches (cardinality many) of one partition, each event a Debezium change event as JSON text, its
 *   partition, sequence number and partition key in the trigger metadata (`partitionContext`,
 *   `sequenceNumberArray`, `partitionKeyArray`), landed as one batch (streams.ts). The trigger checkpoints
 *   the partition after every invocation, failed or not; its retry policy (exponential backoff,
 *   TRIBUTARY_STREAM_RETRIES retries) runs the batch again first. So records that cannot be landed fail
 *   the invocation while retries are left (those landed are duplicates on the retry: nothing is written
 *   twice), and on the last retry go to the function's dead-letter queue (dead-letters-servicebus.ts)
 *   before the function returns.
 * Logs go through the invocation's `context.log` as JSON strings (Application Insights traces).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { app, type EventGridEvent, type InvocationContext, type Timer } from "@azure/functions";
import { CronExpressionParser } from "cron-parser";
import { MESSAGES } from "../../contract/bus-messages.ts";
import { FUNCTION_ENV } from "../../contract/function-env.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { azureSecretReader } from "../secrets/azure.ts";
import { AzureBlobStore } from "../storage/azure-blob.ts";
import { storeOpener } from "../storage/uri.ts";
import {
  HandlerConfigError,
  type HandlerDeps,
  lazyRuntime,
  PoisonMessageError,
  type Runtime,
  StreamLandingError,
  type Work,
  type WorkReport,
} from "./core.ts";
import { ServiceBusDeadLetters, type StreamDeadLetters } from "./dead-letters-servicebus.ts";
import {
  attempt,
  busWork,
  EXPECTED_TYPES,
  excerpt,
  isObject,
  type Json,
  jsonBody,
  objectCreatedWork,
  WORK_FAILED_EVENT,
} from "./events.ts";
import { drainOwn } from "./outbox.ts";
import { ServiceBusPublisher } from "./publish-servicebus.ts";
import { landingDetail, landStream, type StreamBatch } from "./streams.ts";

export {
  SERVICEBUS_RETRY,
  ServiceBusPublisher,
  type ServiceBusPublisherOptions,
  type ServiceBusSenderLike,
  serviceBusMessage,
} from "./publish-servicebus.ts";

/** The app settings the infra gives a function (infra/azure/function.ts). */
export const SETTINGS = {
  namespace: "TRIBUTARY_BUS__fullyQualifiedNamespace",
  topic: "TRIBUTARY_TOPIC",
  subscription: "TRIBUTARY_SUBSCRIPTION",
  schedule: "TRIBUTARY_SCHEDULE",
  cron: "TRIBUTARY_SCHEDULE_CRON",
  timezone: "TRIBUTARY_SCHEDULE_TIMEZONE",
  /** A connection string for the bus instead of the identity (the emulator); never set by the infra. */
  connection: "TRIBUTARY_BUS",
  /** The event hub a CDC source's function reads, its consumer group and the trigger's retries. */
  hub: "TRIBUTARY_STREAM_HUB",
  consumerGroup: "TRIBUTARY_STREAM_CONSUMER_GROUP",
  retries: "TRIBUTARY_STREAM_RETRIES",
  /** The function's dead-letter queue in the bus namespace. */
  deadLetters: "TRIBUTARY_DEAD_LETTERS",
} as const;

/** The Event Hubs trigger's connection: `TRIBUTARY_STREAM__fullyQualifiedNamespace` with the app's identity. */
export const STREAM_CONNECTION = "TRIBUTARY_STREAM";
/** The retry policy's delays: from ten seconds, doubling, up to five minutes. */
export const STREAM_RETRY_INTERVALS = { minimum: { seconds: 10 }, maximum: { minutes: 5 } } as const;

export const BLOB_CREATED = "Microsoft.Storage.BlobCreated";

/** Log lines that are errors in Application Insights; the rest are information. */
const ERROR_EVENTS = new Set([WORK_FAILED_EVENT, "tributary.asset.failed"]);

export interface AzureHandlers {
  serviceBus(message: unknown, context: InvocationContext): Promise<WorkReport>;
  eventHub(messages: unknown, context: InvocationContext): Promise<WorkReport>;
  timer(timer: Timer, context: InvocationContext): Promise<WorkReport>;
  eventGrid(event: EventGridEvent, context: InvocationContext): Promise<WorkReport>;
}

/** What the Azure handlers may be given instead of their defaults: for tests and `tributary invoke`. */
export interface AzureDeps {
  /** Where a CDC function puts what it could not land after the last retry (default: its Service Bus queue). */
  readonly deadLetters?: StreamDeadLetters;
}

/** The trigger handlers of one Tributary function. */
export function azureHandlers(
  graph: AssetGraph,
  deps: HandlerDeps = {},
  azureDeps: AzureDeps = {},
): AzureHandlers {
  const invocation = new AsyncLocalStorage<InvocationContext>();
  const write = (line: string) => {
    let level: "log" | "error" = "log";
    try {
      const event = (JSON.parse(line) as { event?: unknown }).event;
      if (typeof event === "string" && ERROR_EVENTS.has(event)) level = "error";
    } catch {
      // Not JSON: logged as it is.
    }
    const context = invocation.getStore();
    if (context) context[level](line);
    else console[level](line);
  };
  const env = deps.env ?? process.env;
  const runtime = lazyRuntime(
    graph,
    { ...deps, write: deps.write ?? write },
    {
      openStore: storeOpener({ azure: (at) => new AzureBlobStore(at) }),
      publisher: (fn, e) => {
        const namespace = e[SETTINGS.namespace]?.trim();
        if (!namespace) {
          throw new HandlerConfigError(
            `handler: app setting ${SETTINGS.namespace} is not set; the function was not deployed by Tributary's infra. Deploy it with pulumi up.`,
          );
        }
        const connectionString = e[SETTINGS.connection]?.trim();
        return new ServiceBusPublisher({
          namespace,
          topic: fn.assetEvents,
          ...(connectionString ? { connectionString } : {}),
        });
      },
      secretReader: () => azureSecretReader(),
    },
  );
  const run = (context: InvocationContext, id: (rt: Runtime) => string, make: (rt: Runtime) => Work) =>
    invocation.run(context, async () => {
      const rt = runtime();
      await drainOwn(rt);
      return attempt(rt, id(rt), () => make(rt));
    });
  return {
    serviceBus: (message, context) => {
      const id = serviceBusId(context);
      return run(
        context,
        () => id ?? context.invocationId,
        () => serviceBusWork(message, context.triggerMetadata ?? {}, id),
      );
    },
    timer: (timer, context) => {
      const at = tickTime(timer, context);
      return run(
        context,
        (rt) => `${rt.fn.asset}@${at.toISOString()}`,
        (rt) => timerWork(rt.fn.asset, at, env),
      );
    },
    eventHub: (messages, context) =>
      invocation.run(context, async () => {
        const rt = runtime();
        await drainOwn(rt);
        const batch = eventHubBatch(messages, context.triggerMetadata ?? {});
        const landing = await landStream(rt, batch);
        const detail = landingDetail(batch, landing);
        if (landing.failed.length > 0) {
          const retry = context.retryContext;
          const last =
            retry !== undefined && retry.maxRetryCount >= 0 && retry.retryCount >= retry.maxRetryCount;
          if (!last) {
            throw new StreamLandingError(
              `Event Hubs batch of ${batch.origin}: ${detail} The trigger retries the batch${retry ? ` (retry ${retry.retryCount + 1} of ${retry.maxRetryCount})` : ""}.`,
            );
          }
          const sink = azureDeps.deadLetters ?? defaultDeadLetters(env);
          await sink.send(batch, landing.failed);
          rt.log({
            event: STREAM_DEAD_LETTERED_EVENT,
            origin: batch.origin,
            records: landing.failed.map((f) => f.id),
            queue: env[SETTINGS.deadLetters] ?? "",
          });
        }
        const ingested = landing.reports.some((r) => r.status === "ingested");
        return {
          id: batch.origin,
          kind: "source-events",
          status: ingested ? "ingested" : landing.reports.length > 0 ? "duplicate" : "ignored",
          detail:
            landing.failed.length > 0
              ? `${detail} After the last retry they went to the dead-letter queue ${env[SETTINGS.deadLetters] ?? ""}.`
              : detail,
          announced: landing.reports.flatMap((r) => r.announced),
        } satisfies WorkReport;
      }),
    eventGrid: (event, context) => {
      const id =
        blobId(event) ?? (isObject(event) && typeof event.id === "string" ? event.id : context.invocationId);
      return run(
        context,
        () => id,
        () => eventGridWork(event, id),
      );
    },
  };
}

/** The log line of records put in the dead-letter queue after the Event Hubs trigger's last retry. */
export const STREAM_DEAD_LETTERED_EVENT = "tributary.stream.dead-lettered";

function defaultDeadLetters(env: Readonly<Record<string, string | undefined>>): StreamDeadLetters {
  const namespace = env[SETTINGS.namespace]?.trim();
  const queue = env[SETTINGS.deadLetters]?.trim();
  if (!namespace || !queue) {
    throw new HandlerConfigError(
      `handler: app setting ${!namespace ? SETTINGS.namespace : SETTINGS.deadLetters} is not set, but records of the stream must go to the dead-letter queue; the function was not deployed by Tributary's infra. Deploy it with pulumi up.`,
    );
  }
  const connectionString = env[SETTINGS.connection]?.trim();
  return new ServiceBusDeadLetters({ namespace, queue, ...(connectionString ? { connectionString } : {}) });
}

/**
 * The events of one Event Hubs trigger invocation as a stream batch: with cardinality many the bodies
 * (text, with dataType string; bytes; or JSON the worker parsed), and per event, in the trigger metadata,
 * its sequence number and partition key, and the partition they all come from. Without sequence numbers
 * the events cannot be named, nor their landing repeated safely: that is no Event Hubs trigger's batch.
 */
export function eventHubBatch(messages: unknown, metadata: Json): StreamBatch {
  const bodies = Array.isArray(messages) ? messages : [messages];
  const partition = isObject(metadata.partitionContext) ? metadata.partitionContext : {};
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  const origin = [
    text(partition.fullyQualifiedNamespace) ?? "eventhubs",
    text(partition.eventHubName) ?? "hub",
    text(partition.partitionId) ?? "0",
  ].join("/");
  const sequence = Array.isArray(metadata.sequenceNumberArray) ? metadata.sequenceNumberArray : undefined;
  if (!sequence || sequence.length !== bodies.length) {
    throw new PoisonMessageError(
      `Event Hubs batch of ${origin}: the trigger metadata has ${sequence ? `${sequence.length} sequence numbers for ${bodies.length} events` : "no sequenceNumberArray"}; the events cannot be named, nor landed idempotently.`,
    );
  }
  const keys = Array.isArray(metadata.partitionKeyArray) ? metadata.partitionKeyArray : [];
  const partitionId = text(partition.partitionId) ?? "0";
  return {
    origin,
    via: "Event Hubs",
    records: bodies.map((body, i) => {
      const key = keys[i];
      return {
        id: `${partitionId}:${String(sequence[i])}`,
        ...(typeof key === "string" && key !== "" ? { key } : {}),
        value:
          typeof body === "string"
            ? body
            : body instanceof Uint8Array
              ? Buffer.from(body).toString("utf8")
              : body === null || body === undefined
                ? ""
                : JSON.stringify(body),
      };
    }),
  };
}

/** The app's function registrations (the `app` of @azure/functions, or a test's recorder). */
export type AzureApp = Pick<typeof app, "serviceBusTopic" | "timer" | "eventGrid" | "eventHub">;

/**
 * Register the triggers the function's app settings call for: the subscription when it consumes a bus,
 * the timer when it is scheduled, Event Grid when it ingests a source (landed objects). Returns the
 * names of the functions registered.
 */
export function registerAzure(graph: AssetGraph, deps: HandlerDeps = {}, target: AzureApp = app): string[] {
  const env = deps.env ?? process.env;
  const handlers = azureHandlers(graph, deps);
  const registered: string[] = [];
  if (env[SETTINGS.topic] && env[SETTINGS.subscription]) {
    target.serviceBusTopic("events", {
      topicName: `%${SETTINGS.topic}%`,
      subscriptionName: `%${SETTINGS.subscription}%`,
      connection: "TRIBUTARY_BUS",
      cardinality: "one",
      handler: handlers.serviceBus,
    });
    registered.push("events");
  }
  if (env[SETTINGS.hub] && env[SETTINGS.consumerGroup]) {
    const retries = Number(env[SETTINGS.retries] ?? "");
    target.eventHub("changes", {
      connection: STREAM_CONNECTION,
      eventHubName: `%${SETTINGS.hub}%`,
      consumerGroup: `%${SETTINGS.consumerGroup}%`,
      cardinality: "many",
      // The bodies as the text Debezium Server sent, not JSON the worker parsed (which loses big integers).
      ...({ dataType: "string" } as object),
      retry: {
        strategy: "exponentialBackoff",
        maxRetryCount: Number.isInteger(retries) && retries >= 0 ? retries : 5,
        minimumInterval: STREAM_RETRY_INTERVALS.minimum,
        maximumInterval: STREAM_RETRY_INTERVALS.maximum,
      },
      handler: handlers.eventHub,
    });
    registered.push("changes");
  }
  if (env[SETTINGS.schedule]) {
    target.timer("schedule", { schedule: `%${SETTINGS.schedule}%`, handler: handlers.timer });
    registered.push("schedule");
  }
  if (env[FUNCTION_ENV.kind] === "ingest") {
    target.eventGrid("landed", { handler: handlers.eventGrid });
    registered.push("landed");
  }
  return registered;
}

function serviceBusId(context: InvocationContext): string | undefined {
  const id = context.triggerMetadata?.messageId;
  return typeof id === "string" && id !== "" ? id : undefined;
}

/** One Service Bus message: its body, and its type in the application properties. */
export function serviceBusWork(message: unknown, metadata: Json, id: string | undefined): Work {
  const where = `Service Bus message ${id ?? "(no id)"}`;
  if (id === undefined) {
    throw new PoisonMessageError(
      `${where}: the trigger metadata has no messageId; it cannot be processed idempotently.`,
    );
  }
  const properties = isObject(metadata.applicationProperties)
    ? metadata.applicationProperties
    : isObject(metadata.userProperties)
      ? metadata.userProperties
      : {};
  const type = properties.type;
  if (type !== MESSAGES.assetMaterialised && type !== MESSAGES.sourceEvents) {
    const names = Object.keys(properties);
    throw new PoisonMessageError(
      `${where}: not a Tributary message: its application property "type" is ${type === undefined ? "missing" : excerpt(type)} (properties: ${names.length ? names.join(", ") : "none"}); expected ${EXPECTED_TYPES}.`,
    );
  }
  const body = jsonBody(message, where, `the JSON body of a ${type} message`);
  return busWork(type, body, id, where);
}

/**
 * The minute a timer invocation is for: the scheduled time the invocation carries (a local delivery
 * sets it in the trigger metadata), the missed occurrence of a past-due run, else now.
 */
function tickTime(timer: Timer, context: InvocationContext): Date {
  const given = context.triggerMetadata?.scheduledTime;
  let at = typeof given === "string" ? new Date(given) : new Date();
  if (typeof given !== "string" && timer?.isPastDue && typeof timer.scheduleStatus?.next === "string") {
    const missed = new Date(timer.scheduleStatus.next);
    if (!Number.isNaN(missed.getTime()) && missed.getTime() <= at.getTime()) at = missed;
  }
  if (Number.isNaN(at.getTime())) at = new Date();
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

/** A timer tick: the schedule's work when the graph's cron matches the local time, else nothing. */
export function timerWork(asset: string, at: Date, env: Readonly<Record<string, string | undefined>>): Work {
  const id = `${asset}@${at.toISOString()}`;
  const cron = env[SETTINGS.cron]?.trim();
  const timezone = env[SETTINGS.timezone]?.trim();
  if (!cron || !timezone) {
    throw new HandlerConfigError(
      `handler: app setting ${!cron ? SETTINGS.cron : SETTINGS.timezone} is not set, but the timer fired; the function was not deployed by Tributary's infra. Deploy it with pulumi up.`,
    );
  }
  let matches: boolean;
  try {
    matches = CronExpressionParser.parse(cron, { tz: timezone }).includesDate(at);
  } catch (e) {
    throw new HandlerConfigError(
      `handler: ${SETTINGS.cron} ${JSON.stringify(cron)} in ${SETTINGS.timezone} ${JSON.stringify(timezone)} is not a valid schedule (${e instanceof Error ? e.message : String(e)}); redeploy with pulumi up.`,
    );
  }
  if (!matches) {
    const local = new Intl.DateTimeFormat("sv-SE", {
      timeZone: timezone,
      dateStyle: "short",
      timeStyle: "short",
    }).format(at);
    return {
      kind: "ignored",
      id,
      reason: `the timer fired at ${at.toISOString()}, ${local} in ${timezone}, which is not a time of "${asset}"'s schedule ${JSON.stringify(cron)}.`,
    };
  }
  return { kind: "schedule", id, asset, scheduledTime: at };
}

interface Blob {
  readonly store: string;
  readonly key: string;
  readonly url: string;
}

/** A blob URL as a store URI and key: the container's URL, and the blob's path in it. */
export function blobOf(url: string): Blob | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const parts = u.pathname.split("/").slice(1);
  // Azurite (http://127.0.0.1:10000/<account>/<container>/…) puts the account in the path.
  const skip = /\.blob\.core\.windows\.net$/.test(u.hostname) ? 1 : 2;
  if (parts.length <= skip || parts.slice(skip).join("") === "") return undefined;
  const store = `${u.origin}/${parts.slice(0, skip).join("/")}`;
  let key: string;
  try {
    key = parts.slice(skip).map(decodeURIComponent).join("/");
  } catch {
    return undefined;
  }
  return { store, key, url: `${store}/${key}` };
}

function blobId(event: unknown): string | undefined {
  if (!isObject(event) || !isObject(event.data) || typeof event.data.url !== "string") return undefined;
  const blob = blobOf(event.data.url);
  if (!blob) return undefined;
  const write = [event.data.sequencer, event.data.eTag].find((v) => typeof v === "string" && v !== "");
  return write ? `${blob.url}@${write as string}` : blob.url;
}

/** An Event Grid event (Event Grid schema, or CloudEvents schema) of a storage account. */
export function eventGridWork(event: unknown, id: string): Work {
  const where = `Event Grid event ${id}`;
  const type = isObject(event) ? (event.eventType ?? event.type) : undefined;
  if (type !== BLOB_CREATED) {
    return { kind: "ignored", id, reason: `${where} is a ${excerpt(type)} event, not ${BLOB_CREATED}.` };
  }
  const data = isObject(event) && isObject(event.data) ? event.data : {};
  const blob = typeof data.url === "string" ? blobOf(data.url) : undefined;
  if (!blob) {
    throw new PoisonMessageError(
      `${where}: its data.url ${excerpt(data.url)} is not the URL of a blob in a container.`,
    );
  }
  return objectCreatedWork(id, blob.store, blob.key);
}
