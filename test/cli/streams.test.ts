/**
 * `tributary event --stream` and `tributary invoke` speak the CDC streams' envelopes: Debezium's own change
 * events of `inventory.products` (../shared/fixtures/cdc/) as a Kinesis event, Pub/Sub pushes with
 * ordering keys and an Event Hubs batch; the function the event is for is the CDC source of the table its
 * events name. Invoking lands them; again, writes nothing; a record whose partition cannot be written
 * (its folder is a file in the store) fails alone.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tree } from "../handlers/helpers.ts";
import { cli } from "./in-process.ts";

const SHARED = join(import.meta.dirname, "../../../shared/fixtures");
const FLINK = join(SHARED, "cdc/flink-debezium-postgres.ndjson");
const GRAPH = join(import.meta.dirname, "../fixtures/graphs/cdc-products.ts");
const CHANGES = (await readFile(FLINK, "utf8")).split("\n").filter((l) => l !== "");

/** Product 112 created on 2020-07-30, the day after the fixture's events. */
const NEXT_DAY = JSON.stringify({
  before: null,
  after: { id: 112, name: "lamp", description: "desk lamp", weight: 1.2 },
  source: {
    version: "1.2.1.Final",
    connector: "postgresql",
    name: "fullfillment",
    ts_ms: 1596099600000,
    snapshot: "false",
    db: "postgres",
    schema: "inventory",
    table: "products",
    txId: 612,
    lsn: 34140000,
    xmin: null,
  },
  op: "c",
  ts_ms: 1596099600120,
  transaction: null,
});

let dir: string;
let withNextDay: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-cli-streams-"));
  withNextDay = join(dir, "with-next-day.ndjson");
  await writeFile(withNextDay, `${[...CHANGES.slice(0, 2), NEXT_DAY, ...CHANGES.slice(2)].join("\n")}\n`);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const event = (cloud: string, ...more: string[]) =>
  cli("event", "--cloud", cloud, "--stream", "products", "--records", FLINK, "--graph", GRAPH, ...more);
const invoke = (cloud: string, file: string, store: string) =>
  cli("invoke", "--cloud", cloud, "--event", file, "--store", store, "--graph", GRAPH);

/** The store's committed batches' counts, summed. */
async function counts(store: string) {
  const sum = { batches: 0, read: 0, written: 0, duplicates: 0 };
  for (const f of await tree(join(store, "_manifests", "products", "_batches"))) {
    const c = JSON.parse(await readFile(join(store, "_manifests", "products", "_batches", f), "utf8")).counts;
    sum.batches++;
    sum.read += c.read;
    sum.written += c.written;
    sum.duplicates += c.duplicates;
  }
  return sum;
}

/** A store whose partition 2020-07-30 of products cannot be written: its folder is a file. */
async function brokenStore(name: string): Promise<string> {
  const store = join(dir, name);
  await mkdir(join(store, "raw", "products"), { recursive: true });
  await writeFile(join(store, "raw", "products", "2020-07-30"), "not a folder");
  return store;
}

describe("tributary event --stream", () => {
  it("AWS: a Kinesis event of shard 0, shaped as the shared sample, the record key the partition key", async () => {
    const r = await event("aws");
    expect(r.stderr).toBe("");
    const e = JSON.parse(r.stdout) as { Records: Record<string, unknown>[] };
    const sample = JSON.parse(await readFile(join(SHARED, "cloud-events/aws-kinesis.json"), "utf8")) as {
      Records: Record<string, Record<string, unknown>>[];
    };
    expect(e.Records).toHaveLength(16);
    const first = e.Records[0] as Record<string, Record<string, unknown>>;
    expect(Object.keys(first).sort()).toEqual(Object.keys(sample.Records[0]!).sort());
    expect(Object.keys(first.kinesis!).sort()).toEqual(Object.keys(sample.Records[0]!.kinesis!).sort());
    expect(first).toMatchObject({
      eventSource: "aws:kinesis",
      eventName: "aws:kinesis:record",
      eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/local.inventory.products",
      eventID: `shardId-000000000000:${first.kinesis!.sequenceNumber}`,
      kinesis: { partitionKey: '{"id":101}', kinesisSchemaVersion: "1.0" },
    });
    expect(
      e.Records.map((x) => Buffer.from((x.kinesis as { data: string }).data, "base64").toString()),
    ).toEqual(CHANGES);
    const seqs = e.Records.map((x) => (x.kinesis as { sequenceNumber: string }).sequenceNumber);
    expect([...seqs].sort()).toEqual(seqs);
  });

  it("GCP: one push body per message, its ordering key the record key; --http push, the requests", async () => {
    const pushes = JSON.parse((await event("gcp")).stdout) as {
      message: Record<string, unknown>;
      subscription: string;
    }[];
    expect(pushes).toHaveLength(16);
    expect(pushes[15]).toEqual({
      message: {
        attributes: {},
        data: Buffer.from(CHANGES[15]!).toString("base64"),
        messageId: expect.stringMatching(/^\d+$/),
        message_id: pushes[15]!.message.messageId,
        orderingKey: '{"id":111}',
        publishTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        publish_time: pushes[15]!.message.publishTime,
      },
      subscription: "projects/tributary-local/subscriptions/products-trigger",
    });
    const requests = JSON.parse((await event("gcp", "--http", "push")).stdout) as { headers: object }[];
    expect(requests[0]).toMatchObject({ headers: { "content-type": "application/json" } });
    expect((await event("gcp", "--http", "binary")).stderr).toBe(
      "tributary: --stream --http binary: a stream's messages reach its function as Pub/Sub pushes; use --http push.\n",
    );
  });

  it("Azure: an Event Hubs batch of one partition, with the trigger's metadata", async () => {
    const d = JSON.parse((await event("azure")).stdout);
    expect(d.trigger).toBe("eventHub");
    expect(d.event).toEqual(CHANGES);
    expect(d.triggerMetadata.partitionContext).toEqual({
      fullyQualifiedNamespace: "tributary-local-streams.servicebus.windows.net",
      eventHubName: "local.inventory.products",
      consumerGroup: "products",
      partitionId: "0",
    });
    expect(d.triggerMetadata.sequenceNumberArray).toEqual(CHANGES.map((_, i) => i + 1));
    expect(d.triggerMetadata.partitionKeyArray[10]).toBe('{"id":107}');
  });

  it("names what is wrong", async () => {
    expect(
      (await cli("event", "--cloud", "aws", "--stream", "clicks", "--records", FLINK, "--graph", GRAPH))
        .stderr,
    ).toBe(
      'tributary: --stream "clicks": it is no CDC source, whose function reads no stream; send it source events with --source. CDC sources: products.\n',
    );
    expect((await cli("event", "--cloud", "aws", "--stream", "products", "--graph", GRAPH)).stderr).toBe(
      "tributary: --stream needs --records <file.ndjson>: the change events to send, one a line.\n",
    );
  });
});

