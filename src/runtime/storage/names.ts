/**
 * The naming rules of buckets, containers and accounts, checked before any client is made: by the
 * adapters' constructors and by store URI parsing, which must not load a cloud SDK (a function's bundle
 * carries only its own cloud's).
 */
import { StorageError } from "../../contract/storage-layout.ts";

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** S3's bucket naming rules (the ones a typo breaks): 3-63 of a-z 0-9 . -, starting and ending alphanumeric. */
export function checkS3Bucket(bucket: string): string {
  if (!S3_BUCKET.test(bucket) || bucket.includes("..")) {
    throw new StorageError(
      `storage: S3 bucket name ${JSON.stringify(bucket)} is invalid: use 3 to 63 lowercase letters, digits, "." and "-", starting and ending with a letter or digit.`,
    );
  }
  return bucket;
}

const GCS_BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

/** Cloud Storage's bucket naming rules: 3-63 characters (222 with dots) of a-z 0-9 _ - . */
export function checkGcsBucket(bucket: string): string {
  const dotted = bucket.includes(".");
  if (!GCS_BUCKET.test(bucket) || (!dotted && bucket.length > 63) || bucket.includes("..")) {
    throw new StorageError(
      `storage: Cloud Storage bucket name ${JSON.stringify(bucket)} is invalid: use 3 to 63 lowercase letters, digits, "_", "-" and "." (up to 222 with dots), starting and ending with a letter or digit.`,
    );
  }
  return bucket;
}

const AZURE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const AZURE_CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

export function checkAzureAccount(account: string): string {
  if (!AZURE_ACCOUNT.test(account)) {
    throw new StorageError(
      `storage: Azure storage account name ${JSON.stringify(account)} is invalid: use 3 to 24 lowercase letters and digits.`,
    );
  }
  return account;
}

export function checkAzureContainer(container: string): string {
  if (!AZURE_CONTAINER.test(container)) {
    throw new StorageError(
      `storage: Azure container name ${JSON.stringify(container)} is invalid: use 3 to 63 lowercase letters, digits and single "-", starting and ending with a letter or digit.`,
    );
  }
  return container;
}
