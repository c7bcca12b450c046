/**
 * Reading a secret in a Cloud Function: Secret Manager `AccessSecretVersion` of the version the
 * function's environment names (`projects/…/secrets/…/versions/N`), with the function's service
 * account, the payload's CRC32C checked as Google recommends.
 */
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import { CRC32C } from "@google-cloud/storage";
import type { SecretReader } from "./cloud.ts";

export function gcpSecretReader(
  client: SecretManagerServiceClient = new SecretManagerServiceClient(),
): SecretReader {
  return async (reference) => {
    const [version] = await client.accessSecretVersion({ name: reference });
    const data = version.payload?.data;
    if (data === undefined || data === null) throw new Error(`secretmanager: ${reference} has no payload.`);
    const bytes = typeof data === "string" ? Buffer.from(data, "base64") : Buffer.from(data);
    const expected = version.payload?.dataCrc32c;
    if (expected !== undefined && expected !== null) {
      const crc = new CRC32C();
      crc.update(bytes);
      if (String(crc.valueOf()) !== String(typeof expected === "object" ? expected.toString() : expected)) {
        throw new Error(
          `secretmanager: ${reference}: the payload does not match its CRC32C; it was corrupted on the way.`,
        );
      }
    }
    return bytes.toString("utf8");
  };
}
