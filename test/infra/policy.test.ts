import { createRequire } from "node:module";
import type {
  PolicyPackArgs,
  PolicyResource,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { unknownCheckingProxy } from "@pulumi/policy";
import { describe, expect, it, vi } from "vitest";
import { UNKNOWN } from "../../src/infra/policy/read.ts";
import type { Violation } from "../../src/infra/policy/rules/common.ts";
import { evaluate, rules } from "../../src/infra/policy/rules/index.ts";
import type { ResourceRecord } from "../../src/infra/synth/record.ts";
import {
  ACCOUNT,
  compliantStack,
  KEPT,
  KEY_ARN,
  LOGS_BUCKET,
  ORDERS_QUEUE_ARN,
  RAW_BUCKET,
  REGION,
} from "./fixtures/aws-resources.ts";

// Constructing a PolicyPack starts the analyzer's gRPC server; record the construction instead.
const pack = vi.hoisted(() => ({ constructed: [] as { name: string; args: PolicyPackArgs }[] }));
vi.mock("@pulumi/policy", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@pulumi/policy")>();
  class RecordingPolicyPack {
    constructor(name: string, args: PolicyPackArgs) {
      pack.constructed.push({ name, args });
    }
  }
  return { ...actual, PolicyPack: RecordingPolicyPack };
});

/** The stack with one resource's inputs changed. */
function edit(
  resources: readonly ResourceRecord[],
  name: string,
  change: (inputs: Record<string, unknown>) => Record<string, unknown>,
): ResourceRecord[] {
  expect(resources.some((r) => r.name === name)).toBe(true);
  // A shallow copy: changes build new values (UNKNOWN, a symbol, could not be structured-cloned).
  return resources.map((r) => (r.name === name ? { ...r, inputs: change({ ...r.inputs }) } : r));
}

/** The stack without the named resources. */
function without(resources: readonly ResourceRecord[], ...names: string[]): ResourceRecord[] {
  for (const name of names) expect(resources.some((r) => r.name === name)).toBe(true);
  return resources.filter((r) => !names.includes(r.name));
}

const urn = (resources: readonly ResourceRecord[], name: string): string => {
  const r = resources.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r.urn;
};

/** The orders function's role policy with these statements (and none other). */
function ordersRolePolicy(...statements: Record<string, unknown>[]): ResourceRecord[] {
  return edit(compliantStack(), "trib-dev-orders-policy", (inputs) => ({
    ...inputs,
    policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
  }));
}

/** The stack with one resource's options replaced (undefined: none). */
function withOptions(
  resources: readonly ResourceRecord[],
  name: string,
  options: Record<string, unknown> | undefined,
): ResourceRecord[] {
  expect(resources.some((r) => r.name === name)).toBe(true);
  return resources.map((r) => {
    if (r.name !== name) return r;
    const { options: _, ...rest } = r;
    return options === undefined ? rest : { ...rest, options };
  });
}

/** The single violation a change should cause. */
function only(resources: readonly ResourceRecord[], name: string, policy: string, message: string): void {
  expect(evaluate(resources)).toEqual([{ policy, urn: urn(resources, name), message }]);
}

const RULE_NAMES = [
  "store-encrypted-with-customer-key",
  "no-public-access",
  "tls-only",
  "no-wildcard-grants",
  "dead-letter-queue",
  "log-retention",
  "required-tags",
  "stores-survive-changes",
  "apis-enabled",
  "raw-append-only",
  "no-owner-roles",
  "storage-roles-isolated",
  "private-network",
  "query-workgroup-guarded",
  "query-reads-curated-only",
  "catalog-writers-scoped",
  "dataset-encrypted-with-customer-key",
  "secrets-encrypted-with-stack-key",
  "secret-read-only-by-declaring-functions",
  "no-plain-secrets-in-environment",
  "stream-encrypted-with-stack-key",
  "stream-local-auth-off",
  "stream-producer-sends-only",
  "stream-consumer-reads-own",
  "stream-dead-letters",
  "embedding-model-scoped",
  "embedding-model-only-embedding-functions",
  "vector-prefix-only-its-asset",
  "azure-openai-local-auth-off",
];

const TLS_FIX = (bucket: string): string =>
  `deny s3:* to every principal on arn:aws:s3:::${bucket} and arn:aws:s3:::${bucket}/* with Condition ` +
  `{"Bool": {"aws:SecureTransport": "false"}}`;

const WILDCARD_FIX =
  `name concrete ARNs (a final "*" is allowed only after a concrete prefix, such as an object key prefix or ` +
  `a log group's streams)`;

