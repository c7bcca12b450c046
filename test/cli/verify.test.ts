import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import type { AssetManifest, BatchManifest } from "../../src/runtime/engine/manifest.ts";
import { cli } from "./in-process.ts";
import { tributary } from "./run.ts";

let store: string;

const manifest = (asset: string, ...partition: string[]) =>
  JSON.parse(
    readFileSync(join(store, "_manifests", asset, ...partition, "manifest.json"), "utf8"),
  ) as AssetManifest;

/** Every object the store's commits name: asset data files, and each batch's raw, quarantine and ids objects. */
async function committedCount(): Promise<number> {
  let n = 0;
  for (const entry of await readdir(join(store, "_manifests"), { recursive: true })) {
    const path = join(store, "_manifests", entry);
    if (entry.endsWith("manifest.json"))
      n += (JSON.parse(await readFile(path, "utf8")) as AssetManifest).files.length;
    else if (entry.includes("_batches/")) {
      const b = JSON.parse(await readFile(path, "utf8")) as BatchManifest;
      n += b.files.length + (b.quarantine ? 1 : 0) + 1;
    }
  }
  return n;
}

const literalRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const amountSql = "SELECT sum(amount_cents) AS amount FROM curated_orders WHERE tenant_id = 'acme'";

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), "tributary-verify-"));
  expect((await cli("materialize", "--store", store)).code).toBe(0);
}, 120_000);
afterAll(() => rm(store, { recursive: true, force: true }));

