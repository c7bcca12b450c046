/**
 * A cloud on this machine: the buses, subscriptions, retries and dead-letter queues of a deployed stack,
 * in one process, around the real cloud entry points. Messages are wrapped as the cloud delivers them
 * (envelopes.ts) and handed to `awsHandler`, `gcpHandler` or `azureHandlers` exactly as Lambda, Cloud
 * Functions or Azure Functions would; what a function announces is routed to the functions that
 * consume it, the way the infra's rules and subscriptions route it (every asset consumes the asset
 * events of each of its dependencies; a source's function consumes its source events). Deliveries run
 * one at a time, first in first out. A delivery that fails is retried up to `maxDeliveries` times, then
 * dead-lettered. `tributary invoke --follow` and the end-to-end tests drive it.
 */
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { MESSAGES } from "../../contract/bus-messages.ts";
import {
  functionKind,
  functionVariables,
  OUTBOX_SWEEPER,
  STACK_FUNCTIONS,
  TABLE_MAINTENANCE,
  TABLE_MAINTENANCE_CRON,
} from "../../contract/function-env.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { environmentSecrets, type SecretSource } from "../secrets/source.ts";
import type { ObjectStore } from "../storage/port.ts";
import { type Announcement, DEFAULT_TIMEOUT_SECONDS, type HandlerDeps } from "./core.ts";
import { type BusMessage, type Cloud, type Delivery, envelope } from "./envelopes.ts";
import type { Publisher } from "./publish.ts";

/** Calls one function's entry point with one delivery; resolves to what it returned, throws what it threw. */
export type Invoke = (delivery: Delivery) => Promise<unknown>;

/** Make the entry point of one function of `cloud`, with its deps (environment, store, publisher). */
export async function entryPoint(
  cloud: Cloud,
  graph: AssetGraph,
  consumer: string,
  deps: HandlerDeps,
): Promise<Invoke> {
  if (cloud === "aws") {
    const { awsHandler } = await import("./aws.ts");
    const handler = awsHandler(graph, deps);
    return (d) => handler(d.event, { functionName: consumer, awsRequestId: randomUUID() });
  }
  if (cloud === "gcp") {
    const [{ gcpHandler }, { invokeOverHttp }] = await Promise.all([
      import("./gcp.ts"),
      import("./gcp-http.ts"),
    ]);
    const handler = gcpHandler(graph, deps);
    return (d) =>
      d.http ? invokeOverHttp(handler, d.http) : handler(d.event as Parameters<typeof handler>[0]);
  }
  const [{ azureHandlers }, { InvocationContext }] = await Promise.all([
    import("./azure.ts"),
    import("@azure/functions"),
  ]);
  const handlers = azureHandlers(graph, deps);
  return (d) => {
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: consumer,
      triggerMetadata: { ...d.triggerMetadata },
      ...(d.retryContext ? { retryContext: { ...d.retryContext } } : {}),
    });
    switch (d.trigger ?? "serviceBus") {
      case "eventHub":
        return handlers.eventHub(d.event, context);
      case "timer":
        return handlers.timer(d.event as Parameters<typeof handlers.timer>[0], context);
      case "eventGrid":
        return handlers.eventGrid(d.event as Parameters<typeof handlers.eventGrid>[0], context);
      default:
        return handlers.serviceBus(d.event, context);
    }
  };
}

/**
 * The app settings an Azure function with a timer has (infra/azure/function.ts): the graph's cron and
 * time zone the handler checks each tick against; the sweeper's every five minutes in UTC.
 */
function timerSettings(graph: AssetGraph, key: string): Record<string, string> {
  const schedule =
    key === OUTBOX_SWEEPER
      ? { cron: "*/5 * * * *", timezone: "UTC" }
      : key === TABLE_MAINTENANCE
        ? { cron: TABLE_MAINTENANCE_CRON, timezone: "UTC" }
        : graph.has(key)
          ? (graph.get(key) as { schedule?: { cron: string; timezone: string } }).schedule
          : undefined;
  return schedule
    ? { TRIBUTARY_SCHEDULE_CRON: schedule.cron, TRIBUTARY_SCHEDULE_TIMEZONE: schedule.timezone }
    : {};
}

/** Whether an entry point's answer reports a failure (AWS partial batch responses); throwing is the other way. */
export function failedItems(result: unknown): string[] {
  const failures = (result as { batchItemFailures?: { itemIdentifier: string }[] } | null)?.batchItemFailures;
  return Array.isArray(failures) ? failures.map((f) => f.itemIdentifier) : [];
}