describe("the security rules", () => {
  it("have stable names, in order", () => {
    expect(rules.map((r) => r.name)).toEqual(RULE_NAMES);
  });

  it("pass the compliant stack", () => {
    expect(evaluate(compliantStack())).toEqual([]);
  });

  it("give the same answer twice over the same resources", () => {
    const broken = without(compliantStack(), "trib-dev-raw-encryption", "trib-dev-raw-public-access");
    expect(evaluate(broken)).toEqual(evaluate(structuredClone(broken)));
    expect(evaluate(broken).map((v) => v.policy)).toEqual([
      "store-encrypted-with-customer-key",
      "no-public-access",
    ]);
  });
});

describe("store-encrypted-with-customer-key", () => {
  it("reports a bucket without a server-side encryption configuration", () => {
    only(
      without(compliantStack(), "trib-dev-raw-encryption"),
      "trib-dev-raw",
      "store-encrypted-with-customer-key",
      `bucket "trib-dev-raw" has no server-side encryption configuration; encrypt it with the stack's KMS key`,
    );
  });

  it("reports a data bucket encrypted with AES256", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-encryption", (inputs) => ({
      ...inputs,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    }));
    only(
      resources,
      "trib-dev-raw",
      "store-encrypted-with-customer-key",
      `bucket "trib-dev-raw" is encrypted with "AES256", not a customer-managed KMS key; ` +
        `set sseAlgorithm "aws:kms" and kmsMasterKeyId to the stack's KMS key`,
    );
  });

  it("reports aws:kms without a key (the AWS-managed key)", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-encryption", (inputs) => ({
      ...inputs,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: "" } }],
    }));
    only(
      resources,
      "trib-dev-raw",
      "store-encrypted-with-customer-key",
      `bucket "trib-dev-raw" uses aws:kms without a kmsMasterKeyId (the AWS-managed key); ` +
        `set kmsMasterKeyId to the stack's KMS key`,
    );
  });

  it("reports a second encryption configuration", () => {
    const resources = compliantStack();
    const first = resources.find((r) => r.name === "trib-dev-raw-encryption")!;
    const second = { ...first, name: "trib-dev-raw-encryption-2", urn: `${first.urn}-2` };
    only(
      [...resources, second],
      "trib-dev-raw",
      "store-encrypted-with-customer-key",
      `bucket "trib-dev-raw" has 2 server-side encryption configurations ("trib-dev-raw-encryption", ` +
        `"trib-dev-raw-encryption-2"); keep exactly one`,
    );
  });

  it("lets the access-log bucket use SSE-S3 but not go unencrypted", () => {
    only(
      without(compliantStack(), "trib-dev-access-logs-encryption"),
      "trib-dev-access-logs",
      "store-encrypted-with-customer-key",
      `bucket "trib-dev-access-logs" has no server-side encryption configuration; ` +
        `encrypt it with SSE-S3 (sseAlgorithm AES256)`,
    );
  });

  it("treats a bucket without a store tag as a data bucket", () => {
    const resources = edit(compliantStack(), "trib-dev-access-logs", (inputs) => {
      const tags = { ...(inputs["tags"] as Record<string, string>) };
      delete tags["tributary:store"];
      return { ...inputs, tags };
    });
    only(
      resources,
      "trib-dev-access-logs",
      "store-encrypted-with-customer-key",
      `bucket "trib-dev-access-logs" is encrypted with "AES256", not a customer-managed KMS key; ` +
        `set sseAlgorithm "aws:kms" and kmsMasterKeyId to the stack's KMS key`,
    );
  });
});

describe("no-public-access", () => {
  it("reports a public access block flag that is false", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-public-access", (inputs) => ({
      ...inputs,
      restrictPublicBuckets: false,
    }));
    only(
      resources,
      "trib-dev-raw",
      "no-public-access",
      `bucket "trib-dev-raw" public access block "trib-dev-raw-public-access" does not set restrictPublicBuckets ` +
        `to true; set all four flags to true`,
    );
  });

  it("reports a bucket without a public access block or ownership controls", () => {
    const resources = without(compliantStack(), "trib-dev-raw-public-access", "trib-dev-raw-ownership");
    expect(evaluate(resources)).toEqual([
      {
        policy: "no-public-access",
        urn: urn(resources, "trib-dev-raw"),
        message:
          `bucket "trib-dev-raw" has no public access block; add one with blockPublicAcls, blockPublicPolicy, ` +
          `ignorePublicAcls, restrictPublicBuckets all true`,
      },
      {
        policy: "no-public-access",
        urn: urn(resources, "trib-dev-raw"),
        message:
          `bucket "trib-dev-raw" has no ownership controls; add them with objectOwnership "BucketOwnerEnforced" ` +
          `to turn ACLs off`,
      },
    ]);
  });

  it("reports ownership controls that keep ACLs on", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-ownership", (inputs) => ({
      ...inputs,
      rule: { objectOwnership: "ObjectWriter" },
    }));
    only(
      resources,
      "trib-dev-raw",
      "no-public-access",
      `bucket "trib-dev-raw" ownership controls "trib-dev-raw-ownership" set objectOwnership "ObjectWriter"; ` +
        `set it to "BucketOwnerEnforced" to turn ACLs off`,
    );
  });

  it("reports a bucket policy that allows everyone", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-policy", (inputs) => {
      const doc = JSON.parse(inputs["policy"] as string) as { Statement: unknown[] };
      doc.Statement.push({
        Sid: "PublicRead",
        Effect: "Allow",
        Principal: { AWS: "*" },
        Action: "s3:GetObject",
        Resource: `arn:aws:s3:::${RAW_BUCKET}/raw/public/*`,
      });
      return { ...inputs, policy: JSON.stringify(doc) };
    });
    only(
      resources,
      "trib-dev-raw-policy",
      "no-public-access",
      `bucket policy "trib-dev-raw-policy" statement "PublicRead" allows everyone (Principal "*"); name the principals`,
    );
  });
});

