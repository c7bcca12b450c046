/**
 * `tributary:gcp:Bus`: a Pub/Sub topic. Consumers subscribe in their own component (a filtered push
 * subscription with its dead-letter topic), so the topic knows nothing of who listens: the graph's
 * edges decide, function by function. Messages carry the attribute `type` (MESSAGES.assetMaterialised or
 * MESSAGES.sourceEvents) and `asset` or `source`, which subscriptions filter on.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { BusPlan } from "../plan/types.ts";
import type { Apis } from "./apis.ts";
import { labelsOf } from "./labels.ts";

export interface BusArgs {
  readonly bus: BusPlan;
  readonly project: string;
  readonly tags: Record<string, string>;
  /** The stack's enabled APIs: the topic waits for Pub/Sub's. */
  readonly apis: Apis;
}

export class Bus extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  /** `projects/<project>/topics/<name>`. */
  readonly id: pulumi.Output<string>;

  constructor(name: string, args: BusArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Bus", name, {}, opts);
    const topic = new gcp.pubsub.Topic(
      name,
      {
        name: args.bus.name,
        project: args.project,
        labels: labelsOf(args.tags, { "tributary:bus": args.bus.id }),
      },
      { parent: this, dependsOn: args.apis.of("pubsub") },
    );
    this.name = topic.name;
    this.id = topic.id;
    this.registerOutputs({ name: this.name, id: this.id });
  }
}