describe("a committed file overwritten with other valid Parquet", () => {
  it("is named corrupt by verify and status (exit 1), refused by query, and restored by materialize", async () => {
    const total = await committedCount();
    const intact = await tributary(["verify", "--store", store]);
    expect(intact).toEqual({
      code: 0,
      stdout: `verified ${total} committed files of 8 assets and sources: ${total} intact\n`,
      stderr: "",
    });
    const before = await cli("query", amountSql, "--store", store);
    expect(before.stdout).toMatch(/^amount\n[1-9]\d*\n\(1 row\)\n$/);

    // What the probe did through query's COPY: the acme partition of curated_orders, its amounts zeroed.
    const m = manifest("curated_orders", "acme");
    const key = m.files[0]!.key;
    const path = join(store, key);
    const duck = await Duck.open();
    try {
      await duck.run(
        `COPY (SELECT * REPLACE (0 AS amount_cents) FROM read_parquet('${path}')) TO '${path}.other' (FORMAT parquet)`,
      );
    } finally {
      duck.close();
    }
    await rename(`${path}.other`, path);
    const bytes = readFileSync(path);
    const sha = createHash("sha256").update(bytes).digest("hex");
    const why =
      bytes.length !== m.files[0]!.bytes
        ? `it is ${bytes.length} bytes, its commit recorded ${m.files[0]!.bytes}`
        : `its SHA-256 (${sha.slice(0, 12)}…) is not the one its commit recorded (${m.files[0]!.sha256!.slice(0, 12)}…)`;

    const verify = await tributary(["verify", "--store", store]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toBe("");
    const pad = (s: string, n: number) => s.padEnd(n);
    expect(verify.stdout).toBe(
      [
        `${pad("file", key.length)}  of                   state    why`,
        `${key}  curated_orders acme  corrupt  ${why}`,
        "",
        `verified ${total} committed files of 8 assets and sources: ${total - 1} intact, 1 corrupt`,
        `${key}: tributary materialize re-materialises it`,
        "",
      ].join("\n"),
    );
    const json = JSON.parse(
      (await tributary(["verify", "curated_orders", "--json", "--store", store])).stdout,
    );
    expect(json.counts).toEqual({ objects: 3, ok: 2, corrupt: 1, missing: 0, unverified: 0 });
    expect(json.objects.find((o: { key: string }) => o.key === key)).toEqual({
      key,
      state: "corrupt",
      why,
      asset: "curated_orders",
      commit: { partition: "acme" },
      of: "curated_orders acme",
    });

    const status = await tributary(["status", "curated_orders", "--store", store]);
    expect(status.code).toBe(1);
    expect(status.stderr).toBe("");
    const lines = status.stdout.split("\n");
    expect(lines[0]).toMatch(/^asset +partitions +fresh +stale +failed +corrupt +never +rows/);
    expect(lines[1]).toMatch(/^curated_orders +3 +2 +0 +0 +1 +0 +645 /);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^curated_orders +acme +corrupt +committed file ${literalRe(key)} is corrupt: ${literalRe(why)} +213 +warning references_customer_id_curated_customers$`,
        ),
      ),
    );
    expect(status.stdout).toContain(
      `\n${pad("corrupt file", key.length)}  of                   why\n${key}  curated_orders acme  corrupt: ${why}\n\n1 committed file is not what its commit recorded: tributary materialize re-materialises an asset's; a source's raw data cannot be recomputed (restore it from a backup).\n`,
    );

    expect(await tributary(["query", amountSql, "--store", store])).toEqual({
      code: 1,
      stdout: "",
      stderr: `tributary: ${key} is corrupt: ${why}; tributary materialize re-materialises it\n`,
    });

    const dry = await tributary(["materialize", "--dry-run", "--store", store]);
    expect(dry.stdout).toContain(`curated_orders           acme`);
    expect(
      dry.stdout.split("\n").find((l) => l.startsWith("curated_orders ") && l.includes(" acme ")),
    ).toMatch(
      new RegExp(
        `^curated_orders +acme +run +committed file ${literalRe(key)} is corrupt: ${literalRe(why)}$`,
      ),
    );
    const run = await tributary(["materialize", "--store", store]);
    expect(run.code).toBe(0);
    // Only the corrupt partition runs: it has the same data version, so what reads it stays fresh.
    expect(run.stdout.split("\n")[0]).toMatch(/^plan: 1 of \d+ asset partitions to materialise$/);
    expect(run.stdout).toMatch(/\nok {6}curated_orders: 1 partition, 213 rows in \d+ ms\n/);
    const after = manifest("curated_orders", "acme");
    expect(after.dataVersion).toBe(m.dataVersion);
    expect(after.files[0]!.key).not.toBe(key);

    expect(await tributary(["verify", "--store", store])).toEqual({
      code: 0,
      stdout: `verified ${total} committed files of 8 assets and sources: ${total} intact\n`,
      stderr: "",
    });
    expect((await tributary(["status", "--store", store])).code).toBe(0);
    expect(await cli("query", amountSql, "--store", store)).toEqual(before);
  }, 120_000);

  it("files committed before checksums: read unchecked, reported unverified, re-committed with --force", async () => {
    const total = await committedCount();
    // curated_customers as an earlier Tributary committed it: no sha256 in its manifests.
    const old: string[] = [];
    for (const tenant of ["acme", "globex", "initech"]) {
      const path = join(store, "_manifests/curated_customers", tenant, "manifest.json");
      const m = JSON.parse(await readFile(path, "utf8")) as AssetManifest;
      await writeFile(
        path,
        JSON.stringify({ ...m, files: m.files.map(({ sha256: _, ...f }) => f) }, null, 2),
      );
      old.push(m.files[0]!.key);
    }
    const status = await cli("status", "curated_customers", "--store", store);
    expect(status.code).toBe(0);
    expect(
      status.stdout.endsWith(
        "\n3 committed files have no checksum (committed before Tributary recorded them): read unchecked; tributary verify lists them, and tributary materialize --force re-commits an asset's with one.\n",
      ),
    ).toBe(true);
    const verify = await cli("verify", "--store", store);
    expect(verify.code).toBe(0);
    expect(verify.stdout.split("\n").slice(1, 4)).toEqual(
      old.map((key) =>
        expect.stringMatching(
          new RegExp(
            `^${literalRe(key)} +curated_customers \\w+ +unverified  it was committed before Tributary recorded checksums$`,
          ),
        ),
      ),
    );
    expect(verify.stdout).toContain(
      `\nverified ${total} committed files of 8 assets and sources: ${total - 3} intact, 3 unverified (committed before Tributary recorded checksums; read unchecked)\n`,
    );
    expect((await cli("query", "SELECT count(*) AS n FROM curated_customers", "--store", store)).stdout).toBe(
      "n\n194\n(1 row)\n",
    );
    expect((await cli("materialize", "curated_customers", "--force", "--store", store)).code).toBe(0);
    expect((await cli("verify", "--store", store)).stdout).toBe(
      `verified ${total} committed files of 8 assets and sources: ${total} intact\n`,
    );
  });

  it("a raw file, which nothing can recompute: status and verify name it, and no asset reads it", async () => {
    const dir = join(store, "_manifests/orders_cdc/_batches");
    const [name] = await readdir(dir);
    const batch = JSON.parse(await readFile(join(dir, name!), "utf8")) as BatchManifest;
    const raw = batch.files.find((f) => f.partition === "2026-11-02|globex")!;
    const path = join(store, raw.key);
    // One event's amount changed in place: the object stays valid gzip-compressed NDJSON.
    const text = gunzipSync(await readFile(path)).toString("utf8");
    const edited = text.replace(
      /"amount_cents":(\d)/,
      (_, d: string) => `"amount_cents":${(Number(d) + 1) % 10}`,
    );
    expect(edited).not.toBe(text);
    const changed = gzipSync(edited);
    await writeFile(path, changed);
    // Compressed again, the object's size differs from the recorded one, which is checked first.
    const why =
      changed.length === raw.bytes
        ? `its SHA-256 (${createHash("sha256").update(changed).digest("hex").slice(0, 12)}…) is not the one its commit recorded (${raw.sha256!.slice(0, 12)}…)`
        : `it is ${changed.length} bytes, its commit recorded ${raw.bytes}`;
    const remedy =
      "raw data cannot be recomputed: restore the file from a backup, or ingest its events again into a new batch";

    const status = await cli("status", "orders_cdc", "--store", store);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(`\n${raw.key}  orders_cdc batch ${batch.batch}  corrupt: ${why}\n`);

    const verify = await cli("verify", "orders_cdc", "--store", store);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(`\n${raw.key}  orders_cdc batch ${batch.batch}  corrupt  ${why}\n`);
    expect(verify.stdout).toContain(`\n${raw.key}: ${remedy}\n`);

    const run = await cli(
      "materialize",
      "curated_orders",
      "--partition",
      "globex",
      "--force",
      "--store",
      store,
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `\nFAILED  curated_orders globex: ${raw.key} is corrupt: ${why}; ${remedy}\n`,
    );
    expect(await cli("query", "SELECT count(*) FROM orders_cdc", "--store", store)).toEqual({
      code: 1,
      stdout: "",
      stderr: `tributary: ${raw.key} is corrupt: ${why}; ${remedy}\n`,
    });
  });
});
