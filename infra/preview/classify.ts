/**
 * What a change to a resource means, by its Pulumi type: whether deleting it loses data, whether it
 * grants privilege (and whether a change widens it), which inputs cannot change in place, and which
 * asset it belongs to. Read by the synthesis diff and by the `pulumi preview --json` reader alike.
 */
import { SHARED, TAGS } from "../plan/build.ts";

/** What an output or input not known until the deploy looks like in `pulumi preview --json`. */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Resources that hold data, or the keys without which the data cannot be read. */
const HOLDS_DATA = new Set([
  "aws:s3/bucket:Bucket",
  "aws:s3/bucketV2:BucketV2",
  "aws:kms/key:Key",
  "gcp:storage/bucket:Bucket",
  "gcp:kms/cryptoKey:CryptoKey",
  "gcp:kms/keyRing:KeyRing",
  "azure-native:storage:StorageAccount",
  "azure-native:storage:BlobContainer",
  "azure-native:keyvault:Vault",
  "azure-native:keyvault:Key",
]);

/** Deleting or replacing a resource of this type loses the data it holds (or makes it unreadable). */
export function holdsData(type: string): boolean {
  return HOLDS_DATA.has(type);
}

/**
 * The inputs whose change replaces a resource rather than updating it, for every type our programs
 * register: the providers' documented "changing this forces a new resource" arguments (Pulumi registry
 * pages of aws, gcp and azure-native; the Terraform-bridged providers mark them ForceNew). Azure's
 * native provider replaces a resource whose resource group, location or name changes (rule below).
 * `pulumi preview` reports replacements itself; this table is for the offline synthesis diff.
 */
const REPLACE_KEYS: Readonly<Record<string, readonly string[]>> = {
  "aws:s3/bucket:Bucket": ["bucket", "bucketPrefix", "objectLockEnabled", "region"],
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ["bucket", "expectedBucketOwner"],
  "aws:s3/bucketLogging:BucketLogging": ["bucket", "expectedBucketOwner"],
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ["bucket"],
  "aws:s3/bucketPolicy:BucketPolicy": ["bucket"],
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ["bucket"],
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
    "bucket",
    "expectedBucketOwner",
  ],
  "aws:s3/bucketVersioning:BucketVersioning": ["bucket", "expectedBucketOwner"],
  "aws:cloudwatch/eventBus:EventBus": ["name", "eventSourceName"],
  "aws:cloudwatch/eventRule:EventRule": ["name", "namePrefix", "eventBusName"],
  "aws:cloudwatch/eventTarget:EventTarget": ["rule", "targetId", "eventBusName"],
  "aws:cloudwatch/logGroup:LogGroup": ["name", "namePrefix", "logGroupClass"],
  "aws:cloudwatch/metricAlarm:MetricAlarm": ["name"],
  "aws:iam/role:Role": ["name", "namePrefix", "path"],
  "aws:iam/rolePolicy:RolePolicy": ["name", "namePrefix", "role"],
  "aws:kms/alias:Alias": ["name", "namePrefix"],
  "aws:kms/key:Key": [
    "customerMasterKeySpec",
    "keySpec",
    "keyUsage",
    "multiRegion",
    "customKeyStoreId",
    "xksKeyId",
  ],
  "aws:lambda/eventSourceMapping:EventSourceMapping": [
    "eventSourceArn",
    "startingPosition",
    "startingPositionTimestamp",
    "selfManagedEventSource",
    "topics",
    "queues",
  ],
  "aws:lambda/function:Function": ["name", "packageType"],
  "aws:scheduler/schedule:Schedule": ["name", "namePrefix", "groupName"],
  "aws:sns/topic:Topic": ["name", "namePrefix", "fifoTopic"],
  "aws:sns/topicPolicy:TopicPolicy": ["arn"],
  "aws:sns/topicSubscription:TopicSubscription": ["topic", "protocol", "endpoint"],
  "aws:sqs/queue:Queue": ["name", "namePrefix", "fifoQueue"],
  "aws:sqs/queuePolicy:QueuePolicy": ["queueUrl"],
  "gcp:cloudfunctionsv2/function:Function": ["name", "location", "project", "kmsKeyName"],
  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": [
    "location",
    "name",
    "project",
    "role",
    "member",
    "condition",
  ],
  "gcp:cloudscheduler/job:Job": ["name", "region", "project"],
  "gcp:kms/cryptoKey:CryptoKey": [
    "name",
    "keyRing",
    "purpose",
    "destroyScheduledDuration",
    "importOnly",
    "skipInitialVersionCreation",
  ],
  "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": ["cryptoKeyId", "member", "role", "condition"],
  "gcp:kms/keyRing:KeyRing": ["name", "location", "project"],
  "gcp:logging/metric:Metric": ["project"],
  "gcp:monitoring/alertPolicy:AlertPolicy": ["project"],
  "gcp:monitoring/notificationChannel:NotificationChannel": ["project"],
  "gcp:pubsub/subscription:Subscription": ["name", "topic", "project", "filter"],
  "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": [
    "subscription",
    "member",
    "role",
    "project",
    "condition",
  ],
  "gcp:pubsub/topic:Topic": ["name", "project"],
  "gcp:pubsub/topicIAMMember:TopicIAMMember": ["topic", "member", "role", "project", "condition"],
  "gcp:serviceaccount/account:Account": ["accountId", "project"],
  "gcp:storage/bucket:Bucket": ["name", "location", "project"],
  "gcp:storage/bucketIAMMember:BucketIAMMember": ["bucket", "member", "role", "condition"],
  "gcp:storage/bucketObject:BucketObject": ["bucket", "name", "source", "content", "detectMd5hash"],
  "azure-native:storage:StorageAccount": ["isHnsEnabled"],
  "azure-native:storage:Blob": ["type", "source"],
  "azure-native:authorization:RoleAssignment": ["scope", "principalId", "roleDefinitionId"],
};

