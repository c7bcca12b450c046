import { Readable } from "node:stream";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { RestError } from "@azure/storage-blob";
import { ApiError } from "@google-cloud/storage";
import { afterEach, describe, expect, it, vi } from "vitest";
import { StorageError } from "../../src/contract/storage-layout.ts";
import { AzureBlobStore } from "../../src/runtime/storage/azure-blob.ts";
import { GcsStore } from "../../src/runtime/storage/gcs.ts";
import { backoffDelay, isTransient, type RetryPolicy, withRetry } from "../../src/runtime/storage/retry.ts";
import { S3Store } from "../../src/runtime/storage/s3.ts";
import { type Loopback, startLoopback } from "./emulators.ts";

const quick: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe("back-off", () => {
  const policy: RetryPolicy = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000 };

  it("doubles the ceiling per retry up to the cap, and draws uniformly below it (full jitter)", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, 0.5))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect(backoffDelay(policy, 4, 0.999)).toBe(799);
    expect(backoffDelay(policy, 4, 0)).toBe(0);
  });

  it("retries transient failures with those waits, and gives the result", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw Object.assign(new Error("busy"), { statusCode: 503 });
        return `done on ${attempt}`;
      },
      policy,
      { random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
    );
    expect(result).toBe("done on 3");
    expect(calls).toBe(3);
    expect(waits).toEqual([50, 100]);
  });

  it("stops at the attempt limit with the last error, and never retries a permanent one", async () => {
    let calls = 0;
    const last = await failure(
      withRetry(
        async (attempt) => {
          calls++;
          throw Object.assign(new Error(`busy ${attempt}`), { statusCode: 503 });
        },
        { ...policy, attempts: 3 },
        { sleep: async () => {} },
      ),
    );
    expect([calls, (last as Error).message]).toEqual([3, "busy 3"]);
    calls = 0;
    const denied = await failure(
      withRetry(async () => {
        calls++;
        throw Object.assign(new Error("denied"), { statusCode: 403 });
      }, policy),
    );
    expect([calls, (denied as Error).message]).toEqual([1, "denied"]);
  });

  it("refuses a policy without attempts", async () => {
    const error = await failure(withRetry(async () => 1, { ...policy, attempts: 0 }));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe("storage: retry attempts must be a whole number >= 1, not 0.");
  });
});

describe("which failures are transient, as each SDK reports them", () => {
  const s3 = (name: string, status: number) =>
    new S3ServiceException({
      name,
      $fault: status >= 500 ? "server" : "client",
      $metadata: { httpStatusCode: status },
    });
  const gcs = (code: number, reason: string) =>
    new ApiError({ code, message: reason, errors: [{ reason, message: reason }] } as ConstructorParameters<
      typeof ApiError
    >[0]);
  const azure = (statusCode: number | undefined, code: string) =>
    new RestError(code, { ...(statusCode ? { statusCode } : {}), code });
  const net = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    ["S3 SlowDown 503", s3("SlowDown", 503), true],
    ["S3 InternalError 500", s3("InternalError", 500), true],
    ["S3 ConditionalRequestConflict 409", s3("ConditionalRequestConflict", 409), true],
    ["S3 AccessDenied 403", s3("AccessDenied", 403), false],
    ["S3 NoSuchKey 404", s3("NoSuchKey", 404), false],
    ["S3 PreconditionFailed 412", s3("PreconditionFailed", 412), false],
    ["GCS 429", gcs(429, "rateLimitExceeded"), true],
    ["GCS 403 rateLimitExceeded", gcs(403, "rateLimitExceeded"), true],
    ["GCS 503 backendError", gcs(503, "backendError"), true],
    ["GCS 403 forbidden", gcs(403, "forbidden"), false],
    ["GCS 412 conditionNotMet", gcs(412, "conditionNotMet"), false],
    ["Azure 503 ServerBusy", azure(503, "ServerBusy"), true],
    ["Azure 500 OperationTimedOut", azure(500, "OperationTimedOut"), true],
    ["Azure send error", azure(undefined, "REQUEST_SEND_ERROR"), true],
    ["Azure 409 BlobAlreadyExists", azure(409, "BlobAlreadyExists"), false],
    ["Azure 403 AuthorizationPermissionMismatch", azure(403, "AuthorizationPermissionMismatch"), false],
    ["connection reset", net("ECONNRESET"), true],
    ["DNS try again", net("EAI_AGAIN"), true],
    ["unknown host", net("ENOTFOUND"), false],
    ["a bug", new TypeError("x is not a function"), false],
  ])("%s → %s", (_name, error, transient) => {
    expect(isTransient(error)).toBe(transient);
  });
});

const slowDown =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

