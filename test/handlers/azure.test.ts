import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type EventGridEvent, InvocationContext, type Timer } from "@azure/functions";
import type { ServiceBusMessage } from "@azure/service-bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import { timerSchedule } from "../../src/infra/azure/schedule.ts";
import {
  type AzureApp,
  azureHandlers,
  blobOf,
  registerAzure,
  ServiceBusPublisher,
  serviceBusMessage,
  serviceBusWork,
} from "../../src/runtime/handlers/azure.ts";
import {
  type Announcement,
  batchIdOf,
  HandlerConfigError,
  PoisonMessageError,
} from "../../src/runtime/handlers/core.ts";
import { PublishError } from "../../src/runtime/handlers/publish.ts";
import {
  committedVersion,
  DAY,
  fixture,
  graph,
  orderRecords,
  recorder,
  sourceAnnouncements,
  stack,
  tempDir,
  tree,
} from "./helpers.ts";

const ACCOUNT = "https://tribtestdata.blob.core.windows.net";
const URIS = { raw: `${ACCOUNT}/raw`, curated: `${ACCOUNT}/curated`, quarantine: `${ACCOUNT}/quarantine` };

/** An invocation context as the worker makes it, its log lines kept with their level. */
function invocation(id: string, triggerMetadata?: Record<string, unknown>) {
  const logs: { level: string; line: string }[] = [];
  const context = new InvocationContext({
    invocationId: `inv-${id}`,
    functionName: "events",
    ...(triggerMetadata ? { triggerMetadata } : {}),
    logHandler: (level, ...args) => void logs.push({ level, line: String(args[0]) }),
  });
  return { context, logs };
}

/** The trigger metadata of a Service Bus message, keys camel-cased as the Node.js worker hands them over. */
function metadata(messageId: string, properties: Record<string, string>) {
  return {
    messageId,
    deliveryCount: 1,
    enqueuedTimeUtc: "2026-11-02T00:00:05.123Z",
    expiresAtUtc: "2026-11-16T00:00:05.123Z",
    sequenceNumber: 17,
    contentType: "application/json",
    applicationProperties: properties,
    userProperties: properties,
  };
}

const sourceProps = (source: string) => ({ type: MESSAGES.sourceEvents, source });
const assetProps = (asset: string) => ({ producer: "tributary", type: MESSAGES.assetMaterialised, asset });

