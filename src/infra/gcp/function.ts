/**
 * `tributary:gcp:AssetFunction`: the Cloud Function (2nd gen) that materialises one asset (or ingests one
 * source), with everything that is its alone: its service account and exact bucket bindings, what
 * triggers it, its dead-letter topic and its alert policies.
 *
 * Trigger wiring: the function has no Eventarc trigger. Eventarc creates and owns the Pub/Sub
 * subscription of a gen2 Pub/Sub trigger, so neither its filter nor its dead-letter policy could be
 * declared here. Instead each triggered function gets its own push subscription to the function's URL
 * (authenticated with an OIDC token of an invoker service account that may invoke only this function),
 * with the trigger's attribute filter, exponential-backoff retries and a dead-letter topic after
 * `maxReceiveCount` deliveries (Pub/Sub's minimum is 5). The dead-letter topic has a pull subscription
 * that keeps the dead letters for a week, for inspection and redrive (a topic without subscription drops
 * what it receives).
 *
 * A CDC source's function is pushed its stream's messages (stream.ts) the same way, by a subscription
 * with message ordering on: Pub/Sub pushes the messages of one ordering key (Debezium Server's record key)
 * one at a time, in the order they were published, and the next only once the function answered the one
 * before with a 2xx; a message the function fails (non-2xx) is retried, in order, and dead-lettered after
 * the stream's retries. Its dead-letter topic is encrypted with the stack's key, as the stream is.
 *
 * Schedules: Cloud Scheduler publishes to a topic of the function's own, consumed by the same kind of
 * push subscription, rather than calling the function over HTTP: a failed scheduled run is then retried
 * and dead-lettered like every other trigger, where an HTTP job would only log the failure.
 */
import * as crypto from "node:crypto";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { MESSAGES } from "../../contract/bus-messages.ts";
import { catalogVariable } from "../adapter.ts";
import { STREAM_RETENTION_HOURS } from "../plan/build.ts";
import { toCloudScheduler } from "../plan/cron.ts";
import type { AlarmPlan, FunctionParts, StoreId } from "../plan/types.ts";
import { secretReferences } from "../secrets.ts";
import { materialisedMetricName, outboxMetricName } from "./alerts.ts";
import type { Apis } from "./apis.ts";
import { accountId, bucketBindings, subscriptionFilter } from "./grants.ts";
import { labelsOf } from "./labels.ts";
import { retention } from "./stream.ts";

export interface Topic {
  readonly name: pulumi.Input<string>;
  /** `projects/<project>/topics/<name>`. */
  readonly id: pulumi.Input<string>;
}

export interface AssetFunctionArgs extends FunctionParts {
  readonly project: string;
  readonly region: string;
  /** The stack's name prefix (for the freshness metric's name). */
  readonly prefix: string;
  readonly buckets: Readonly<Record<StoreId, pulumi.Input<string>>>;
  readonly assetBus: Topic;
  readonly sourceBus: Topic;
  /**
   * The stream it reads, when it is a CDC source's function: the topic, and the stack's key and its grant
   * to Pub/Sub, which its dead-letter topic is encrypted with.
   */
  readonly streamTopic?: {
    readonly topic: Topic;
    readonly keyId: pulumi.Input<string>;
    readonly keyGrants: readonly pulumi.Resource[];
  };
  /** The Pub/Sub service agent (`serviceAccount:service-<n>@gcp-sa-pubsub…`), which dead-letters. */
  readonly pubsubAgent: pulumi.Input<string>;
  /** The notification channel alerts go to. */
  readonly channel: pulumi.Input<string>;
  /** The function source (the stack's bundle, zipped) in the deploy-artifacts bucket. */
  readonly source: { readonly bucket: pulumi.Input<string>; readonly object: pulumi.Input<string> };
  /** The stack's enabled APIs: each resource waits for its own. */
  readonly apis: Apis;
  /** The secrets its asset declares, by name: each one's id and the version its environment names. */
  readonly secrets?: Readonly<
    Record<string, { readonly secretId: pulumi.Input<string>; readonly reference: pulumi.Input<string> }>
  >;
  /** An embedding asset's: the stack's custom role of Vertex AI predictions (embedding.ts). */
  readonly embeddingRole?: pulumi.Input<string>;
  /** Its environment's catalog reference (contract/table-names.ts `CatalogRef`, as JSON), when it commits tables. */
  readonly catalog?: string;
  /** The BigQuery tables it commits (their pointers are its to move), when it commits any. */
  readonly tables?: TableCommits;
}

