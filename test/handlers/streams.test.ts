/**
 * A CDC source's function on each cloud, fed its stream as Debezium Server's sink writes it: Debezium's
 * own change events of `inventory.products` (../shared/fixtures/cdc/) in a Kinesis event (the shape of
 * ../shared/fixtures/cloud-events/aws-kinesis.json), in Pub/Sub pushes with ordering keys (the shape of
 * gcp-pubsub-push-ordering.json), in an Event Hubs batch (the trigger's shape as that folder's SOURCES.md
 * describes it). Each batch lands through ingest; a redelivered batch writes nothing; a record the store
 * refuses fails alone, reported so that the cloud retries it, and every other record lands.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { InvocationContext } from "@azure/functions";
import type { ServiceBusMessage } from "@azure/service-bus";
import { type CloudEvent, cloudEvent } from "@google-cloud/functions-framework";
import { getTestServer } from "@google-cloud/functions-framework/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { committedBatches } from "../../src/runtime/engine/ingest.ts";
import { awsHandler } from "../../src/runtime/handlers/aws.ts";
import { type AzureApp, azureHandlers, registerAzure } from "../../src/runtime/handlers/azure.ts";
import type { HandlerDeps } from "../../src/runtime/handlers/core.ts";
import { ServiceBusDeadLetters } from "../../src/runtime/handlers/dead-letters-servicebus.ts";
import { gcpHandler } from "../../src/runtime/handlers/gcp.ts";
import { functionEnvironment } from "../../src/runtime/handlers/local.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { tree } from "./helpers.ts";
import { CHANGES, graph, NEXT_DAY, REFUSED, RefusingStore, recordKey, sequenceNumber } from "./streamed.ts";

const URIS = {
  raw: "s3://trib-test-raw",
  curated: "s3://trib-test-curated",
  quarantine: "s3://trib-test-quarantine",
};
const STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-test.inventory.products";
const ORIGIN = `${STREAM_ARN}/shardId-000000000000`;

let dir: string;
/** The stack's three stores, each a directory; `raw` refuses REFUSED while `refusing` says so. */
let stores: Record<"raw" | "curated" | "quarantine", RefusingStore>;
const lines: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-streams-"));
  stores = {
    raw: new RefusingStore(new LocalStore(join(dir, "raw"))),
    curated: new RefusingStore(new LocalStore(join(dir, "curated"))),
    quarantine: new RefusingStore(new LocalStore(join(dir, "quarantine"))),
  };
  lines.length = 0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function deps(): HandlerDeps {
  const byUri = {
    [URIS.raw]: stores.raw,
    [URIS.curated]: stores.curated,
    [URIS.quarantine]: stores.quarantine,
  };
  return {
    env: functionEnvironment(graph, "products", URIS, "test"),
    openStore: (uri) => byUri[uri]!,
    publisher: { publish: async () => {} },
    write: (line) => void lines.push(line),
  };
}

const logged = (event: string) =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.event === event);

/** What the source's committed batches counted, over all of them. */
async function counts() {
  const all = await committedBatches(new LocalStore(join(dir, "curated")), "products");
  const sum = { batches: all.length, read: 0, written: 0, quarantined: 0, duplicates: 0 };
  for (const b of all) {
    sum.read += b.counts.read;
    sum.written += b.counts.written;
    sum.quarantined += b.counts.quarantined;
    sum.duplicates += b.counts.duplicates;
  }
  return sum;
}

