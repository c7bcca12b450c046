/**
 * The security rules' checks of Google Cloud resources, by rule name; `rules.ts` runs them with the AWS
 * checks of the same rule.
 *
 *   - store-encrypted-with-customer-key: every bucket names a default Cloud KMS key.
 *   - no-public-access: every bucket has uniform bucket-level access and public access prevention
 *     "enforced"; no IAM member or binding names `allUsers` or `allAuthenticatedUsers`.
 *   - no-wildcard-grants: object-level bucket bindings (roles/storage.object*) carry a condition that is
 *     nothing but exact object-name or list prefixes (ending in "/"); no basic role (owner, editor,
 *     viewer) nor any `*.admin` role is granted by a member resource.
 *   - dead-letter-queue: every Pub/Sub subscription but the dead-letter ones (label
 *     `tributary-role: dead-letter`) has a dead-letter topic and at least 5 delivery attempts; a gen2
 *     function's Eventarc trigger retries (RETRY_POLICY_RETRY).
 *   - required-tags: every labelled type carries the five required labels, none empty.
 *   - stores-survive-changes: every bucket and Cloud KMS key is protected and retained on delete, and not
 *     deleted before its replacement, unless labelled `tributary-disposable: "true"`.
 *   - raw-append-only: no bucket binding of a role that deletes objects (objectUser, objectAdmin,
 *     admin, legacy bucket owner/writer) has a condition reaching `raw/` prefixes.
 *   - apis-enabled: every API a resource needs (infra/gcp/services.ts) is enabled by a
 *     `gcp.projects.Service` of the stack with disableOnDestroy false, and the resource depends on it.
 * Cloud Storage accepts only TLS and Cloud Logging keeps logs for a bounded time by default, so
 * tls-only and log-retention have nothing to check here.
 */
import { labelKey } from "../../gcp/labels.ts";
import { APIS, apisOf } from "../../gcp/services.ts";
import { DISPOSABLE_TAG } from "../../plan/types.ts";
import type { ResourceRecord } from "../../synth/record.ts";
import { at, UNKNOWN } from "../read.ts";
import { KEY_LOSS, KEY_REMEDY, marker, STORE_LOSS, STORE_REMEDY, survivalProblems } from "../survive.ts";
import type { CloudChecks, Violation } from "./common.ts";

export const GCP_TYPES = {
  bucket: "gcp:storage/bucket:Bucket",
  bucketIamMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  bucketIamBinding: "gcp:storage/bucketIAMBinding:BucketIAMBinding",
  cryptoKey: "gcp:kms/cryptoKey:CryptoKey",
  topic: "gcp:pubsub/topic:Topic",
  subscription: "gcp:pubsub/subscription:Subscription",
  function: "gcp:cloudfunctionsv2/function:Function",
  alertPolicy: "gcp:monitoring/alertPolicy:AlertPolicy",
  notificationChannel: "gcp:monitoring/notificationChannel:NotificationChannel",
  service: "gcp:projects/service:Service",
  dataset: "gcp:bigquery/dataset:Dataset",
  table: "gcp:bigquery/table:Table",
} as const;

/** Label keys every labelled resource carries. */
export const REQUIRED_GCP_LABELS = [
  "tributary-asset",
  "tributary-pipeline",
  "tributary-env",
  "owner",
  "cost-centre",
] as const;

/** Types that take labels, and the input that holds them. */
export const LABELLED_TYPES: Readonly<Record<string, string>> = {
  [GCP_TYPES.bucket]: "labels",
  [GCP_TYPES.cryptoKey]: "labels",
  [GCP_TYPES.topic]: "labels",
  [GCP_TYPES.subscription]: "labels",
  [GCP_TYPES.function]: "labels",
  [GCP_TYPES.alertPolicy]: "userLabels",
  [GCP_TYPES.notificationChannel]: "userLabels",
  [GCP_TYPES.dataset]: "labels",
  [GCP_TYPES.table]: "labels",
};

