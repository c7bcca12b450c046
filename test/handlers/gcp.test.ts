import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { type CloudEvent, cloudEvent } from "@google-cloud/functions-framework";
import { getTestServer } from "@google-cloud/functions-framework/testing";
import { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import { SCHEDULED } from "../../src/infra/gcp/function.ts";
import {
  type Announcement,
  batchIdOf,
  PoisonMessageError,
  type WorkReport,
} from "../../src/runtime/handlers/core.ts";
import { gcpHandler, gcpLogLine, gcpWork, PubSubPublisher } from "../../src/runtime/handlers/gcp.ts";
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

const URIS = {
  raw: "gs://trib-test-raw",
  curated: "gs://trib-test-curated",
  quarantine: "gs://trib-test-quarantine",
};
const PROJECT = "trib-test";

/** The Pub/Sub message of a push subscription: data base64, attributes beside it. */
function pubsubMessage(
  id: string,
  attributes: Record<string, string>,
  body: unknown,
  publishTime = "2026-11-02T00:00:05.123Z",
) {
  return {
    attributes,
    data: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)).toString("base64"),
    messageId: id,
    publishTime,
  };
}

/** The messagePublished CloudEvent Cloud Functions hands a function. */
function published(message: ReturnType<typeof pubsubMessage>, topic = "asset-events"): CloudEvent<unknown> {
  return {
    specversion: "1.0",
    type: "google.cloud.pubsub.topic.v1.messagePublished",
    source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/${topic}`,
    id: message.messageId,
    time: message.publishTime,
    datacontenttype: "application/json",
    data: {
      subscription: `projects/${PROJECT}/subscriptions/trib-test-consumer-trigger`,
      message: { "@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage", ...message },
    },
  };
}

const sourceEvents = (id: string, source: string, records: unknown[]) =>
  published(pubsubMessage(id, { type: MESSAGES.sourceEvents, source }, { source, records }), "source-events");
const assetEvent = (id: string, a: Announcement) =>
  published(
    pubsubMessage(id, { type: MESSAGES.assetMaterialised, asset: a.asset, producer: "tributary" }, a),
  );

let dir: Awaited<ReturnType<typeof tempDir>>;
let s: ReturnType<typeof stack>;
let records: Record<string, unknown>[];
beforeAll(async () => {
  dir = await tempDir("gcp");
  s = stack(dir.path, URIS);
  records = orderRecords();
});
afterAll(() => dir.remove());

describe("the shared GCP samples", () => {
  it("the Pub/Sub sample is poison: no Tributary type attribute, data not JSON", async () => {
    const r = recorder();
    // An asset's function: a CDC source's function takes a message without a type as a change event.
    const handler = gcpHandler(graph, r.deps(s, "curated_orders"));
    const message =
      'Pub/Sub message aaaaaa-1111-bbbb-2222-cccccccccccc: not a Tributary message: its attribute "type" is missing (attributes: attr1); expected tributary.asset.materialised, tributary.source.events or tributary.asset.scheduled.';
    await expect(
      handler((await fixture("gcp-pubsub-published.cloudevent.json")) as unknown as CloudEvent<unknown>),
    ).rejects.toThrow(new PoisonMessageError(message));
    expect(r.lines.map((l) => JSON.parse(l))).toEqual([
      {
        severity: "ERROR",
        event: "tributary.work.failed",
        id: "aaaaaa-1111-bbbb-2222-cccccccccccc",
        error: "PoisonMessageError",
        message,
        poison: true,
      },
    ]);
    // With a Tributary type, the sample's data ("test message 3") is still no JSON body.
    const sample = (await fixture("gcp-pubsub-published.cloudevent.json")) as {
      data: { message: { attributes: Record<string, string> } };
    };
    sample.data.message.attributes = { type: MESSAGES.sourceEvents, source: "orders_cdc" };
    expect(() => gcpWork(sample)).toThrow(
      'Pub/Sub message aaaaaa-1111-bbbb-2222-cccccccccccc: the body is not JSON ("test message 3"); expected the JSON body of a tributary.source.events message.',
    );
  });

  it("the storage sample parses (generation a string) and is ignored: folder/Test.cs is no landing object", async () => {
    const r = recorder();
    const handler = gcpHandler(graph, r.deps(s, "orders_cdc"));
    const event = (await fixture("gcp-storage-finalized.cloudevent.json")) as unknown as CloudEvent<unknown>;
    expect(gcpWork(event)).toEqual({
      kind: "object-created",
      id: "gs://some-bucket/folder/Test.cs#1587627537231057",
      store: "gs://some-bucket",
      key: "folder/Test.cs",
    });
    expect(await handler(event)).toEqual({
      id: "gs://some-bucket/folder/Test.cs#1587627537231057",
      kind: "object-created",
      status: "ignored",
      detail:
        'object folder/Test.cs in gs://some-bucket is not a landing object of this function (it ingests "orders_cdc": landing/orders_cdc/…).',
      announced: [],
    });
    expect(r.lines.map((l) => JSON.parse(l))).toEqual([
      {
        severity: "INFO",
        event: "tributary.work",
        id: "gs://some-bucket/folder/Test.cs#1587627537231057",
        kind: "object-created",
        status: "ignored",
        detail:
          'object folder/Test.cs in gs://some-bucket is not a landing object of this function (it ingests "orders_cdc": landing/orders_cdc/…).',
      },
    ]);
  });
});

describe("functions on GCP", () => {
  let announced: Announcement[];

  it("ingest a source-events message; its redelivery writes nothing and announces the same again", async () => {
    const r = recorder();
    const handler = gcpHandler(graph, r.deps(s, "orders_cdc"));
    const event = sourceEvents("1001", "orders_cdc", records);
    const n = records.length;
    const report = await handler(event);
    announced = await sourceAnnouncements(s, "orders_cdc");
    expect(report).toEqual({
      id: "1001",
      kind: "source-events",
      status: "ingested",
      detail: `batch ${batchIdOf("1001")} of "orders_cdc": read ${n} = written ${n} + quarantined 0 + duplicates 0.`,
      announced,
    });
    expect(announced.map((a) => a.partition)).toEqual([`${DAY}|acme`, `${DAY}|globex`, `${DAY}|initech`]);
    expect(r.published).toEqual(announced);
    // Structured lines: severity and the record's fields at the top level (Cloud Logging's jsonPayload).
    expect(r.logged(MESSAGES.assetMaterialised)).toEqual(
      announced.map((a) => ({
        severity: "INFO",
        event: MESSAGES.assetMaterialised,
        ...a,
        environment: "test",
      })),
    );

    const before = await tree(dir.path);
    expect(await handler(event)).toEqual({
      id: "1001",
      kind: "source-events",
      status: "duplicate",
      detail: `batch ${batchIdOf("1001")} of "orders_cdc" was already committed (read ${n} = written ${n} + quarantined 0 + duplicates 0); announced again.`,
      announced,
    });
    expect(await tree(dir.path)).toEqual(before);
    expect(r.published).toEqual([...announced, ...announced]);
  });

  it("a poison message among good ones throws for that message only", async () => {
    const r = recorder();
    const handler = gcpHandler(graph, r.deps(s, "orders_cdc"));
    const poison = published(
      pubsubMessage(
        "1003",
        { type: MESSAGES.sourceEvents, source: "orders_cdc" },
        { source: "orders_cdc", records: "x" },
      ),
      "source-events",
    );
    const results = await Promise.allSettled([
      handler(sourceEvents("1002", "orders_cdc", records.slice(0, 2))),
      handler(poison),
      handler(sourceEvents("1004", "customers_cdc", [])),
    ]);
    expect(results.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[0] as PromiseFulfilledResult<WorkReport>).value.detail).toBe(
      `batch ${batchIdOf("1002")} of "orders_cdc": read 2 = written 0 + quarantined 0 + duplicates 2.`,
    );
    expect((results[1] as PromiseRejectedResult).reason).toEqual(
      new PoisonMessageError(
        'Pub/Sub message 1003: a tributary.source.events message has the body {source, records} (records: JSON objects or NDJSON lines), not "{\\"source\\":\\"orders_cdc\\",\\"records\\":\\"x\\"}".',
      ),
    );
    expect((results[2] as PromiseFulfilledResult<WorkReport>).value.status).toBe("ignored");
  });

  it("materialises curated_orders on its upstream's announcement and announces exactly that commit", async () => {
    const r = recorder();
    const handler = gcpHandler(graph, r.deps(s, "curated_orders"));
    const acme = announced.find((a) => a.partition === `${DAY}|acme`)!;
    const report = await handler(assetEvent("2001", acme));
    const dataVersion = await committedVersion(dir.path, "curated_orders", "acme");
    expect(report).toEqual({
      id: "2001",
      kind: "asset-materialised",
      status: "materialised",
      detail: '"curated_orders": 1 materialised, 0 fresh, 0 failed, 0 waiting.',
      announced: [{ asset: "curated_orders", partition: "acme", dataVersion }],
    });
    expect(r.published).toEqual([{ asset: "curated_orders", partition: "acme", dataVersion }]);
    expect(r.logged(MESSAGES.assetMaterialised)).toEqual([
      {
        severity: "INFO",
        event: MESSAGES.assetMaterialised,
        asset: "curated_orders",
        partition: "acme",
        dataVersion,
        rows: 3,
        environment: "test",
      },
    ]);
  });

  it("runs a Cloud Scheduler tick at its publish time", async () => {
    const empty = await tempDir("gcp-schedule");
    try {
      const r = recorder();
      const handler = gcpHandler(graph, r.deps(stack(empty.path, URIS), "daily_revenue"));
      const tick = published(
        pubsubMessage(
          "3001",
          { type: SCHEDULED, asset: "daily_revenue" },
          { asset: "daily_revenue" },
          "2026-11-02T02:30:00.481Z",
        ),
        "trib-test-daily-revenue-schedule",
      );
      expect(gcpWork(tick)).toEqual({
        kind: "schedule",
        id: "3001",
        asset: "daily_revenue",
        scheduledTime: new Date("2026-11-02T02:30:00.481Z"),
      });
      expect(await handler(tick)).toEqual({
        id: "3001",
        kind: "schedule",
        status: "waiting",
        detail:
          '"daily_revenue": 0 materialised, 0 fresh, 0 failed, 3 waiting: daily_revenue/2026-11-01|acme: upstream curated_orders/acme has never been materialised; select it too (+daily_revenue).',
        announced: [],
      });
    } finally {
      await empty.remove();
    }
  });
});

describe("the real Functions Framework", () => {
  let url: string;
  let server: ReturnType<typeof getTestServer>;
  let seen: unknown[];
  let empty: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    seen = [];
    empty = await tempDir("gcp-framework");
    const handler = gcpHandler(graph, recorder().deps(stack(empty.path, URIS), "daily_revenue"));
    cloudEvent("tributary-push-test", (event: CloudEvent<unknown>) => {
      seen.push(event);
      return handler(event);
    });
    server = getTestServer("tributary-push-test");
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise<void>((ok) => server.close(() => ok()));
    await empty.remove();
  });

  const push = (message: Record<string, unknown>) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        message,
        subscription: `projects/${PROJECT}/subscriptions/trib-test-daily-revenue-trigger`,
      }),
    });

  it("turns a push request's body into a messagePublished CloudEvent and answers 200 with the report", async () => {
    const message = pubsubMessage(
      "4001",
      { type: SCHEDULED, asset: "daily_revenue" },
      { asset: "daily_revenue" },
      "2026-11-02T02:30:00.000Z",
    );
    const res = await push(message);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "4001", kind: "schedule", status: "waiting" });
    // The framework's conversion: the subscription name is dropped, the topic is unknown (the push URL has none).
    expect(seen).toEqual([
      {
        id: "4001",
        time: "2026-11-02T02:30:00.000Z",
        specversion: "1.0",
        datacontenttype: "application/json",
        type: "google.cloud.pubsub.topic.v1.messagePublished",
        source: "//pubsub.googleapis.com/",
        data: {
          message: {
            "@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage",
            data: message.data,
            attributes: message.attributes,
            publishTime: message.publishTime,
            messageId: "4001",
          },
        },
      },
    ]);
  });

  it("passes a push body with empty data on unconverted, which the handler takes as it is", async () => {
    seen.length = 0;
    const res = await push({
      attributes: { type: SCHEDULED, asset: "daily_revenue" },
      messageId: "4002",
      publishTime: "2026-11-02T02:30:00.000Z",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "4002", kind: "schedule", status: "waiting" });
    expect(seen).toEqual([
      {
        message: {
          attributes: { type: SCHEDULED, asset: "daily_revenue" },
          messageId: "4002",
          publishTime: "2026-11-02T02:30:00.000Z",
        },
        subscription: `projects/${PROJECT}/subscriptions/trib-test-daily-revenue-trigger`,
      },
    ]);
  });

  const post = (headers: Record<string, string>, body: string) =>
    fetch(url, { method: "POST", headers, body });
  const tick = (id: string) =>
    pubsubMessage(
      id,
      { type: SCHEDULED, asset: "daily_revenue" },
      { asset: "daily_revenue" },
      "2026-11-02T02:30:00.000Z",
    );
  const pushBody = (message: Record<string, unknown>) => ({
    message,
    subscription: `projects/${PROJECT}/subscriptions/trib-test-daily-revenue-trigger`,
  });
  const ce = (id: string) => ({
    "ce-specversion": "1.0",
    "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
    "ce-source": `//pubsub.googleapis.com/projects/${PROJECT}/topics/trib-test-daily-revenue-schedule`,
    "ce-id": id,
    "ce-time": "2026-11-02T02:30:00.000Z",
  });

  it("takes a CloudEvent in binary content mode: ce-* headers, the push message the body (Eventarc's delivery)", async () => {
    seen.length = 0;
    const message = tick("5001");
    const res = await post(
      { ...ce("5001"), "content-type": "application/json" },
      JSON.stringify(pushBody(message)),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "5001", kind: "schedule", status: "waiting" });
    // The framework hands the function the headers as attributes and the parsed body as data.
    expect(seen).toEqual([
      {
        specversion: "1.0",
        type: "google.cloud.pubsub.topic.v1.messagePublished",
        source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/trib-test-daily-revenue-schedule`,
        id: "5001",
        time: "2026-11-02T02:30:00.000Z",
        data: pushBody(message),
      },
    ]);
    // A body of a content type that is not JSON arrives as bytes: the handler parses them the same.
    seen.length = 0;
    const bytes = await post(
      { ...ce("5002"), "content-type": "application/octet-stream" },
      JSON.stringify(pushBody(tick("5002"))),
    );
    expect(bytes.status).toBe(200);
    expect(await bytes.json()).toMatchObject({ id: "5002", kind: "schedule", status: "waiting" });
    expect(Buffer.isBuffer((seen[0] as { data: unknown }).data)).toBe(true);
    // A text/plain body never reaches the function: the framework's own middleware fails on a string.
    const text = await post({ ...ce("5006"), "content-type": "text/plain" }, "{}");
    expect([text.status, seen.length]).toEqual([500, 1]);
  });

  it("takes a CloudEvent in structured content mode, Pub/Sub's or one of a Tributary type, data_base64 too", async () => {
    seen.length = 0;
    const message = tick("5003");
    const event = {
      specversion: "1.0",
      type: "google.cloud.pubsub.topic.v1.messagePublished",
      source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/trib-test-daily-revenue-schedule`,
      id: "5003",
      time: "2026-11-02T02:30:00.000Z",
      datacontenttype: "application/json",
      data: pushBody(message),
    };
    const res = await post({ "content-type": "application/cloudevents+json" }, JSON.stringify(event));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: "5003", kind: "schedule", status: "waiting" });
    expect(seen).toEqual([event]);
    const own = {
      specversion: "1.0",
      type: SCHEDULED,
      source: "//example.com/scheduler",
      id: "5004",
      time: "2026-11-02T02:30:00.000Z",
      data_base64: Buffer.from(JSON.stringify({ asset: "daily_revenue" })).toString("base64"),
    };
    const mine = await post({ "content-type": "application/cloudevents+json" }, JSON.stringify(own));
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ id: "5004", kind: "schedule", status: "waiting" });
    const unknown = await post(
      { "content-type": "application/cloudevents+json" },
      JSON.stringify({ ...own, id: "5005", type: "com.example.order.created" }),
    );
    expect(unknown.status).toBe(500);
    expect(await unknown.text()).toBe(
      'event 5005: a CloudEvent of type "com.example.order.created" is none of a Pub/Sub message (google.cloud.pubsub.topic.v1.messagePublished), a landed object (google.cloud.storage.object.v1.finalized) or a Tributary message (tributary.asset.materialised, tributary.source.events or tributary.asset.scheduled).',
    );
  });

  it("answers 500 for a poison message, so that Pub/Sub retries it and dead-letters it", async () => {
    const res = await push(pubsubMessage("4003", { attr1: "attr1-value" }, "test message 3"));
    expect(res.status).toBe(500);
    expect(await res.text()).toBe(
      'Pub/Sub message 4003: not a Tributary message: its attribute "type" is missing (attributes: attr1); expected tributary.asset.materialised, tributary.source.events or tributary.asset.scheduled.',
    );
  });
});

