/**
 * The rules about the curated tables and their serverless SQL, on the synthesised stacks of each cloud and
 * broken variants of them: each rule passes what the adapters deploy and names what breaks it.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type ResourceRecord, synth } from "../../src/infra/synth/index.ts";
import { edited } from "./synthesised.ts";

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
const stacks: Record<string, ResourceRecord[]> = {};

beforeAll(async () => {
  for (const stack of ["dev-aws", "staging-gcp", "prod-azure"]) {
    stacks[stack] = (await synth({ root: example, stack })).resources;
  }
}, 300_000);

const urn = (rs: readonly ResourceRecord[], name: string, type: string) =>
  rs.find((r) => r.name === name && r.type === type)!.urn;
/** The violations of the table rules (and of the rules a change to a store breaks). */
const TABLE_RULES = [
  "query-workgroup-guarded",
  "query-reads-curated-only",
  "catalog-writers-scoped",
  "dataset-encrypted-with-customer-key",
];

describe("the table rules", () => {
  it("pass every cloud's synthesised stack", () => {
    for (const [stack, rs] of Object.entries(stacks)) expect(evaluate(rs), stack).toEqual([]);
  });
});

describe("on AWS", () => {
  const WG = "aws:athena/workgroup:Workgroup";
  const POLICY = "aws:iam/rolePolicy:RolePolicy";
  const edit = (
    name: string,
    type: string,
    change: (i: Record<string, unknown>) => Record<string, unknown>,
  ) => edited(stacks["dev-aws"]!, name, type, change);
  /** A role policy with its statements changed. */
  const statements = (name: string, change: (s: Record<string, unknown>[]) => Record<string, unknown>[]) =>
    edit(name, POLICY, (i) => {
      const doc = JSON.parse(i.policy as string) as { Statement: Record<string, unknown>[] };
      return { ...i, policy: JSON.stringify({ ...doc, Statement: change(doc.Statement) }) };
    });

  it("an Athena workgroup that does not enforce its settings, encrypt with KMS or cut off a query fails query-workgroup-guarded", () => {
    const rs = edit("trib-dev-query", WG, (i) => {
      const c = i.configuration as Record<string, unknown>;
      const { bytesScannedCutoffPerQuery: _, ...rest } = c;
      return {
        ...i,
        configuration: {
          ...rest,
          enforceWorkgroupConfiguration: false,
          resultConfiguration: {
            ...(c.resultConfiguration as object),
            encryptionConfiguration: { encryptionOption: "SSE_S3" },
          },
        },
      };
    });
    const at = urn(rs, "trib-dev-query", WG);
    expect(evaluate(rs)).toEqual([
      {
        policy: "query-workgroup-guarded",
        urn: at,
        message:
          'Athena workgroup "trib-dev-query" does not enforce its configuration, so a query may set its own result ' +
          "location and encryption; set configuration.enforceWorkgroupConfiguration true",
      },
      {
        policy: "query-workgroup-guarded",
        urn: at,
        message:
          'Athena workgroup "trib-dev-query" encrypts query results with "SSE_S3", not the stack\'s KMS key; set ' +
          'configuration.resultConfiguration.encryptionConfiguration to { encryptionOption: "SSE_KMS", kmsKeyArn }',
      },
      {
        policy: "query-workgroup-guarded",
        urn: at,
        message:
          'Athena workgroup "trib-dev-query" has no bytes-scanned cutoff (null), so one query may scan (and bill) every ' +
          "table whole; set configuration.bytesScannedCutoffPerQuery (at least 10000000, tributary:tables.scanLimitGb)",
      },
    ]);
  });

  it("a results bucket left public or encrypted without the stack's key fails the store rules", () => {
    const rs = edited(
      edit(
        "trib-dev-query-results-encryption",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        (i) => ({
          ...i,
          rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
        }),
      ),
      "trib-dev-query-results-public-access",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      (i) => ({ ...i, restrictPublicBuckets: false }),
    );
    const bucket = urn(rs, "trib-dev-query-results", "aws:s3/bucket:Bucket");
    expect(evaluate(rs)).toEqual([
      {
        policy: "store-encrypted-with-customer-key",
        urn: bucket,
        message:
          'bucket "trib-dev-query-results" is encrypted with "AES256", not a customer-managed KMS key; set ' +
          'sseAlgorithm "aws:kms" and kmsMasterKeyId to the stack\'s KMS key',
      },
      {
        policy: "no-public-access",
        urn: bucket,
        message:
          'bucket "trib-dev-query-results" public access block "trib-dev-query-results-public-access" does not set ' +
          "restrictPublicBuckets to true; set all four flags to true",
      },
    ]);
  });

  it("a query role that may read raw events or Tributary's records fails query-reads-curated-only", () => {
    const rs = statements("trib-dev-query-reader-policy", (ss) =>
      ss.map((s) =>
        s.Sid === "ReadTables"
          ? { ...s, Resource: ["arn:aws:s3:::trib-dev-curated/curated/*", "arn:aws:s3:::trib-dev-raw/raw/*"] }
          : s.Sid === "ListTables"
            ? { ...s, Condition: { StringLike: { "s3:prefix": ["curated/*", "_manifests/*"] } } }
            : s,
      ),
    );
    const at = urn(rs, "trib-dev-query-reader-policy", POLICY);
    expect(evaluate(rs).filter((v) => TABLE_RULES.includes(v.policy))).toEqual([
      {
        policy: "query-reads-curated-only",
        urn: at,
        message:
          'role policy "trib-dev-query-reader-policy" statement "ReadTables" lets the query role role "trib-dev-query-reader" ' +
          'reach "arn:aws:s3:::trib-dev-raw/raw/*", beyond the curated tables (curated/…) and its query results ' +
          "(athena/…); grant only those",
      },
      {
        policy: "query-reads-curated-only",
        urn: at,
        message:
          'role policy "trib-dev-query-reader-policy" statement "ListTables" lets the query role role "trib-dev-query-reader" ' +
          'reach "arn:aws:s3:::trib-dev-curated", beyond the curated tables (curated/…) and its query results ' +
          "(athena/…); grant only those",
      },
    ]);
  });

  it("a function that may move another asset's table, or every table, fails catalog-writers-scoped", () => {
    const table = (t: string) => `arn:aws:glue:eu-west-1:123456789012:table/trib_dev/${t}`;
    const rs = statements("trib-dev-curated-orders-policy", (ss) =>
      ss.map((s) =>
        s.Sid === "CommitTables"
          ? { ...s, Resource: [...(s.Resource as string[]).slice(0, 2), table("daily_revenue"), table("*")] }
          : s,
      ),
    );
    const at = urn(rs, "trib-dev-curated-orders-policy", POLICY);
    const message = (t: string) =>
      `role policy "trib-dev-curated-orders-policy" statement "CommitTables" lets "curated_orders" glue:CreateTable, ` +
      `glue:UpdateTable on "${table(t)}"; a function moves only its own table's pointer (table/<database>/curated_orders)`;
    expect(evaluate(rs).filter((v) => TABLE_RULES.includes(v.policy))).toEqual([
      { policy: "catalog-writers-scoped", urn: at, message: message("daily_revenue") },
      { policy: "catalog-writers-scoped", urn: at, message: message("*") },
    ]);
    // The table maintenance commits every table of the database: its `table/trib_dev/*` passes.
    expect(
      JSON.parse(
        stacks["dev-aws"]!.find((r) => r.name === "trib-dev-table-maintenance-policy")!.inputs
          .policy as string,
      ).Statement,
    ).toContainEqual(
      expect.objectContaining({ Sid: "CommitTables", Resource: expect.arrayContaining([table("*")]) }),
    );
  });
});

