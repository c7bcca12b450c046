/**
 * What a resource change means by its Pulumi type: which inputs replace it, whether it holds data, what
 * a policy or binding change lets someone do that they could not, and which asset a resource belongs to.
 */
import { describe, expect, it } from "vitest";
import {
  assetsByUrn,
  gained,
  holdsData,
  isGrant,
  type Placed,
  replaceKeys,
  typeName,
  widens,
} from "../../src/infra/preview/classify.ts";
import { UNKNOWN_VALUE } from "../../src/infra/preview/pulumi-preview.ts";

const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember";

/** A policy document as the AWS provider takes it: a JSON string. */
const policy = (...statements: Record<string, unknown>[]) =>
  JSON.stringify({ Version: "2012-10-17", Statement: statements });

const read = {
  Effect: "Allow",
  Action: ["s3:GetObject"],
  Resource: "arn:aws:s3:::shop-prod-raw/raw/orders_cdc/*",
};
const list = (prefixes: string[]) => ({
  Effect: "Allow",
  Action: "s3:ListBucket",
  Resource: "arn:aws:s3:::shop-prod-raw",
  Condition: { StringLike: { "s3:prefix": prefixes } },
});

describe("replaceKeys", () => {
  it("names the S3 bucket's name as what replaces it, and not its tags", () => {
    expect(replaceKeys("aws:s3/bucket:Bucket", ["bucket", "tags.owner", "forceDestroy"])).toEqual(["bucket"]);
  });

  it("reads the top-level input of a nested path: a GCS bucket's lifecycle rule updates in place", () => {
    expect(replaceKeys("gcp:storage/bucket:Bucket", ["lifecycleRules[0].action"])).toEqual([]);
    expect(replaceKeys("gcp:storage/bucket:Bucket", ["lifecycleRules[0].action", "location"])).toEqual([
      "location",
    ]);
  });

  it("replaces an azure-native resource whose resource group, name or location changes, not its display name", () => {
    expect(
      replaceKeys("azure-native:storage:StorageAccount", [
        "resourceGroupName",
        "accountName",
        "location",
        "sku.name",
        "tags.owner",
      ]),
    ).toEqual(["accountName", "location", "resourceGroupName"]);
    expect(replaceKeys("azure-native:insights:ActionGroup", ["displayName"])).toEqual([]);
    expect(replaceKeys("azure-native:storage:BlobContainer", ["containerName"])).toEqual(["containerName"]);
  });

  it("knows no replacing input of a type outside the table", () => {
    expect(replaceKeys("aws:ec2/vpc:Vpc", ["cidrBlock"])).toEqual([]);
  });

  it("takes an azure-native type's own list: an action group's short name is a property, not its name", () => {
    expect(
      replaceKeys("azure-native:monitor:ActionGroup", [
        "groupShortName",
        "actionGroupName",
        "emailReceivers[0]",
      ]),
    ).toEqual(["actionGroupName"]);
    // The provider replaces a role assignment for another principal or scope; another role updates it.
    expect(
      replaceKeys("azure-native:authorization:RoleAssignment", [
        "roleDefinitionId",
        "condition",
        "principalId",
      ]),
    ).toEqual(["principalId"]);
    expect(replaceKeys("azure-native:servicebus:Subscription", ["topicName", "maxDeliveryCount"])).toEqual([
      "topicName",
    ]);
    expect(replaceKeys("azure-native:web:WebApp", ["kind", "siteConfig.appSettings[3].value"])).toEqual([
      "kind",
    ]);
  });

  it("guesses an unlisted azure-native type's path parameters, and not its display or short names", () => {
    expect(
      replaceKeys("azure-native:network:VirtualNetwork", [
        "virtualNetworkName",
        "resourceGroupName",
        "shortName",
        "friendlyName",
        "addressSpace.addressPrefixes[0]",
      ]),
    ).toEqual(["resourceGroupName", "virtualNetworkName"]);
  });

  it("replaces a GCS object whose content type or metadata changes (Terraform's ForceNew)", () => {
    expect(
      replaceKeys("gcp:storage/bucketObject:BucketObject", ["contentType", "metadata.tributary-version"]),
    ).toEqual(["contentType", "metadata"]);
  });
});

