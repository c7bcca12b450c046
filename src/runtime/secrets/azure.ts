/**
 * Reading a secret in an Azure Function: Key Vault `Get Secret` of the version the function's app
 * settings name (`https://<vault>.vault.azure.net/secrets/<name>/<version>`), with the app's managed
 * identity (`DefaultAzureCredential`). The vault must be reachable from the app's network: see
 * docs/secrets.md.
 */
import type { TokenCredential } from "@azure/identity";
import { DefaultAzureCredential } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";
import type { SecretReader } from "./cloud.ts";

/** A versioned secret URI as vault URL, secret name and version. */
export function parseSecretUri(reference: string): { vaultUrl: string; name: string; version?: string } {
  const url = new URL(reference);
  const [, kind, name, version] = url.pathname.split("/");
  if (kind !== "secrets" || !name) throw new Error(`keyvault: ${reference} is not a secret's URI.`);
  return { vaultUrl: `${url.protocol}//${url.host}`, name, ...(version ? { version } : {}) };
}

export function azureSecretReader(
  credential: TokenCredential = new DefaultAzureCredential(),
  options: SecretClientOptions = {},
): SecretReader {
  const clients = new Map<string, SecretClient>();
  return async (reference) => {
    const { vaultUrl, name, version } = parseSecretUri(reference);
    let client = clients.get(vaultUrl);
    if (!client) {
      client = new SecretClient(vaultUrl, credential, options);
      clients.set(vaultUrl, client);
    }
    const secret = await client.getSecret(name, version ? { version } : {});
    if (secret.value === undefined) throw new Error(`keyvault: ${reference} has no value.`);
    return secret.value;
  };
}