describe("on GCP", () => {
  const edit = (
    name: string,
    type: string,
    change: (i: Record<string, unknown>) => Record<string, unknown>,
  ) => edited(stacks["staging-gcp"]!, name, type, change);
  const READER = "serviceAccount:trib-staging-query-reader@tributary-staging.iam.gserviceaccount.com";

  it("a dataset without the stack's key fails dataset-encrypted-with-customer-key", () => {
    const rs = edit(
      "trib-staging-tables",
      "gcp:bigquery/dataset:Dataset",
      ({ defaultEncryptionConfiguration: _, ...i }) => i,
    );
    expect(evaluate(rs)).toEqual([
      {
        policy: "dataset-encrypted-with-customer-key",
        urn: urn(rs, "trib-staging-tables", "gcp:bigquery/dataset:Dataset"),
        message:
          'BigQuery dataset "trib-staging-tables" is not encrypted with the stack\'s customer-managed key; set ' +
          "defaultEncryptionConfiguration.kmsKeyName to the Cloud KMS key (and grant BigQuery's encryption agent " +
          "roles/cloudkms.cryptoKeyEncrypterDecrypter on it)",
      },
    ]);
  });

  it("a query identity with a storage role, a write role on the dataset, or a connection reading raw fails query-reads-curated-only", () => {
    const member = "gcp:storage/bucketIAMMember:BucketIAMMember";
    let rs = edit("trib-staging-curated-orders-raw-read", member, (i) => ({ ...i, member: READER }));
    rs = edited(
      rs,
      "trib-staging-query-reader-tables",
      "gcp:bigquery/datasetIamMember:DatasetIamMember",
      (i) => ({
        ...i,
        role: "roles/bigquery.dataEditor",
      }),
    );
    rs = edited(rs, "trib-staging-tables-read", member, (i) => ({
      ...i,
      condition: {
        title: "read the curated tables",
        expression: 'resource.name.startsWith("projects/_/buckets/trib-staging-raw/objects/raw/")',
      },
    }));
    expect(evaluate(rs).filter((v) => TABLE_RULES.includes(v.policy))).toEqual([
      {
        policy: "query-reads-curated-only",
        urn: urn(rs, "trib-staging-curated-orders-raw-read", member),
        message:
          'bucket IAM member "trib-staging-curated-orders-raw-read" grants the query identity ' +
          '"roles/storage.objectViewer" on a bucket; it reads the tables through the BigLake connection and holds no storage role',
      },
      {
        policy: "query-reads-curated-only",
        urn: urn(rs, "trib-staging-tables-read", member),
        message:
          'bucket IAM member "trib-staging-tables-read" lets the tables\' connection "roles/storage.objectViewer" ' +
          'on "raw/"; grant roles/storage.objectViewer under a condition on "curated/" only',
      },
      {
        policy: "query-reads-curated-only",
        urn: urn(rs, "trib-staging-query-reader-tables", "gcp:bigquery/datasetIamMember:DatasetIamMember"),
        message:
          'BigQuery dataset IAM member "trib-staging-query-reader-tables" grants the query identity ' +
          '"roles/bigquery.dataEditor"; it may hold roles/bigquery.dataViewer or roles/bigquery.metadataViewer there, to read',
      },
      {
        policy: "catalog-writers-scoped",
        urn: urn(rs, "trib-staging-query-reader-tables", "gcp:bigquery/datasetIamMember:DatasetIamMember"),
        message:
          'BigQuery dataset IAM member "trib-staging-query-reader-tables" grants "roles/bigquery.dataEditor" on a ' +
          "whole dataset, which writes every table in it; bind table writers on their own table",
      },
    ]);
  });

  it("the committer role bound on the whole project fails catalog-writers-scoped; the embedding role there does not", () => {
    const type = "gcp:projects/iAMMember:IAMMember";
    const committer = stacks["staging-gcp"]!.find(
      (r) =>
        r.type === "gcp:projects/iAMCustomRole:IAMCustomRole" &&
        String(r.inputs.roleId).endsWith("_committer"),
    )!;
    const role = `projects/tributary-staging/roles/${String(committer.inputs.roleId)}`;
    // The reference stack binds the embedding function's one-permission role on the project: no table write.
    expect(evaluate(stacks["staging-gcp"]!).filter((v) => v.policy === "catalog-writers-scoped")).toEqual([]);
    const rs = edit("trib-staging-recommendation-vectors-embedding", type, (i) => ({ ...i, role }));
    expect(evaluate(rs).filter((v) => v.policy === "catalog-writers-scoped")).toEqual([
      {
        policy: "catalog-writers-scoped",
        urn: urn(rs, "trib-staging-recommendation-vectors-embedding", type),
        message: `project IAM member "trib-staging-recommendation-vectors-embedding" grants "${role}" on a whole project, which writes every table in it; bind table writers on their own table`,
      },
    ]);
  });

  it("a function bound to commit another asset's table fails catalog-writers-scoped", () => {
    const type = "gcp:bigquery/iamMember:IamMember";
    const rs = edit("trib-staging-curated-orders-table-curated-orders", type, (i) => ({
      ...i,
      tableId: "daily_revenue",
    }));
    expect(evaluate(rs)).toEqual([
      {
        policy: "catalog-writers-scoped",
        urn: urn(rs, "trib-staging-curated-orders-table-curated-orders", type),
        message:
          'BigQuery table IAM member "trib-staging-curated-orders-table-curated-orders" grants ' +
          '"projects/tributary-staging/roles/tributary_trib_staging_committer" on table "daily_revenue" to the function ' +
          'of "curated_orders"; a function moves only its own table\'s pointer',
      },
    ]);
  });
});

describe("on Azure", () => {
  it("a query identity that may read the raw container, or more than curated/, fails query-reads-curated-only", () => {
    const type = "azure-native:authorization:RoleAssignment";
    const base = stacks["prod-azure"]!;
    const scope = base.find((r) => r.name === "trib-prod-query-reader-tables")!.inputs.scope as string;
    const rs = edited(base, "trib-prod-query-reader-tables", type, (i) => ({
      ...i,
      scope: scope.replace(/containers\/curated$/, "containers/raw"),
    }));
    expect(evaluate(rs).filter((v) => TABLE_RULES.includes(v.policy))).toEqual([
      {
        policy: "query-reads-curated-only",
        urn: urn(rs, "trib-prod-query-reader-tables", type),
        message:
          `role assignment "trib-prod-query-reader-tables" gives the query identity "${base.find((r) => r.name === "trib-prod-query-reader-tables")!.inputs.roleDefinitionId}" ` +
          `on "${scope.replace(/containers\/curated$/, "containers/raw")}" over "curated/"; assign Storage Blob Data Reader ` +
          'on the curated container under a condition on "curated/" only',
      },
    ]);
  });
});
