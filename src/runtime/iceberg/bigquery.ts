/**
 * BigQuery's BigLake metastore as a stack's table catalog: each curated table is a BigQuery table of the
 * stack's dataset whose `externalCatalogTableOptions` hold Iceberg's parameters (`table_type` ICEBERG,
 * `metadata_location`) and the BigLake connection BigQuery reads the files through: what Iceberg's own
 * BigQuery metastore catalog writes, and what BigQuery queries. The stack declares the table
 * (infra/gcp/catalog.ts); each commit moves its pointer with tables.patch on the etag it read (If-Match:
 * BigQuery answers 412 to a stale one), never backwards (pointer.ts), with `schema: null` so BigQuery takes
 * the schema from the new metadata file.
 *
 * What the function may do is exactly this, on its own table: get and update that table, and delegate
 * its connection (infra/gcp/grants.ts). It may not create tables: a table missing from the dataset is a
 * deployment problem, named as one.
 *
 * The BigQuery client is loaded on the first publish: a function that commits no table (an ingester, the
 * sweeper) never evaluates it, and no function pays for it on a cold start.
 */
import type { BigQuery, Table, TableMetadata } from "@google-cloud/bigquery";
import type { TableCatalog, TableCommit } from "./catalog.ts";
import { ICEBERG_PARAMETERS } from "./glue.ts";
import { advance, CatalogError, type Entry, type Moved, type PointerStore } from "./pointer.ts";

export interface BigQueryCatalogOptions {
  readonly project: string;
  /** The stack's dataset. */
  readonly dataset: string;
  /** A client of its own (tests: one at a local endpoint); default one for `project`. */
  readonly client?: BigQuery;
}

type CatalogOptions = NonNullable<TableMetadata["externalCatalogTableOptions"]>;

export class BigQueryCatalog implements TableCatalog {
  readonly project: string;
  readonly dataset: string;
  #client: BigQuery | undefined;

  constructor(opts: BigQueryCatalogOptions) {
    this.project = opts.project;
    this.dataset = opts.dataset;
    this.#client = opts.client;
  }

  /**
   * The catalog namespace its tables live in: the stack's dataset. A commit is published to the table
   * `commit.name` there; `commit.namespace` should be this (the engine can take it from here), and is not
   * consulted: a function's catalog is its stack's, and its rights are on that namespace's tables only.
   */
  get namespace(): string {
    return this.dataset;
  }

  /** Publish to the table `commit.name` of this catalog's dataset (the stack's). */
  async publish(commit: TableCommit): Promise<void> {
    await this.advance(commit);
  }

  /** {@link publish}, saying what it did. */
  async advance(commit: TableCommit): Promise<Moved> {
    if (!this.#client) {
      const { BigQuery } = await import("@google-cloud/bigquery");
      this.#client = new BigQuery({ projectId: this.project });
    }
    return advance(this.#table(commit.name, this.#client), commit);
  }

  #table(name: string, client: BigQuery): PointerStore<TableMetadata> {
    const id = `${this.project}.${this.dataset}.${name}`;
    const table: Table = client.dataset(this.dataset, { projectId: this.project }).table(name);
    return {
      name: `bigquery table ${id}`,
      async read(): Promise<Entry<TableMetadata> | undefined> {
        try {
          const [metadata] = await table.getMetadata();
          const options = metadata.externalCatalogTableOptions as CatalogOptions | undefined;
          return { location: options?.parameters?.[ICEBERG_PARAMETERS.metadataLocation], entry: metadata };
        } catch (e) {
          if (status(e) === 404) return undefined;
          throw e;
        }
      },
      async create(): Promise<boolean> {
        throw new CatalogError(
          `bigquery table ${id} does not exist: the stack declares one table per curated asset in its dataset; ` +
            "deploy the stack (pulumi up) to create it.",
        );
      },
      async update(current, commit): Promise<boolean> {
        const options = (current.entry.externalCatalogTableOptions ?? {}) as CatalogOptions;
        const previous = current.location ?? commit.previousMetadataLocation;
        if (!current.entry.etag) {
          throw new CatalogError(
            `bigquery table ${id} has no etag to update it on; recreate it with pulumi up.`,
          );
        }
        try {
          await table.request({
            method: "PATCH",
            uri: "",
            json: {
              etag: current.entry.etag,
              externalCatalogTableOptions: {
                ...options,
                parameters: {
                  ...options.parameters,
                  [ICEBERG_PARAMETERS.tableType]: "ICEBERG",
                  [ICEBERG_PARAMETERS.metadataLocation]: commit.metadataLocation,
                  ...(previous === undefined
                    ? {}
                    : { [ICEBERG_PARAMETERS.previousMetadataLocation]: previous }),
                },
              },
              // No schema: BigQuery reads it from the metadata file.
              schema: null,
            },
          });
          return true;
        } catch (e) {
          if (status(e) === 412) return false;
          throw e;
        }
      },
    };
  }
}

function status(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
