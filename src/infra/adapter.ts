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
  /**
   * Per CDC source (by key), what Debezium Server's sink for the stack's cloud is configured with
   * (docs/streams.md): the stream's name and address and the producer identity that may send to it
   * alone, e.g. `{ stream, arn, region, topicPrefix, producerRoleArn }` on AWS.
   */
  readonly streams: Record<string, Readonly<Record<string, pulumi.Output<string>>>>;
  /** The curated tables and how to query them (docs/serverless-sql.md); absent when the stack has none. */
  readonly tables?: TablesOutputs;
}

/** Where a stack's curated tables are and who may query them. */
export interface TablesOutputs {
  /** Where they are registered: the Glue database, the BigQuery dataset (`project.dataset`); absent on Azure. */
  readonly catalog?: pulumi.Output<string>;
  /**
   * Each table by asset: as SQL names it (`trib_dev.orders` in Athena, `project.trib_dev.orders` in
   * BigQuery), or on Azure its location (`abfss://…`) for an Iceberg reader.
   */
  readonly tables: Record<string, pulumi.Output<string>>;
  /**
   * The read-only query identity, which reads the curated tables only: an IAM role's ARN (AWS), a service
   * account's e-mail (GCP), a user-assigned managed identity's client id (Azure).
   */
  readonly reader: pulumi.Output<string>;
  /** Where queries run: the Athena workgroup (AWS); absent elsewhere. */
  readonly workgroup?: pulumi.Output<string>;
}

export interface CloudAdapter {
  readonly cloud: Cloud;
  /**
   * Register the plan's resources with Pulumi (under the current stack) and return the outputs;
   * `secrets` are the configured secrets' values (the others are generated or refused by the plan);
   * `code` is the functions' bundle of each architecture (checked against the plan: see
   * bundle/locate.ts).
   * Asynchronous because it constructs the functions a bounded number at a time (`registerEach`).
   */
  deploy(plan: DeploymentPlan, secrets: SecretValues, code: FunctionCodes): Promise<StackOutputs>;
}

/**
 * How many of the graph's function components (a dozen resources each) may be registering at once.
 * Pulumi's SDK holds a resource's outputs, their promises and its request until the engine has answered
 * its registration, about 200 KB a resource; constructing every function at once held a whole graph's
 * (5.5 GB for 2,000 assets: past Node's default heap, and garbage collection took most of the run).
 * A hundred leaves the engine over a thousand operations to run in parallel.
 */
export const REGISTERING_AT_ONCE = 100;

/**
 * `construct` a component for each item, in order, with at most `atOnce` of them registering at a time:
 * the next waits until the component and every resource under it has been registered (its URN known),
 * which the engine answers at once in a preview, and when the resource exists in an update. `construct`
 * must pass `opts` to the component (they count its resources), and may not need a later item's.
 */
export async function registerEach<T>(
  items: readonly T[],
  construct: (item: T, opts: pulumi.ComponentResourceOptions) => pulumi.ComponentResource,
  atOnce = REGISTERING_AT_ONCE,
): Promise<void> {
  let registering = 0;
  let room: (() => void) | undefined;
  for (const item of items) {
    if (registering >= atOnce) await new Promise<void>((resolve) => (room = resolve));
    const resources: pulumi.Resource[] = [];
    // A transformation sees the component and each resource under it as it is constructed.
    const count: pulumi.ResourceTransformation = ({ resource }) => void resources.push(resource);
    construct(item, { transformations: [count] });
    registering++;
    pulumi.all(resources.map((r) => r.urn)).apply(() => {
      registering--;
      room?.();
      room = undefined;
    });
  }
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

/**
 * The catalog reference an adapter gives a function whose plan asks for one (`{ catalog }` in its
 * environment): every function that commits tables on a cloud with a catalog gets it.
 */
export function catalogVariable(catalog: string | undefined, id: string): string {
  if (catalog === undefined) throw new Error(`function ${id} commits tables but was given no catalog`);
  return catalog;
}
