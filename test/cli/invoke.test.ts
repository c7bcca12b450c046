import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSample } from "../../assets/pipelines/commerce/sample-data.ts";
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

  it("refuses to guess", async () => {
    expect(await cli("event", "--cloud", "aws")).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tributary: give exactly one of --source <key> --records <file>, --materialised <asset>, --schedule <asset>.\n",
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
        /^ {2}ingested: batch m-[0-9a-f]{24} of "orders_cdc": read 6 = written 6 \+ quarantined 0 \+ duplicates 0\.$/,
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
