/**
 * Issue 18's acceptance, on the reference pipeline after the quick start (`tributary materialize`):
 * every curated asset is an Iceberg table that `tributary tables --json` locates; icebird, given only
 * that location, reads exactly the rows `tributary query "SELECT * FROM <asset>"` returns; the current
 * metadata file validates against the REST catalog's `TableMetadata`. Then a code change re-materialises
 * one partition: a new snapshot, the other partitions' files unchanged, and `--as-of` the old snapshot
 * (by id and by time) returns the old rows, as icebird does.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type AnyAsset, defineGraph } from "tributary";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import type { IcebergSchema } from "../../src/contract/table-schema.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import type { TableInfo } from "../../src/runtime/iceberg/describe.ts";
import { currentSnapshot, type TableMetadata } from "../../src/runtime/iceberg/metadata.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { cli } from "../cli/in-process.ts";
import { hintedMetadata, icebirdRows, rowSet, tableMetadataValidator, validExample } from "./readers.ts";

const ASSETS = graph.order.filter((k) => graph.get(k).kind === "asset");
/**
 * Rows of each asset after the quick start (the seeded sample data: always the same), as the engine's
 * crash test counts them: the curated assets read the Debezium sources' latest rows per key.
 */
const ROWS: Record<string, number> = {
  curated_customers: 194,
  curated_orders: 645,
  customer_features: 194,
  daily_revenue: 50,
  recommendation_features: 194,
  // Its ledger: a row per customer whose features it embeds.
  recommendation_vectors: 194,
};

let store: string;
beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), "tributary-tables-"));
  const r = await cli("materialize", "--store", store);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
}, 180_000);
afterAll(() => rm(store, { recursive: true, force: true }));

async function tables(): Promise<TableInfo[]> {
  const r = await cli("tables", "--json", "--store", store);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(r.stdout) as TableInfo[];
}

/** `tributary query <sql> --json` as sorted normalised rows of `schema`. */
async function query(sql: string, schema: IcebergSchema, ...flags: string[]): Promise<string[]> {
  const r = await cli("query", sql, "--json", "--store", store, ...flags);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return rowSet(JSON.parse(r.stdout) as Record<string, unknown>[], schema);
}

const schemaOf = (m: TableMetadata) => m.schemas.find((s) => s["schema-id"] === m["current-schema-id"])!;

