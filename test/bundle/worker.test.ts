/**
 * The ingest worker runs in every cloud's bundle: a function given two vCPUs (TRIBUTARY_CPUS, from its
 * memory size) ingests an object of more than 16 MiB landed in its cloud's store (on the cloud's
 * emulator) with two worker threads started from the bundle's own `ingest-worker.js`, and counts every
 * record.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { INGEST_WORKERS_EVENT } from "../../src/runtime/handlers/core.ts";
import type { Cloud } from "../../src/runtime/handlers/envelopes.ts";
import { functionEnvironment } from "../../src/runtime/handlers/local.ts";
import { openStoreUri } from "../../src/runtime/storage/open.ts";
import { graph } from "../e2e/pipeline.ts";
import { deployBundle, FunctionHost } from "../faults/hosts.ts";
import { startAzurite, startS3 } from "../storage/emulators.ts";
import { startGcsFake } from "../storage/gcs-fake.ts";

let root: string;
let records: string[];
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-worker-"));
  records = [];
  for (const l of generateSample({ seed: 7, orderLines: 100_000, invalidShare: 0, duplicateShare: 0 })) {
    if (l.source === "orders_cdc") records.push(l.line);
  }
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** The cloud's emulator holding the landing container, and the event of an object landed in it. */
async function landing(cloud: Cloud, body: string) {
  const key = "landing/orders_cdc/big.ndjson";
  if (cloud === "aws") {
    const e = await startS3("landing");
    await withEnv(e.env, () => openStoreUri("s3://landing").put(key, body));
    const event = {
      Records: [
        {
          eventSource: "aws:s3",
          eventName: "ObjectCreated:Put",
          s3: { bucket: { name: "landing" }, object: { key, sequencer: "0A1" } },
        },
      ],
    };
    return { emulator: e, delivery: { event } };
  }
  if (cloud === "gcp") {
    const e = await startGcsFake("landing");
    await withEnv(e.env, () => openStoreUri("gs://landing").put(key, body));
    const event = {
      specversion: "1.0",
      type: "google.cloud.storage.object.v1.finalized",
      source: "//storage.googleapis.com/projects/_/buckets/landing",
      id: "finalized-1",
      data: { bucket: "landing", name: key, generation: "1" },
    };
    return { emulator: e, delivery: { event } };
  }
  const e = await startAzurite("landing");
  await withEnv(e.env, () => openStoreUri(`${e.serviceUrl}/landing`).put(key, body));
  const event = {
    eventType: "Microsoft.Storage.BlobCreated",
    id: "created-1",
    data: { url: `${e.serviceUrl}/landing/${key}`, eTag: "0x1" },
  };
  return { emulator: e, delivery: { trigger: "eventGrid" as const, event } };
}

async function withEnv<T>(env: Readonly<Record<string, string>>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    process.env = saved;
  }
}

describe.each<Cloud>(["aws", "gcp", "azure"])("the %s bundle", (cloud) => {
  it("ingests a landed object on two worker threads when the function has two vCPUs", async () => {
    const body = `${records.join("\n")}\n`;
    // Workers start once 16 MiB are read, and join when they are up: enough left for them to take part.
    expect(body.length).toBeGreaterThan(48 << 20);
    const { emulator, delivery } = await landing(cloud, body);
    const dir = path.join(root, cloud);
    const stores = {
      raw: `file://${dir}/raw`,
      curated: `file://${dir}/curated`,
      quarantine: `file://${dir}/quarantine`,
    };
    const lines: Record<string, unknown>[] = [];
    const host = new FunctionHost(
      cloud,
      deployBundle(inject("bundles").dir, cloud, path.join(root, "deployed")),
      {
        PATH: process.env.PATH,
        ...functionEnvironment(graph, "orders_cdc", stores, "worker"),
        ...emulator.env,
        TRIBUTARY_CPUS: "2",
        // Announcements go nowhere: the publish fails, after the commit this test looks at.
        TRIBUTARY_TIMEOUT_SECONDS: "7",
        AWS_ENDPOINT_URL_EVENTBRIDGE: "http://127.0.0.1:9",
        PUBSUB_EMULATOR_HOST: "127.0.0.1:9",
        METADATA_SERVER_DETECTION: "none",
        TRIBUTARY_BUS__fullyQualifiedNamespace: "tributary-worker.servicebus.windows.net",
        TRIBUTARY_BUS:
          "Endpoint=sb://127.0.0.1:9;SharedAccessKeyName=w;SharedAccessKey=w;UseDevelopmentEmulator=true",
      },
      (line) => {
        if (line.startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    );
    try {
      await host.invoke(delivery).catch(() => undefined);
    } finally {
      await host.stop();
      await emulator.stop();
    }
    expect(lines.filter((l) => l.event === INGEST_WORKERS_EVENT).map((l) => l.workers)).toEqual([2]);
    const batches = fs.readdirSync(path.join(dir, "curated/_manifests/orders_cdc/_batches"));
    const manifest = JSON.parse(
      fs.readFileSync(path.join(dir, "curated/_manifests/orders_cdc/_batches", batches[0]!), "utf8"),
    ) as { counts: { read: number } };
    expect(manifest.counts.read).toBe(records.length);
  }, 120_000);
});
