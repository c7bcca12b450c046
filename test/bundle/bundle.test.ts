/**
 * The bundles as the clouds run them: each x64 bundle (built once for the run by global-setup.ts) is
 * copied to a folder of its own outside the repository and imported by a fresh `node` (not vitest),
 * which calls the entry point on a cloud's sample event and prints what it returned. Nothing resolves
 * from the repository's node_modules: the bundle, its binding and (GCP) what the Cloud Functions build
 * would install from its package.json are all there is.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import type { BundleManifest } from "../../src/infra/bundle/manifest.ts";
import { installFrom } from "./install.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const FIXTURES = path.resolve(repo, "../shared/fixtures/cloud-events");
const bundles = inject("bundles");
const run = promisify(execFile);

/**
 * The child's script: import the bundle, call the entry point of `cloud` (Azure: the handler of
 * `trigger`, with a context that logs as the worker's does) on the event file, print `RESULT <json>`.
 * GCP's function is called as the Functions Framework finds it. `duckdb` instead loads the binding the way the bundle does, from the bundle's folder, and runs a query.
 */
const RUNNER = `import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const [cloud, eventFile, trigger] = process.argv.slice(2);
if (cloud === "duckdb") {
  const duckdb = createRequire(new URL("./index.mjs", import.meta.url))(\`@duckdb/node-bindings-linux-\${process.arch}/duckdb.node\`);
  const connection = await duckdb.connect(await duckdb.open());
  const chunk = await duckdb.fetch_chunk(await duckdb.query(connection, "select 42::INTEGER"));
  const bytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, 0), 4);
  console.log("RESULT " + new DataView(bytes.buffer, bytes.byteOffset).getInt32(0, true));
  process.exit(0);
}
const event = JSON.parse(readFileSync(eventFile, "utf8"));
const bundle = await import("./index.mjs");
let result;
if (cloud === "aws") result = await bundle.handler(event, { functionName: "f", awsRequestId: "r-1" });
else if (cloud === "gcp") {
  // As the Functions Framework runs it: the function registered as "handler" in the framework installed
  // beside the bundle, which must be the one the bundle registered with.
  const { getFunction } = await import("@google-cloud/functions-framework/testing");
  if (getFunction("handler") !== bundle.handler) throw new Error("no CloudEvent function handler registered");
  result = await getFunction("handler")(event);
}
else {
  const log = (...args) => console.log(...args);
  const context = { invocationId: "i-1", functionName: "f", triggerMetadata: {}, log, trace: log, debug: log, info: log, warn: log, error: log };
  result = await bundle.handlers[trigger](event, context);
}
console.log("RESULT " + JSON.stringify(result));
`;

let scratch: string;
let store: string;
/** EventBridge on 127.0.0.1: records each PutEvents entry and accepts it. */
let eventBridge: http.Server;
const published: { EventBusName: string; Source: string; DetailType: string; Detail: string }[] = [];

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-bundle-test-"));
  store = path.join(scratch, "store");
  eventBridge = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const { Entries } = JSON.parse(body) as { Entries: typeof published };
      published.push(...Entries);
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(
        JSON.stringify({ FailedEntryCount: 0, Entries: Entries.map((_, i) => ({ EventId: `e-${i}` })) }),
      );
    });
  });
  await new Promise<void>((done) => eventBridge.listen(0, "127.0.0.1", done));
});

