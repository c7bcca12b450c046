/**
 * `tributary:azure:Secret`: one secret of the graph in the stack's Key Vault (infra/azure/key.ts: RBAC,
 * soft delete, purge protection; the vault encrypts its secrets), with its value: the configured one, or a
 * key generated on the first deploy. Functions name the version they read (its versioned URI), so a new
 * value redeploys exactly its readers; each reader's identity is "Key Vault Secrets User" on exactly this
 * secret (infra/azure/function.ts). Key Vault secret names allow letters, digits and dashes: `_` becomes `-`.
 */
import * as keyvault from "@pulumi/azure-native/keyvault/index.js";
import * as pulumi from "@pulumi/pulumi";
import type { SecretPlan } from "../plan/types.ts";
import { type SecretValues, secretValue } from "../secrets.ts";

export interface SecretArgs {
  readonly secret: SecretPlan;
  readonly values: SecretValues;
  readonly resourceGroupName: pulumi.Input<string>;
  /** The stack's vault. */
  readonly vaultName: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** A secret's name in Key Vault: its graph name with dashes. */
export function vaultSecretName(name: string): string {
  return name.replaceAll("_", "-");
}

export class Secret extends pulumi.ComponentResource {
  /** The secret's ARM id: the scope of its readers' role assignments. */
  readonly id: pulumi.Output<string>;
  /** What a reader's environment names: `https://<vault>.vault.azure.net/secrets/<name>/<version>`. */
  readonly reference: pulumi.Output<string>;

  constructor(name: string, args: SecretArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Secret", name, {}, opts);
    const s = args.secret;
    const secret = new keyvault.Secret(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        vaultName: args.vaultName,
        secretName: vaultSecretName(s.name),
        properties: {
          value: secretValue(name, s, args.values, this),
          contentType: s.use === "tokenisation" ? "tributary tokenisation key" : "tributary secret",
          attributes: { enabled: true },
        },
        tags: { ...args.tags, "tributary:secret": s.name },
      },
      { parent: this },
    );
    this.id = secret.id;
    // The engine marks all of `properties` secret, since its `value` is; the versioned URI is not.
    this.reference = pulumi.unsecret(secret.properties.apply((p) => p.secretUriWithVersion));
    this.registerOutputs({ id: this.id, reference: this.reference });
  }
}