/** The environment infra/plan gives the function of `key` (FunctionPlan.environment), or a stack function's. */
export function functionEnvironment(
  graph: AssetGraph,
  key: string,
  stores: { raw: string; curated: string; quarantine: string },
  environment: string,
  bus = "asset-events",
): Record<string, string> {
  const a = key in STACK_FUNCTIONS ? undefined : graph.get(key);
  return functionVariables({
    asset: key,
    kind: a ? functionKind(a) : STACK_FUNCTIONS[key]!,
    environment,
    stores,
    assetEvents: bus,
    timeoutSeconds: (a?.kind === "asset" ? a.resources.timeoutSeconds : undefined) ?? DEFAULT_TIMEOUT_SECONDS,
    // This machine's cores: a local function may use them all.
    cpus: availableParallelism(),
  });
}

/** The functions a message is delivered to, as the infra routes it. */
export function consumersOf(graph: AssetGraph, message: BusMessage): string[] {
  if (message.type === "schedule") {
    return graph.has(message.asset) || message.asset in STACK_FUNCTIONS ? [message.asset] : [];
  }
  if (message.type === MESSAGES.sourceEvents) {
    const s = message.body.source;
    return graph.has(s) && graph.get(s).kind === "source" ? [s] : [];
  }
  const from = message.body.asset;
  return graph.sort(
    graph
      .assets()
      .filter((a) => a.kind === "asset" && graph.inputs(a.key).some((e) => e.from === from))
      .map((a) => a.key),
  );
}

export interface LocalCloudOptions {
  readonly graph: AssetGraph;
  readonly cloud: Cloud;
  /** The store URIs of the three zone groups (all three may be the same store). */
  readonly stores: { readonly raw: string; readonly curated: string; readonly quarantine: string };
  readonly environment?: string;
  /** Opens a store URI for one function (`consumer`): tests wrap it to enforce that function's grants. */
  readonly openStore?: (uri: string, consumer: string) => ObjectStore;
  /** Deliver every message twice (at-least-once delivery made certain): a redelivery with the same id. */
  readonly duplicate?: boolean;
  /** Deliveries of one message before it is dead-lettered (default 3). */
  readonly maxDeliveries?: number;
  readonly write?: (line: string) => void;
  readonly lockTimeoutMs?: number;
  /**
   * Where the functions' secrets come from (default: `TRIBUTARY_SECRET_<NAME>`): a local cloud has no
   * secret store, so its functions read what this machine gives.
   */
  readonly secrets?: SecretSource;
  /** Told of every delivery as it ends. */
  readonly onDelivery?: (record: DeliveryRecord) => void | Promise<void>;
  /**
   * The publisher of each function instead of the local bus's (which `announce`s straight into the
   * queues); undefined: the function's own cloud SDK publisher, built from its environment (a fake
   * bus's endpoint there, which calls `announce` for what it accepts).
   */
  readonly publisher?: (consumer: string, local: Publisher) => Publisher | undefined;
  /** Runs a function instead of its entry point in this process (e.g. its built bundle elsewhere). */
  readonly entry?: (consumer: string, deps: HandlerDeps) => Promise<Invoke>;
  /** Which pending delivery goes next, given how many wait (default 0: first in, first out). */
  readonly pick?: (pending: number) => number;
  /** More environment for each function (a fake bus's endpoint, a shorter timeout). */
  readonly env?: (consumer: string) => Readonly<Record<string, string>>;
  /** How long one publish call may take (HandlerDeps.publishBudgetMs). */
  readonly publishBudgetMs?: number;
}

export interface DeliveryRecord {
  readonly consumer: string;
  /** The bus message delivered; absent for an event given as it is (`tributary invoke --event`). */
  readonly message?: BusMessage;
  readonly attempt: number;
  readonly result?: unknown;
  /** Why it failed (the thrown message, or the failed batch items). */
  readonly error?: string;
  readonly announced: readonly Announcement[];
  /** The log lines the function wrote during the delivery. */
  readonly logs: readonly string[];
}

interface Pending {
  readonly consumer: string;
  readonly message: BusMessage;
  readonly attempt: number;
}

