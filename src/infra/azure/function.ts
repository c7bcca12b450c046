/**
 * `tributary:azure:AssetFunction`: the Function App that materialises one asset (or ingests one source),
 * with everything that is its alone: its Flex Consumption plan (a Flex plan hosts exactly one app), its
 * Application Insights, its system-assigned identity and exactly the role assignments its graph edges
 * allow, what triggers it (a filtered topic subscription whose dead letters go to its own queue, or a
 * timer) and its alerts.
 *
 * Code: the stack's bundle (`tributary bundle --cloud azure`, infra/bundle.ts), zipped into the app's
 * package container as `released-package.zip`, the one blob a Flex Consumption app runs from
 * (`functionAppConfig.deployment.storage`: type blobContainer, the container's URL, read with the app's
 * system-assigned identity; what `az functionapp deploy` / OneDeploy upload there too). The blob is
 * written before the app is created or updated, and the bundle's SHA-256 is an app setting: a new
 * bundle changes the app's settings, which restarts the app, which then loads the new package.
 * Uploading needs the deploying identity to have Storage Blob Data Contributor on the host account,
 * as its shared keys are disabled.
 *
 * Host storage: the stack's apps share one host storage account (an account per app would hit the
 * subscription's limit of accounts per region long before a large graph). Each app's host id is pinned
 * (`AzureFunctionsWebHost__hostid`, see names.ts `hostId`), and its identity holds Storage Blob Data
 * Contributor, not Owner, on the two runtime containers under an ABAC condition that keeps it to its own
 * paths (policy.ts `hostAccess`): no app can read or rewrite another's keys, locks or timers.
 *
 * Network: the app joins the stack's functions subnet (Flex Consumption VNet integration), through
 * which it reaches the Key Vault and the Service Bus and Event Hubs namespaces at their private endpoints.
 *
 * A CDC source's function reads its stream's event hub (stream.ts) through an Event Hubs trigger in
 * batches, in its own consumer group, with an identity-based connection (Azure Event Hubs Data Receiver
 * on that hub alone). The trigger checkpoints each partition in the host storage's
 * `azure-webjobs-eventhub` container, under its consumer group's prefix, which its role there is held to
 * by an ABAC condition (grants.ts `checkpointAccess`). A batch the function fails is retried by the
 * trigger's retry policy (handlers/azure.ts); what still fails after the last retry goes to its
 * dead-letter queue, as a bus consumer's dead letters do, before the trigger checkpoints past it.
 */
import * as applicationinsights from "@pulumi/azure-native/applicationinsights/index.js";
import * as authorization from "@pulumi/azure-native/authorization/index.js";
import * as monitor from "@pulumi/azure-native/monitor/index.js";
import * as servicebus from "@pulumi/azure-native/servicebus/index.js";
import * as storage from "@pulumi/azure-native/storage/index.js";
import * as web from "@pulumi/azure-native/web/index.js";
import * as pulumi from "@pulumi/pulumi";
import { MESSAGES } from "../../contract/bus-messages.ts";
import { catalogVariable } from "../adapter.ts";
import type { FunctionParts, StoreId } from "../plan/types.ts";
import { secretReferences } from "../secrets.ts";
import type { Bus } from "./bus.ts";
import { MESSAGE_TTL } from "./bus.ts";
import {
  assetFilter,
  checkpointAccess,
  checkpointPrefix,
  containerAccess,
  hostAccess,
  type Role,
  roleDefinitionId,
  sourceFilter,
} from "./grants.ts";
import { guid, hostId } from "./names.ts";
import { timerSchedule } from "./schedule.ts";
import type { Container } from "./store.ts";
import type { Hub } from "./stream.ts";

