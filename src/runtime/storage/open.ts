import { AzureBlobStore } from "./azure-blob.ts";
import { GcsStore } from "./gcs.ts";
import type { ObjectStore } from "./port.ts";
import { S3Store } from "./s3.ts";
import { storeOpener } from "./uri.ts";

/**
 * Open the store a URI names. Endpoints and credentials come from the environment, never the URI, so
 * the same URI works on a laptop and in a function: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and
 * AWS_REGION for S3, STORAGE_EMULATOR_HOST and Application Default Credentials for GCS,
 * AZURE_STORAGE_CONNECTION_STRING or DefaultAzureCredential for Azure.
 */
export const openStoreUri: (uri: string) => ObjectStore = storeOpener({
  s3: (at) => new S3Store(at),
  gcs: (at) => new GcsStore(at),
  azure: (at) => new AzureBlobStore(at),
});