/** The deps of a function whose logs go to the invocation context (no `write`). */
function deps(r: ReturnType<typeof recorder>, s: ReturnType<typeof stack>, asset: string, extra = {}) {
  const { write: _, ...rest } = r.deps(s, asset, extra);
  return rest;
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let s: ReturnType<typeof stack>;
let records: Record<string, unknown>[];
beforeAll(async () => {
  dir = await tempDir("azure");
  s = stack(dir.path, URIS);
  records = orderRecords();
});
afterAll(() => dir.remove());

describe("the shared Azure sample", () => {
  it("the Event Grid BlobCreated sample parses and is ignored: Template1.xlsx is no landing object", async () => {
    const r = recorder();
    const h = azureHandlers(graph, deps(r, s, "orders_cdc"));
    const { context, logs } = invocation("eg-1");
    const id =
      "https://jolovstorage.blob.core.windows.net/gaocontainer/Template1.xlsx@0000000000000000000000000000B00D0000000005b058d3";
    const detail =
      'object Template1.xlsx in https://jolovstorage.blob.core.windows.net/gaocontainer is not a landing object of this function (it ingests "orders_cdc": landing/orders_cdc/…).';
    expect(
      await h.eventGrid(
        (await fixture("azure-eventgrid-blob-created.json")) as unknown as EventGridEvent,
        context,
      ),
    ).toEqual({ id, kind: "object-created", status: "ignored", detail, announced: [] });
    // Logged through the invocation's context, one JSON string each.
    expect(logs).toEqual([
      {
        level: "information",
        line: JSON.stringify({
          event: "tributary.work",
          id,
          kind: "object-created",
          status: "ignored",
          detail,
        }),
      },
    ]);
  });
});

describe("functions on Azure", () => {
  let announced: Announcement[];

  it("ingest a Service Bus message; its redelivery writes nothing and announces the same again", async () => {
    const r = recorder();
    const h = azureHandlers(graph, deps(r, s, "orders_cdc"));
    const body = { source: "orders_cdc", records };
    const n = records.length;
    const first = invocation("1", metadata("sb-1", sourceProps("orders_cdc")));
    const report = await h.serviceBus(body, first.context);
    announced = await sourceAnnouncements(s, "orders_cdc");
    expect(report).toEqual({
      id: "sb-1",
      kind: "source-events",
      status: "ingested",
      detail: `batch ${batchIdOf("sb-1")} of "orders_cdc": read ${n} = written ${n} + quarantined 0 + duplicates 0.`,
      announced,
    });
    expect(announced.map((a) => a.partition)).toEqual([`${DAY}|acme`, `${DAY}|globex`, `${DAY}|initech`]);
    expect(r.published).toEqual(announced);
    // The lines the freshness alert finds in Application Insights traces.
    expect(first.logs.filter((l) => l.line.includes('"event":"tributary.asset.materialised"'))).toEqual(
      announced.map((a) => ({
        level: "information",
        line: JSON.stringify({ event: MESSAGES.assetMaterialised, ...a, environment: "test" }),
      })),
    );

    const before = await tree(dir.path);
    const again = await h.serviceBus(
      body,
      invocation("2", metadata("sb-1", sourceProps("orders_cdc"))).context,
    );
    expect(again).toEqual({
      id: "sb-1",
      kind: "source-events",
      status: "duplicate",
      detail: `batch ${batchIdOf("sb-1")} of "orders_cdc" was already committed (read ${n} = written ${n} + quarantined 0 + duplicates 0); announced again.`,
      announced,
    });
    expect(await tree(dir.path)).toEqual(before);
    expect(r.published).toEqual([...announced, ...announced]);
  });

  it("a poison message among good ones throws for that message only, logged as an error", async () => {
    const r = recorder();
    const h = azureHandlers(graph, deps(r, s, "orders_cdc"));
    const poison = invocation("p", metadata("sb-3", { attr1: "attr1-value" }));
    const results = await Promise.allSettled([
      h.serviceBus(
        { source: "orders_cdc", records: records.slice(0, 2) },
        invocation("a", metadata("sb-2", sourceProps("orders_cdc"))).context,
      ),
      h.serviceBus("Message Body", poison.context),
      h.serviceBus(
        { source: "customers_cdc", records: [] },
        invocation("b", metadata("sb-4", sourceProps("customers_cdc"))).context,
      ),
    ]);
    expect(results.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const message =
      'Service Bus message sb-3: not a Tributary message: its application property "type" is missing (properties: attr1); expected tributary.asset.materialised, tributary.source.events or tributary.asset.scheduled.';
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new PoisonMessageError(message));
    expect(poison.logs).toEqual([
      {
        level: "error",
        line: JSON.stringify({
          event: "tributary.work.failed",
          id: "sb-3",
          error: "PoisonMessageError",
          message,
          poison: true,
        }),
      },
    ]);
  });

  it("materialises curated_orders on its upstream's announcement and announces exactly that commit", async () => {
    const r = recorder();
    const h = azureHandlers(graph, deps(r, s, "curated_orders"));
    const acme = announced.find((a) => a.partition === `${DAY}|acme`)!;
    const { context } = invocation("m", metadata("sb-10", assetProps("orders_cdc")));
    const report = await h.serviceBus(acme, context);
    const dataVersion = await committedVersion(dir.path, "curated_orders", "acme");
    expect(report).toEqual({
      id: "sb-10",
      kind: "asset-materialised",
      status: "materialised",
      detail: '"curated_orders": 1 materialised, 0 fresh, 0 failed, 0 waiting.',
      announced: [{ asset: "curated_orders", partition: "acme", dataVersion }],
    });
    expect(r.published).toEqual([{ asset: "curated_orders", partition: "acme", dataVersion }]);
  });

  it("ingests an object landed in the raw container on its Event Grid event, once per write", async () => {
    const key = "landing/orders_cdc/2026-11-01T10=00.ndjson";
    const path = join(dir.path, "raw", key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(
      path,
      `${records
        .slice(0, 3)
        .map((x) => JSON.stringify(x))
        .join("\n")}\n`,
    );
    const event = (await fixture("azure-eventgrid-blob-created.json")) as unknown as EventGridEvent & {
      data: Record<string, unknown>;
    };
    event.data.url = `${URIS.raw}/landing/orders_cdc/2026-11-01T10%3D00.ndjson`;
    const r = recorder();
    const h = azureHandlers(graph, deps(r, s, "orders_cdc"));
    const id = `${URIS.raw}/${key}@0000000000000000000000000000B00D0000000005b058d3`;
    expect(await h.eventGrid(event, invocation("eg-2").context)).toEqual({
      id,
      kind: "object-created",
      status: "ingested",
      detail: `batch ${batchIdOf(id)} of "orders_cdc": read 3 = written 0 + quarantined 0 + duplicates 3.`,
      announced: [],
    });
    expect((await h.eventGrid(event, invocation("eg-3").context)).status).toBe("duplicate");
  });
});

describe("the timer", () => {
  // customer_features: cron "0 3 * * *" in Europe/Berlin; the timer fires at 01:00 and 02:00 UTC.
  const cron = "0 3 * * *";
  const env = {
    TRIBUTARY_SCHEDULE: timerSchedule(cron, "Europe/Berlin").ncrontab,
    TRIBUTARY_SCHEDULE_CRON: cron,
    TRIBUTARY_SCHEDULE_TIMEZONE: "Europe/Berlin",
  };
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: {
      last: "2026-11-01T02:00:00Z",
      next: "2026-11-03T01:00:00Z",
      lastUpdated: "2026-11-01T02:00:00Z",
    },
  };
  let empty: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    empty = await tempDir("azure-timer");
  });
  afterAll(() => empty.remove());

  it("fires at both UTC hours, and runs only at the one that is 03:00 in Berlin", async () => {
    expect(env.TRIBUTARY_SCHEDULE).toBe("0 0 1,2 * * *");
    const h = azureHandlers(graph, deps(recorder(), stack(empty.path, URIS), "customer_features", env));
    const tick = (at: string) => h.timer(timer, invocation(at, { scheduledTime: at }).context);
    // November: Berlin is UTC+1.
    expect(await tick("2026-11-02T01:00:00.000Z")).toEqual({
      id: "customer_features@2026-11-02T01:00:00.000Z",
      kind: "ignored",
      status: "ignored",
      detail:
        'the timer fired at 2026-11-02T01:00:00.000Z, 2026-11-02 02:00 in Europe/Berlin, which is not a time of "customer_features"\'s schedule "0 3 * * *".',
      announced: [],
    });
    const run = await tick("2026-11-02T02:00:00.000Z");
    expect(run).toEqual({
      id: "customer_features@2026-11-02T02:00:00.000Z",
      kind: "schedule",
      status: "waiting",
      detail: run.detail,
      announced: [],
    });
    expect(run.detail).toMatch(/^"customer_features": 0 materialised, 0 fresh, 0 failed, 3 waiting: /);
    // July: Berlin is UTC+2, so 01:00 UTC is the run.
    expect((await tick("2026-07-01T01:00:00.000Z")).kind).toBe("schedule");
    expect((await tick("2026-07-01T02:00:00.000Z")).kind).toBe("ignored");
  });

  it("takes a past-due run's missed occurrence as its time", async () => {
    const h = azureHandlers(graph, deps(recorder(), stack(empty.path, URIS), "customer_features", env));
    const late = {
      ...timer,
      isPastDue: true,
      scheduleStatus: { ...timer.scheduleStatus, next: "2025-01-15T02:00:00Z" },
    };
    const report = await h.timer(late, invocation("late").context);
    expect(report.id).toBe("customer_features@2025-01-15T02:00:00.000Z");
    expect(report.kind).toBe("schedule");
  });

  it("names the app setting a scheduled function is missing", async () => {
    const h = azureHandlers(
      graph,
      deps(recorder(), stack(empty.path, URIS), "customer_features", { TRIBUTARY_SCHEDULE: "0 0 1,2 * * *" }),
    );
    await expect(
      h.timer(timer, invocation("x", { scheduledTime: "2026-11-02T02:00:00Z" }).context),
    ).rejects.toThrow(
      new HandlerConfigError(
        "handler: app setting TRIBUTARY_SCHEDULE_CRON is not set, but the timer fired; the function was not deployed by Tributary's infra. Deploy it with pulumi up.",
      ),
    );
  });
});

