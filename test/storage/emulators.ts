import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";

/**
 * Local stand-ins for the clouds' object stores, started by the tests and stopped after them. Every
 * one listens on 127.0.0.1 on a port the system picks (port 0), and keeps its data in a temporary folder.
 */

export interface Emulator {
  /** The environment a store needs to reach this emulator instead of the cloud. */
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}

export interface S3Emulator extends Emulator {
  readonly endpoint: string;
  readonly bucket: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
}

/**
 * s3rver with `bucket` created; it accepts the key pair S3RVER / S3RVER. It runs in a child process
 * because its list continuation tokens are DES-encrypted, and Node's OpenSSL 3 (3.5 in Node 24) has DES
 * only with --openssl-legacy-provider: in this process every truncated ListObjectsV2 page would be a 500.
 */
export async function startS3(bucket = "tributary-test"): Promise<S3Emulator> {
  const directory = await mkdtemp(join(tmpdir(), "tributary-s3rver-"));
  const script = `
    const S3rver = require(${JSON.stringify(createRequire(import.meta.url).resolve("s3rver"))});
    const server = new S3rver({
      address: "127.0.0.1", port: 0, silent: true, directory: ${JSON.stringify(directory)},
      configureBuckets: [{ name: ${JSON.stringify(bucket)}, configs: [] }],
    });
    server.run().then(({ port }) => console.log("s3rver listens on http://127.0.0.1:" + port));
    process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
  `;
  const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await listeningPort("s3rver", child, /listens on http:\/\/127\.0\.0\.1:(\d+)/).catch(
    async (e) => {
      child.kill();
      await rm(directory, { recursive: true, force: true });
      throw e;
    },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  return {
    endpoint,
    bucket,
    credentials,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async stop() {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface AzureEmulator extends Emulator {
  /** http://127.0.0.1:<port>/devstoreaccount1 */
  readonly serviceUrl: string;
  readonly account: string;
  readonly container: string;
  readonly connectionString: string;
}

/**
 * Azurite's blob service, as a child process: azurite's package exports only its VS Code extension
 * (which needs `vscode`), not BlobServer, so its command is the supported way in. Telemetry is off;
 * the container is created through the SDK.
 */
export async function startAzurite(container = "tributary-test"): Promise<AzureEmulator> {
  const location = await mkdtemp(join(tmpdir(), "tributary-azurite-"));
  const bin = resolve(import.meta.dirname, "../../node_modules/azurite/dist/src/blob/main.js");
  const child = spawn(
    process.execPath,
    [
      bin,
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      "0",
      "--location",
      location,
      "--silent",
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const port = await listeningPort("azurite", child, /listens on http:\/\/127\.0\.0\.1:(\d+)/).catch(
    async (e) => {
      child.kill();
      await rm(location, { recursive: true, force: true });
      throw e;
    },
  );
  // Azurite's development account: its key is public, and the SDK knows it as UseDevelopmentStorage.
  const dev = BlobServiceClient.fromConnectionString("UseDevelopmentStorage=true");
  const account = dev.accountName;
  const serviceUrl = `http://127.0.0.1:${port}/${account}`;
  const key = (dev.credential as unknown as { accountKey: Buffer }).accountKey.toString("base64");
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=${serviceUrl};`;
  await BlobServiceClient.fromConnectionString(connectionString)
    .getContainerClient(container)
    .createIfNotExists();
  return {
    serviceUrl,
    account,
    container,
    connectionString,
    env: { AZURE_STORAGE_CONNECTION_STRING: connectionString },
    async stop() {
      await stopChild(child);
      await rm(location, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  child.kill("SIGTERM");
  await exited;
}

/** The port a child process says it listens on, in a line of its output that `pattern` matches. */
function listeningPort(name: string, child: ChildProcess, pattern: RegExp): Promise<number> {
  return new Promise((done, fail) => {
    let output = "";
    const timer = setTimeout(() => fail(new Error(`${name} did not start in 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = pattern.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        done(Number(m[1]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${name} exited with ${code} before listening:\n${output}`));
    });
  });
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: Buffer;
}

export interface Loopback {
  readonly url: string;
  readonly requests: RecordedRequest[];
  stop(): Promise<void>;
}

/**
 * A scripted HTTP server on 127.0.0.1 that records every request (with its whole body) and answers
 * with `answer`, for tests of what a client sends and how it takes failures.
 */
export async function startLoopback(
  answer: (req: RecordedRequest, res: ServerResponse, index: number) => void,
): Promise<Loopback> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const recorded = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      answer(recorded, res, requests.length - 1);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((done, fail) => {
        server.closeAllConnections();
        server.close((e) => (e ? fail(e) : done()));
      }),
  };
}
