/**
 * `tributary:gcp:Alerts`: the e-mail notification channel every alert policy of the stack notifies, and
 * the log-based metric the freshness alerts read: a count of the handlers' structured log line
 * `{"event": "tributary.asset.materialised", "asset": "<key>"}` (one per commit), labelled by asset.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { MESSAGES } from "../plan/types.ts";
import type { Apis } from "./apis.ts";

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
    this.channel = channel.name;
    this.materialisedMetric = metric.name;
    this.registerOutputs({ channel: this.channel, materialisedMetric: this.materialisedMetric });
  }
}

/** The log-based metric's name: letters, digits and `_`, so PromQL names it without escaping. */
export function materialisedMetricName(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9]/g, "_")}_asset_materialised`;
}
