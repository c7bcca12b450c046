/**
 * One tenant's vector table of one embedding asset: a LanceDB table `vectors` in the database at
 * `<store>/vectors/<asset>/tenant=<tenant>/` (storage-layout.ts), so its objects are under
 * `…/tenant=<tenant>/vectors.lance/`. Every object of a tenant's vectors lives under that prefix, so a
 * tenant's data can be granted, listed, copied or erased by prefix alone; and a search opens one
 * tenant's table, so it cannot return another tenant's rows.
 *
 * Columns: the asset's key columns, its tenant column, `content_hash` (SHA-256 of the embedded text) and
 * `vector` (fixed-size list of float32). The schema's metadata records the model that wrote the vectors
 * (`tributary.model`, config.ts `modelTag`) and the asset's shape, so that a search (or an application,
 * search.ts) knows what it reads without loading the graph.
 */
import type { Connection, Table } from "@lancedb/lancedb";
import type { Field, Schema } from "apache-arrow";
import { layout } from "../../contract/storage-layout.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { EffectiveModel, IndexConfig } from "./config.ts";
import { modelTag } from "./config.ts";
import { type ArrowModule, lance } from "./lance.ts";
import type { LanceLocation } from "./location.ts";

export const TABLE_NAME = "vectors";
export const VECTOR = "vector";
export const CONTENT_HASH = "content_hash";
const INDEX_NAME = `${VECTOR}_idx`;

export type KeyType = "string" | "integer";

/** What a vector table holds, as its schema metadata records it. */
export interface TableShape {
  readonly asset: string;
  readonly keys: readonly { readonly name: string; readonly type: KeyType }[];
  readonly tenantColumn: string;
  readonly model: EffectiveModel;
  /** Whether the model is a semantic one (false for the local hashing embedder). */
  readonly semantic: boolean;
}

export class VectorTableError extends TributaryError {
  override name = "VectorTableError";
}

/** A row key as one string: the value of a single key column, or the JSON array of several. */
export function keyString(values: readonly unknown[]): string {
  if (values.length === 1) return String(values[0]);
  return JSON.stringify(values.map((v) => (typeof v === "bigint" ? v.toString() : v)));
}

/** Rows to write: parallel arrays, one entry per row; `vectors` holds `dimension` floats per row. */
export interface VectorRows {
  /** One array per key column (in the shape's order), of strings or bigints. */
  readonly keys: readonly (readonly unknown[])[];
  readonly hashes: readonly string[];
  readonly vectors: Float32Array;
}

export interface Neighbour {
  /** The row's key and tenant columns, by name. */
  readonly row: Readonly<Record<string, string | number>>;
  /** Cosine distance to the query (0: same direction; 2: opposite). */
  readonly distance: number;
}

/** The database of one tenant's vectors of one asset. */
export function tenantUri(location: LanceLocation, asset: string, tenant: string): string {
  return `${location.root}/${layout.vectors(asset, tenant)}`;
}

export class VectorTable {
  readonly shape: TableShape;
  readonly #db: Connection;
  readonly #table: Table;
  readonly #arrow: ArrowModule;
  readonly #schema: Schema;

  private constructor(db: Connection, table: Table, arrow: ArrowModule, schema: Schema, shape: TableShape) {
    this.#db = db;
    this.#table = table;
    this.#arrow = arrow;
    this.#schema = schema;
    this.shape = shape;
  }

  /**
   * Open a tenant's table; with `create`, create it (or replace it, when it holds another model's
   * vectors or another shape: everything is embedded again). Undefined when it does not exist and
   * `create` is not given. `replaced` says whether an existing table was replaced.
   */
  static async open(
    location: LanceLocation,
    asset: string,
    tenant: string,
    create?: TableShape,
  ): Promise<{ table: VectorTable; replaced: boolean } | undefined> {
    const { lancedb, arrow } = await lance();
    const storageOptions = { ...location.storageOptions, ...(await location.refresh?.()) };
    // A directory namespace without its manifest: `connect()` writes one (`__manifest/`) as it
    // connects, so a search of a tenant with no table would create objects there, and a reader
    // allowed to read only would be refused.
    const db = await lancedb.connectNamespace(
      "dir",
      {
        root: tenantUri(location, asset, tenant),
        manifestEnabled: false,
        // The namespace hands its storage options on to the tables it opens only when told to.
        extraProperties: {
          vend_input_storage_options: "true",
          ...Object.fromEntries(Object.entries(storageOptions).map(([k, v]) => [`storage.${k}`, v])),
        },
      },
      { storageOptions },
    );
    let table: Table;
    try {
      table = await db.openTable(TABLE_NAME);
    } catch (e) {
      if (!/was not found|not found/i.test(String((e as Error).message))) {
        db.close();
        throw e;
      }
      if (!create) {
        db.close();
        return undefined;
      }
      const schema = schemaOf(arrow, create);
      const made = await db.createEmptyTable(TABLE_NAME, schema, { mode: "create", existOk: true });
      return { table: new VectorTable(db, made, arrow, schema, create), replaced: false };
    }
    const schema = await table.schema();
    const shape = shapeOf(schema, asset);
    if (create && !sameShape(shape, create)) {
      table.close();
      const fresh = schemaOf(arrow, create);
      const replaced = await db.createEmptyTable(TABLE_NAME, fresh, { mode: "overwrite" });
      return { table: new VectorTable(db, replaced, arrow, fresh, create), replaced: true };
    }
    return { table: new VectorTable(db, table, arrow, schema, shape), replaced: false };
  }

