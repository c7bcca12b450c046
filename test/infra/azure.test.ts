/**
 * The Azure adapter on the reference pipeline: `synth` runs infra/index.ts under Pulumi's mocks for the
 * prod-azure stack, and the exact resources and their key inputs are asserted here.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { blobCondition, containerAccess } from "../../src/infra/azure/grants.ts";
import { guid } from "../../src/infra/azure/names.ts";
import { offsets, timerSchedule } from "../../src/infra/azure/schedule.ts";
import { CronDialectError } from "../../src/infra/plan/cron.ts";
import type { GrantPlan } from "../../src/infra/plan/types.ts";
import { AZURE_TAGGABLE_TYPES } from "../../src/infra/policy/rules/azure.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type Synthesis, synth } from "../../src/infra/synth/index.ts";
import { normalise } from "../../src/infra/synth/record.ts";
import { toLineage } from "../../src/kit/index.ts";
import { disposableSynth, guarded, GUARDED as KEPT, lookup } from "./synthesised.ts";

/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
const SUB = "00000000-0000-0000-0000-000000000000";
const RG = `/subscriptions/${SUB}/resourceGroups/trib-prod`;
/** The stack's name suffix: a hash of the (offline) subscription and the stack. */
const SFX = "1127c7";
const DATA = `tribproddata${SFX}`;
const HOST = `tribprodhost${SFX}`;
const NS = `trib-prod-bus-${SFX}`;
const account = (a: string) => `${RG}/providers/Microsoft.Storage/storageAccounts/${a}`;
const container = (a: string, c: string) => `${account(a)}/blobServices/default/containers/${c}`;
const topic = (t: string) => `${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}/topics/${t}`;
const role = (g: string) => `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${g}`;
const READER = role("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1");
const CONTRIBUTOR = role("ba92f5b4-2d11-453d-a403-e96b0029c9fe");
const OWNER = role("b7e6dc6d-f1e8-4753-8033-0f276bb0955b");
const IDENTITY = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/trib-prod-data-identity`;
const TAGS = {
  "cost-centre": "cc-1042",
  owner: "data-platform",
  "tributary:env": "prod",
  "tributary:pipeline": "commerce",
};
const BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
const READ = `ActionMatches{'${BLOBS}/read'} AND NOT SubOperationMatches{'Blob.List'}`;
const LIST = `ActionMatches{'${BLOBS}/read'} AND SubOperationMatches{'Blob.List'}`;
const WRITE = `ActionMatches{'${BLOBS}/write'} OR ActionMatches{'${BLOBS}/add/action'}`;
const DELETE = `ActionMatches{'${BLOBS}/delete'}`;
const MOVE = `ActionMatches{'${BLOBS}/move/action'}`;
const path_ = (p: string) => `@Resource[${BLOBS}:path] StringStartsWith '${p}'`;
const prefix = (p: string) => `@Request[${BLOBS}:prefix] StringStartsWith '${p}'`;
const exact = (p: string) => `@Resource[${BLOBS}:path] StringEquals '${p}'`;
/** curated_orders' app: its name is its site name and, at 31 characters, its host id too. */
const APP = `trib-prod-curated-orders-${SFX}`;
const clause = (action: string, tests: string[]) =>
  tests.length === 0 ? `(!(${action}))` : `(!(${action}) OR ${tests.join(" OR ")})`;

let s: Synthesis;

beforeAll(async () => {
  s = await synth({ root: example, stack: "prod-azure" });
}, 120_000);

const { one, inputs } = lookup(() => s);
const T = {
  account: "azure-native:storage:StorageAccount",
  container: "azure-native:storage:BlobContainer",
  assignment: "azure-native:authorization:RoleAssignment",
  app: "azure-native:web:WebApp",
  subscription: "azure-native:servicebus:Subscription",
  rule: "azure-native:servicebus:Rule",
  queue: "azure-native:servicebus:Queue",
  metricAlert: "azure-native:monitor:MetricAlert",
  logAlert: "azure-native:monitor:ScheduledQueryRule",
};
const settings = (name: string) =>
  Object.fromEntries(
    (inputs(name, T.app).siteConfig as { appSettings: { name: string; value: string }[] }).appSettings.map(
      (x) => [x.name, x.value],
    ),
  );

describe("the Azure stack of the reference pipeline", () => {
  it("registers these resources, in components for the group, key, stores, bus, alerts and each asset", () => {
    const counts: Record<string, number> = {};
    for (const r of s.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      "tributary:azure:Group": 1,
      "azure-native:resources:ResourceGroup": 1,
      "tributary:azure:Network": 1,
      "azure-native:network:VirtualNetwork": 1,
      "azure-native:network:Subnet": 2,
      "azure-native:network:PublicIPAddress": 1,
      "azure-native:network:NatGateway": 1,
      // The vault's, the namespaces' (Service Bus and Event Hubs share a zone) and the Azure OpenAI
      // account's.
      "azure-native:privatedns:PrivateZone": 3,
      "azure-native:privatedns:VirtualNetworkLink": 3,
      "azure-native:network:PrivateEndpoint": 4,
      "azure-native:network:PrivateDnsZoneGroup": 4,
      // The account recommendation_vectors embeds with, and its deployment of the model.
      "tributary:azure:EmbeddingAccount": 1,
      "azure-native:cognitiveservices:Account": 1,
      "azure-native:cognitiveservices:Deployment": 1,
      "tributary:azure:DataKey": 1,
      "azure-native:keyvault:Vault": 1,
      "azure-native:keyvault:Key": 1,
      "azure-native:keyvault:Secret": 1,
      "tributary:azure:Secret": 1,
      "random:index/randomBytes:RandomBytes": 1,
      // The key's, the read-only query identity and each stream's producer.
      "azure-native:managedidentity:UserAssignedIdentity": 4,
      "tributary:azure:Store": 2,
      "azure-native:storage:StorageAccount": 2,
      "azure-native:storage:BlobServiceProperties": 1,
      // raw, curated, quarantine; the host's locks, keys and event hub checkpoints, and one package
      // container per function.
      "azure-native:storage:BlobContainer": 3 + 3 + 10,
      "azure-native:storage:ManagementPolicy": 1,
      // Each function's package, in its package container.
      "azure-native:storage:Blob": 10,
      "tributary:azure:Bus": 1,
      "azure-native:servicebus:Namespace": 1,
      "azure-native:servicebus:NamespaceNetworkRuleSet": 1,
      "azure-native:servicebus:Topic": 2,
      // The CDC streams: a namespace, a hub per CDC source and its function's consumer group.
      "tributary:azure:Streams": 1,
      "azure-native:eventhub:Namespace": 1,
      "azure-native:eventhub:NamespaceNetworkRuleSet": 1,
      "azure-native:eventhub:EventHub": 2,
      "azure-native:eventhub:ConsumerGroup": 2,
      "tributary:azure:Alerts": 1,
      "azure-native:monitor:ActionGroup": 1,
      "azure-native:operationalinsights:Workspace": 1,
      // One per asset and source, the stack's outbox sweeper and its table maintenance.
      "tributary:azure:AssetFunction": 10,
      "azure-native:web:AppServicePlan": 10,
      "azure-native:web:WebApp": 10,
      "azure-native:applicationinsights:Component": 10,
      "azure-native:servicebus:Subscription": 4,
      "azure-native:servicebus:Rule": 4,
      "azure-native:servicebus:Queue": 6,
      // The key's; per function its data containers (2 or 3; the sweeper's and the maintenance's 1), 3 on
      // the host account, publishing, receiving (4 bus consumers) and telemetry; reading its secret
      // (curated_customers); the query identity's on the curated container; per CDC source its function's
      // receiving from its event hub, checkpoints and dead letters, and its producer's sending; calling its
      // model's deployment (recommendation_vectors).
      "azure-native:authorization:RoleAssignment": 1 + 22 + 30 + 10 + 4 + 10 + 1 + 1 + 2 * 4 + 1,
      // errors for 10, dead letters for the 6 bus consumers; freshness and outbox age as log alerts.
      "azure-native:monitor:MetricAlert": 16,
      "tributary:azure:Query": 1,
      "azure-native:monitor:ScheduledQueryRule": 3,
    });
    expect(s.resources.filter((r) => !r.custom && r.parent)).toEqual([]);
    expect(s.resources.filter((r) => r.custom && !r.parent)).toEqual([]);
    expect(one("trib-prod-curated-orders", T.app).parent).toBe(
      "urn:pulumi:prod-azure::tributary::tributary:azure:AssetFunction::trib-prod-curated-orders",
    );
  });

  it("keeps the data in a hardened, double-encrypted account under the stack's rotated customer key", () => {
    const hardened = (name: string, store: string) => ({
      accessTier: "Hot",
      accountName: name,
      allowBlobPublicAccess: false,
      allowCrossTenantReplication: false,
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      enableHttpsTrafficOnly: true,
      encryption: {
        encryptionIdentity: { encryptionUserAssignedIdentity: IDENTITY },
        keySource: "Microsoft.Keyvault",
        keyVaultProperties: {
          keyName: "trib-prod-data",
          keyVaultUri: `https://trib-prod-kv-${SFX}.vault.azure.net/`,
        },
        requireInfrastructureEncryption: true,
        services: {
          blob: { enabled: true, keyType: "Account" },
          file: { enabled: true, keyType: "Account" },
          queue: { enabled: true, keyType: "Account" },
          table: { enabled: true, keyType: "Account" },
        },
      },
      identity: { type: "UserAssigned", userAssignedIdentities: [IDENTITY] },
      isHnsEnabled: false,
      kind: "StorageV2",
      minimumTlsVersion: "TLS1_2",
      resourceGroupName: "trib-prod",
      sku: { name: "Standard_ZRS" },
      tags: { ...TAGS, "tributary:asset": "_shared", "tributary:store": store },
    });
    expect(inputs("trib-prod-data", T.account)).toEqual(hardened(DATA, "data"));
    expect(inputs("trib-prod-host", T.account)).toEqual(hardened(HOST, "functions-host"));
    expect(one("trib-prod-data-vault", "azure-native:keyvault:Vault")).toMatchObject({
      inputs: {
        vaultName: `trib-prod-kv-${SFX}`,
        properties: {
          enablePurgeProtection: true,
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          networkAcls: { bypass: "AzureServices", defaultAction: "Deny" },
          softDeleteRetentionInDays: 90,
          tenantId: "11111111-1111-1111-1111-111111111111",
        },
      },
    });
    expect(one("trib-prod-data", "azure-native:keyvault:Key")).toMatchObject({
      inputs: { properties: { kty: "RSA", keySize: 3072, keyOps: ["wrapKey", "unwrapKey"] } },
    });
    // The identity may use exactly the key, and the accounts wait for that.
    expect(inputs("trib-prod-data-use", T.assignment)).toMatchObject({
      scope: `${RG}/providers/Microsoft.KeyVault/vaults/trib-prod-kv-${SFX}/keys/trib-prod-data`,
      roleDefinitionId: role("e147488a-f6f5-4113-8e2d-b22465e65bf6"),
      principalType: "ServicePrincipal",
    });
    expect(inputs("trib-prod-data-blobs", "azure-native:storage:BlobServiceProperties")).toEqual({
      accountName: DATA,
      blobServicesName: "default",
      containerDeleteRetentionPolicy: { days: 30, enabled: true },
      deleteRetentionPolicy: { days: 30, enabled: true },
      isVersioningEnabled: true,
      resourceGroupName: "trib-prod",
    });
    for (const c of ["raw", "curated", "quarantine"]) {
      expect(inputs(`trib-prod-data-${c}`, T.container)).toEqual({
        accountName: DATA,
        containerName: c,
        publicAccess: "None",
        resourceGroupName: "trib-prod",
      });
    }
  });

  it("protects and keeps the data account, its containers, the vault and the key (the data-loss guard)", () => {
    expect(guarded(s)).toEqual([
      ["azure-native:keyvault:Key", "trib-prod-data", KEPT],
      ["azure-native:keyvault:Vault", "trib-prod-data-vault", KEPT],
      // Not the Store's: the group (infra/azure/group.ts) is protected on its own, and not retained.
      ["azure-native:resources:ResourceGroup", "trib-prod", { protect: true }],
      [T.container, "trib-prod-data-curated", KEPT],
      [T.container, "trib-prod-data-quarantine", KEPT],
      [T.container, "trib-prod-data-raw", KEPT],
      [T.account, "trib-prod-data", KEPT],
      [T.account, "trib-prod-host", KEPT],
    ]);
    // The host account's containers hold what a deploy rebuilds: they come and go with the functions.
    const host = s.resources.filter((r) => r.type === T.container && r.inputs.accountName === HOST);
    expect(host.map((c) => c.inputs.containerName)).toEqual([
      "azure-webjobs-eventhub",
      "azure-webjobs-hosts",
      "azure-webjobs-secrets",
      ...[
        "curated-customers",
        "curated-orders",
        "customer-features",
        "customers-cdc",
        "daily-revenue",
        "orders-cdc",
        "outbox-sweep",
        "recommendation-features",
        "recommendation-vectors",
        "table-maintenance",
      ].map((k) => `package-${k}`),
    ]);
    for (const c of host) {
      expect(c.inputs, c.name).toEqual({
        accountName: HOST,
        containerName: c.inputs.containerName,
        metadata: { tributary_disposable: "true" },
        publicAccess: "None",
        resourceGroupName: "trib-prod",
      });
    }
    for (const [name, type] of [
      ["trib-prod-data", "azure-native:keyvault:Key"],
      ["trib-prod-data-vault", "azure-native:keyvault:Vault"],
    ] as const) {
      expect(inputs(name, type).tags, name).toEqual({ ...TAGS, "tributary:asset": "_shared" });
    }
  });

  it("cools raw events, expires raw and quarantine after retention, curated only in previous versions", () => {
    const rule = (name: string, actions: object) => ({
      definition: { actions, filters: { blobTypes: ["blockBlob"], prefixMatch: [`${name}/`] } },
      enabled: true,
      name,
      type: "Lifecycle",
    });
    const versions = (days: number) => ({ version: { delete: { daysAfterCreationGreaterThan: days } } });
    expect(inputs("trib-prod-data-lifecycle", "azure-native:storage:ManagementPolicy")).toEqual({
      accountName: DATA,
      managementPolicyName: "default",
      resourceGroupName: "trib-prod",
      policy: {
        rules: [
          rule("raw", {
            baseBlob: {
              delete: { daysAfterModificationGreaterThan: 730 },
              tierToCool: { daysAfterModificationGreaterThan: 90 },
            },
            ...versions(30),
          }),
          rule("curated", versions(30)),
          rule("quarantine", {
            baseBlob: { delete: { daysAfterModificationGreaterThan: 90 } },
            ...versions(30),
          }),
        ],
      },
    });
  });

  it("subscribes each consumer to exactly the messages its graph edges name, dead letters in its own queue", () => {
    expect(inputs("trib-prod-curated-orders-subscription", T.subscription)).toEqual({
      deadLetteringOnFilterEvaluationExceptions: true,
      deadLetteringOnMessageExpiration: true,
      defaultMessageTimeToLive: "P4D",
      forwardDeadLetteredMessagesTo: "curated_orders-dead-letters",
      lockDuration: "PT5M",
      maxDeliveryCount: 5,
      namespaceName: NS,
      resourceGroupName: "trib-prod",
      subscriptionName: "curated_orders",
      topicName: "asset-events",
    });
    // The subscription's own "$Default" rule, its accept-all filter replaced.
    expect(inputs("trib-prod-curated-orders-filter", T.rule)).toEqual({
      filterType: "SqlFilter",
      namespaceName: NS,
      resourceGroupName: "trib-prod",
      ruleName: "$Default",
      sqlFilter: {
        compatibilityLevel: 20,
        requiresPreprocessing: true,
        sqlExpression:
          "producer = 'tributary' AND type = 'tributary.asset.materialised' AND asset IN ('orders_cdc')",
      },
      subscriptionName: "curated_orders",
      topicName: "asset-events",
    });
    // A CDC source's function reads its event hub (streams.test.ts): no subscription to source events.
    expect(s.resources.filter((r) => r.name === "trib-prod-orders-cdc-filter")).toEqual([]);
    expect(inputs("trib-prod-recommendation-features-filter", T.rule)).toMatchObject({
      sqlFilter: {
        sqlExpression:
          "producer = 'tributary' AND type = 'tributary.asset.materialised' AND asset IN ('customer_features')",
      },
    });
    expect(inputs("trib-prod-curated-orders-dead-letters", T.queue)).toEqual({
      deadLetteringOnMessageExpiration: false,
      defaultMessageTimeToLive: "P14D",
      namespaceName: NS,
      queueName: "curated_orders-dead-letters",
      resourceGroupName: "trib-prod",
    });
    expect(inputs("trib-prod-bus", "azure-native:servicebus:Namespace")).toMatchObject({
      disableLocalAuth: true,
      minimumTlsVersion: "1.2",
      sku: { name: "Premium", tier: "Premium", capacity: 1 },
    });
  });

  it("keeps the Key Vault and the Service Bus namespace off the internet, reached by private endpoints", () => {
    const NET = `${RG}/providers/Microsoft.Network/virtualNetworks/trib-prod-network`;
    expect(inputs("trib-prod-network", "azure-native:network:VirtualNetwork")).toEqual({
      resourceGroupName: "trib-prod",
      virtualNetworkName: "trib-prod-network",
      addressSpace: { addressPrefixes: ["10.40.0.0/16"] },
      // The provider's defaults, as it registers them.
      enableDdosProtection: false,
      enableVmProtection: false,
      tags: { ...TAGS, "tributary:asset": "_shared" },
    });
    expect(inputs("trib-prod-network-functions", "azure-native:network:Subnet")).toEqual({
      resourceGroupName: "trib-prod",
      virtualNetworkName: "trib-prod-network",
      subnetName: "functions",
      addressPrefix: "10.40.0.0/17",
      defaultOutboundAccess: false,
      delegations: [{ name: "flex-consumption", serviceName: "Microsoft.App/environments" }],
      natGateway: { id: `${RG}/providers/Microsoft.Network/natGateways/trib-prod-network-egress` },
      // The provider's defaults.
      privateEndpointNetworkPolicies: "Disabled",
      privateLinkServiceNetworkPolicies: "Enabled",
    });
    expect(inputs("trib-prod-network-endpoints", "azure-native:network:Subnet")).toMatchObject({
      subnetName: "endpoints",
      addressPrefix: "10.40.128.0/24",
      privateEndpointNetworkPolicies: "Disabled",
    });
    // The vault: trusted Azure services only (the accounts' key), no network rule; a private endpoint.
    expect(inputs("trib-prod-data-vault", "azure-native:keyvault:Vault")).toMatchObject({
      properties: {
        publicNetworkAccess: "Enabled",
        networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [], virtualNetworkRules: [] },
      },
    });
    // The namespace: no public access at all, its rules deny everything; a private endpoint.
    expect(inputs("trib-prod-bus", "azure-native:servicebus:Namespace")).toMatchObject({
      publicNetworkAccess: "Disabled",
    });
    expect(inputs("trib-prod-bus-network", "azure-native:servicebus:NamespaceNetworkRuleSet")).toEqual({
      resourceGroupName: "trib-prod",
      namespaceName: NS,
      publicNetworkAccess: "Disabled",
      defaultAction: "Deny",
      ipRules: [],
      virtualNetworkRules: [],
      trustedServiceAccessEnabled: false,
    });
    const endpoint = (name: string, target: string, group: string) => ({
      resourceGroupName: "trib-prod",
      privateEndpointName: `${name}-endpoint`,
      // The subnet's policies are the provider's defaults it fills in.
      subnet: {
        id: `${NET}/subnets/endpoints`,
        privateEndpointNetworkPolicies: "Disabled",
        privateLinkServiceNetworkPolicies: "Enabled",
      },
      privateLinkServiceConnections: [
        { name: `${name}-endpoint`, privateLinkServiceId: target, groupIds: [group] },
      ],
      tags: { ...TAGS, "tributary:asset": "_shared" },
    });
    expect(inputs("trib-prod-data-vault-endpoint", "azure-native:network:PrivateEndpoint")).toEqual(
      endpoint(
        "trib-prod-data-vault",
        `${RG}/providers/Microsoft.KeyVault/vaults/trib-prod-kv-${SFX}`,
        "vault",
      ),
    );
    expect(inputs("trib-prod-bus-namespace-endpoint", "azure-native:network:PrivateEndpoint")).toEqual(
      endpoint(
        "trib-prod-bus-namespace",
        `${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}`,
        "namespace",
      ),
    );
    // Inside the network the public names resolve to the endpoints.
    expect(
      s.resources
        .filter((r) => r.type === "azure-native:privatedns:PrivateZone")
        .map((r) => r.inputs.privateZoneName),
    ).toEqual([
      "privatelink.servicebus.windows.net",
      "privatelink.openai.azure.com",
      "privatelink.vaultcore.azure.net",
    ]);
    expect(
      inputs("trib-prod-bus-namespace-endpoint-dns", "azure-native:network:PrivateDnsZoneGroup"),
    ).toEqual({
      resourceGroupName: "trib-prod",
      privateEndpointName: "trib-prod-bus-namespace-endpoint",
      privateDnsZoneGroupName: "default",
      privateDnsZoneConfigs: [
        {
          name: "namespace",
          privateDnsZoneId: `${RG}/providers/Microsoft.Network/privateDnsZones/privatelink.servicebus.windows.net`,
        },
      ],
    });
    // Every app joins the functions subnet.
    const apps = s.resources.filter((r) => r.type === T.app);
    expect(apps.map((a) => a.inputs.virtualNetworkSubnetId)).toEqual(
      Array(10).fill(`${NET}/subnets/functions`),
    );
  });

  it("gives each function's identity exactly the rights its graph edges allow, under path conditions", () => {
    const fn = "trib-prod-curated-orders";
    const mine = s.resources.filter(
      (r) =>
        r.type === T.assignment &&
        r.parent === `urn:pulumi:prod-azure::tributary::tributary:azure:AssetFunction::${fn}`,
    );
    const principal = (inputs(fn, T.app) as { name: string }).name;
    expect(principal).toBe(`trib-prod-curated-orders-${SFX}`);
    const principalId = mine[0]!.inputs.principalId;
    expect(
      mine.every(
        (r) => r.inputs.principalId === principalId && r.inputs.principalType === "ServicePrincipal",
      ),
    ).toBe(true);
    const summary = Object.fromEntries(
      mine.map((r) => [
        r.name.slice(fn.length + 1),
        { role: r.inputs.roleDefinitionId, scope: r.inputs.scope, condition: r.inputs.condition },
      ]),
    );
    expect(summary).toEqual({
      raw: {
        role: READER,
        scope: container(DATA, "raw"),
        condition: [clause(READ, [path_("raw/orders_cdc/")]), clause(LIST, [])].join(" AND "),
      },
      curated: {
        role: CONTRIBUTOR,
        scope: container(DATA, "curated"),
        condition: [
          clause(
            READ,
            [
              // curated_customers: what its reference check reads.
              "curated/curated_customers/",
              "_manifests/curated_customers/",
              "_manifests/orders_cdc/",
              "curated/curated_orders/",
              "_manifests/curated_orders/",
              "_failures/curated_orders/",
              "_locks/curated_orders/",
              "_outbox/curated_orders/",
            ].map(path_),
          ),
          clause(
            LIST,
            [
              "_manifests/curated_customers/",
              "_manifests/orders_cdc/",
              "curated/curated_orders/",
              "_manifests/curated_orders/",
              "_locks/curated_orders/",
              "_outbox/curated_orders/",
            ].map(prefix),
          ),
          clause(
            WRITE,
            [
              "curated/curated_orders/",
              "_manifests/curated_orders/",
              "_failures/curated_orders/",
              "_locks/curated_orders/",
              "_outbox/curated_orders/",
            ].map(path_),
          ),
          clause(
            DELETE,
            [
              "curated/curated_orders/",
              "_failures/curated_orders/",
              "_locks/curated_orders/",
              "_outbox/curated_orders/",
            ].map(path_),
          ),
          clause(MOVE, []),
        ].join(" AND "),
      },
      quarantine: {
        role: CONTRIBUTOR,
        scope: container(DATA, "quarantine"),
        condition: [
          clause(READ, []),
          clause(LIST, []),
          clause(WRITE, [path_("quarantine/curated_orders/")]),
          clause(DELETE, []),
          clause(MOVE, []),
        ].join(" AND "),
      },
      // The shared host containers: Contributor, each app held to the paths of its own host id and site.
      "host-locks": {
        role: CONTRIBUTOR,
        scope: container(HOST, "azure-webjobs-hosts"),
        condition: [
          clause(READ, [path_(`locks/${APP}/`), path_(`timers/${APP}/`), exact(`ids/usage/${APP}`)]),
          clause(LIST, [prefix(`locks/${APP}/`), prefix(`timers/${APP}/`)]),
          clause(WRITE, [path_(`locks/${APP}/`), path_(`timers/${APP}/`), exact(`ids/usage/${APP}`)]),
          clause(DELETE, []),
          clause(MOVE, []),
        ].join(" AND "),
      },
      "host-secrets": {
        role: CONTRIBUTOR,
        scope: container(HOST, "azure-webjobs-secrets"),
        condition: [
          clause(READ, [path_(`${APP}/`)]),
          clause(LIST, [prefix(`${APP}/`)]),
          clause(WRITE, [path_(`${APP}/`)]),
          clause(DELETE, []),
          clause(MOVE, []),
        ].join(" AND "),
      },
      package: { role: CONTRIBUTOR, scope: container(HOST, "package-curated-orders"), condition: undefined },
      publish: {
        role: role("69a216fc-b8fb-44d8-bc22-1f3c2c88ae39"),
        scope: topic("asset-events"),
        condition: undefined,
      },
      receive: {
        role: role("4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"),
        scope: `${topic("asset-events")}/subscriptions/curated_orders`,
        condition: undefined,
      },
      telemetry: {
        role: role("3913510d-42f4-4e42-8a64-420c390055eb"),
        scope: `${RG}/providers/Microsoft.Insights/components/trib-prod-curated-orders-insights`,
        condition: undefined,
      },
    });
    for (const r of mine.filter((x) => x.inputs.condition !== undefined)) {
      expect(r.inputs.conditionVersion).toBe("2.0");
    }
    // Names are GUIDs of stack, function, scope and role: the same on every run, unique in the stack.
    expect(inputs(`${fn}-raw`, T.assignment).roleAssignmentName).toBe(
      guid("prod-azure", "curated_orders", "raw", "storageBlobDataReader"),
    );
    const names = s.resources.filter((r) => r.type === T.assignment).map((r) => r.inputs.roleAssignmentName);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names)
      expect(n).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // No identity of the stack is an Owner of anything (no-owner-roles).
    expect(s.resources.filter((r) => r.type === T.assignment && r.inputs.roleDefinitionId === OWNER)).toEqual(
      [],
    );
    // A function that only ingests never reads another's data: orders_cdc has no Reader anywhere.
    const ingest = s.resources.filter(
      (r) =>
        r.type === T.assignment &&
        r.name.startsWith("trib-prod-orders-cdc-") &&
        r.inputs.roleDefinitionId === READER,
    );
    expect(ingest).toEqual([]);
  });

  it("deploys the Azure bundle into each app's package container, as the blob Flex Consumption runs", () => {
    const { dir } = inject("bundles");
    expect(inputs("trib-prod-curated-orders-package", "azure-native:storage:Blob")).toEqual({
      resourceGroupName: "trib-prod",
      accountName: HOST,
      containerName: "package-curated-orders",
      blobName: "released-package.zip",
      type: "Block",
      contentType: "application/zip",
      source: { $archive: { path: path.join(dir, "azure-x64") } },
    });
    const blob = one("trib-prod-curated-orders-package", "azure-native:storage:Blob");
    expect(blob.parent).toBe(
      "urn:pulumi:prod-azure::tributary::tributary:azure:AssetFunction::trib-prod-curated-orders",
    );
    // Every app runs the same bundle, from its own container.
    const blobs = s.resources.filter((r) => r.type === "azure-native:storage:Blob");
    expect(blobs.map((b) => b.inputs.containerName).sort()).toEqual([
      "package-curated-customers",
      "package-curated-orders",
      "package-customer-features",
      "package-customers-cdc",
      "package-daily-revenue",
      "package-orders-cdc",
      "package-outbox-sweep",
      "package-recommendation-features",
      "package-recommendation-vectors",
      "package-table-maintenance",
    ]);
    expect(blobs.map((b) => b.inputs.source)).toEqual(Array(10).fill(blob.inputs.source));
  });

  it("runs each asset in its own Flex Consumption Node.js 24 app with identity-based connections", () => {
    const bundle = inject("bundles").reports["azure-x64"]!;
    expect(inputs("trib-prod-curated-orders-plan", "azure-native:web:AppServicePlan")).toMatchObject({
      kind: "functionapp",
      reserved: true,
      sku: { name: "FC1", tier: "FlexConsumption" },
    });
    expect(inputs("trib-prod-curated-orders", T.app)).toMatchObject({
      kind: "functionapp,linux",
      httpsOnly: true,
      virtualNetworkSubnetId: `${RG}/providers/Microsoft.Network/virtualNetworks/trib-prod-network/subnets/functions`,
      identity: { type: "SystemAssigned" },
      functionAppConfig: {
        runtime: { name: "node", version: "24" },
        scaleAndConcurrency: { instanceMemoryMB: 2048, maximumInstanceCount: 40 },
        deployment: {
          storage: {
            type: "blobContainer",
            value: `https://${HOST}.blob.core.windows.net/package-curated-orders`,
            authentication: { type: "SystemAssignedIdentity" },
          },
        },
      },
      siteConfig: { minTlsVersion: "1.2", ftpsState: "Disabled" },
    });
    const env = settings("trib-prod-curated-orders");
    expect(env).toEqual({
      TRIBUTARY_ASSET: "curated_orders",
      TRIBUTARY_KIND: "asset",
      TRIBUTARY_ENV: "prod",
      TRIBUTARY_STORE_RAW: `https://${DATA}.blob.core.windows.net/raw`,
      TRIBUTARY_STORE_CURATED: `https://${DATA}.blob.core.windows.net/curated`,
      TRIBUTARY_STORE_QUARANTINE: `https://${DATA}.blob.core.windows.net/quarantine`,
      TRIBUTARY_ASSET_EVENTS: "asset-events",
      TRIBUTARY_TIMEOUT_SECONDS: "600",
      // 1024 MB runs on a 2,048 MB instance: one vCPU.
      TRIBUTARY_CPUS: "1",
      TRIBUTARY_STORE__blobServiceUri: `https://${DATA}.blob.core.windows.net/`,
      TRIBUTARY_BUS__fullyQualifiedNamespace: `${NS}.servicebus.windows.net`,
      AzureWebJobsStorage__accountName: HOST,
      AzureFunctionsWebHost__hostid: APP,
      APPLICATIONINSIGHTS_CONNECTION_STRING: expect.stringMatching(/^InstrumentationKey=[0-9a-f-]{36};/),
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=AAD",
      AzureFunctionsJobHost__functionTimeout: "00:10:00",
      TRIBUTARY_BUNDLE_SHA256: bundle.sha256,
      TRIBUTARY_TOPIC: "asset-events",
      TRIBUTARY_SUBSCRIPTION: "curated_orders",
    });
    expect(
      inputs("trib-prod-curated-orders-insights", "azure-native:applicationinsights:Component"),
    ).toMatchObject({
      disableLocalAuth: true,
      ingestionMode: "LogAnalytics",
      workspaceResourceId: `${RG}/providers/Microsoft.OperationalInsights/workspaces/trib-prod-alerts-logs`,
    });
    expect(inputs("trib-prod-alerts-logs", "azure-native:operationalinsights:Workspace")).toMatchObject({
      retentionInDays: 90,
      sku: { name: "PerGB2018" },
    });
  });

  it("schedules timers in UTC, widened over daylight saving for other zones, the handler filtering", () => {
    const daily = settings("trib-prod-daily-revenue");
    expect([
      daily.TRIBUTARY_SCHEDULE,
      daily.TRIBUTARY_SCHEDULE_CRON,
      daily.TRIBUTARY_SCHEDULE_TIMEZONE,
    ]).toEqual(["0 30 2 * * *", "30 2 * * *", "UTC"]);
    expect(daily.WEBSITE_TIME_ZONE).toBeUndefined();
    expect(daily.TRIBUTARY_TOPIC).toBeUndefined();
    const features = settings("trib-prod-customer-features");
    // 03:00 in Berlin is 01:00 UTC in summer, 02:00 in winter.
    expect([
      features.TRIBUTARY_SCHEDULE,
      features.TRIBUTARY_SCHEDULE_CRON,
      features.TRIBUTARY_SCHEDULE_TIMEZONE,
    ]).toEqual(["0 0 1,2 * * *", "0 3 * * *", "Europe/Berlin"]);
    expect(offsets("Europe/Berlin")).toEqual([60, 120]);
    expect(timerSchedule("0 3 * * *", "UTC")).toEqual({ ncrontab: "0 0 3 * * *", exact: true });
    expect(timerSchedule("15 22 * * *", "Asia/Tokyo")).toEqual({ ncrontab: "0 15 13 * * *", exact: true });
    expect(timerSchedule("0 23 * * *", "America/New_York")).toEqual({
      ncrontab: "0 0 3,4 * * *",
      exact: false,
    });
    expect(() => timerSchedule("0 23 * * 1", "America/New_York")).toThrow(CronDialectError);
    expect(() => timerSchedule("0 3 * * *", "Asia/Kolkata")).toThrow(CronDialectError);
  });

  it("alerts the on-call e-mail on failed invocations, dead letters and staleness", () => {
    const group = `${RG}/providers/Microsoft.Insights/actionGroups/trib-prod-alerts`;
    expect(inputs("trib-prod-alerts", "azure-native:monitor:ActionGroup")).toMatchObject({
      emailReceivers: [
        { emailAddress: "data-oncall@example.com", name: "alert-email", useCommonAlertSchema: true },
      ],
      enabled: true,
      groupShortName: "trib-prod",
      location: "global",
    });
    expect(inputs("trib-prod-daily-revenue-errors", T.metricAlert)).toMatchObject({
      scopes: [`${RG}/providers/Microsoft.Insights/components/trib-prod-daily-revenue-insights`],
      criteria: {
        allOf: [
          {
            metricNamespace: "microsoft.insights/components",
            metricName: "requests/failed",
            operator: "GreaterThan",
            threshold: 0,
            timeAggregation: "Count",
          },
        ],
      },
      actions: [{ actionGroupId: group }],
    });
    expect(inputs("trib-prod-curated-orders-dead-letters", T.metricAlert)).toMatchObject({
      scopes: [`${RG}/providers/Microsoft.ServiceBus/namespaces/${NS}`],
      criteria: {
        allOf: [
          {
            metricNamespace: "Microsoft.ServiceBus/namespaces",
            metricName: "ActiveMessages",
            dimensions: [
              { name: "EntityName", operator: "Include", values: ["curated_orders-dead-letters"] },
            ],
            operator: "GreaterThan",
            threshold: 0,
          },
        ],
      },
      actions: [{ actionGroupId: group }],
    });
    expect(inputs("trib-prod-daily-revenue-freshness", T.logAlert)).toMatchObject({
      kind: "LogAlert",
      windowSize: "PT26H",
      evaluationFrequency: "PT1H",
      criteria: {
        allOf: [
          {
            query:
              'traces | where message has "tributary.asset.materialised" | extend e = parse_json(message) | where tostring(e.event) == "tributary.asset.materialised" and tostring(e.asset) == "daily_revenue"',
            timeAggregation: "Count",
            operator: "LessThan",
            threshold: 1,
          },
        ],
      },
      actions: { actionGroups: [group] },
    });
    // Each outbox sweep logs how long the oldest unannounced commit has waited; over 30 minutes, it alerts.
    expect(inputs("trib-prod-outbox-sweep-outbox-age", T.logAlert)).toMatchObject({
      kind: "LogAlert",
      displayName: "A commit unannounced for more than 30 minutes",
      windowSize: "PT15M",
      evaluationFrequency: "PT5M",
      criteria: {
        allOf: [
          {
            query:
              'traces | where message has "tributary.outbox.swept" | extend e = parse_json(message) | where tostring(e.event) == "tributary.outbox.swept" | extend oldestSeconds = todouble(e.oldestSeconds)',
            timeAggregation: "Maximum",
            metricMeasureColumn: "oldestSeconds",
            operator: "GreaterThan",
            threshold: 1800,
          },
        ],
      },
      actions: { actionGroups: [group] },
    });
    // The sweeper's timer: every five minutes, in UTC.
    expect(settings("trib-prod-outbox-sweep")).toMatchObject({
      TRIBUTARY_KIND: "sweep",
      TRIBUTARY_SCHEDULE: "0 0,5,10,15,20,25,30,35,40,45,50,55 * * * *",
      TRIBUTARY_SCHEDULE_CRON: "*/5 * * * *",
      TRIBUTARY_SCHEDULE_TIMEZONE: "UTC",
    });
  });

  it("tags every taggable resource with asset, pipeline, env, owner and cost centre", () => {
    const tagged = s.resources.filter((r) => r.custom && r.inputs.tags !== undefined);
    // group, vault, key, identity, 2 accounts, namespace, action group, workspace; the network, its
    // egress IP and NAT gateway, 3 DNS zones and their links, 3 private endpoints; the Azure OpenAI
    // account and its deployment; per function plan, app, insights; 16 metric alerts, 3 log alerts; the
    // secret; the query identity; the Event Hubs namespace, its private endpoint and the 2 producer
    // identities.
    expect(tagged).toHaveLength(9 + 12 + 2 + 10 * 3 + 16 + 3 + 1 + 1 + 4);
    expect(s.resources.filter((r) => AZURE_TAGGABLE_TYPES.includes(r.type))).toEqual(tagged);
    for (const r of tagged) {
      expect(Object.keys(r.inputs.tags as object), r.urn).toEqual(
        expect.arrayContaining(["tributary:asset", ...Object.keys(TAGS)]),
      );
    }
    expect((inputs("trib-prod-orders-cdc", T.app).tags as Record<string, string>)["tributary:asset"]).toBe(
      "orders_cdc",
    );
  });

  it("outputs container URLs, topic ids, app names and the lineage", async () => {
    expect(s.outputs.buckets).toEqual({
      raw: `https://${DATA}.blob.core.windows.net/raw`,
      curated: `https://${DATA}.blob.core.windows.net/curated`,
      quarantine: `https://${DATA}.blob.core.windows.net/quarantine`,
    });
    expect(s.outputs.buses).toEqual({
      "asset-events": topic("asset-events"),
      "source-events": topic("source-events"),
    });
    expect(s.outputs.functions).toEqual(
      Object.fromEntries(
        [
          "curated_customers",
          "curated_orders",
          "customer_features",
          "customers_cdc",
          "daily_revenue",
          "orders_cdc",
          "recommendation_features",
          "recommendation_vectors",
          "outbox-sweep",
          "table-maintenance",
        ].map((k) => [k, `trib-prod-${k.replaceAll("_", "-")}-${SFX}`]),
      ),
    );
    expect(JSON.stringify(s.outputs.lineage)).toBe(JSON.stringify(await normalise(toLineage(graph))));
    expect(s.outputs.stackName).toBe("prod-azure");
  });
});

