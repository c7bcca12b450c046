/**
 * `tributary:aws:Bus`: an EventBridge bus. Consumers subscribe in their own component (a rule into
 * their queue), so the bus knows nothing of who listens: the graph's edges decide, function by function.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { BusPlan } from "../plan/types.ts";

export interface BusArgs {
  readonly bus: BusPlan;
  readonly tags: Record<string, string>;
}

export class Bus extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: BusArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Bus", name, {}, opts);
    const bus = new aws.cloudwatch.EventBus(
      name,
      {
        name: args.bus.name,
        description: `Tributary ${args.bus.id}`,
        tags: { ...args.tags, "tributary:bus": args.bus.id },
      },
      { parent: this },
    );
    this.name = bus.name;
    this.arn = bus.arn;
    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