describe("parsing", () => {
  it("takes a Service Bus body as an object, as JSON text or as bytes", () => {
    const body = { asset: "orders_cdc", partition: `${DAY}|acme`, dataVersion: "v1" };
    const meta = metadata("m", assetProps("orders_cdc"));
    const work = { kind: "asset-materialised", id: "m", ...body };
    expect(serviceBusWork(body, meta, "m")).toEqual(work);
    expect(serviceBusWork(JSON.stringify(body), meta, "m")).toEqual(work);
    expect(serviceBusWork(Buffer.from(JSON.stringify(body)), meta, "m")).toEqual(work);
    // Only the older name of the properties, as older extensions give them.
    expect(serviceBusWork(body, { messageId: "m", userProperties: assetProps("orders_cdc") }, "m")).toEqual(
      work,
    );
    expect(() => serviceBusWork("Message Body", meta, "m")).toThrow(
      'Service Bus message m: the body is not JSON ("Message Body"); expected the JSON body of a tributary.asset.materialised message.',
    );
    expect(() => serviceBusWork(body, {}, undefined)).toThrow(
      "Service Bus message (no id): the trigger metadata has no messageId; it cannot be processed idempotently.",
    );
  });

  it("splits blob URLs into the container's store URI and the key, Azurite's too", () => {
    expect(blobOf("https://acct.blob.core.windows.net/raw/landing/orders_cdc/a%3Db.ndjson")).toEqual({
      store: "https://acct.blob.core.windows.net/raw",
      key: "landing/orders_cdc/a=b.ndjson",
      url: "https://acct.blob.core.windows.net/raw/landing/orders_cdc/a=b.ndjson",
    });
    expect(blobOf("http://127.0.0.1:10000/devstoreaccount1/raw/landing/x.ndjson")).toEqual({
      store: "http://127.0.0.1:10000/devstoreaccount1/raw",
      key: "landing/x.ndjson",
      url: "http://127.0.0.1:10000/devstoreaccount1/raw/landing/x.ndjson",
    });
    expect(blobOf("https://acct.blob.core.windows.net/raw")).toBeUndefined();
  });
});

