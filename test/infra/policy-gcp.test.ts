/**
 * The GCP checks of the security rules, on the synthesised staging-gcp stack and broken variants of it.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/infra/policy/read.ts";
import { gcpChecks, isPrefixCondition } from "../../src/infra/policy/rules/gcp.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type ResourceRecord, synth } from "../../src/infra/synth/index.ts";
import { edited, GUARDED, reoptioned } from "./synthesised.ts";

/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
let base: ResourceRecord[];

beforeAll(async () => {
  base = (await synth({ root: example, stack: "staging-gcp" })).resources;
}, 120_000);

const TYPES = {
  bucket: "gcp:storage/bucket:Bucket",
  member: "gcp:storage/bucketIAMMember:BucketIAMMember",
  subscription: "gcp:pubsub/subscription:Subscription",
  fn: "gcp:cloudfunctionsv2/function:Function",
  topicMember: "gcp:pubsub/topicIAMMember:TopicIAMMember",
} as const;

const edit = (
  name: string,
  type: string,
  change: (inputs: Record<string, unknown>) => Record<string, unknown>,
) => edited(base, name, type, change);
const urn = (name: string, type: string) => base.find((r) => r.name === name && r.type === type)!.urn;
const rules = (rs: readonly ResourceRecord[]) => [...new Set(evaluate(rs).map((v) => v.policy))];

describe("the GCP checks", () => {
  it("pass on the synthesised stack, and every GCP rule has a check", () => {
    expect(evaluate(base)).toEqual([]);
    expect(Object.keys(gcpChecks).sort()).toEqual([
      "apis-enabled",
      "dead-letter-queue",
      "no-public-access",
      "no-wildcard-grants",
      "raw-append-only",
      "required-tags",
      "store-encrypted-with-customer-key",
      "stores-survive-changes",
    ]);
  });

  it("a bucket without its customer key fails store-encrypted-with-customer-key", () => {
    const rs = edit("trib-staging-raw", TYPES.bucket, ({ encryption: _, ...i }) => i);
    expect(evaluate(rs)).toEqual([
      {
        policy: "store-encrypted-with-customer-key",
        urn: urn("trib-staging-raw", TYPES.bucket),
        message:
          'bucket "trib-staging-raw" is not encrypted with the stack\'s customer-managed key; set ' +
          "encryption.defaultKmsKeyName to the Cloud KMS key (and grant the Cloud Storage service agent " +
          "encrypt/decrypt on it)",
      },
    ]);
  });

  it("a bucket with ACLs or without public access prevention fails no-public-access", () => {
    const rs = edit("trib-staging-curated", TYPES.bucket, (i) => ({
      ...i,
      uniformBucketLevelAccess: false,
      publicAccessPrevention: "inherited",
    }));
    expect(evaluate(rs).map((v) => v.message)).toEqual([
      'bucket "trib-staging-curated" allows object ACLs; set uniformBucketLevelAccess to true',
      'bucket "trib-staging-curated" has publicAccessPrevention "inherited"; set it to "enforced"',
    ]);
  });

  it("a grant to allUsers fails no-public-access", () => {
    const rs = edit("trib-staging-curated-orders-publish", TYPES.topicMember, (i) => ({
      ...i,
      member: "allUsers",
    }));
    expect(rules(rs)).toEqual(["no-public-access"]);
  });

  it("an object binding without a prefix condition fails no-wildcard-grants", () => {
    const name = "trib-staging-curated-orders-raw-read";
    const rs = edit(name, TYPES.member, ({ condition: _, ...i }) => i);
    expect(evaluate(rs)).toEqual([
      {
        policy: "no-wildcard-grants",
        urn: urn(name, TYPES.member),
        message:
          'bucket IAM member "trib-staging-curated-orders-raw-read" grants "roles/storage.objectViewer" on every ' +
          'object of the bucket; add a condition naming the exact prefixes, e.g. resource.name.startsWith("projects/_/buckets/<bucket>/objects/<prefix>/")',
      },
    ]);
    const wholeBucket = edit(name, TYPES.member, (i) => ({
      ...i,
      condition: {
        title: "everything",
        expression: 'resource.name.startsWith("projects/_/buckets/trib-staging-raw/objects/")',
      },
    }));
    expect(rules(wholeBucket)).toEqual(["no-wildcard-grants"]);
    const admin = edit(name, TYPES.member, (i) => ({ ...i, role: "roles/storage.admin" }));
    // storage.admin also deletes: on these raw/ prefixes that breaks raw-append-only too.
    expect(rules(admin)).toEqual(["no-wildcard-grants", "raw-append-only"]);
  });

  it("a consumer subscription without a dead-letter topic fails dead-letter-queue", () => {
    const name = "trib-staging-curated-orders-trigger";
    expect(rules(edit(name, TYPES.subscription, ({ deadLetterPolicy: _, ...i }) => i))).toEqual([
      "dead-letter-queue",
    ]);
    const few = edit(name, TYPES.subscription, (i) => ({
      ...i,
      deadLetterPolicy: { deadLetterTopic: "projects/p/topics/t", maxDeliveryAttempts: 3 },
    }));
    expect(evaluate(few).map((v) => v.message)).toEqual([
      'subscription "trib-staging-curated-orders-trigger" has maxDeliveryAttempts 3; set deadLetterPolicy with a ' +
        "deadLetterTopic and maxDeliveryAttempts of at least 5",
    ]);
    // The dead-letter subscription itself needs none.
    expect(
      base.find((r) => r.name === "trib-staging-curated-orders-dead-letters" && r.type === TYPES.subscription)
        ?.inputs.deadLetterPolicy,
    ).toBeUndefined();
  });

  it("an Eventarc trigger that does not retry fails dead-letter-queue", () => {
    const rs = edit("trib-staging-curated-orders", TYPES.fn, (i) => ({
      ...i,
      eventTrigger: {
        eventType: "google.cloud.pubsub.topic.v1.messagePublished",
        retryPolicy: "RETRY_POLICY_DO_NOT_RETRY",
      },
    }));
    // An event trigger also needs Eventarc, which the stack does not enable.
    expect(rules(rs)).toEqual(["dead-letter-queue", "apis-enabled"]);
  });

  it("an ingest function that may delete raw history fails raw-append-only", () => {
    const name = "trib-staging-orders-cdc-raw-create";
    expect(base.find((r) => r.name === name)!.inputs).toMatchObject({
      role: "roles/storage.objectCreator",
      condition: {
        expression: 'resource.name.startsWith("projects/_/buckets/trib-staging-raw/objects/raw/orders_cdc/")',
      },
    });
    const rs = edit(name, TYPES.member, (i) => ({ ...i, role: "roles/storage.objectUser" }));
    expect(evaluate(rs)).toEqual([
      {
        policy: "raw-append-only",
        urn: urn(name, TYPES.member),
        message:
          'bucket IAM member "trib-staging-orders-cdc-raw-create" grants "roles/storage.objectUser", which deletes ' +
          'objects, on raw history "raw/orders_cdc/"; ingest only appends: grant "roles/storage.objectCreator" there ' +
          "(the bucket's lifecycle rule expires old events)",
      },
    ]);
    // The whole raw bucket reaches raw/ too.
    const whole = edit(name, TYPES.member, (i) => ({
      ...i,
      role: "roles/storage.objectAdmin",
      condition: {
        title: "all",
        expression: 'resource.name.startsWith("projects/_/buckets/trib-staging-raw/objects/")',
      },
    }));
    expect(rules(whole)).toEqual(["no-wildcard-grants", "raw-append-only"]);
  });

  it("a resource that does not wait for its API, an API left off, or one disabled on destroy fail apis-enabled", () => {
    const fn = urn("trib-staging-curated-orders", TYPES.fn);
    const service = (api: string) => `trib-staging-apis-${api}`;
    const SERVICE = "gcp:projects/service:Service";
    // The function's dependsOn without Cloud Build's service.
    const built = base.map((r) =>
      r.urn === fn
        ? { ...r, dependsOn: r.dependsOn!.filter((u) => u !== urn(service("cloudbuild"), SERVICE)) }
        : r,
    );
    expect(evaluate(built)).toEqual([
      {
        policy: "apis-enabled",
        urn: fn,
        message:
          'function "trib-staging-curated-orders" does not wait for cloudbuild.googleapis.com to be enabled: on a ' +
          "new project it would be created first and fail; put the API's gcp.projects.Service in its dependsOn",
      },
    ]);
    // No Cloud Scheduler service at all: every job names what is missing.
    const off = base.filter((r) => r.name !== service("cloudscheduler"));
    expect(evaluate(off).map((v) => v.message)).toEqual(
      [
        "trib-staging-customer-features-schedule",
        "trib-staging-daily-revenue-schedule",
        "trib-staging-outbox-sweep-schedule",
        "trib-staging-table-maintenance-schedule",
      ].map(
        (job) =>
          `Cloud Scheduler job "${job}" needs cloudscheduler.googleapis.com, which the stack does not enable; ` +
          "add a gcp.projects.Service for it (disableOnDestroy false) and put it in the resource's dependsOn",
      ),
    );
    // The provider's default: destroying the stack would turn Pub/Sub off for the project.
    const disabling = edit(service("pubsub"), SERVICE, ({ disableOnDestroy: _, ...i }) => i);
    expect(evaluate(disabling)).toEqual([
      {
        policy: "apis-enabled",
        urn: urn(service("pubsub"), SERVICE),
        message:
          'API service "trib-staging-apis-pubsub" disables "pubsub.googleapis.com" in the whole project when it ' +
          "leaves the stack (disableOnDestroy true; true is the provider's default); set disableOnDestroy false: " +
          "other workloads of the project, and this stack's own resources while they are deleted, use it",
      },
    ]);
  });

  it("a resource missing required labels fails required-tags", () => {
    const rs = edit("trib-staging-curated-orders", TYPES.fn, (i) => ({
      ...i,
      labels: { owner: "x", "cost-centre": "" },
    }));
    expect(evaluate(rs).map((v) => v.message)).toEqual([
      'function "trib-staging-curated-orders" is missing the required labels "tributary-asset", ' +
        '"tributary-pipeline", "tributary-env", "cost-centre"; set labels with tributary-asset, ' +
        "tributary-pipeline, tributary-env, owner, cost-centre (none empty)",
    ]);
  });

  it("a bucket or key that a stack change may delete fails stores-survive-changes", () => {
    const KEY = "gcp:kms/cryptoKey:CryptoKey";
    let rs = reoptioned(base, "trib-staging-raw", TYPES.bucket, { retainOnDelete: true });
    rs = reoptioned(rs, "trib-staging-data", KEY, { ...GUARDED, replaceOnChanges: ["labels"] });
    expect(evaluate(rs)).toEqual([
      {
        policy: "stores-survive-changes",
        urn: urn("trib-staging-data", KEY),
        message:
          'KMS key "trib-staging-data" sets replaceOnChanges ("labels"), so changing those inputs replaces it ' +
          "and loses every store's data it encrypts; remove replaceOnChanges",
      },
      {
        policy: "stores-survive-changes",
        urn: urn("trib-staging-raw", TYPES.bucket),
        message:
          'bucket "trib-staging-raw" is not protected, so a stack change may delete or replace it and lose ' +
          "its data; keep protect: true and retainOnDelete: true on it, or declare the assets and sources " +
          "whose data it holds disposable: true if that data can be rebuilt or thrown away",
      },
    ]);
  });

  it("a bucket labelled tributary-disposable may go; the key ring is not a store", () => {
    let rs = reoptioned(base, "trib-staging-raw", TYPES.bucket, undefined);
    rs = edited(rs, "trib-staging-raw", TYPES.bucket, (i) => ({
      ...i,
      labels: { ...(i.labels as object), "tributary-disposable": "true" },
    }));
    rs = reoptioned(rs, "trib-staging-data-ring", "gcp:kms/keyRing:KeyRing", undefined);
    expect(evaluate(rs)).toEqual([]);
  });

  it("skips what a preview does not know yet", () => {
    let rs = edit("trib-staging-raw", TYPES.bucket, (i) => ({ ...i, encryption: UNKNOWN, labels: UNKNOWN }));
    rs = rs.map((r) =>
      r.name === "trib-staging-curated-orders-raw-read" && r.type === TYPES.member
        ? { ...r, inputs: { ...r.inputs, condition: UNKNOWN } }
        : r,
    );
    expect(evaluate(rs)).toEqual([]);
  });

  it("accepts only exact prefixes ending in / as conditions", () => {
    expect(isPrefixCondition('resource.name.startsWith("projects/_/buckets/b/objects/raw/x/")')).toBe(true);
    expect(
      isPrefixCondition(
        'resource.name.startsWith("projects/_/buckets/b/objects/a/") || api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("a/")',
      ),
    ).toBe(true);
    expect(isPrefixCondition('resource.name.startsWith("projects/_/buckets/b/objects/raw")')).toBe(false);
    expect(isPrefixCondition('resource.name.startsWith("projects/_/buckets/b/")')).toBe(false);
    expect(isPrefixCondition('resource.name.startsWith("projects/_/buckets/b/objects/a/") || true')).toBe(
      false,
    );
    expect(isPrefixCondition("")).toBe(false);
  });
});