export class LocalCloud {
  readonly options: LocalCloudOptions;
  readonly deliveries: DeliveryRecord[] = [];
  readonly deadLetters: DeliveryRecord[] = [];
  /** Every message published or sent, in order. */
  readonly messages: BusMessage[] = [];
  readonly #queue: Pending[] = [];
  readonly #entries = new Map<string, Promise<Invoke>>();
  #announced: Announcement[] = [];
  #logs: string[] = [];

  constructor(options: LocalCloudOptions) {
    this.options = options;
  }

  /** Put a message on its bus: it is queued for every function that consumes it. */
  send(message: BusMessage): void {
    this.messages.push(message);
    const copies = this.options.duplicate ? 2 : 1;
    for (const consumer of consumersOf(this.options.graph, message)) {
      for (let i = 0; i < copies; i++) this.#queue.push({ consumer, message, attempt: 1 });
    }
  }

  /**
   * An announcement the asset-events bus accepted during the current delivery: queued for its
   * consumers, under the bus's message id (a new one unless given).
   */
  announce(body: Announcement, id: string = randomUUID()): void {
    this.#announced.push(body);
    this.send({ type: MESSAGES.assetMaterialised, id, body });
  }

  /** Deliver until no message is left; returns the deliveries made by this call. */
  async drain(): Promise<DeliveryRecord[]> {
    const start = this.deliveries.length;
    const take = () =>
      this.#queue.length === 0
        ? undefined
        : this.#queue.splice(this.options.pick?.(this.#queue.length) ?? 0, 1)[0];
    for (let next = take(); next; next = take()) {
      const record = await this.#deliver(next);
      this.deliveries.push(record);
      await this.options.onDelivery?.(record);
      if (record.error !== undefined) {
        if (next.attempt < (this.options.maxDeliveries ?? 3))
          this.#queue.push({ ...next, attempt: next.attempt + 1 });
        else this.deadLetters.push(record);
      }
    }
    return this.deliveries.slice(start);
  }

  /** Make the functions' entry points now, all at once, rather than at their first delivery. */
  async warm(consumers: readonly string[]): Promise<void> {
    await Promise.all(consumers.map((c) => this.#entry(c)));
  }

  /** Run one function on one event as the cloud delivers it, once; what it announces is queued. */
  async invoke(consumer: string, delivery: Delivery): Promise<DeliveryRecord> {
    const record = await this.#call(consumer, delivery, { consumer, attempt: 1 });
    this.deliveries.push(record);
    await this.options.onDelivery?.(record);
    return record;
  }

  #deliver(p: Pending): Promise<DeliveryRecord> {
    return this.#call(p.consumer, envelope(this.options.cloud, p.message, p.consumer), p);
  }

  async #call(
    consumer: string,
    delivery: Delivery,
    base: { consumer: string; attempt: number; message?: BusMessage },
  ): Promise<DeliveryRecord> {
    const invoke = await this.#entry(consumer);
    this.#announced = [];
    this.#logs = [];
    const done = { announced: this.#announced, logs: this.#logs };
    try {
      const result = await invoke(delivery);
      const failed = failedItems(result);
      return {
        ...base,
        result,
        ...(failed.length > 0 ? { error: `batch items failed: ${failed.join(", ")}` } : {}),
        ...done,
      };
    } catch (e) {
      return { ...base, error: e instanceof Error ? e.message : String(e), ...done };
    }
  }

  #entry(consumer: string): Promise<Invoke> {
    let entry = this.#entries.get(consumer);
    if (!entry) {
      const o = this.options;
      const local: Publisher = {
        publish: async (announcements) => {
          for (const body of announcements) this.announce(body);
        },
      };
      const publisher = o.publisher ? o.publisher(consumer, local) : local;
      entry = (o.entry ?? ((c, deps) => entryPoint(o.cloud, o.graph, c, deps)))(consumer, {
        env: {
          ...functionEnvironment(o.graph, consumer, o.stores, o.environment ?? "local"),
          ...(o.cloud === "azure" ? timerSettings(o.graph, consumer) : {}),
          ...o.env?.(consumer),
        },
        ...(publisher ? { publisher } : {}),
        ...(o.publishBudgetMs === undefined ? {} : { publishBudgetMs: o.publishBudgetMs }),
        ...(o.openStore ? { openStore: (uri: string) => o.openStore!(uri, consumer) } : {}),
        write: (line: string) => {
          this.#logs.push(line);
          o.write?.(line);
        },
        ...(o.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: o.lockTimeoutMs }),
        secrets: o.secrets ?? environmentSecrets(),
      });
      this.#entries.set(consumer, entry);
    }
    return entry;
  }
}
