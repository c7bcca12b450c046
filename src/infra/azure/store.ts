/**
 * `tributary:azure:Store`: one storage account and its containers. The data account holds the three
 * containers of the storage layout (raw, curated, quarantine), keeps blob versions and soft-deleted blobs
 * and containers, and ages blobs by a lifecycle policy; the functions' host account holds what the
 * Functions runtime keeps (timer locks, host keys, deployment packages).
 *
 * Both: StorageV2, HTTPS only with TLS 1.2 at least, no anonymous blob access, no shared keys (every
 * access is Entra ID and RBAC), infrastructure (double) encryption, and the stack's customer-managed key.
 *
 * The data-loss guard: a protected account or container is `protect` (no stack change deletes or replaces
 * it) and `retainOnDelete` (removed from the stack, it stays in the subscription). An unprotected one is
 * neither, and says so: the account by the tag `tributary:disposable`, a container (which takes no tags)
 * by its metadata `tributary_disposable`.
 */
import type * as authorization from "@pulumi/azure-native/authorization/index.js";
import * as storage from "@pulumi/azure-native/storage/index.js";
import * as pulumi from "@pulumi/pulumi";
import { DISPOSABLE_METADATA, DISPOSABLE_TAG, type StorePlan } from "../plan/types.ts";

/** Days a deleted or overwritten blob (and a deleted container) can be restored, unless retention says less. */
export const SOFT_DELETE_DAYS = 30;

export interface StoreKey {
  readonly vaultUri: pulumi.Input<string>;
  readonly keyName: pulumi.Input<string>;
  readonly identityId: pulumi.Input<string>;
  readonly access: authorization.RoleAssignment;
}

export interface StoreArgs {
  /** "data" for the stores of the plan, "functions-host" for the Functions runtime's account. */
  readonly role: "data" | "functions-host";
  readonly accountName: pulumi.Input<string>;
  readonly resourceGroupName: pulumi.Input<string>;
  readonly key: StoreKey;
  /**
   * Whether the account is protected: the data account while any of its containers is, the host account
   * while the stack's shared resources are (`protectsShared`).
   */
  readonly protect: boolean;
  /** The containers, by logical id, each protected when it holds data worth keeping. */
  readonly containers: readonly { readonly id: string; readonly protect: boolean }[];
  /** The plan's stores (the data account): versioning, soft delete and lifecycle follow them. */
  readonly stores?: readonly StorePlan[];
  readonly tags: Record<string, string>;
}

export interface Container {
  readonly name: pulumi.Output<string>;
  readonly id: pulumi.Output<string>;
}

export class Store extends pulumi.ComponentResource {
  readonly accountName: pulumi.Output<string>;
  readonly id: pulumi.Output<string>;
  /** `https://<account>.blob.core.windows.net/`. */
  readonly blobEndpoint: pulumi.Output<string>;
  readonly containers: Readonly<Record<string, Container>>;

