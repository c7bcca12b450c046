import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { StorageError } from "../../src/contract/storage-layout.ts";
import { AzureBlobStore } from "../../src/runtime/storage/azure-blob.ts";
import { GcsStore } from "../../src/runtime/storage/gcs.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { openStoreUri } from "../../src/runtime/storage/open.ts";
import { S3Store } from "../../src/runtime/storage/s3.ts";
import { describeObjectStore } from "./conformance.ts";
import { type AzureEmulator, type S3Emulator, startAzurite, startLoopback, startS3 } from "./emulators.ts";
import { type GcsFake, startGcsFake } from "./gcs-fake.ts";

let dir: string;
let s3: S3Emulator;
let azure: AzureEmulator;
let gcs: GcsFake;
const fast = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-conformance-"));
  [s3, azure, gcs] = await Promise.all([startS3(), startAzurite(), startGcsFake()]);
  // @google-cloud/storage reads STORAGE_EMULATOR_HOST when a client is made.
  for (const [k, v] of Object.entries(gcs.env)) vi.stubEnv(k, v);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([s3?.stop(), azure?.stop(), gcs?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

const done = async () => {};
/** What a promise rejected with (undefined when it resolved). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describeObjectStore("LocalStore", async (path) => ({ store: new LocalStore(join(dir, path)), close: done }), {
  checksum: { none: "a file keeps no checksum" },
});

describeObjectStore(
  "S3Store on s3rver",
  async (path) => {
    const store = new S3Store({
      bucket: s3.bucket,
      prefix: path,
      endpoint: s3.endpoint,
      region: "us-east-1",
      credentials: s3.credentials,
      pageSize: 10,
      partSize: 5 * 1024 * 1024,
      retry: fast,
    });
    return { store, close: async () => store.destroy() };
  },
  {
    noConditionalCreate:
      "s3rver 3.7.1 ignores If-None-Match on PutObject and CompleteMultipartUpload; see the S3 loopback tests",
    checksum: { none: "s3rver 3.7.1 keeps no checksums; see the S3 loopback tests" },
  },
);

describeObjectStore(
  "AzureBlobStore on Azurite",
  async (path) => ({
    store: new AzureBlobStore({
      account: azure.account,
      container: azure.container,
      serviceUrl: azure.serviceUrl,
      connectionString: azure.connectionString,
      prefix: path,
      pageSize: 10,
      blockSize: 4 * 1024 * 1024,
      retry: fast,
    }),
    close: done,
  }),
  { checksum: "md5" },
);

describeObjectStore(
  "GcsStore on the GCS fake",
  async (path) => ({
    store: new GcsStore({ bucket: gcs.bucket, prefix: path, pageSize: 10, retry: fast }),
    close: done,
  }),
  { checksum: "md5" },
);

describe("openStoreUri with the standard environment", () => {
  it("reaches s3rver, Azurite and the GCS fake through their environment variables", async () => {
    for (const [k, v] of Object.entries({ ...s3.env, ...azure.env })) vi.stubEnv(k, v);
    const uris = [
      `s3://${s3.bucket}/from-env`,
      `gs://${gcs.bucket}/from-env`,
      `${azure.serviceUrl}/${azure.container}/from-env`,
    ];
    const md5 = (text: string) => `md5:${createHash("md5").update(text).digest("base64")}`;
    for (const uri of uris) {
      const store = openStoreUri(uri);
      expect(store.uri).toBe(uri);
      // s3rver keeps no checksum; GCS and Azure keep an MD5.
      const body = `{"uri":"${uri}"}`;
      expect(await store.put("_manifests/a/_all/manifest.json", body)).toEqual(
        uri.startsWith("s3:") ? {} : { checksum: md5(body) },
      );
      expect((await store.get("_manifests/a/_all/manifest.json"))!.toString()).toBe(`{"uri":"${uri}"}`);
      expect((await store.list("_manifests/")).map((o) => o.key)).toEqual([
        "_manifests/a/_all/manifest.json",
      ]);
      await store.delete("_manifests/a/_all/manifest.json");
    }
  });

  it("opens an Azurite URI with no connection string using Azurite's development account", async () => {
    vi.stubEnv("AZURE_STORAGE_CONNECTION_STRING", undefined);
    const store = openStoreUri(`${azure.serviceUrl}/${azure.container}/dev-account`);
    expect(await store.put("k", "v")).toEqual({
      checksum: `md5:${createHash("md5").update("v").digest("base64")}`,
    });
    expect((await store.get("k"))!.toString()).toBe("v");
  });

  it("refuses a connection string for another account or endpoint than the URI", () => {
    vi.stubEnv("AZURE_STORAGE_CONNECTION_STRING", azure.connectionString);
    expect(() => openStoreUri(`https://otheraccount.blob.core.windows.net/${azure.container}`)).toThrow(
      new StorageError(
        `storage: AZURE_STORAGE_CONNECTION_STRING points at ${azure.serviceUrl} (account ${azure.account}), but the store is https://otheraccount.blob.core.windows.net/${azure.container}: use a connection string for account otheraccount, or unset it to use DefaultAzureCredential.`,
      ),
    );
  });
});

describe("a missing bucket or container is an error, not an empty store", () => {
  it("S3: NoSuchBucket", async () => {
    const store = new S3Store({
      bucket: "no-such-bucket",
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      retry: fast,
    });
    const error = await failure(store.get("a/b"));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe(
      "storage: get s3://no-such-bucket/a/b failed (404 NoSuchBucket): The specified bucket does not exist. The bucket or container does not exist: create it or fix the store URI.",
    );
    await expect(store.list("a/")).rejects.toBeInstanceOf(StorageError);
    store.destroy();
  });

  it("Azure: ContainerNotFound", async () => {
    const store = new AzureBlobStore({
      account: azure.account,
      container: "no-such-container",
      serviceUrl: azure.serviceUrl,
      connectionString: azure.connectionString,
      retry: fast,
    });
    const error = await failure(store.get("a/b"));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^storage: get ${azure.serviceUrl}/no-such-container/a/b failed \\(404 ContainerNotFound\\): The specified container does not exist\\. .*The bucket or container does not exist: create it or fix the store URI\\.$`,
      ),
    );
    await expect(store.head("a/b")).rejects.toBeInstanceOf(StorageError);
    await expect(store.delete("a/b")).rejects.toBeInstanceOf(StorageError);
  });

  it("GCS: listing a missing bucket fails", async () => {
    const store = new GcsStore({ bucket: "no-such-bucket", retry: fast });
    const error = await failure(store.list(""));
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe(
      "storage: list gs://no-such-bucket/ failed (404 notFound): The specified bucket does not exist.",
    );
  });
});

/**
 * s3rver does not evaluate If-None-Match on writes, so these check against a scripted S3 that S3Store
 * asks for the conditional create and reads S3's 412 PreconditionFailed as "exists", on both the
 * single-request path and the multipart path (where the condition goes on CompleteMultipartUpload).
 */
describe("S3Store conditional create, against a scripted S3", () => {
  const preconditionFailed =
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>';
  const store = (endpoint: string) =>
    new S3Store({
      bucket: "locks",
      prefix: "p",
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      partSize: 5 * 1024 * 1024,
      retry: fast,
    });

  it("sends If-None-Match: * on PutObject and returns false on 412", async () => {
    const server = await startLoopback((_req, res) => {
      res.writeHead(412, { "content-type": "application/xml" }).end(preconditionFailed);
    });
    try {
      const s = store(server.url);
      expect(await s.put("_locks/a/p.lock", "me", { ifAbsent: true })).toBe(false);
      expect(server.requests.map((r) => [r.method, r.url.split("?")[0], r.headers["if-none-match"]])).toEqual(
        [["PUT", "/locks/p/_locks/a/p.lock", "*"]],
      );
      expect(server.requests[0]!.body.toString()).toBe("me");
      s.destroy();
    } finally {
      await server.stop();
    }
  });

  it("sends If-None-Match: * on CompleteMultipartUpload, aborts the upload and returns false on 412", async () => {
    const server = await startLoopback((req, res) => {
      const url = new URL(req.url, "http://x");
      if (req.method === "POST" && url.searchParams.has("uploads")) {
        res
          .writeHead(200, { "content-type": "application/xml" })
          .end(
            "<InitiateMultipartUploadResult><Bucket>locks</Bucket><Key>p/big</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>",
          );
      } else if (req.method === "PUT" && url.searchParams.has("partNumber")) {
        res.writeHead(200, { etag: `"etag-${url.searchParams.get("partNumber")}"` }).end();
      } else if (req.method === "POST" && url.searchParams.get("uploadId") === "up-1") {
        res.writeHead(412, { "content-type": "application/xml" }).end(preconditionFailed);
      } else if (req.method === "DELETE" && url.searchParams.get("uploadId") === "up-1") {
        res.writeHead(204).end();
      } else {
        res.writeHead(500).end();
      }
    });
    try {
      const s = store(server.url);
      const part = Buffer.alloc(5 * 1024 * 1024, 1);
      expect(await s.put("big", Readable.from([part, Buffer.from("tail")]), { ifAbsent: true })).toBe(false);
      const seen = server.requests.map((r) => {
        const url = new URL(r.url, "http://x");
        const what = url.searchParams.has("uploads")
          ? "create"
          : url.searchParams.has("partNumber")
            ? `part ${url.searchParams.get("partNumber")} (${r.body.length} bytes)`
            : r.method === "POST"
              ? "complete"
              : "abort";
        return [what, r.headers["if-none-match"] ?? null];
      });
      expect(seen.sort()).toEqual(
        [
          ["create", null],
          [`part 1 (${5 * 1024 * 1024} bytes)`, null],
          ["part 2 (4 bytes)", null],
          ["complete", "*"],
          ["abort", null],
        ].sort(),
      );
      s.destroy();
    } finally {
      await server.stop();
    }
  });
});

/**
 * s3rver keeps no checksums, so these check against a scripted S3 that S3Store asks S3 to keep a
 * SHA-256 of what it puts, reads it back with head, and has the SDK refuse a body that does not match
 * the checksum S3 sends with it.
 */
describe("S3Store checksums, against a scripted S3", () => {
  const body = "PAR1 committed bytes";
  const sha256 = createHash("sha256").update(body).digest("base64");
  const store = (endpoint: string) =>
    new S3Store({
      bucket: "data",
      prefix: "p",
      endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });

  it("puts with the body's SHA-256, heads it back, and refuses a body that does not match it", async () => {
    const server = await startLoopback((req, res) => {
      const stored = { "x-amz-checksum-sha256": sha256, "x-amz-checksum-type": "FULL_OBJECT" };
      if (req.method === "PUT") res.writeHead(200, { etag: '"e1"', ...stored }).end();
      else if (req.method === "HEAD")
        res
          .writeHead(200, {
            "content-length": String(body.length),
            "last-modified": new Date(0).toUTCString(),
            ...stored,
          })
          .end();
      else res.writeHead(200, { "content-length": "8", ...stored }).end("tampered");
    });
    try {
      const s = store(server.url);
      expect(await s.put("curated/a/v1.parquet", body)).toEqual({ checksum: `sha256:${sha256}` });
      expect(await s.head("curated/a/v1.parquet")).toEqual({
        key: "curated/a/v1.parquet",
        size: body.length,
        modified: new Date(0),
        checksum: `sha256:${sha256}`,
      });
      const error = await failure(s.get("curated/a/v1.parquet"));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).message).toMatch(
        /^storage: get s3:\/\/data\/p\/curated\/a\/v1\.parquet failed: Checksum mismatch: expected "[^"]+" but received "[^"]+" in response header "x-amz-checksum-sha256"\.$/,
      );
      const [put, head, get] = server.requests;
      expect([put!.method, put!.headers["x-amz-checksum-sha256"], put!.body.toString()]).toEqual([
        "PUT",
        sha256,
        body,
      ]);
      expect([head!.method, head!.headers["x-amz-checksum-mode"]]).toEqual(["HEAD", "ENABLED"]);
      expect([get!.method, get!.headers["x-amz-checksum-mode"]]).toEqual(["GET", "ENABLED"]);
      s.destroy();
    } finally {
      await server.stop();
    }
  });
});
