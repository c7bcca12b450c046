import { describe, expect, it } from "vitest";
import { StorageError } from "../../src/contract/storage-layout.ts";
import { lanceLocation } from "../../src/runtime/vectors/location.ts";
import { tenantUri } from "../../src/runtime/vectors/table.ts";

describe("where LanceDB finds a store's vector tables", () => {
  it("a folder, by path or file URI", async () => {
    const at = lanceLocation("/var/data/store/");
    expect(at).toEqual({ root: "/var/data/store", storageOptions: {} });
    expect(lanceLocation("file:///var/data/store").root).toBe("/var/data/store");
    expect(tenantUri(at, "recommendation_vectors", "acme")).toBe(
      "/var/data/store/vectors/recommendation_vectors/tenant=acme",
    );
  });

  it("S3: the region, and an emulator's endpoint path-style over plain HTTP", () => {
    expect(lanceLocation("s3://trib-prod-curated", { AWS_REGION: "eu-central-1" })).toEqual({
      root: "s3://trib-prod-curated",
      storageOptions: { aws_region: "eu-central-1" },
    });
    expect(
      lanceLocation("s3://bucket/curated", {
        AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4568",
        AWS_DEFAULT_REGION: "us-west-2",
      }),
    ).toEqual({
      root: "s3://bucket/curated",
      storageOptions: {
        aws_region: "us-west-2",
        aws_endpoint: "http://127.0.0.1:4568",
        aws_virtual_hosted_style_request: "false",
        allow_http: "true",
      },
    });
  });

  it("GCS: the bucket, credentials from Application Default Credentials", () => {
    expect(lanceLocation("gs://trib-staging-curated/p", {})).toEqual({
      root: "gs://trib-staging-curated/p",
      storageOptions: {},
    });
  });

  it("Azure: az://<container>, the account, and its key or a token found when a table opens", async () => {
    const deployed = lanceLocation("https://tribprod.blob.core.windows.net/curated", {});
    expect([deployed.root, deployed.storageOptions, typeof deployed.refresh]).toEqual([
      "az://curated",
      { azure_storage_account_name: "tribprod" },
      "function",
    ]);
    const azurite = lanceLocation("http://127.0.0.1:10000/devstoreaccount1/vectors-test/curated", {});
    expect([azurite.root, azurite.storageOptions]).toEqual([
      "az://vectors-test/curated",
      { azure_storage_endpoint: "http://127.0.0.1:10000/devstoreaccount1", allow_http: "true" },
    ]);
    const key = await azurite.refresh!();
    expect(Object.keys(key)).toEqual(["azure_storage_account_name", "azure_storage_account_key"]);
    expect(key.azure_storage_account_name).toBe("devstoreaccount1");
    const other = lanceLocation("https://tribprod.blob.core.windows.net/curated", {
      AZURE_STORAGE_CONNECTION_STRING: "AccountName=someone;AccountKey=a2V5",
    });
    await expect(other.refresh!()).rejects.toThrow(
      new StorageError(
        'vectors: AZURE_STORAGE_CONNECTION_STRING is for account "someone", but the store is in "tribprod".',
      ),
    );
  });

  it("refuses what is no store, as the store adapters do", () => {
    expect(() => lanceLocation("ftp://x/y")).toThrow(StorageError);
  });
});

describe("LanceDB's errors", () => {
  it("read in one line, without Rust source paths, with the innermost cause", async () => {
    const { lanceMessage } = await import("../../src/runtime/vectors/lance.ts");
    expect(
      lanceMessage(
        new Error(
          "lance error: LanceError(IO): Generic S3 error: Error performing list request, /usr/local/cargo/registry/src/x/lance-io-8.0.0/src/object_store.rs:849:92  Caused by: HTTP error: builder error            Caused by: URL scheme is not allowed",
        ),
      ),
    ).toBe(
      "lance error: LanceError(IO): Generic S3 error: Error performing list request: URL scheme is not allowed",
    );
  });
});