  constructor(name: string, args: StoreArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Store", name, {}, opts);
    const parent = { parent: this };
    const rg = args.resourceGroupName;
    const guard = (keep: boolean) => (keep ? { protect: true, retainOnDelete: true } : {});
    const account = new storage.StorageAccount(
      name,
      {
        resourceGroupName: rg,
        accountName: args.accountName,
        kind: "StorageV2",
        sku: { name: "Standard_ZRS" },
        accessTier: "Hot",
        enableHttpsTrafficOnly: true,
        minimumTlsVersion: "TLS1_2",
        allowBlobPublicAccess: false,
        allowSharedKeyAccess: false,
        defaultToOAuthAuthentication: true,
        allowCrossTenantReplication: false,
        isHnsEnabled: false,
        identity: { type: "UserAssigned", userAssignedIdentities: [args.key.identityId] },
        encryption: {
          keySource: "Microsoft.Keyvault",
          keyVaultProperties: { keyVaultUri: args.key.vaultUri, keyName: args.key.keyName },
          encryptionIdentity: { encryptionUserAssignedIdentity: args.key.identityId },
          requireInfrastructureEncryption: true,
          services: {
            blob: { enabled: true, keyType: "Account" },
            file: { enabled: true, keyType: "Account" },
            queue: { enabled: true, keyType: "Account" },
            table: { enabled: true, keyType: "Account" },
          },
        },
        tags: {
          ...args.tags,
          "tributary:store": args.role,
          ...(args.protect ? {} : { [DISPOSABLE_TAG]: "true" }),
        },
      },
      // The identity must be allowed to use the key before the account is encrypted with it.
      { ...parent, ...guard(args.protect), dependsOn: [args.key.access] },
    );

    const stores = args.stores ?? [];
    const service =
      stores.length > 0
        ? new storage.BlobServiceProperties(
            `${name}-blobs`,
            {
              resourceGroupName: rg,
              accountName: account.name,
              blobServicesName: "default",
              isVersioningEnabled: true,
              deleteRetentionPolicy: { enabled: true, days: SOFT_DELETE_DAYS },
              containerDeleteRetentionPolicy: { enabled: true, days: SOFT_DELETE_DAYS },
            },
            parent,
          )
        : undefined;

    const containers: Record<string, Container> = {};
    for (const { id: c, protect } of args.containers) {
      const container = new storage.BlobContainer(
        `${name}-${c}`,
        {
          resourceGroupName: rg,
          accountName: account.name,
          containerName: c,
          publicAccess: "None",
          ...(protect ? {} : { metadata: { [DISPOSABLE_METADATA]: "true" } }),
        },
        { ...parent, ...guard(protect), dependsOn: service ? [service] : [] },
      );
      containers[c] = { name: container.name, id: container.id };
    }

    if (stores.length > 0) {
      new storage.ManagementPolicy(
        `${name}-lifecycle`,
        {
          resourceGroupName: rg,
          accountName: account.name,
          managementPolicyName: "default",
          policy: { rules: lifecycle(stores) },
        },
        { ...parent, dependsOn: service ? [service] : [] },
      );
    }

    this.accountName = account.name;
    this.id = account.id;
    this.blobEndpoint = account.primaryEndpoints.apply((e) => e.blob);
    this.containers = containers;
    this.registerOutputs({ accountName: this.accountName, id: this.id, blobEndpoint: this.blobEndpoint });
  }
}

type Rule =
  storage.ManagementPolicyArgs["policy"] extends pulumi.Input<infer P>
    ? P extends { rules: pulumi.Input<(infer R)[]> }
      ? R
      : never
    : never;

/**
 * One rule per store, on its container: raw events move to the Cool tier after `coldAfterDays` and are
 * deleted after retention; the quarantine is deleted after retention. Curated blobs are never deleted
 * while current (a partition not rematerialised for a year is still the truth); their previous versions
 * (overwritten or deleted blobs) are deleted after the curated retention, every other store's after
 * {@link SOFT_DELETE_DAYS}.
 */
export function lifecycle(stores: readonly StorePlan[]): Rule[] {
  return stores.map((s) => {
    const curated = s.id === "curated";
    const versionDays = curated ? (s.retentionDays ?? SOFT_DELETE_DAYS) : SOFT_DELETE_DAYS;
    const baseBlob: Record<string, { daysAfterModificationGreaterThan: number }> = {};
    if (s.coldAfterDays !== undefined)
      baseBlob.tierToCool = { daysAfterModificationGreaterThan: s.coldAfterDays };
    if (!curated && s.retentionDays !== undefined)
      baseBlob.delete = { daysAfterModificationGreaterThan: s.retentionDays };
    return {
      name: s.id,
      type: "Lifecycle",
      enabled: true,
      definition: {
        filters: { blobTypes: ["blockBlob"], prefixMatch: [`${s.id}/`] },
        actions: {
          ...(Object.keys(baseBlob).length > 0 ? { baseBlob } : {}),
          version: { delete: { daysAfterCreationGreaterThan: versionDays } },
        },
      },
    };
  });
}
