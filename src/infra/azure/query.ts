/**
 * `tributary:azure:Query`: the stack's read-only query identity on Azure. No serverless SQL service that
 * Pulumi's azure-native provider deploys reads Iceberg tables today (Synapse serverless SQL reads CSV,
 * Parquet and Delta; Microsoft Fabric reads Iceberg through OneLake shortcuts, which are Fabric items, not
 * Azure resources): docs/serverless-sql.md says how to query the tables instead (DuckDB's iceberg
 * extension, Spark with a Hadoop catalog). What the stack deploys for that is an identity to query with:
 * a user-assigned managed identity, for whatever compute runs the reader (a container, a VM, a Synapse
 * Spark pool, a Fabric workspace's connection), holding Storage Blob Data Reader on the curated container
 * only, under a condition that lets it read and list the `curated/` zone (the tables) and nothing else
 * there; no right on the raw or quarantine containers.
 */
import * as authorization from "@pulumi/azure-native/authorization/index.js";
import * as managedidentity from "@pulumi/azure-native/managedidentity/index.js";
import * as pulumi from "@pulumi/pulumi";
import { blobCondition, roleDefinitionId } from "./grants.ts";
import { guid } from "./names.ts";

export interface QueryArgs {
  readonly stack: string;
  readonly resourceGroupName: pulumi.Input<string>;
  readonly subscriptionId: pulumi.Input<string>;
  /** The curated container's resource id. */
  readonly curatedContainerId: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** What the query identity may do in the curated container: read and list the tables' zone. */
export const QUERY_CONDITION = blobCondition(
  { read: ["curated/"], list: ["curated/"], write: [], delete: [] },
  false,
);

export class Query extends pulumi.ComponentResource {
  /** The identity's client id, what a reader authenticates as. */
  readonly clientId: pulumi.Output<string>;
  readonly principalId: pulumi.Output<string>;

  constructor(name: string, args: QueryArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Query", name, {}, opts);
    const parent = { parent: this };
    const identity = new managedidentity.UserAssignedIdentity(
      `${name}-reader`,
      {
        resourceGroupName: args.resourceGroupName,
        resourceName: `${name}-reader`,
        tags: { ...args.tags, "tributary:role": "query" },
      },
      parent,
    );
    new authorization.RoleAssignment(
      `${name}-reader-tables`,
      {
        roleAssignmentName: guid(args.stack, name, "curated", "storageBlobDataReader"),
        scope: args.curatedContainerId,
        roleDefinitionId: pulumi
          .output(args.subscriptionId)
          .apply((s) => roleDefinitionId(s, "storageBlobDataReader")),
        principalId: identity.principalId,
        principalType: "ServicePrincipal",
        description: "The stack's query identity reads the curated tables (curated/), nothing else",
        condition: QUERY_CONDITION,
        conditionVersion: "2.0",
      },
      parent,
    );
    this.clientId = identity.clientId;
    this.principalId = identity.principalId;
    this.registerOutputs({ clientId: this.clientId, principalId: this.principalId });
  }
}
