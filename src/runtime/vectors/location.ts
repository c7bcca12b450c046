/**
 * Where a vector table lives: the store's URI (the curated store in a stack, the local folder otherwise)
 * as LanceDB names it, and the storage options LanceDB's object store needs to reach it. Endpoints and
 * credentials come from the same environment the store adapters read (storage/open.ts), so a store the
 * engine can open is a store its vector tables can be written to:
 *
 *   store URI                                   LanceDB URI                    storage options
 *   /path, file:///path                         /path/…                        -
 *   s3://bucket/prefix                          s3://bucket/prefix/…           region (AWS_REGION); with
 *                                                                              AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL
 *                                                                              (an emulator): the endpoint,
 *                                                                              path-style, allow_http
 *   gs://bucket/prefix                          gs://bucket/prefix/…           - (Application Default Credentials)
 *   https://<acct>.blob.core.windows.net/c/p    az://c/p/…                     account; a bearer token from
 *                                                                              DefaultAzureCredential (the
 *                                                                              function's managed identity)
 *   http://127.0.0.1:<port>/<acct>/c/p          az://c/p/…                     account, key and endpoint from
 *   (Azurite)                                                                  AZURE_STORAGE_CONNECTION_STRING
 *                                                                              (else Azurite's development
 *                                                                              account), allow_http
 *
 * Credentials LanceDB finds itself (AWS_ACCESS_KEY_ID…, a Lambda's role, a Cloud Function's service
 * account) are left to it. Encryption at rest is the store's: every deployed bucket or account encrypts
 * each object with the stack's key by default (SSE-KMS, CMEK, the account's customer-managed key), so
 * LanceDB is given no encryption option and its objects are encrypted exactly as the adapters' are.
 */
import { StorageError } from "../../contract/storage-layout.ts";
import { parseStoreUri } from "../storage/uri.ts";

export interface LanceLocation {
  /** The store's root as LanceDB names it (no trailing "/"). */
  readonly root: string;
  readonly storageOptions: Readonly<Record<string, string>>;
  /**
   * Options found when a table is opened rather than when the location is made (a key from a
   * connection string, a bearer token that expires): resolves to the options to add.
   */
  readonly refresh?: () => Promise<Readonly<Record<string, string>>>;
}

/** The LanceDB location of a store, from its URI and the environment. */
export function lanceLocation(storeUri: string, env: NodeJS.ProcessEnv = process.env): LanceLocation {
  const at = parseStoreUri(storeUri);
  const join = (base: string, prefix: string) => (prefix ? `${base}/${prefix}` : base);
  switch (at.kind) {
    case "local":
      return { root: at.path.replace(/\/+$/, ""), storageOptions: {} };
    case "s3": {
      const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
      const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1";
      return {
        root: join(`s3://${at.bucket}`, at.prefix),
        storageOptions: {
          aws_region: region,
          ...(endpoint
            ? {
                aws_endpoint: endpoint,
                // Emulators and S3-compatible services want path-style requests, as S3Store sends them.
                aws_virtual_hosted_style_request: "false",
                ...(endpoint.startsWith("http://") ? { allow_http: "true" } : {}),
              }
            : {}),
        },
      };
    }
    case "gcs":
      return { root: join(`gs://${at.bucket}`, at.prefix), storageOptions: {} };
    case "azure": {
      const root = join(`az://${at.container}`, at.prefix);
      const local = at.serviceUrl.startsWith("http://");
      const connection = env.AZURE_STORAGE_CONNECTION_STRING;
      if (local || connection) {
        return {
          root,
          storageOptions: local ? { azure_storage_endpoint: at.serviceUrl, allow_http: "true" } : {},
          refresh: async () => {
            const { account, key } = await accountKey(connection, at.account);
            return { azure_storage_account_name: account, azure_storage_account_key: key };
          },
        };
      }
      return {
        root,
        storageOptions: { azure_storage_account_name: at.account },
        refresh: async () => ({ azure_storage_token: await azureToken() }),
      };
    }
  }
}

/**
 * The account name and key of a connection string, or of Azurite's published development account (which
 * `UseDevelopmentStorage=true` stands for; the SDK knows its key, so it is written nowhere here).
 */
async function accountKey(
  connection: string | undefined,
  expected: string,
): Promise<{ account: string; key: string }> {
  if (!connection || /UseDevelopmentStorage=true/i.test(connection)) {
    const { BlobServiceClient } = await import("@azure/storage-blob");
    const dev = BlobServiceClient.fromConnectionString("UseDevelopmentStorage=true");
    const key = (dev.credential as unknown as { accountKey: Buffer }).accountKey.toString("base64");
    return { account: dev.accountName, key };
  }
  const parts = new Map(
    connection
      .split(";")
      .filter((p) => p.includes("="))
      .map((p) => {
        const i = p.indexOf("=");
        return [p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim()] as const;
      }),
  );
  const account = parts.get("accountname");
  const key = parts.get("accountkey");
  if (!account || !key) {
    throw new StorageError(
      "vectors: AZURE_STORAGE_CONNECTION_STRING must carry AccountName and AccountKey for the vector tables.",
    );
  }
  if (account !== expected) {
    throw new StorageError(
      `vectors: AZURE_STORAGE_CONNECTION_STRING is for account "${account}", but the store is in "${expected}".`,
    );
  }
  return { account, key };
}

/** A bearer token for Azure Storage from DefaultAzureCredential (the managed identity in a function). */
async function azureToken(): Promise<string> {
  const { DefaultAzureCredential } = await import("@azure/identity");
  const token = await new DefaultAzureCredential().getToken("https://storage.azure.com/.default");
  if (!token) throw new StorageError("vectors: DefaultAzureCredential gave no token for Azure Storage.");
  return token.token;
}