describe("the curated assets as Iceberg tables on Azure", () => {
  const CURATED = [
    "curated_customers",
    "curated_orders",
    "customer_features",
    "daily_revenue",
    "recommendation_features",
    // An embedding asset's table is its ledger: each row's key, tenant, text and the text's hash.
    "recommendation_vectors",
  ];

  it("names a read-only query identity that reads and lists the curated zone of the curated container only", () => {
    const identity = one("trib-prod-query-reader", "azure-native:managedidentity:UserAssignedIdentity");
    expect(identity.inputs).toEqual({
      resourceGroupName: "trib-prod",
      resourceName: "trib-prod-query-reader",
      tags: { ...TAGS, "tributary:asset": "_shared", "tributary:role": "query" },
    });
    const principal = s.resources.find((r) => r.name === "trib-prod-query-reader-tables")!.inputs.principalId;
    const mine = s.resources.filter((r) => r.type === T.assignment && r.inputs.principalId === principal);
    expect(mine.map((r) => r.inputs)).toEqual([
      {
        roleAssignmentName: guid("prod-azure", "trib-prod-query", "curated", "storageBlobDataReader"),
        scope: container(DATA, "curated"),
        roleDefinitionId: READER,
        principalId: principal,
        principalType: "ServicePrincipal",
        description: "The stack's query identity reads the curated tables (curated/), nothing else",
        condition: [clause(READ, [path_("curated/")]), clause(LIST, [prefix("curated/")])].join(" AND "),
        conditionVersion: "2.0",
      },
    ]);
    // No catalog on Azure: no function is told of one.
    for (const app of s.resources.filter((r) => r.type === T.app)) {
      expect(JSON.stringify(app.inputs), app.name).not.toContain("TRIBUTARY_TABLE_CATALOG");
    }
    // The table maintenance runs on its timer, nightly in UTC.
    expect(settings("trib-prod-table-maintenance")).toMatchObject({
      TRIBUTARY_KIND: "maintain",
      TRIBUTARY_SCHEDULE_CRON: "0 3 * * *",
      TRIBUTARY_SCHEDULE_TIMEZONE: "UTC",
    });
    // Iceberg readers open each table by its location; the identity reads it.
    expect(s.outputs.tables).toEqual({
      tables: Object.fromEntries(
        CURATED.map((k) => [k, `abfss://curated@${DATA}.dfs.core.windows.net/curated/${k}`]),
      ),
      // Its client id, what a reader authenticates as.
      reader: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
    });
  });
});

