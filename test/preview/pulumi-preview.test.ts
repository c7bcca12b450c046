/**
 * `pulumi preview --json` read into resource changes grouped by asset, on hand-written previews that
 * follow the engine's PreviewDigest (sdk/go/common/display/json.go): a replacement spread over three
 * steps, deletes, unknown values, a widened policy, components, the stack and a provider. And
 * `tributary preview-comment` on them, run in process.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { COMMENT_LIMIT } from "../../src/infra/preview/markdown.ts";
import {
  type PreviewDigest,
  type PreviewStep,
  previewOfDigest,
  readPreviewDigest,
  UNKNOWN_VALUE,
} from "../../src/infra/preview/pulumi-preview.ts";
import { PREVIEW_VERSION, type Risk, type StackPreview } from "../../src/infra/preview/types.ts";
import { cli } from "../cli/in-process.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/prod-aws.json", import.meta.url));
const digest = readPreviewDigest(fs.readFileSync(FIXTURE, "utf8"), FIXTURE);

const P = "urn:pulumi:prod-aws::shop::";
const RAW = `${P}tributary:aws:Store$aws:s3/bucket:Bucket::raw`;
const LIFECYCLE = `${P}tributary:aws:Store$aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration::curated-lifecycle`;
const fn = (type: string, name: string) => `${P}tributary:aws:AssetFunction$${type}::${name}`;
const ARCHIVE = `${P}gcp:storage/bucket:Bucket::archive`;

const expectedStack: StackPreview = {
  stack: "prod-aws",
  source: "pulumi-preview",
  resources: [
    // Stack-wide (the stores' resources are tagged `_shared`), then by asset; by URN within.
    {
      op: "replace",
      urn: RAW,
      type: "aws:s3/bucket:Bucket",
      name: "raw",
      changed: ["bucket"],
      replaceKeys: ["bucket"],
      unknown: ["arn", "bucketDomainName"],
      dataLoss: true,
    },
    {
      op: "update",
      urn: LIFECYCLE,
      type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      name: "curated-lifecycle",
      // diffReasons says `rules`, detailedDiff the path below it: the path alone.
      changed: ["rules[0].expiration.days"],
    },
    // A new asset's grants come with it: not a widening.
    {
      op: "create",
      urn: fn("aws:iam/role:Role", "customers-role"),
      type: "aws:iam/role:Role",
      name: "customers-role",
      asset: "customers",
      unknown: ["arn"],
    },
    {
      op: "create",
      urn: fn("aws:iam/rolePolicy:RolePolicy", "customers-policy"),
      type: "aws:iam/rolePolicy:RolePolicy",
      name: "customers-policy",
      asset: "customers",
      unknown: ["role"],
    },
    {
      op: "create",
      urn: fn("aws:lambda/function:Function", "customers"),
      type: "aws:lambda/function:Function",
      name: "customers",
      asset: "customers",
      unknown: ["arn", "role"],
    },
    // The policy is untagged: its asset comes from its component, whose tagged children name `orders`.
    {
      op: "update",
      urn: fn("aws:iam/rolePolicy:RolePolicy", "orders-policy"),
      type: "aws:iam/rolePolicy:RolePolicy",
      name: "orders-policy",
      asset: "orders",
      changed: ["policy"],
      widensPrivilege: true,
    },
    {
      op: "update",
      urn: fn("aws:lambda/function:Function", "orders"),
      type: "aws:lambda/function:Function",
      name: "orders",
      asset: "orders",
      changed: ["environment.variables.RAW_BUCKET"],
      unknown: ["environment.variables.RAW_BUCKET", "lastModified", "version"],
    },
    // Its label `tributary-asset` names the asset.
    {
      op: "delete",
      urn: ARCHIVE,
      type: "gcp:storage/bucket:Bucket",
      name: "archive",
      asset: "revenue",
      dataLoss: true,
    },
  ],
  // Pulumi's count of the unchanged (the stack and components included): the previews it is run for
  // may leave the same steps out.
  summary: { replace: 1, update: 3, create: 3, delete: 1, same: 7 },
};

const expectedRisks: Risk[] = [
  {
    kind: "data-loss",
    stack: "prod-aws",
    subject: RAW,
    message:
      "replaces Bucket raw (bucket changed): a new, empty one takes its place and the old one is deleted with its data",
  },
  {
    kind: "privilege-widening",
    stack: "prod-aws",
    asset: "orders",
    subject: fn("aws:iam/rolePolicy:RolePolicy", "orders-policy"),
    message:
      "changes RolePolicy orders-policy, which grants s3:PutObject on arn:aws:s3:::shop-prod-curated/orders/*",
  },
  {
    kind: "data-loss",
    stack: "prod-aws",
    asset: "revenue",
    subject: ARCHIVE,
    message: "deletes Bucket archive: the data it holds is lost",
  },
];

describe("previewOfDigest", () => {
  it("turns the preview into the stack's resource changes and risks", () => {
    expect(previewOfDigest(digest, "prod-aws")).toEqual({ stack: expectedStack, risks: expectedRisks });
  });

  it("takes the stack's name from the URNs when none is given", () => {
    expect(previewOfDigest(digest).stack.stack).toBe("prod-aws");
  });

  /** A small preview of one stack, `dev`, built step by step. */
  const step = (op: string, name: string, type: string, old?: object, now?: object): PreviewStep => {
    const urn = `urn:pulumi:dev::shop::${type}::${name}`;
    return {
      op,
      urn,
      ...(old ? { oldState: { urn, type, custom: true, inputs: old as Record<string, unknown> } } : {}),
      ...(now ? { newState: { urn, type, custom: true, inputs: now as Record<string, unknown> } } : {}),
    };
  };
  const QUEUE = "aws:sqs/queue:Queue";
  const BUCKET = "aws:s3/bucket:Bucket";
  const POLICY = "aws:iam/rolePolicy:RolePolicy";

  it("says a replacement Pulumi gives no reason for (a `--replace`) without naming inputs", () => {
    const inputs = { bucket: "dev-raw", tags: { "tributary:asset": "_shared" } };
    const p = previewOfDigest({
      steps: [
        step("create-replacement", "raw", BUCKET, inputs, inputs),
        step("replace", "raw", BUCKET, inputs, inputs),
        step("delete-replaced", "raw", BUCKET, inputs),
      ],
    });
    expect(p).toEqual({
      stack: {
        stack: "dev",
        source: "pulumi-preview",
        resources: [
          {
            op: "replace",
            urn: "urn:pulumi:dev::shop::aws:s3/bucket:Bucket::raw",
            type: BUCKET,
            name: "raw",
            dataLoss: true,
          },
        ],
        summary: { replace: 1, same: 0 },
      },
      risks: [
        {
          kind: "data-loss",
          stack: "dev",
          subject: "urn:pulumi:dev::shop::aws:s3/bucket:Bucket::raw",
          message:
            "replaces Bucket raw: a new, empty one takes its place and the old one is deleted with its data",
        },
      ],
    });
  });

  it("flags a deployed policy whose document is known only after the deploy, readably", () => {
    const before = {
      policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }] }),
      role: "r",
    };
    const p = previewOfDigest({
      steps: [step("update", "orders-policy", POLICY, before, { ...before, policy: UNKNOWN_VALUE })],
    });
    expect(p.stack.resources).toEqual([
      {
        op: "update",
        urn: "urn:pulumi:dev::shop::aws:iam/rolePolicy:RolePolicy::orders-policy",
        type: POLICY,
        name: "orders-policy",
        unknown: ["policy"],
        widensPrivilege: true,
      },
    ]);
    expect(p.risks.map((r) => r.message)).toEqual([
      "changes RolePolicy orders-policy, which grants whatever its policy document allows, known only after the deploy",
    ]);
  });

  it("changes nothing for discards and pending-replace clean-ups, creates on import, replaces on import-replacement", () => {
    const q = { name: "q" };
    const b = { bucket: "dev-raw" };
    const p = previewOfDigest(
      {
        steps: [
          // A bucket the program read and reads no more: it leaves the state, not the cloud.
          step("discard", "logs", BUCKET, b),
          step("discard-replaced", "logs-old", BUCKET, b),
          step("remove-pending-replace", "raw-old", BUCKET, b),
          step("read-replacement", "shared", BUCKET, b, b),
          step("import", "adopted", QUEUE, undefined, q),
          step("import-replacement", "raw", BUCKET, b, { bucket: "dev-raw-2" }),
          step("delete-replaced", "raw", BUCKET, b),
          step("frobnicate", "x", QUEUE, q, q),
        ],
      },
      "dev",
    );
    expect(p.stack).toEqual({
      stack: "dev",
      source: "pulumi-preview",
      resources: [
        {
          op: "replace",
          urn: "urn:pulumi:dev::shop::aws:s3/bucket:Bucket::raw",
          type: BUCKET,
          name: "raw",
          dataLoss: true,
        },
        {
          op: "create",
          urn: "urn:pulumi:dev::shop::aws:sqs/queue:Queue::adopted",
          type: QUEUE,
          name: "adopted",
        },
      ],
      summary: { create: 1, replace: 1, same: 5 },
      notes: ["steps of an op this reader does not know, left out: frobnicate"],
    });
  });

  it("says a protected bucket's delete stops the update, and a retained one's leaves it in the cloud", () => {
    const urn = (name: string) => `urn:pulumi:dev::shop::${BUCKET}::${name}`;
    const gone = (name: string, options: object) => ({
      op: "delete",
      urn: urn(name),
      oldState: { urn: urn(name), type: BUCKET, custom: true, inputs: { bucket: `dev-${name}` }, ...options },
    });
    const p = previewOfDigest(
      {
        steps: [
          gone("raw", { protect: true, retainOnDelete: true }),
          gone("curated", { retainOnDelete: true }),
        ],
      },
      "dev",
    );
    expect(p.risks.map((r) => [r.subject, r.message])).toEqual([
      [
        urn("curated"),
        "removes Bucket curated from the stack: it is retained in the cloud with its data, but no longer managed or used",
      ],
      [
        urn("raw"),
        "deletes Bucket raw: it is protected, so `pulumi up` stops with an error; unprotected, the data it holds is lost",
      ],
    ]);
  });

  it("counts reads, refreshes and same steps as the same without a changeSummary, and notes errors", () => {
    const q = { name: "q" };
    const d: PreviewDigest = {
      steps: [
        step("same", "a", QUEUE, q, q),
        step("read", "b", QUEUE, undefined, q),
        step("refresh", "c", QUEUE, q, q),
        step("create", "d", QUEUE, undefined, q),
      ],
      diagnostics: [
        { severity: "warning", message: "deprecated\n" },
        { severity: "error", message: "  preview failed: no credentials\n" },
      ],
      maybeCorrupt: true,
    };
    expect(previewOfDigest(d, "dev").stack).toEqual({
      stack: "dev",
      source: "pulumi-preview",
      resources: [
        { op: "create", urn: "urn:pulumi:dev::shop::aws:sqs/queue:Queue::d", type: QUEUE, name: "d" },
      ],
      summary: { create: 1, same: 3 },
      notes: [
        "error: preview failed: no credentials",
        "Pulumi reports that the stack's state may be corrupt",
      ],
    });
  });
});

