/**
 * The AWS Glue Data Catalog as a stack's table catalog: each curated table is a Glue table of the stack's
 * database, registered as an Iceberg table (`table_type` ICEBERG, `metadata_location` its current metadata
 * file), which is how Athena finds it. The stack declares the table (infra/aws/catalog.ts); each commit
 * moves its pointer with UpdateTable on the VersionId it read (Glue refuses a stale one with
 * ConcurrentModificationException), never backwards (pointer.ts). A table missing from the catalog (deleted
 * by hand) is created again. Versions are not archived (SkipArchive): a table committed every hour would
 * reach Glue's quota of table versions within years, and the store keeps the history anyway.
 *
 * What the function may do is exactly this, on its own table: glue:GetTable, glue:UpdateTable and
 * glue:CreateTable on the catalog, the database and that table's ARN (infra/aws/grants.ts).
 *
 * The Glue client is loaded on the first publish: a function that commits no table (an ingester, the
 * sweeper) never evaluates it, and no function pays for it on a cold start.
 */
import type { GlueClient, Table, TableInput } from "@aws-sdk/client-glue";
import type { TableCatalog, TableCommit } from "./catalog.ts";
import { glueColumns } from "./glue-columns.ts";
import { advance, type Entry, type Moved, type PointerStore } from "./pointer.ts";

export interface GlueCatalogOptions {
  readonly region: string;
  /** The stack's Glue database. */
  readonly database: string;
  /** A client of its own (tests: one at a local endpoint); default one for `region`. */
  readonly client?: GlueClient;
}

/** The table parameters Iceberg's catalogs keep in Glue (and Athena reads). */
export const ICEBERG_PARAMETERS = {
  tableType: "table_type",
  metadataLocation: "metadata_location",
  previousMetadataLocation: "previous_metadata_location",
} as const;

export class GlueCatalog implements TableCatalog {
  readonly database: string;
  readonly #region: string;
  #client: GlueClient | undefined;

  constructor(opts: GlueCatalogOptions) {
    this.database = opts.database;
    this.#region = opts.region;
    this.#client = opts.client;
  }

  /**
   * The catalog namespace its tables live in: the stack's database. A commit is published to the table
   * `commit.name` there; `commit.namespace` should be this (the engine can take it from here), and is not
   * consulted: a function's catalog is its stack's, and its rights are on that namespace's tables only.
   */
  get namespace(): string {
    return this.database;
  }

  /** Publish to the table `commit.name` of this catalog's database (the stack's). */
  async publish(commit: TableCommit): Promise<void> {
    await this.advance(commit);
  }

  /** {@link publish}, saying what it did. */
  async advance(commit: TableCommit): Promise<Moved> {
    const sdk = await import("@aws-sdk/client-glue");
    this.#client ??= new sdk.GlueClient({ region: this.#region });
    return advance(this.#table(commit.name, sdk, this.#client), commit);
  }

  #table(name: string, sdk: typeof import("@aws-sdk/client-glue"), client: GlueClient): PointerStore<Table> {
    const { CreateTableCommand, GetTableCommand, UpdateTableCommand } = sdk;
    const database = this.database;
    return {
      name: `glue table ${database}.${name}`,
      async read(): Promise<Entry<Table> | undefined> {
        try {
          const { Table: table } = await client.send(
            new GetTableCommand({ DatabaseName: database, Name: name }),
          );
          if (!table) return undefined;
          return { location: table.Parameters?.[ICEBERG_PARAMETERS.metadataLocation], entry: table };
        } catch (e) {
          if (errorName(e) === "EntityNotFoundException") return undefined;
          throw e;
        }
      },
      async create(commit): Promise<boolean> {
        try {
          await client.send(
            new CreateTableCommand({ DatabaseName: database, TableInput: tableInput(commit, undefined) }),
          );
          return true;
        } catch (e) {
          if (errorName(e) === "AlreadyExistsException") return false;
          throw e;
        }
      },
      async update(current, commit): Promise<boolean> {
        try {
          await client.send(
            new UpdateTableCommand({
              DatabaseName: database,
              TableInput: tableInput(commit, current),
              VersionId: current.entry.VersionId,
              SkipArchive: true,
            }),
          );
          return true;
        } catch (e) {
          if (errorName(e) === "ConcurrentModificationException") return false;
          throw e;
        }
      },
    };
  }
}

/**
 * The whole table definition an update writes (Glue replaces it): what the table had (description, owner,
 * the stack's location, parameters set by others) with the pointer moved and the columns of the commit's
 * schema. The previous location is where the catalog pointed before, else the commit's previous file.
 */
export function tableInput(commit: TableCommit, current: Entry<Table> | undefined): TableInput {
  const t = current?.entry;
  const previous = current?.location ?? commit.previousMetadataLocation;
  return {
    Name: commit.name,
    ...(t?.Description === undefined ? {} : { Description: t.Description }),
    ...(t?.Owner === undefined ? {} : { Owner: t.Owner }),
    TableType: t?.TableType ?? "EXTERNAL_TABLE",
    Parameters: {
      ...t?.Parameters,
      [ICEBERG_PARAMETERS.tableType]: "ICEBERG",
      [ICEBERG_PARAMETERS.metadataLocation]: commit.metadataLocation,
      ...(previous === undefined ? {} : { [ICEBERG_PARAMETERS.previousMetadataLocation]: previous }),
    },
    StorageDescriptor: {
      ...t?.StorageDescriptor,
      Location: t?.StorageDescriptor?.Location ?? commit.location,
      Columns: glueColumns(commit.schema),
    },
    ...(t?.PartitionKeys === undefined ? {} : { PartitionKeys: t.PartitionKeys }),
  };
}

function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}