describe("tls-only", () => {
  it("reports a bucket without a bucket policy", () => {
    only(
      without(compliantStack(), "trib-dev-raw-policy"),
      "trib-dev-raw",
      "tls-only",
      `bucket "trib-dev-raw" has no bucket policy; attach one that must ${TLS_FIX(RAW_BUCKET)}`,
    );
  });

  it("reports a Deny that covers the objects but not the bucket", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-policy", (inputs) => ({
      ...inputs,
      policy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: `arn:aws:s3:::${RAW_BUCKET}/*`,
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      }),
    }));
    only(
      resources,
      "trib-dev-raw",
      "tls-only",
      `bucket "trib-dev-raw" accepts requests without TLS on arn:aws:s3:::${RAW_BUCKET}; ` +
        `its bucket policy must ${TLS_FIX(RAW_BUCKET)}`,
    );
  });

  it("does not count a Deny without the aws:SecureTransport condition", () => {
    const resources = edit(compliantStack(), "trib-dev-raw-policy", (inputs) => ({
      ...inputs,
      policy: (inputs["policy"] as string).replace('"aws:SecureTransport"', '"aws:ViaAWSService"'),
    }));
    only(
      resources,
      "trib-dev-raw",
      "tls-only",
      `bucket "trib-dev-raw" accepts requests without TLS on arn:aws:s3:::${RAW_BUCKET} and ` +
        `arn:aws:s3:::${RAW_BUCKET}/*; its bucket policy must ${TLS_FIX(RAW_BUCKET)}`,
    );
  });
});

