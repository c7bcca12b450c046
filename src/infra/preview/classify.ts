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
 * The inputs whose change replaces a resource rather than updating it, for every type the stacks
 * register (`tributary synth --stack` for dev-aws, prod-aws, staging-gcp and prod-azure lists them; a
 * test checks that each is here). `pulumi preview` reports replacements itself, from the provider; this
 * table is for the offline synthesis diff, which has no provider to ask.
 *
 * aws and gcp (bridged from Terraform): the arguments the Pulumi registry pages document as "Changing
 * this forces a new resource" (the Terraform schemas' ForceNew), e.g. hashicorp/terraform-provider-google
 * `resource_storage_bucket_object.go`, where every argument but the holds is ForceNew.
 * azure-native: every parameter of the resource's ARM path (its resource group, its name, its parents'
 * names; pulumi/pulumi-azure-native#77), `location` where the resource has one (create-only in ARM),
 * and the provider's own list (`provider/pkg/gen/replacement.go`: RoleAssignment principalId and scope,
 * StorageAccount isHnsEnabled, WebApp kind, Service Bus queue and topic session, duplicate detection and
 * partitioning; storage Blob's source, type and content hash, pulumi/pulumi-azure-native#3530).
 */
const REPLACE_KEYS: Readonly<Record<string, readonly string[]>> = {
  // Secrets: a new value is a new version (replaced); a secret's name and replication are fixed.
  "aws:secretsmanager/secret:Secret": ["name", "namePrefix"],
  "aws:secretsmanager/secretVersion:SecretVersion": ["secretId", "secretString", "secretBinary"],
  "gcp:secretmanager/secret:Secret": ["project", "secretId", "replication"],
  "gcp:secretmanager/secretVersion:SecretVersion": ["secret", "secretData"],
  "gcp:secretmanager/secretIamMember:SecretIamMember": ["project", "secretId", "role", "member", "condition"],
  "gcp:projects/serviceIdentity:ServiceIdentity": ["project", "service"],
  "azure-native:keyvault:Secret": ["resourceGroupName", "vaultName", "secretName"],
  "random:index/randomBytes:RandomBytes": ["length", "keepers"],
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
  // A stream's shards, mode, retention and key change in place; its name is its identity.
  "aws:kinesis/stream:Stream": ["name"],
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
  "gcp:projects/iAMCustomRole:IAMCustomRole": ["roleId", "project"],
  "gcp:projects/iAMMember:IAMMember": ["project", "role", "member", "condition"],
  "gcp:projects/service:Service": ["project", "service"],
  "gcp:pubsub/subscription:Subscription": ["name", "topic", "project", "filter", "enableMessageOrdering"],
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
  "gcp:storage/bucketObject:BucketObject": [
    "bucket",
    "name",
    "source",
    "content",
    "detectMd5hash",
    "contentType",
    "contentEncoding",
    "contentDisposition",
    "contentLanguage",
    "cacheControl",
    "metadata",
    "storageClass",
    "kmsKeyName",
    "customerEncryption",
  ],
  "azure-native:applicationinsights:Component": ["resourceGroupName", "resourceName", "location"],
  "azure-native:authorization:RoleAssignment": ["scope", "roleAssignmentName", "principalId"],
  "azure-native:cognitiveservices:Account": ["resourceGroupName", "accountName", "location"],
  "azure-native:cognitiveservices:Deployment": ["resourceGroupName", "accountName", "deploymentName"],
  "azure-native:keyvault:Key": ["resourceGroupName", "vaultName", "keyName"],
  "azure-native:keyvault:Vault": ["resourceGroupName", "vaultName", "location"],
  "azure-native:managedidentity:UserAssignedIdentity": ["resourceGroupName", "resourceName", "location"],
  "azure-native:monitor:ActionGroup": ["resourceGroupName", "actionGroupName", "location"],
  "azure-native:monitor:MetricAlert": ["resourceGroupName", "ruleName", "location"],
  "azure-native:monitor:ScheduledQueryRule": ["resourceGroupName", "ruleName", "location"],
  "azure-native:operationalinsights:Workspace": ["resourceGroupName", "workspaceName", "location"],
  "azure-native:resources:ResourceGroup": ["resourceGroupName", "location"],
  "azure-native:servicebus:Namespace": ["resourceGroupName", "namespaceName", "location"],
  "azure-native:servicebus:NamespaceNetworkRuleSet": ["resourceGroupName", "namespaceName"],
  "azure-native:eventhub:Namespace": ["resourceGroupName", "namespaceName", "location"],
  "azure-native:eventhub:NamespaceNetworkRuleSet": ["resourceGroupName", "namespaceName"],
  "azure-native:eventhub:EventHub": ["resourceGroupName", "namespaceName", "eventHubName"],
  "azure-native:eventhub:ConsumerGroup": [
    "resourceGroupName",
    "namespaceName",
    "eventHubName",
    "consumerGroupName",
  ],
  "azure-native:network:VirtualNetwork": ["resourceGroupName", "virtualNetworkName", "location"],
  "azure-native:network:Subnet": ["resourceGroupName", "virtualNetworkName", "subnetName"],
  "azure-native:network:PublicIPAddress": ["resourceGroupName", "publicIpAddressName", "location"],
  "azure-native:network:NatGateway": ["resourceGroupName", "natGatewayName", "location"],
  "azure-native:network:PrivateEndpoint": ["resourceGroupName", "privateEndpointName", "location"],
  "azure-native:network:PrivateDnsZoneGroup": [
    "resourceGroupName",
    "privateEndpointName",
    "privateDnsZoneGroupName",
  ],
  "azure-native:privatedns:PrivateZone": ["resourceGroupName", "privateZoneName", "location"],
  "azure-native:privatedns:VirtualNetworkLink": [
    "resourceGroupName",
    "privateZoneName",
    "virtualNetworkLinkName",
    "location",
  ],
  "azure-native:servicebus:Queue": [
    "resourceGroupName",
    "namespaceName",
    "queueName",
    "requiresDuplicateDetection",
    "requiresSession",
    "enablePartitioning",
  ],
  "azure-native:servicebus:Rule": [
    "resourceGroupName",
    "namespaceName",
    "topicName",
    "subscriptionName",
    "ruleName",
  ],
  "azure-native:servicebus:Subscription": [
    "resourceGroupName",
    "namespaceName",
    "topicName",
    "subscriptionName",
  ],
  "azure-native:servicebus:Topic": [
    "resourceGroupName",
    "namespaceName",
    "topicName",
    "requiresDuplicateDetection",
    "requiresSession",
    "enablePartitioning",
  ],
  "azure-native:storage:Blob": [
    "resourceGroupName",
    "accountName",
    "containerName",
    "blobName",
    "source",
    "contentMd5",
    "type",
  ],
  "azure-native:storage:BlobContainer": ["resourceGroupName", "accountName", "containerName"],
  "azure-native:storage:BlobServiceProperties": ["resourceGroupName", "accountName", "blobServicesName"],
  "azure-native:storage:ManagementPolicy": ["resourceGroupName", "accountName", "managementPolicyName"],
  "azure-native:storage:StorageAccount": ["resourceGroupName", "accountName", "location", "isHnsEnabled"],
  "azure-native:web:AppServicePlan": ["resourceGroupName", "name", "location"],
  "azure-native:web:WebApp": ["resourceGroupName", "name", "location", "kind"],
  // The curated tables' catalogs and serverless SQL.
  "aws:glue/catalogDatabase:CatalogDatabase": ["name", "catalogId"],
  "aws:glue/catalogTable:CatalogTable": ["name", "databaseName", "catalogId", "openTableFormatInput"],
  "aws:athena/workgroup:Workgroup": ["name"],
  "gcp:bigquery/dataset:Dataset": ["datasetId", "project", "location", "externalDatasetReference"],
  "gcp:bigquery/table:Table": ["datasetId", "tableId", "project"],
  "gcp:bigquery/connection:Connection": ["connectionId", "project", "location"],
  "gcp:bigquery/connectionIamMember:ConnectionIamMember": [
    "project",
    "location",
    "connectionId",
    "member",
    "role",
    "condition",
  ],
  "gcp:bigquery/datasetIamMember:DatasetIamMember": ["datasetId", "project", "member", "role", "condition"],
  "gcp:bigquery/iamMember:IamMember": ["project", "datasetId", "tableId", "member", "role", "condition"],
};

