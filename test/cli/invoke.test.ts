import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { openStoreUri } from "../../src/runtime/storage/open.ts";
import { type S3Emulator, startS3 } from "../storage/emulators.ts";
import { cli } from "./in-process.ts";

const FIXTURES = join(import.meta.dirname, "../../../shared/fixtures/cloud-events");

let dir: string;
let records: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-invoke-"));
  await writeSample(join(dir, "sample"), {
    seed: 3,
    from: "2026-11-01",
    to: "2026-11-01",
    tenants: ["acme"],
    customersPerTenant: 3,
    ordersPerDayPerTenant: 2,
    invalidShare: 0,
    duplicateShare: 0,
    lateShare: 0,
  });
  records = join(dir, "sample", "orders_cdc", "2026-11-01.ndjson");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("tributary event", () => {
  it("writes source events as the cloud delivers them: an SQS record carrying the EventBridge event", async () => {
    const r = await cli("event", "--cloud", "aws", "--source", "orders_cdc", "--records", records);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const event = JSON.parse(r.stdout) as { Records: { eventSource: string; body: string }[] };
    expect(event.Records).toHaveLength(1);
    expect(event.Records[0]!.eventSource).toBe("aws:sqs");
    const body = JSON.parse(event.Records[0]!.body) as {
      "detail-type": string;
      detail: { source: string; records: string[] };
    };
    const lines = (await readFile(records, "utf8")).split("\n").filter((l) => l !== "");
    expect(body["detail-type"]).toBe("tributary.source.events");
    expect(body.detail).toEqual({ source: "orders_cdc", records: lines });
  });

  it("writes an Azure delivery with its trigger and metadata, and a Pub/Sub CloudEvent for GCP", async () => {
    const azure = JSON.parse(
      (
        await cli(
          "event",
          "--cloud",
          "azure",
          "--materialised",
          "curated_orders",
          "--partition",
          "acme",
          "--data-version",
          "v1",
        )
      ).stdout,
    );
    expect(azure.trigger).toBe("serviceBus");
    expect(azure.event).toEqual({ asset: "curated_orders", partition: "acme", dataVersion: "v1" });
    expect(azure.triggerMetadata.applicationProperties).toEqual({
      producer: "tributary",
      type: "tributary.asset.materialised",
      asset: "curated_orders",
    });
    const gcp = JSON.parse(
      (
        await cli(
          "event",
          "--cloud",
          "gcp",
          "--schedule",
          "daily_revenue",
          "--at",
          "2026-11-28T03:00:00.000Z",
        )
      ).stdout,
    );
    expect(gcp.type).toBe("google.cloud.pubsub.topic.v1.messagePublished");
    expect(gcp.data.message.attributes).toEqual({
      type: "tributary.asset.scheduled",
      asset: "daily_revenue",
    });
    expect(JSON.parse(Buffer.from(gcp.data.message.data, "base64").toString())).toEqual({
      asset: "daily_revenue",
    });
  });

  it("writes the HTTP request that carries a GCP event: a push, or a CloudEvent in binary or structured mode", async () => {
    const args = [
      "event",
      "--cloud",
      "gcp",
      "--schedule",
      "daily_revenue",
      "--at",
      "2026-11-28T03:00:00.000Z",
    ];
    // Every run names its message anew ("local-<time>"): compare them under one name.
    const run = async (...extra: string[]) =>
      JSON.parse((await cli(...args, ...extra)).stdout.replace(/"local-[0-9a-z]+"/g, '"local-id"'));
    const event = await run();
    expect(await run("--http", "push")).toEqual({
      headers: { "content-type": "application/json" },
      body: event.data,
    });
    expect(await run("--http", "binary")).toEqual({
      headers: {
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
        "ce-source": "//pubsub.googleapis.com/projects/tributary-local/topics/daily_revenue-schedule",
        "ce-id": "local-id",
        "ce-time": "2026-11-28T03:00:00.000Z",
        "content-type": "application/json",
      },
      body: event.data,
    });
    expect(await run("--http", "structured")).toEqual({
      headers: { "content-type": "application/cloudevents+json" },
      body: event,
    });
    expect(await cli("event", "--cloud", "aws", "--schedule", "daily_revenue", "--http", "binary")).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tributary: --http is for --cloud gcp, whose functions are called over HTTP; aws events are not HTTP requests.\n",
    });
    expect((await cli(...args, "--http", "grpc")).stderr).toBe(
      'tributary: --http "grpc" is not one of push, binary, structured.\n',
    );
  });

  it("refuses to guess", async () => {
    expect(await cli("event", "--cloud", "aws")).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tributary: give exactly one of --source <key> --records <file>, --stream <key> --records <file>, --materialised <asset>, --schedule <asset>.\n",
    });
    expect((await cli("event", "--cloud", "ibm", "--schedule", "daily_revenue")).stderr).toBe(
      'tributary: --cloud "ibm" is not one of aws, gcp, azure.\n',
    );
  });
});

