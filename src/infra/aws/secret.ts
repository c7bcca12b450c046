/**
 * `tributary:aws:Secret`: one secret of the graph in Secrets Manager, encrypted with the stack's KMS key,
 * with its value as a version: the configured one, or a key generated on the first deploy. Functions
 * name the version they read (`<arn>#<version id>`), so a new value redeploys exactly its readers, and
 * each reader's role may get exactly this secret's value (infra/aws/grants.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { SecretPlan } from "../plan/types.ts";
import { type SecretValues, secretValue } from "../secrets.ts";

export interface SecretArgs {
  readonly secret: SecretPlan;
  /** The configured secrets' values (the program's `tributary:secrets`). */
  readonly values: SecretValues;
  /** The stack's KMS key, which encrypts the secret. */
  readonly keyArn: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** Days Secrets Manager keeps a deleted secret recoverable: its longest. */
export const RECOVERY_WINDOW_DAYS = 30;

export class Secret extends pulumi.ComponentResource {
  readonly arn: pulumi.Output<string>;
  /** What a reader's environment names: the secret's ARN and the version it reads, `<arn>#<version id>`. */
  readonly reference: pulumi.Output<string>;

  constructor(name: string, args: SecretArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Secret", name, {}, opts);
    const parent = { parent: this };
    const s = args.secret;
    const secret = new aws.secretsmanager.Secret(
      name,
      {
        description: `${s.description} (read by ${s.readers.join(", ")})`.slice(0, 2048),
        kmsKeyId: args.keyArn,
        recoveryWindowInDays: RECOVERY_WINDOW_DAYS,
        tags: { ...args.tags, "tributary:secret": s.name },
      },
      parent,
    );
    const version = new aws.secretsmanager.SecretVersion(
      `${name}-value`,
      { secretId: secret.id, secretString: secretValue(name, s, args.values, this) },
      parent,
    );
    this.arn = secret.arn;
    this.reference = pulumi.interpolate`${secret.arn}#${version.versionId}`;
    this.registerOutputs({ arn: this.arn, reference: this.reference });
  }
}
