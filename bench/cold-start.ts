/**
 * Cold starts of the functions' bundles on the Node.js their clouds run (22), against a bare import of
 * the same SDK clients in the same run. Each cloud's bundle (`tributary bundle`, no source maps) is
 * copied out of the repository (GCP's with what its package.json installs) and run by a fresh `node`,
 * which imports it and invokes it twice on a source-events message: the first invocation builds the
 * clients, ingests and publishes to a fake bus on 127.0.0.1 (test/faults/buses.ts); the second is warm.
 * The baseline is a fresh `node` importing the clients the bundle carries (its bus and its store) from
 * the repository's node_modules and making them.
 *
 *   npx tsx bench/cold-start.ts             5 rounds per cloud
 *   npx tsx bench/cold-start.ts --rounds 9
 *
 * Node.js 24 (the clouds' runtime, NODE_MAJOR) comes from the npm package `node`, installed once into node_modules/.cache/tributary/node24
 * (never into the project).
 */
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { generateSample } from "../examples/commerce/assets/commerce/sample-data.ts";
import graph from "../examples/commerce/assets/index.ts";
import { MESSAGES } from "../src/contract/bus-messages.ts";
import { bundleEach, NODE_MAJOR } from "../src/infra/bundle/build.ts";
import { type Cloud, envelope } from "../src/runtime/handlers/envelopes.ts";
import { functionEnvironment } from "../src/runtime/handlers/local.ts";
import { startBus } from "../test/faults/buses.ts";
import { deployBundle } from "../test/faults/hosts.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "..");
const CLOUD_NODE = path.join(ROOT, `node_modules/.cache/tributary/node${NODE_MAJOR}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${Math.round(n)} ms`;

/** The Node.js the clouds run the functions on (NODE_MAJOR), from the npm package `node`, in a cache folder of its own. */
function cloudNode(): string {
  const bin = path.join(CLOUD_NODE, "node_modules/.bin/node");
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(CLOUD_NODE, { recursive: true });
    fs.writeFileSync(
      path.join(CLOUD_NODE, "package.json"),
      `{"name":"tributary-node${NODE_MAJOR}","private":true}\n`,
    );
    execFileSync("npm", ["i", "--no-save", "--no-package-lock", `node@${NODE_MAJOR}`], {
      cwd: CLOUD_NODE,
      stdio: "ignore",
    });
  }
  return bin;
}

/** In the bundle's folder: import it, invoke it twice, print the times. */
const COLD = `const started = performance.now();
const [cloud, eventFile] = process.argv.slice(2);
const { readFileSync } = await import("node:fs");
const event = JSON.parse(readFileSync(eventFile, "utf8"));
const t0 = performance.now();
const bundle = await import("./index.mjs");
let invoke;
if (cloud === "gcp") {
  const { getFunction } = await import("@google-cloud/functions-framework/testing");
  const fn = getFunction("handler");
  invoke = (e) => fn(e.event);
} else if (cloud === "aws") invoke = (e) => bundle.handler(e.event, { functionName: "f", awsRequestId: "r" });
else {
  const log = () => {};
  invoke = (e) => bundle.handlers.serviceBus(e.event, { invocationId: "i", functionName: "f", triggerMetadata: e.triggerMetadata, log, trace: log, debug: log, info: log, warn: log, error: log });
}
const imported = performance.now() - t0;
const failed = (r) => (r?.batchItemFailures?.length ? new Error("failed: " + JSON.stringify(r)) : undefined);
const t1 = performance.now();
const a = await invoke(event.first);
const first = performance.now() - t1;
const t2 = performance.now();
const b = await invoke(event.second);
const warm = performance.now() - t2;
if (failed(a) || failed(b)) throw failed(a) ?? failed(b);
console.log("RESULT " + JSON.stringify({ boot: started, imported, first, warm }));
process.exit(0);
`;

/** A bare import of the clients a bundle carries, made as the function makes them. */
const BARE: Record<Cloud, string> = {
  aws: `const { EventBridgeClient } = await import("@aws-sdk/client-eventbridge");
const { S3Client } = await import("@aws-sdk/client-s3");
new EventBridgeClient({ region: "eu-west-1" }); new S3Client({ region: "eu-west-1" });`,
  gcp: `const { PubSub } = await import("@google-cloud/pubsub");
const { Storage } = await import("@google-cloud/storage");
new PubSub({ projectId: "p" }); new Storage({ projectId: "p" });`,
  azure: `const { ServiceBusClient } = await import("@azure/service-bus");
const { BlobServiceClient } = await import("@azure/storage-blob");
const { DefaultAzureCredential } = await import("@azure/identity");
const credential = new DefaultAzureCredential();
new ServiceBusClient("n.servicebus.windows.net", credential); new BlobServiceClient("https://a.blob.core.windows.net", credential);`,
};

