/**
 * What Azure would answer for a new resource, made up deterministically (see outputs.ts): ARM ids
 * `/subscriptions/<sub>/resourceGroups/<rg>/providers/...` built from the resource's own inputs, `name`
 * (the explicit name input, else the logical name), endpoints, and the principal ids of managed identities
 * (GUIDs derived from the resource's name).
 */
import { guid } from "../../azure/names.ts";
import { isSecretValue } from "../record.ts";
import type { FakeOutputs, NewResource } from "./common.ts";

/** The subscription and tenant the offline Azure provider is signed in to: placeholders. */
export const OFFLINE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
export const OFFLINE_TENANT = "11111111-1111-1111-1111-111111111111";
/** The client (the deploying principal) offline. */
export const OFFLINE_CLIENT = "22222222-2222-2222-2222-222222222222";

/** The input that names each type's resource, and where it sits under the resource group. */
const TYPES: Record<
  string,
  { nameInput: string; path: (i: Record<string, string>, name: string) => string }
> = {
  "azure-native:storage:StorageAccount": {
    nameInput: "accountName",
    path: (_i, n) => `Microsoft.Storage/storageAccounts/${n}`,
  },
  "azure-native:storage:BlobServiceProperties": {
    nameInput: "blobServicesName",
    path: (i, n) => `Microsoft.Storage/storageAccounts/${i.accountName}/blobServices/${n}`,
  },
  "azure-native:storage:BlobContainer": {
    nameInput: "containerName",
    path: (i, n) => `Microsoft.Storage/storageAccounts/${i.accountName}/blobServices/default/containers/${n}`,
  },
  "azure-native:storage:ManagementPolicy": {
    nameInput: "managementPolicyName",
    path: (i, n) => `Microsoft.Storage/storageAccounts/${i.accountName}/managementPolicies/${n}`,
  },
  "azure-native:keyvault:Vault": {
    nameInput: "vaultName",
    path: (_i, n) => `Microsoft.KeyVault/vaults/${n}`,
  },
  "azure-native:keyvault:Secret": {
    nameInput: "secretName",
    path: (i, n) => `Microsoft.KeyVault/vaults/${i.vaultName}/secrets/${n}`,
  },
  "azure-native:keyvault:Key": {
    nameInput: "keyName",
    path: (i, n) => `Microsoft.KeyVault/vaults/${i.vaultName}/keys/${n}`,
  },
  "azure-native:managedidentity:UserAssignedIdentity": {
    nameInput: "resourceName",
    path: (_i, n) => `Microsoft.ManagedIdentity/userAssignedIdentities/${n}`,
  },
  "azure-native:servicebus:Namespace": {
    nameInput: "namespaceName",
    path: (_i, n) => `Microsoft.ServiceBus/namespaces/${n}`,
  },
  "azure-native:servicebus:Topic": {
    nameInput: "topicName",
    path: (i, n) => `Microsoft.ServiceBus/namespaces/${i.namespaceName}/topics/${n}`,
  },
  "azure-native:servicebus:Queue": {
    nameInput: "queueName",
    path: (i, n) => `Microsoft.ServiceBus/namespaces/${i.namespaceName}/queues/${n}`,
  },
  "azure-native:servicebus:Subscription": {
    nameInput: "subscriptionName",
    path: (i, n) =>
      `Microsoft.ServiceBus/namespaces/${i.namespaceName}/topics/${i.topicName}/subscriptions/${n}`,
  },
  "azure-native:servicebus:Rule": {
    nameInput: "ruleName",
    path: (i, n) =>
      `Microsoft.ServiceBus/namespaces/${i.namespaceName}/topics/${i.topicName}/subscriptions/${i.subscriptionName}/rules/${n}`,
  },
  "azure-native:servicebus:NamespaceNetworkRuleSet": {
    nameInput: "",
    path: (i) => `Microsoft.ServiceBus/namespaces/${i.namespaceName}/networkRuleSets/default`,
  },
  "azure-native:eventhub:Namespace": {
    nameInput: "namespaceName",
    path: (_i, n) => `Microsoft.EventHub/namespaces/${n}`,
  },
  "azure-native:eventhub:NamespaceNetworkRuleSet": {
    nameInput: "",
    path: (i) => `Microsoft.EventHub/namespaces/${i.namespaceName}/networkRuleSets/default`,
  },
  "azure-native:eventhub:EventHub": {
    nameInput: "eventHubName",
    path: (i, n) => `Microsoft.EventHub/namespaces/${i.namespaceName}/eventhubs/${n}`,
  },
  "azure-native:eventhub:ConsumerGroup": {
    nameInput: "consumerGroupName",
    path: (i, n) =>
      `Microsoft.EventHub/namespaces/${i.namespaceName}/eventhubs/${i.eventHubName}/consumergroups/${n}`,
  },
  "azure-native:network:VirtualNetwork": {
    nameInput: "virtualNetworkName",
    path: (_i, n) => `Microsoft.Network/virtualNetworks/${n}`,
  },
  "azure-native:network:Subnet": {
    nameInput: "subnetName",
    path: (i, n) => `Microsoft.Network/virtualNetworks/${i.virtualNetworkName}/subnets/${n}`,
  },
  "azure-native:network:PublicIPAddress": {
    nameInput: "publicIpAddressName",
    path: (_i, n) => `Microsoft.Network/publicIPAddresses/${n}`,
  },
  "azure-native:network:NatGateway": {
    nameInput: "natGatewayName",
    path: (_i, n) => `Microsoft.Network/natGateways/${n}`,
  },
  "azure-native:network:PrivateEndpoint": {
    nameInput: "privateEndpointName",
    path: (_i, n) => `Microsoft.Network/privateEndpoints/${n}`,
  },
  "azure-native:network:PrivateDnsZoneGroup": {
    nameInput: "privateDnsZoneGroupName",
    path: (i, n) => `Microsoft.Network/privateEndpoints/${i.privateEndpointName}/privateDnsZoneGroups/${n}`,
  },
  "azure-native:privatedns:PrivateZone": {
    nameInput: "privateZoneName",
    path: (_i, n) => `Microsoft.Network/privateDnsZones/${n}`,
  },
  "azure-native:privatedns:VirtualNetworkLink": {
    nameInput: "virtualNetworkLinkName",
    path: (i, n) => `Microsoft.Network/privateDnsZones/${i.privateZoneName}/virtualNetworkLinks/${n}`,
  },
  "azure-native:cognitiveservices:Account": {
    nameInput: "accountName",
    path: (_i, n) => `Microsoft.CognitiveServices/accounts/${n}`,
  },
  "azure-native:cognitiveservices:Deployment": {
    nameInput: "deploymentName",
    path: (i, n) => `Microsoft.CognitiveServices/accounts/${i.accountName}/deployments/${n}`,
  },
  "azure-native:web:AppServicePlan": { nameInput: "name", path: (_i, n) => `Microsoft.Web/serverfarms/${n}` },
  "azure-native:web:WebApp": { nameInput: "name", path: (_i, n) => `Microsoft.Web/sites/${n}` },
  "azure-native:applicationinsights:Component": {
    nameInput: "resourceName",
    path: (_i, n) => `Microsoft.Insights/components/${n}`,
  },
  "azure-native:operationalinsights:Workspace": {
    nameInput: "workspaceName",
    path: (_i, n) => `Microsoft.OperationalInsights/workspaces/${n}`,
  },
  "azure-native:monitor:ActionGroup": {
    nameInput: "actionGroupName",
    path: (_i, n) => `Microsoft.Insights/actionGroups/${n}`,
  },
  "azure-native:monitor:MetricAlert": {
    nameInput: "ruleName",
    path: (_i, n) => `Microsoft.Insights/metricAlerts/${n}`,
  },
  "azure-native:monitor:ScheduledQueryRule": {
    nameInput: "ruleName",
    path: (_i, n) => `Microsoft.Insights/scheduledQueryRules/${n}`,
  },
};

