/**
 * `tributary:aws:Query`: serverless SQL over the stack's curated tables. An Athena workgroup whose settings
 * every query must use (enforced): engine version 3 (Iceberg), results in the stack's own results bucket
 * encrypted with the stack's key (SSE_KMS), a cutoff on the bytes one query may scan, CloudWatch metrics.
 * The results bucket (a Store of its own, index.ts) is private, versioned, encrypted with the stack's key
 * and TLS-only like every store (store.ts), its results expire after `queryResultsDays`, and it is
 * disposable: results can be queried again.
 *
 * And the stack's read-only query role: principals of the account allowed to assume it (by their own IAM
 * policies) run queries in this workgroup, read the Glue entries of the stack's database and the curated
 * zone of the curated store, never raw, quarantine or Tributary's records (grants.ts `queryPolicy`).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { TablesPlan } from "../plan/types.ts";
import { assumeFromAccount, queryPolicy, RESULTS_PREFIX } from "./grants.ts";

export interface QueryArgs {
  readonly tables: TablesPlan;
  readonly keyArn: pulumi.Input<string>;
  readonly curatedBucketArn: pulumi.Input<string>;
  readonly catalogArn: pulumi.Input<string>;
  readonly databaseArn: pulumi.Input<string>;
  /** The query results' bucket (a "query-results" Store). */
  readonly results: { readonly name: pulumi.Input<string>; readonly arn: pulumi.Input<string> };
  readonly tags: Record<string, string>;
}

/** Athena's engine that reads Iceberg tables. */
export const ATHENA_ENGINE = "Athena engine version 3";

export class Query extends pulumi.ComponentResource {
  readonly workgroupName: pulumi.Output<string>;
  readonly roleArn: pulumi.Output<string>;

  constructor(name: string, args: QueryArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Query", name, {}, opts);
    const parent = { parent: this };
    const results = args.results;
    const account = pulumi.output(args.keyArn).apply((arn) => arn.split(":")[4] ?? "");
    const workgroup = new aws.athena.Workgroup(
      name,
      {
        name,
        description: "Tributary: serverless SQL over the stack's curated tables",
        state: "ENABLED",
        // A workgroup holds query history and saved queries, no data.
        forceDestroy: true,
        configuration: {
          enforceWorkgroupConfiguration: true,
          publishCloudwatchMetricsEnabled: true,
          bytesScannedCutoffPerQuery: args.tables.scanLimitBytes,
          engineVersion: { selectedEngineVersion: ATHENA_ENGINE },
          resultConfiguration: {
            outputLocation: pulumi.interpolate`s3://${results.name}/${RESULTS_PREFIX}`,
            encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKeyArn: args.keyArn },
            expectedBucketOwner: account,
          },
        },
        tags: args.tags,
      },
      parent,
    );
    const role = new aws.iam.Role(
      `${name}-reader`,
      {
        description: "Tributary: reads the stack's curated tables with Athena, and nothing else",
        assumeRolePolicy: account.apply((a) => JSON.stringify(assumeFromAccount(a))),
        tags: { ...args.tags, "tributary:role": "query" },
      },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-reader-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([
            workgroup.arn,
            args.catalogArn,
            args.databaseArn,
            args.curatedBucketArn,
            results.arn,
            args.keyArn,
          ])
          .apply(([workgroup, catalog, database, curated, results, key]) =>
            JSON.stringify(queryPolicy({ workgroup, catalog, database, curated, results, key })),
          ),
      },
      parent,
    );
    this.workgroupName = workgroup.name;
    this.roleArn = role.arn;
    this.registerOutputs({ workgroupName: this.workgroupName, roleArn: this.roleArn });
  }
}
