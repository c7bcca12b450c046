/**
 * `tributary:aws:Catalog`: the stack's Glue database and one Glue table per curated asset, registered as
 * an Iceberg table (`table_type` ICEBERG, `EXTERNAL` TRUE, the table's location in the curated store),
 * which is what Athena needs to read it once `metadata_location` names a metadata file.
 *
 * Who owns what: the first metadata file exists only after the asset's first materialisation, so the stack
 * declares the table without a pointer, and the asset's function (runtime/iceberg/glue.ts) sets
 * `metadata_location` and `previous_metadata_location` on each commit, and the columns of the commit's
 * schema. Those are ignored by Pulumi (`ignoreChanges`), and nothing else the stack declares of a table
 * ever changes, so no deploy rewrites a table (Glue's UpdateTable replaces a table whole) and moves its
 * pointer back. Before its first materialisation a table has no pointer, and Athena says so when queried.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { tableLocation } from "../../contract/table-names.ts";
import { TAGS } from "../plan/build.ts";
import type { TablesPlan } from "../plan/types.ts";

export interface CatalogArgs {
  readonly tables: TablesPlan;
  /** The curated store's bucket name: the tables live under its `curated/` zone. */
  readonly bucket: pulumi.Input<string>;
  readonly tags: Record<string, string>;
}

/** What the asset's function owns of a Glue table the stack declares (see the module's comment). */
export const RUNTIME_OWNED = [
  "parameters.metadata_location",
  "parameters.previous_metadata_location",
  "storageDescriptor.columns",
];

export class Catalog extends pulumi.ComponentResource {
  readonly databaseName: pulumi.Output<string>;
  readonly databaseArn: pulumi.Output<string>;
  /** The Glue catalog's ARN (`arn:aws:glue:<region>:<account>:catalog`). */
  readonly catalogArn: pulumi.Output<string>;
  /** Each table's ARN, by asset. */
  readonly tableArns: Readonly<Record<string, pulumi.Output<string>>>;

  constructor(name: string, args: CatalogArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:aws:Catalog", name, {}, opts);
    const parent = { parent: this };
    const database = new aws.glue.CatalogDatabase(
      name,
      {
        name: args.tables.namespace,
        description: "Tributary's curated assets as Iceberg tables",
        locationUri: pulumi.interpolate`s3://${args.bucket}/curated/`,
        tags: args.tags,
      },
      parent,
    );
    const tableArns: Record<string, pulumi.Output<string>> = {};
    for (const t of args.tables.tables) {
      const table = new aws.glue.CatalogTable(
        `${name}-${t.asset.replaceAll("_", "-")}`,
        {
          name: t.name,
          databaseName: database.name,
          description: `Tributary asset ${t.asset} (Iceberg; its function keeps metadata_location current)`,
          tableType: "EXTERNAL_TABLE",
          // Which asset's table it is, for readers and the pull-request preview (Glue tables take no tags).
          parameters: { table_type: "ICEBERG", EXTERNAL: "TRUE", [TAGS.asset]: t.asset },
          storageDescriptor: {
            location: pulumi.output(args.bucket).apply((b) => tableLocation(`s3://${b}`, t.asset)),
          },
        },
        { ...parent, ignoreChanges: RUNTIME_OWNED },
      );
      tableArns[t.asset] = table.arn;
    }
    this.databaseName = database.name;
    this.databaseArn = database.arn;
    this.catalogArn = database.arn.apply((arn) => arn.replace(/:database\/[^/]+$/, ":catalog"));
    this.tableArns = tableArns;
    this.registerOutputs({ databaseName: this.databaseName, databaseArn: this.databaseArn });
  }
}
