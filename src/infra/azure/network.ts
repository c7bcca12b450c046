/**
 * `tributary:azure:Network`: the stack's private network, so that the Key Vault and the Service Bus
 * namespace need not be reachable from the internet (docs/azure-network.md says why it is built so).
 *
 * - A virtual network with two subnets: `functions`, delegated to `Microsoft.App/environments` (Flex
 *   Consumption's VNet integration; every function app of the stack joins it), and `endpoints`, for the
 *   private endpoints.
 * - A NAT gateway with one static public IP on `functions`: the apps' explicit way out to what stays
 *   public (their storage accounts, Application Insights, Entra ID), one address to allow-list.
 * - A private DNS zone per private service, linked to the network, so that inside it the vault's and the
 *   namespace's public names resolve to their private endpoints.
 * - `privateEndpoint(...)`: a private endpoint of one resource in `endpoints`, its DNS record registered
 *   in the zone of its kind.
 */
import * as network from "@pulumi/azure-native/network/index.js";
import * as privatedns from "@pulumi/azure-native/privatedns/index.js";
import * as pulumi from "@pulumi/pulumi";

/** The address space of every stack's network, and its subnets. */
export const ADDRESS_SPACE = "10.40.0.0/16";
/**
 * Flex Consumption apps share the functions subnet; each can take up to about 40 addresses as it scales
 * out, so the subnet is half the space: room for some 800 apps at their busiest.
 */
export const FUNCTIONS_SUBNET = "10.40.0.0/17";
export const ENDPOINTS_SUBNET = "10.40.128.0/24";
/** The delegation Flex Consumption's VNet integration needs (it runs on Container Apps' platform). */
export const FLEX_DELEGATION = "Microsoft.App/environments";

/** The private-link kinds the stack uses: the endpoint's group id and the DNS zone of its records. */
export const PRIVATE_LINK = {
  vault: { groupId: "vault", zone: "privatelink.vaultcore.azure.net" },
  namespace: { groupId: "namespace", zone: "privatelink.servicebus.windows.net" },
  /** An Azure OpenAI account (a stack whose assets embed). */
  openai: { groupId: "account", zone: "privatelink.openai.azure.com" },
} as const;
export type PrivateLinkKind = keyof typeof PRIVATE_LINK;
/** The private-link kinds every stack has. */
const ALWAYS: readonly PrivateLinkKind[] = ["vault", "namespace"];

export interface NetworkArgs {
  readonly resourceGroupName: pulumi.Input<string>;
  /** Private-link kinds the stack needs beside the vault and the namespace (default none). */
  readonly also?: readonly PrivateLinkKind[];
  readonly tags: Record<string, string>;
}

export class Network extends pulumi.ComponentResource {
  /** The subnet every function app joins (`virtualNetworkSubnetId`). */
  readonly functionsSubnetId: pulumi.Output<string>;
  readonly endpointsSubnetId: pulumi.Output<string>;
  /** The one address the functions reach the internet from. */
  readonly outboundIp: pulumi.Output<string>;
  readonly #rg: pulumi.Input<string>;
  readonly #tags: Record<string, string>;
  readonly #zones: Readonly<Partial<Record<PrivateLinkKind, privatedns.PrivateZone>>>;

