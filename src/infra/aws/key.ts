/**
 * `tributary:aws:DataKey`: the stack's customer-managed KMS key for its stores, rotated yearly. The key
 * policy is AWS's default (the account administers the key; IAM policies grant its use), so every use
 * is granted explicitly, per function, in that function's role policy.
 *
 * Deleting the key makes every object it encrypted unreadable, so it is `protect` and `retainOnDelete`
 * while any store holds data worth keeping; in a stack whose stores are all disposable it is neither, and
 * tagged `tributary:disposable`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DISPOSABLE_TAG } from "../plan/types.ts";

export interface DataKeyArgs {
  readonly description: string;
  /** Alias, e.g. "alias/trib-dev-data". */
  readonly alias: string;
  readonly tags: Record<string, string>;
  /** Whether the key is protected and kept: while any store is (`protectsShared`). */
  readonly protect: boolean;
}

export class DataKey extends pulumi.ComponentResource {
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: DataKeyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:DataKey", name, {}, opts);
    const keep = args.protect;
    const key = new aws.kms.Key(
      name,
      {
        description: args.description,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        tags: keep ? args.tags : { ...args.tags, [DISPOSABLE_TAG]: "true" },
      },
      { parent: this, ...(keep ? { protect: true, retainOnDelete: true } : {}) },
    );
    new aws.kms.Alias(`${name}-alias`, { name: args.alias, targetKeyId: key.keyId }, { parent: this });
    this.arn = key.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