describe("tributary invoke", () => {
  it("runs the ingest function on an SQS event and, with --follow, every consumer downstream", async () => {
    const store = join(dir, "store-aws");
    const event = join(dir, "sqs.json");
    await writeFile(
      event,
      (await cli("event", "--cloud", "aws", "--source", "orders_cdc", "--records", records)).stdout,
    );
    const r = await cli(
      "invoke",
      "--cloud",
      "aws",
      "--event",
      event,
      "--asset",
      "orders_cdc",
      "--store",
      store,
      "--follow",
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines.slice(0, 4)).toEqual([
      "orders_cdc ← event: ok",
      expect.stringMatching(
        /^ {2}ingested: batch m-[0-9a-f]{24} of "orders_cdc": read 5 = written 5 \+ quarantined 0 \+ duplicates 0\.$/,
      ),
      '  returned {"batchItemFailures":[]}',
      expect.stringMatching(/^ {2}announced orders_cdc\/2026-11-01\|acme \(data version [0-9a-f]{16}\)$/),
    ]);
    expect(lines.slice(4, 6)).toEqual([
      "curated_orders ← orders_cdc/2026-11-01|acme materialised: ok",
      '  materialised: "curated_orders": 1 materialised, 0 fresh, 0 failed, 0 waiting.',
    ]);
    // customer_features also reads curated_customers, which nothing has ingested: it waits, and says why.
    const features = lines.indexOf("customer_features ← curated_orders/acme materialised: ok");
    expect(lines[features + 1]).toBe(
      '  waiting: "customer_features": 0 materialised, 0 fresh, 0 failed, 1 waiting: customer_features/acme: upstream curated_customers/acme has never been materialised; select it too (+customer_features).',
    );
    const daily = lines.indexOf("daily_revenue ← curated_orders/acme materialised: ok");
    expect(lines[daily + 1]).toMatch(
      /^ {2}materialised: "daily_revenue": \d+ materialised, 0 fresh, 0 failed, 0 waiting\.$/,
    );
    expect(lines).toContain(
      `  … and ${Number(lines[daily + 1]!.match(/(\d+) materialised/)![1]) - 4} more announcements`,
    );
    const manifest = JSON.parse(
      await readFile(
        join(store, "_manifests", "daily_revenue", "2026-11-01", "acme", "manifest.json"),
        "utf8",
      ),
    );
    expect(manifest.asset).toBe("daily_revenue");
    // The function's log lines are its standard error, as the cloud collects them.
    expect(r.stderr).toContain('"event":"tributary.work"');
  });

  it("reports a poison message as the cloud would, and exits 1", async () => {
    const r = await cli(
      "invoke",
      "--cloud",
      "gcp",
      "--event",
      join(FIXTURES, "gcp-pubsub-published.cloudevent.json"),
      "--asset",
      "curated_orders",
      "--store",
      join(dir, "store-gcp"),
    );
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toMatch(/^curated_orders ← event: FAILED \(attempt 1\): /);
  });

  it("runs the Event Grid sample on Azure: not a landing object, so ignored", async () => {
    const r = await cli(
      "invoke",
      "--cloud",
      "azure",
      "--event",
      join(FIXTURES, "azure-eventgrid-blob-created.json"),
      "--asset",
      "orders_cdc",
      "--store",
      join(dir, "store-azure"),
      "--json",
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result.status).toBe("ignored");
    expect(out.announced).toEqual([]);
  });

  it("runs the function the event is for when --asset is not given, and asks when it cannot tell", async () => {
    const store = join(dir, "store-infer");
    const sqs = join(dir, "infer-sqs.json");
    await writeFile(
      sqs,
      (await cli("event", "--cloud", "aws", "--source", "orders_cdc", "--records", records)).stdout,
    );
    const ran = await cli("invoke", "--cloud", "aws", "--event", sqs, "--store", store);
    expect(ran.code).toBe(0);
    expect(ran.stdout.split("\n")[0]).toBe("orders_cdc ← event: ok");
    const tick = join(dir, "infer-tick.json");
    await writeFile(tick, (await cli("event", "--cloud", "gcp", "--schedule", "daily_revenue")).stdout);
    expect(
      (await cli("invoke", "--cloud", "gcp", "--event", tick, "--store", store)).stdout.split("\n")[0],
    ).toBe("daily_revenue ← event: ok");
    const announced = join(dir, "infer-announced.json");
    await writeFile(
      announced,
      (await cli("event", "--cloud", "azure", "--materialised", "curated_orders", "--partition", "acme"))
        .stdout,
    );
    const many = await cli("invoke", "--cloud", "azure", "--event", announced, "--store", store);
    expect(many.code).toBe(1);
    expect(many.stderr).toMatch(
      new RegExp(
        `^tributary: --event ${announced}: "curated_orders" is read by customer_features, daily_revenue; pass --asset <key>, the function to run \\(one of .*\\)\\.\n$`,
      ),
    );
    const sample = await cli(
      "invoke",
      "--cloud",
      "aws",
      "--event",
      join(FIXTURES, "aws-sqs.json"),
      "--store",
      store,
    );
    expect(sample.stderr).toMatch(
      /the event names no source or asset Tributary can run it for; pass --asset <key>/,
    );
  });

  it("names what is wrong with its input", async () => {
    const missing = await cli(
      "invoke",
      "--cloud",
      "aws",
      "--event",
      join(dir, "nope.json"),
      "--asset",
      "orders_cdc",
    );
    expect(missing.stderr).toBe(`tributary: --event ${join(dir, "nope.json")}: no such file.\n`);
    await writeFile(join(dir, "bad.json"), "{");
    const bad = await cli(
      "invoke",
      "--cloud",
      "aws",
      "--event",
      join(dir, "bad.json"),
      "--asset",
      "orders_cdc",
    );
    expect(bad.stderr).toMatch(/^tributary: --event .*bad\.json is not JSON: /);
    const asset = await cli(
      "invoke",
      "--cloud",
      "aws",
      "--event",
      join(dir, "bad.json"),
      "--asset",
      "orders",
    );
    expect(asset.stderr).toMatch(/^tributary: --asset "orders" is not in the graph; functions: /);
    expect([missing.code, bad.code, asset.code]).toEqual([1, 1, 1]);
  });
});