describe("holdsData, isGrant, typeName", () => {
  it("tells stores and keys from the rest", () => {
    expect(
      [
        "aws:s3/bucket:Bucket",
        "gcp:storage/bucket:Bucket",
        "azure-native:storage:BlobContainer",
        "aws:kms/key:Key",
        "aws:lambda/function:Function",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      ].map(holdsData),
    ).toEqual([true, true, true, true, false, false]);
  });

  it("tells grants from the rest", () => {
    expect(
      [
        ROLE_POLICY,
        "aws:iam/role:Role",
        BUCKET_IAM_MEMBER,
        "gcp:pubsub/topicIAMMember:TopicIAMMember",
        "azure-native:authorization:RoleAssignment",
        "aws:s3/bucket:Bucket",
      ].map(isGrant),
    ).toEqual([true, true, true, true, true, false]);
  });

  it("shortens a type to its last part", () => {
    expect(typeName("aws:s3/bucket:Bucket")).toBe("Bucket");
  });
});

describe("gained", () => {
  it("names a new action of a policy document, one line per action and resource", () => {
    expect(
      gained(
        ROLE_POLICY,
        { policy: policy(read) },
        { policy: policy({ ...read, Action: ["s3:GetObject", "s3:PutObject"] }) },
      ),
    ).toEqual(["s3:PutObject on arn:aws:s3:::shop-prod-raw/raw/orders_cdc/*"]);
  });

  it("finds nothing when the same document is written differently (a string action, statements reordered)", () => {
    expect(
      gained(
        ROLE_POLICY,
        { policy: policy(read, list(["raw/orders_cdc/*"])) },
        { policy: policy(list(["raw/orders_cdc/*"]), { ...read, Action: "s3:GetObject" }) },
      ),
    ).toEqual([]);
  });

  it("finds nothing gained when a condition's value list narrows", () => {
    expect(
      gained(
        ROLE_POLICY,
        { policy: policy(list(["raw/orders_cdc/*", "raw/customers_cdc/*"])) },
        { policy: policy(list(["raw/orders_cdc/*"])) },
      ),
    ).toEqual([]);
  });

  it("names a new value of a condition", () => {
    expect(
      gained(
        ROLE_POLICY,
        { policy: policy(list(["raw/orders_cdc/*"])) },
        { policy: policy(list(["raw/orders_cdc/*", "raw/refunds/*"])) },
      ),
    ).toEqual(["s3:ListBucket on arn:aws:s3:::shop-prod-raw if StringLike:s3:prefix=raw/refunds/*"]);
  });

  it("names a condition dropped: the same action, allowed unconditionally", () => {
    expect(
      gained(
        ROLE_POLICY,
        { policy: policy(list(["raw/orders_cdc/*"])) },
        { policy: policy({ ...list([]), Condition: undefined }) },
      ),
    ).toEqual(["s3:ListBucket on arn:aws:s3:::shop-prod-raw"]);
  });

  it("names the principal of a resource policy", () => {
    const statement = { ...read, Principal: { AWS: "arn:aws:iam::123456789012:role/reader" } };
    expect(
      gained("aws:s3/bucketPolicy:BucketPolicy", { policy: policy() }, { policy: policy(statement) }),
    ).toEqual([
      's3:GetObject on arn:aws:s3:::shop-prod-raw/raw/orders_cdc/* for {"AWS":"arn:aws:iam::123456789012:role/reader"}',
    ]);
  });

  it("ignores Deny statements", () => {
    expect(
      gained(
        ROLE_POLICY,
        { policy: policy(read) },
        { policy: policy(read, { ...read, Effect: "Deny", Action: "s3:*" }) },
      ),
    ).toEqual([]);
  });

  it("lists every allow of a new grant", () => {
    expect(gained(ROLE_POLICY, undefined, { policy: policy(read, list(["raw/orders_cdc/*"])) })).toEqual([
      "s3:GetObject on arn:aws:s3:::shop-prod-raw/raw/orders_cdc/*",
      "s3:ListBucket on arn:aws:s3:::shop-prod-raw if StringLike:s3:prefix=raw/orders_cdc/*",
    ]);
  });

  it("says a policy not known until the deploy grants what it will allow, readably", () => {
    expect(gained(ROLE_POLICY, { policy: policy(read) }, { policy: UNKNOWN_VALUE })).toEqual([
      "whatever its policy document allows, known only after the deploy",
    ]);
    // Unknown at both ends: nothing to tell apart.
    expect(gained(ROLE_POLICY, { policy: UNKNOWN_VALUE }, { policy: UNKNOWN_VALUE })).toEqual([]);
    expect(gained(ROLE_POLICY, { policy: policy(read) }, { policy: "{ not json" })).toEqual([
      "whatever its policy document allows (not JSON: { not json)",
    ]);
  });

  it("names a GCP IAM member's new role", () => {
    const member = "serviceAccount:orders@shop-prod.iam.gserviceaccount.com";
    const before = { bucket: "shop-prod-raw", member, role: "roles/storage.objectViewer" };
    expect(gained(BUCKET_IAM_MEMBER, before, { ...before, role: "roles/storage.objectAdmin" })).toEqual([
      `member "${member}", role "roles/storage.objectAdmin"`,
    ]);
    expect(gained(BUCKET_IAM_MEMBER, before, { ...before })).toEqual([]);
  });

  it("names a new binding", () => {
    expect(
      gained(BUCKET_IAM_MEMBER, undefined, {
        bucket: "shop-prod-raw",
        member: "serviceAccount:x@p.iam.gserviceaccount.com",
        role: "roles/storage.objectViewer",
      }),
    ).toEqual(['member "serviceAccount:x@p.iam.gserviceaccount.com", role "roles/storage.objectViewer"']);
  });

  it("ignores what only describes a binding: an Azure role assignment's description", () => {
    const assignment = {
      principalId: "00000000-0000-0000-0000-00000000000a",
      roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/reader",
      scope: "/subscriptions/s/resourceGroups/trib-prod/providers/Microsoft.Storage/storageAccounts/data",
      condition:
        "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'raw'",
      description: "orders reads raw",
      principalType: "ServicePrincipal",
    };
    const RA = "azure-native:authorization:RoleAssignment";
    expect(gained(RA, assignment, { ...assignment, description: "orders reads raw events" })).toEqual([]);
    // The condition dropped: the role on the whole account.
    const { condition: _, ...unconditional } = assignment;
    expect(gained(RA, assignment, unconditional)).toEqual([
      `principalId "${assignment.principalId}", roleDefinitionId "${assignment.roleDefinitionId}", scope "${assignment.scope}"`,
    ]);
  });

  it("names each new member of a GCP IAM binding, and none for a member removed", () => {
    const BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding";
    const before = {
      bucket: "raw",
      role: "roles/storage.objectViewer",
      members: ["user:a@x.com", "user:b@x.com"],
    };
    expect(gained(BINDING, before, { ...before, members: ["user:b@x.com", "user:c@x.com"] })).toEqual([
      'member "user:c@x.com", role "roles/storage.objectViewer"',
    ]);
    expect(gained(BINDING, before, { ...before, members: ["user:a@x.com"] })).toEqual([]);
  });

  it("reads a GCP IAM policy's bindings from its policyData", () => {
    const POLICY = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy";
    const data = (bindings: object[]) => ({ bucket: "raw", policyData: JSON.stringify({ bindings }) });
    const viewer = { role: "roles/storage.objectViewer", members: ["user:a@x.com"] };
    expect(
      gained(
        POLICY,
        data([viewer]),
        data([
          { ...viewer, members: ["user:a@x.com", "group:g@x.com"] },
          { role: "roles/storage.admin", members: [] },
        ]),
      ),
    ).toEqual(['member "group:g@x.com", role "roles/storage.objectViewer"']);
    expect(gained(POLICY, data([viewer]), { bucket: "raw", policyData: UNKNOWN_VALUE })).toEqual([
      "whatever its policy allows, known only after the deploy",
    ]);
  });

  it("names a policy attached to another role", () => {
    const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
    const before = { policyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess", role: "orders" };
    expect(gained(ATTACHMENT, before, { ...before, role: "revenue" })).toEqual([
      'role "revenue", policyArn "arn:aws:iam::aws:policy/ReadOnlyAccess"',
    ]);
  });

  it("widens when anything is gained", () => {
    expect(widens(ROLE_POLICY, { policy: policy(read) }, { policy: policy(read, list(["raw/"])) })).toBe(
      true,
    );
    expect(widens(ROLE_POLICY, { policy: policy(read, list(["raw/"])) }, { policy: policy(read) })).toBe(
      false,
    );
    expect(widens("aws:sqs/queue:Queue", undefined, { name: "q" })).toBe(false);
  });

  it("finds nothing for a resource that grants nothing, or one that is gone", () => {
    expect(gained("aws:s3/bucket:Bucket", undefined, { bucket: "x" })).toEqual([]);
    expect(gained(ROLE_POLICY, { policy: policy(read) }, undefined)).toEqual([]);
  });
});

describe("assetsByUrn", () => {
  const urn = (type: string, name: string) => `urn:pulumi:prod-aws::shop::${type}::${name}`;
  const fn = urn("tributary:aws:AssetFunction", "orders");
  const child = (type: string, name: string) => urn(`tributary:aws:AssetFunction$${type}`, name);
  const tagged = (asset: string) => ({ tags: { "tributary:asset": asset, owner: "team:orders" } });
  const resources: Placed[] = [
    { urn: fn, inputs: {} },
    { urn: child("aws:iam/role:Role", "orders-role"), parent: fn, inputs: tagged("orders") },
    // Untagged children: a role policy, and a resource below it.
    { urn: child("aws:iam/rolePolicy:RolePolicy", "orders-policy"), parent: fn, inputs: { role: "r" } },
    {
      urn: child("aws:lambda/permission:Permission", "orders-invoke"),
      parent: child("aws:iam/rolePolicy:RolePolicy", "orders-policy"),
      inputs: {},
    },
    { urn: urn("aws:s3/bucket:Bucket", "shop-prod-raw"), inputs: tagged("_shared") },
    {
      urn: urn("gcp:storage/bucket:Bucket", "curated"),
      inputs: { labels: { "tributary-asset": "customers" } },
    },
    // A component whose children name two assets serves both: its untagged child has none.
    { urn: urn("tributary:aws:Bus", "bus"), inputs: {} },
    { urn: urn("aws:sqs/queue:Queue", "a"), parent: urn("tributary:aws:Bus", "bus"), inputs: tagged("a") },
    { urn: urn("aws:sqs/queue:Queue", "b"), parent: urn("tributary:aws:Bus", "bus"), inputs: tagged("b") },
    { urn: urn("aws:sns/topic:Topic", "t"), parent: urn("tributary:aws:Bus", "bus"), inputs: {} },
    { urn: urn("aws:kms/key:Key", "key") },
  ];

  it("names a tagged resource's own asset, its untagged siblings' and descendants' through the component", () => {
    expect(Object.fromEntries(assetsByUrn(resources))).toEqual({
      [fn]: "orders",
      [child("aws:iam/role:Role", "orders-role")]: "orders",
      [child("aws:iam/rolePolicy:RolePolicy", "orders-policy")]: "orders",
      [child("aws:lambda/permission:Permission", "orders-invoke")]: "orders",
      [urn("aws:s3/bucket:Bucket", "shop-prod-raw")]: undefined,
      [urn("gcp:storage/bucket:Bucket", "curated")]: "customers",
      [urn("tributary:aws:Bus", "bus")]: undefined,
      [urn("aws:sqs/queue:Queue", "a")]: "a",
      [urn("aws:sqs/queue:Queue", "b")]: "b",
      [urn("aws:sns/topic:Topic", "t")]: undefined,
      [urn("aws:kms/key:Key", "key")]: undefined,
    });
  });

  it("gives a component whose only tagged children are `_shared` no asset", () => {
    const stackWide = urn("tributary:aws:Alarms", "alarms");
    const got = assetsByUrn([
      { urn: stackWide, inputs: {} },
      { urn: urn("aws:sns/topic:Topic", "alarms"), parent: stackWide, inputs: tagged("_shared") },
      { urn: urn("aws:cloudwatch/metricAlarm:MetricAlarm", "x"), parent: stackWide, inputs: {} },
    ]);
    expect([...got.values()]).toEqual([undefined, undefined, undefined]);
  });
});
