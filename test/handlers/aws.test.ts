import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import {
  asyncWork,
  awsHandler,
  awsLogLine,
  EventBridgePublisher,
  sqsItems,
} from "../../src/runtime/handlers/aws.ts";
import { type Announcement, batchIdOf, PoisonMessageError } from "../../src/runtime/handlers/core.ts";
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

const URIS = {
  raw: "s3://trib-test-raw",
  curated: "s3://trib-test-curated",
  quarantine: "s3://trib-test-quarantine",
};

/** The EventBridge event a bus rule forwards to a consumer's queue. */
function busEvent(type: string, detail: unknown, id: string) {
  return {
    version: "0",
    id,
    "detail-type": type,
    source: type === MESSAGES.assetMaterialised ? MESSAGES.producer : "shop.orders",
    account: "123456789012",
    time: "2026-11-02T00:00:05Z",
    region: "eu-west-1",
    resources: [],
    detail,
  };
}

/** An SQS batch as the event source mapping delivers it. */
function sqsBatch(...records: [messageId: string, body: string][]) {
  return {
    Records: records.map(([messageId, body]) => ({
      messageId,
      receiptHandle: `handle-${messageId}`,
      body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: "1793577605000",
        SenderId: "AIDAEXAMPLE",
        ApproximateFirstReceiveTimestamp: "1793577605100",
      },
      messageAttributes: {},
      md5OfBody: "0",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:trib-test-orders-cdc-queue",
      awsRegion: "eu-west-1",
    })),
  };
}

/** What every SQS body error ends with: the shapes an SQS body may take. */
const EXPECTED_BODY =
  "the EventBridge event of a Tributary bus rule (detail-type tributary.asset.materialised or tributary.source.events), an S3 event notification, or an SNS notification carrying one";

/** The shared S3 sample, for the stack's raw bucket and a landed object's (URL-encoded) key. */
async function s3Notification(key: string): Promise<{ Records: Record<string, unknown>[] }> {
  const event = (await fixture("aws-s3-put.json")) as { Records: Record<string, Record<string, unknown>>[] };
  const record = event.Records[0]!;
  record.s3 = {
    ...record.s3,
    bucket: { ...(record.s3!.bucket as object), name: "trib-test-raw", arn: "arn:aws:s3:::trib-test-raw" },
    object: { ...(record.s3!.object as object), key },
  };
  return event;
}

/** An SNS notification as SNS delivers it to an SQS queue without raw message delivery. */
function snsNotification(message: unknown) {
  return {
    Type: "Notification",
    MessageId: "9b5f3c1e-0d7a-5c8e-9f61-1a2b3c4d5e6f",
    TopicArn: "arn:aws:sns:eu-west-1:123456789012:trib-test-landing",
    Subject: "Amazon S3 Notification",
    Message: JSON.stringify(message),
    Timestamp: "2026-11-01T00:00:01.000Z",
    SignatureVersion: "1",
    Signature: "EXAMPLE",
    SigningCertURL: "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
    UnsubscribeURL: "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=EXAMPLE",
  };
}

const workLines = (r: ReturnType<typeof recorder>) =>
  r.logged("tributary.work").map(({ id, status, detail }) => ({ id, status, detail }));

let dir: Awaited<ReturnType<typeof tempDir>>;
let s: ReturnType<typeof stack>;
let records: Record<string, unknown>[];
beforeAll(async () => {
  dir = await tempDir("aws");
  s = stack(dir.path, URIS);
  records = orderRecords();
});
afterAll(() => dir.remove());