describe("tributary invoke on a stream's events", () => {
  for (const cloud of ["aws", "gcp", "azure"]) {
    it(`${cloud}: lands them in the function of the CDC source of their table; again, writes nothing`, async () => {
      const store = join(dir, `store-${cloud}`);
      const file = join(dir, `${cloud}.json`);
      await writeFile(file, (await event(cloud)).stdout);
      const r = await invoke(cloud, file, store);
      expect(r.code).toBe(0);
      const first = r.stdout.split("\n");
      expect(first[0]).toBe("products ← event: ok");
      expect(first).toContainEqual(
        expect.stringMatching(
          /^ {2}stream: 16 of 16 record\(s\) of .* landed\.$|^ {2}stream: 1 of 1 record\(s\) of pubsub landed\.$/,
        ),
      );
      const landed = await counts(store);
      expect(landed).toMatchObject({ read: 16, written: 16, duplicates: 0 });
      const before = await tree(store);

      const again = await invoke(cloud, file, store);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("  duplicate: batch m-");
      expect(await tree(store)).toEqual(before);
    }, 60_000);
  }

  it("aws: a record whose partition cannot be written fails alone, by its sequence number; the others land", async () => {
    const store = await brokenStore("store-aws-broken");
    const file = join(dir, "aws-broken.json");
    await writeFile(
      file,
      (
        await cli(
          "event",
          "--cloud",
          "aws",
          "--stream",
          "products",
          "--records",
          withNextDay,
          "--graph",
          GRAPH,
        )
      ).stdout,
    );
    const seq = (JSON.parse(await readFile(file, "utf8")).Records[2].kinesis as { sequenceNumber: string })
      .sequenceNumber;
    const r = await invoke("aws", file, store);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe(`products ← event: FAILED (attempt 1): batch items failed: ${seq}`);
    expect(r.stdout).toContain(`  returned {"batchItemFailures":[{"itemIdentifier":"${seq}"}]}`);
    expect(await counts(store)).toMatchObject({ read: 16, written: 16 });
  }, 60_000);

  it("gcp: the push whose partition cannot be written fails (non-2xx), the others are ok", async () => {
    const store = await brokenStore("store-gcp-broken");
    const file = join(dir, "gcp-broken.json");
    await writeFile(
      file,
      (
        await cli(
          "event",
          "--cloud",
          "gcp",
          "--stream",
          "products",
          "--records",
          withNextDay,
          "--graph",
          GRAPH,
        )
      ).stdout,
    );
    const r = await invoke("gcp", file, store);
    expect(r.code).toBe(1);
    const outcomes = r.stdout.split("\n").filter((l) => l.startsWith("products ← "));
    expect(
      outcomes.map((l) => l.replace(/: .*$/, (m) => (m.startsWith(": ok") ? ": ok" : ": FAILED"))),
    ).toEqual([
      ...Array(2).fill("products ← event: ok"),
      "products ← event: FAILED",
      ...Array(14).fill("products ← event: ok"),
    ]);
    expect(outcomes[2]).toMatch(
      /^products ← event: FAILED \(attempt 1\): Pub\/Sub message \d+ \(ordering key \{"id":112\}\) could not be landed; Pub\/Sub redelivers it: /,
    );
    expect(await counts(store)).toMatchObject({ read: 16, written: 16 });
  }, 60_000);

  it("azure: a batch with a record whose partition cannot be written fails (the trigger retries it); the others land", async () => {
    const store = await brokenStore("store-azure-broken");
    const file = join(dir, "azure-broken.json");
    await writeFile(
      file,
      (
        await cli(
          "event",
          "--cloud",
          "azure",
          "--stream",
          "products",
          "--records",
          withNextDay,
          "--graph",
          GRAPH,
        )
      ).stdout,
    );
    const r = await invoke("azure", file, store);
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toMatch(
      /^products ← event: FAILED \(attempt 1\): Event Hubs batch of tributary-local-streams\.servicebus\.windows\.net\/local\.inventory\.products\/0: 16 of 17 record\(s\) of .* landed; 1 could not be landed \(0:3\): .* The trigger retries the batch\.$/,
    );
    expect(await counts(store)).toMatchObject({ read: 16, written: 16 });
  }, 60_000);
});