describe("after the quick start, every curated asset is an Iceberg table", () => {
  it("tributary tables --json locates each; icebird reads exactly the rows query returns; metadata validates", async () => {
    const validate = await tableMetadataValidator();
    // The validator is a real one: the spec's example passes, a wrong format version does not.
    expect(validate(await validExample())).toEqual([]);
    const example = (await validExample()) as Record<string, unknown>;
    expect(validate({ ...example, "format-version": 4 }).length).toBeGreaterThan(0);
    const listed = await tables();
    expect(listed.map((t) => t.asset)).toEqual(ASSETS);
    for (const t of listed) {
      const location = pathToFileURL(join(store, "curated", t.asset)).href;
      expect({
        ...t,
        snapshotId: /^\d+$/.test(t.snapshotId ?? ""),
        lastUpdated: typeof t.lastUpdated,
      }).toMatchObject({
        asset: t.asset,
        namespace: "curated",
        name: t.asset,
        location,
        snapshotId: true,
        rows: ROWS[t.asset],
        lastUpdated: "string",
      });
      const metadata = await hintedMetadata(t.location);
      expect({ asset: t.asset, errors: validate(metadata) }).toEqual({ asset: t.asset, errors: [] });
      expect(String(metadata["current-snapshot-id"])).toBe(t.snapshotId);
      const read = await icebirdRows(t.location);
      expect({ asset: t.asset, rows: read.length }).toEqual({ asset: t.asset, rows: ROWS[t.asset] });
      expect(read).toEqual(await query(`SELECT * FROM ${t.asset}`, schemaOf(metadata)));
    }
    const revenue = listed.find((t) => t.asset === "daily_revenue")!;
    expect(revenue.partitionedBy).toEqual(["day(order_date)", "identity(tenant_id)"]);
    expect(listed.find((t) => t.asset === "curated_orders")!.partitionedBy).toEqual(["identity(tenant_id)"]);
  });

  it("a code change re-materialises one partition: a new snapshot, other files unchanged, --as-of reads the old rows", async () => {
    const before = (await tables()).find((t) => t.asset === "daily_revenue")!;
    const metadata = await hintedMetadata(before.location);
    const schema = schemaOf(metadata);
    const oldRows = await query("SELECT * FROM daily_revenue", schema);
    const localStore = new LocalStore(store);
    const liveBefore = await new StoreState(localStore).tables
      .table("daily_revenue")
      .liveFiles(currentSnapshot(metadata));

    // The changed code: revenue in whole currency units, rounded down.
    const changed = graph.order.map((k) => {
      const a = graph.get(k);
      return a.key === "daily_revenue" && a.kind === "asset"
        ? {
            ...a,
            sql: a.sql!.replace("AS BIGINT) AS revenue_cents", "AS BIGINT) // 100 * 100 AS revenue_cents"),
            codeVersion: "whole-units",
          }
        : a;
    }) as AnyAsset[];
    const r = await materialize(defineGraph(changed), localStore, {
      selection: "daily_revenue",
      partition: "2026-11-01|acme",
    });
    expect(r.outcomes.map((o) => [o.item.asset, o.item.partition, o.status])).toEqual([
      ["daily_revenue", "2026-11-01|acme", "materialized"],
    ]);

    const after = (await tables()).find((t) => t.asset === "daily_revenue")!;
    expect(after.snapshotId).not.toBe(before.snapshotId);
    expect(after.version).toBe(before.version! + 1);
    const m2 = await hintedMetadata(after.location);
    const current = currentSnapshot(m2)!;
    expect(current).toMatchObject({
      "parent-snapshot-id": Number(before.snapshotId),
      summary: {
        operation: "overwrite",
        "added-data-files": "1",
        "deleted-data-files": "1",
        "changed-partition-count": "1",
        "tributary.partition": "2026-11-01|acme",
      },
    });
    // Every other partition keeps its very file.
    const liveAfter = await new StoreState(localStore).tables.table("daily_revenue").liveFiles(current);
    const folder = "curated/daily_revenue/data/2026-11-01/acme/";
    const others = (files: typeof liveAfter) =>
      files
        .filter((f) => !f.key.startsWith(folder))
        .map((f) => [f.key, f.entry.data_file.file_size_in_bytes])
        .sort();
    expect(others(liveAfter)).toEqual(others(liveBefore));
    expect(others(liveAfter)).toHaveLength(before.files - 1);
    const replaced = liveAfter.filter((f) => f.key.startsWith(folder));
    expect(replaced).toHaveLength(1);
    expect(liveBefore.some((f) => f.key === replaced[0]!.key)).toBe(false);

    // Now: the changed rows, only in that partition; as of the old snapshot (id or time): the old rows.
    const newRows = await query("SELECT * FROM daily_revenue", schema);
    const partitionOf = (row: string) => {
      const o = JSON.parse(row) as { order_date: string; tenant_id: string };
      return `${o.order_date}|${o.tenant_id}`;
    };
    expect(newRows.filter((x) => partitionOf(x) !== "2026-11-01|acme")).toEqual(
      oldRows.filter((x) => partitionOf(x) !== "2026-11-01|acme"),
    );
    expect(newRows.filter((x) => partitionOf(x) === "2026-11-01|acme")).not.toEqual(
      oldRows.filter((x) => partitionOf(x) === "2026-11-01|acme"),
    );
    expect(await icebirdRows(after.location)).toEqual(newRows);
    expect(await query("SELECT * FROM daily_revenue", schema, "--as-of", before.snapshotId!)).toEqual(
      oldRows,
    );
    const then = new Date(current["timestamp-ms"] - 1).toISOString();
    expect(await query("SELECT * FROM daily_revenue", schema, "--as-of", then)).toEqual(oldRows);
    expect(await icebirdRows(after.location, { snapshot: Number(before.snapshotId) })).toEqual(oldRows);
  });
});