export interface AssetFunctionArgs extends FunctionParts {
  readonly stack: string;
  readonly resourceGroupName: pulumi.Input<string>;
  readonly subscriptionId: pulumi.Input<string>;
  /** The Function App's globally unique name. */
  readonly appName: pulumi.Input<string>;
  readonly data: {
    readonly blobEndpoint: pulumi.Input<string>;
    readonly containers: Readonly<Record<StoreId, Container>>;
  };
  /** The Functions runtime's storage: its account, its lock and key containers, this app's package container. */
  readonly host: {
    readonly accountName: pulumi.Input<string>;
    readonly blobEndpoint: pulumi.Input<string>;
    readonly locks: Container;
    readonly secrets: Container;
    readonly packages: Container;
  };
  readonly bus: Bus;
  /**
   * The event hub it reads, when it is a CDC source's function: the Event Hubs namespace's host name, the
   * hub, and the host storage's checkpoint container.
   */
  readonly streamHub?: {
    readonly namespace: pulumi.Input<string>;
    readonly hub: Hub;
    readonly checkpoints: Container;
  };
  /** The stack network's subnet the app joins (Flex Consumption VNet integration). */
  readonly subnetId: pulumi.Input<string>;
  /** The function's code: the stack's bundle folder and its SHA-256 (infra/bundle.ts). */
  readonly code: { readonly archive: pulumi.asset.Archive; readonly sha256: string };
  readonly workspaceId: pulumi.Input<string>;
  readonly actionGroupId: pulumi.Input<string>;
  /** The secrets its asset declares, by name: each one's ARM id and the versioned URI its settings name. */
  readonly secrets?: Readonly<
    Record<string, { readonly id: pulumi.Input<string>; readonly reference: pulumi.Input<string> }>
  >;
  /** An embedding asset's: the stack's Azure OpenAI account, whose deployment of its model it calls. */
  readonly embedding?: { readonly accountId: pulumi.Input<string>; readonly endpoint: pulumi.Input<string> };
}

/** The plan's runtime as Flex Consumption's `functionAppConfig.runtime` names it. */
const RUNTIME = { nodejs24: { name: "node", version: "24" } } as const;
/** Flex Consumption's instance sizes (MB). */
export const INSTANCE_MEMORY_MB = [512, 2048, 4096] as const;
/** The longest a message stays locked by one delivery: five minutes, Service Bus's most. */
const LOCK_DURATION = "PT5M";
/** Two weeks: time to look at a dead letter before it is gone (as SQS on AWS). */
const DEAD_LETTER_TTL = "P14D";
const ALERT_WINDOW = "PT5M";
/** The blob of a Flex Consumption app's package container that the app runs. */
export const PACKAGE_BLOB = "released-package.zip";
/** Log search alerts look back at most two days. */
export const MAX_FRESHNESS_MINUTES = 2 * 24 * 60;

/**
 * The traces of the commits of `asset`: the JSON line the handler logs on each (runtime/handlers/azure.ts),
 * whose `event` is the announcement's message type. `has` narrows on the indexed term before parsing.
 */
export function freshnessQuery(asset: string): string {
  const event = MESSAGES.assetMaterialised;
  return [
    "traces",
    `where message has "${event}"`,
    "extend e = parse_json(message)",
    `where tostring(e.event) == "${event}" and tostring(e.asset) == "${asset}"`,
  ].join(" | ");
}

/** The sweeper's log line after each sweep (runtime/handlers/outbox.ts `OUTBOX_SWEPT_EVENT`). */
const OUTBOX_SWEPT_EVENT = "tributary.outbox.swept";

/**
 * The sweeps' traces with `oldestSeconds`, how long the oldest unannounced commit had waited: the outbox
 * alert takes its maximum over the window.
 */
export function outboxAgeQuery(): string {
  return [
    "traces",
    `where message has "${OUTBOX_SWEPT_EVENT}"`,
    "extend e = parse_json(message)",
    `where tostring(e.event) == "${OUTBOX_SWEPT_EVENT}"`,
    "extend oldestSeconds = todouble(e.oldestSeconds)",
  ].join(" | ");
}

export function instanceMemory(memoryMb: number): number {
  return INSTANCE_MEMORY_MB.find((m) => m >= memoryMb) ?? 4096;
}