/** The products the raw objects' change events change, by id, sorted. */
async function landedProducts(): Promise<number[]> {
  const ids: number[] = [];
  for (const f of await tree(join(dir, "raw"))) {
    const text = gunzipSync(await readFile(join(dir, "raw", f))).toString("utf8");
    for (const l of text.split("\n").filter((x) => x !== "")) {
      const v = JSON.parse(l) as { after: { id: number } | null; before: { id: number } | null };
      ids.push((v.after ?? v.before)!.id);
    }
  }
  return ids.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------
// AWS: a Kinesis event source mapping's batch

/** A Kinesis event of `values` (shard 0, sequence numbers from `first`), shaped as the shared sample. */
async function kinesisEvent(values: readonly string[], first = 0) {
  const sample = JSON.parse(
    await readFile(
      join(import.meta.dirname, "../../../shared/fixtures/cloud-events/aws-kinesis.json"),
      "utf8",
    ),
  ) as { Records: Record<string, unknown>[] };
  const template = sample.Records[0]!;
  return {
    Records: values.map((value, i) => {
      const seq = sequenceNumber(first + i);
      return {
        ...template,
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: value.trim() === "" ? "default" : recordKey(value),
          sequenceNumber: seq,
          data: Buffer.from(value).toString("base64"),
          approximateArrivalTimestamp: 1596001100 + i / 10,
        },
        eventID: `shardId-000000000000:${seq}`,
        eventSourceARN: STREAM_ARN,
        awsRegion: "eu-west-1",
      };
    }),
  };
}

