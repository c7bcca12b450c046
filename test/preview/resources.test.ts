/**
 * The resource-level difference of one stack between two syntheses, on hand-built syntheses: what
 * `pulumi up` would create, update, replace and delete, and which of those lose data or widen privilege.
 */
import { describe, expect, it } from "vitest";
import { changedPaths, diffSyntheses } from "../../infra/preview/resources.ts";
import type { ResourceChange, Risk } from "../../infra/preview/types.ts";
import { type ResourceRecord, resourceUrn, type Synthesis } from "../../infra/synth/record.ts";

const STACK = "prod-aws";
const PROJECT = "shop";
const ROOT = resourceUrn(STACK, PROJECT, "", "pulumi:pulumi:Stack", `${PROJECT}-${STACK}`);

function record(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  opts: { parent?: string; custom?: boolean; options?: Record<string, unknown> } = {},
): ResourceRecord {
  const parent = opts.parent ?? ROOT;
  return {
    urn: resourceUrn(STACK, PROJECT, parent, type, name),
    type,
    name,
    parent,
    custom: opts.custom ?? true,
    inputs,
    ...(opts.options ? { options: opts.options } : {}),
  };
}

const synthesis = (resources: ResourceRecord[]): Synthesis => ({
  project: PROJECT,
  stack: STACK,
  resources: [
    { urn: ROOT, type: "pulumi:pulumi:Stack", name: `${PROJECT}-${STACK}`, custom: false, inputs: {} },
    ...resources,
  ],
  outputs: {},
});

const tags = (asset: string) => ({ "tributary:asset": asset, owner: "team:data" });
const policy = (actions: string[], resource: string) =>
  JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: actions, Resource: resource }],
  });
const GUARDED = { protect: true, retainOnDelete: true };

/** One asset's function: a component holding a tagged role, its untagged policy and a tagged function. */
function assetFunction(asset: string, actions: string[], runtime = "nodejs20.x"): ResourceRecord[] {
  const component = record("tributary:aws:AssetFunction", asset, {}, { custom: false });
  const parent = component.urn;
  return [
    component,
    record("aws:iam/role:Role", `${asset}-role`, { assumeRolePolicy: "{}", tags: tags(asset) }, { parent }),
    record(
      "aws:iam/rolePolicy:RolePolicy",
      `${asset}-policy`,
      { policy: policy(actions, `arn:aws:s3:::shop-prod-curated/${asset}/*`), role: `${asset}-role` },
      { parent },
    ),
    record("aws:lambda/function:Function", asset, { runtime, tags: tags(asset) }, { parent }),
  ];
}

const bucket = (name: string, physical: string, options?: Record<string, unknown>) =>
  record(
    "aws:s3/bucket:Bucket",
    name,
    { bucket: physical, tags: tags("_shared") },
    options ? { options } : {},
  );

const base = synthesis([
  bucket("raw", "shop-prod-raw", GUARDED),
  bucket("curated", "shop-prod-curated", GUARDED),
  record("aws:kms/key:Key", "key", { enableKeyRotation: true, tags: tags("_shared") }, { options: GUARDED }),
  ...assetFunction("orders", ["s3:GetObject"]),
  record("aws:sqs/queue:Queue", "revenue-dlq", { tags: tags("revenue") }),
]);

const head = synthesis([
  // The physical name changes: a replacement.
  bucket("raw", "shop-prod-raw-v2", GUARDED),
  // No longer protected nor retained.
  bucket("curated", "shop-prod-curated"),
  record("aws:kms/key:Key", "key", { enableKeyRotation: true, tags: tags("_shared") }, { options: GUARDED }),
  // An existing asset: its policy may write now, its function moves to a newer runtime.
  ...assetFunction("orders", ["s3:GetObject", "s3:PutObject"], "nodejs22.x"),
  // A new asset, with its own grants.
  ...assetFunction("customers", ["s3:GetObject"]),
]);

/** The URN of the cloud resource of this name (a component may share it). */
const urnOf = (s: Synthesis, name: string) => s.resources.find((r) => r.custom && r.name === name)!.urn;

