/**
 * Reading a secret in an AWS Lambda: Secrets Manager `GetSecretValue` of the version the function's
 * environment names (`<secret ARN>#<version id>`), with the function's role. The client's endpoint comes
 * from the standard environment (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`), like every
 * AWS SDK client's.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SecretReader } from "./cloud.ts";

export function awsSecretReader(client: SecretsManagerClient = new SecretsManagerClient({})): SecretReader {
  return async (reference) => {
    const [arn, version] = reference.split("#");
    const out = await client.send(
      new GetSecretValueCommand({ SecretId: arn, ...(version ? { VersionId: version } : {}) }),
    );
    if (out.SecretString !== undefined) return out.SecretString;
    if (out.SecretBinary !== undefined) return Buffer.from(out.SecretBinary).toString("utf8");
    throw new Error(`secretsmanager: ${arn} (version ${version ?? "current"}) has no value.`);
  };
}