const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];
/** Predefined roles with storage.objects.delete. */
const DELETING_ROLES = [
  "roles/storage.objectUser",
  "roles/storage.objectAdmin",
  "roles/storage.admin",
  "roles/storage.legacyBucketOwner",
  "roles/storage.legacyBucketWriter",
];
const BASIC_ROLES = ["roles/owner", "roles/editor", "roles/viewer"];

const isIamMember = (type: string) => /^gcp:[a-z0-9]+\/[A-Za-z0-9]*I[Aa][Mm](Member|Binding):/.test(type);

const KINDS: Record<string, string> = {
  [GCP_TYPES.bucket]: "bucket",
  [GCP_TYPES.bucketIamMember]: "bucket IAM member",
  [GCP_TYPES.cryptoKey]: "KMS key",
  [GCP_TYPES.topic]: "topic",
  [GCP_TYPES.subscription]: "subscription",
  [GCP_TYPES.function]: "function",
  [GCP_TYPES.alertPolicy]: "alert policy",
  [GCP_TYPES.notificationChannel]: "notification channel",
  [GCP_TYPES.service]: "API service",
  [GCP_TYPES.dataset]: "BigQuery dataset",
  [GCP_TYPES.table]: "BigQuery table",
  "gcp:cloudscheduler/job:Job": "Cloud Scheduler job",
};
const label = (r: ResourceRecord) => `${KINDS[r.type] ?? r.type} "${r.name}"`;
const quote = (v: unknown) => JSON.stringify(v) ?? String(v);

function check(
  policy: string,
  body: (resources: readonly ResourceRecord[], report: (r: ResourceRecord, message: string) => void) => void,
): (resources: readonly ResourceRecord[]) => Violation[] {
  return (resources) => {
    const found: Violation[] = [];
    body(resources, (r, message) => found.push({ policy, urn: r.urn, message }));
    // Registration order, as the AWS checks report.
    const index = new Map(resources.map((r, i) => [r.urn, i]));
    return found
      .map((v, seq) => ({ v, seq }))
      .sort((a, b) => (index.get(a.v.urn) ?? -1) - (index.get(b.v.urn) ?? -1) || a.seq - b.seq)
      .map(({ v }) => v);
  };
}

const of = (resources: readonly ResourceRecord[], type: string) => resources.filter((r) => r.type === type);

/** A term of a prefix condition: an object-name prefix, or a list-request prefix; the prefix non-empty, ending in "/". */
const OBJECT_TERM =
  /^resource\.name\.startsWith\("projects\/_\/buckets\/[a-z0-9._-]+\/objects\/([^"\\*]+\/)"\)$/;
const LIST_TERM =
  /^api\.getAttribute\("storage\.googleapis\.com\/objectListPrefix", ""\)\.startsWith\("([^"\\*]+\/)"\)$/;

/** Whether a condition expression is nothing but exact prefix terms joined by `||`. */
export function isPrefixCondition(expression: string): boolean {
  const terms = expression.split(" || ").map((t) => t.trim());
  return terms.length > 0 && terms.every((t) => OBJECT_TERM.test(t) || LIST_TERM.test(t));
}