describe("AWS: a Kinesis batch of Debezium values", () => {
  it("lands every change event as one ingest batch; the same batch again writes nothing", async () => {
    const handler = awsHandler(graph, deps());
    const event = await kinesisEvent(CHANGES);
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(await counts()).toEqual({ batches: 1, read: 16, written: 16, quarantined: 0, duplicates: 0 });
    expect(await landedProducts()).toEqual([
      101, 102, 103, 104, 105, 106, 106, 107, 107, 108, 109, 110, 110, 111, 111, 111,
    ]);
    const before = await tree(dir);

    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(await tree(dir)).toEqual(before);
    expect(logged("tributary.work").map((l) => [l.status, l.detail])).toEqual([
      ["ingested", expect.stringMatching(/": read 16 = written 16 \+ quarantined 0 \+ duplicates 0\.$/)],
      [
        "duplicate",
        expect.stringMatching(
          / was already committed \(read 16 = written 16 \+ quarantined 0 \+ duplicates 0\); announced again\.$/,
        ),
      ],
    ]);
  });

  it("one record the store refuses fails alone, by its sequence number; every other record lands, and the retry lands it", async () => {
    const handler = awsHandler(graph, deps());
    // The next day's event sixth of 17: its partition is the one the raw store refuses.
    const values = [...CHANGES.slice(0, 5), NEXT_DAY, ...CHANGES.slice(5)];
    stores.raw.refused = REFUSED;
    expect(await handler(await kinesisEvent(values))).toEqual({
      batchItemFailures: [{ itemIdentifier: sequenceNumber(5) }],
    });
    expect(await counts()).toEqual({ batches: 4, read: 16, written: 16, quarantined: 0, duplicates: 0 });
    expect(await landedProducts()).not.toContain(112);
    expect(logged("tributary.stream.batch")).toEqual([
      {
        event: "tributary.stream.batch",
        via: "Kinesis",
        origin: ORIGIN,
        records: 17,
        tombstones: 0,
        // Halved around the refused record: four groups landed, one record left.
        batches: [
          [0, 4],
          [6, 6],
          [7, 8],
          [9, 16],
        ].map(
          ([a, b]) =>
            `${ORIGIN}:${sequenceNumber(a!)}${a === b ? "" : `..${sequenceNumber(b!)}`}#${b! - a! + 1}`,
        ),
        failed: [sequenceNumber(5)],
        detail: expect.stringMatching(
          new RegExp(
            `^16 of 17 record\\(s\\) of ${STREAM_ARN.replaceAll(".", "\\.")}/shardId-000000000000 landed; 1 could not be landed \\(${sequenceNumber(5)}\\): StorageError: storage: .*: raw/products/2020-07-30/.*SlowDown`,
          ),
        ),
      },
    ]);

    // Lambda retries from the lowest sequence number reported: that record and every one after it.
    stores.raw.refused = undefined;
    expect(await handler(await kinesisEvent(values.slice(5), 5))).toEqual({ batchItemFailures: [] });
    expect(await counts()).toMatchObject({ read: 28, written: 17, quarantined: 0, duplicates: 11 });
    expect(await landedProducts()).toContain(112);
  });

  it("when the store refuses every record, reports the whole batch after a few attempts, not one per record", async () => {
    const handler = awsHandler(graph, deps());
    stores.raw.refused = "raw/products/";
    const result = (await handler(await kinesisEvent(CHANGES))) as { batchItemFailures: unknown[] };
    expect(result.batchItemFailures).toEqual(CHANGES.map((_, i) => ({ itemIdentifier: sequenceNumber(i) })));
    // 16, its first 8, 4, 2 and 1, then the second record: the first half failing whole stops the splitting.
    expect(logged("tributary.work.failed").map((l) => String(l.id).replace(`${ORIGIN}:`, ""))).toEqual([
      `${sequenceNumber(0)}..${sequenceNumber(15)}#16`,
      `${sequenceNumber(0)}..${sequenceNumber(7)}#8`,
      `${sequenceNumber(0)}..${sequenceNumber(3)}#4`,
      `${sequenceNumber(0)}..${sequenceNumber(1)}#2`,
      `${sequenceNumber(0)}#1`,
      `${sequenceNumber(1)}#1`,
    ]);
    expect(await counts()).toEqual({ batches: 0, read: 0, written: 0, quarantined: 0, duplicates: 0 });
  });

  it("skips a tombstone (empty data, as the Kinesis sink writes a null value) and counts it", async () => {
    const handler = awsHandler(graph, deps());
    expect(await handler(await kinesisEvent([CHANGES[15]!, "", " \n"]))).toEqual({ batchItemFailures: [] });
    expect(await counts()).toMatchObject({ read: 1, written: 1 });
    expect(logged("tributary.stream.batch")[0]).toMatchObject({ records: 3, tombstones: 2, failed: [] });
  });

  it("quarantines a value that is no change event, which is a success for the stream", async () => {
    const handler = awsHandler(graph, deps());
    expect(await handler(await kinesisEvent([CHANGES[0]!, '{"not":"debezium"}']))).toEqual({
      batchItemFailures: [],
    });
    expect(await counts()).toMatchObject({ read: 2, written: 1, quarantined: 1 });
  });
});

// ---------------------------------------------------------------------------------------------------------
// GCP: an ordered push subscription, through the real Functions Framework

const SUBSCRIPTION = "projects/tributary-test/subscriptions/trib-test-products-trigger";

/** The push body of one change event, shaped as the shared sample: data, ids, times, the ordering key. */
async function pushBody(value: string, messageId: string) {
  const sample = JSON.parse(
    await readFile(
      join(import.meta.dirname, "../../../shared/fixtures/cloud-events/gcp-pubsub-push-ordering.json"),
      "utf8",
    ),
  ) as { message: Record<string, unknown> };
  return {
    message: {
      ...sample.message,
      // Debezium Server's Pub/Sub sink sets no attributes of its own (headers only, when there are any).
      attributes: {},
      data: Buffer.from(value).toString("base64"),
      messageId,
      message_id: messageId,
      orderingKey: recordKey(value),
    },
    subscription: SUBSCRIPTION,
  };
}

let served = 0;
/** Push `bodies` one after the other to the function behind the Functions Framework: each answer's status. */
async function pushAll(bodies: readonly unknown[]): Promise<{ status: number; text: string }[]> {
  const name = `tributary-stream-${++served}`;
  const handler = gcpHandler(graph, deps());
  cloudEvent(name, (event: CloudEvent<unknown>) => handler(event));
  const server = getTestServer(name);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const answers: { status: number; text: string }[] = [];
    for (const body of bodies) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      answers.push({ status: res.status, text: await res.text() });
    }
    return answers;
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

describe("GCP: Pub/Sub pushes of Debezium values with ordering keys", () => {
  it("lands each pushed change event, answering 200; a redelivered message writes nothing", async () => {
    const bodies = await Promise.all(CHANGES.map((v, i) => pushBody(v, String(5000 + i))));
    const answers = await pushAll(bodies);
    expect(answers.map((a) => a.status)).toEqual(CHANGES.map(() => 200));
    expect(JSON.parse(answers[0]!.text)).toMatchObject({ kind: "source-events", status: "ingested" });
    expect(await counts()).toEqual({ batches: 16, read: 16, written: 16, quarantined: 0, duplicates: 0 });
    const before = await tree(dir);

    const [again] = await pushAll([bodies[3]]);
    expect(again!.status).toBe(200);
    expect(JSON.parse(again!.text)).toMatchObject({ status: "duplicate" });
    expect(await tree(dir)).toEqual(before);
  });

  it("a message the store refuses is answered 500 (Pub/Sub redelivers it) while the others land; its redelivery lands it", async () => {
    stores.raw.refused = REFUSED;
    const bodies = await Promise.all(
      [CHANGES[0]!, NEXT_DAY, CHANGES[1]!].map((v, i) => pushBody(v, String(6000 + i))),
    );
    const answers = await pushAll(bodies);
    expect(answers.map((a) => a.status)).toEqual([200, 500, 200]);
    expect(answers[1]!.text).toMatch(
      /^Pub\/Sub message 6001 could not be landed; Pub\/Sub redelivers it: StorageError: storage: .*raw\/products\/2020-07-30\/.*SlowDown/,
    );
    expect(await counts()).toMatchObject({ batches: 2, read: 2, written: 2 });

    stores.raw.refused = undefined;
    const [redelivered] = await pushAll([bodies[1]]);
    expect(redelivered!.status).toBe(200);
    expect(await counts()).toMatchObject({ batches: 3, read: 3, written: 3 });
    expect(await landedProducts()).toEqual([101, 102, 112]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Azure: an Event Hubs trigger's batch (cardinality many)

const NAMESPACE = "trib-test-streams-1a2b3c.servicebus.windows.net";
const HUB = "trib-test.inventory.products";
const AZURE_ORIGIN = `${NAMESPACE}/${HUB}/2`;

/** The invocation context of a batch of `values` from partition 2 (sequence numbers from `first`), at a retry. */
function hubContext(values: readonly string[], first: number, retryCount: number) {
  return new InvocationContext({
    invocationId: `invocation-${first}-${retryCount}`,
    functionName: "changes",
    retryContext: { retryCount, maxRetryCount: 5 },
    triggerMetadata: {
      partitionContext: {
        fullyQualifiedNamespace: NAMESPACE,
        eventHubName: HUB,
        consumerGroup: "products",
        partitionId: "2",
      },
      sequenceNumberArray: values.map((_, i) => first + i),
      offsetArray: values.map((_, i) => String(4096 * (first + i))),
      partitionKeyArray: values.map(recordKey),
      enqueuedTimeUtcArray: values.map((_, i) => new Date(1596001100000 + i * 100).toISOString()),
    },
  });
}

/** A dead-letter queue's sender that keeps what it is sent. */
function deadLetterQueue() {
  const sent: ServiceBusMessage[] = [];
  return {
    sent,
    sink: new ServiceBusDeadLetters({
      namespace: "bus",
      queue: "products-dead-letters",
      sender: { sendMessages: async (m) => void sent.push(...m) },
    }),
  };
}

describe("Azure: an Event Hubs batch of Debezium values", () => {
  it("lands the batch as one ingest batch; the same batch again writes nothing", async () => {
    const { eventHub } = azureHandlers(graph, deps());
    expect(await eventHub([...CHANGES], hubContext(CHANGES, 100, 0))).toMatchObject({
      id: AZURE_ORIGIN,
      kind: "source-events",
      status: "ingested",
      detail: `16 of 16 record(s) of ${AZURE_ORIGIN} landed.`,
    });
    expect(await counts()).toEqual({ batches: 1, read: 16, written: 16, quarantined: 0, duplicates: 0 });
    const before = await tree(dir);
    expect(await eventHub([...CHANGES], hubContext(CHANGES, 100, 0))).toMatchObject({ status: "duplicate" });
    expect(await tree(dir)).toEqual(before);
  });

  it("a record the store refuses fails the invocation while retries are left, alone; the others land; after the last retry it goes to the dead-letter queue", async () => {
    const queue = deadLetterQueue();
    const { eventHub } = azureHandlers(graph, deps(), { deadLetters: queue.sink });
    const values = [...CHANGES.slice(0, 3), NEXT_DAY, ...CHANGES.slice(3)];
    stores.raw.refused = REFUSED;
    await expect(eventHub(values, hubContext(values, 200, 0))).rejects.toThrow(
      new RegExp(
        `^Event Hubs batch of ${AZURE_ORIGIN.replaceAll(".", "\\.")}: 16 of 17 record\\(s\\) of .* landed; 1 could not be landed \\(2:203\\): StorageError: .*SlowDown.* The trigger retries the batch \\(retry 1 of 5\\)\\.$`,
      ),
    );
    expect(await counts()).toMatchObject({ read: 16, written: 16 });
    expect(queue.sent).toEqual([]);

    // The last retry: the refused record goes to the dead-letter queue, and the trigger checkpoints past it.
    const last = await eventHub(values, hubContext(values, 200, 5));
    expect(last).toMatchObject({ status: "duplicate" });
    expect(last.detail).toMatch(/ After the last retry they went to the dead-letter queue \.$/);
    // The retry made the same groups as the first try: they were committed, and wrote nothing again.
    expect(await counts()).toEqual({ batches: 4, read: 16, written: 16, quarantined: 0, duplicates: 0 });
    expect(queue.sent).toEqual([
      {
        body: NEXT_DAY,
        contentType: "application/json",
        messageId: expect.stringMatching(/^[0-9a-f]{64}$/),
        applicationProperties: {
          origin: AZURE_ORIGIN,
          record: "2:203",
          key: '{"id":112}',
          reason: expect.stringMatching(/^StorageError: storage: .*raw\/products\/2020-07-30\/.*SlowDown/),
        },
      },
    ]);
    expect(logged("tributary.stream.dead-lettered")).toEqual([
      { event: "tributary.stream.dead-lettered", origin: AZURE_ORIGIN, records: ["2:203"], queue: "" },
    ]);
  });

  it("registers the Event Hubs trigger of a CDC source: its hub, its consumer group, batches of text, the retry policy", () => {
    const calls: { kind: string; name: string; options: Record<string, unknown> }[] = [];
    const app: AzureApp = {
      serviceBusTopic: (name, options) =>
        void calls.push({ kind: "serviceBusTopic", name, options: { ...options } }),
      timer: (name, options) => void calls.push({ kind: "timer", name, options: { ...options } }),
      eventGrid: (name, options) => void calls.push({ kind: "eventGrid", name, options: { ...options } }),
      eventHub: (name, options) => void calls.push({ kind: "eventHub", name, options: { ...options } }),
    };
    const env = {
      ...functionEnvironment(graph, "products", URIS, "test"),
      TRIBUTARY_STREAM__fullyQualifiedNamespace: NAMESPACE,
      TRIBUTARY_STREAM_HUB: HUB,
      TRIBUTARY_STREAM_CONSUMER_GROUP: "products",
      TRIBUTARY_STREAM_RETRIES: "5",
      TRIBUTARY_DEAD_LETTERS: "products-dead-letters",
    };
    expect(registerAzure(graph, { env }, app)).toEqual(["changes", "landed"]);
    expect(calls[0]).toEqual({
      kind: "eventHub",
      name: "changes",
      options: {
        connection: "TRIBUTARY_STREAM",
        eventHubName: "%TRIBUTARY_STREAM_HUB%",
        consumerGroup: "%TRIBUTARY_STREAM_CONSUMER_GROUP%",
        cardinality: "many",
        dataType: "string",
        retry: {
          strategy: "exponentialBackoff",
          maxRetryCount: 5,
          minimumInterval: { seconds: 10 },
          maximumInterval: { minutes: 5 },
        },
        handler: expect.any(Function),
      },
    });
  });
});
