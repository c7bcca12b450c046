/**
 * `tributary:aws:Stream`: the Kinesis data stream of one CDC source, as Debezium Server's Kinesis sink
 * writes it (`debezium.sink.type=kinesis`: the record key the partition key, the value the change event as
 * JSON text), and the producer role that sink runs as.
 *
 * - Encrypted with the stack's KMS key (server-side encryption; readers need kms:Decrypt on it, which a
 *   function's role has, and the producer kms:GenerateDataKey, through Kinesis only).
 * - On-demand capacity: CDC traffic is bursty and unknown per table (an initial snapshot writes the whole
 *   table at once, a bulk update thousands of rows), and an on-demand stream takes 4 MB/s or 4,000
 *   records/s from the start and doubles with its peak, where one provisioned shard (1 MB/s, 1,000
 *   records/s) would throttle the snapshot and need sizing per table. docs/streams.md says what it costs.
 * - Kept a week ({@link StreamPlan.retentionHours}): a batch that fails every retry is reported to the
 *   function's on-failure queue by its shard and sequence numbers, and can be read again while the stream
 *   keeps it.
 *
 * The producer role trusts the stack's account (whose IAM decides which workload, an ECS task role or an
 * EKS service account, may assume it) and may put records on this stream and nothing else.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StreamPlan } from "../plan/types.ts";
import { assumeFromAccount, producerPolicy } from "./grants.ts";

export interface StreamArgs {
  readonly stream: StreamPlan;
  /** The stack's KMS key. */
  readonly keyArn: pulumi.Input<string>;
  readonly region: string;
  readonly tags: Record<string, string>;
}

export class Stream extends pulumi.ComponentResource {
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;
  /** The role Debezium Server's Kinesis sink assumes: it may send to this stream alone. */
  readonly producerRoleArn: pulumi.Output<string>;

  constructor(name: string, args: StreamArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Stream", name, {}, opts);
    const parent = { parent: this };
    const s = args.stream;
    const tags = { ...args.tags, "tributary:asset": s.source, "tributary:stream": s.name };
    const stream = new aws.kinesis.Stream(
      name,
      {
        name: s.name,
        streamModeDetails: { streamMode: "ON_DEMAND" },
        retentionPeriod: s.retentionHours,
        encryptionType: "KMS",
        kmsKeyId: args.keyArn,
        tags,
      },
      parent,
    );
    // The key's account is the stack's: its ARN says which, with no provider call.
    const account = pulumi.output(args.keyArn).apply((arn) => arn.split(":")[4] ?? "");
    const role = new aws.iam.Role(
      `${name}-producer`,
      {
        description: `Debezium Server's Kinesis sink for ${s.table}: sends to ${s.name} only`.slice(0, 1000),
        assumeRolePolicy: account.apply((a) => JSON.stringify(assumeFromAccount(a))),
        tags: { ...tags, "tributary:role": "producer" },
      },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-producer-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([stream.arn, args.keyArn])
          .apply(([streamArn, keyArn]) => JSON.stringify(producerPolicy(streamArn, keyArn, args.region))),
      },
      parent,
    );
    this.name = stream.name;
    this.arn = stream.arn;
    this.producerRoleArn = role.arn;
    this.registerOutputs({ name: this.name, arn: this.arn, producerRoleArn: this.producerRoleArn });
  }
}