export const gcpChecks: CloudChecks = {
  "store-encrypted-with-customer-key": check("store-encrypted-with-customer-key", (resources, report) => {
    for (const b of of(resources, GCP_TYPES.bucket)) {
      const key = at(b.inputs, "encryption", "defaultKmsKeyName");
      if (key === UNKNOWN) continue;
      if (typeof key !== "string" || key.trim() === "") {
        report(
          b,
          `${label(b)} is not encrypted with the stack's customer-managed key; set encryption.defaultKmsKeyName ` +
            `to the Cloud KMS key (and grant the Cloud Storage service agent encrypt/decrypt on it)`,
        );
      }
    }
  }),
  "no-public-access": check("no-public-access", (resources, report) => {
    for (const b of of(resources, GCP_TYPES.bucket)) {
      const uniform = b.inputs["uniformBucketLevelAccess"];
      if (uniform !== UNKNOWN && uniform !== true) {
        report(b, `${label(b)} allows object ACLs; set uniformBucketLevelAccess to true`);
      }
      const prevention = b.inputs["publicAccessPrevention"];
      if (prevention !== UNKNOWN && prevention !== "enforced") {
        report(
          b,
          `${label(b)} has publicAccessPrevention ${quote(prevention ?? null)}; set it to "enforced"`,
        );
      }
    }
    for (const r of resources) {
      if (!isIamMember(r.type)) continue;
      const members = [
        r.inputs["member"],
        ...(Array.isArray(r.inputs["members"]) ? r.inputs["members"] : []),
      ];
      const open = members.filter((m) => typeof m === "string" && PUBLIC_MEMBERS.includes(m));
      if (open.length > 0) {
        report(
          r,
          `${label(r)} grants ${quote(r.inputs["role"])} to ${open.map(quote).join(", ")}; grant it to the ` +
            `service accounts that need it`,
        );
      }
    }
  }),
  "no-wildcard-grants": check("no-wildcard-grants", (resources, report) => {
    for (const r of resources) {
      if (!isIamMember(r.type)) continue;
      const role = r.inputs["role"];
      if (typeof role === "string" && (BASIC_ROLES.includes(role) || /\.admin$|Admin$/.test(role))) {
        report(r, `${label(r)} grants the broad role ${quote(role)}; grant a narrower predefined role`);
      }
    }
    for (const r of [
      ...of(resources, GCP_TYPES.bucketIamMember),
      ...of(resources, GCP_TYPES.bucketIamBinding),
    ]) {
      const role = r.inputs["role"];
      if (typeof role !== "string" || !role.startsWith("roles/storage.object")) continue;
      const condition = r.inputs["condition"];
      if (condition === UNKNOWN) continue;
      const expression = at(condition, "expression");
      if (expression === UNKNOWN) continue;
      const fix =
        'add a condition naming the exact prefixes, e.g. resource.name.startsWith("projects/_/buckets/<bucket>/objects/<prefix>/")';
      if (typeof expression !== "string" || expression.trim() === "") {
        report(r, `${label(r)} grants ${quote(role)} on every object of the bucket; ${fix}`);
      } else if (!isPrefixCondition(expression)) {
        report(
          r,
          `${label(r)} grants ${quote(role)} under the condition ${quote(expression)}, which is not a list of ` +
            `exact object prefixes ending in "/"; ${fix}`,
        );
      }
    }
  }),
  "dead-letter-queue": check("dead-letter-queue", (resources, report) => {
    for (const s of of(resources, GCP_TYPES.subscription)) {
      const role = at(s.inputs, "labels", "tributary-role");
      if (role === UNKNOWN || role === "dead-letter") continue;
      const policy = s.inputs["deadLetterPolicy"];
      if (policy === UNKNOWN) continue;
      const topic = at(policy, "deadLetterTopic");
      const fix = "set deadLetterPolicy with a deadLetterTopic and maxDeliveryAttempts of at least 5";
      if (topic !== UNKNOWN && (typeof topic !== "string" || topic === "")) {
        report(s, `${label(s)} has no dead-letter topic; ${fix}`);
        continue;
      }
      const attempts = at(policy, "maxDeliveryAttempts");
      if (attempts !== UNKNOWN && !(typeof attempts === "number" && attempts >= 5)) {
        report(s, `${label(s)} has maxDeliveryAttempts ${quote(attempts ?? null)}; ${fix}`);
      }
    }
    for (const f of of(resources, GCP_TYPES.function)) {
      const trigger = f.inputs["eventTrigger"];
      if (trigger === undefined || trigger === UNKNOWN) continue;
      const retry = at(trigger, "retryPolicy");
      if (retry !== UNKNOWN && retry !== "RETRY_POLICY_RETRY") {
        report(
          f,
          `${label(f)} drops events its handler fails on; set eventTrigger.retryPolicy to "RETRY_POLICY_RETRY" ` +
            `and give the trigger's subscription a dead-letter topic`,
        );
      }
    }
  }),
  "required-tags": check("required-tags", (resources, report) => {
    for (const r of resources) {
      const input = LABELLED_TYPES[r.type];
      if (!input) continue;
      const labels = r.inputs[input];
      if (labels === UNKNOWN) continue;
      const missing = REQUIRED_GCP_LABELS.filter((k) => {
        const v = at(labels, k);
        return v !== UNKNOWN && !(typeof v === "string" && v.trim() !== "");
      });
      if (missing.length > 0) {
        report(
          r,
          `${label(r)} is missing the required ${missing.length === 1 ? "label" : "labels"} ` +
            `${missing.map(quote).join(", ")}; set ${input} with ${REQUIRED_GCP_LABELS.join(", ")} (none empty)`,
        );
      }
    }
  }),
  "apis-enabled": check("apis-enabled", (resources, report) => {
    const services = of(resources, GCP_TYPES.service);
    for (const s of services) {
      const disable = s.inputs["disableOnDestroy"];
      if (disable !== UNKNOWN && disable !== false) {
        report(
          s,
          `${label(s)} disables ${quote(s.inputs["service"])} in the whole project when it leaves the stack ` +
            `(disableOnDestroy ${quote(disable ?? true)}; true is the provider's default); set disableOnDestroy ` +
            "false: other workloads of the project, and this stack's own resources while they are deleted, use it",
        );
      }
    }
    for (const r of resources) {
      if (!r.custom) continue;
      for (const api of apisOf(r.type, r.inputs)) {
        const enabling = services.filter((s) => s.inputs["service"] === APIS[api]);
        if (enabling.length === 0) {
          if (services.some((s) => s.inputs["service"] === UNKNOWN)) continue;
          report(
            r,
            `${label(r)} needs ${APIS[api]}, which the stack does not enable; add a gcp.projects.Service for it ` +
              "(disableOnDestroy false) and put it in the resource's dependsOn",
          );
        } else if (!enabling.some((s) => (r.dependsOn ?? []).includes(s.urn))) {
          report(
            r,
            `${label(r)} does not wait for ${APIS[api]} to be enabled: on a new project it would be created ` +
              "first and fail; put the API's gcp.projects.Service in its dependsOn",
          );
        }
      }
    }
  }),
  "raw-append-only": check("raw-append-only", (resources, report) => {
    // The raw buckets, by name (a bucket's explicit name, else its logical name).
    const rawBuckets = of(resources, GCP_TYPES.bucket)
      .filter((b) => at(b.inputs, "labels", "tributary-store") === "raw")
      .map((b) => (typeof b.inputs["name"] === "string" ? b.inputs["name"] : b.name));
    const members = [
      ...of(resources, GCP_TYPES.bucketIamMember),
      ...of(resources, GCP_TYPES.bucketIamBinding),
    ];
    for (const r of members) {
      const role = r.inputs["role"];
      if (typeof role !== "string" || !DELETING_ROLES.includes(role)) continue;
      const expression = at(r.inputs["condition"], "expression");
      if (typeof expression !== "string") continue;
      // An object prefix under raw/ in any bucket, or one that reaches raw/ in a raw bucket.
      const raw = [...expression.matchAll(/buckets\/([^/"]+)\/objects\/([^"]*)"/g)]
        .filter(
          ([, bucket = "", p = ""]) =>
            p.startsWith("raw/") || ("raw/".startsWith(p) && rawBuckets.includes(bucket)),
        )
        .map(([, , p]) => p);
      if (raw.length > 0) {
        report(
          r,
          `${label(r)} grants ${quote(role)}, which deletes objects, on raw history ${raw.map(quote).join(", ")}; ` +
            `ingest only appends: grant "roles/storage.objectCreator" there (the bucket's lifecycle rule expires old events)`,
        );
      }
    }
  }),
  "stores-survive-changes": check("stores-survive-changes", (resources, report) => {
    const disposable = labelKey(DISPOSABLE_TAG);
    for (const r of resources) {
      const key = r.type === GCP_TYPES.cryptoKey;
      if (!key && r.type !== GCP_TYPES.bucket) continue;
      const loss = key ? KEY_LOSS : STORE_LOSS;
      const remedy = key ? KEY_REMEDY : STORE_REMEDY;
      for (const problem of survivalProblems(r, marker(r, "labels", disposable), label(r), loss, remedy))
        report(r, problem);
    }
  }),
};