describe("the Azure stack of the reference graph declared disposable", () => {
  const disposable = { "tributary:disposable": "true" };
  const metadata = { tributary_disposable: "true" };
  const protectedInputs = inputs;

  it("with every asset and source disposable: only the resource group stays protected; the rest is tagged", async () => {
    const all = await disposableSynth("prod-azure", "all");
    const { inputs } = lookup(() => all);
    expect(guarded(all)).toEqual([["azure-native:resources:ResourceGroup", "trib-prod", { protect: true }]]);
    for (const [name, type] of [
      ["trib-prod-data", T.account],
      ["trib-prod-host", T.account],
      ["trib-prod-data", "azure-native:keyvault:Key"],
      ["trib-prod-data-vault", "azure-native:keyvault:Vault"],
    ] as const) {
      const tags = protectedInputs(name, type).tags as Record<string, string>;
      expect(inputs(name, type), name).toEqual({
        ...protectedInputs(name, type),
        tags: { ...tags, ...disposable },
      });
    }
    for (const c of ["raw", "curated", "quarantine"]) {
      expect(inputs(`trib-prod-data-${c}`, T.container)).toEqual({
        accountName: DATA,
        containerName: c,
        metadata,
        publicAccess: "None",
        resourceGroupName: "trib-prod",
      });
    }
    expect(all.resources.map((r) => r.urn)).toEqual(s.resources.map((r) => r.urn));
    // What it lets go is marked disposable: the policy pack passes it.
    expect(evaluate(all.resources)).toEqual([]);
  }, 120_000);

  it("with only the sources disposable: the raw container goes, the account and the rest are kept", async () => {
    const sources = await disposableSynth("prod-azure", "sources");
    const { inputs } = lookup(() => sources);
    expect(evaluate(sources.resources)).toEqual([]);
    expect(guarded(sources)).toEqual([
      ["azure-native:keyvault:Key", "trib-prod-data", KEPT],
      ["azure-native:keyvault:Vault", "trib-prod-data-vault", KEPT],
      ["azure-native:resources:ResourceGroup", "trib-prod", { protect: true }],
      [T.container, "trib-prod-data-curated", KEPT],
      [T.container, "trib-prod-data-quarantine", KEPT],
      [T.account, "trib-prod-data", KEPT],
      [T.account, "trib-prod-host", KEPT],
    ]);
    expect(inputs("trib-prod-data-raw", T.container)).toEqual({
      ...protectedInputs("trib-prod-data-raw", T.container),
      metadata,
    });
    expect(inputs("trib-prod-data", T.account)).toEqual(protectedInputs("trib-prod-data", T.account));
  }, 120_000);
});