describe("registration", () => {
  function recordingApp() {
    const calls: { kind: string; name: string; options: Record<string, unknown> }[] = [];
    const app: AzureApp = {
      serviceBusTopic: (name, options) =>
        void calls.push({ kind: "serviceBusTopic", name, options: { ...options } }),
      timer: (name, options) => void calls.push({ kind: "timer", name, options: { ...options } }),
      eventGrid: (name, options) => void calls.push({ kind: "eventGrid", name, options: { ...options } }),
      eventHub: (name, options) => void calls.push({ kind: "eventHub", name, options: { ...options } }),
    };
    return { app, calls };
  }

  it("registers the subscription's trigger of a consumer and the Event Grid trigger of an ingest", () => {
    const { app, calls } = recordingApp();
    const env = {
      ...s.env("orders_cdc"),
      TRIBUTARY_TOPIC: "source-events",
      TRIBUTARY_SUBSCRIPTION: "orders_cdc",
    };
    expect(registerAzure(graph, { env }, app)).toEqual(["events", "landed"]);
    expect(calls).toEqual([
      {
        kind: "serviceBusTopic",
        name: "events",
        options: {
          topicName: "%TRIBUTARY_TOPIC%",
          subscriptionName: "%TRIBUTARY_SUBSCRIPTION%",
          connection: "TRIBUTARY_BUS",
          cardinality: "one",
          handler: expect.any(Function),
        },
      },
      { kind: "eventGrid", name: "landed", options: { handler: expect.any(Function) } },
    ]);
  });

  it("registers only the timer of a scheduled asset", () => {
    const { app, calls } = recordingApp();
    const env = { ...s.env("daily_revenue"), TRIBUTARY_SCHEDULE: "0 30 2 * * *" };
    expect(registerAzure(graph, { env }, app)).toEqual(["schedule"]);
    expect(calls).toEqual([
      {
        kind: "timer",
        name: "schedule",
        options: { schedule: "%TRIBUTARY_SCHEDULE%", handler: expect.any(Function) },
      },
    ]);
  });
});

