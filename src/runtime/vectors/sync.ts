/**
 * Bring one tenant's vector table up to date with the rows it should hold: embed the rows whose text
 * changed (their content hash differs from the table's, or they are new), keep the others, delete the keys
 * that are gone, then maintain the table (index, compaction, old versions).
 *
 * Backpressure, per run (one function): texts are embedded `batchSize` at a time with at most
 * `embedConcurrency` `embed()` calls in flight across every table of the run; a table is written
 * `writeBatchRows` rows per commit, one write at a time, while the next rows are embedded (so embedding
 * runs at most one write ahead, and memory holds at most two chunks of vectors per table); at most
 * `writeConcurrency` tables are synchronised at once.
 */
import pLimit, { type LimitFunction } from "p-limit";
import { type VectorsConfig, vectorsConfigFromEnv } from "./config.ts";
import type { EmbeddingModel } from "./embedder.ts";
import type { LanceLocation } from "./location.ts";
import { createEmbedder, EmbedderError, type ResolvedEmbedder } from "./providers.ts";
import { keyString, type TableShape, VectorTable } from "./table.ts";

/** What one run shares across its embedding assets: configuration, embedders and the limits. */
export interface VectorsRuntime {
  readonly config: VectorsConfig;
  /** The embedder for a declared model (made once per run and model). */
  embedder(declared: EmbeddingModel, what: string): Promise<ResolvedEmbedder>;
  readonly embedLimit: LimitFunction;
  readonly writeLimit: LimitFunction;
}

export function vectorsRuntime(config: VectorsConfig = vectorsConfigFromEnv()): VectorsRuntime {
  const made = new Map<string, Promise<ResolvedEmbedder>>();
  return {
    config,
    embedder(declared, what) {
      const id = `${declared.name}/${declared.dimension}`;
      let e = made.get(id);
      if (!e) {
        e = createEmbedder(declared, config, what);
        e.catch(() => made.delete(id));
        made.set(id, e);
      }
      return e;
    },
    embedLimit: pLimit(config.embedConcurrency),
    writeLimit: pLimit(config.writeConcurrency),
  };
}

/** The rows a tenant's table should hold: parallel arrays, one entry per row. */
export interface TenantRows {
  readonly tenant: string;
  /** One array per key column, in the table shape's order. */
  readonly keys: readonly (readonly unknown[])[];
  readonly hashes: readonly string[];
  readonly texts: readonly string[];
}

export interface TenantSync {
  readonly rows: number;
  readonly embedded: number;
  readonly unchanged: number;
  readonly deleted: number;
  /** The table's LanceDB version after the sync. */
  readonly version: number;
  readonly indexed: boolean;
}

/** Synchronise one tenant's table (see the module's comment); `what` names the asset for errors. */
export async function syncTenant(
  rt: VectorsRuntime,
  location: LanceLocation,
  shape: TableShape,
  input: TenantRows,
  resolved: ResolvedEmbedder,
  what: string,
): Promise<TenantSync> {
  const opened = await VectorTable.open(location, shape.asset, input.tenant, shape);
  const table = opened!.table;
  try {
    const existing = opened!.replaced ? new Map<string, string>() : await table.hashes();
    const n = input.hashes.length;
    const present = new Set<string>();
    const changed: number[] = [];
    for (let i = 0; i < n; i++) {
      const key = keyString(input.keys.map((column) => column[i]));
      present.add(key);
      if (existing.get(key) !== input.hashes[i]) changed.push(i);
    }
    const gone = [...existing.keys()].filter((k) => !present.has(k));
    const upsert = existing.size > 0;
    const dim = shape.model.dimension;
    let writing: Promise<void> = Promise.resolve();
    for (let from = 0; from < changed.length; from += rt.config.writeBatchRows) {
      const chunk = changed.slice(from, from + rt.config.writeBatchRows);
      const vectors = await embedAll(
        rt,
        resolved,
        chunk.map((i) => input.texts[i]!),
        dim,
        what,
      );
      await writing;
      writing = table.write(
        {
          keys: input.keys.map((column) => chunk.map((i) => column[i])),
          hashes: chunk.map((i) => input.hashes[i]!),
          vectors,
        },
        input.tenant,
        upsert,
      );
    }
    await writing;
    await table.delete(gone);
    const touched = changed.length > 0 || gone.length > 0 || opened!.replaced;
    const indexed = touched ? (await table.maintain(rt.config.index)).indexed : await table.indexed();
    return {
      rows: n,
      embedded: changed.length,
      unchanged: n - changed.length,
      deleted: gone.length,
      version: await table.version(),
      indexed,
    };
  } finally {
    table.close();
  }
}

/** Embed texts in batches under the run's limit, into one buffer of `dim` floats per text. */
export async function embedAll(
  rt: VectorsRuntime,
  resolved: ResolvedEmbedder,
  texts: readonly string[],
  dim: number,
  what: string,
): Promise<Float32Array> {
  const out = new Float32Array(texts.length * dim);
  const size = rt.config.batchSize;
  const batches: Promise<void>[] = [];
  for (let from = 0; from < texts.length; from += size) {
    const batch = texts.slice(from, from + size);
    batches.push(
      rt.embedLimit(async () => {
        const vectors = await resolved.embedder.embed(batch);
        if (vectors.length !== batch.length) {
          throw new EmbedderError(
            `${what}: the embedder ${resolved.model.name} returned ${vectors.length} vectors for ${batch.length} texts.`,
          );
        }
        for (let i = 0; i < vectors.length; i++) {
          const v = vectors[i]!;
          if (v.length !== dim) {
            throw new EmbedderError(
              `${what}: the embedder ${resolved.model.name} returned a vector of ${v.length} numbers, not ${dim} (the declared dimension).`,
            );
          }
          out.set(v, (from + i) * dim);
        }
      }),
    );
  }
  await Promise.all(batches);
  return out;
}
