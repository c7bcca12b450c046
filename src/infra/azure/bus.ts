/**
 * `tributary:azure:Bus`: the stack's Service Bus namespace with one topic per bus of the plan. TLS 1.2 at
 * least and no SAS keys: senders and receivers authenticate with Entra ID. Consumers subscribe in their
 * own component (a subscription with a SQL filter), so the bus knows nothing of who listens.
 *
 * Network: no public access at all. The namespace is Premium, the only tier with private endpoints, and
 * is reached through its private endpoint in the stack's network, by the functions (and Flex
 * Consumption's scaling, which reads the subscriptions through the app's network) alike. A producer of
 * source events outside Azure reaches it through a private endpoint of its own network, or peering; see
 * docs/azure-network.md.
 */
import * as servicebus from "@pulumi/azure-native/servicebus/index.js";
import * as pulumi from "@pulumi/pulumi";
import type { BusId, BusPlan } from "../plan/types.ts";
import type { Network } from "./network.ts";

export interface BusArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  readonly namespaceName: pulumi.Input<string>;
  readonly buses: readonly BusPlan[];
  readonly tags: Record<string, string>;
  /** The stack's network: the namespace's private endpoint is in it. */
  readonly network: Network;
}

export interface Topic {
  readonly name: pulumi.Output<string>;
  readonly id: pulumi.Output<string>;
}

/** How long an undelivered message waits in a topic or subscription: four days, as on the other clouds. */
export const MESSAGE_TTL = "P4D";

export class Bus extends pulumi.ComponentResource {
  readonly namespaceName: pulumi.Output<string>;
  readonly namespaceId: pulumi.Output<string>;
  /** `<namespace>.servicebus.windows.net`, for identity-based connections. */
  readonly fullyQualifiedNamespace: pulumi.Output<string>;
  readonly topics: Readonly<Record<BusId, Topic>>;

  constructor(name: string, args: BusArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Bus", name, {}, opts);
    const parent = { parent: this };
    const namespace = new servicebus.Namespace(
      name,
      {
        resourceGroupName: args.resourceGroupName,
        namespaceName: args.namespaceName,
        sku: { name: "Premium", tier: "Premium", capacity: 1 },
        premiumMessagingPartitions: 1,
        minimumTlsVersion: "1.2",
        disableLocalAuth: true,
        publicNetworkAccess: "Disabled",
        tags: args.tags,
      },
      parent,
    );
    // The namespace's network rules, said outright: deny every network, no exceptions.
    new servicebus.NamespaceNetworkRuleSet(
      `${name}-network`,
      {
        resourceGroupName: args.resourceGroupName,
        namespaceName: namespace.name,
        publicNetworkAccess: "Disabled",
        defaultAction: "Deny",
        ipRules: [],
        virtualNetworkRules: [],
        trustedServiceAccessEnabled: false,
      },
      parent,
    );
    args.network.privateEndpoint(`${name}-namespace`, "namespace", namespace.id, this);
    const topics = {} as Record<BusId, Topic>;
    for (const b of args.buses) {
      const topic = new servicebus.Topic(
        `${name}-${b.id}`,
        {
          resourceGroupName: args.resourceGroupName,
          namespaceName: namespace.name,
          topicName: b.id,
          defaultMessageTimeToLive: MESSAGE_TTL,
          enableBatchedOperations: true,
          maxSizeInMegabytes: 1024,
        },
        parent,
      );
      topics[b.id] = { name: topic.name, id: topic.id };
    }
    this.namespaceName = namespace.name;
    this.namespaceId = namespace.id;
    this.fullyQualifiedNamespace = namespace.serviceBusEndpoint.apply((e) => new URL(e).hostname);
    this.topics = topics;
    this.registerOutputs({ namespaceName: this.namespaceName, namespaceId: this.namespaceId });
  }
}