describe("the Service Bus publisher", () => {
  /** What a ServiceBusSender would have sent (Service Bus speaks AMQP; there is no emulator to run here). */
  function sender(fail?: Error) {
    const sent: ServiceBusMessage[][] = [];
    return {
      sent,
      sendMessages: async (messages: ServiceBusMessage[]) => {
        if (fail) throw fail;
        sent.push(messages);
      },
    };
  }

  it("sends the JSON body with the properties the subscriptions' SQL filters read, and a duplicate-detection id", async () => {
    const to = sender();
    const publisher = new ServiceBusPublisher({
      namespace: "trib-test.servicebus.windows.net",
      topic: "asset-events",
      sender: to,
    });
    await publisher.publish([{ asset: "curated_orders", partition: "acme", dataVersion: "d1" }]);
    expect(to.sent).toEqual([
      [
        {
          body: { asset: "curated_orders", partition: "acme", dataVersion: "d1" },
          contentType: "application/json",
          messageId: "curated_orders/acme/d1",
          applicationProperties: {
            producer: "tributary",
            type: "tributary.asset.materialised",
            asset: "curated_orders",
          },
        },
      ],
    ]);
  });

  it("sends at most 50 messages per call, and hashes an id longer than Service Bus allows", async () => {
    const to = sender();
    const many = Array.from({ length: 120 }, (_, i) => ({
      asset: "daily_revenue",
      partition: `p${i}`,
      dataVersion: "d",
    }));
    await new ServiceBusPublisher({ namespace: "n", topic: "t", sender: to }).publish(many);
    expect(to.sent.map((batch) => batch.length)).toEqual([50, 50, 20]);
    const long = { asset: "a".repeat(60), partition: "2026-11-01|acme", dataVersion: "f".repeat(64) };
    expect(serviceBusMessage(long).messageId).toBe(
      createHash("sha256").update(`${long.asset}/${long.partition}/${long.dataVersion}`).digest("hex"),
    );
  });

  it("fails the invocation when the bus refuses, and names the namespace setting when it is missing", async () => {
    const publisher = new ServiceBusPublisher({
      namespace: "n",
      topic: "t",
      sender: sender(new Error("quota exceeded")),
    });
    await expect(publisher.publish([{ asset: "x", partition: "", dataVersion: "d" }])).rejects.toThrow(
      new PublishError("servicebus: 1 announcements were not sent to topic t of n: quota exceeded"),
    );
    const h = azureHandlers(graph, { env: s.env("orders_cdc"), openStore: (uri) => s.openStore(uri) });
    await expect(
      h.serviceBus(
        { source: "orders_cdc", records: [] },
        invocation("n", metadata("sb-99", sourceProps("orders_cdc"))).context,
      ),
    ).rejects.toThrow(
      "handler: app setting TRIBUTARY_BUS__fullyQualifiedNamespace is not set; the function was not deployed by Tributary's infra. Deploy it with pulumi up.",
    );
  });
});