describe("the shared AWS samples", () => {
  it("is an async handler of (event, context): Lambda's Node.js 24 runtime runs no callback-style one", async () => {
    const handler = awsHandler(graph, recorder().deps(s, "orders_cdc"));
    expect(handler.length).toBe(2);
    const result = handler(await fixture("aws-sqs.json"));
    expect(result).toBeInstanceOf(Promise);
    await result;
  });

  it("the SQS sample's body is no Tributary event: that record alone fails, logged with its reason", async () => {
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "orders_cdc"));
    expect(await handler(await fixture("aws-sqs.json"))).toEqual({
      batchItemFailures: [{ itemIdentifier: "MessageID_1" }],
    });
    expect(r.logged("tributary.work.failed")).toEqual([
      {
        event: "tributary.work.failed",
        id: "MessageID_1",
        error: "PoisonMessageError",
        message: `SQS message MessageID_1: the body is not JSON ("Message Body"); expected ${EXPECTED_BODY}.`,
        poison: true,
      },
    ]);
    expect(r.published).toEqual([]);
  });

  it("the S3 sample parses and is ignored: HappyFace.jpg is no landing object", async () => {
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "orders_cdc"));
    expect(await handler(await fixture("aws-s3-put.json"), { awsRequestId: "req-1" })).toEqual([
      {
        id: "s3://sourcebucket/HappyFace.jpg@version",
        kind: "object-created",
        status: "ignored",
        detail:
          'object HappyFace.jpg in s3://sourcebucket is not a landing object of this function (it ingests "orders_cdc": landing/orders_cdc/…).',
        announced: [],
      },
    ]);
  });
});