describe("no-wildcard-grants", () => {
  const head = `role policy "trib-dev-orders-policy"`;

  it("reports a role policy allowing s3:*", () => {
    const resources = ordersRolePolicy({
      Sid: "Everything",
      Effect: "Allow",
      Action: "s3:*",
      Resource: `arn:aws:s3:::${RAW_BUCKET}/raw/orders/*`,
    });
    expect(evaluate(resources).map((v) => [v.policy, v.message])).toEqual([
      [
        "no-wildcard-grants",
        `${head} statement "Everything" allows wildcard actions "s3:*"; list the actions it needs`,
      ],
      // s3:* deletes too, here on raw history.
      [
        "raw-append-only",
        `${head} statement "Everything" allows "s3:*" on raw history "arn:aws:s3:::${RAW_BUCKET}/raw/orders/*"; ` +
          "ingest only appends (s3:PutObject), and the raw bucket's lifecycle rule expires old events",
      ],
    ]);
  });

  it("reports a role policy on Resource *", () => {
    only(
      ordersRolePolicy({ Effect: "Allow", Action: ["s3:GetObject"], Resource: "*" }),
      "trib-dev-orders-policy",
      "no-wildcard-grants",
      `${head} statement #1 grants on wildcard resources "*"; ${WILDCARD_FIX}`,
    );
  });

  it("reports a role policy granting a whole bucket's objects", () => {
    only(
      ordersRolePolicy({
        Effect: "Allow",
        Action: "s3:GetObject",
        Resource: [`arn:aws:s3:::${RAW_BUCKET}/*`],
      }),
      "trib-dev-orders-policy",
      "no-wildcard-grants",
      `${head} statement #1 grants on wildcard resources "arn:aws:s3:::${RAW_BUCKET}/*"; ${WILDCARD_FIX}`,
    );
  });

  it("allows a final * only after a concrete prefix", () => {
    const allowed = [
      `arn:aws:s3:::${RAW_BUCKET}/curated/orders/*`,
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/tributary/x/y:log-stream:*`,
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/tributary/x/y:*`,
      KEY_ARN,
    ];
    expect(
      evaluate(ordersRolePolicy({ Effect: "Allow", Action: "s3:GetObject", Resource: allowed })),
    ).toEqual([]);
    const forbidden = [
      "arn:aws:s3:::*",
      `arn:aws:s3:::${RAW_BUCKET}/cur*/x`,
      `arn:aws:s3:::${RAW_BUCKET}/curated*`,
      `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:*`,
      `arn:aws:logs:*:${ACCOUNT}:log-group:/tributary/x/y:*`,
      `arn:aws:sqs:${REGION}:${ACCOUNT}:trib-dev-?`,
    ];
    for (const resource of forbidden) {
      expect(
        evaluate(ordersRolePolicy({ Effect: "Allow", Action: "s3:GetObject", Resource: resource })),
      ).toEqual([
        {
          policy: "no-wildcard-grants",
          urn: urn(compliantStack(), "trib-dev-orders-policy"),
          message: `${head} statement #1 grants on wildcard resources ${JSON.stringify(resource)}; ${WILDCARD_FIX}`,
        },
      ]);
    }
  });

  it("reports NotAction and NotResource", () => {
    const resources = ordersRolePolicy({ Effect: "Allow", NotAction: "iam:*", NotResource: KEY_ARN });
    expect(evaluate(resources).map((v) => v.message)).toEqual([
      `${head} statement #1 allows by NotAction (every action but the listed ones); ` +
        `list the allowed actions under Action`,
      `${head} statement #1 allows by NotResource (every resource but the listed ones); ` +
        `list the allowed resources under Resource`,
    ]);
  });

  it("reports an unparseable policy document", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-policy", (inputs) => ({
      ...inputs,
      policy: '{"Version": "2012-10-17", "Statement": [',
    }));
    only(
      resources,
      "trib-dev-orders-policy",
      "no-wildcard-grants",
      `${head} has a policy document that is not valid JSON; write it as a JSON IAM policy document`,
    );
  });

  it("lets a Deny use wildcards", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-policy", (inputs) => {
      const doc = JSON.parse(inputs["policy"] as string) as { Statement: unknown[] };
      doc.Statement.push({ Sid: "NoDeletes", Effect: "Deny", Action: "s3:*", Resource: "*" });
      return { ...inputs, policy: JSON.stringify(doc) };
    });
    expect(evaluate(resources)).toEqual([]);
  });

  it("checks a role's inline policies, given as objects too", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-role", (inputs) => ({
      ...inputs,
      inlinePolicies: [
        {
          name: "extra",
          policy: {
            Version: "2012-10-17",
            Statement: { Effect: "Allow", Action: "sqs:*", Resource: ORDERS_QUEUE_ARN },
          },
        },
      ],
    }));
    only(
      resources,
      "trib-dev-orders-role",
      "no-wildcard-grants",
      `role "trib-dev-orders-role" inline policy "extra" statement #1 allows wildcard actions "sqs:*"; ` +
        `list the actions it needs`,
    );
  });

  it("reads an empty document as no policy (how AWS reports a role without inline policies)", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-role", (inputs) => ({
      ...inputs,
      inlinePolicies: [{ name: "", policy: "" }],
    }));
    expect(evaluate(resources)).toEqual([]);
  });

  it("lets only the S3 log delivery service write anywhere in the access-log bucket", () => {
    const grant = (principal: unknown) =>
      edit(compliantStack(), "trib-dev-access-logs-policy", (inputs) => {
        const doc = JSON.parse(inputs["policy"] as string) as {
          Statement: { Resource: string; Principal: unknown }[];
        };
        doc.Statement[1]!.Resource = `arn:aws:s3:::${LOGS_BUCKET}/*`;
        doc.Statement[1]!.Principal = principal;
        return { ...inputs, policy: JSON.stringify(doc) };
      });
    expect(evaluate(grant({ Service: "logging.s3.amazonaws.com" }))).toEqual([]);
    const resources = grant({ AWS: `arn:aws:iam::${ACCOUNT}:role/trib-dev-orders-role` });
    only(
      resources,
      "trib-dev-access-logs-policy",
      "no-wildcard-grants",
      `bucket policy "trib-dev-access-logs-policy" statement "AllowServerAccessLogDelivery" grants on wildcard ` +
        `resources "arn:aws:s3:::${LOGS_BUCKET}/*"; ${WILDCARD_FIX}`,
    );
  });
});