describe("the Pub/Sub publisher", () => {
  interface Call {
    readonly path: string | undefined;
    readonly headers: IncomingHttpHeaders;
    readonly body: { messages: { data: string; attributes: Record<string, string> }[] };
  }
  const calls: Call[] = [];
  let server: ReturnType<typeof createServer>;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", () => {
        const body = JSON.parse(text) as Call["body"];
        calls.push({ path: req.url, headers: req.headers, body });
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ messageIds: body.messages.map((_, i) => `${calls.length}-${i}`) }));
      });
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it("publishes each announcement with the attributes the subscriptions filter on (REST, to a loopback server)", async () => {
    const pubsub = new PubSub({
      projectId: PROJECT,
      apiEndpoint: `127.0.0.1:${port}`,
      fallback: true,
      protocol: "http",
      // The REST transport's auth client: no token to fetch on a loopback server.
      authClient: {
        getRequestHeaders: async () => new Headers(),
        fetch: (u: string, init: RequestInit) => fetch(u, init),
      },
    } as unknown as ConstructorParameters<typeof PubSub>[0]);
    const announcements: Announcement[] = [
      { asset: "curated_orders", partition: "acme", dataVersion: "d1" },
      { asset: "curated_orders", partition: "globex", dataVersion: "d2" },
    ];
    const publisher = new PubSubPublisher({
      topic: `projects/${PROJECT}/topics/trib-test-asset-events`,
      pubsub,
    });
    await publisher.publish(announcements);
    await pubsub.close();
    expect(calls.map((c) => c.path)).toEqual([
      `/v1/projects/${PROJECT}/topics/trib-test-asset-events:publish?$alt=json%3Benum-encoding=int`,
    ]);
    expect(
      calls[0]!.body.messages.map((m) => ({
        attributes: m.attributes,
        data: JSON.parse(Buffer.from(m.data, "base64").toString()),
      })),
    ).toEqual(
      announcements.map((a) => ({
        attributes: { type: "tributary.asset.materialised", asset: "curated_orders", producer: "tributary" },
        data: a,
      })),
    );
  });
});

describe("log lines", () => {
  it("carry a Cloud Logging severity", () => {
    expect(gcpLogLine({ event: "tributary.work.failed", id: "1" })).toBe(
      '{"severity":"ERROR","event":"tributary.work.failed","id":"1"}',
    );
    expect(gcpLogLine({ event: "tributary.lineage.warning", warning: "w" })).toBe(
      '{"severity":"WARNING","event":"tributary.lineage.warning","warning":"w"}',
    );
    expect(gcpLogLine({ event: "tributary.work", id: "2" })).toBe(
      '{"severity":"INFO","event":"tributary.work","id":"2"}',
    );
  });
});