describe("an ingest function on AWS", () => {
  let announced: Announcement[];

  it("ingests a source-events message; its redelivery writes nothing and announces the same again", async () => {
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "orders_cdc"));
    // Records as JSON objects and as NDJSON lines, both.
    const body = JSON.stringify(
      busEvent(
        MESSAGES.sourceEvents,
        { source: "orders_cdc", records: records.map((x, i) => (i % 2 ? JSON.stringify(x) : x)) },
        "eb-1",
      ),
    );
    expect(await handler(sqsBatch(["msg-1", body]))).toEqual({ batchItemFailures: [] });
    const n = records.length;
    expect(n).toBe(16);
    expect(workLines(r)).toEqual([
      {
        id: "eb-1",
        status: "ingested",
        detail: `batch ${batchIdOf("eb-1")} of "orders_cdc": read ${n} = written ${n} + quarantined 0 + duplicates 0.`,
      },
    ]);
    announced = await sourceAnnouncements(s, "orders_cdc");
    expect(announced.map((a) => a.partition)).toEqual([`${DAY}|acme`, `${DAY}|globex`, `${DAY}|initech`]);
    expect(r.published).toEqual(announced);

    const before = await tree(dir.path);
    expect(await handler(sqsBatch(["msg-1", body]))).toEqual({ batchItemFailures: [] });
    expect(await tree(dir.path)).toEqual(before);
    const again = {
      id: "eb-1",
      status: "duplicate",
      detail: `batch ${batchIdOf("eb-1")} of "orders_cdc" was already committed (read ${n} = written ${n} + quarantined 0 + duplicates 0); announced again.`,
    };
    expect(workLines(r)[1]).toEqual(again);
    // EventBridge may put one event into the queue twice: another SQS message, the same event id.
    expect(await handler(sqsBatch(["msg-2", body]))).toEqual({ batchItemFailures: [] });
    expect(await tree(dir.path)).toEqual(before);
    expect(workLines(r)[2]).toEqual(again);
    expect(r.published).toEqual([...announced, ...announced, ...announced]);
  });

  it("fails exactly the poison record of a batch and still runs the records after it", async () => {
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "orders_cdc"));
    const ok = (id: string, source: string, rows: unknown[]) =>
      [id, JSON.stringify(busEvent(MESSAGES.sourceEvents, { source, records: rows }, `eb-${id}`))] as [
        string,
        string,
      ];
    const result = await handler(
      sqsBatch(
        ok("b-1", "orders_cdc", records.slice(0, 2)),
        ["b-2", JSON.stringify(busEvent(MESSAGES.sourceEvents, { source: "orders_cdc" }, "eb-b-2"))],
        ok("b-3", "customers_cdc", []),
      ),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "b-2" }] });
    expect(workLines(r)).toEqual([
      {
        id: "eb-b-1",
        status: "ingested",
        detail: `batch ${batchIdOf("eb-b-1")} of "orders_cdc": read 2 = written 0 + quarantined 0 + duplicates 2.`,
      },
      {
        id: "eb-b-3",
        status: "ignored",
        detail: 'source events of "customers_cdc" are not for this function (it ingests "orders_cdc").',
      },
    ]);
    expect(r.logged("tributary.work.failed")).toEqual([
      {
        event: "tributary.work.failed",
        // Logged under the id of the work it carries (the EventBridge event's), as a success would be.
        id: "eb-b-2",
        error: "PoisonMessageError",
        message:
          'SQS message b-2: a tributary.source.events message has the body {source, records} (records: JSON objects or NDJSON lines), not "{\\"source\\":\\"orders_cdc\\"}".',
        poison: true,
      },
    ]);
  });

  it("ingests an object landed in S3 under an URL-encoded key, once per write", async () => {
    const key = "landing/orders_cdc/day=2026-11-01|late.ndjson";
    const path = join(dir.path, "raw", key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(
      path,
      `${records
        .slice(0, 3)
        .map((x) => JSON.stringify(x))
        .join("\n")}\n`,
    );
    const event = await fixture("aws-s3-put.json");
    const record = (event.Records as Record<string, Record<string, Record<string, unknown>>>[])[0]!;
    record.s3!.bucket = { name: "trib-test-raw" };
    record.s3!.object = {
      key: "landing/orders_cdc/day%3D2026-11-01%7Clate.ndjson",
      size: 10,
      sequencer: "0A1B",
    };
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "orders_cdc"));
    const id = `s3://trib-test-raw/${key}@0A1B`;
    expect(await handler(event)).toEqual([
      {
        id,
        kind: "object-created",
        status: "ingested",
        detail: `batch ${batchIdOf(id)} of "orders_cdc": read 3 = written 0 + quarantined 0 + duplicates 3.`,
        // Nothing new was written: no partition changed, nothing to announce.
        announced: [],
      },
    ]);
    // S3 notified twice: the second delivery finds the batch committed.
    const [again] = (await handler(event)) as { status: string }[];
    expect(again!.status).toBe("duplicate");
  });

  it("ingests an object whose S3 notification came through SQS, and through SNS and SQS, once per write", async () => {
    const key = "landing/orders_cdc/late=batch|2.ndjson";
    await mkdir(join(dir.path, "raw", "landing", "orders_cdc"), { recursive: true });
    // Changes no earlier message carried: new log positions, so new event ids.
    const fresh = records
      .slice(0, 3)
      .map((x, i) => ({ ...x, source: { ...(x.source as object), lsn: 990_000_000 + i } }));
    await writeFile(join(dir.path, "raw", key), `${fresh.map((x) => JSON.stringify(x)).join("\n")}\n`);
    const notification = await s3Notification("landing/orders_cdc/late%3Dbatch%7C2.ndjson");
    const test = { Service: "Amazon S3", Event: "s3:TestEvent", Bucket: "trib-test-raw", RequestId: "R1" };
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "orders_cdc"));
    const id = `s3://trib-test-raw/${key}@version`;
    const first = await handler(
      sqsBatch(["sqs-1", JSON.stringify(notification)], ["sqs-2", JSON.stringify(test)]),
    );
    expect(r.logged("tributary.work.failed").map((l) => l.message)).toEqual([]);
    expect(first).toEqual({ batchItemFailures: [] });
    const before = await tree(dir.path);
    // The same write notified again, now through an SNS topic: the batch is committed already.
    expect(await handler(sqsBatch(["sqs-3", JSON.stringify(snsNotification(notification))]))).toEqual({
      batchItemFailures: [],
    });
    expect(await tree(dir.path)).toEqual(before);
    const counts = "read 3 = written 3 + quarantined 0 + duplicates 0";
    expect(workLines(r)).toEqual([
      { id, status: "ingested", detail: `batch ${batchIdOf(id)} of "orders_cdc": ${counts}.` },
      {
        id: "sqs-2",
        status: "ignored",
        detail:
          "SQS message sqs-2 is the S3 test event (s3:TestEvent) of bucket trib-test-raw, sent when its notifications were configured.",
      },
      {
        id,
        status: "duplicate",
        detail: `batch ${batchIdOf(id)} of "orders_cdc" was already committed (${counts}); announced again.`,
      },
    ]);
    const partitions = [`${DAY}|acme`, `${DAY}|globex`, `${DAY}|initech`];
    expect(r.published.map((a) => a.partition)).toEqual([...partitions, ...partitions]);
  });

  it("takes S3 notifications an SNS topic invokes the function with (S3 → SNS → Lambda)", async () => {
    const notification = await s3Notification("landing/orders_cdc/x%3Dy.ndjson");
    const sns = snsNotification(notification);
    const event = {
      Records: [
        {
          EventSource: "aws:sns",
          EventVersion: "1.0",
          EventSubscriptionArn: `${sns.TopicArn}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`,
          Sns: { ...sns, MessageAttributes: {} },
        },
      ],
    };
    expect(asyncWork(event, "orders_cdc").map((w) => [w.id, w.make()])).toEqual([
      [
        "s3://trib-test-raw/landing/orders_cdc/x=y.ndjson@version",
        {
          kind: "object-created",
          id: "s3://trib-test-raw/landing/orders_cdc/x=y.ndjson@version",
          store: "s3://trib-test-raw",
          key: "landing/orders_cdc/x=y.ndjson",
        },
      ],
    ]);
  });

  it("decodes S3 keys, + for a space, prefers the version id to the sequencer, and names a key no store takes", () => {
    const created = (key: string, version: Record<string, string>) => ({
      eventSource: "aws:s3",
      eventName: "ObjectCreated:CompleteMultipartUpload",
      s3: { bucket: { name: "trib-test-raw" }, object: { key, ...version } },
    });
    const event = {
      Records: [
        created("landing/orders_cdc/day%3D2026-11-01%7Cpart-1.ndjson", { versionId: "v7", sequencer: "0C" }),
        {
          eventSource: "aws:s3",
          eventName: "ObjectRemoved:Delete",
          s3: {
            bucket: { name: "trib-test-raw" },
            object: { key: "landing/orders_cdc/x.ndjson", sequencer: "0D" },
          },
        },
        created("landing/orders_cdc/two+words%2Bplus%C3%A9.ndjson", { sequencer: "0E" }),
      ],
    };
    const items = asyncWork(event, "orders_cdc");
    expect(items.map((w) => w.id)).toEqual([
      "s3://trib-test-raw/landing/orders_cdc/day=2026-11-01|part-1.ndjson@v7",
      "s3://trib-test-raw/landing/orders_cdc/x.ndjson@0D",
      "s3://trib-test-raw/landing/orders_cdc/two words+plusé.ndjson@0E",
    ]);
    expect(items.slice(0, 2).map((w) => w.make())).toEqual([
      {
        kind: "object-created",
        id: "s3://trib-test-raw/landing/orders_cdc/day=2026-11-01|part-1.ndjson@v7",
        store: "s3://trib-test-raw",
        key: "landing/orders_cdc/day=2026-11-01|part-1.ndjson",
      },
      {
        kind: "ignored",
        id: "s3://trib-test-raw/landing/orders_cdc/x.ndjson@0D",
        reason:
          "S3 event ObjectRemoved:Delete of s3://trib-test-raw/landing/orders_cdc/x.ndjson@0D is not an object creation.",
      },
    ]);
    // The decoded key has a space: no retry makes it readable, so it is poison, and says what to do.
    expect(() => items[2]!.make()).toThrow(
      new PoisonMessageError(
        's3://trib-test-raw/landing/orders_cdc/two words+plusé.ndjson@0E: the landed object\'s key "landing/orders_cdc/two words+plusé.ndjson" cannot be read: object key "landing/orders_cdc/two words+plusé.ndjson" is invalid: segment "two words+plusé.ndjson" must be letters, digits and _ . = | - (no "..", no empty segments). Rename the object.',
      ),
    );
  });

  it("materialises curated_orders on its upstream's announcement and announces exactly that commit", async () => {
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "curated_orders"));
    const acme = announced.find((a) => a.partition === `${DAY}|acme`)!;
    const t0 = Date.now();
    expect(
      await handler(sqsBatch(["e-1", JSON.stringify(busEvent(MESSAGES.assetMaterialised, acme, "eb-e-1"))])),
    ).toEqual({ batchItemFailures: [] });
    const t1 = Date.now();
    const dataVersion = await committedVersion(dir.path, "curated_orders", "acme");
    expect(r.published).toEqual([{ asset: "curated_orders", partition: "acme", dataVersion }]);
    expect(workLines(r)).toEqual([
      {
        id: "eb-e-1",
        status: "materialised",
        detail: '"curated_orders": 1 materialised, 0 fresh, 0 failed, 0 waiting.',
      },
    ]);
    // The commit's log line is an embedded metric format document of Tributary/AssetMaterialized.
    const [line] = r.logged(MESSAGES.assetMaterialised);
    const timestamp = (line!._aws as { Timestamp: number }).Timestamp;
    expect(timestamp).toBeGreaterThanOrEqual(t0);
    expect(timestamp).toBeLessThanOrEqual(t1);
    expect(line).toEqual({
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          {
            Namespace: "Tributary",
            Dimensions: [["Environment", "Asset"]],
            Metrics: [{ Name: "AssetMaterialized", Unit: "Count" }],
          },
        ],
      },
      event: "tributary.asset.materialised",
      asset: "curated_orders",
      partition: "acme",
      dataVersion,
      rows: 3,
      environment: "test",
      Environment: "test",
      Asset: "curated_orders",
      AssetMaterialized: 1,
    });

    // The announcement again (EventBridge delivered it twice): fresh, nothing rewritten, announced again.
    const before = await tree(dir.path);
    await handler(sqsBatch(["e-2", JSON.stringify(busEvent(MESSAGES.assetMaterialised, acme, "eb-e-1"))]));
    expect(await tree(dir.path)).toEqual(before);
    expect(workLines(r)[1]).toEqual({
      id: "eb-e-1",
      status: "fresh",
      detail: '"curated_orders": 0 materialised, 1 fresh, 0 failed, 0 waiting.',
    });
    expect(r.published).toEqual([
      { asset: "curated_orders", partition: "acme", dataVersion },
      { asset: "curated_orders", partition: "acme", dataVersion },
    ]);
  });
});