describe("dead-letter-queue", () => {
  it("reports a consumer queue without a redrive policy", () => {
    const resources = edit(
      compliantStack(),
      "trib-dev-orders-queue",
      ({ redrivePolicy: _, ...inputs }) => inputs,
    );
    only(
      resources,
      "trib-dev-orders-queue",
      "dead-letter-queue",
      `queue "trib-dev-orders-queue" has no redrive policy; set redrivePolicy with a deadLetterTargetArn and a ` +
        `maxReceiveCount of at least 1`,
    );
  });

  it("reports a redrive policy with maxReceiveCount 0", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-queue", (inputs) => ({
      ...inputs,
      redrivePolicy: JSON.stringify({
        deadLetterTargetArn: "arn:aws:sqs:eu-west-1:123456789012:dlq",
        maxReceiveCount: 0,
      }),
    }));
    only(
      resources,
      "trib-dev-orders-queue",
      "dead-letter-queue",
      `queue "trib-dev-orders-queue" redrive policy has maxReceiveCount 0; set it to at least 1`,
    );
  });

  it("reports an event target without a dead-letter queue", () => {
    const resources = edit(
      compliantStack(),
      "trib-dev-orders-target",
      ({ deadLetterConfig: _, ...inputs }) => inputs,
    );
    only(
      resources,
      "trib-dev-orders-target",
      "dead-letter-queue",
      `event target "trib-dev-orders-target" has no dead-letter queue; set deadLetterConfig.arn to an SQS queue ` +
        `for the events it cannot deliver`,
    );
  });

  it("reports a schedule without a dead-letter queue", () => {
    const resources = edit(compliantStack(), "trib-dev-daily-revenue-schedule", (inputs) => {
      const { deadLetterConfig: _, ...target } = inputs["target"] as Record<string, unknown>;
      return { ...inputs, target };
    });
    only(
      resources,
      "trib-dev-daily-revenue-schedule",
      "dead-letter-queue",
      `schedule "trib-dev-daily-revenue-schedule" has no dead-letter queue; set target.deadLetterConfig.arn to an ` +
        `SQS queue for the invocations it cannot deliver`,
    );
  });

  it("reports an SQS event source mapping that does not report batch item failures", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-esm", (inputs) => ({
      ...inputs,
      functionResponseTypes: [],
    }));
    only(
      resources,
      "trib-dev-orders-esm",
      "dead-letter-queue",
      `event source mapping "trib-dev-orders-esm" does not report batch item failures; set ` +
        `functionResponseTypes to ["ReportBatchItemFailures"] so one failed message does not retry its whole batch`,
    );
  });
});

describe("log-retention", () => {
  it("reports a log group without retention, and the function logging to it", () => {
    const resources = edit(
      compliantStack(),
      "trib-dev-orders-logs",
      ({ retentionInDays: _, ...inputs }) => inputs,
    );
    expect(evaluate(resources)).toEqual([
      {
        policy: "log-retention",
        urn: urn(resources, "trib-dev-orders-logs"),
        message: `log group "trib-dev-orders-logs" keeps its logs forever; set retentionInDays (for example 30)`,
      },
      {
        policy: "log-retention",
        urn: urn(resources, "trib-dev-orders"),
        message:
          `function "trib-dev-orders" logs to log group "trib-dev-orders-logs", which has no retention; ` +
          `set retentionInDays on it`,
      },
    ]);
  });

  it("reports a function logging to a log group outside the stack", () => {
    const resources = edit(compliantStack(), "trib-dev-orders", (inputs) => ({
      ...inputs,
      loggingConfig: { logFormat: "JSON", logGroup: "/aws/lambda/trib-dev-orders" },
    }));
    only(
      resources,
      "trib-dev-orders",
      "log-retention",
      `function "trib-dev-orders" logs to "/aws/lambda/trib-dev-orders", which is not a log group of this stack; ` +
        `create it with retentionInDays or point loggingConfig.logGroup at one`,
    );
  });
});

describe("required-tags", () => {
  it("reports a bucket missing cost-centre", () => {
    const resources = edit(compliantStack(), "trib-dev-raw", (inputs) => {
      const tags = { ...(inputs["tags"] as Record<string, string>) };
      delete tags["cost-centre"];
      return { ...inputs, tags };
    });
    only(
      resources,
      "trib-dev-raw",
      "required-tags",
      `bucket "trib-dev-raw" is missing the required tag "cost-centre"; tag it with tributary:asset, ` +
        `tributary:pipeline, tributary:env, owner, cost-centre (none empty)`,
    );
  });

  it("names every missing or empty tag", () => {
    const resources = edit(compliantStack(), "trib-dev-orders-esm", (inputs) => ({
      ...inputs,
      tags: { "tributary:asset": "orders", "tributary:pipeline": "", owner: "data-platform" },
    }));
    only(
      resources,
      "trib-dev-orders-esm",
      "required-tags",
      `event source mapping "trib-dev-orders-esm" is missing the required tags "tributary:pipeline", ` +
        `"tributary:env", "cost-centre"; tag it with tributary:asset, tributary:pipeline, tributary:env, owner, ` +
        `cost-centre (none empty)`,
    );
  });
});