  async count(): Promise<number> {
    return this.#table.countRows();
  }

  /** The table's version (LanceDB's), which a commit records. */
  async version(): Promise<number> {
    return this.#table.version();
  }

  /** Every row's key (keyString) and content hash. */
  async hashes(): Promise<Map<string, string>> {
    const columns = this.shape.keys.map((k) => k.name);
    const data = await this.#table
      .query()
      .select([...columns, CONTENT_HASH])
      .toArrow();
    const out = new Map<string, string>();
    const keyCols = columns.map((c) => data.getChild(c)!);
    const hashCol = data.getChild(CONTENT_HASH)!;
    for (let i = 0; i < data.numRows; i++) {
      out.set(keyString(keyCols.map((c) => c.get(i))), String(hashCol.get(i)));
    }
    return out;
  }

  /** Insert new rows, or replace the rows with the same keys (`upsert`), as one commit. */
  async write(rows: VectorRows, tenant: string, upsert: boolean): Promise<void> {
    const data = this.#arrowTable(rows, tenant);
    if (data.numRows === 0) return;
    if (!upsert) {
      await this.#table.add(data);
      return;
    }
    await this.#table
      .mergeInsert(this.shape.keys.map((k) => k.name))
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .execute(data, { timeoutMs: 120_000 });
  }

