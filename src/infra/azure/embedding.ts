/**
 * `tributary:azure:EmbeddingAccount`: the Azure OpenAI account a stack's embedding assets call, and one
 * deployment per model they use, named after the model (the function's configuration names it so).
 *
 * Local (key) authentication is disabled: the embedding functions' managed identities call it with
 * Entra tokens, each granted "Cognitive Services OpenAI User" on this account alone (function.ts). Public
 * network access is disabled: the functions reach it through a private endpoint in the stack's network,
 * like the vault and the bus namespace (docs/azure-network.md).
 */
import * as cognitiveservices from "@pulumi/azure-native/cognitiveservices/index.js";
import * as pulumi from "@pulumi/pulumi";
import type { EmbeddingPlan } from "../plan/types.ts";
import type { Network } from "./network.ts";

/** The model version each deployment serves (Azure OpenAI's generally available one). */
export const MODEL_VERSIONS: Readonly<Record<string, string>> = {
  "text-embedding-3-small": "1",
  "text-embedding-3-large": "1",
  "text-embedding-ada-002": "2",
};

export interface EmbeddingAccountArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** The account's name and custom subdomain (globally unique: names.ts `dashedName`). */
  readonly accountName: pulumi.Input<string>;
  readonly embedding: EmbeddingPlan;
  readonly network: Network;
  readonly tags: Record<string, string>;
}

export class EmbeddingAccount extends pulumi.ComponentResource {
  readonly id: pulumi.Output<string>;
  /** `https://<subdomain>.openai.azure.com/`: what the functions' configuration names. */
  readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: EmbeddingAccountArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:EmbeddingAccount", name, {}, opts);
    const parent = { parent: this };
    const account = new cognitiveservices.Account(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        accountName: args.accountName,
        location: args.embedding.region,
        kind: "OpenAI",
        sku: { name: "S0" },
        properties: {
          customSubDomainName: args.accountName,
          disableLocalAuth: true,
          publicNetworkAccess: "Disabled",
          networkAcls: { defaultAction: "Deny" },
          restrictOutboundNetworkAccess: true,
        },
        tags: args.tags,
      },
      parent,
    );
    let previous: pulumi.Resource | undefined;
    for (const m of args.embedding.models) {
      // One deployment at a time: the service refuses concurrent changes to one account's deployments.
      previous = new cognitiveservices.Deployment(
        `${name}-${m.model}`,
        {
          resourceGroupName: args.resourceGroupName,
          accountName: account.name,
          deploymentName: m.model,
          properties: {
            model: { format: "OpenAI", name: m.model, version: MODEL_VERSIONS[m.model] ?? "1" },
            versionUpgradeOption: "NoAutoUpgrade",
          },
          sku: { name: "Standard", capacity: args.embedding.capacity },
          tags: args.tags,
        },
        { ...parent, ...(previous ? { dependsOn: [previous] } : {}) },
      );
    }
    args.network.privateEndpoint(name, "openai", account.id, this);
    this.id = account.id;
    this.endpoint = pulumi.interpolate`https://${args.accountName}.openai.azure.com/`;
    this.registerOutputs({ id: this.id, endpoint: this.endpoint });
  }
}