describe("stores-survive-changes", () => {
  const RAW = 'bucket "trib-dev-raw"';
  const STORE_FIX =
    "declare the assets and sources whose data it holds disposable: true if that data can be rebuilt or " +
    "thrown away";
  const survive = "stores-survive-changes";
  const disposable = (resources: readonly ResourceRecord[], name: string, value = "true") =>
    edit(resources, name, (inputs) => ({
      ...inputs,
      tags: { ...(inputs.tags as object), "tributary:disposable": value },
    }));

  it("reports a bucket without protect, however retained", () => {
    const message =
      `${RAW} is not protected, so a stack change may delete or replace it and lose its data; keep protect: ` +
      `true and retainOnDelete: true on it, or ${STORE_FIX}`;
    for (const options of [undefined, { retainOnDelete: true }]) {
      only(withOptions(compliantStack(), "trib-dev-raw", options), "trib-dev-raw", survive, message);
    }
  });

  it("reports a protected bucket that is not retained on delete", () => {
    only(
      withOptions(compliantStack(), "trib-dev-raw", { protect: true }),
      "trib-dev-raw",
      survive,
      `${RAW} is not retained on delete, so removing it from the stack deletes it and loses its data; set ` +
        `retainOnDelete: true on it, or ${STORE_FIX}`,
    );
  });

  it("reports an unprotected key, naming what its deletion loses", () => {
    only(
      withOptions(compliantStack(), "trib-dev-key", undefined),
      "trib-dev-key",
      survive,
      `KMS key "trib-dev-key" is not protected, so a stack change may delete or replace it and lose every ` +
        `store's data it encrypts; keep protect: true and retainOnDelete: true on it, or declare every asset ` +
        `and source of the stack disposable: true if no store's data needs keeping`,
    );
  });

  it("reports deleteBeforeReplace and replaceOnChanges on a protected bucket", () => {
    const resources = withOptions(compliantStack(), "trib-dev-access-logs", {
      ...KEPT,
      deleteBeforeReplace: true,
      replaceOnChanges: ["bucket"],
    });
    const label = 'bucket "trib-dev-access-logs"';
    expect(evaluate(resources)).toEqual([
      {
        policy: survive,
        urn: urn(resources, "trib-dev-access-logs"),
        message:
          `${label} sets deleteBeforeReplace, so a replacement deletes it, and its data, before its successor ` +
          `exists; remove deleteBeforeReplace`,
      },
      {
        policy: survive,
        urn: urn(resources, "trib-dev-access-logs"),
        message:
          `${label} sets replaceOnChanges ("bucket"), so changing those inputs replaces it and loses its data; ` +
          `remove replaceOnChanges`,
      },
    ]);
  });

  it("lets a bucket or key tagged tributary:disposable go, and only with the value true", () => {
    let resources = compliantStack();
    for (const name of ["trib-dev-raw", "trib-dev-access-logs", "trib-dev-key"]) {
      resources = disposable(withOptions(resources, name, undefined), name);
    }
    resources = withOptions(resources, "trib-dev-raw", { deleteBeforeReplace: true });
    expect(evaluate(resources)).toEqual([]);
    const notQuite = disposable(resources, "trib-dev-access-logs", "yes");
    expect(evaluate(notQuite).map((v) => [v.policy, v.urn])).toEqual([
      [survive, urn(notQuite, "trib-dev-access-logs")],
    ]);
  });

  it("skips what a preview does not know: the tags, retainOnDelete", () => {
    let resources = withOptions(compliantStack(), "trib-dev-raw", undefined);
    resources = edit(resources, "trib-dev-raw", (inputs) => ({ ...inputs, tags: UNKNOWN }));
    resources = withOptions(resources, "trib-dev-key", { protect: true, retainOnDelete: UNKNOWN });
    expect(evaluate(resources)).toEqual([]);
  });
});

