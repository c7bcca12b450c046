/**
 * Schema evolution of a CDC source, as a user meets it: events with a column the declared row does not
 * have are landed, `tributary status` says "proposed schema change", and the pull-request preview of
 * the change that declares the column (`tributary diff --store`) says it adopts it. The CLI runs in a
 * child process, from a throwaway project in git.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Preview } from "../../src/infra/preview/types.ts";
import { tributary } from "../cli/run.ts";
import { type Project, project } from "../preview/project.ts";

const FLINK = path.join(import.meta.dirname, "../../../shared/fixtures/cdc/flink-debezium-postgres.ndjson");

const graph = (
  row: string,
) => `import { asset, daily, debezium, defineGraph, latest, source, Type } from "tributary";

const ProductRow = Type.Object({
  ${row}
});
export const products = source("products", {
  cdc: debezium.postgres({ table: "inventory.products", key: ["id"], row: ProductRow }),
  partitions: daily({ start: "2020-07-01" }),
});
export const productsNow = asset("products_now", { deps: [products], schema: ProductRow, sql: latest(products) });
export default defineGraph([products, productsNow]);
`;
const BASE_ROW = `id: Type.Integer(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  weight: Type.Number(),`;
const HEAD_ROW = `${BASE_ROW}
  color: Type.Union([Type.String(), Type.Null()]),`;

let p: Project;
let store: string;
beforeAll(async () => {
  p = project();
  p.commit({ "assets/index.ts": graph(BASE_ROW) }, "base");
  store = path.join(p.dir, ".tributary");
  // The table gained a column: the connector's newer events carry it.
  const lines = fs.readFileSync(FLINK, "utf8").split("\n").filter(Boolean);
  const withColor = lines[11]!
    .replace('"weight":0.2}', '"weight":0.2,"color":"white"}')
    .replace('"lsn":34132560', '"lsn":34134100');
  fs.writeFileSync(path.join(p.dir, "events.ndjson"), `${[...lines, withColor].join("\n")}\n`);
  const r = await tributary(["ingest", "products", "events.ndjson"], p.dir);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("products: read 17 = written 17 + quarantined 0 + duplicates 0\n");
}, 120_000);
afterAll(() => p?.remove());

describe("a new column in a CDC source's rows", () => {
  it("is a proposed schema change in tributary status", async () => {
    const r = await tributary(["status", "--json"], p.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).schemaChanges).toEqual([
      {
        source: "products",
        column: "color",
        types: ["string"],
        events: 1,
        first: {
          batch: expect.stringMatching(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}$/),
          file: "events.ndjson",
          line: 17,
        },
      },
    ]);
    const text = await tributary(["status"], p.dir);
    const tail = text.stdout.slice(text.stdout.indexOf("proposed schema change"));
    expect(tail.replace(/batch [^)]+/, "batch <id>")).toBe(
      [
        "proposed schema change: a column the events have and the declared row does not (landed; add it to the row to read it):",
        "source    column  types   events  first seen",
        "products  color   string  1       events.ndjson:17 (batch <id>)",
        "",
      ].join("\n"),
    );
  });

  it("is said by the preview of the change that declares it", async () => {
    p.commit({ "assets/index.ts": graph(HEAD_ROW) }, "head");
    const out = path.join(p.dir, "preview.json");
    const r = await tributary(
      [
        "diff",
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--no-synth",
        "--format",
        "json",
        "--out",
        out,
        "--store",
        store,
      ],
      p.dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const preview = JSON.parse(fs.readFileSync(out, "utf8")) as Preview;
    expect(preview.schemaChanges).toEqual([
      {
        source: "products",
        column: "color",
        types: ["string"],
        events: 1,
        first: { batch: expect.any(String), file: "events.ndjson", line: 17 },
        declared: true,
      },
    ]);
    const products = preview.graph!.modified.find((m) => m.key === "products")!;
    expect(products.other).toEqual([
      {
        field: "row",
        from: "id integer, name string, description string or null, weight number",
        to: "id integer, name string, description string or null, weight number, color string or null",
      },
    ]);
    const md = await tributary(
      ["diff", "--base", "HEAD~1", "--head", "HEAD", "--no-synth", "--store", store],
      p.dir,
    );
    expect(md.stdout).toContain(
      "### Proposed schema changes\n\nColumns the sources' landed events have and their declared rows did not at the base (ingest accepted them):\n\n- `products`: new column `color` (string) in 1 event, first in `events.ndjson` line 17 (batch `",
    );
    expect(md.stdout).toContain("): declared by this change.");
  });
});