function hhmmss(seconds: number): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(Math.floor(seconds / 3600))}:${p(Math.floor((seconds % 3600) / 60))}:${p(seconds % 60)}`;
}

/** An ISO 8601 duration of whole hours or minutes. */
function duration(minutes: number): string {
  return minutes % 60 === 0 ? `PT${minutes / 60}H` : `PT${minutes}M`;
}

export class AssetFunction extends pulumi.ComponentResource {
  readonly appName: pulumi.Output<string>;
  readonly principalId: pulumi.Output<string>;

  constructor(name: string, args: AssetFunctionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:azure:AssetFunction", name, {}, opts);
    const { fn, trigger, bus } = args;
    const parent = { parent: this };
    const rg = args.resourceGroupName;
    const tags = fn.tags;

    const plan = new web.AppServicePlan(
      `${name}-plan`,
      {
        resourceGroupName: rg,
        name: `${name}-plan`,
        kind: "functionapp",
        sku: { name: "FC1", tier: "FlexConsumption" },
        reserved: true,
        tags,
      },
      parent,
    );
    const insights = new applicationinsights.Component(
      `${name}-insights`,
      {
        resourceGroupName: rg,
        resourceName: `${name}-insights`,
        kind: "web",
        applicationType: "web",
        workspaceResourceId: args.workspaceId,
        ingestionMode: "LogAnalytics",
        // Telemetry is sent with the app's identity (Monitoring Metrics Publisher below), not the key.
        disableLocalAuth: true,
        tags,
      },
      parent,
    );

    const consumes =
      trigger && (trigger.kind === "asset-materialised" || trigger.kind === "source-event")
        ? trigger
        : undefined;
    const streamed = trigger?.kind === "stream" ? args.streamHub : undefined;
    if (trigger?.kind === "stream" && !streamed) {
      throw new pulumi.RunError(`"${fn.id}" reads a stream, but its event hub was not given`);
    }
    let subscription: servicebus.Subscription | undefined;
    let deadLetters: servicebus.Queue | undefined;
    if (consumes || streamed) {
      deadLetters = new servicebus.Queue(
        `${name}-dead-letters`,
        {
          resourceGroupName: rg,
          namespaceName: bus.namespaceName,
          queueName: `${fn.id}-dead-letters`,
          defaultMessageTimeToLive: DEAD_LETTER_TTL,
          deadLetteringOnMessageExpiration: false,
        },
        parent,
      );
    }
    if (consumes) {
      const topic = bus.topics[consumes.bus];
      subscription = new servicebus.Subscription(
        `${name}-subscription`,
        {
          resourceGroupName: rg,
          namespaceName: bus.namespaceName,
          topicName: topic.name,
          subscriptionName: fn.id,
          maxDeliveryCount: fn.maxReceiveCount,
          lockDuration: LOCK_DURATION,
          defaultMessageTimeToLive: MESSAGE_TTL,
          deadLetteringOnMessageExpiration: true,
          deadLetteringOnFilterEvaluationExceptions: true,
          // Each consumer's dead letters in a queue of its own: alerts and redrives per function.
          forwardDeadLetteredMessagesTo: deadLetters!.name,
        },
        parent,
      );
      // A new subscription accepts every message through its "$Default" rule (1=1); this replaces that
      // rule's filter, so the subscription receives exactly the messages the graph's edges name.
      new servicebus.Rule(
        `${name}-filter`,
        {
          resourceGroupName: rg,
          namespaceName: bus.namespaceName,
          topicName: topic.name,
          subscriptionName: subscription.name,
          ruleName: "$Default",
          filterType: "SqlFilter",
          sqlFilter: {
            sqlExpression:
              consumes.kind === "asset-materialised"
                ? assetFilter(MESSAGES.producer, MESSAGES.assetMaterialised, consumes.upstream)
                : sourceFilter(MESSAGES.sourceEvents, consumes.source),
            compatibilityLevel: 20,
          },
        },
        parent,
      );
    }

    const env = Object.entries(fn.environment).map(([k, v]) => ({
      name: k,
      value:
        typeof v === "string"
          ? pulumi.output(v)
          : "store" in v
            ? pulumi.interpolate`${args.data.blobEndpoint}${args.data.containers[v.store].name}`
            : "secrets" in v
              ? secretReferences(
                  v.secrets,
                  Object.fromEntries(v.secrets.map((n) => [n, args.secrets![n]!.reference])),
                )
              : "vectors" in v
                ? pulumi
                    .output(args.embedding?.endpoint ?? "")
                    .apply((endpoint) =>
                      JSON.stringify({ ...v.vectors, provider: { ...v.vectors.provider, endpoint } }),
                    )
                : "catalog" in v
                  ? catalogVariable(undefined, fn.id)
                  : bus.topics[v.bus].name,
    }));
    // The host id keys the app's paths in the shared host storage: pinned, so the conditions hold.
    const host = pulumi.output(args.appName).apply((app) => ({ id: hostId(app), site: app.toLowerCase() }));
    const settings: { name: string; value: pulumi.Input<string> }[] = [
      ...env,
      { name: "AzureFunctionsWebHost__hostid", value: host.id },
      // Identity-based connections: the data account's blobs, the bus, the runtime's own storage.
      { name: "TRIBUTARY_STORE__blobServiceUri", value: args.data.blobEndpoint },
      { name: "TRIBUTARY_BUS__fullyQualifiedNamespace", value: bus.fullyQualifiedNamespace },
      { name: "AzureWebJobsStorage__accountName", value: args.host.accountName },
      { name: "APPLICATIONINSIGHTS_CONNECTION_STRING", value: insights.connectionString },
      { name: "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", value: "Authorization=AAD" },
      { name: "AzureFunctionsJobHost__functionTimeout", value: hhmmss(fn.timeoutSeconds) },
      // A new bundle changes this setting: the app restarts and loads the new package.
      { name: "TRIBUTARY_BUNDLE_SHA256", value: args.code.sha256 },
    ];
    if (consumes && subscription) {
      settings.push(
        { name: "TRIBUTARY_TOPIC", value: bus.topics[consumes.bus].name },
        { name: "TRIBUTARY_SUBSCRIPTION", value: subscription.name },
      );
    }
    if (streamed && deadLetters) {
      settings.push(
        // The Event Hubs trigger's identity-based connection and what it reads (handlers/azure.ts).
        { name: "TRIBUTARY_STREAM__fullyQualifiedNamespace", value: streamed.namespace },
        { name: "TRIBUTARY_STREAM_HUB", value: streamed.hub.name },
        { name: "TRIBUTARY_STREAM_CONSUMER_GROUP", value: streamed.hub.consumerGroup },
        { name: "TRIBUTARY_STREAM_RETRIES", value: String(trigger!.retry.attempts) },
        { name: "TRIBUTARY_DEAD_LETTERS", value: deadLetters.name },
      );
    }
    if (trigger?.kind === "schedule") {
      const timer = timerSchedule(trigger.cron, trigger.timezone);
      settings.push(
        // The timer binding reads `%TRIBUTARY_SCHEDULE%` (UTC); the handler runs only when the cron
        // matches the local time of TRIBUTARY_SCHEDULE_TIMEZONE (see schedule.ts).
        { name: "TRIBUTARY_SCHEDULE", value: timer.ncrontab },
        { name: "TRIBUTARY_SCHEDULE_CRON", value: trigger.cron },
        { name: "TRIBUTARY_SCHEDULE_TIMEZONE", value: trigger.timezone },
      );
    }

    const pkg = new storage.Blob(
      `${name}-package`,
      {
        resourceGroupName: rg,
        accountName: args.host.accountName,
        containerName: args.host.packages.name,
        blobName: PACKAGE_BLOB,
        type: "Block",
        contentType: "application/zip",
        source: args.code.archive,
      },
      parent,
    );
    const app = new web.WebApp(
      name,
      {
        resourceGroupName: rg,
        name: args.appName,
        kind: "functionapp,linux",
        serverFarmId: plan.id,
        virtualNetworkSubnetId: args.subnetId,
        httpsOnly: true,
        identity: { type: "SystemAssigned" },
        functionAppConfig: {
          runtime: RUNTIME[fn.runtime],
          scaleAndConcurrency: { instanceMemoryMB: instanceMemory(fn.memoryMb), maximumInstanceCount: 40 },
          deployment: {
            storage: {
              type: "blobContainer",
              value: pulumi.interpolate`${args.host.blobEndpoint}${args.host.packages.name}`,
              authentication: { type: "SystemAssignedIdentity" },
            },
          },
        },
        siteConfig: {
          appSettings: settings,
          minTlsVersion: "1.2",
          ftpsState: "Disabled",
          http20Enabled: true,
        },
        tags,
      },
      { ...parent, dependsOn: [pkg] },
    );
    const principalId = app.identity.apply((i) => i?.principalId ?? "");

    const assign = (
      suffix: string,
      role: Role,
      scope: pulumi.Input<string>,
      extra: { condition?: pulumi.Input<string>; description: string },
    ) =>
      new authorization.RoleAssignment(
        `${name}-${suffix}`,
        {
          roleAssignmentName: guid(args.stack, fn.id, suffix, role),
          scope,
          roleDefinitionId: pulumi.output(args.subscriptionId).apply((s) => roleDefinitionId(s, role)),
          principalId,
          principalType: "ServicePrincipal",
          description: extra.description,
          ...(extra.condition ? { condition: extra.condition, conditionVersion: "2.0" } : {}),
        },
        parent,
      );
    for (const access of containerAccess(args.grants)) {
      assign(access.store, access.role, args.data.containers[access.store].id, {
        condition: access.condition,
        description: `${fn.id} on ${access.store}: ${(["read", "list", "write", "delete"] as const)
          .filter((a) => access.prefixes[a].length > 0)
          .map((a) => `${a} ${access.prefixes[a].join(" ")}`)
          .join("; ")}`,
      });
    }
    // The Functions runtime's own storage: locks, timers and host keys in the containers the stack's
    // apps share, each app held to its own paths; and this app's package container, its alone.
    const access = host.apply((h) => hostAccess(h.id, h.site));
    assign("host-locks", "storageBlobDataContributor", args.host.locks.id, {
      condition: access.locks,
      description: `${fn.id}: its Functions host's locks, timers and host id record`,
    });
    assign("host-secrets", "storageBlobDataContributor", args.host.secrets.id, {
      condition: access.secrets,
      description: `${fn.id}: its Functions host's keys`,
    });
    assign("package", "storageBlobDataContributor", args.host.packages.id, {
      description: `${fn.id}: its deployment package`,
    });
    assign("publish", "serviceBusDataSender", bus.topics["asset-events"].id, {
      description: `${fn.id} announces its materialisations on asset-events`,
    });
    if (subscription) {
      assign("receive", "serviceBusDataReceiver", subscription.id, {
        description: `${fn.id} consumes its subscription`,
      });
    }
    if (streamed && deadLetters) {
      assign("stream", "eventHubsDataReceiver", streamed.hub.id, {
        description: `${fn.id} reads its stream's event hub`,
      });
      const checkpoints = pulumi
        .all([streamed.namespace, streamed.hub.name, streamed.hub.consumerGroup])
        .apply(([namespace, hub, group]) => checkpointAccess(checkpointPrefix(namespace, hub, group)));
      assign("checkpoints", "storageBlobDataContributor", streamed.checkpoints.id, {
        condition: checkpoints,
        description: `${fn.id}: its Event Hubs trigger's checkpoints and partition ownership`,
      });
      assign("dead-letter", "serviceBusDataSender", deadLetters.id, {
        description: `${fn.id} sends the stream's records it could not land to its dead-letter queue`,
      });
    }
    assign("telemetry", "monitoringMetricsPublisher", insights.id, {
      description: `${fn.id} sends its telemetry`,
    });
    // Each secret its asset declares, and no other: scoped to that secret, not to the vault.
    for (const n of fn.secrets ?? []) {
      assign(`secret-${n.replaceAll("_", "-")}`, "keyVaultSecretsUser", args.secrets![n]!.id, {
        description: `${fn.id} reads the secret ${n}`,
      });
    }
    // An embedding asset calls its model's deployment: the OpenAI User role on the stack's account only.
    if (fn.embeddingModel && args.embedding) {
      assign("embedding", "cognitiveServicesOpenAIUser", args.embedding.accountId, {
        description: `${fn.id} embeds with the deployment ${fn.embeddingModel}`,
      });
    }

    for (const alarm of args.alarms) {
      const common = {
        resourceGroupName: rg,
        ruleName: `${name}-${alarm.kind}`,
        description: alarm.description,
        severity: 2,
        enabled: true,
        autoMitigate: true,
        tags,
      };
      if (alarm.kind === "errors") {
        // Every invocation is a request in Application Insights; a failed one has success == false.
        new monitor.MetricAlert(
          `${name}-errors`,
          {
            ...common,
            location: "global",
            scopes: [insights.id],
            evaluationFrequency: ALERT_WINDOW,
            windowSize: ALERT_WINDOW,
            criteria: {
              odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
              allOf: [
                {
                  criterionType: "StaticThresholdCriterion",
                  name: "failed-invocations",
                  metricNamespace: "microsoft.insights/components",
                  metricName: "requests/failed",
                  operator: "GreaterThan",
                  threshold: 0,
                  timeAggregation: "Count",
                },
              ],
            },
            actions: [{ actionGroupId: args.actionGroupId }],
          },
          parent,
        );
      } else if (alarm.kind === "dead-letters" && deadLetters) {
        new monitor.MetricAlert(
          `${name}-dead-letters`,
          {
            ...common,
            location: "global",
            scopes: [bus.namespaceId],
            evaluationFrequency: ALERT_WINDOW,
            windowSize: ALERT_WINDOW,
            criteria: {
              odataType: "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
              allOf: [
                {
                  criterionType: "StaticThresholdCriterion",
                  name: "dead-letters",
                  metricNamespace: "Microsoft.ServiceBus/namespaces",
                  metricName: "ActiveMessages",
                  dimensions: [{ name: "EntityName", operator: "Include", values: [deadLetters.name] }],
                  operator: "GreaterThan",
                  threshold: 0,
                  timeAggregation: "Maximum",
                },
              ],
            },
            actions: [{ actionGroupId: args.actionGroupId }],
          },
          parent,
        );
      } else if (alarm.kind === "outbox-age") {
        const minutes = alarm.minutes!;
        new monitor.ScheduledQueryRule(
          `${name}-outbox-age`,
          {
            ...common,
            kind: "LogAlert",
            displayName: `A commit unannounced for more than ${minutes} minutes`,
            scopes: [insights.id],
            evaluationFrequency: ALERT_WINDOW,
            windowSize: "PT15M",
            criteria: {
              allOf: [
                {
                  query: outboxAgeQuery(),
                  timeAggregation: "Maximum",
                  metricMeasureColumn: "oldestSeconds",
                  operator: "GreaterThan",
                  threshold: minutes * 60,
                  failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
                },
              ],
            },
            actions: { actionGroups: [args.actionGroupId] },
          },
          parent,
        );
      } else if (alarm.kind === "freshness") {
        const minutes = alarm.minutes!;
        new monitor.ScheduledQueryRule(
          `${name}-freshness`,
          {
            ...common,
            kind: "LogAlert",
            displayName: `${fn.id} is stale`,
            scopes: [insights.id],
            evaluationFrequency: minutes > 60 ? "PT1H" : "PT5M",
            windowSize: duration(minutes),
            criteria: {
              allOf: [
                {
                  // The handler logs one JSON line per commit through context.log, which Application
                  // Insights keeps as a trace: {"event":"tributary.asset.materialised","asset":"<key>",…}.
                  query: freshnessQuery(fn.id),
                  timeAggregation: "Count",
                  operator: "LessThan",
                  threshold: 1,
                  failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
                },
              ],
            },
            actions: { actionGroups: [args.actionGroupId] },
          },
          parent,
        );
      }
    }

    this.appName = app.name;
    this.principalId = principalId;
    this.registerOutputs({ appName: this.appName, principalId: this.principalId });
  }
}