/** The tables a function commits, and what it is bound to for that (catalog.ts). */
export interface TableCommits {
  readonly dataset: pulumi.Input<string>;
  readonly names: readonly string[];
  readonly connection: { readonly location: string; readonly connectionId: pulumi.Input<string> };
  /** The committer role (catalog.ts `COMMITTER_PERMISSIONS`). */
  readonly role: pulumi.Input<string>;
}

const RUNTIME = { nodejs24: "nodejs24" } as const;
/** Pub/Sub allows 5 to 100 delivery attempts before dead-lettering. */
const MIN_DELIVERY_ATTEMPTS = 5;
/** A push subscription's ack deadline is at most 600 seconds. */
const MAX_ACK_DEADLINE = 600;
/** A week, Pub/Sub's default: time to look at a dead letter before it is gone. */
const DEAD_LETTER_RETENTION = `${7 * 24 * 3600}s`;
export const RETRY_POLICY = { minimumBackoff: "10s", maximumBackoff: "600s" } as const;
const ALERT_PERIOD = "300s";

/** The `type` attribute of the messages Cloud Scheduler publishes to a scheduled function's topic. */
export const SCHEDULED = MESSAGES.assetScheduled;

const sha1 = (s: string) => crypto.createHash("sha1").update(s).digest("hex");

export class AssetFunction extends pulumi.ComponentResource {
  readonly functionName: pulumi.Output<string>;
  readonly serviceAccount: pulumi.Output<string>;

