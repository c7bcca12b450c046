import { afterEach, describe, expect, it, vi } from "vitest";
import { StorageError } from "../../src/contract/storage-layout.ts";
import { AzureBlobStore } from "../../src/runtime/storage/azure-blob.ts";
import { GcsStore } from "../../src/runtime/storage/gcs.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { openStoreUri } from "../../src/runtime/storage/open.ts";
import { S3Store } from "../../src/runtime/storage/s3.ts";
import { ACCEPTED_STORE_URIS, parseStoreUri, storeOpener } from "../../src/runtime/storage/uri.ts";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("parseStoreUri", () => {
  it.each([
    ["file:///var/data/store", { kind: "local", path: "/var/data/store" }],
    ["file:///tmp/a%20b", { kind: "local", path: "/tmp/a b" }],
    ["./.tributary", { kind: "local", path: "./.tributary" }],
    ["/abs/path#1", { kind: "local", path: "/abs/path#1" }],
    ["C:\\data", { kind: "local", path: "C:\\data" }],
    ["s3://my-bucket", { kind: "s3", bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/", { kind: "s3", bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/tenants/acme", { kind: "s3", bucket: "my-bucket", prefix: "tenants/acme" }],
    ["s3://my-bucket/tenants/acme/", { kind: "s3", bucket: "my-bucket", prefix: "tenants/acme" }],
    ["S3://my.bucket/x", { kind: "s3", bucket: "my.bucket", prefix: "x" }],
    ["gs://my_bucket", { kind: "gcs", bucket: "my_bucket", prefix: "" }],
    ["gs://my_bucket/env=prod/", { kind: "gcs", bucket: "my_bucket", prefix: "env=prod" }],
    [
      "https://acct1.blob.core.windows.net/curated/pre/fix",
      {
        kind: "azure",
        serviceUrl: "https://acct1.blob.core.windows.net",
        account: "acct1",
        container: "curated",
        prefix: "pre/fix",
      },
    ],
    [
      "https://acct1.blob.core.windows.net/curated/p%7Cq",
      {
        kind: "azure",
        serviceUrl: "https://acct1.blob.core.windows.net",
        account: "acct1",
        container: "curated",
        prefix: "p|q",
      },
    ],
    [
      "http://127.0.0.1:10000/devstoreaccount1/c01/p",
      {
        kind: "azure",
        serviceUrl: "http://127.0.0.1:10000/devstoreaccount1",
        account: "devstoreaccount1",
        container: "c01",
        prefix: "p",
      },
    ],
    [
      "http://localhost:10000/devstoreaccount1/c01",
      {
        kind: "azure",
        serviceUrl: "http://localhost:10000/devstoreaccount1",
        account: "devstoreaccount1",
        container: "c01",
        prefix: "",
      },
    ],
  ])("%s", (uri, expected) => {
    expect(parseStoreUri(uri)).toEqual(expected);
  });

  it("names the URI, what is wrong and every accepted form", () => {
    let error: unknown;
    try {
      parseStoreUri("ftp://host/x");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe(
      'storage: cannot open store "ftp://host/x": the scheme "ftp:" is not a store. Accepted: file:///absolute/path or a plain path, s3://bucket[/prefix], gs://bucket[/prefix], https://<account>.blob.core.windows.net/<container>[/prefix], or Azurite\'s http://127.0.0.1:<port>/<account>/<container>[/prefix].',
    );
  });

  it.each([
    ["", "it is empty"],
    ["s3://", "the bucket is missing: write s3://bucket[/prefix]"],
    ["s3:bucket", "the bucket is missing: write s3://bucket[/prefix]"],
    ["gs:///prefix", "the bucket is missing: write gs://bucket[/prefix]"],
    [
      "s3://Bad_Bucket",
      'S3 bucket name "Bad_Bucket" is invalid: use 3 to 63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit',
    ],
    [
      "gs://-bucket",
      'Cloud Storage bucket name "-bucket" is invalid: use 3 to 63 lowercase letters, digits, "_", "-" and "." (up to 222 with dots), starting and ending with a letter or digit',
    ],
    [
      "gs://bucket/a//b",
      'key prefix "a//b" of gs://bucket is invalid: object key "a//b" is invalid: segment "" must be letters, digits and _ . = | - (no "..", no empty segments)',
    ],
    [
      "s3://bucket/../x",
      'key prefix "../x" of s3://bucket is invalid: object key "../x" is invalid: segment ".." must be letters, digits and _ . = | - (no "..", no empty segments)',
    ],
    ["s3://bucket/p?versionId=1", "a store URI has no query or fragment"],
    ["gs://bucket/p#frag", "a store URI has no query or fragment"],
    ["file://host/x", "a file URI must be file:///absolute/path"],
    ["file:relative", "a file URI must be file:///absolute/path"],
    [
      "https://example.com/c",
      "an https store must be an Azure blob endpoint, <account>.blob.core.windows.net",
    ],
    ["https://acct1.blob.core.windows.net/", "the container is missing"],
    [
      "https://acct1.blob.core.windows.net/Bad_C",
      'Azure container name "Bad_C" is invalid: use 3 to 63 lowercase letters, digits and single "-", starting and ending with a letter or digit',
    ],
    [
      "https://ACCT_1.blob.core.windows.net/c01",
      "an https store must be an Azure blob endpoint, <account>.blob.core.windows.net",
    ],
    [
      "http://10.0.0.1:10000/devstoreaccount1/c01",
      "an http store must be Azurite on this machine (127.0.0.1)",
    ],
    [
      "http://127.0.0.1:10000/",
      "the Azurite account is missing (http://127.0.0.1:<port>/<account>/<container>)",
    ],
    ["http://127.0.0.1:10000/devstoreaccount1", "the container is missing"],
    [
      "http://127.0.0.1:10000/Dev_Account/c01",
      'Azure storage account name "Dev_Account" is invalid: use 3 to 24 lowercase letters and digits',
    ],
  ])("refuses %j: %s", (uri, why) => {
    expect(() => parseStoreUri(uri)).toThrow(
      new StorageError(
        `storage: cannot open store ${JSON.stringify(uri)}: ${why}. Accepted: ${ACCEPTED_STORE_URIS}.`,
      ),
    );
  });
});

describe("storeOpener", () => {
  it("opens local folders and the kinds it is given, and refuses the others by name", () => {
    const open = storeOpener({ s3: (at) => new S3Store({ bucket: at.bucket, prefix: at.prefix }) });
    expect(open("s3://my-bucket/p").uri).toBe("s3://my-bucket/p");
    expect(open("/tmp/x").uri).toBe("file:///tmp/x");
    expect(() => open("gs://my-bucket")).toThrow(
      new StorageError(
        'storage: cannot open store "gs://my-bucket" here: this program opens local, s3 stores only.',
      ),
    );
  });
});

describe("openStoreUri", () => {
  it("opens the adapter each URI names, with the URI as the store's uri", () => {
    vi.stubEnv("AZURE_STORAGE_CONNECTION_STRING", undefined);
    vi.stubEnv("AWS_ENDPOINT_URL_S3", undefined);
    vi.stubEnv("AWS_ENDPOINT_URL", undefined);
    const cases: [string, unknown, string][] = [
      ["file:///var/data/store", LocalStore, "file:///var/data/store"],
      ["/var/data/store", LocalStore, "file:///var/data/store"],
      ["s3://my-bucket/tenants/acme/", S3Store, "s3://my-bucket/tenants/acme"],
      ["s3://my-bucket", S3Store, "s3://my-bucket"],
      ["gs://my-bucket/p", GcsStore, "gs://my-bucket/p"],
      [
        "https://acct1.blob.core.windows.net/curated/p",
        AzureBlobStore,
        "https://acct1.blob.core.windows.net/curated/p",
      ],
      [
        "http://127.0.0.1:10000/devstoreaccount1/c01",
        AzureBlobStore,
        "http://127.0.0.1:10000/devstoreaccount1/c01",
      ],
    ];
    for (const [uri, type, expected] of cases) {
      const store = openStoreUri(uri);
      expect(store, uri).toBeInstanceOf(type as new (...args: never[]) => unknown);
      expect(store.uri, uri).toBe(expected);
      expect(store.localPath === undefined, uri).toBe(type !== LocalStore);
    }
  });

  it("keeps the bucket and prefix of S3 and GCS URIs", () => {
    const s3 = openStoreUri("s3://my-bucket/tenants/acme") as S3Store;
    expect([s3.bucket, s3.prefix]).toEqual(["my-bucket", "tenants/acme"]);
    const gcs = openStoreUri("gs://my-bucket/p/q") as GcsStore;
    expect([gcs.bucket, gcs.prefix]).toEqual(["my-bucket", "p/q"]);
  });

  it("refuses an Azurite URI for another account when no connection string gives its key", () => {
    vi.stubEnv("AZURE_STORAGE_CONNECTION_STRING", undefined);
    expect(() => openStoreUri("http://127.0.0.1:10000/myaccount/c01")).toThrow(
      new StorageError(
        "storage: http://127.0.0.1:10000/myaccount/c01 is an Azurite URI for account myaccount: set AZURE_STORAGE_CONNECTION_STRING with that account's key (only devstoreaccount1 needs none).",
      ),
    );
  });

  it("refuses a malformed connection string, naming the store", () => {
    vi.stubEnv("AZURE_STORAGE_CONNECTION_STRING", "not a connection string");
    expect(() => openStoreUri("https://acct1.blob.core.windows.net/curated")).toThrow(
      new StorageError(
        "storage: AZURE_STORAGE_CONNECTION_STRING cannot open https://acct1.blob.core.windows.net/curated: Invalid URL; it should read DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net.",
      ),
    );
  });
});
