/**
 * `tributary:gcp:Store`: one Cloud Storage bucket of the storage layout (raw, curated, quarantine) or the
 * stack's deploy-artifacts bucket. Encrypted by default with the stack's customer-managed key, uniform
 * bucket-level access (IAM only, no ACLs), public access prevention enforced, versioned, with a
 * lifecycle. Cloud Storage accepts only TLS, so no bucket policy is needed for it.
 *
 * The data-loss guard: a protected store's bucket is `protect` (no stack change deletes or replaces it)
 * and `retainOnDelete` (removed from the stack, it stays in the project). A disposable one is neither, is
 * labelled `tributary-disposable`, and is `forceDestroy`, so `pulumi destroy` empties and deletes it.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DISPOSABLE_TAG, type StorePlan } from "../plan/types.ts";
import type { Apis } from "./apis.ts";
import { labelKey } from "./labels.ts";

export interface StoreArgs {
  /**
   * The plan's store, or the bucket of deploy artifacts (function sources), protected while any data
   * store is (see `protectsShared`).
   */
  readonly store: StorePlan | { readonly id: "deploy-artifacts"; readonly protect: boolean };
  readonly project: string;
  /** The bucket's location: the stack's region. */
  readonly location: string;
  /** The customer-managed key's resource id. */
  readonly keyId: pulumi.Input<string>;
  readonly labels: Record<string, string>;
  /** What must exist first (the key grant of the Cloud Storage service agent). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** The stack's enabled APIs: the bucket waits for Cloud Storage's. */
  readonly apis: Apis;
}

/** Days an overwritten or deleted version is kept, unless the store's retention says otherwise. */
export const NONCURRENT_DAYS = 30;
/** Coldline bills at least 90 days of storage; a shorter stay there goes to Nearline (30 days). */
const COLDLINE_MIN_DAYS = 90;

export class Store extends pulumi.ComponentResource {
  readonly bucket: gcp.storage.Bucket;
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: StoreArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Store", name, {}, opts);
    const keep = args.store.protect;
    this.bucket = new gcp.storage.Bucket(
      name,
      {
        project: args.project,
        location: args.location.toUpperCase(),
        storageClass: "STANDARD",
        forceDestroy: !keep,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        versioning: { enabled: true },
        encryption: { defaultKmsKeyName: args.keyId },
        lifecycleRules: lifecycle(args.store),
        labels: keep ? args.labels : { ...args.labels, [labelKey(DISPOSABLE_TAG)]: "true" },
      },
      {
        parent: this,
        ...(keep ? { protect: true, retainOnDelete: true } : {}),
        dependsOn: [...(args.dependsOn ?? []), ...args.apis.of("storage")],
      },
    );
    this.name = this.bucket.name;
    this.registerOutputs({ name: this.name });
  }
}

type Rule = gcp.types.input.storage.BucketLifecycleRule;

/**
 * Raw events move to a colder class after `coldAfterDays` (Coldline when they stay there 90 days or more,
 * else Nearline) and are deleted after retention; the quarantine is deleted after retention. Current
 * curated objects are never deleted; overwritten or deleted versions are kept for the curated retention
 * (default 30 days) so a bad run can be undone. Every bucket drops incomplete uploads after a day.
 */
export function lifecycle(store: StoreArgs["store"]): Rule[] {
  const curated = store.id === "curated";
  const retention = "retentionDays" in store ? store.retentionDays : undefined;
  const noncurrentDays = curated ? (retention ?? NONCURRENT_DAYS) : NONCURRENT_DAYS;
  const rules: Rule[] = [
    { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: 1 } },
    {
      action: { type: "Delete" },
      condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: noncurrentDays },
    },
  ];
  const cold = "coldAfterDays" in store ? store.coldAfterDays : undefined;
  if (cold !== undefined) {
    const stay = retention === undefined ? Number.POSITIVE_INFINITY : retention - cold;
    rules.push({
      action: { type: "SetStorageClass", storageClass: stay >= COLDLINE_MIN_DAYS ? "COLDLINE" : "NEARLINE" },
      condition: { age: cold, withState: "LIVE", matchesStorageClasses: ["STANDARD"] },
    });
  }
  if (!curated && retention !== undefined) {
    rules.push({ action: { type: "Delete" }, condition: { age: retention, withState: "LIVE" } });
  }
  return rules;
}