afterAll(async () => {
  await new Promise((done) => eventBridge.close(done));
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** The bundle of `cloud` for x64, copied into a folder of its own with the runner beside it. */
function deployed(cloud: "aws" | "gcp" | "azure"): string {
  const dir = path.join(scratch, `${cloud}-x64`);
  if (fs.existsSync(dir)) return dir;
  fs.cpSync(path.join(bundles.dir, `${cloud}-x64`), dir, { recursive: true });
  if (cloud === "gcp") {
    // What the Cloud Functions build does with the bundle's package.json: npm install.
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    installFrom(repo, Object.keys(pkg.dependencies), dir);
  }
  fs.writeFileSync(path.join(dir, "run.mjs"), RUNNER);
  return dir;
}

/** The function of `asset` (an ingest function for a source) as its environment deploys it. */
function environment(asset: string, kind: "ingest" | "asset"): NodeJS.ProcessEnv {
  const port = (eventBridge.address() as AddressInfo).port;
  return {
    PATH: process.env.PATH,
    TRIBUTARY_ASSET: asset,
    TRIBUTARY_KIND: kind,
    TRIBUTARY_ENV: "test",
    TRIBUTARY_STORE_RAW: `file://${store}/raw`,
    TRIBUTARY_STORE_CURATED: `file://${store}/curated`,
    TRIBUTARY_STORE_QUARANTINE: `file://${store}/quarantine`,
    TRIBUTARY_ASSET_EVENTS: "bus",
    // Azure: where announcements would go (nothing here announces).
    TRIBUTARY_BUS__fullyQualifiedNamespace: "tributary-test.servicebus.windows.net",
    // AWS: every call goes to the local EventBridge, signed with made-up keys.
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "AKIDTEST",
    AWS_SECRET_ACCESS_KEY: "test",
  };
}

/** Run the deployed bundle of `cloud` on `event` (a fixture file name, or an event) in a fresh node. */
async function invoke(
  cloud: "aws" | "gcp" | "azure",
  event: string | unknown,
  env: NodeJS.ProcessEnv,
  trigger?: string,
): Promise<{ result: unknown; logs: Record<string, unknown>[] }> {
  const dir = deployed(cloud);
  let file = path.join(FIXTURES, String(event));
  if (typeof event !== "string") {
    file = path.join(scratch, `event-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(file, JSON.stringify(event));
  }
  const args = [path.join(dir, "run.mjs"), cloud, file, ...(trigger ? [trigger] : [])];
  const { stdout } = await run(process.execPath, args, { cwd: dir, env, maxBuffer: 16 << 20 });
  const lines = stdout.trim().split("\n");
  const last = lines.pop() ?? "";
  expect(last.startsWith("RESULT "), stdout).toBe(true);
  const logs = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { result: JSON.parse(last.slice("RESULT ".length)), logs };
}

const ignored = (id: string, object: string, where: string) => ({
  id,
  kind: "object-created",
  status: "ignored",
  detail: `object ${object} in ${where} is not a landing object of this function (it ingests "orders_cdc": landing/orders_cdc/…).`,
  announced: [],
});

describe("the bundles, run by a fresh node from folders of their own", () => {
  it("lay out each cloud's folder as its runtime expects it", () => {
    const paths = (cloud: string) => bundles.reports[`${cloud}-x64`]!.files.map((f) => f.path);
    const binding = [
      "node_modules/@duckdb/node-bindings-linux-x64/LICENSE",
      "node_modules/@duckdb/node-bindings-linux-x64/README.md",
      "node_modules/@duckdb/node-bindings-linux-x64/duckdb.node",
      "node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so",
      "node_modules/@duckdb/node-bindings-linux-x64/package.json",
    ];
    // No source maps unless a stack asks for them (tributary:functions.sourceMaps).
    const js = ["index.mjs", "ingest-worker.js"];
    // The example embeds (recommendation_vectors): LanceDB, its library and Apache Arrow are shipped too.
    const vectors = (p: string) => p.startsWith("node_modules/") && !p.startsWith("node_modules/@duckdb/");
    const own = (cloud: string) => paths(cloud).filter((p) => !vectors(p));
    expect(own("aws")).toEqual([...js, ...binding, "package.json", "tributary-bundle.json"]);
    expect(paths("gcp")).toEqual([...js, "package.json", "tributary-bundle.json"]);
    expect(own("azure")).toEqual(["host.json", ...js, ...binding, "package.json", "tributary-bundle.json"]);
    for (const cloud of ["aws", "azure"]) {
      const shipped = paths(cloud).filter(vectors);
      expect(shipped).toEqual(
        expect.arrayContaining([
          "node_modules/@lancedb/lancedb/package.json",
          "node_modules/@lancedb/lancedb/dist/index.js",
          "node_modules/@lancedb/lancedb-linux-x64-gnu/lancedb.linux-x64-gnu.node",
          "node_modules/apache-arrow/Arrow.node.js",
          "node_modules/reflect-metadata/package.json",
        ]),
      );
      // Only what runs: no type declarations or source maps, and Arrow's CommonJS build only.
      expect(
        shipped.filter((p) => /\.(d\.ts|map)$/.test(p) || /^node_modules\/apache-arrow\/.*\.mjs$/.test(p)),
      ).toEqual([]);
    }

    const read = (cloud: string, file: string) =>
      JSON.parse(fs.readFileSync(path.join(bundles.dir, `${cloud}-x64`, file), "utf8")) as Record<
        string,
        unknown
      >;
    const duckdb = (
      JSON.parse(
        fs.readFileSync(path.join(repo, "node_modules/@duckdb/node-bindings/package.json"), "utf8"),
      ) as {
        version: string;
      }
    ).version;
    const framework = (
      JSON.parse(
        fs.readFileSync(
          path.join(repo, "node_modules/@google-cloud/functions-framework/package.json"),
          "utf8",
        ),
      ) as { version: string }
    ).version;
    expect(read("aws", "package.json")).toEqual({
      name: "tributary-aws-functions",
      private: true,
      type: "module",
      engines: { node: "24.x" },
    });
    expect(read("gcp", "package.json")).toEqual({
      name: "tributary-gcp-functions",
      private: true,
      type: "module",
      engines: { node: "24.x" },
      main: "index.mjs",
      dependencies: {
        "@google-cloud/functions-framework": framework,
        "@duckdb/node-bindings-linux-x64": duckdb,
        "@lancedb/lancedb": "0.31.0",
        "apache-arrow": "18.1.0",
      },
    });
    expect(read("azure", "package.json")).toEqual({
      name: "tributary-azure-functions",
      private: true,
      type: "module",
      engines: { node: "24.x" },
      main: "index.mjs",
    });
    expect(read("azure", "host.json")).toEqual({
      version: "2.0",
      extensionBundle: { id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" },
    });
    const manifest = read("gcp", "tributary-bundle.json") as unknown as BundleManifest;
    expect([manifest.cloud, manifest.arch, manifest.graph, manifest.binding]).toEqual([
      "gcp",
      "x64",
      "assets/index.ts",
      { package: "@duckdb/node-bindings-linux-x64", version: duckdb, shipped: false },
    ]);
    expect(manifest.functions).toEqual({
      curated_customers: "asset",
      curated_orders: "asset",
      customer_features: "asset",
      customers_cdc: "ingest",
      daily_revenue: "asset",
      orders_cdc: "ingest",
      "outbox-sweep": "sweep",
      recommendation_features: "asset",
      recommendation_vectors: "asset",
      "table-maintenance": "maintain",
    });
    expect(manifest.vectors).toEqual({ package: "@lancedb/lancedb", version: "0.31.0", shipped: false });
    expect(read("aws", "tributary-bundle.json").vectors).toEqual({
      package: "@lancedb/lancedb",
      version: "0.31.0",
      shipped: true,
    });
    expect(bundles.reports["aws-arm64"]!.binding).toEqual({
      package: "@duckdb/node-bindings-linux-arm64",
      version: duckdb,
      shipped: true,
    });
  });

  it("AWS: a queue record that is no Tributary event fails alone, for SQS to redeliver", async () => {
    const { result } = await invoke("aws", "aws-sqs.json", environment("orders_cdc", "ingest"));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "MessageID_1" }] });
  });

  it("AWS: an S3 object outside the source's landing prefix is acknowledged and ignored", async () => {
    const { result } = await invoke("aws", "aws-s3-put.json", environment("orders_cdc", "ingest"));
    expect(result).toEqual([
      ignored("s3://sourcebucket/HappyFace.jpg@version", "HappyFace.jpg", "s3://sourcebucket"),
    ]);
  });

  it("GCP: a finalized object outside the landing prefix is ignored by the registered CloudEvent function", async () => {
    const { result } = await invoke(
      "gcp",
      "gcp-storage-finalized.cloudevent.json",
      environment("orders_cdc", "ingest"),
    );
    expect(result).toEqual(
      ignored("gs://some-bucket/folder/Test.cs#1587627537231057", "folder/Test.cs", "gs://some-bucket"),
    );
  });

  it("Azure: an Event Grid BlobCreated outside the landing prefix is ignored", async () => {
    const { result } = await invoke(
      "azure",
      "azure-eventgrid-blob-created.json",
      environment("orders_cdc", "ingest"),
      "eventGrid",
    );
    expect(result).toEqual(
      ignored(
        "https://jolovstorage.blob.core.windows.net/gaocontainer/Template1.xlsx@0000000000000000000000000000B00D0000000005b058d3",
        "Template1.xlsx",
        "https://jolovstorage.blob.core.windows.net/gaocontainer",
      ),
    );
  });

  it("GCP and Azure: DuckDB loads from the bundle's folder, where the bundle requires it", async () => {
    for (const cloud of ["gcp", "azure"] as const) expect(await selectFortyTwo(cloud), cloud).toBe(42);
  });

  it("AWS: ingests a batch, then materialises its downstream on the bundled DuckDB engine", async () => {
    const records: unknown[] = [];
    for (const { source, line, kind } of generateSample({ seed: 7, tenants: ["acme"] })) {
      // Records as a producer sends them: JSON objects (a line cut short is no object).
      if (source === "orders_cdc" && kind !== "invalid") records.push(JSON.parse(line));
      if (records.length === 40) break;
    }
    const batch = sqsEvent("batch-1", MESSAGES.sourceEvents, { source: "orders_cdc", records });
    const ingest = await invoke("aws", batch, environment("orders_cdc", "ingest"));
    expect(ingest.result).toEqual({ batchItemFailures: [] });
    const landed = published.map((e) => JSON.parse(e.Detail) as { asset: string; partition: string });
    expect(landed.length).toBeGreaterThan(0);
    expect(new Set(landed.map((a) => a.asset))).toEqual(new Set(["orders_cdc"]));

    published.length = 0;
    const announcement = sqsEvent("announce-1", MESSAGES.assetMaterialised, landed[0]);
    const materialise = await invoke("aws", announcement, environment("curated_orders", "asset"));
    expect(materialise.result).toEqual({ batchItemFailures: [] });
    expect(published.map((e) => [e.EventBusName, e.Source, e.DetailType])).toEqual([
      ["bus", "tributary", "tributary.asset.materialised"],
    ]);
    const done = JSON.parse(published[0]!.Detail) as { asset: string; partition: string };
    expect([done.asset, done.partition]).toEqual(["curated_orders", "acme"]);
    expect(fs.readdirSync(path.join(store, "curated", "_manifests", "curated_orders", "acme")).length).toBe(
      1,
    );
  });
});

/** An SQS batch of one record whose body is the EventBridge event a bus rule forwards (aws-sqs.json's shape). */
function sqsEvent(id: string, detailType: string, detail: unknown): unknown {
  const body = JSON.stringify({
    version: "0",
    id,
    "detail-type": detailType,
    source: detailType === MESSAGES.assetMaterialised ? MESSAGES.producer : "test.producer",
    account: "123456789012",
    time: "2026-11-28T12:00:00Z",
    region: "eu-west-1",
    resources: [],
    detail,
  });
  return {
    Records: [
      {
        messageId: id,
        receiptHandle: `receipt-${id}`,
        body,
        attributes: { ApproximateReceiveCount: "1", SentTimestamp: "1795867200000" },
        messageAttributes: {},
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:eu-west-1:123456789012:trib-test-queue",
        awsRegion: "eu-west-1",
      },
    ],
  };
}

/** `select 42` through the DuckDB binding the deployed bundle of `cloud` would load: what it answers. */
async function selectFortyTwo(cloud: "gcp" | "azure"): Promise<unknown> {
  const dir = deployed(cloud);
  const { stdout } = await run(process.execPath, [path.join(dir, "run.mjs"), "duckdb"], {
    cwd: dir,
    env: { PATH: process.env.PATH },
  });
  return JSON.parse(stdout.trim().split("\n").pop()!.slice("RESULT ".length));
}
