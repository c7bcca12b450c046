/**
 * The Azure adapter: DeploymentPlan → Pulumi components. A resource group; a private network (subnets for
 * the function apps and for private endpoints, a NAT gateway, private DNS zones); a customer-managed key
 * in a Key Vault; a data storage account with the raw, curated and quarantine containers and a host
 * account for the Functions runtime; a Service Bus namespace with the two topics; an Event Hubs namespace with an
 * event hub per CDC source, when the graph has any; an action group and a Log Analytics
 * workspace; and one function component per asset or source with its own Flex Consumption app, identity,
 * role assignments (ABAC-conditioned to its prefixes), subscription, dead-letter queue and alerts.
 */
import * as authorization from "@pulumi/azure-native/authorization/index.js";
import * as pulumi from "@pulumi/pulumi";
import { tableLocation } from "../../contract/table-names.ts";
import {
  assertFreshnessWithin,
  type CloudAdapter,
  registerEach,
  type StackOutputs,
  type TablesOutputs,
} from "../adapter.ts";
import type { FunctionCodes } from "../bundle/locate.ts";
import { type DeploymentPlan, functionParts, protectsShared, type StoreId } from "../plan/types.ts";
import type { SecretValues } from "../secrets.ts";
import { Alerts } from "./alerts.ts";
import { Bus } from "./bus.ts";
import { EmbeddingAccount } from "./embedding.ts";
import { AssetFunction, MAX_FRESHNESS_MINUTES } from "./function.ts";
import { Group } from "./group.ts";
import { DataKey } from "./key.ts";
import { dashedName, storageAccountName, suffix } from "./names.ts";
import { Network } from "./network.ts";
import { Query } from "./query.ts";
import { Secret } from "./secret.ts";
import { Store } from "./store.ts";
import { Streams } from "./stream.ts";

/** The Functions runtime's containers in the host account (timer locks, host keys, Event Hubs checkpoints). */
export const HOST_CONTAINERS = {
  locks: "azure-webjobs-hosts",
  secrets: "azure-webjobs-secrets",
  checkpoints: "azure-webjobs-eventhub",
} as const;

/** Log Analytics keeps logs 30 to 730 days (PerGB2018): as long as quarantined records, within that. */
export function logRetention(days: number): number {
  return Math.min(730, Math.max(30, days));
}

/** A function's package container in the host account: `package-<key>`, within the 63 characters allowed. */
export function packageContainer(key: string): string {
  return `package-${key.replaceAll("_", "-")}`.slice(0, 63).replace(/-+$/, "");
}

