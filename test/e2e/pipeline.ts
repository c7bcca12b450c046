/**
 * The end-to-end run of the reference pipeline through cloud handlers, shared by the tests of every
 * cloud: sample CDC events are sent as source-events messages (one per source and day file), the
 * local cloud delivers them and everything they announce to the real entry points, and the tables
 * that result are read back through the manifests, like `tributary query` does.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import graph from "../../examples/commerce/assets/index.ts";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { readSql } from "../../src/runtime/engine/executor.ts";
import { Scratch } from "../../src/runtime/engine/files.ts";
import { StoreState } from "../../src/runtime/engine/state.ts";
import type { BusMessage } from "../../src/runtime/handlers/envelopes.ts";
import type { ObjectInfo, ObjectStore } from "../../src/runtime/storage/port.ts";

export { graph };

/** A small sample: two days, three tenants, with invalid, duplicate and late events. */
export async function sampleFiles(
  dir: string,
): Promise<{ source: string; day: string; path: string; lines: string[] }[]> {
  await writeSample(dir, {
    seed: 20261128,
    from: "2026-11-01",
    to: "2026-11-02",
    customersPerTenant: 5,
    ordersPerDayPerTenant: 4,
  });
  const out: { source: string; day: string; path: string; lines: string[] }[] = [];
  for (const source of ["customers_cdc", "orders_cdc"]) {
    for (const f of (await readdir(join(dir, source))).sort()) {
      const path = join(dir, source, f);
      const lines = (await readFile(path, "utf8")).split("\n").filter((l) => l !== "");
      out.push({ source, day: f.replace(".ndjson", ""), path, lines });
    }
  }
  return out;
}

/** One source-events message per sample file, the records as the NDJSON lines they arrived as. */
export function sourceMessages(files: Awaited<ReturnType<typeof sampleFiles>>): BusMessage[] {
  return files.map((f) => ({
    type: MESSAGES.sourceEvents,
    id: `${f.source}-${f.day}`,
    body: { source: f.source, records: f.lines },
  }));
}

/** Every asset's committed rows, sorted, as JSON: what a reader of the store sees. */
export async function tables(store: ObjectStore): Promise<Record<string, unknown[]>> {
  const state = new StoreState(store);
  const scratch = new Scratch(store);
  const duck = await Duck.open();
  try {
    const out: Record<string, unknown[]> = {};
    for (const key of graph.order) {
      const a = graph.get(key);
      if (a.kind !== "asset") continue;
      const files = await Promise.all((await state.committedObjects(a)).map((o) => scratch.readable(o)));
      if (files.length === 0) {
        out[key] = [];
        continue;
      }
      const reader = await duck.connection.runAndReadAll(`SELECT * FROM (${readSql(a, files)}) ORDER BY ALL`);
      out[key] = reader.getRowObjectsJson();
    }
    return out;
  } finally {
    duck.close();
    await scratch.cleanup();
  }
}

/** Every object of the stores with its size and time: what a second delivery must not change. */
export async function listing(stores: readonly ObjectStore[]): Promise<string[]> {
  const all: ObjectInfo[] = (await Promise.all(stores.map((s) => s.list("")))).flat();
  return all.map((o) => `${o.key} ${o.size} ${o.modified.toISOString()}`).sort();
}