describe("changedPaths", () => {
  it("names the paths at which two values differ", () => {
    expect(
      changedPaths(
        { rules: [{ expiration: { days: 30 }, id: "raw" }], tags: { owner: "a" }, name: "x" },
        { rules: [{ expiration: { days: 7 }, id: "raw" }], tags: { owner: "a", team: "b" }, name: "x" },
      ),
    ).toEqual(["rules[0].expiration.days", "tags.team"]);
  });

  it("names a list whose length changed as a whole, and nothing for equal values", () => {
    expect(changedPaths({ a: [1, 2] }, { a: [1, 2, 3] })).toEqual(["a"]);
    expect(changedPaths({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toEqual([]);
    expect(changedPaths(1, 2)).toEqual(["(value)"]);
  });
});

describe("diffSyntheses", () => {
  const d = diffSyntheses(base, head, STACK);

  it("lists creates, updates, replaces and deletes by asset, then URN, components never", () => {
    const expected: ResourceChange[] = [
      {
        op: "update",
        urn: urnOf(head, "curated"),
        type: "aws:s3/bucket:Bucket",
        name: "curated",
        changed: ["options.protect", "options.retainOnDelete"],
      },
      {
        op: "replace",
        urn: urnOf(head, "raw"),
        type: "aws:s3/bucket:Bucket",
        name: "raw",
        changed: ["bucket"],
        replaceKeys: ["bucket"],
        dataLoss: true,
      },
      {
        op: "create",
        urn: urnOf(head, "customers-role"),
        type: "aws:iam/role:Role",
        name: "customers-role",
        asset: "customers",
      },
      {
        op: "create",
        urn: urnOf(head, "customers-policy"),
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "customers-policy",
        asset: "customers",
      },
      {
        op: "create",
        urn: urnOf(head, "customers"),
        type: "aws:lambda/function:Function",
        name: "customers",
        asset: "customers",
      },
      {
        op: "update",
        urn: urnOf(head, "orders-policy"),
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "orders-policy",
        asset: "orders",
        changed: ["policy"],
        widensPrivilege: true,
      },
      {
        op: "update",
        urn: urnOf(head, "orders"),
        type: "aws:lambda/function:Function",
        name: "orders",
        asset: "orders",
        changed: ["runtime"],
      },
      {
        op: "delete",
        urn: urnOf(base, "revenue-dlq"),
        type: "aws:sqs/queue:Queue",
        name: "revenue-dlq",
        asset: "revenue",
      },
    ];
    expect(d.resources).toEqual(expected);
    expect(urnOf(head, "orders-policy")).toBe(
      "urn:pulumi:prod-aws::shop::tributary:aws:AssetFunction$aws:iam/rolePolicy:RolePolicy::orders-policy",
    );
  });

  it("counts the changes by op, the unchanged resources as same", () => {
    expect(d.summary).toEqual({ update: 3, replace: 1, create: 3, delete: 1, same: 2 });
  });

  it("flags the replaced bucket, the unprotected one and the wider policy of an existing asset", () => {
    const expected: Risk[] = [
      {
        kind: "data-loss",
        stack: STACK,
        subject: urnOf(head, "curated"),
        message:
          "Bucket curated is no longer protected: a later change or `pulumi destroy` deletes it with its data",
      },
      {
        kind: "data-loss",
        stack: STACK,
        subject: urnOf(head, "raw"),
        message:
          "replaces Bucket raw (bucket changed): a new, empty one takes its place and the old one is deleted with its data",
      },
      {
        kind: "privilege-widening",
        stack: STACK,
        asset: "orders",
        subject: urnOf(head, "orders-policy"),
        message:
          "changes RolePolicy orders-policy, which grants s3:PutObject on arn:aws:s3:::shop-prod-curated/orders/*",
      },
    ];
    expect(d.risks).toEqual(expected);
  });

  it("is empty for the same synthesis", () => {
    expect(diffSyntheses(base, base, STACK)).toEqual({ resources: [], summary: { same: 7 }, risks: [] });
  });

  it("flags a stack-wide grant that is new in a deployed stack", () => {
    const shared = record("aws:iam/rolePolicy:RolePolicy", "alarms-policy", {
      policy: policy(["sns:Publish"], "*"),
      role: "alarms",
    });
    const widened = diffSyntheses(base, synthesis([...base.resources.slice(1), shared]), STACK);
    expect(widened.resources).toEqual([
      {
        op: "create",
        urn: shared.urn,
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "alarms-policy",
        widensPrivilege: true,
      },
    ]);
    expect(widened.risks).toEqual([
      {
        kind: "privilege-widening",
        stack: STACK,
        subject: shared.urn,
        message: "creates RolePolicy alarms-policy, which grants sns:Publish on *",
      },
    ]);
  });

  it("creates a new stack without flags, and deletes a stack's stores as data loss", () => {
    const created = diffSyntheses(undefined, base, STACK);
    expect(created.resources.map((r) => [r.op, r.name, r.dataLoss, r.widensPrivilege])).toEqual([
      ["create", "key", undefined, undefined],
      ["create", "curated", undefined, undefined],
      ["create", "raw", undefined, undefined],
      ["create", "orders-role", undefined, undefined],
      ["create", "orders-policy", undefined, undefined],
      ["create", "orders", undefined, undefined],
      ["create", "revenue-dlq", undefined, undefined],
    ]);
    expect(created.summary).toEqual({ create: 7, same: 0 });
    expect(created.risks).toEqual([]);

    const gone = diffSyntheses(base, undefined, STACK);
    expect(gone.summary).toEqual({ delete: 7, same: 0 });
    expect(gone.risks.map((r) => [r.kind, r.subject, r.message])).toEqual([
      ["data-loss", urnOf(base, "key"), "deletes Key key: the data it holds is lost"],
      ["data-loss", urnOf(base, "curated"), "deletes Bucket curated: the data it holds is lost"],
      ["data-loss", urnOf(base, "raw"), "deletes Bucket raw: the data it holds is lost"],
    ]);
  });
});