/** The resource types the replace table knows. */
export function knownReplaceTypes(): string[] {
  return Object.keys(REPLACE_KEYS).sort();
}

/**
 * An azure-native type outside the table: its ARM path parameters are, by the provider's convention,
 * `resourceGroupName` and the inputs named `<something>Name` (display and short names are properties).
 */
function azurePathLike(input: string): boolean {
  return (
    input === "resourceGroupName" ||
    input === "location" ||
    input === "name" ||
    (/[a-z]Name$/.test(input) && !/(display|short|friendly)Name$/i.test(input))
  );
}

/** The changed input paths (e.g. `lifecycleRules[0].action`) that replace a resource of `type`. */
export function replaceKeys(type: string, changed: readonly string[]): string[] {
  const table = REPLACE_KEYS[type];
  const keys = new Set(table ?? []);
  const guess = table === undefined && type.startsWith("azure-native:");
  const out = new Set<string>();
  for (const p of changed) {
    const top = /^[^.[]+/.exec(p)?.[0] ?? p;
    if (keys.has(top) || (guess && azurePathLike(top))) out.add(top);
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
  const had = new Set(before === undefined ? [] : bindings(type, before).keys());
  return [...bindings(type, after)].filter(([key]) => !had.has(key)).map(([, text]) => text);
}

/** Whether the change from `before` to `after` (absent: a new resource) grants anything it did not. */
export function widens(type: string, before: Inputs, after: Inputs): boolean {
  return gained(type, before, after).length > 0;
}

/** The inputs of a binding that say who gets what, in the order a reader reads them. */
const WHO_WHAT = [
  "member",
  "role",
  "condition",
  "principalId",
  "roleDefinitionId",
  "scope",
  "conditionVersion",
  "policyArn",
];

/** Inputs of a binding that describe it and grant nothing (an Azure role assignment's). */
const DESCRIPTIVE = new Set(["description", "principalType", "roleAssignmentName", "tags", "labels"]);

/**
 * The grants of a binding resource, one per (resource, member, role, condition): keyed by a canonical
 * form, with a text for a reader (`member "serviceAccount:…", role "roles/storage.objectViewer"`). A GCP
 * IAMBinding grants its role to each of its `members`, an IAMPolicy each binding of its `policyData`; a
 * member, role or condition not there before, or the same on another resource, is a new grant.
 */
function bindings(type: string, inputs: NonNullable<Inputs>): Map<string, string> {
  const out = new Map<string, string>();
  const add = (grant: Record<string, unknown>) => {
    const on = Object.keys(grant).filter((k) => !DESCRIPTIVE.has(k) && grant[k] !== undefined);
    const key = JSON.stringify(on.sort().map((k) => [k, grant[k]]));
    const said = WHO_WHAT.filter((k) => grant[k] !== undefined);
    out.set(key, said.map((k) => `${k} ${shown(grant[k])}`).join(", "));
  };
  if (/^gcp:.*IAMPolicy:/i.test(type)) {
    const { policyData, ...on } = inputs;
    const list = policyBindings(policyData);
    if (list === undefined) {
      // Unreadable: one grant of whatever it will say, the same only as the same unreadable document.
      out.set(
        `unreadable ${JSON.stringify(policyData)}`,
        policyData === UNKNOWN_VALUE
          ? "whatever its policy allows, known only after the deploy"
          : "whatever its policy allows (its policyData is not a policy)",
      );
    }
    for (const b of list ?? []) {
      for (const member of b.members) add({ ...on, member, role: b.role, condition: b.condition });
    }
  } else if (/^gcp:.*IAMBinding:/i.test(type) && Array.isArray(inputs.members)) {
    const { members, ...rest } = inputs;
    for (const member of members as unknown[]) add({ ...rest, member });
  } else {
    add({ ...inputs });
  }
  return out;
}

function shown(value: unknown): string {
  return value === UNKNOWN_VALUE ? "(known only after the deploy)" : JSON.stringify(value);
}

/** The bindings of a GCP IAM policy document (`policyData`, a JSON string); undefined if unreadable. */
function policyBindings(
  data: unknown,
): { role: unknown; members: unknown[]; condition?: unknown }[] | undefined {
  let doc = data;
  if (data === UNKNOWN_VALUE) return undefined;
  if (typeof data === "string") {
    try {
      doc = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  const list = (doc as { bindings?: unknown } | null | undefined)?.bindings;
  if (doc === null || typeof doc !== "object") return undefined;
  if (!Array.isArray(list)) return [];
  return (list as Record<string, unknown>[]).map((b) => ({
    role: b.role,
    members: Array.isArray(b.members) ? b.members : [],
    ...(b.condition === undefined ? {} : { condition: b.condition }),
  }));
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
  // A Glue table takes no tags: its parameters name its asset.
  const parameters = inputs?.parameters as Record<string, unknown> | undefined;
  const value = tags?.[TAGS.asset] ?? labels?.[TAGS.asset.replace(":", "-")] ?? parameters?.[TAGS.asset];
  return typeof value === "string" ? value : undefined;
}

export interface Placed {
  readonly urn: string;
  readonly parent?: string;
  readonly inputs?: Inputs;
}

/**
 * The asset of every resource, by URN: its own `tributary:asset` tag (GCP: label `tributary-asset`; a Glue
 * table: its parameter `tributary:asset`),
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