  constructor(name: string, args: NetworkArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:Network", name, {}, opts);
    const parent = { parent: this };
    const rg = args.resourceGroupName;
    this.#rg = rg;
    this.#tags = args.tags;
    const vnet = new network.VirtualNetwork(
      name,
      {
        resourceGroupName: rg,
        virtualNetworkName: name,
        addressSpace: { addressPrefixes: [ADDRESS_SPACE] },
        tags: args.tags,
      },
      parent,
    );
    const ip = new network.PublicIPAddress(
      `${name}-egress-ip`,
      {
        resourceGroupName: rg,
        publicIpAddressName: `${name}-egress-ip`,
        sku: { name: "Standard", tier: "Regional" },
        publicIPAllocationMethod: "Static",
        publicIPAddressVersion: "IPv4",
        tags: args.tags,
      },
      parent,
    );
    const nat = new network.NatGateway(
      `${name}-egress`,
      {
        resourceGroupName: rg,
        natGatewayName: `${name}-egress`,
        sku: { name: "Standard" },
        publicIpAddresses: [{ id: ip.id }],
        idleTimeoutInMinutes: 4,
        tags: args.tags,
      },
      parent,
    );
    const functions = new network.Subnet(
      `${name}-functions`,
      {
        resourceGroupName: rg,
        virtualNetworkName: vnet.name,
        subnetName: "functions",
        addressPrefix: FUNCTIONS_SUBNET,
        delegations: [{ name: "flex-consumption", serviceName: FLEX_DELEGATION }],
        natGateway: { id: nat.id },
        // Out through the NAT gateway only, not Azure's implicit default outbound access.
        defaultOutboundAccess: false,
      },
      parent,
    );
    const endpoints = new network.Subnet(
      `${name}-endpoints`,
      {
        resourceGroupName: rg,
        virtualNetworkName: vnet.name,
        subnetName: "endpoints",
        addressPrefix: ENDPOINTS_SUBNET,
        privateEndpointNetworkPolicies: "Disabled",
        defaultOutboundAccess: false,
      },
      // Two subnets of one network are not changed at once: ARM refuses concurrent subnet writes.
      { ...parent, dependsOn: [functions] },
    );
    const zones: Partial<Record<PrivateLinkKind, privatedns.PrivateZone>> = {};
    for (const kind of [...ALWAYS, ...(args.also ?? [])]) {
      const link = PRIVATE_LINK[kind];
      const zone = new privatedns.PrivateZone(
        `${name}-${kind}-dns`,
        { resourceGroupName: rg, privateZoneName: link.zone, location: "Global", tags: args.tags },
        parent,
      );
      new privatedns.VirtualNetworkLink(
        `${name}-${kind}-dns-link`,
        {
          resourceGroupName: rg,
          privateZoneName: zone.name,
          virtualNetworkLinkName: name,
          location: "Global",
          virtualNetwork: { id: vnet.id },
          registrationEnabled: false,
          tags: args.tags,
        },
        parent,
      );
      zones[kind] = zone;
    }
    this.#zones = zones;
    this.functionsSubnetId = functions.id;
    this.endpointsSubnetId = endpoints.id;
    this.outboundIp = ip.ipAddress.apply((a) => a ?? "");
    this.registerOutputs({
      functionsSubnetId: this.functionsSubnetId,
      endpointsSubnetId: this.endpointsSubnetId,
      outboundIp: this.outboundIp,
    });
  }

  /**
   * A private endpoint of `resourceId` (a `kind` of private link) in the endpoints subnet, its address
   * registered in the network's DNS zone for that kind. Children of `parent`, named after `name`.
   */
  privateEndpoint(
    name: string,
    kind: PrivateLinkKind,
    resourceId: pulumi.Input<string>,
    parent: pulumi.Resource,
  ): network.PrivateEndpoint {
    const link = PRIVATE_LINK[kind];
    if (!this.#zones[kind]) throw new Error(`Network: no private DNS zone for ${kind}; pass it in \`also\`.`);
    const endpoint = new network.PrivateEndpoint(
      `${name}-endpoint`,
      {
        resourceGroupName: this.#rg,
        privateEndpointName: `${name}-endpoint`,
        subnet: { id: this.endpointsSubnetId },
        privateLinkServiceConnections: [
          { name: `${name}-endpoint`, privateLinkServiceId: resourceId, groupIds: [link.groupId] },
        ],
        tags: this.#tags,
      },
      { parent },
    );
    new network.PrivateDnsZoneGroup(
      `${name}-endpoint-dns`,
      {
        resourceGroupName: this.#rg,
        privateEndpointName: endpoint.name,
        privateDnsZoneGroupName: "default",
        privateDnsZoneConfigs: [{ name: kind, privateDnsZoneId: this.#zones[kind]!.id }],
      },
      { parent },
    );
    return endpoint;
  }
}