export const azure = {
  cloud: "azure",
  async deploy(plan: DeploymentPlan, values: SecretValues, codes: FunctionCodes): Promise<StackOutputs> {
    assertFreshnessWithin(plan, MAX_FRESHNESS_MINUTES, "Azure log search alerts look back at most 2 days");
    // Every function's code: the one x64 bundle.
    const code = codes("x64");
    const p = plan.prefix;
    const shared = plan.tags;
    const keepShared = protectsShared(plan);
    const client = authorization.getClientConfigOutput();
    const subscriptionId = client.subscriptionId;
    const sfx = subscriptionId.apply((s) => suffix(s, plan.stack));

    const group = new Group(p, { location: plan.region, tags: shared });
    const rg = group.name;
    const network = new Network(`${p}-network`, {
      resourceGroupName: rg,
      tags: shared,
      ...(plan.embedding ? { also: ["openai" as const] } : {}),
    });
    const key = new DataKey(`${p}-data`, {
      resourceGroupName: rg,
      vaultName: sfx.apply((s) => dashedName(`${p}-kv`, s, 24)),
      tenantId: client.tenantId,
      subscriptionId,
      stack: plan.stack,
      tags: shared,
      protect: keepShared,
      network,
    });
    const storeKey = {
      vaultUri: key.vaultUri,
      keyName: key.keyName,
      identityId: key.identityId,
      access: key.access,
    };
    const data = new Store(`${p}-data`, {
      role: "data",
      accountName: sfx.apply((s) => storageAccountName(p, "data", s)),
      resourceGroupName: rg,
      key: storeKey,
      protect: plan.stores.some((s) => s.protect),
      containers: plan.stores.map((s) => ({ id: s.id, protect: s.protect })),
      stores: plan.stores,
      tags: shared,
    });
    const host = new Store(`${p}-host`, {
      role: "functions-host",
      accountName: sfx.apply((s) => storageAccountName(p, "host", s)),
      resourceGroupName: rg,
      key: storeKey,
      protect: keepShared,
      // What the Functions runtime keeps here (timer locks, host keys, packages) is rebuilt by a deploy.
      containers: [
        HOST_CONTAINERS.locks,
        HOST_CONTAINERS.secrets,
        // The Event Hubs triggers' checkpoints: made here, as a role held to a container cannot create it.
        ...(plan.streams.length > 0 ? [HOST_CONTAINERS.checkpoints] : []),
        ...plan.functions.map((f) => packageContainer(f.id)),
      ].map((id) => ({ id, protect: false })),
      tags: shared,
    });
    const bus = new Bus(`${p}-bus`, {
      resourceGroupName: rg,
      namespaceName: sfx.apply((s) => dashedName(`${p}-bus`, s, 50)),
      buses: plan.buses,
      tags: shared,
      network,
    });
    const streams =
      plan.streams.length > 0
        ? new Streams(`${p}-streams`, {
            resourceGroupName: rg,
            namespaceName: sfx.apply((s) => dashedName(`${p}-streams`, s, 50)),
            streams: plan.streams,
            key: storeKey,
            subscriptionId,
            stack: plan.stack,
            tags: shared,
            network,
          })
        : undefined;
    const alerts = new Alerts(`${p}-alerts`, {
      resourceGroupName: rg,
      email: plan.alertEmail,
      shortName: p,
      retentionInDays: logRetention(plan.logRetentionDays),
      tags: shared,
    });

    const secrets = Object.fromEntries(
      plan.secrets.map((s) => [
        s.name,
        new Secret(`${p}-secret-${s.name.replaceAll("_", "-")}`, {
          secret: s,
          values,
          resourceGroupName: rg,
          vaultName: key.vaultName,
          tags: shared,
        }),
      ]),
    );

    const embedding = plan.embedding
      ? new EmbeddingAccount(`${p}-openai`, {
          resourceGroupName: rg,
          accountName: sfx.apply((s) => dashedName(`${p}-openai`, s, 64)),
          embedding: plan.embedding,
          network,
          tags: shared,
        })
      : undefined;

    const containers = data.containers as Record<StoreId, (typeof data.containers)[string]>;
    const functions: Record<string, pulumi.Output<string>> = {};
    await registerEach(plan.functions, (fn, opts) => {
      const f = new AssetFunction(
        fn.name,
        {
          ...functionParts(plan, fn),
          stack: plan.stack,
          resourceGroupName: rg,
          subscriptionId,
          appName: sfx.apply((s) => dashedName(fn.name, s, 60)),
          data: { blobEndpoint: data.blobEndpoint, containers },
          host: {
            accountName: host.accountName,
            blobEndpoint: host.blobEndpoint,
            locks: host.containers[HOST_CONTAINERS.locks]!,
            secrets: host.containers[HOST_CONTAINERS.secrets]!,
            packages: host.containers[packageContainer(fn.id)]!,
          },
          bus,
          ...(streams?.hubs[fn.id]
            ? {
                streamHub: {
                  namespace: streams.fullyQualifiedNamespace,
                  hub: streams.hubs[fn.id]!,
                  checkpoints: host.containers[HOST_CONTAINERS.checkpoints]!,
                },
              }
            : {}),
          subnetId: network.functionsSubnetId,
          code: { archive: code.archive, sha256: code.manifest.sha256 },
          workspaceId: alerts.workspaceId,
          actionGroupId: alerts.actionGroupId,
          ...(fn.secrets ? { secrets: Object.fromEntries(fn.secrets.map((n) => [n, secrets[n]!])) } : {}),
          ...(fn.embeddingModel && embedding
            ? { embedding: { accountId: embedding.id, endpoint: embedding.endpoint } }
            : {}),
        },
        opts,
      );
      functions[fn.id] = f.appName;
      return f;
    });
    const query =
      plan.tables.tables.length > 0
        ? new Query(`${p}-query`, {
            stack: plan.stack,
            resourceGroupName: rg,
            subscriptionId,
            curatedContainerId: containers.curated.id,
            tags: shared,
          })
        : undefined;
    const url = (id: StoreId) => pulumi.interpolate`${data.blobEndpoint}${containers[id].name}`;
    // Iceberg readers (DuckDB, Spark) open a table by its location, through the account's DFS endpoint.
    const curatedRoot = pulumi.interpolate`abfss://${containers.curated.name}@${data.accountName}.dfs.core.windows.net`;
    return {
      buckets: { raw: url("raw"), curated: url("curated"), quarantine: url("quarantine") },
      buses: {
        "source-events": bus.topics["source-events"].id,
        "asset-events": bus.topics["asset-events"].id,
      },
      functions,
      streams: Object.fromEntries(
        plan.streams.map((st) => {
          const hub = streams!.hubs[st.source]!;
          return [
            st.source,
            {
              namespace: streams!.fullyQualifiedNamespace,
              hub: hub.name,
              topicPrefix: pulumi.output(st.topicPrefix),
              producerClientId: hub.producerClientId,
              producerIdentityId: hub.producerId,
            },
          ];
        }),
      ),
      ...(query
        ? {
            tables: {
              tables: Object.fromEntries(
                plan.tables.tables.map((t) => [t.asset, curatedRoot.apply((r) => tableLocation(r, t.asset))]),
              ),
              reader: query.clientId,
            } satisfies TablesOutputs,
          }
        : {}),
    };
  },
} satisfies CloudAdapter;
