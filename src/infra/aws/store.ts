/**
 * `tributary:aws:Store`: one S3 bucket of the storage layout (raw, curated, quarantine), the stack's
 * access-log bucket, or its query results' bucket (Athena's, query.ts). Encrypted with the stack's customer-managed key (the log bucket with SSE-S3: S3
 * server access logging cannot deliver to SSE-KMS buckets), versioned, ACLs off, public access blocked,
 * TLS only and a lifecycle. The log store turns on the access logging of the buckets it receives logs
 * from, so each data bucket exists before the log bucket's policy names it.
 *
 * The data-loss guard: a protected store's bucket is `protect` (no stack change deletes or replaces it)
 * and `retainOnDelete` (removed from the stack, it stays in the account). A disposable one is neither,
 * is tagged `tributary:disposable`, and is `forceDestroy`, so `pulumi destroy` empties and deletes it.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DISPOSABLE_TAG, type StorePlan } from "../plan/types.ts";
import { denyInsecureTransport, document, type Statement } from "./grants.ts";

export interface StoreArgs {
  /**
   * The plan's store, or "access-logs" for the bucket the others log to (protected while any data store
   * is: see `protectsShared`).
   */
  readonly store:
    | StorePlan
    | { readonly id: "access-logs"; readonly retentionDays: number; readonly protect: boolean }
    | { readonly id: "query-results"; readonly retentionDays: number; readonly protect: false };
  /** ARN of the customer-managed key (every store but the access logs). */
  readonly keyArn?: pulumi.Input<string>;
  /** The buckets that log their access here (the log store only): it turns their logging on. */
  readonly logged?: readonly {
    readonly id: string;
    readonly name: pulumi.Input<string>;
    readonly arn: pulumi.Input<string>;
  }[];
  readonly tags: Record<string, string>;
}

/** Days an overwritten or deleted version is kept, unless the store's retention says otherwise. */
export const NONCURRENT_DAYS = 30;

export class Store extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: StoreArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Store", name, {}, opts);
    const id = args.store.id;
    const isLog = id === "access-logs";
    if (!isLog && !args.keyArn) throw new Error(`Store "${name}": a data store needs keyArn.`);
    const logged = args.logged ?? [];
    const keep = args.store.protect;
    const tags = { ...args.tags, "tributary:store": id, ...(keep ? {} : { [DISPOSABLE_TAG]: "true" }) };
    const parent = { parent: this };
    const bucket = new aws.s3.Bucket(
      name,
      { forceDestroy: !keep, tags },
      { ...parent, ...(keep ? { protect: true, retainOnDelete: true } : {}) },
    );
    const b = bucket.bucket;

    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket: b, rule: { objectOwnership: "BucketOwnerEnforced" } },
      parent,
    );
    const block = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: b,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket: b, versioningConfiguration: { status: "Enabled" } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: b,
        rules: [
          isLog
            ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }
            : {
                applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: args.keyArn },
                bucketKeyEnabled: true,
              },
        ],
      },
      parent,
    );

    const policy = pulumi.all([bucket.arn, pulumi.all(logged.map((l) => l.arn))]).apply(([arn, sources]) => {
      const statements: Statement[] = [denyInsecureTransport(arn)];
      if (sources.length > 0) {
        // The logging service may write each logged bucket's logs under its own prefix, and only those.
        statements.push({
          Sid: "AllowAccessLogDelivery",
          Effect: "Allow",
          Principal: { Service: "logging.s3.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: logged.map((l) => `${arn}/${l.id}/*`),
          Condition: { ArnEquals: { "aws:SourceArn": sources } },
        });
      }
      return JSON.stringify(document(statements));
    });
    // After the public access block, so the policy is never briefly evaluated without it.
    const bucketPolicy = new aws.s3.BucketPolicy(
      `${name}-policy`,
      { bucket: b, policy },
      { ...parent, dependsOn: [block] },
    );

    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      { bucket: b, rules: lifecycle(args.store) },
      parent,
    );
    for (const l of logged) {
      new aws.s3.BucketLogging(
        `${name}-${l.id}`,
        { bucket: l.name, targetBucket: b, targetPrefix: `${l.id}/` },
        { ...parent, dependsOn: [bucketPolicy] },
      );
    }

    this.bucket = bucket;
    this.name = b;
    this.arn = bucket.arn;
    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}

type Rule = aws.types.input.s3.BucketLifecycleConfigurationRule;

/**
 * Raw events move to Glacier Instant Retrieval after `coldAfterDays` and expire after retention; the
 * quarantine and query results expire after retention (overwritten query results after a day). Curated objects never expire while current (a partition not
 * rematerialised for a year is still the truth); files `tributary gc` removed, like every overwritten or
 * deleted version, are kept for the curated retention (default 30 days) so a bad run can be undone.
 * Every store drops incomplete uploads after a day.
 */
export function lifecycle(store: StoreArgs["store"]): Rule[] {
  const all = { filter: {}, status: "Enabled" } as const;
  const curated = store.id === "curated";
  const noncurrentDays = curated
    ? (store.retentionDays ?? NONCURRENT_DAYS)
    : store.id === "query-results"
      ? 1
      : NONCURRENT_DAYS;
  const rules: Rule[] = [
    { ...all, id: "abort-incomplete-uploads", abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
    { ...all, id: "expire-noncurrent-versions", noncurrentVersionExpiration: { noncurrentDays } },
  ];
  const cold = "coldAfterDays" in store ? store.coldAfterDays : undefined;
  if (cold !== undefined) {
    rules.push({
      ...all,
      id: "move-to-cold-tier",
      transitions: [{ days: cold, storageClass: "GLACIER_IR" }],
    });
  }
  if (!curated && store.retentionDays !== undefined) {
    rules.push({ ...all, id: "expire-after-retention", expiration: { days: store.retentionDays } });
  }
  return rules;
}
