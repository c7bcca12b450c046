/**
 * `tributary:gcp:Stream`: the Pub/Sub topic of one CDC source, as Debezium Server's Pub/Sub sink writes it
 * (`debezium.sink.type=pubsub`, ordering on: the record key the message's ordering key, the value the
 * change event as JSON text), and the service account that sink runs as.
 *
 * - Encrypted with the stack's Cloud KMS key (CMEK): Pub/Sub encrypts with it through the project's Pub/Sub
 *   service agent, which the key grants (key.ts, `agents`); the topic waits for that grant.
 * - Messages are kept a week on the topic as well as on the subscription, so a subscription can be
 *   sought back to a time and a dead-lettered message's neighbours read again.
 * - The producer service account may publish to this topic and nothing else (no project role); how a
 *   message is ordered is the publisher's (Debezium Server's `ordering.enabled`, on by default), how it is
 *   delivered in order the subscription's (the function's trigger, function.ts).
 */
import * as crypto from "node:crypto";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { StreamPlan } from "../plan/types.ts";
import type { Apis } from "./apis.ts";
import { accountId } from "./grants.ts";
import { labelsOf } from "./labels.ts";

export interface StreamArgs {
  readonly stream: StreamPlan;
  readonly project: string;
  /** The stack's Cloud KMS key (`projects/…/cryptoKeys/…`). */
  readonly keyId: pulumi.Input<string>;
  /** The key's grants: a CMEK topic cannot be created before Pub/Sub's agent may use the key. */
  readonly dependsOn: readonly pulumi.Resource[];
  readonly tags: Record<string, string>;
  readonly apis: Apis;
}

/** A week, as Pub/Sub writes durations: the stream's retention (StreamPlan.retentionHours). */
export function retention(hours: number): string {
  return `${hours * 3600}s`;
}

const sha1 = (s: string) => crypto.createHash("sha1").update(s).digest("hex");

export class Stream extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  /** `projects/<project>/topics/<name>`. */
  readonly id: pulumi.Output<string>;
  /** The service account Debezium Server's Pub/Sub sink runs as: it may publish to this topic alone. */
  readonly producer: pulumi.Output<string>;

  constructor(name: string, args: StreamArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Stream", name, {}, opts);
    const s = args.stream;
    const labels = labelsOf(args.tags, { "tributary:asset": s.source, "tributary:role": "stream" });
    const topic = new gcp.pubsub.Topic(
      name,
      {
        name: s.name,
        project: args.project,
        kmsKeyName: args.keyId,
        messageRetentionDuration: retention(s.retentionHours),
        labels,
      },
      { parent: this, dependsOn: [...args.dependsOn, ...args.apis.of("pubsub")] },
    );
    const producer = new gcp.serviceaccount.Account(
      `${name}-producer`,
      {
        project: args.project,
        accountId: accountId(`${name}-producer`, sha1),
        displayName: `Debezium Server for ${s.table}`.slice(0, 100),
        description: `Debezium Server's Pub/Sub sink for ${s.table}: publishes to ${s.name} only.`,
      },
      { parent: this, dependsOn: args.apis.of("iam") },
    );
    new gcp.pubsub.TopicIAMMember(
      `${name}-producer-publish`,
      { project: args.project, topic: topic.name, role: "roles/pubsub.publisher", member: producer.member },
      { parent: this, dependsOn: args.apis.of("pubsub") },
    );
    this.name = topic.name;
    this.id = topic.id;
    this.producer = producer.email;
    this.registerOutputs({ name: this.name, id: this.id, producer: this.producer });
  }
}
