/**
 * The resource-level difference of one stack between two syntheses: what `pulumi up` would create,
 * update, replace and delete, and which of those lose data or widen privilege. On hand-built syntheses,
 * and on real ones of this repository's stacks, one of them with a config override.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { knownReplaceTypes } from "../../src/infra/preview/classify.ts";
import { changedPaths, diffSyntheses } from "../../src/infra/preview/resources.ts";
import type { ResourceChange, Risk } from "../../src/infra/preview/types.ts";
import { synth } from "../../src/infra/synth/index.ts";
import { type ResourceRecord, resourceUrn, type Synthesis } from "../../src/infra/synth/record.ts";

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
function assetFunction(asset: string, actions: string[], runtime = "nodejs22.x"): ResourceRecord[] {
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
  bucket("raw", "shop-prod-raw"),
  bucket("curated", "shop-prod-curated", GUARDED),
  record("aws:kms/key:Key", "key", { enableKeyRotation: true, tags: tags("_shared") }, { options: GUARDED }),
  ...assetFunction("orders", ["s3:GetObject"]),
  record("aws:sqs/queue:Queue", "revenue-dlq", { tags: tags("revenue") }),
]);

const head = synthesis([
  // The physical name changes: a replacement.
  bucket("raw", "shop-prod-raw-v2"),
  // No longer protected nor retained.
  bucket("curated", "shop-prod-curated"),
  record("aws:kms/key:Key", "key", { enableKeyRotation: true, tags: tags("_shared") }, { options: GUARDED }),
  // An existing asset: its policy may write now, its function moves to a newer runtime.
  ...assetFunction("orders", ["s3:GetObject", "s3:PutObject"], "nodejs24.x"),
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

  it("matches the items of lists by their id: an added, removed or moved rule is that rule's path", () => {
    const rule = (id: string, days = 30) => ({ id, expiration: { days } });
    // Added in the middle (head position), the one after it changed.
    expect(changedPaths([rule("a"), rule("z")], [rule("a"), rule("m"), rule("z", 60)])).toEqual([
      "[1]",
      "[2].expiration.days",
    ]);
    // Removed (base position); moved and unchanged: nothing.
    expect(
      changedPaths({ rules: [rule("a"), rule("b"), rule("c")] }, { rules: [rule("c"), rule("a")] }),
    ).toEqual(["rules[1]"]);
    expect(changedPaths([rule("a"), rule("b")], [rule("b"), rule("a")])).toEqual([]);
    // By name when there is no id; positions in reading order.
    const named = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `q${i}` }));
    expect(changedPaths(named(9), named(12))).toEqual(["[9]", "[10]", "[11]"]);
    // Items without a unique id are compared by position.
    expect(changedPaths([rule("a"), rule("a")], [rule("a"), rule("a", 7)])).toEqual(["[1].expiration.days"]);
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
      [
        "data-loss",
        urnOf(base, "key"),
        "deletes Key key: it is protected, so `pulumi up` stops with an error; unprotected, the data it holds is lost",
      ],
      [
        "data-loss",
        urnOf(base, "curated"),
        "deletes Bucket curated: it is protected, so `pulumi up` stops with an error; unprotected, the data it holds is lost",
      ],
      ["data-loss", urnOf(base, "raw"), "deletes Bucket raw: the data it holds is lost"],
    ]);
  });

  it("names the stack after the syntheses when not told", () => {
    expect(diffSyntheses(base, head).risks.map((r) => r.stack)).toEqual([STACK, STACK, STACK]);
  });

  it("says what a protected or retained store's replacement or removal does", () => {
    const guarded = (options: Record<string, unknown>) =>
      synthesis([bucket("raw", "shop-prod-raw", options), bucket("curated", "shop-prod-curated", options)]);
    const renamed = (options: Record<string, unknown>) =>
      synthesis([bucket("raw", "shop-prod-raw-v2", options)]);
    const messages = (b: Synthesis, h: Synthesis) =>
      diffSyntheses(b, h, STACK).risks.map((r) => [r.subject.split("::").pop(), r.message]);

    expect(messages(guarded({ retainOnDelete: true }), renamed({ retainOnDelete: true }))).toEqual([
      [
        "curated",
        "removes Bucket curated from the stack: it is retained in the cloud with its data, but no longer managed or used",
      ],
      [
        "raw",
        "replaces Bucket raw (bucket changed): a new, empty one takes its place; the old one is retained with its data, but no longer used",
      ],
    ]);
    expect(messages(guarded(GUARDED), renamed(GUARDED))).toEqual([
      [
        "curated",
        "deletes Bucket curated: it is protected, so `pulumi up` stops with an error; unprotected, the data it holds is lost",
      ],
      [
        "raw",
        "replaces Bucket raw (bucket changed): it is protected, so `pulumi up` stops with an error; unprotected, a new, empty one takes its place and the old one is deleted with its data",
      ],
    ]);
    // The same change lifts the protection: the program's options decide a replacement.
    expect(messages(guarded({ protect: true }), renamed({}))).toEqual([
      [
        "curated",
        "deletes Bucket curated: it is protected, so `pulumi up` stops with an error; unprotected, the data it holds is lost",
      ],
      [
        "raw",
        "replaces Bucket raw (bucket changed): a new, empty one takes its place and the old one is deleted with its data",
      ],
    ]);
  });

  it("does not see a function's code move to another bundles folder, and does see another bundle", () => {
    const fn = (code: string) =>
      synthesis([
        record("aws:lambda/function:Function", "orders", {
          code: { $archive: { path: code } },
          tags: tags("orders"),
        }),
      ]);
    expect(diffSyntheses(fn("/tmp/b/aws-arm64"), fn("/home/ci/bundles/aws-arm64/"), STACK).resources).toEqual(
      [],
    );
    expect(diffSyntheses(fn("/tmp/b/aws-arm64"), fn("/tmp/b/aws-x64"), STACK).resources).toEqual([
      {
        op: "update",
        urn: urnOf(fn("/tmp/b/aws-x64"), "orders"),
        type: "aws:lambda/function:Function",
        name: "orders",
        asset: "orders",
        changed: ["code.$archive.path"],
      },
    ]);
    // Relative paths are the project's: another one is another file.
    expect(
      diffSyntheses(fn("dist/bundles/aws-arm64"), fn("build/aws-arm64"), STACK).resources.map(
        (r) => r.changed,
      ),
    ).toEqual([["code.$archive.path"]]);
  });
});

describe("diffSyntheses on this repository's stacks", () => {
  /** The example project: its Pulumi.yaml, program and stacks. */
  const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
  const STACKS = ["dev-aws", "prod-aws", "staging-gcp", "prod-azure"] as const;
  let synths: Record<string, Synthesis> = {};
  let longerRetention: Synthesis;
  let elsewhere: string;

  beforeAll(async () => {
    // The same bundle under another folder, as a diff's stand-in bundles or another machine's are.
    elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-resources-bundles-"));
    fs.symlinkSync(path.join(inject("bundles").dir, "aws-arm64"), path.join(elsewhere, "aws-arm64"), "dir");
    const [changed, ...each] = await Promise.all([
      synth({
        root: example,
        stack: "dev-aws",
        override: {
          "tributary:retentionDays": JSON.stringify({ raw: 60, quarantine: 14, curated: 7 }),
          "tributary:bundles": elsewhere,
        },
      }),
      ...STACKS.map((stack) => synth({ root: example, stack })),
    ]);
    longerRetention = changed!;
    synths = Object.fromEntries(STACKS.map((s, i) => [s, each[i]!]));
    // Five programs under mocks at once, on two cores, beside the other test files.
  }, 180_000);
  afterAll(() => fs.rmSync(elsewhere, { recursive: true, force: true }));

  it("finds the one lifecycle a longer raw retention changes: its rule's days and the cold tier it now has", () => {
    const d = diffSyntheses(synths["dev-aws"], longerRetention);
    expect(d).toEqual({
      resources: [
        {
          op: "update",
          urn: "urn:pulumi:dev-aws::tributary::tributary:aws:Store$aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration::trib-dev-raw-lifecycle",
          type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
          name: "trib-dev-raw-lifecycle",
          // 30 days are no longer than the default 30 before the cold tier: a rule `move-to-cold-tier`
          // comes in before `expire-after-retention`, matched by its id.
          changed: ["rules[2]", "rules[3].expiration.days"],
        },
      ],
      summary: { update: 1, same: 174 },
      risks: [],
    });
    const rules = (s: Synthesis) =>
      (s.resources.find((r) => r.name === "trib-dev-raw-lifecycle")!.inputs.rules as { id: string }[]).map(
        (r) => r.id,
      );
    expect(rules(longerRetention)).toEqual([
      "abort-incomplete-uploads",
      "expire-noncurrent-versions",
      "move-to-cold-tier",
      "expire-after-retention",
    ]);
  });

  it("knows the replacing inputs of every resource type the stacks register", () => {
    const registered = [
      ...new Set(
        Object.values(synths).flatMap((s) => s.resources.filter((r) => r.custom).map((r) => r.type)),
      ),
    ].sort();
    expect(registered.filter((t) => !knownReplaceTypes().includes(t))).toEqual([]);
    // 64; GCP's API service and Azure's network: virtual network, subnet, public IP, NAT gateway,
    // private endpoint and its DNS zone group, private DNS zone and its link, Service Bus network rules;
    // the secrets of each cloud and what they need; the CDC streams (Kinesis; Event Hubs namespace, its
    // network rules, hubs and consumer groups); the embedding models' grants (GCP's custom role and its
    // project binding, the Azure OpenAI account and its deployment); the curated tables' catalogs,
    // serverless SQL and grants (3 on AWS; 6 more on GCP, whose custom role and project binding the
    // embedding grant has too; Azure's query identity is of types already counted).
    expect(registered).toHaveLength(64 + 1 + 9 + 8 + 5 + 4 + 3 + 6);
  });
});