describe("S3Store retries against a scripted S3 that throttles", () => {
  let server: Loopback | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  const open = (url: string, retry = quick) =>
    new S3Store({
      bucket: "data",
      endpoint: url,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      retry,
    });
  /** Answer 503 SlowDown `failures` times, then `ok`. */
  const throttle = (failures: number, ok: (res: import("node:http").ServerResponse) => void) =>
    startLoopback((_req, res, index) => {
      if (index < failures) res.writeHead(503, { "content-type": "application/xml" }).end(slowDown);
      else ok(res);
    });

  it("gets after two SlowDowns: three attempts in all, each a single SDK attempt", async () => {
    server = await throttle(2, (res) =>
      res
        .writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": "5",
          "last-modified": "Sat, 28 Nov 2026 10:00:00 GMT",
        })
        .end("hello"),
    );
    const store = open(server.url);
    expect((await store.get("raw/a/b.ndjson"))!.toString()).toBe("hello");
    expect(server.requests.map((r) => [r.method, r.url, r.headers["amz-sdk-request"]])).toEqual([
      ["GET", "/data/raw/a/b.ndjson?x-id=GetObject", "attempt=1; max=1"],
      ["GET", "/data/raw/a/b.ndjson?x-id=GetObject", "attempt=1; max=1"],
      ["GET", "/data/raw/a/b.ndjson?x-id=GetObject", "attempt=1; max=1"],
    ]);
    store.destroy();
  });

  it("puts bytes again after a SlowDown, sending the same body each time", async () => {
    server = await throttle(2, (res) => res.writeHead(200, { etag: '"e"' }).end());
    const store = open(server.url);
    expect(await store.put("_manifests/a/_all/manifest.json", '{"rows":3}')).toEqual({});
    expect(server.requests.map((r) => [r.method, r.body.toString()])).toEqual([
      ["PUT", '{"rows":3}'],
      ["PUT", '{"rows":3}'],
      ["PUT", '{"rows":3}'],
    ]);
    store.destroy();
  });

  it("gives up after the policy's attempts with a StorageError that says what and where", async () => {
    server = await throttle(100, () => {});
    const store = open(server.url, { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    const error = await failure(store.head("curated/a/_all/v1.parquet"));
    expect(error).toBeInstanceOf(StorageError);
    // HEAD responses carry no body, so the SDK names the error after the status.
    expect((error as Error).message).toBe(
      "storage: head s3://data/curated/a/_all/v1.parquet failed (503): Service Unavailable. The service or network is failing for now: try again later.",
    );
    expect(server.requests.length).toBe(3);
    store.destroy();
  });

  it("does not retry AccessDenied", async () => {
    server = await startLoopback((_req, res) =>
      res
        .writeHead(403, { "content-type": "application/xml" })
        .end("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"),
    );
    const store = open(server.url);
    const error = await failure(store.list("raw/"));
    expect((error as Error).message).toBe(
      "storage: list s3://data/raw/ failed (403 AccessDenied): Access Denied. Check the credentials in the environment and that this identity is granted access there.",
    );
    expect(server.requests.length).toBe(1);
    store.destroy();
  });

  it("leaves a streamed put's retries to the SDK, which still holds the part", async () => {
    server = await throttle(1, (res) => res.writeHead(200, { etag: '"e"' }).end());
    const store = open(server.url);
    expect(await store.put("raw/a/b.ndjson", Readable.from([Buffer.from("streamed")]))).toEqual({});
    expect(server.requests.map((r) => [r.method, r.headers["amz-sdk-request"], r.body.toString()])).toEqual([
      ["PUT", "attempt=1; max=4", "streamed"],
      ["PUT", "attempt=2; max=4", "streamed"],
    ]);
    store.destroy();
  });
});

describe("GcsStore and AzureBlobStore retry the same way", () => {
  let server: Loopback | undefined;
  afterEach(async () => {
    vi.unstubAllEnvs();
    await server?.stop();
    server = undefined;
  });

  it("GCS: metadata after two 503s", async () => {
    server = await startLoopback((_req, res, index) => {
      if (index < 2) {
        res.writeHead(503, { "content-type": "application/json" }).end(
          JSON.stringify({
            error: { code: 503, message: "Backend Error", errors: [{ reason: "backendError" }] },
          }),
        );
      } else {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ name: "p/k", size: "42", updated: "2026-11-28T10:00:00.000Z" }));
      }
    });
    vi.stubEnv("STORAGE_EMULATOR_HOST", server.url);
    const store = new GcsStore({ bucket: "data", prefix: "p", retry: quick });
    expect(await store.head("k")).toEqual({
      key: "k",
      size: 42,
      modified: new Date("2026-11-28T10:00:00.000Z"),
    });
    expect(server.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`)).toEqual([
      "GET /b/data/o/p%2Fk",
      "GET /b/data/o/p%2Fk",
      "GET /b/data/o/p%2Fk",
    ]);
  });

  it("Azure: properties after two ServerBusy", async () => {
    server = await startLoopback((_req, res, index) => {
      if (index < 2) {
        res.writeHead(503, { "x-ms-error-code": "ServerBusy" }).end();
      } else {
        res
          .writeHead(200, {
            "content-length": "7",
            "last-modified": "Sat, 28 Nov 2026 10:00:00 GMT",
            etag: '"0x1"',
            "x-ms-blob-type": "BlockBlob",
          })
          .end();
      }
    });
    vi.stubEnv("AZURE_STORAGE_CONNECTION_STRING", undefined);
    const store = new AzureBlobStore({
      account: "devstoreaccount1",
      container: "data",
      serviceUrl: `${server.url}/devstoreaccount1`,
      retry: quick,
    });
    expect(await store.head("k")).toEqual({
      key: "k",
      size: 7,
      modified: new Date("2026-11-28T10:00:00.000Z"),
    });
    expect(server.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`)).toEqual([
      "HEAD /devstoreaccount1/data/k",
      "HEAD /devstoreaccount1/data/k",
      "HEAD /devstoreaccount1/data/k",
    ]);
  });
});
