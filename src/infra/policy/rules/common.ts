/**
 * What the clouds' rules share: the rules of the `tributary-security` pack, each one name and one
 * description for every cloud, and the shape of a cloud's checks. Each cloud's checks live in a file of
 * their own (aws.ts, gcp.ts, azure.ts), peers that import this file and never each other; index.ts
 * assembles them into the rules.
 */
import type { ResourceRecord } from "../../synth/record.ts";

/** One broken rule: which rule, on which resource, and what to do about it. */
export interface Violation {
  /** The rule's stable kebab-case name. */
  readonly policy: string;
  /** The URN of the resource at fault. */
  readonly urn: string;
  /** Names the resource (logical name) and says what to fix. */
  readonly message: string;
}

export interface Rule {
  /** Stable kebab-case name; the Pulumi policy's name too. */
  readonly name: string;
  readonly description: string;
  /** The rule's violations over a whole stack, in a deterministic order. */
  readonly check: (resources: readonly ResourceRecord[]) => Violation[];
}

/** One rule's check of one cloud's resources. */
export type CloudCheck = (resources: readonly ResourceRecord[]) => Violation[];
/** Checks a cloud adds to the rules, by rule name (aws.ts, gcp.ts, azure.ts). */
export type CloudChecks = Partial<Record<RuleName, CloudCheck>>;
export type RuleName =
  | "store-encrypted-with-customer-key"
  | "no-public-access"
  | "tls-only"
  | "no-wildcard-grants"
  | "dead-letter-queue"
  | "log-retention"
  | "required-tags"
  | "stores-survive-changes"
  | "apis-enabled"
  | "raw-append-only"
  | "no-owner-roles"
  | "storage-roles-isolated"
  | "private-network"
  | "query-workgroup-guarded"
  | "query-reads-curated-only"
  | "catalog-writers-scoped"
  | "dataset-encrypted-with-customer-key";

/** The tags every taggable resource carries. */
export const REQUIRED_TAGS = [
  "tributary:asset",
  "tributary:pipeline",
  "tributary:env",
  "owner",
  "cost-centre",
];

/**
 * The rules every cloud checks, in the order {@link evaluate} reports them (index.ts). A cloud with
 * nothing of the kind to check has no check of that name.
 */
export const RULES: readonly { readonly name: RuleName; readonly description: string }[] = [
  {
    name: "store-encrypted-with-customer-key",
    description:
      "Every data bucket (raw, curated, quarantine) is encrypted by default with the stack's KMS key; the " +
      "access-log bucket with SSE-S3 or KMS.",
  },
  {
    name: "no-public-access",
    description:
      "Every bucket blocks public access (all four flags), enforces bucket ownership (ACLs off), and no " +
      "bucket policy allows everyone.",
  },
  {
    name: "tls-only",
    description:
      "Every bucket has a policy that denies all S3 actions when aws:SecureTransport is false, on the bucket " +
      "and on its objects.",
  },
  {
    name: "no-wildcard-grants",
    description:
      "Allow statements name explicit actions and concrete resources: no wildcard actions, no NotAction, " +
      "NotResource or NotPrincipal, and a resource wildcard only as the final segment after a concrete prefix.",
  },
  {
    name: "dead-letter-queue",
    description:
      "Nothing drops a failed message silently: consumer queues redrive to a dead-letter queue, event targets " +
      "and schedules have a dead-letter queue, and SQS event source mappings report batch item failures.",
  },
  {
    name: "log-retention",
    description:
      "Every log group has a retention period, and every function logs to a log group of the stack that has one.",
  },
  {
    name: "required-tags",
    description: `Every taggable resource carries non-empty ${REQUIRED_TAGS.join(", ")} tags.`,
  },
  {
    name: "stores-survive-changes",
    description:
      "Every store that holds data (bucket, storage account, blob container) and every key its data is " +
      "encrypted with is protected and retained on delete, and not deleted before its replacement exists, " +
      "unless it is marked tributary:disposable (its assets are declared disposable).",
  },
  {
    name: "apis-enabled",
    description:
      "GCP: the stack enables every API its resources use (gcp.projects.Service, kept on when the stack is " +
      "destroyed), and each resource depends on the services of the APIs it needs, so a first deploy on a " +
      "new project does not fail on an API that is off. AWS and Azure have no APIs to enable.",
  },
  {
    name: "raw-append-only",
    description:
      "Raw history is append-only: nothing the stack grants may delete an object of the raw zone (on AWS no " +
      "s3:DeleteObject or s3:DeleteObjectVersion on the raw bucket or raw/ keys; on GCP no role that deletes " +
      "objects on raw/ prefixes; on Azure every blob data role on the raw container denies delete by its " +
      "condition). Ingest only appends; expiry is the store's lifecycle rule.",
  },
  {
    name: "no-owner-roles",
    description:
      "Azure: no role assignment hands out an Owner role (Owner, Storage Blob Data Owner, Azure Service Bus Data " +
      "Owner, Azure Event Hubs Data Owner, User Access Administrator); each identity gets the least role that works.",
  },
  {
    name: "storage-roles-isolated",
    description:
      "Azure: a storage data role carries an ABAC condition on blob paths, or is on a container no other identity " +
      "holds a storage role on, so no function app reads or rewrites another's blobs (the Functions runtime's " +
      "shared host keys, above all). AWS and GCP grants are per prefix already (no-wildcard-grants).",
  },
  {
    name: "private-network",
    description:
      "Azure: the Key Vault and the Service Bus namespace take no traffic from the internet (public network access " +
      "disabled, or network rules that deny by default, no rule letting every address in), and each has a " +
      "private endpoint the stack's functions reach it by.",
  },
  {
    name: "query-workgroup-guarded",
    description:
      "AWS: every Athena workgroup enforces its configuration (no query picks its own result location or " +
      "encryption), encrypts results with a KMS key (SSE_KMS or CSE_KMS), writes them to a named location (the " +
      "stack's results bucket, itself private and encrypted like every store) and cuts off a query past a " +
      "bytes-scanned limit.",
  },
  {
    name: "query-reads-curated-only",
    description:
      "The read-only query identity reads the curated tables and nothing else: on AWS the query role's objects " +
      "are curated/ (and its results under athena/), never raw, quarantine or Tributary's records; on GCP the " +
      "query account holds no storage role (it reads through the BigLake connection, whose account reads curated/ " +
      "only) and only BigQuery Data Viewer on the dataset; on Azure the query identity is a Storage Blob Data " +
      "Reader of the curated container under a condition on curated/.",
  },
  {
    name: "catalog-writers-scoped",
    description:
      "A function moves the catalog pointers of its own tables only: on AWS its Glue write actions name its " +
      "asset's table (the table maintenance's, the stack database's tables), no wildcard; on GCP a BigQuery " +
      "write role is bound on one table, the function's asset's (or any, for the table maintenance), never on " +
      "a dataset or the project.",
  },
  {
    name: "dataset-encrypted-with-customer-key",
    description: "GCP: every BigQuery dataset is encrypted by default with the stack's Cloud KMS key (CMEK).",
  },
];
