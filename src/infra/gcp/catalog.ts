/**
 * `tributary:gcp:Catalog`: the stack's curated tables in BigQuery, through the BigLake metastore. A
 * dataset per stack, encrypted by default with the stack's key (CMEK), holding one table per curated asset
 * whose `externalCatalogTableOptions` say it is an Iceberg table (`table_type` ICEBERG) at its location in
 * the curated store, read through the stack's BigLake connection: a Cloud resource connection whose service
 * account may read the curated zone of the curated bucket and nothing else. Queries in BigQuery read the
 * table's current metadata file, which is what `metadata_location` names.
 *
 * Who owns what: the first metadata file exists only after the asset's first materialisation, so the stack
 * declares the table without a pointer, and the asset's function (runtime/iceberg/bigquery.ts) moves it on
 * each commit with tables.patch, and BigQuery derives the table's schema from the file. Pulumi ignores
 * those (`ignoreChanges`) and nothing else it declares of a table ever changes.
 *
 * Who may move a table's pointer: the functions that commit it, by a custom role with exactly the three
 * permissions that takes (read the table, update it, delegate its connection), bound on that table and on
 * the connection (gcp/function.ts), never on the dataset.
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { tableLocation } from "../../contract/table-names.ts";
import { TAGS } from "../plan/build.ts";
import type { TablesPlan } from "../plan/types.ts";
import type { Apis } from "./apis.ts";
import { listPrefixTerm, objectPrefixTerm } from "./grants.ts";
import { labelKey, labelValue } from "./labels.ts";

export interface CatalogArgs {
  readonly tables: TablesPlan;
  readonly project: string;
  /** The dataset's and the connection's location: the stack's region, where its key and buckets are. */
  readonly location: string;
  /** The curated store's bucket: the tables live under its `curated/` zone. */
  readonly bucket: pulumi.Input<string>;
  /** The stack's key: the dataset's default encryption. */
  readonly keyId: pulumi.Input<string>;
  /** What must exist first: BigQuery's encryption agent's grant on the key. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
  readonly labels: Record<string, string>;
  readonly apis: Apis;
}

/** What the asset's function owns of a table the stack declares (see the module's comment). */
export const RUNTIME_OWNED = [
  "externalCatalogTableOptions.parameters.metadata_location",
  "externalCatalogTableOptions.parameters.previous_metadata_location",
  "schema",
];

/** The Hive storage descriptor of an Iceberg table, as Iceberg's BigQuery metastore catalog writes it. */
export const STORAGE_FORMATS = {
  inputFormat: "org.apache.hadoop.mapred.FileInputFormat",
  outputFormat: "org.apache.hadoop.mapred.FileOutputFormat",
  serdeInfo: { serializationLibrary: "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe" },
} as const;

/** What moving a table's pointer takes: read the table, update it, and use its connection on its behalf. */
export const COMMITTER_PERMISSIONS = [
  "bigquery.connections.delegate",
  "bigquery.tables.get",
  "bigquery.tables.update",
];

export class Catalog extends pulumi.ComponentResource {
  /** The dataset's id: the tables' namespace. */
  readonly datasetId: pulumi.Output<string>;
  /** The BigLake connection's resource name (`projects/…/locations/…/connections/…`). */
  readonly connectionName: pulumi.Output<string>;
  readonly connectionId: pulumi.Output<string>;
  /** The custom role of the functions that commit tables (`projects/…/roles/…`). */
  readonly committerRole: pulumi.Output<string>;

  constructor(name: string, args: CatalogArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:Catalog", name, {}, opts);
    const on = (...needs: Parameters<Apis["of"]>) => ({ parent: this, dependsOn: args.apis.of(...needs) });
    const { project, location } = args;
    const dataset = new gcp.bigquery.Dataset(
      name,
      {
        project,
        datasetId: args.tables.namespace,
        location,
        description: "Tributary's curated assets as Iceberg tables (BigLake metastore)",
        defaultEncryptionConfiguration: { kmsKeyName: args.keyId },
        labels: args.labels,
      },
      { parent: this, dependsOn: [...args.dependsOn, ...args.apis.of("bigquery")] },
    );
    const connection = new gcp.bigquery.Connection(
      `${name}-connection`,
      {
        project,
        location,
        connectionId: name,
        friendlyName: name,
        description: "Tributary: BigQuery reads the curated tables' files through this connection",
        cloudResource: {},
      },
      on("bigqueryconnection"),
    );
    const reader = connection.cloudResource.apply((c) => `serviceAccount:${c?.serviceAccountId ?? ""}`);
    // The connection reads the curated zone: the tables' data and metadata files, nothing else.
    const bucket = pulumi.output(args.bucket);
    new gcp.storage.BucketIAMMember(
      `${name}-read`,
      {
        bucket: args.bucket,
        role: "roles/storage.objectViewer",
        member: reader,
        condition: bucket.apply((b) => ({
          title: "read the curated tables",
          expression: objectPrefixTerm(b, "curated/"),
        })),
      },
      on("storage"),
    );
    new gcp.storage.BucketIAMMember(
      `${name}-list`,
      {
        bucket: args.bucket,
        role: "roles/storage.objectViewer",
        member: reader,
        condition: { title: "list the curated tables", expression: listPrefixTerm("curated/") },
      },
      on("storage"),
    );
    const role = new gcp.projects.IAMCustomRole(
      `${name}-committer`,
      {
        project,
        roleId: `tributary_${args.tables.namespace}_committer`.slice(0, 64),
        title: `Tributary ${args.tables.namespace}: commit a curated table`,
        description:
          "Moves an Iceberg table's metadata_location in BigQuery: bound on one table and its connection",
        permissions: COMMITTER_PERMISSIONS,
      },
      on("iam"),
    );
    for (const t of args.tables.tables) {
      new gcp.bigquery.Table(
        `${name}-${t.asset.replaceAll("_", "-")}`,
        {
          project,
          datasetId: dataset.datasetId,
          tableId: t.name,
          description: `Tributary asset ${t.asset} (Iceberg; its function keeps metadata_location current)`,
          deletionProtection: false,
          labels: { ...args.labels, [labelKey(TAGS.asset)]: labelValue(t.asset) },
          externalCatalogTableOptions: {
            connectionId: connection.name,
            parameters: { table_type: "ICEBERG", EXTERNAL: "TRUE" },
            storageDescriptor: {
              locationUri: bucket.apply((b) => tableLocation(`gs://${b}`, t.asset)),
              ...STORAGE_FORMATS,
            },
          },
        },
        { ...on("bigquery"), ignoreChanges: RUNTIME_OWNED },
      );
    }
    this.datasetId = dataset.datasetId;
    this.connectionName = connection.name;
    this.connectionId = connection.connectionId;
    this.committerRole = role.name;
    this.registerOutputs({
      datasetId: this.datasetId,
      connectionName: this.connectionName,
      committerRole: this.committerRole,
    });
  }
}