describe("scheduled invocations", () => {
  it("runs the asset's schedule at the EventBridge Scheduler's time, or a raw Scheduled Event's", async () => {
    const empty = await tempDir("aws-schedule");
    try {
      const r = recorder();
      const handler = awsHandler(graph, r.deps(stack(empty.path, URIS), "daily_revenue"));
      const waiting =
        '"daily_revenue": 0 materialised, 0 fresh, 0 failed, 3 waiting: daily_revenue/2026-11-01|acme: upstream curated_orders/acme has never been materialised; select it too (+daily_revenue).';
      expect(await handler({ asset: "daily_revenue", scheduledTime: "2026-11-02T02:30:00Z" })).toEqual([
        {
          id: "daily_revenue@2026-11-02T02:30:00Z",
          kind: "schedule",
          status: "waiting",
          detail: waiting,
          announced: [],
        },
      ]);
      const raw = {
        version: "0",
        id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        source: "aws.scheduler",
        account: "123456789012",
        time: "2026-11-02T02:30:00Z",
        region: "eu-west-1",
        resources: ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/trib-test-daily-revenue"],
        detail: "{}",
      };
      expect(await handler(raw)).toEqual([
        { id: raw.id, kind: "schedule", status: "waiting", detail: waiting, announced: [] },
      ]);
      expect(asyncWork(raw, "daily_revenue")[0]!.make()).toEqual({
        kind: "schedule",
        id: raw.id,
        asset: "daily_revenue",
        scheduledTime: new Date("2026-11-02T02:30:00Z"),
      });
      expect(await handler({ asset: "customer_features", scheduledTime: "2026-11-02T02:00:00Z" })).toEqual([
        {
          id: "customer_features@2026-11-02T02:00:00Z",
          kind: "schedule",
          status: "ignored",
          detail:
            'the schedule of "customer_features" is not for this function (it materialises "daily_revenue").',
          announced: [],
        },
      ]);
    } finally {
      await empty.remove();
    }
  });

  it("throws for an asynchronous invocation that fails, so that Lambda retries it", async () => {
    const r = recorder();
    const handler = awsHandler(graph, r.deps(s, "daily_revenue"));
    await expect(handler({ asset: "daily_revenue", scheduledTime: "at three" })).rejects.toThrow(
      new PoisonMessageError(
        'EventBridge Scheduler input: the scheduled time of "daily_revenue" is "at three", not an ISO 8601 timestamp.',
      ),
    );
    await expect(handler({ hello: "world" }, { awsRequestId: "req-9" })).rejects.toThrow(
      "lambda invocation req-9: the event is none of an SQS batch, an S3 notification, an SNS notification, an EventBridge Scheduler input {asset, scheduledTime} or an EventBridge event (its keys: hello).",
    );
    expect(r.logged("tributary.work.failed").map((l) => l.id)).toEqual(["daily_revenue@at three", "req-9"]);
  });
});