  /** Delete the rows of these keys (keyString form), in commits of at most 1,000 keys. */
  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.#table.delete(this.#predicate(keys.slice(i, i + 1000)));
    }
  }

  /**
   * Keep the table fast and small after a run wrote to it: build the ANN index once it holds
   * `index.minRows` rows, re-train it once `index.retrainShare` of the rows are not in it, compact
   * small fragments, and drop every older version (a deleted key's vector leaves the latest version at
   * once, and the versions that still hold it here).
   */
  async maintain(index: IndexConfig): Promise<{ indexed: boolean }> {
    const rows = await this.#table.countRows();
    const indices = await this.#table.listIndices();
    const has = indices.some((i) => i.name === INDEX_NAME);
    if (rows >= index.minRows) {
      const stats = has ? await this.#table.indexStats(INDEX_NAME) : undefined;
      const unindexed = stats ? stats.numUnindexedRows / Math.max(1, rows) : 1;
      if (!has || unindexed >= index.retrainShare) {
        const { lancedb } = await lance();
        await this.#table.createIndex(VECTOR, {
          name: INDEX_NAME,
          replace: true,
          config: lancedb.Index.ivfRq({
            distanceType: "cosine",
            ...(index.partitions === undefined ? {} : { numPartitions: index.partitions }),
          }),
        });
      }
    } else if (has) {
      await this.#table.dropIndex(INDEX_NAME);
    }
    await this.#table.optimize({ cleanupOlderThan: new Date() });
    return { indexed: rows >= index.minRows };
  }

  /** Whether the table has its ANN index. */
  async indexed(): Promise<boolean> {
    return (await this.#table.listIndices()).some((i) => i.name === INDEX_NAME);
  }

  /** The `k` nearest rows to `vector` by cosine distance, nearest first. */
  async search(vector: Float32Array, k: number, index: IndexConfig): Promise<Neighbour[]> {
    const columns = [...new Set([...this.shape.keys.map((c) => c.name), this.shape.tenantColumn])];
    let query = this.#table.vectorSearch(vector).distanceType("cosine").limit(k).select(columns);
    if (await this.indexed()) query = query.nprobes(index.nprobes).refineFactor(index.refineFactor);
    const found = await query.toArray();
    return found.map((r: Record<string, unknown>) => ({
      row: Object.fromEntries(
        columns.map((c) => [c, typeof r[c] === "bigint" ? Number(r[c]) : (r[c] as string | number)]),
      ),
      // To 6 decimals (float32 vectors carry no more), so an identical vector is at 0, not at ±1e-8.
      distance: Math.max(0, Math.round(Number(r._distance) * 1e6) / 1e6),
    }));
  }

  close(): void {
    this.#table.close();
    this.#db.close();
  }

  #predicate(keys: readonly string[]): string {
    const lit = (v: unknown, type: KeyType) =>
      type === "integer" ? String(BigInt(v as string)) : `'${String(v).replaceAll("'", "''")}'`;
    const cols = this.shape.keys;
    if (cols.length === 1) {
      const [c] = cols;
      return `\`${c!.name}\` IN (${keys.map((k) => lit(k, c!.type)).join(", ")})`;
    }
    return keys
      .map((k) => {
        const values = JSON.parse(k) as unknown[];
        return `(${cols.map((c, i) => `\`${c.name}\` = ${lit(values[i], c.type)}`).join(" AND ")})`;
      })
      .join(" OR ");
  }

  #arrowTable(rows: VectorRows, tenant: string) {
    const a = this.#arrow;
    const n = rows.hashes.length;
    const dim = this.shape.model.dimension;
    if (rows.vectors.length !== n * dim) {
      throw new VectorTableError(`vectors: ${n} rows need ${n * dim} floats, not ${rows.vectors.length}.`);
    }
    const children = [];
    for (const field of this.#schema.fields) {
      const name = field.name;
      const k = this.shape.keys.findIndex((c) => c.name === name);
      if (k >= 0) {
        const values = rows.keys[k]!;
        if (this.shape.keys[k]!.type === "integer") {
          const ints = new BigInt64Array(n);
          for (let i = 0; i < n; i++) ints[i] = BigInt(values[i] as bigint);
          children.push(a.makeData({ type: new a.Int64(), length: n, nullCount: 0, data: ints }));
        } else {
          children.push(a.vectorFromArray(values as string[], new a.Utf8()).data[0]!);
        }
      } else if (name === this.shape.tenantColumn) {
        children.push(a.vectorFromArray(new Array<string>(n).fill(tenant), new a.Utf8()).data[0]!);
      } else if (name === CONTENT_HASH) {
        children.push(a.vectorFromArray(rows.hashes as string[], new a.Utf8()).data[0]!);
      } else {
        children.push(
          a.makeData({
            type: field.type,
            length: n,
            nullCount: 0,
            child: a.makeData({ type: new a.Float32(), length: n * dim, nullCount: 0, data: rows.vectors }),
          }),
        );
      }
    }
    const struct = a.makeData({
      type: new a.Struct(this.#schema.fields),
      length: n,
      nullCount: 0,
      children,
    });
    return new a.Table([new a.RecordBatch(this.#schema, struct)]);
  }
}

const META = {
  asset: "tributary.asset",
  keys: "tributary.keys",
  tenant: "tributary.tenant",
  model: "tributary.model",
  semantic: "tributary.semantic",
} as const;

function schemaOf(a: ArrowModule, shape: TableShape): Schema {
  const fields: Field[] = shape.keys.map(
    (k) => new a.Field(k.name, k.type === "integer" ? new a.Int64() : new a.Utf8(), false),
  );
  if (!shape.keys.some((k) => k.name === shape.tenantColumn)) {
    fields.push(new a.Field(shape.tenantColumn, new a.Utf8(), false));
  }
  fields.push(new a.Field(CONTENT_HASH, new a.Utf8(), false));
  fields.push(
    new a.Field(
      VECTOR,
      new a.FixedSizeList(shape.model.dimension, new a.Field("item", new a.Float32(), true)),
      false,
    ),
  );
  return new a.Schema(
    fields,
    new Map([
      [META.asset, shape.asset],
      [META.keys, JSON.stringify(shape.keys)],
      [META.tenant, shape.tenantColumn],
      [META.model, JSON.stringify(shape.model)],
      [META.semantic, String(shape.semantic)],
    ]),
  );
}

/** The shape a table's schema records; a table without it was not written by Tributary. */
function shapeOf(schema: Schema, asset: string): TableShape {
  const m = schema.metadata;
  const model = m.get(META.model);
  const keys = m.get(META.keys);
  const tenant = m.get(META.tenant);
  if (model === undefined || keys === undefined || tenant === undefined) {
    throw new VectorTableError(
      `vectors: the vector table of "${asset}" has no Tributary metadata: it was not written by Tributary.`,
    );
  }
  return {
    asset: m.get(META.asset) ?? asset,
    keys: JSON.parse(keys) as TableShape["keys"],
    tenantColumn: tenant,
    model: JSON.parse(model) as EffectiveModel,
    semantic: m.get(META.semantic) === "true",
  };
}

function sameShape(a: TableShape, b: TableShape): boolean {
  return (
    modelTag(a.model) === modelTag(b.model) &&
    a.tenantColumn === b.tenantColumn &&
    JSON.stringify(a.keys) === JSON.stringify(b.keys)
  );
}
