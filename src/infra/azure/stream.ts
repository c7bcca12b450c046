/**
 * `tributary:azure:Streams`: the stack's Event Hubs namespace with one event hub per CDC source, as
 * Debezium Server's Event Hubs sink writes them (`debezium.sink.type=eventhubs`: the record key the
 * partition key, the value the change event as JSON text), each with its function's consumer group and
 * the user-assigned identity that sink runs as.
 *
 * The tier is Premium (one processing unit), for three reasons the Standard tier cannot meet:
 * - the stack's key: only Premium (and Dedicated) encrypt a namespace with a customer-managed key, and
 *   every store of a stack is encrypted with the stack's key (the identity and key of key.ts, which Event
 *   Hubs reaches as a trusted service through the vault's firewall);
 * - the graph's size: a Standard namespace holds 10 event hubs, a Premium one 100 per processing unit (the
 *   plan refuses more CDC sources than that);
 * - retention: Standard keeps events 7 days at most, Premium 90 (the stream keeps them a week either way).
 * Private endpoints exist from Standard up; the namespace has one, public network access disabled and
 * network rules that deny every network, as the Service Bus namespace (bus.ts). No SAS keys: local
 * authentication is off, TLS 1.2 at least; Debezium Server and the functions authenticate with Entra ID.
 * docs/streams.md says what it costs and how Debezium Server signs in.
 */
import * as authorization from "@pulumi/azure-native/authorization/index.js";
import * as eventhub from "@pulumi/azure-native/eventhub/index.js";
import * as managedidentity from "@pulumi/azure-native/managedidentity/index.js";
import * as pulumi from "@pulumi/pulumi";
import type { StreamPlan } from "../plan/types.ts";
import { roleDefinitionId } from "./grants.ts";
import { guid } from "./names.ts";
import type { Network } from "./network.ts";

/** Partitions of each event hub: the record keys are spread over them, each read in order by one instance. */
export const STREAM_PARTITIONS = 4;
/** The longest consumer group name (AMQP). */
const MAX_CONSUMER_GROUP = 50;

export interface StreamsArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Globally unique namespace name (6-50 characters). */
  readonly namespaceName: pulumi.Input<string>;
  readonly streams: readonly StreamPlan[];
  /** The stack's customer-managed key, and the identity that uses it (key.ts). */
  readonly key: {
    readonly vaultUri: pulumi.Input<string>;
    readonly keyName: pulumi.Input<string>;
    readonly identityId: pulumi.Input<string>;
    readonly access: pulumi.Resource;
  };
  readonly subscriptionId: pulumi.Input<string>;
  /** Names the role assignments: the stack. */
  readonly stack: string;
  readonly tags: Record<string, string>;
  /** The stack's network: the namespace's private endpoint is in it. */
  readonly network: Network;
}

/** One CDC source's event hub. */
export interface Hub {
  readonly name: pulumi.Output<string>;
  readonly id: pulumi.Output<string>;
  /** Its function's consumer group. */
  readonly consumerGroup: pulumi.Output<string>;
  /** The identity Debezium Server's sink signs in as (its client id), allowed to send to this hub alone. */
  readonly producerClientId: pulumi.Output<string>;
  readonly producerId: pulumi.Output<string>;
}

/** The consumer group of a CDC source's function: named after the source. */
export function consumerGroupName(source: string): string {
  return source.slice(0, MAX_CONSUMER_GROUP);
}

export class Streams extends pulumi.ComponentResource {
  readonly namespaceName: pulumi.Output<string>;
  readonly namespaceId: pulumi.Output<string>;
  /** `<namespace>.servicebus.windows.net`, for identity-based connections. */
  readonly fullyQualifiedNamespace: pulumi.Output<string>;
  /** By CDC source key. */
  readonly hubs: Readonly<Record<string, Hub>>;

  constructor(name: string, args: StreamsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Streams", name, {}, opts);
    const parent = { parent: this };
    const rg = args.resourceGroupName;
    const namespace = new eventhub.Namespace(
      name,
      {
        resourceGroupName: rg,
        namespaceName: args.namespaceName,
        sku: { name: "Premium", tier: "Premium", capacity: 1 },
        identity: { type: "UserAssigned", userAssignedIdentities: [args.key.identityId] },
        encryption: {
          keySource: "Microsoft.KeyVault",
          keyVaultProperties: [
            {
              keyName: args.key.keyName,
              keyVaultUri: args.key.vaultUri,
              identity: { userAssignedIdentity: args.key.identityId },
            },
          ],
          requireInfrastructureEncryption: false,
        },
        minimumTlsVersion: "1.2",
        disableLocalAuth: true,
        publicNetworkAccess: "Disabled",
        tags: args.tags,
      },
      // Encryption with the key works once the identity may use it.
      { ...parent, dependsOn: [args.key.access] },
    );
    // The namespace's network rules, said outright: deny every network, no exceptions.
    new eventhub.NamespaceNetworkRuleSet(
      `${name}-network`,
      {
        resourceGroupName: rg,
        namespaceName: namespace.name,
        publicNetworkAccess: "Disabled",
        defaultAction: "Deny",
        ipRules: [],
        virtualNetworkRules: [],
        trustedServiceAccessEnabled: false,
      },
      parent,
    );
    // Event Hubs and Service Bus share the private-link group ("namespace") and DNS zone.
    args.network.privateEndpoint(`${name}-namespace`, "namespace", namespace.id, this);

    const hubs: Record<string, Hub> = {};
    for (const s of args.streams) {
      const child = `${name}-${s.source.replaceAll("_", "-")}`;
      const hub = new eventhub.EventHub(
        child,
        {
          resourceGroupName: rg,
          namespaceName: namespace.name,
          eventHubName: s.name,
          partitionCount: STREAM_PARTITIONS,
          retentionDescription: { cleanupPolicy: "Delete", retentionTimeInHours: s.retentionHours },
        },
        parent,
      );
      const group = new eventhub.ConsumerGroup(
        `${child}-consumer`,
        {
          resourceGroupName: rg,
          namespaceName: namespace.name,
          eventHubName: hub.name,
          consumerGroupName: consumerGroupName(s.source),
          userMetadata: `The function of ${s.source}`,
        },
        parent,
      );
      const producer = new managedidentity.UserAssignedIdentity(
        `${child}-producer`,
        {
          resourceGroupName: rg,
          resourceName: `${child}-producer`,
          tags: { ...args.tags, "tributary:asset": s.source, "tributary:role": "producer" },
        },
        parent,
      );
      new authorization.RoleAssignment(
        `${child}-producer-send`,
        {
          roleAssignmentName: guid(args.stack, s.source, "producer", "eventHubsDataSender"),
          scope: hub.id,
          roleDefinitionId: pulumi
            .output(args.subscriptionId)
            .apply((sub) => roleDefinitionId(sub, "eventHubsDataSender")),
          principalId: producer.principalId,
          principalType: "ServicePrincipal",
          description: `Debezium Server sends the changes of ${s.table} to ${s.name}, and nowhere else`,
        },
        parent,
      );
      hubs[s.source] = {
        name: hub.name,
        id: hub.id,
        consumerGroup: group.name,
        producerClientId: producer.clientId,
        producerId: producer.id,
      };
    }
    this.namespaceName = namespace.name;
    this.namespaceId = namespace.id;
    this.fullyQualifiedNamespace = namespace.serviceBusEndpoint.apply((e) => new URL(e).hostname);
    this.hubs = hubs;
    this.registerOutputs({ namespaceName: this.namespaceName, namespaceId: this.namespaceId });
  }
}
