/**
 * `tributary:gcp:Secret`: one secret of the graph in Secret Manager, replicated in the stack's region
 * only and encrypted there with the stack's Cloud KMS key (CMEK: the Secret Manager service agent
 * encrypts and decrypts with it, see index.ts), with its value as a version: the configured one, or a
 * key generated on the first deploy. Functions name the version they read (its resource name), so a new
 * value redeploys exactly its readers; each reader's service account may access exactly this secret
 * (infra/gcp/function.ts).
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { SecretPlan } from "../plan/types.ts";
import { type SecretValues, secretValue } from "../secrets.ts";
import type { Apis } from "./apis.ts";
import { labelsOf } from "./labels.ts";

export interface SecretArgs {
  readonly secret: SecretPlan;
  readonly values: SecretValues;
  readonly project: string;
  /** The stack's region: the one replica's location, where its key is. */
  readonly location: string;
  /** The stack's crypto key (`projects/…/cryptoKeys/…`). */
  readonly keyId: pulumi.Input<string>;
  /** The stack's tags, as labels are made of them. */
  readonly tags: Record<string, string>;
  /** What must exist first: the key's grant to the Secret Manager service agent. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
  /** The stack's enabled APIs: the secret and its version wait for Secret Manager's. */
  readonly apis: Apis;
}

export class Secret extends pulumi.ComponentResource {
  /** The secret's id within the project, for IAM bindings. */
  readonly secretId: pulumi.Output<string>;
  /** What a reader's environment names: the version's resource name, `projects/…/secrets/…/versions/N`. */
  readonly reference: pulumi.Output<string>;

  constructor(name: string, args: SecretArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Secret", name, {}, opts);
    const parent = { parent: this };
    const s = args.secret;
    const secret = new gcp.secretmanager.Secret(
      name,
      {
        project: args.project,
        secretId: name,
        replication: {
          userManaged: {
            replicas: [{ location: args.location, customerManagedEncryption: { kmsKeyName: args.keyId } }],
          },
        },
        labels: labelsOf(args.tags, { "tributary:secret": s.name }),
      },
      { ...parent, dependsOn: [...args.dependsOn, ...args.apis.of("secretmanager")] },
    );
    const version = new gcp.secretmanager.SecretVersion(
      `${name}-value`,
      { secret: secret.id, secretData: secretValue(name, s, args.values, this) },
      { ...parent, dependsOn: args.apis.of("secretmanager") },
    );
    this.secretId = secret.secretId;
    this.reference = version.name;
    this.registerOutputs({ secretId: this.secretId, reference: this.reference });
  }
}
