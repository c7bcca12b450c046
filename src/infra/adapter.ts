/**
 * The one interface every cloud adapter implements (`infra/<cloud>/index.ts` exports an adapter that
 * `satisfies CloudAdapter`), so the program is the same for every cloud and a missing piece is a compile
 * error, not a surprise at deploy time.
 */
import * as pulumi from "@pulumi/pulumi";
import type { FunctionCodes } from "./bundle/locate.ts";
import type { Cloud } from "./config.ts";
import type { BusId, DeploymentPlan, StoreId } from "./plan/types.ts";
import type { SecretValues } from "./secrets.ts";

/** What a deployed stack tells its users (`pulumi stack output`). */
export interface StackOutputs {
  /** Physical bucket (or container) name per store. */
  readonly buckets: Record<StoreId, pulumi.Output<string>>;
  /** The address of each bus (ARN, topic id…). */
  readonly buses: Record<BusId, pulumi.Output<string>>;
  /** Physical function name per asset or source key. */
  readonly functions: Record<string, pulumi.Output<string>>;
}

export interface CloudAdapter {
  readonly cloud: Cloud;
  /**
   * Register the plan's resources with Pulumi (under the current stack) and return the outputs;
   * `secrets` are the configured secrets' values (the others are generated or refused by the plan);
   * `code` is the functions' bundle of each architecture (checked against the plan: see
   * bundle/locate.ts).
   */
  deploy(plan: DeploymentPlan, secrets: SecretValues, code: FunctionCodes): StackOutputs;
}

/**
 * Stop the deploy when an asset's freshness is longer than the cloud's alerts can look back: `alerts`
 * says whose alerts and how far, e.g. "CloudWatch alarms look back at most 7 days".
 */
export function assertFreshnessWithin(plan: DeploymentPlan, maxMinutes: number, alerts: string): void {
  for (const alarm of plan.alarms) {
    if (alarm.kind === "freshness" && alarm.minutes! > maxMinutes) {
      throw new pulumi.RunError(
        `"${alarm.function}" has a freshness of ${alarm.minutes} minutes; ${alerts} (${maxMinutes} minutes). ` +
          "Shorten the asset's freshness.",
      );
    }
  }
}
