import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AssetManifest } from "../../src/runtime/engine/manifest.ts";
import { cli } from "./in-process.ts";
import { tributary } from "./run.ts";

let store: string;
/** A committed data file of daily_revenue, and an older version of it that no commit names any more. */
let committed: string;
let replaced: string;

const manifestOf = (partition: string) =>
  JSON.parse(
    readFileSync(join(store, "_manifests/daily_revenue", ...partition.split("|"), "manifest.json"), "utf8"),
  ) as AssetManifest;
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), "tributary-query-"));
  expect((await cli("materialize", "--store", store)).code).toBe(0);
  replaced = join(store, manifestOf("2026-11-01|acme").files[0]!.key);
  const again = await cli(
    "materialize",
    "daily_revenue",
    "--partition",
    "2026-11-01|acme",
    "--force",
    "--store",
    store,
  );
  expect(again.code).toBe(0);
  committed = join(store, manifestOf("2026-11-01|acme").files[0]!.key);
  expect(committed).not.toBe(replaced);
}, 120_000);
afterAll(() => rm(store, { recursive: true, force: true }));

/** `tributary query <sql> --store <store>` in its own process, as a user runs it. */
const query = (sql: string) => tributary(["query", sql, "--store", store]);

const READS = "query runs one read statement (SELECT, FROM, WITH, VALUES, DESCRIBE, SHOW or SUMMARIZE)";
const refused = (what: string) =>
  `tributary: query refused: this is ${what}; ${READS}, and changes nothing.\n`;
const outside = (path: string) =>
  `tributary: query refused: Permission Error: Cannot access file "${path}" - file system operations are disabled by configuration; query reads only the committed files of the assets it names, and writes none.\n`;

describe("tributary query is read-only and sees only committed files", () => {
  it("refuses COPY … TO, to a new file or over a committed one, and writes nothing", async () => {
    const out = join(store, "out.csv");
    expect(await query(`COPY (SELECT * FROM daily_revenue) TO '${out}'`)).toEqual({
      code: 1,
      stdout: "",
      stderr: outside(out),
    });
    expect(existsSync(out)).toBe(false);
    // The committed file is readable by this query, so DuckDB may bind a COPY to it: the statement's kind refuses it.
    const before = sha256(committed);
    expect(
      await query(
        `COPY (SELECT * REPLACE (0 AS revenue_cents) FROM daily_revenue) TO '${committed}' (FORMAT parquet)`,
      ),
    ).toEqual({ code: 1, stdout: "", stderr: refused("a COPY statement") });
    expect(sha256(committed)).toBe(before);
  });

  it("refuses to read a file outside the store: read_csv('/etc/passwd')", async () => {
    expect(await query("SELECT * FROM read_csv('/etc/passwd')")).toEqual({
      code: 1,
      stdout: "",
      stderr: outside("/etc/passwd"),
    });
  });

  it("refuses a Parquet file of the store that no commit names, even beside its asset", async () => {
    expect(await query(`SELECT count(*) AS n FROM daily_revenue, read_parquet('${replaced}')`)).toEqual({
      code: 1,
      stdout: "",
      stderr: outside(replaced),
    });
    // A committed file is readable by path when the query names its asset: it is in the sandbox.
    expect(
      await query(`SELECT count(*) AS n FROM daily_revenue, read_parquet('${committed}')`),
    ).toMatchObject({ code: 0, stderr: "" });
  });

  it("refuses ATTACH of a new database, in memory or on disk", async () => {
    expect(await query("ATTACH ':memory:' AS scratch")).toEqual({
      code: 1,
      stdout: "",
      stderr: refused("an ATTACH statement"),
    });
    const file = join(store, "new.duckdb");
    expect(await query(`ATTACH '${file}' AS scratch`)).toEqual({
      code: 1,
      stdout: "",
      stderr: refused("an ATTACH statement"),
    });
    expect(existsSync(file)).toBe(false);
  });

  it("refuses INSTALL and LOAD of extensions", async () => {
    for (const sql of ["INSTALL httpfs", "LOAD httpfs"]) {
      expect(await query(sql)).toEqual({
        code: 1,
        stdout: "",
        stderr: refused("an INSTALL or LOAD statement"),
      });
    }
  });

  it("refuses SET allowed_directories, and every other change of configuration", async () => {
    expect(await query("SET allowed_directories = ['/']")).toEqual({
      code: 1,
      stdout: "",
      stderr: refused("a SET, RESET or USE statement"),
    });
    expect(await query("RESET enable_external_access")).toEqual({
      code: 1,
      stdout: "",
      stderr: refused("a SET, RESET or USE statement"),
    });
  });

  it("refuses writes, EXPLAIN ANALYZE (which runs what it explains) and more than one statement", async () => {
    const cases: [string, string][] = [
      ["CREATE TABLE t AS SELECT 1 AS x", refused("a CREATE statement")],
      ["DROP VIEW daily_revenue", refused("a DROP statement")],
      [
        "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1 AS x",
        refused("an EXPLAIN statement (EXPLAIN ANALYZE runs the statement it explains)"),
      ],
      ["CALL pragma_version()", refused("a CALL (or CHECKPOINT) statement")],
      ["SELECT 1; SELECT 2", `tributary: query refused: the SQL holds 2 statements; ${READS}.\n`],
      [" ; -- nothing", "tributary: query: no SQL statement was given.\n"],
    ];
    for (const [sql, stderr] of cases) {
      expect(await cli("query", sql, "--store", store), sql).toEqual({ code: 1, stdout: "", stderr });
    }
  });

  it("still answers every kind of read statement, over exactly the committed data", async () => {
    expect(
      await cli(
        "query",
        "SELECT tenant_id, count(DISTINCT order_date) AS days FROM daily_revenue WHERE order_date = DATE '2026-11-01' GROUP BY ALL ORDER BY 1",
        "--store",
        store,
      ),
    ).toEqual({
      code: 0,
      stdout: "tenant_id  days\nacme       1\nglobex     1\ninitech    1\n(3 rows)\n",
      stderr: "",
    });
    const describe = await cli("query", "DESCRIBE daily_revenue", "--json", "--store", store);
    expect(describe.code).toBe(0);
    expect((JSON.parse(describe.stdout) as { column_name: string }[]).map((c) => c.column_name)).toEqual([
      "order_date",
      "tenant_id",
      "currency",
      "orders",
      "revenue_cents",
      "refunded_cents",
      "average_order_cents",
    ]);
    expect(
      (await cli("query", "FROM (VALUES (1), (2)) t(x) SELECT sum(x) AS s", "--store", store)).stdout,
    ).toBe("s\n3\n(1 row)\n");
  });
});