/** The changed input paths (e.g. `lifecycleRules[0].action`) that replace a resource of `type`. */
export function replaceKeys(type: string, changed: readonly string[]): string[] {
  const keys = new Set(REPLACE_KEYS[type] ?? []);
  const azure = type.startsWith("azure-native:");
  const out = new Set<string>();
  for (const p of changed) {
    const top = /^[^.[]+/.exec(p)?.[0] ?? p;
    const azureIdentity =
      azure &&
      (top === "resourceGroupName" || top === "location" || top === "name" || /[a-z]Name$/.test(top)) &&
      top !== "displayName";
    if (keys.has(top) || azureIdentity) out.add(top);
  }
  return [...out].sort();
}

/** Policies whose JSON documents say who may do what: identity policies and resource policies. */
const POLICY_DOCUMENTS: Readonly<Record<string, string>> = {
  "aws:iam/rolePolicy:RolePolicy": "policy",
  "aws:iam/policy:Policy": "policy",
  "aws:iam/role:Role": "assumeRolePolicy",
  "aws:s3/bucketPolicy:BucketPolicy": "policy",
  "aws:sqs/queuePolicy:QueuePolicy": "policy",
  "aws:sns/topicPolicy:TopicPolicy": "policy",
};

/** Bindings of one member to one role (on one resource), which grant by existing. */
const MEMBER_GRANTS = new Set([
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  "azure-native:authorization:RoleAssignment",
]);

/** Whether resources of this type grant privilege. */
export function isGrant(type: string): boolean {
  return (
    type in POLICY_DOCUMENTS || MEMBER_GRANTS.has(type) || /^gcp:.*IAM(Member|Binding|Policy):/i.test(type)
  );
}

type Inputs = Readonly<Record<string, unknown>> | undefined;

/**
 * What the change from `before` to `after` (inputs; `before` absent for a new resource) lets someone do
 * that they could not: each Allow (principal, action, resource, condition) of a policy document it did
 * not have, or a binding of a member to a role, scope or condition. Empty when it grants nothing more.
 */
export function gained(type: string, before: Inputs, after: Inputs): string[] {
  if (!isGrant(type) || after === undefined) return [];
  const field = POLICY_DOCUMENTS[type];
  if (field) {
    const had = new Set(before === undefined ? [] : allows(before[field]));
    return allows(after[field])
      .filter((a) => !had.has(a))
      .map(describeAllow);
  }
  const keys = [
    "member",
    "members",
    "role",
    "condition",
    "principalId",
    "roleDefinitionId",
    "scope",
    "policyArn",
  ];
  const changed =
    before === undefined || keys.some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  if (!changed) return [];
  const parts = keys.filter((k) => after[k] !== undefined).map((k) => `${k} ${JSON.stringify(after[k])}`);
  return [parts.join(", ")];
}

/** Marks a document that cannot be read as allows: the rest of the string says why, for a reader. */
const UNREADABLE = "unreadable\u0000";

function describeAllow(a: string): string {
  if (a.startsWith(UNREADABLE)) return a.slice(UNREADABLE.length);
  const [principal, action, resource, condition] = a.split("|");
  return `${action} on ${resource}${principal !== "null" ? ` for ${principal}` : ""}${condition !== "null" ? ` if ${condition}` : ""}`;
}

/**
 * Every Allow of a policy document, one string per (principal, action, resource, condition). A document
 * not known until the deploy (it names a resource the deploy creates), or not JSON, is one allow of
 * whatever it will say: a change to it cannot be shown to grant nothing more.
 */
function allows(document: unknown): string[] {
  let doc = document;
  if (doc === UNKNOWN_VALUE) {
    return [`${UNREADABLE}whatever its policy document allows, known only after the deploy`];
  }
  if (typeof document === "string") {
    try {
      doc = JSON.parse(document);
    } catch {
      const text = document.length > 40 ? `${document.slice(0, 40)}…` : document;
      return [`${UNREADABLE}whatever its policy document allows (not JSON: ${text})`];
    }
  }
  const statements = (doc as { Statement?: unknown } | null)?.Statement;
  const list = Array.isArray(statements) ? statements : statements ? [statements] : [];
  const out: string[] = [];
  const many = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
  for (const s of list as Record<string, unknown>[]) {
    if (s.Effect !== "Allow") continue;
    const principal = JSON.stringify(s.Principal ?? null);
    for (const action of many(s.Action ?? s.NotAction)) {
      for (const resource of many(s.Resource ?? s.NotResource ?? "*")) {
        for (const condition of conditionCases(s.Condition)) {
          out.push(`${principal}|${String(action)}|${String(resource)}|${condition}`);
        }
      }
    }
  }
  return out;
}

/**
 * A condition block as the single-valued cases it allows: `{ StringLike: { "s3:prefix": [a, b] } }`
 * allows `s3:prefix` a or b, so it is the two cases a and b (several keys: every combination), and a
 * list that loses a value narrows the grant instead of reading as a new one.
 */
function conditionCases(condition: unknown): string[] {
  if (typeof condition !== "object" || condition === null) return ["null"];
  let cases: string[][] = [[]];
  for (const op of Object.keys(condition).sort()) {
    const keys = (condition as Record<string, Record<string, unknown>>)[op] ?? {};
    for (const key of Object.keys(keys).sort()) {
      const values = Array.isArray(keys[key]) ? (keys[key] as unknown[]) : [keys[key]];
      cases = cases.flatMap((c) => values.map((v) => [...c, `${op}:${key}=${String(v)}`]));
    }
  }
  return cases.map((c) => c.join(" & "));
}

/** The resource's own asset tag or label, if it carries one. */
function ownAsset(inputs: Inputs): string | undefined {
  const tags = inputs?.tags as Record<string, unknown> | undefined;
  const labels = inputs?.labels as Record<string, unknown> | undefined;
  const value = tags?.[TAGS.asset] ?? labels?.[TAGS.asset.replace(":", "-")];
  return typeof value === "string" ? value : undefined;
}

export interface Placed {
  readonly urn: string;
  readonly parent?: string;
  readonly inputs?: Inputs;
}

/**
 * The asset of every resource, by URN: its own `tributary:asset` tag (GCP: label `tributary-asset`),
 * else its component's, which is the one asset its tagged children name. Resources serving the whole
 * stack (tagged `_shared`, or in a component whose children name several) have none.
 */
export function assetsByUrn(resources: readonly Placed[]): Map<string, string | undefined> {
  const own = new Map<string, string | undefined>();
  const children = new Map<string, Set<string>>();
  for (const r of resources) {
    const a = ownAsset(r.inputs);
    own.set(r.urn, a);
    if (a !== undefined && r.parent) {
      const set = children.get(r.parent) ?? new Set<string>();
      set.add(a);
      children.set(r.parent, set);
    }
  }
  const parents = new Map(resources.map((r) => [r.urn, r.parent]));
  const out = new Map<string, string | undefined>();
  const assetOf = (urn: string, depth = 0): string | undefined => {
    if (depth > 50) return undefined;
    const a = own.get(urn);
    if (a !== undefined) return a === SHARED ? undefined : a;
    const named = children.get(urn);
    if (named && named.size === 1) {
      const only = [...named][0]!;
      return only === SHARED ? undefined : only;
    }
    const parent = parents.get(urn);
    return parent ? assetOf(parent, depth + 1) : undefined;
  };
  for (const r of resources) out.set(r.urn, assetOf(r.urn));
  return out;
}

/** A short name for a resource type in messages: `aws:s3/bucket:Bucket` → `Bucket`. */
export function typeName(type: string): string {
  return type.split(":").pop() ?? type;
}