describe("readPreviewDigest", () => {
  it("says a file is not JSON, with the parser's reason", () => {
    const text = "Previewing update (prod-aws):\n{}";
    let reason = "";
    try {
      JSON.parse(text);
    } catch (e) {
      reason = (e as Error).message;
    }
    expect(reason).not.toBe("");
    expect(() => readPreviewDigest(text, "prod-aws.json")).toThrow(
      `prod-aws.json is not JSON (${reason}): give the output of \`pulumi preview --json\`, without other text.`,
    );
  });

  it("says JSON without steps or changeSummary is not a preview", () => {
    for (const text of ['{"config": {}}', "[]", "null", "42"]) {
      expect(() => readPreviewDigest(text, "prod-aws.json")).toThrow(
        'prod-aws.json is not the output of `pulumi preview --json`: it has neither "steps" nor "changeSummary".',
      );
    }
  });

  it("names the step without an op or URN, and steps that are not a list", () => {
    const urn = "urn:pulumi:dev::shop::aws:sqs/queue:Queue::q";
    expect(() =>
      readPreviewDigest(JSON.stringify({ steps: [{ op: "same", urn }, { urn }] }), "dev.json"),
    ).toThrow('dev.json: step 2 has no "op".');
    expect(() => readPreviewDigest(JSON.stringify({ steps: [{ op: "create" }] }), "dev.json")).toThrow(
      'dev.json: step 1 has no "urn".',
    );
    expect(() => readPreviewDigest(JSON.stringify({ steps: {} }), "dev.json")).toThrow(
      'dev.json: "steps" is not a list.',
    );
  });

  it("takes a preview with a change summary and no steps", () => {
    expect(readPreviewDigest('{"changeSummary": {"same": 3}}', "dev.json")).toEqual({
      changeSummary: { same: 3 },
    });
  });
});

