/**
 * `tributary:gcp:Alerts`: the e-mail notification channel every alert policy of the stack notifies, and
 * the log-based metrics alerts read: a count of the handlers' structured log line
 * `{"event": "tributary.asset.materialised", "asset": "<key>"}` (one per commit), labelled by asset, for
 * the freshness alerts; and the distribution of `oldestSeconds` in the sweeper's line
 * `{"event": "tributary.outbox.swept", …}` (one per sweep), for the outbox alert.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { MESSAGES } from "../../contract/bus-messages.ts";
import type { Apis } from "./apis.ts";

/** The sweeper's log line after each sweep (runtime/handlers/outbox.ts `OUTBOX_SWEPT_EVENT`). */
export const OUTBOX_SWEPT_EVENT = "tributary.outbox.swept";

export interface AlertsArgs {
  readonly project: string;
  readonly email: string;
  /** The stack's name prefix: the metric counts only its functions' logs. */
  readonly prefix: string;
  readonly labels: Record<string, string>;
  /** The stack's enabled APIs: the channel waits for Monitoring's, the metric for Logging's. */
  readonly apis: Apis;
}

export class Alerts extends pulumi.ComponentResource {
  /** The notification channel's resource name, as alert policies name it. */
  readonly channel: pulumi.Output<string>;
  /** The log-based metric's name (`logging.googleapis.com/user/<name>`). */
  readonly materialisedMetric: pulumi.Output<string>;
  /** The outbox metric's name. */
  readonly outboxMetric: pulumi.Output<string>;

  constructor(name: string, args: AlertsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Alerts", name, {}, opts);
    const channel = new gcp.monitoring.NotificationChannel(
      `${name}-email`,
      {
        project: args.project,
        type: "email",
        displayName: `Tributary ${args.prefix} alerts`,
        labels: { email_address: args.email },
        userLabels: args.labels,
      },
      { parent: this, dependsOn: args.apis.of("monitoring") },
    );
    const metric = new gcp.logging.Metric(
      `${name}-materialised`,
      {
        project: args.project,
        name: materialisedMetricName(args.prefix),
        description: `Materialisations committed by the functions of ${args.prefix}, by asset`,
        filter: [
          `resource.type = "cloud_run_revision"`,
          `resource.labels.service_name =~ "^${args.prefix}-"`,
          `jsonPayload.event = "${MESSAGES.assetMaterialised}"`,
        ].join(" AND "),
        metricDescriptor: {
          metricKind: "DELTA",
          valueType: "INT64",
          unit: "1",
          labels: [{ key: "asset", valueType: "STRING", description: "The asset key" }],
        },
        labelExtractors: { asset: "EXTRACT(jsonPayload.asset)" },
      },
      { parent: this, dependsOn: args.apis.of("logging") },
    );
    const outbox = new gcp.logging.Metric(
      `${name}-outbox`,
      {
        project: args.project,
        name: outboxMetricName(args.prefix),
        description: `How long the oldest commit of ${args.prefix} has waited to be announced, at each outbox sweep`,
        filter: [
          `resource.type = "cloud_run_revision"`,
          `resource.labels.service_name =~ "^${args.prefix}-"`,
          `jsonPayload.event = "${OUTBOX_SWEPT_EVENT}"`,
        ].join(" AND "),
        metricDescriptor: { metricKind: "DELTA", valueType: "DISTRIBUTION", unit: "s" },
        valueExtractor: "EXTRACT(jsonPayload.oldestSeconds)",
        // 0 s, then 1 s to about 2 days in 24 doublings.
        bucketOptions: { exponentialBuckets: { numFiniteBuckets: 24, growthFactor: 2, scale: 1 } },
      },
      { parent: this, dependsOn: args.apis.of("logging") },
    );
    this.channel = channel.name;
    this.materialisedMetric = metric.name;
    this.outboxMetric = outbox.name;
    this.registerOutputs({
      channel: this.channel,
      materialisedMetric: this.materialisedMetric,
      outboxMetric: this.outboxMetric,
    });
  }
}

/** The log-based metric's name: letters, digits and `_`, so PromQL names it without escaping. */
export function materialisedMetricName(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9]/g, "_")}_asset_materialised`;
}

/** The outbox metric's name, like the materialised one's. */
export function outboxMetricName(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9]/g, "_")}_outbox_oldest_seconds`;
}