describe("tributary invoke on events that do not come from Tributary's own buses", () => {
  let s3: S3Emulator;
  const saved: Record<string, string | undefined> = {};
  const landed = "landing/orders_cdc/day=2026-11-01|late.ndjson";
  beforeAll(async () => {
    s3 = await startS3();
    for (const [k, v] of Object.entries(s3.env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    await openStoreUri(`s3://${s3.bucket}`).put(landed, await readFile(records));
  }, 60_000);
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await s3?.stop();
  });

  /** The shared SQS sample, its one message's body the shared S3 sample for the landed object. */
  async function sqsOfS3(key: string): Promise<string> {
    const s3Event = JSON.parse(await readFile(join(FIXTURES, "aws-s3-put.json"), "utf8"));
    s3Event.Records[0].s3.bucket.name = s3.bucket;
    s3Event.Records[0].s3.object.key = key;
    const sqs = JSON.parse(await readFile(join(FIXTURES, "aws-sqs.json"), "utf8"));
    sqs.Records[0].body = JSON.stringify(s3Event);
    const file = join(dir, `sqs-s3-${sqs.Records.length}-${Date.now()}.json`);
    await writeFile(file, JSON.stringify(sqs));
    return file;
  }

  it("AWS: an SQS message whose body is an S3 notification with a URL-encoded key ingests the landed object", async () => {
    const event = await sqsOfS3("landing/orders_cdc/day%3D2026-11-01%7Clate.ndjson");
    const store = join(dir, "store-s3-landing");
    const r = await cli("invoke", "--cloud", "aws", "--event", event, "--store", store);
    expect(r.code).toBe(0);
    const id = `s3://${s3.bucket}/${landed}@version`;
    expect(r.stdout.split("\n").slice(0, 3)).toEqual([
      "orders_cdc ← event: ok",
      expect.stringMatching(
        /^ {2}ingested: batch m-[0-9a-f]{24} of "orders_cdc": read 5 = written 5 \+ quarantined 0 \+ duplicates 0\.$/,
      ),
      '  returned {"batchItemFailures":[]}',
    ]);
    expect(r.stderr).toContain(`"id":${JSON.stringify(id)}`);
    // The same message to a function it is not for: understood, and ignored.
    const other = await cli(
      "invoke",
      "--cloud",
      "aws",
      "--event",
      event,
      "--asset",
      "curated_orders",
      "--store",
      store,
    );
    expect(other.code).toBe(0);
    expect(other.stdout.split("\n").slice(0, 2)).toEqual([
      "curated_orders ← event: ok",
      `  ignored: object ${landed} in s3://${s3.bucket} is not a landing object of this function (it materialises "curated_orders": landing/curated_orders/…).`,
    ]);
  }, 60_000);

  it("GCP: a binary-mode CloudEvent carrying a Pub/Sub push message, and the other HTTP modes, run through the Functions Framework", async () => {
    for (const mode of ["binary", "structured", "push"]) {
      const event = join(dir, `gcp-${mode}.json`);
      const written = await cli(
        "event",
        "--cloud",
        "gcp",
        "--source",
        "orders_cdc",
        "--records",
        records,
        "--http",
        mode,
      );
      await writeFile(event, written.stdout);
      const r = await cli(
        "invoke",
        "--cloud",
        "gcp",
        "--event",
        event,
        "--store",
        join(dir, `store-gcp-${mode}`),
      );
      expect([mode, r.code]).toEqual([mode, 0]);
      expect(r.stdout.split("\n").slice(0, 2)).toEqual([
        "orders_cdc ← event: ok",
        expect.stringMatching(
          /^ {2}ingested: batch m-[0-9a-f]{24} of "orders_cdc": read 5 = written 5 \+ quarantined 0 \+ duplicates 0\.$/,
        ),
      ]);
    }
    // A CloudEvent of a type no Tributary function takes: the framework answers 500, the cloud would retry.
    const odd = join(dir, "gcp-odd.json");
    await writeFile(
      odd,
      JSON.stringify({
        headers: {
          "ce-specversion": "1.0",
          "ce-type": "com.example.x",
          "ce-source": "//x",
          "ce-id": "odd-1",
        },
        body: { a: 1 },
      }),
    );
    const r = await cli(
      "invoke",
      "--cloud",
      "gcp",
      "--event",
      odd,
      "--asset",
      "orders_cdc",
      "--store",
      join(dir, "store-odd"),
    );
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe(
      'orders_cdc ← event: FAILED (attempt 1): event odd-1: a CloudEvent of type "com.example.x" is none of a Pub/Sub message (google.cloud.pubsub.topic.v1.messagePublished), a landed object (google.cloud.storage.object.v1.finalized) or a Tributary message (tributary.asset.materialised, tributary.source.events or tributary.asset.scheduled).',
    );
    const bad = join(dir, "gcp-bad-header.json");
    await writeFile(bad, JSON.stringify({ headers: { "ce-id": 7 }, body: {} }));
    expect((await cli("invoke", "--cloud", "gcp", "--event", bad, "--asset", "orders_cdc")).stderr).toBe(
      'tributary: the GCP event\'s header "ce-id" is 7; header values are strings.\n',
    );
  }, 60_000);
});
