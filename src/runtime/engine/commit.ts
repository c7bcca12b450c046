/**
 * The commit of one asset partition: its data file into the asset's Iceberg table and its record into
 * its record file, as one (records.ts), then the stack's catalog told (iceberg/catalog.ts).
 */
import { layout, partitionPath } from "../../contract/storage-layout.ts";
import { catalogTable, type TableCatalogRef } from "../../contract/table-names.ts";
import type { IcebergSchema } from "../../contract/table-schema.ts";
import type { AssetDef } from "../../kit/asset.ts";
import type { TableCatalog, TableCommit } from "../iceberg/catalog.ts";
import { type CommitResult, commitTable, type NewDataFile } from "../iceberg/commit.ts";
import { currentSchema, type Operation } from "../iceberg/metadata.ts";
import type { IcebergTable, TableVersion } from "../iceberg/table.ts";
import { tableDefinition } from "../iceberg/tables.ts";
import { acquireLock, LockTimeoutError } from "./lock.ts";
import type { AssetManifest } from "./manifest.ts";
import { recordFileText, resolveRecord } from "./records.ts";
import type { StoreState } from "./state.ts";

/** Where a run's commits are told about, beyond the store. */
export interface CatalogContext {
  /** The stack's catalog; absent locally. */
  readonly catalog?: TableCatalog;
  /** How the catalog names tables (default: the store itself, as a Hadoop catalog). */
  readonly ref?: TableCatalogRef;
}

/** One partition's commit: its new record (naming its snapshot) and its data file, if it has rows. */
export interface PartitionCommit {
  readonly asset: AssetDef;
  readonly record: AssetManifest;
  readonly file?: NewDataFile;
  /** The schema the data file was written with: the commit refuses a table whose schema changed since. */
  readonly schema: IcebergSchema;
  /** What to call before the record file gets `pending` (the outbox entry the commit owes). */
  readonly before?: () => Promise<void>;
  /** What to call once the table holds the commit (from then on its data file is the table's). */
  readonly onCommitted?: () => void;
  /** The snapshot's operation, when it is not what its files make it ("replace" for a compaction). */
  readonly operation?: Operation;
}

/** A partition's commit: the table's new version, and why the catalog could not be told, if it could not. */
export interface PartitionCommitted {
  readonly result: CommitResult;
  readonly catalogError?: string;
}

/**
 * Commit a partition: record file with `pending`, the table's commit, the catalog told, record file
 * settled. A commit that gave up (CommitConflictError) leaves the record file as it was; any other
 * failure of the table's commit leaves `pending` for readers to resolve against the table. When the
 * catalog cannot be told, the commit stands and stays unsettled: the next run that plans the partition
 * tells the catalog and settles it (`settle`).
 */
export async function commitPartition(
  state: StoreState,
  c: PartitionCommit,
  catalog: CatalogContext = {},
): Promise<PartitionCommitted> {
  const { asset: a, record } = c;
  const store = state.store;
  const key = layout.manifest(a.key, partitionPath(a.partitions, record.partition, a.key));
  const tables = state.tables;
  const now = await resolveRecord(await state.recordFile(a, record.partition), (s) => tables.holds(a.key, s));
  await c.before?.();
  await store.put(key, recordFileText({ committed: now.record, pending: record }));
  let result: CommitResult;
  try {
    result = await commitTable(
      tables.table(a.key),
      {
        definition: tableDefinition(store, a),
        partitions: a.partitions,
        replace: [record.partition],
        add: c.file ? [c.file] : [],
        snapshotId: Number(record.snapshot),
        summary: {
          "tributary.asset": a.key,
          "tributary.partition": record.partition,
          "tributary.data-version": record.dataVersion,
          "tributary.run-id": record.runId,
        },
        schema: c.schema,
        ...(c.operation ? { operation: c.operation } : {}),
      },
      { base: (await tables.latest(a.key)) ?? null },
    );
  } catch (e) {
    tables.refresh(a.key);
    if (e instanceof Error && e.name === "CommitConflictError") {
      await store.put(key, recordFileText({ committed: now.record }));
    }
    throw e;
  }
  c.onCommitted?.();
  tables.committed(a.key, result);
  state.forget(a, record.partition);
  try {
    await publish(tables.table(a.key), result, catalog);
  } catch (e) {
    return {
      result,
      catalogError: `${a.key}: committed to its table (version ${result.version}), but the catalog was not told: ${(e as Error).message}; the next run tells it`,
    };
  }
  await store.put(key, recordFileText({ committed: record }));
  return { result };
}

/**
 * Settle a record file whose pending record the table holds (records.ts): the table's hint written if
 * it lags, the catalog told of the latest version, the record made the committed one. Call it holding
 * the partition's lock. Returns whether there was anything to settle.
 */
export async function settle(
  state: StoreState,
  a: AssetDef,
  partition: string,
  catalog: CatalogContext = {},
): Promise<boolean> {
  const tables = state.tables;
  tables.refresh(a.key);
  const file = await state.recordFile(a, partition);
  const now = await resolveRecord(file, (s) => tables.holds(a.key, s));
  if (!now.unsettled) return false;
  const latest = (await tables.latest(a.key))!;
  const table = tables.table(a.key);
  if ((await table.hint()) !== latest.version) await table.writeHint(latest.version);
  await publish(table, latest, catalog);
  await state.store.put(
    layout.manifest(a.key, partitionPath(a.partitions, partition, a.key)),
    recordFileText({ committed: now.record }),
  );
  state.forget(a, partition);
  return true;
}

/**
 * Settle a partition (see `settle`) under its lock, taken without waiting: a partition another run
 * holds is that run's to settle. Returns whether it settled anything.
 */
export async function settleLocked(
  state: StoreState,
  a: AssetDef,
  partition: string,
  runId: string,
  catalog: CatalogContext = {},
  lockStaleAfterMs?: number,
): Promise<boolean> {
  let release: () => Promise<void>;
  try {
    release = await acquireLock(state.store, a.key, partitionPath(a.partitions, partition, a.key), runId, {
      timeoutMs: 0,
      ...(lockStaleAfterMs === undefined ? {} : { staleAfterMs: lockStaleAfterMs }),
    });
  } catch (e) {
    if (e instanceof LockTimeoutError) return false;
    throw e;
  }
  try {
    return await settle(state, a, partition, catalog);
  } finally {
    await release();
  }
}

/**
 * Tell the catalog about a version of a table (nothing without a catalog). Catalogs ignore a version
 * older than the one they hold, so telling twice, or late, is harmless.
 */
export async function publish(table: IcebergTable, v: TableVersion, ctx: CatalogContext): Promise<void> {
  if (!ctx.catalog) return;
  const id = catalogTable(ctx.ref ?? { kind: "hadoop", warehouse: table.store.uri }, table.asset);
  // A catalog that says its namespace names the table in it.
  const namespace = ctx.catalog.namespace ?? id.namespace;
  const previous = v.metadata["metadata-log"].at(-1)?.["metadata-file"];
  const commit: TableCommit = {
    namespace,
    name: id.name,
    location: table.location,
    metadataLocation: table.uri(table.versionKey(v.version)),
    ...(previous ? { previousMetadataLocation: previous } : {}),
    version: v.version,
    snapshotId: String(v.metadata["current-snapshot-id"]),
    schema: currentSchema(v.metadata) as unknown as Record<string, unknown>,
  };
  await ctx.catalog.publish(commit);
}