describe("ABAC conditions from grants", () => {
  const g = (store: GrantPlan["store"], prefix: string, access: GrantPlan["access"]): GrantPlan => ({
    function: "x",
    store,
    prefix,
    access,
    reason: "own",
  });

  it("picks the least role per container and denies every action not granted", () => {
    const access = containerAccess([
      g("raw", "raw/a/", ["read"]),
      g("curated", "_manifests/a/", ["read", "list"]),
    ]);
    expect(access.map((a) => [a.store, a.role])).toEqual([
      ["raw", "storageBlobDataReader"],
      ["curated", "storageBlobDataReader"],
    ]);
    expect(access[1]!.condition).toBe(
      `${clause(READ, [path_("_manifests/a/")])} AND ${clause(LIST, [prefix("_manifests/a/")])}`,
    );
  });

  it("refuses a grant prefix that is not a path ending in a slash, and a path a condition cannot hold", () => {
    const grant = (prefix: string): GrantPlan => ({
      function: "f",
      store: "raw",
      prefix,
      access: ["write"],
      reason: "own",
    });
    expect(() => containerAccess([grant("raw/a")])).toThrow(
      'grant prefix "raw/a" must be a non-empty path ending in "/"',
    );
    const none = { read: [], list: [], write: [], delete: [] };
    expect(() => blobCondition({ ...none, read: [""] }, false)).toThrow(
      'read path "" must be a non-empty relative path, without quotes',
    );
    expect(() => blobCondition({ ...none, list: ["raw/a"] }, false)).toThrow(
      'list path "raw/a" must be a non-empty relative path ending in "/", without quotes',
    );
    expect(() => blobCondition({ ...none, read: ["raw/a'/"] }, false)).toThrow(/without quotes/);
    // A path without the final slash is one blob: StringEquals.
    expect(blobCondition({ ...none, read: ["ids/usage/h1"] }, false)).toBe(
      [clause(READ, [exact("ids/usage/h1")]), clause(LIST, [])].join(" AND "),
    );
  });
});