describe("parsing SQS records", () => {
  const record = (body: string) => ({ messageId: "x", body, eventSource: "aws:sqs" });
  const works = (body: string, self: string) => sqsItems(record(body), "x", self).map((i) => i.make());
  it("takes asset events and source events, a detail given as a string too", () => {
    const detail = { asset: "orders_cdc", partition: "2026-11-01|acme", dataVersion: "v1" };
    expect(
      works(JSON.stringify(busEvent(MESSAGES.assetMaterialised, JSON.stringify(detail), "e")), "a"),
    ).toEqual([{ kind: "asset-materialised", id: "e", ...detail }]);
    expect(() => works(JSON.stringify(busEvent("Object Created", {}, "e")), "curated_orders")).toThrow(
      `SQS message x: detail-type "Object Created" is not a Tributary event; expected ${EXPECTED_BODY}.`,
    );
    expect(() => works("[1,2]", "curated_orders")).toThrow(
      `SQS message x: the body is "[1,2]", which Tributary does not take; expected ${EXPECTED_BODY}.`,
    );
    expect(() => works(JSON.stringify({ hello: "world", n: 1 }), "curated_orders")).toThrow(
      `SQS message x: the body is an object with the keys hello, n, which Tributary does not take; expected ${EXPECTED_BODY}.`,
    );
    expect(() =>
      works(JSON.stringify(busEvent(MESSAGES.assetMaterialised, { asset: "orders_cdc" }, "e")), "a"),
    ).toThrow(
      'SQS message x: a tributary.asset.materialised message has the body {asset, partition, dataVersion} (strings; partition "" when the asset is unpartitioned), not "{\\"asset\\":\\"orders_cdc\\"}".',
    );
  });

  it("takes an S3 notification (S3 → SQS), and the SNS notification carrying one (S3 → SNS → SQS)", async () => {
    const notification = await s3Notification("landing/orders_cdc/day%3D2026-11-01%7Cpart-1.ndjson");
    const work = {
      kind: "object-created",
      id: "s3://trib-test-raw/landing/orders_cdc/day=2026-11-01|part-1.ndjson@version",
      store: "s3://trib-test-raw",
      key: "landing/orders_cdc/day=2026-11-01|part-1.ndjson",
    };
    expect(works(JSON.stringify(notification), "orders_cdc")).toEqual([work]);
    expect(works(JSON.stringify(snsNotification(notification)), "orders_cdc")).toEqual([work]);
    // Two records in one notification are two items, each named by its object's write.
    const two = {
      Records: [...notification.Records, { ...notification.Records[0]!, eventName: "ObjectRemoved:Delete" }],
    };
    expect(sqsItems(record(JSON.stringify(two)), "x", "orders_cdc").map((i) => i.id)).toEqual([
      work.id,
      work.id,
    ]);
    expect(works(JSON.stringify(two), "orders_cdc")[1]).toEqual({
      kind: "ignored",
      id: work.id,
      reason: `S3 event ObjectRemoved:Delete of ${work.id} is not an object creation.`,
    });
  });

  it("ignores S3's test event, raw or through SNS, and refuses an SNS message that carries no S3 notification", () => {
    const test = {
      Service: "Amazon S3",
      Event: "s3:TestEvent",
      Time: "2026-11-01T00:00:00.000Z",
      Bucket: "trib-test-raw",
      RequestId: "5582815E1AEA5ADF",
      HostId: "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    };
    expect(works(JSON.stringify(test), "orders_cdc")).toEqual([
      {
        kind: "ignored",
        id: "x",
        reason:
          "SQS message x is the S3 test event (s3:TestEvent) of bucket trib-test-raw, sent when its notifications were configured.",
      },
    ]);
    expect(works(JSON.stringify(snsNotification(test)), "orders_cdc")).toEqual([
      {
        kind: "ignored",
        id: "x",
        reason:
          "SQS message x: SNS message 9b5f3c1e-0d7a-5c8e-9f61-1a2b3c4d5e6f is the S3 test event (s3:TestEvent) of bucket trib-test-raw, sent when its notifications were configured.",
      },
    ]);
    expect(() => works(JSON.stringify(snsNotification({ alarm: "high" })), "orders_cdc")).toThrow(
      'SQS message x: SNS message 9b5f3c1e-0d7a-5c8e-9f61-1a2b3c4d5e6f: the message is not an S3 event notification: "{\\"alarm\\":\\"high\\"}"; Tributary takes S3 notifications through SNS.',
    );
    expect(() => works(JSON.stringify({ ...snsNotification(test), Message: "hi" }), "orders_cdc")).toThrow(
      'SQS message x: SNS message 9b5f3c1e-0d7a-5c8e-9f61-1a2b3c4d5e6f: the body is not JSON ("hi"); expected an S3 event notification.',
    );
  });
});

describe("the embedded metric format", () => {
  it("makes each commit's line a document of the metric Tributary/AssetMaterialized by Environment and Asset", () => {
    const record = {
      event: MESSAGES.assetMaterialised,
      asset: "daily_revenue",
      partition: "2026-11-01|acme",
      dataVersion: "d1",
      rows: 3,
      environment: "prod",
    };
    expect(awsLogLine(record, 1_793_577_600_000)).toBe(
      '{"_aws":{"Timestamp":1793577600000,"CloudWatchMetrics":[{"Namespace":"Tributary","Dimensions":[["Environment","Asset"]],"Metrics":[{"Name":"AssetMaterialized","Unit":"Count"}]}]},"event":"tributary.asset.materialised","asset":"daily_revenue","partition":"2026-11-01|acme","dataVersion":"d1","rows":3,"environment":"prod","Environment":"prod","Asset":"daily_revenue","AssetMaterialized":1}',
    );
    expect(awsLogLine({ event: "tributary.work", id: "m", status: "fresh" }, 1)).toBe(
      '{"event":"tributary.work","id":"m","status":"fresh"}',
    );
  });
});

describe("the EventBridge publisher", () => {
  interface Call {
    readonly target: string | undefined;
    readonly headers: IncomingHttpHeaders;
    readonly body: {
      Entries: { EventBusName: string; Source: string; DetailType: string; Detail: string }[];
    };
  }
  let calls: Call[];
  /** Entries (by their Detail) the fake bus refuses, and how many times each. */
  let refuse: Map<string, number>;
  let endpoint: string;
  let server: ReturnType<typeof createServer>;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = "";
      req.on("data", (c) => (text += c));
      req.on("end", () => {
        const body = JSON.parse(text) as Call["body"];
        calls.push({ target: req.headers["x-amz-target"] as string | undefined, headers: req.headers, body });
        let failed = 0;
        const Entries = body.Entries.map((e, i) => {
          const left = refuse.get(e.Detail) ?? 0;
          if (left > 0) {
            refuse.set(e.Detail, left - 1);
            failed++;
            return { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" };
          }
          return { EventId: `ev-${calls.length}-${i}` };
        });
        res.setHeader("content-type", "application/x-amz-json-1.1");
        res.end(JSON.stringify({ FailedEntryCount: failed, Entries }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const client = () =>
    new EventBridgeClient({
      endpoint,
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
      maxAttempts: 1,
    });
  const announcements = (n: number): Announcement[] =>
    Array.from({ length: n }, (_, i) => ({ asset: "orders_cdc", partition: `p${i}`, dataVersion: `v${i}` }));
  const detail = (a: Announcement) => JSON.stringify(a);

  it("puts at most 10 entries per call and retries only the entries EventBridge failed", async () => {
    calls = [];
    const all = announcements(23);
    refuse = new Map([[detail(all[4]!), 2]]);
    await new EventBridgePublisher({ bus: "trib-test-assets", client: client(), backoffMs: 0 }).publish(all);
    expect(calls.map((c) => c.target)).toEqual(Array(5).fill("AWSEvents.PutEvents"));
    expect(calls.map((c) => c.body.Entries.map((e) => JSON.parse(e.Detail).partition))).toEqual([
      ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"],
      ["p4"],
      ["p4"],
      ["p10", "p11", "p12", "p13", "p14", "p15", "p16", "p17", "p18", "p19"],
      ["p20", "p21", "p22"],
    ]);
    expect(calls[0]!.body.Entries[0]).toEqual({
      EventBusName: "trib-test-assets",
      Source: "tributary",
      DetailType: "tributary.asset.materialised",
      Detail: '{"asset":"orders_cdc","partition":"p0","dataVersion":"v0"}',
    });
    expect(calls[0]!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/events\/aws4_request/,
    );
  });

  it("throws naming the entries that still fail after every attempt", async () => {
    calls = [];
    const all = announcements(3);
    refuse = new Map([[detail(all[1]!), 10]]);
    const publisher = new EventBridgePublisher({
      bus: "trib-test-assets",
      endpoint,
      attempts: 3,
      backoffMs: 0,
    });
    // The default client, pointed at the endpoint; credentials and region from the environment.
    process.env.AWS_ACCESS_KEY_ID ??= "AKIDTEST";
    process.env.AWS_SECRET_ACCESS_KEY ??= "secret";
    process.env.AWS_REGION ??= "eu-west-1";
    await expect(publisher.publish(all)).rejects.toThrow(
      new PublishError(
        "eventbridge: 1 of 3 announcements were not put on bus trib-test-assets after 3 attempts: orders_cdc/p1: ThrottlingException (Rate exceeded).",
      ),
    );
    expect(calls.map((c) => c.body.Entries.length)).toEqual([3, 1, 1]);
  });
});