describe("unknown values (a preview)", () => {
  it("skip what cannot be known instead of reporting it", () => {
    let resources = compliantStack();
    resources = edit(resources, "trib-dev-raw", (inputs) => ({ ...inputs, bucket: UNKNOWN }));
    for (const part of [
      "ownership",
      "public-access",
      "encryption",
      "policy",
      "lifecycle",
      "versioning",
      "logging",
    ]) {
      resources = edit(resources, `trib-dev-raw-${part}`, (inputs) => ({ ...inputs, bucket: UNKNOWN }));
    }
    resources = edit(resources, "trib-dev-raw-encryption", (inputs) => ({
      ...inputs,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: UNKNOWN } }],
    }));
    resources = edit(resources, "trib-dev-orders-policy", (inputs) => ({ ...inputs, policy: UNKNOWN }));
    resources = edit(resources, "trib-dev-orders-queue", (inputs) => ({ ...inputs, redrivePolicy: UNKNOWN }));
    resources = edit(resources, "trib-dev-orders-target", (inputs) => ({
      ...inputs,
      deadLetterConfig: UNKNOWN,
    }));
    resources = edit(resources, "trib-dev-orders-logs", (inputs) => ({ ...inputs, name: UNKNOWN }));
    resources = edit(resources, "trib-dev-orders", (inputs) => ({ ...inputs, tags: UNKNOWN }));
    resources = edit(resources, "trib-dev-alerts", (inputs) => ({
      ...inputs,
      tags: { owner: "data-platform" },
      tagsAll: UNKNOWN,
    }));
    expect(evaluate(resources)).toEqual([]);
  });

  it("still match bucket parts by parent when the bucket's name is unknown", () => {
    let resources = compliantStack();
    resources = edit(resources, "trib-dev-raw", (inputs) => ({ ...inputs, bucket: UNKNOWN }));
    resources = edit(resources, "trib-dev-raw-public-access", (inputs) => ({
      ...inputs,
      bucket: UNKNOWN,
      blockPublicAcls: false,
    }));
    expect(evaluate(resources).map((v) => [v.policy, v.message])).toEqual([
      [
        "no-public-access",
        `bucket "trib-dev-raw" public access block "trib-dev-raw-public-access" does not set blockPublicAcls to ` +
          `true; set all four flags to true`,
      ],
    ]);
  });
});

describe("the policy pack (infra/policy/index.ts)", () => {
  async function load() {
    const index = await import("../../src/infra/policy/index.ts");
    expect(pack.constructed).toHaveLength(1);
    return { index, constructed: pack.constructed[0]! };
  }

  it("is tributary-security, with every rule as a mandatory stack policy", async () => {
    const { index, constructed } = await load();
    expect(constructed.name).toBe("tributary-security");
    expect(constructed.args.enforcementLevel).toBe("mandatory");
    const policies = constructed.args.policies as StackValidationPolicy[];
    expect(policies).toBe(index.policies);
    expect(policies.map((p) => p.name)).toEqual(RULE_NAMES);
    for (const p of policies) {
      expect(p.enforcementLevel).toBe("mandatory");
      expect(typeof p.validateStack).toBe("function");
      expect(p.description).not.toBe("");
      expect("validateResource" in p).toBe(false);
    }
  });

  /** The compliant stack as the engine hands it to a stack policy, with some values unknown. */
  function engineResources(
    records: readonly ResourceRecord[],
    unknown: Record<string, Record<string, unknown>> = {},
  ): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const out = records.map((r) => {
      const props = { ...structuredClone(r.inputs), ...unknown[r.name] };
      const resource = {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: unknownCheckingProxy(props),
        opts: {
          protect: r.options?.protect === true,
          ...(r.options?.deleteBeforeReplace === true ? { deleteBeforeReplace: true } : {}),
          ignoreChanges: [],
          aliases: [],
          additionalSecretOutputs: [],
          customTimeouts: {},
        },
        ...(r.custom
          ? { provider: { type: "pulumi:providers:aws", name: "default", urn: "urn:provider", props: {} } }
          : {}),
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
      } as unknown as PolicyResource;
      byUrn.set(r.urn, resource);
      return resource;
    });
    for (const [i, r] of records.entries()) {
      if (r.parent) out[i]!.parent = byUrn.get(r.parent);
    }
    return out;
  }

  function run(policy: StackValidationPolicy, resources: PolicyResource[]): Violation[] {
    const reported: Violation[] = [];
    const args = {
      resources,
      stackTags: new Map(),
      getConfig: () => ({}),
      notApplicable: () => {
        throw new Error("not applicable");
      },
    } as unknown as StackValidationArgs;
    policy.validateStack(args, (message, urn) =>
      reported.push({ policy: policy.name, urn: urn ?? "", message }),
    );
    return reported;
  }

  it("adapts the engine's resources to records and reports on the resource at fault", async () => {
    const { index } = await load();
    const records = without(compliantStack(), "trib-dev-raw-encryption");
    const violations = index.policies.flatMap((p) => run(p, engineResources(records)));
    expect(violations).toEqual(evaluate(records));
    expect(violations).toHaveLength(1);
    const raw = index.toRecord(engineResources(records).find((r) => r.name === "trib-dev-raw")!);
    // The engine tells a policy protect and deleteBeforeReplace, not retainOnDelete.
    expect(raw).toEqual({
      ...records.find((r) => r.name === "trib-dev-raw"),
      options: { protect: true, retainOnDelete: UNKNOWN },
    });
  });

  it("checks the options the engine passes (protect, deleteBeforeReplace) and skips retainOnDelete", async () => {
    const { index } = await load();
    let records = withOptions(compliantStack(), "trib-dev-raw", undefined);
    records = withOptions(records, "trib-dev-access-logs", { protect: true, deleteBeforeReplace: true });
    records = withOptions(records, "trib-dev-key", { protect: true });
    const violations = index.policies.flatMap((p) => run(p, engineResources(records)));
    expect(violations.map((v) => [v.policy, v.urn, v.message.split(",")[0]])).toEqual([
      [
        "stores-survive-changes",
        urn(records, "trib-dev-access-logs"),
        'bucket "trib-dev-access-logs" sets deleteBeforeReplace',
      ],
      ["stores-survive-changes", urn(records, "trib-dev-raw"), 'bucket "trib-dev-raw" is not protected'],
    ]);
    // Offline, the missing retainOnDelete of the key and the log bucket is known, and reported.
    expect(evaluate(records).map((v) => [v.urn, v.message.split(",")[0]])).toEqual([
      [urn(records, "trib-dev-key"), 'KMS key "trib-dev-key" is not retained on delete'],
      [urn(records, "trib-dev-access-logs"), 'bucket "trib-dev-access-logs" is not retained on delete'],
      [urn(records, "trib-dev-access-logs"), 'bucket "trib-dev-access-logs" sets deleteBeforeReplace'],
      [urn(records, "trib-dev-raw"), 'bucket "trib-dev-raw" is not protected'],
    ]);
  });

  it("turns values the engine does not know yet into UNKNOWN, which the rules skip", async () => {
    const { index } = await load();
    // What the engine sends (and @pulumi/policy deserializes) for a computed string it does not know yet.
    const proxy = createRequire(import.meta.url)("@pulumi/policy/proxy.js") as Record<string, unknown>;
    const unknownString = proxy["unknownStringValue"];
    expect(typeof unknownString).toBe("string");
    const resources = engineResources(compliantStack(), {
      "trib-dev-raw-encryption": {
        rules: [
          { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: unknownString } },
        ],
      },
      "trib-dev-orders-policy": { policy: unknownString },
      "trib-dev-orders": { loggingConfig: { logFormat: "JSON", logGroup: unknownString } },
    });
    const record = index.toRecord(resources.find((r) => r.name === "trib-dev-raw-encryption")!);
    expect(record.inputs["rules"]).toEqual([
      { applyServerSideEncryptionByDefault: { kmsMasterKeyId: UNKNOWN, sseAlgorithm: "aws:kms" } },
    ]);
    expect(index.policies.flatMap((p) => run(p, resources))).toEqual([]);
  });
});

