/**
 * `tributary:gcp:Query`: the stack's read-only query identity. A service account that may read the tables
 * of the stack's dataset (BigQuery Data Viewer on the dataset) and run query jobs in the project (BigQuery
 * Job User): it reads the curated tables through their BigLake connection, so it holds no right on any
 * bucket, and no right on raw or quarantined data anywhere. Users query as it by impersonation, or by being
 * granted the same two roles themselves (docs/serverless-sql.md).
 */
import * as crypto from "node:crypto";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { Apis } from "./apis.ts";
import { accountId } from "./grants.ts";

export interface QueryArgs {
  readonly project: string;
  readonly datasetId: pulumi.Input<string>;
  readonly apis: Apis;
}

/** The roles of the read-only query identity: on the dataset, and on the project (jobs are the project's). */
export const QUERY_ROLES = {
  dataset: "roles/bigquery.dataViewer",
  project: "roles/bigquery.jobUser",
} as const;

const sha1 = (s: string) => crypto.createHash("sha1").update(s).digest("hex");

export class Query extends pulumi.ComponentResource {
  /** The query identity's e-mail. */
  readonly email: pulumi.Output<string>;

  constructor(name: string, args: QueryArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Query", name, {}, opts);
    const { project } = args;
    const account = new gcp.serviceaccount.Account(
      `${name}-reader`,
      {
        project,
        accountId: accountId(`${name}-reader`, sha1),
        displayName: "Tributary reader of the curated tables",
        description:
          "Queries the stack's curated tables in BigQuery: reads its dataset, runs query jobs. Nothing else.",
      },
      { parent: this, dependsOn: args.apis.of("iam") },
    );
    new gcp.bigquery.DatasetIamMember(
      `${name}-reader-tables`,
      { project, datasetId: args.datasetId, role: QUERY_ROLES.dataset, member: account.member },
      { parent: this, dependsOn: args.apis.of("bigquery") },
    );
    new gcp.projects.IAMMember(
      `${name}-reader-jobs`,
      { project, role: QUERY_ROLES.project, member: account.member },
      { parent: this, dependsOn: args.apis.of("bigquery", "iam") },
    );
    this.email = account.email;
    this.registerOutputs({ email: this.email });
  }
}
