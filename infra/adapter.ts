/**
 * The one interface every cloud adapter implements (`infra/<cloud>/index.ts` exports an adapter that
 * `satisfies CloudAdapter`), so the program is the same for every cloud and a missing piece is a compile
 * error, not a surprise at deploy time.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Cloud } from "./config.ts";
import type { BusId, DeploymentPlan, StoreId } from "./plan/types.ts";

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
  /** Register the plan's resources with Pulumi (under the current stack) and return the outputs. */
  deploy(plan: DeploymentPlan): StackOutputs;
}