describe("raw-append-only", () => {
  const put = {
    Sid: "WriteOrders",
    Effect: "Allow",
    Action: "s3:PutObject",
    Resource: `arn:aws:s3:::${RAW_BUCKET}/raw/orders/*`,
  };
  it("passes an ingest function that only puts objects on raw", () => {
    expect(evaluate(ordersRolePolicy(put)).filter((v) => v.policy === "raw-append-only")).toEqual([]);
  });

  it("reports a delete on raw history: on raw/ keys, on the raw bucket's objects, through a wildcard action", () => {
    const resources = ordersRolePolicy(
      put,
      {
        Sid: "DropRaw",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:DeleteObject"],
        Resource: `arn:aws:s3:::${RAW_BUCKET}/raw/orders/*`,
      },
      {
        Sid: "DropVersions",
        Effect: "Allow",
        Action: "s3:DeleteObjectVersion",
        Resource: `arn:aws:s3:::${RAW_BUCKET}/landing/*`,
      },
      { Sid: "DropAll", Effect: "Allow", Action: "s3:Delete*", Resource: "arn:aws:s3:::trib-dev-*" },
      // Deleting elsewhere is another rule's business (no-wildcard-grants, least privilege).
      {
        Sid: "DropCurated",
        Effect: "Allow",
        Action: "s3:DeleteObject",
        Resource: "arn:aws:s3:::trib-dev-curated/curated/orders/*",
      },
    );
    const policy = 'role policy "trib-dev-orders-policy"';
    expect(evaluate(resources).filter((v) => v.policy === "raw-append-only")).toEqual(
      [
        `${policy} statement "DropRaw" allows "s3:DeleteObject" on raw history "arn:aws:s3:::${RAW_BUCKET}/raw/orders/*"`,
        `${policy} statement "DropVersions" allows "s3:DeleteObjectVersion" on raw history "arn:aws:s3:::${RAW_BUCKET}/landing/*"`,
        `${policy} statement "DropAll" allows "s3:Delete*" on raw history "arn:aws:s3:::trib-dev-*"`,
      ].map((message) => ({
        policy: "raw-append-only",
        urn: urn(resources, "trib-dev-orders-policy"),
        message: `${message}; ingest only appends (s3:PutObject), and the raw bucket's lifecycle rule expires old events`,
      })),
    );
  });
});
