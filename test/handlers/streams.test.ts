/**
 * A CDC source's function on each cloud, fed its stream as Debezium Server's sink writes it: Debezium's
 * own change events of `inventory.products` (../shared/fixtures/cdc/) in a Kinesis event (the shape of
 * ../shared/fixtures/cloud-events/aws-kinesis.json), in Pub/Sub pushes with ordering keys (the shape of
 * gcp-pubsub-push-ordering.json), in an Event Hubs batch (the trigger's shape as that folder's SOURCES.md
 * describes it). Each batch lands through ingest; a redelivered batch writes nothing; a record the store
 * refuses fails alone, reported so that the cloud retries it, and every other record lands.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { committedBatches } from "../../src/runtime/engine/ingest.ts";
import { awsHandler } from "../../src/runtime/handlers/aws.ts";
import type { HandlerDeps } from "../../src/runtime/handlers/core.ts";
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
    const text = await readFile(join(dir, "raw", f), "utf8");
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
          partitionKey: value === "" ? "default" : recordKey(value),
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

  it("skips a tombstone (empty data, as the Kinesis sink writes a null value) and counts it", async () => {
    const handler = awsHandler(graph, deps());
    expect(await handler(await kinesisEvent([CHANGES[15]!, ""]))).toEqual({ batchItemFailures: [] });
    expect(await counts()).toMatchObject({ read: 1, written: 1 });
    expect(logged("tributary.stream.batch")[0]).toMatchObject({ records: 2, tombstones: 1, failed: [] });
  });

  it("quarantines a value that is no change event, which is a success for the stream", async () => {
    const handler = awsHandler(graph, deps());
    expect(await handler(await kinesisEvent([CHANGES[0]!, '{"not":"debezium"}']))).toEqual({
      batchItemFailures: [],
    });
    expect(await counts()).toMatchObject({ read: 2, written: 1, quarantined: 1 });
  });
});
