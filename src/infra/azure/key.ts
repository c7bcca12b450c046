/**
 * `tributary:azure:DataKey`: the stack's customer-managed key for its storage accounts. A Key Vault
 * (RBAC authorisation, soft delete and purge protection, which storage encryption requires), an RSA key
 * rotated yearly, and the user-assigned identity the storage accounts unwrap their account keys with,
 * allowed exactly that on exactly this key.
 *
 * Network: the vault's firewall denies every network (no IP or virtual network rule) but lets trusted
 * Azure services through, which is how the storage accounts reach their key; the stack's functions reach
 * the vault (its secrets) through a private endpoint in the stack's network. Deploying keys and secrets
 * is ARM's control plane, which the firewall does not filter. See docs/azure-network.md.
 *
 * Deleting the vault or the key makes every blob it encrypted unreadable, so both are `protect` and
 * `retainOnDelete` while any store holds data worth keeping; in a stack whose stores are all disposable
 * neither is, and both are tagged `tributary:disposable`.
 */
import * as authorization from "@pulumi/azure-native/authorization/index.js";
import * as keyvault from "@pulumi/azure-native/keyvault/index.js";
import * as managedidentity from "@pulumi/azure-native/managedidentity/index.js";
import * as pulumi from "@pulumi/pulumi";
import { DISPOSABLE_TAG } from "../plan/types.ts";
import { roleDefinitionId } from "./grants.ts";
import { guid } from "./names.ts";
import type { Network } from "./network.ts";

export interface DataKeyArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Globally unique vault name (3-24 characters). */
  readonly vaultName: pulumi.Input<string>;
  readonly tenantId: pulumi.Input<string>;
  readonly subscriptionId: pulumi.Input<string>;
  /** Names the key's role assignment: the stack. */
  readonly stack: string;
  readonly tags: Record<string, string>;
  /** Whether the vault and key are protected and kept: while any store is (`protectsShared`). */
  readonly protect: boolean;
  /** The stack's network: the vault's private endpoint is in it. */
  readonly network: Network;
}

export class DataKey extends pulumi.ComponentResource {
  /** The vault's URI, e.g. `https://trib-prod-kv-1a2b3c.vault.azure.net/`. */
  readonly vaultUri: pulumi.Output<string>;
  /** The vault's ARM id (role assignments on its secrets are scoped under it). */
  readonly vaultId: pulumi.Output<string>;
  /** The vault's name: the stack's secrets live in it too (infra/azure/secret.ts). */
  readonly vaultName: pulumi.Output<string>;
  readonly keyName: pulumi.Output<string>;
  /** ARM id of the identity that uses the key. */
  readonly identityId: pulumi.Output<string>;
  /** The key's role assignment: encryption with the key works once it exists. */
  readonly access: authorization.RoleAssignment;

  constructor(name: string, args: DataKeyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:DataKey", name, {}, opts);
    const parent = { parent: this };
    const rg = args.resourceGroupName;
    const keep = args.protect;
    const guard = keep ? { protect: true, retainOnDelete: true } : {};
    const keyTags = keep ? args.tags : { ...args.tags, [DISPOSABLE_TAG]: "true" };
    const vault = new keyvault.Vault(
      `${name}-vault`,
      {
        resourceGroupName: rg,
        vaultName: args.vaultName,
        properties: {
          tenantId: args.tenantId,
          sku: { family: "A", name: "standard" },
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: 90,
          enablePurgeProtection: true,
          // Public endpoint: trusted Azure services only (the storage accounts' key); no IP, no network.
          publicNetworkAccess: "Enabled",
          networkAcls: {
            bypass: "AzureServices",
            defaultAction: "Deny",
            ipRules: [],
            virtualNetworkRules: [],
          },
        },
        tags: keyTags,
      },
      { ...parent, ...guard },
    );
    const key = new keyvault.Key(
      name,
      {
        resourceGroupName: rg,
        vaultName: vault.name,
        keyName: name,
        properties: {
          kty: "RSA",
          keySize: 3072,
          keyOps: ["wrapKey", "unwrapKey"],
          rotationPolicy: {
            attributes: { expiryTime: "P2Y" },
            lifetimeActions: [
              { action: { type: "rotate" }, trigger: { timeAfterCreate: "P1Y" } },
              { action: { type: "notify" }, trigger: { timeBeforeExpiry: "P30D" } },
            ],
          },
        },
        tags: keyTags,
      },
      { ...parent, ...guard },
    );
    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      { resourceGroupName: rg, resourceName: `${name}-identity`, tags: args.tags },
      parent,
    );
    this.access = new authorization.RoleAssignment(
      `${name}-use`,
      {
        roleAssignmentName: guid(args.stack, name, "key", "keyVaultCryptoServiceEncryptionUser"),
        scope: key.id,
        roleDefinitionId: pulumi
          .output(args.subscriptionId)
          .apply((s) => roleDefinitionId(s, "keyVaultCryptoServiceEncryptionUser")),
        principalId: identity.principalId,
        principalType: "ServicePrincipal",
        description: `Storage accounts of ${args.stack} wrap and unwrap their keys with ${name}`,
      },
      parent,
    );
    args.network.privateEndpoint(`${name}-vault`, "vault", vault.id, this);
    this.vaultUri = vault.properties.apply((p) => p.vaultUri ?? "");
    this.vaultId = vault.id;
    this.vaultName = vault.name;
    this.keyName = key.name;
    this.identityId = identity.id;
    this.registerOutputs({ vaultUri: this.vaultUri, keyName: this.keyName, identityId: this.identityId });
  }
}