  constructor(name: string, args: AssetFunctionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:AssetFunction", name, {}, opts);
    const { fn, trigger, project, region } = args;
    const apis = args.apis;
    // Each resource waits for the APIs it needs (services.ts).
    const on = (...needs: Parameters<Apis["of"]>) => ({ parent: this, dependsOn: apis.of(...needs) });
    const labels = labelsOf(fn.tags);

    const account = new gcp.serviceaccount.Account(
      `${name}-sa`,
      {
        project,
        accountId: accountId(name, sha1),
        displayName: `Tributary function of ${fn.id}`.slice(0, 100),
        description:
          fn.kind === "sweep"
            ? "Sweeps the stack's outbox: reads outbox entries and the manifests they name, deletes outbox entries, publishes asset events."
            : fn.kind === "maintain"
              ? "Maintains the stack's curated tables: compacts their files, expires old snapshots, moves their catalog pointers."
              : `Runs ${fn.id}: reads its upstreams' prefixes, writes its own, publishes asset events.`,
      },
      on("iam"),
    );
    const member = account.member;

    // Object rights: one conditional binding per store and kind of right, over the granted prefixes.
    const names = pulumi.all([args.buckets.raw, args.buckets.curated, args.buckets.quarantine]);
    const bindings = bucketBindings(args.grants, {
      raw: "{raw}",
      curated: "{curated}",
      quarantine: "{quarantine}",
    });
    const grants = bindings.map((b) => {
      const index = bindings.indexOf(b);
      return new gcp.storage.BucketIAMMember(
        `${name}-${b.suffix}`,
        {
          bucket: args.buckets[b.store],
          role: b.role,
          member,
          condition: names.apply(([raw, curated, quarantine]) => {
            const resolved = bucketBindings(args.grants, { raw, curated, quarantine })[index]!;
            return { title: resolved.condition.title, expression: resolved.condition.expression };
          }),
        },
        on("storage"),
      );
    });
    // Each secret its asset declares, and no other: accessor on that secret alone.
    const reads = (fn.secrets ?? []).map(
      (n) =>
        new gcp.secretmanager.SecretIamMember(
          `${name}-secret-${n.replaceAll("_", "-")}`,
          {
            project,
            secretId: args.secrets![n]!.secretId,
            role: "roles/secretmanager.secretAccessor",
            member,
          },
          on("secretmanager"),
        ),
    );
    // An embedding asset calls its Vertex AI model: the stack's one-permission role, on the project.
    const predicts = args.embeddingRole
      ? [
          new gcp.projects.IAMMember(
            `${name}-embedding`,
            { project, role: args.embeddingRole, member },
            on("iam", "aiplatform"),
          ),
        ]
      : [];
    // Each table it commits, and no other: the committer role on that table, and on its connection.
    const commits = args.tables
      ? [
          ...args.tables.names.map(
            (table) =>
              new gcp.bigquery.IamMember(
                `${name}-table-${table.replaceAll("_", "-")}`,
                { project, datasetId: args.tables!.dataset, tableId: table, role: args.tables!.role, member },
                on("bigquery"),
              ),
          ),
          new gcp.bigquery.ConnectionIamMember(
            `${name}-tables-connection`,
            {
              project,
              location: args.tables.connection.location,
              connectionId: args.tables.connection.connectionId,
              role: args.tables.role,
              member,
            },
            on("bigqueryconnection"),
          ),
        ]
      : [];
    // Asset events only: the source-events topic is for producers outside the stack.
    const publish = new gcp.pubsub.TopicIAMMember(
      `${name}-publish`,
      { project, topic: args.assetBus.name, role: "roles/pubsub.publisher", member },
      on("pubsub"),
    );

    const variables = pulumi.all(
      Object.fromEntries(
        Object.entries(fn.environment).map(([k, v]) => [
          k,
          typeof v === "string"
            ? v
            : "store" in v
              ? pulumi.interpolate`gs://${args.buckets[v.store]}`
              : "secrets" in v
                ? secretReferences(
                    v.secrets,
                    Object.fromEntries(v.secrets.map((n) => [n, args.secrets![n]!.reference])),
                  )
                : "vectors" in v
                  ? JSON.stringify(v.vectors)
                  : "catalog" in v
                    ? catalogVariable(args.catalog, fn.id)
                    : (v.bus === "asset-events" ? args.assetBus : args.sourceBus).id,
        ]),
      ),
    );
    const fnResource = new gcp.cloudfunctionsv2.Function(
      name,
      {
        name: fn.name,
        project,
        location: region,
        description: fn.description,
        buildConfig: {
          runtime: RUNTIME[fn.runtime],
          entryPoint: "handler",
          source: { storageSource: { bucket: args.source.bucket, object: args.source.object } },
        },
        serviceConfig: {
          availableMemory: `${fn.memoryMb}Mi`,
          timeoutSeconds: fn.timeoutSeconds,
          environmentVariables: variables,
          serviceAccountEmail: account.email,
          // Pub/Sub push deliveries count as internal traffic; nothing outside the project reaches it.
          ingressSettings: "ALLOW_INTERNAL_ONLY",
          allTrafficOnLatestRevision: true,
        },
        labels,
      },
      {
        parent: this,
        dependsOn: [
          ...grants,
          ...reads,
          ...predicts,
          ...commits,
          publish,
          ...apis.of("cloudfunctions", "run", "cloudbuild", "artifactregistry"),
        ],
      },
    );

    let deadLetters: gcp.pubsub.Subscription | undefined;
    if (trigger) {
      const invoker = new gcp.serviceaccount.Account(
        `${name}-invoker`,
        {
          project,
          accountId: accountId(`${name}-inv`, sha1),
          displayName: `Tributary invoker of ${fn.id}`.slice(0, 100),
          description: `Pub/Sub pushes ${fn.id}'s trigger messages as this account; it may invoke only ${fn.name}.`,
        },
        on("iam"),
      );
      const invoke = new gcp.cloudrunv2.ServiceIamMember(
        `${name}-invoke`,
        {
          project,
          location: region,
          name: fnResource.serviceConfig.apply((s) => s?.service ?? fn.name),
          role: "roles/run.invoker",
          member: invoker.member,
        },
        on("run"),
      );

      let topic: Topic;
      if (trigger.kind === "schedule") {
        const ticks = new gcp.pubsub.Topic(
          `${name}-schedule`,
          { project, labels: labelsOf(fn.tags, { "tributary:role": "schedule" }) },
          on("pubsub"),
        );
        topic = { name: ticks.name, id: ticks.id };
        new gcp.cloudscheduler.Job(
          `${name}-schedule`,
          {
            project,
            region,
            description: `${fn.id}: ${trigger.cron} (${trigger.timezone})`,
            schedule: toCloudScheduler(trigger.cron),
            timeZone: trigger.timezone,
            pubsubTarget: {
              topicName: ticks.id,
              attributes: { type: SCHEDULED, asset: fn.id },
              data: Buffer.from(JSON.stringify({ asset: fn.id })).toString("base64"),
            },
            retryConfig: {
              retryCount: trigger.retry.attempts,
              maxRetryDuration: `${trigger.retry.maxEventAgeSeconds}s`,
            },
          },
          on("cloudscheduler"),
        );
      } else if (trigger.kind === "stream") {
        if (!args.streamTopic)
          throw new pulumi.RunError(`"${fn.id}" reads a stream, but its stream was not given`);
        topic = args.streamTopic.topic;
      } else {
        topic = trigger.kind === "asset-materialised" ? args.assetBus : args.sourceBus;
      }
      const streamed = trigger.kind === "stream" ? args.streamTopic : undefined;

      const deadLetterTopic = new gcp.pubsub.Topic(
        `${name}-dead-letters`,
        {
          project,
          // A stream's dead letters are its change events: under the stack's key, as the stream.
          ...(streamed ? { kmsKeyName: streamed.keyId } : {}),
          labels: labelsOf(fn.tags, { "tributary:role": "dead-letter" }),
        },
        streamed ? { parent: this, dependsOn: [...streamed.keyGrants, ...apis.of("pubsub")] } : on("pubsub"),
      );
      deadLetters = new gcp.pubsub.Subscription(
        `${name}-dead-letters`,
        {
          project,
          topic: deadLetterTopic.id,
          ackDeadlineSeconds: 60,
          messageRetentionDuration: DEAD_LETTER_RETENTION,
          retainAckedMessages: false,
          expirationPolicy: { ttl: "" },
          labels: labelsOf(fn.tags, { "tributary:role": "dead-letter" }),
        },
        on("pubsub"),
      );
      const filter =
        trigger.kind === "asset-materialised"
          ? subscriptionFilter(MESSAGES.assetMaterialised, "asset", trigger.upstream)
          : trigger.kind === "source-event"
            ? subscriptionFilter(MESSAGES.sourceEvents, "source", [trigger.source])
            : undefined;
      if (filter !== undefined && Buffer.byteLength(filter) > 256) {
        throw new pulumi.RunError(
          `"${fn.id}" depends on too many assets for one Pub/Sub filter (256 bytes): ${filter}`,
        );
      }
      const consumer = new gcp.pubsub.Subscription(
        `${name}-trigger`,
        {
          project,
          topic: topic.id,
          filter,
          // Per record key, in publication order (the stream's ordering keys).
          ...(streamed
            ? { enableMessageOrdering: true, messageRetentionDuration: retention(STREAM_RETENTION_HOURS) }
            : {}),
          ackDeadlineSeconds: Math.min(Math.max(fn.timeoutSeconds, 10), MAX_ACK_DEADLINE),
          pushConfig: {
            // The topic in the path is where the Functions Framework reads the CloudEvent's source
            // from when it converts a push request (without it, it warns on every request).
            pushEndpoint: pulumi.interpolate`${fnResource.url}/${topic.id}`,
            oidcToken: { serviceAccountEmail: invoker.email, audience: fnResource.url },
          },
          retryPolicy: { ...RETRY_POLICY },
          deadLetterPolicy: {
            deadLetterTopic: deadLetterTopic.id,
            maxDeliveryAttempts: Math.max(
              streamed ? trigger.retry.attempts + 1 : fn.maxReceiveCount,
              MIN_DELIVERY_ATTEMPTS,
            ),
          },
          expirationPolicy: { ttl: "" },
          labels: labelsOf(fn.tags, { "tributary:role": "consumer" }),
        },
        { parent: this, dependsOn: [invoke, ...apis.of("pubsub")] },
      );
      // Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to
      // acknowledge (subscribe to) the subscription it takes the message from.
      new gcp.pubsub.TopicIAMMember(
        `${name}-dead-letters-publish`,
        { project, topic: deadLetterTopic.name, role: "roles/pubsub.publisher", member: args.pubsubAgent },
        on("pubsub"),
      );
      new gcp.pubsub.SubscriptionIAMMember(
        `${name}-trigger-subscribe`,
        { project, subscription: consumer.name, role: "roles/pubsub.subscriber", member: args.pubsubAgent },
        on("pubsub"),
      );
    }

    for (const alarm of args.alarms) {
      const condition = conditionOf(alarm, {
        service: fn.name,
        deadLetters: deadLetters?.name,
        metric: materialisedMetricName(args.prefix),
        outboxMetric: outboxMetricName(args.prefix),
      });
      if (!condition) continue;
      new gcp.monitoring.AlertPolicy(
        `${name}-${alarm.kind}`,
        {
          project,
          displayName: `${fn.name} ${alarm.kind}`,
          combiner: "OR",
          conditions: [condition],
          documentation: { content: alarm.description, mimeType: "text/markdown" },
          notificationChannels: [args.channel],
          alertStrategy: { autoClose: "604800s" },
          userLabels: labels,
        },
        on("monitoring"),
      );
    }

    this.functionName = fnResource.name;
    this.serviceAccount = account.email;
    this.registerOutputs({ functionName: this.functionName, serviceAccount: this.serviceAccount });
  }
}

