/**
 * What the stream tests of the three clouds share: the graph of docs/cdc.md (a CDC source of Debezium's
 * `inventory.products` Postgres table), Debezium's own change events of that table
 * (../shared/fixtures/cdc/), each cloud's delivery of them as Debezium Server's sink writes them (the
 * record key the partition or ordering key, the value the JSON text), and a store that refuses one
 * partition's objects: the record that cannot be landed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { daily, debezium, defineGraph, source, Type } from "tributary";
import { StorageError } from "../../src/contract/storage-layout.ts";
import type { Body, ObjectInfo, ObjectStore, Written } from "../../src/runtime/storage/port.ts";

const ProductRow = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  weight: Type.Number(),
});
export const products = source("products", {
  cdc: debezium.postgres({ table: "inventory.products", key: ["id"], row: ProductRow }),
  partitions: daily({ start: "2020-07-01" }),
});
export const graph = defineGraph([products]);

/** The 16 change events Debezium's Postgres connector emitted for `inventory.products`, as JSON text. */
export const CHANGES: readonly string[] = readFileSync(
  join(import.meta.dirname, "../../../shared/fixtures/cdc/flink-debezium-postgres.ndjson"),
  "utf8",
)
  .split("\n")
  .filter((l) => l !== "");

/** A change event of the next day, 2020-07-30 (the fixture's are all of 2020-07-29): product 112 created. */
export const NEXT_DAY = JSON.stringify({
  before: null,
  after: { id: 112, name: "lamp", description: "desk lamp", weight: 1.2 },
  source: {
    version: "1.2.1.Final",
    connector: "postgresql",
    name: "fullfillment",
    ts_ms: 1596099600000,
    snapshot: "false",
    db: "postgres",
    schema: "inventory",
    table: "products",
    txId: 612,
    lsn: 34140000,
    xmin: null,
  },
  op: "c",
  ts_ms: 1596099600120,
  transaction: null,
});

/**
 * The record key Debezium Server sends with a change event: the key columns as JSON (schemas off); for a
 * value without a row, the sinks' `null.key`, "default".
 */
export function recordKey(value: string): string {
  const v = JSON.parse(value) as { after?: { id: number } | null; before?: { id: number } | null };
  const row = v.after ?? v.before;
  return row ? JSON.stringify({ id: row.id }) : "default";
}

/** The partition prefix of `products` whose objects the failing store refuses. */
export const REFUSED = "raw/products/2020-07-30/";

/**
 * A store that refuses to write under `refused` (as S3 answers SlowDown for a hot prefix) while it is
 * set, and passes everything else to `inner`. It has no local path: every write goes through `put`.
 */
export class RefusingStore implements ObjectStore {
  refused: string | undefined;
  readonly #inner: ObjectStore;

  constructor(inner: ObjectStore, refused?: string) {
    this.#inner = inner;
    this.refused = refused;
  }

  get uri(): string {
    return this.#inner.uri;
  }

  async put(key: string, body: Body, opts?: { ifAbsent?: boolean }): Promise<Written | false> {
    if (this.refused !== undefined && key.startsWith(this.refused)) {
      throw new StorageError(`storage: ${this.uri}: ${key}: SlowDown: please reduce your request rate.`);
    }
    return this.#inner.put(key, body, opts);
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.#inner.get(key);
  }

  read(key: string): Promise<Readable | undefined> {
    return this.#inner.read(key);
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.#inner.head(key);
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.#inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
}

/** A Kinesis sequence number of shard 0, as long as Kinesis makes them. */
export function sequenceNumber(i: number): string {
  return `4956816737333333333333333333333333333333333333${String(1000 + i).padStart(10, "0")}`;
}