export function fakeAzureOutputs(r: NewResource, _region: string): FakeOutputs {
  const i = r.inputs as Record<string, string>;
  const sub = `/subscriptions/${OFFLINE_SUBSCRIPTION}`;
  const outputs = (id: string, name: string, extra: Record<string, unknown> = {}): FakeOutputs => ({
    id,
    state: { ...r.inputs, id, name, ...extra },
  });
  if (r.type === "azure-native:resources:ResourceGroup") {
    const name = i.resourceGroupName ?? r.name;
    return outputs(`${sub}/resourceGroups/${name}`, name);
  }
  if (r.type === "azure-native:authorization:RoleAssignment") {
    const name = i.roleAssignmentName ?? guid(r.name);
    return outputs(`${i.scope}/providers/Microsoft.Authorization/roleAssignments/${name}`, name);
  }
  const t = TYPES[r.type];
  if (!t) return { id: `${r.name}-id`, state: { ...r.inputs } };
  const name = (t.nameInput ? i[t.nameInput] : undefined) ?? r.name;
  const id = `${sub}/resourceGroups/${i.resourceGroupName}/providers/${t.path(i, name)}`;
  switch (r.type) {
    case "azure-native:storage:StorageAccount": {
      const endpoint = (service: string) => `https://${name}.${service}.core.windows.net/`;
      return outputs(id, name, {
        primaryEndpoints: {
          blob: endpoint("blob"),
          dfs: endpoint("dfs"),
          file: endpoint("file"),
          queue: endpoint("queue"),
          table: endpoint("table"),
          web: `https://${name}.z6.web.core.windows.net/`,
        },
      });
    }
    case "azure-native:keyvault:Vault":
      return outputs(id, name, {
        properties: { ...(r.inputs.properties as object), vaultUri: `https://${name}.vault.azure.net/` },
      });
    case "azure-native:keyvault:Key":
      return outputs(id, name, {
        keyUri: `https://${i.vaultName}.vault.azure.net/keys/${name}`,
        keyUriWithVersion: `https://${i.vaultName}.vault.azure.net/keys/${name}/${guid(id).replaceAll("-", "")}`,
      });
    case "azure-native:keyvault:Secret": {
      // The service never returns a secret's value (here the SDK sends the properties wrapped as a secret).
      const given = (r.inputs.properties ?? {}) as Record<string, unknown>;
      const plain = (isSecretValue(given) ? given.value : given) as Record<string, unknown>;
      const { value: _, ...properties } = plain;
      const uri = `https://${i.vaultName}.vault.azure.net/secrets/${name}`;
      return outputs(id, name, {
        properties: {
          ...properties,
          secretUri: uri,
          secretUriWithVersion: `${uri}/${guid(id).replaceAll("-", "")}`,
        },
      });
    }
    case "azure-native:managedidentity:UserAssignedIdentity":
      return outputs(id, name, {
        principalId: guid("principal", id),
        clientId: guid("client", id),
        tenantId: OFFLINE_TENANT,
      });
    case "azure-native:servicebus:Namespace":
    case "azure-native:eventhub:Namespace":
      return outputs(id, name, { serviceBusEndpoint: `https://${name}.servicebus.windows.net:443/` });
    case "azure-native:web:WebApp": {
      const identity = r.inputs.identity as { type?: string } | undefined;
      return outputs(id, name, {
        defaultHostName: `${name}.azurewebsites.net`,
        ...(identity?.type?.includes("SystemAssigned")
          ? { identity: { ...identity, principalId: guid("principal", id), tenantId: OFFLINE_TENANT } }
          : {}),
      });
    }
    case "azure-native:applicationinsights:Component": {
      const key = guid("instrumentation", id);
      return outputs(id, name, {
        appId: guid("app", id),
        instrumentationKey: key,
        connectionString: `InstrumentationKey=${key};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/`,
      });
    }
    case "azure-native:operationalinsights:Workspace":
      return outputs(id, name, { customerId: guid("workspace", id) });
    case "azure-native:network:PublicIPAddress": {
      // A documentation address (RFC 5737), the same for the same resource.
      const n = Number.parseInt(guid("ip", id).slice(0, 2), 16);
      return outputs(id, name, { ipAddress: `203.0.113.${n}` });
    }
    default:
      return outputs(id, name);
  }
}

/** The answer of a provider function, or undefined when there is none offline. */
export function fakeAzureInvoke(
  token: string,
  _args: Record<string, unknown>,
  _config: Record<string, string>,
): Record<string, unknown> | undefined {
  switch (token) {
    case "azure-native:authorization:getClientConfig":
      return {
        clientId: OFFLINE_CLIENT,
        objectId: OFFLINE_CLIENT,
        subscriptionId: OFFLINE_SUBSCRIPTION,
        tenantId: OFFLINE_TENANT,
      };
    default:
      return undefined;
  }
}