interface Cold {
  readonly boot: number;
  readonly imported: number;
  readonly first: number;
  readonly warm: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf("--rounds");
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5;
  const node = cloudNode();
  const version = execFileSync(node, ["-v"]).toString().trim();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-cold-start-"));
  try {
    const bundles = path.join(scratch, "bundles");
    await bundleEach(
      (["aws", "gcp", "azure"] as const).map((cloud) => ({
        cloud,
        arch: "x64" as const,
        out: path.join(bundles, `${cloud}-x64`),
      })),
      { cwd: ROOT },
    );
    const records = [
      ...generateSample({
        seed: 3,
        from: "2026-11-01",
        to: "2026-11-01",
        customersPerTenant: 2,
        ordersPerDayPerTenant: 2,
      }),
    ]
      .filter((l) => l.source === "orders_cdc")
      .map((l) => l.line);
    console.log(
      `cold starts on Node.js ${version} (the clouds' 22), ${rounds} rounds each, ${os.availableParallelism()} cores`,
    );
    for (const cloud of ["aws", "gcp", "azure"] as const) {
      const dir = deployBundle(bundles, cloud, path.join(scratch, "deployed"));
      fs.writeFileSync(path.join(dir, "cold.mjs"), COLD);
      const bus = await startBus(cloud);
      const cold: Cold[] = [];
      const bare: number[] = [];
      try {
        for (let r = 0; r < rounds; r++) {
          const store = path.join(scratch, `${cloud}-store-${r}`);
          const stores = {
            raw: `file://${store}/raw`,
            curated: `file://${store}/curated`,
            quarantine: `file://${store}/quarantine`,
          };
          // Two halves of a day's orders: each lands new records in every tenant's partition.
          const half = Math.ceil(records.length / 2);
          const message = (id: string, part: string[]) =>
            ({ type: MESSAGES.sourceEvents, id, body: { source: "orders_cdc", records: part } }) as const;
          const eventFile = path.join(scratch, `${cloud}-event.json`);
          fs.writeFileSync(
            eventFile,
            JSON.stringify({
              first: envelope(cloud, message(`m-${r}-1`, records.slice(0, half)), "orders_cdc"),
              second: envelope(cloud, message(`m-${r}-2`, records.slice(half)), "orders_cdc"),
            }),
          );
          const env = {
            PATH: process.env.PATH,
            ...functionEnvironment(graph, "orders_cdc", stores, "bench"),
            ...bus.env,
            TRIBUTARY_ASSET_EVENTS: bus.busName,
          };
          const { stdout } = await run(node, [path.join(dir, "cold.mjs"), cloud, eventFile], {
            cwd: dir,
            env,
          });
          const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
          if (!line) throw new Error(`bench: the ${cloud} bundle printed no result:\n${stdout}`);
          cold.push(JSON.parse(line.slice(7)) as Cold);
          // Both invocations announced their batches' partitions on the bus.
          if (bus.accepted.length !== 6 * (r + 1)) {
            throw new Error(
              `bench: the ${cloud} bus took ${bus.accepted.length} announcements, not ${6 * (r + 1)}`,
            );
          }
          const b = await run(
            node,
            [
              "--input-type=module",
              "-e",
              `const t = performance.now(); ${BARE[cloud]} console.log("RESULT " + (performance.now() - t));`,
            ],
            { cwd: ROOT },
          );
          bare.push(Number(b.stdout.split("RESULT ")[1]));
        }
      } finally {
        await bus.stop();
      }
      const pick = (k: keyof Cold) => median(cold.map((c) => c[k]));
      const base = median(bare);
      console.log(
        `  ${cloud}: import ${ms(pick("imported"))} (ratio ${(pick("imported") / base).toFixed(2)}), first invocation ${ms(pick("first"))}, warm ${ms(pick("warm"))}; node ready ${ms(pick("boot"))}; bare SDK clients ${ms(base)}`,
      );
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
