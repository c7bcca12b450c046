/**
 * Compaction: a partition whose data folder holds many small files (the table's current snapshot lists
 * at least `minFiles` of them, averaging under `smallBytes`) gets them rewritten as one file, in a
 * snapshot of operation "replace": the same rows, fewer files for every reader to open. Tributary's own
 * materialisations write one file per partition; several arise where other writers add files to a
 * partition (the clouds' serverless SQL engines write many small ones). The partition's record keeps its
 * data version and checks and names the new file; the commit is the engine's one commit point
 * (commit.ts), under the partition's lock, so a compaction and a materialisation of the same partition
 * never interleave; a partition another run holds is left for the next compaction.
 *
 * The entry point a stack's scheduled maintenance calls: `compact(graph, store, options)`.
 */
import { randomUUID } from "node:crypto";
import { layout, partitionPath } from "../../contract/storage-layout.ts";
import type { AssetDef } from "../../kit/asset.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { dataFileCopyOptions, readFilesSql } from "../iceberg/duck.ts";
import { currentSchema, currentSnapshot, newSnapshotId } from "../iceberg/metadata.ts";
import { metricsOf, type ReturnStatsRow } from "../iceberg/stats.ts";
import type { ObjectStore } from "../storage/port.ts";
import { type CatalogContext, commitPartition } from "./commit.ts";
import { Duck } from "./duckdb.ts";
import { Scratch } from "./files.ts";
import type { CommittedObject } from "./integrity.ts";
import { acquireLock, LockTimeoutError } from "./lock.ts";
import type { AssetManifest } from "./manifest.ts";
import { StoreState } from "./state.ts";
import { literal } from "./types.ts";

export interface CompactOptions {
  /** Selection syntax; default every asset. */
  readonly selection?: string;
  /** Compact a partition holding at least this many files (default 8). */
  readonly minFiles?: number;
  /** … whose average size is under this (default 64 MiB). */
  readonly smallBytes?: number;
  /** Say what would be compacted, and write nothing. */
  readonly dryRun?: boolean;
  /** The stack's catalog, told of each compaction's commit. */
  readonly catalog?: CatalogContext;
  /** Age after which another run's partition lock counts as abandoned (see lock.ts). */
  readonly lockStaleAfterMs?: number;
}

/** One partition compacted (or, on a dry run, to compact). */
export interface Compaction {
  readonly asset: string;
  readonly partition: string;
  /** The files rewritten, their bytes, and the rows they hold. */
  readonly files: number;
  readonly bytes: number;
  readonly rows: number;
  /** The new file's size, when written. */
  readonly into?: number;
}

export interface CompactResult {
  readonly compacted: readonly Compaction[];
  /** Partitions that qualified but another run held. */
  readonly busy: readonly string[];
}

/** Compact the small files of every selected asset's partitions that pass the threshold. */
export async function compact(
  graph: AssetGraph,
  store: ObjectStore,
  opts: CompactOptions = {},
): Promise<CompactResult> {
  const minFiles = opts.minFiles ?? 8;
  const smallBytes = opts.smallBytes ?? 64 * 1024 * 1024;
  const runId = randomUUID();
  const state = new StoreState(store);
  const compacted: Compaction[] = [];
  const busy: string[] = [];
  let duck: Duck | undefined;
  const scratch = new Scratch(store);
  try {
    for (const key of graph.select(opts.selection)) {
      const a = graph.get(key);
      if (a.kind !== "asset") continue;
      const latest = await state.tables.latest(key);
      if (!latest) continue;
      const live = await state.tables.table(key).liveFiles(currentSnapshot(latest.metadata));
      for (const record of await state.allManifests(key)) {
        const folder = layout.curatedPartition(key, partitionPath(a.partitions, record.partition, key));
        const files = live.filter((f) => f.key.startsWith(folder));
        const bytes = files.reduce((n, f) => n + f.entry.data_file.file_size_in_bytes, 0);
        if (files.length < minFiles || bytes / files.length >= smallBytes) continue;
        const found: Compaction = {
          asset: key,
          partition: record.partition,
          files: files.length,
          bytes,
          rows: files.reduce((n, f) => n + f.entry.data_file.record_count, 0),
        };
        if (opts.dryRun) {
          compacted.push(found);
          continue;
        }
        duck ??= await Duck.open();
        const into = await compactLocked(state, scratch, duck, a, record.partition, runId, opts);
        if (into === undefined) busy.push(`${key}/${record.partition}`);
        else compacted.push({ ...found, into });
      }
    }
  } finally {
    duck?.close();
    await scratch.cleanup();
  }
  return { compacted, busy };
}

/** Rewrite a partition's files as one, holding its lock; undefined when another run holds it. */
async function compactLocked(
  state: StoreState,
  scratch: Scratch,
  duck: Duck,
  a: AssetDef,
  partition: string,
  runId: string,
  opts: CompactOptions,
): Promise<number | undefined> {
  const ppath = partitionPath(a.partitions, partition, a.key);
  let release: () => Promise<void>;
  try {
    release = await acquireLock(state.store, a.key, ppath, runId, {
      timeoutMs: 0,
      ...(opts.lockStaleAfterMs === undefined ? {} : { staleAfterMs: opts.lockStaleAfterMs }),
    });
  } catch (e) {
    if (e instanceof LockTimeoutError) return undefined;
    throw e;
  }
  try {
    // What is committed now, under the lock.
    state.forget(a, partition);
    state.tables.refresh(a.key);
    const record = await state.manifest(a, partition);
    const latest = await state.tables.latest(a.key);
    if (!record || !latest) return undefined;
    const folder = layout.curatedPartition(a.key, ppath);
    const live = (await state.tables.table(a.key).liveFiles(currentSnapshot(latest.metadata))).filter((f) =>
      f.key.startsWith(folder),
    );
    const recorded = new Map<string, CommittedObject>(record.files.map((f) => [f.key, f]));
    const paths = await Promise.all(
      live.map((f) =>
        scratch.readable(recorded.get(f.key) ?? { key: f.key, bytes: f.entry.data_file.file_size_in_bytes }),
      ),
    );
    const schema = currentSchema(latest.metadata);
    const fileKey = layout.curated(a.key, ppath, `${record.dataVersion}-${runId.slice(-8)}`);
    const out = await scratch.writable(fileKey);
    const [row] = await duck.rows(
      `COPY (${readFilesSql(schema, paths)}) TO ${literal(out.path)} (${dataFileCopyOptions(schema)})`,
    );
    const metrics = metricsOf(row as unknown as ReturnStatsRow, schema);
    const compacted: AssetManifest = {
      ...record,
      files: [{ key: fileKey, rows: metrics.recordCount, ...(await out.publish()) }],
      rowCount: metrics.recordCount,
      snapshot: String(newSnapshotId()),
    };
    await commitPartition(
      state,
      {
        asset: a,
        record: compacted,
        file: { key: fileKey, partition, metrics },
        schema,
        operation: "replace",
      },
      opts.catalog,
    );
    return metrics.fileSizeInBytes;
  } finally {
    await release();
  }
}