type Condition = gcp.types.input.monitoring.AlertPolicyCondition;

/**
 * What an alert watches: the dead-letter subscription's backlog; the function's (its Cloud Run service's)
 * 5xx responses; for freshness, no materialisation logged for the asset within `minutes` (PromQL's
 * `absent_over_time` over the log-based metric, since a metric-absence condition looks back one day at most).
 */
function conditionOf(
  alarm: AlarmPlan,
  refs: { service: string; deadLetters?: pulumi.Input<string>; metric: string; outboxMetric: string },
): Condition | undefined {
  switch (alarm.kind) {
    case "dead-letters":
      if (refs.deadLetters === undefined) return undefined;
      return {
        displayName: "Dead-lettered messages",
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "${refs.deadLetters}" AND metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"`,
          aggregations: [{ alignmentPeriod: ALERT_PERIOD, perSeriesAligner: "ALIGN_MAX" }],
          comparison: "COMPARISON_GT",
          thresholdValue: 0,
          duration: "0s",
        },
      };
    case "errors":
      return {
        displayName: "Function errors",
        conditionThreshold: {
          filter: `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${refs.service}" AND metric.type = "run.googleapis.com/request_count" AND metric.labels.response_code_class = "5xx"`,
          aggregations: [{ alignmentPeriod: ALERT_PERIOD, perSeriesAligner: "ALIGN_SUM" }],
          comparison: "COMPARISON_GT",
          thresholdValue: 0,
          duration: "0s",
        },
      };
    case "freshness":
      return {
        displayName: `Not materialised in ${alarm.minutes} minutes`,
        conditionPrometheusQueryLanguage: {
          query: `absent_over_time(logging_googleapis_com:user_${refs.metric}{asset="${alarm.function}"}[${alarm.minutes}m])`,
          duration: "0s",
          evaluationInterval: "300s",
        },
      };
    case "outbox-age":
      // Each sweep logs how long the oldest unannounced commit has waited; between sweeps there is no
      // data, and the alert keeps its state.
      return {
        displayName: `A commit unannounced for more than ${alarm.minutes} minutes`,
        conditionThreshold: {
          filter: `resource.type = "cloud_run_revision" AND metric.type = "logging.googleapis.com/user/${refs.outboxMetric}"`,
          aggregations: [{ alignmentPeriod: ALERT_PERIOD, perSeriesAligner: "ALIGN_PERCENTILE_99" }],
          comparison: "COMPARISON_GT",
          thresholdValue: alarm.minutes! * 60,
          duration: "0s",
          evaluationMissingData: "EVALUATION_MISSING_DATA_NO_OP",
        },
      };
  }
}