describe("tributary preview-comment", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-preview-comment-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("renders the comment: the marker first, the risks before the resources", async () => {
    const r = await cli("preview-comment", FIXTURE, "--stack", "prod-aws");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("<!-- tributary-preview -->");
    const risks = lines.indexOf("### ⚠️ Risks");
    expect(lines.slice(risks, risks + 10)).toEqual([
      "### ⚠️ Risks",
      "",
      "**Data loss**",
      "",
      "- `prod-aws` · `raw`: replaces Bucket raw (bucket changed): a new, empty one takes its place and the old one is deleted with its data",
      "- `prod-aws` · `revenue` · `archive`: deletes Bucket archive: the data it holds is lost",
      "",
      "**Privilege widening**",
      "",
      "- `prod-aws` · `orders-policy`: changes RolePolicy orders-policy, which grants s3:PutObject on arn:aws:s3:::shop-prod-curated/orders/*",
    ]);
    expect(lines).toContain("⚠️ **3 risks** to review: 2 data-loss risks, 1 privilege widening.");
    expect(lines).toContain("`prod-aws`: 3 to create, 3 to update, 1 to replace, 1 to delete");
    expect(lines).toContain(
      "From `pulumi preview`: 3 to create, 3 to update, 1 to replace, 1 to delete, 7 unchanged.",
    );
    expect(lines).toContain(
      "- replace `aws:s3/bucket:Bucket` `raw` **data loss** (replaced because `bucket` changed; known after deploy: `arn`, `bucketDomainName`)",
    );
    expect(lines).toContain(
      "- update `aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration` `curated-lifecycle` (changes `rules[0].expiration.days`)",
    );
    expect(lines).toContain("<details><summary>orders: 2 to update</summary>");
    expect(lines).toContain("<details><summary>customers: 3 to create</summary>");
    // Neither the stack, the provider nor the components are resources to review.
    expect(r.stdout).not.toContain("pulumi:providers:aws");
    expect(r.stdout).not.toContain("tributary:aws:AssetFunction");
    expect(risks).toBeLessThan(lines.indexOf("### Stack `prod-aws`"));
  });

  it("exits 1 on a risk with --exit-code", async () => {
    const r = await cli("preview-comment", FIXTURE, "--stack", "prod-aws", "--exit-code");
    expect([r.code, r.stderr]).toEqual([1, ""]);
    expect(r.stdout.split("\n")[0]).toBe("<!-- tributary-preview -->");
  });

  it("names the stack after the file without --stack", async () => {
    const file = path.join(dir, "preview-staging-aws.json");
    fs.copyFileSync(FIXTURE, file);
    const r = await cli("preview-comment", file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("### Stack `staging-aws`");
  });

  it("asks for a preview or a diff when given neither", async () => {
    const r = await cli("preview-comment");
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tributary: give the output of `pulumi preview --json` for one or more stacks, or --diff with the output of `tributary diff --format json`, or both.\n",
    });
  });

  it("warns, and still writes every risk, when the risks alone are longer than a comment", async () => {
    // 20,000 deleted buckets in as many stacks: even one line per stack is over GitHub's limit.
    const risks = Array.from({ length: 20_000 }, (_, i) => ({
      kind: "data-loss",
      stack: `stack-${i}`,
      subject: `urn:pulumi:stack-${i}::shop::aws:s3/bucket:Bucket::bucket-${i}`,
      message: `deletes Bucket bucket-${i}: the data it holds is lost`,
    }));
    const file = path.join(dir, "huge-diff.json");
    fs.writeFileSync(file, JSON.stringify({ version: PREVIEW_VERSION, stacks: [], risks }));
    const r = await cli("preview-comment", "--diff", file);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(COMMENT_LIMIT);
    expect(r.stderr).toBe(
      `tributary: the comment is ${r.stdout.length} characters, over GitHub's ${COMMENT_LIMIT}, though it lists only the risks; GitHub will refuse it: attach the JSON (--format json) instead.\n`,
    );
    for (const i of [0, 9_999, 19_999]) expect(r.stdout).toContain(`bucket-${i}`);
  });

  it("says which file is not a preview", async () => {
    const file = path.join(dir, "prod-aws.json");
    fs.writeFileSync(file, JSON.stringify({ config: {} }));
    const r = await cli("preview-comment", file);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `tributary: ${file} is not the output of \`pulumi preview --json\`: it has neither "steps" nor "changeSummary".\n`,
    });
  });
});
