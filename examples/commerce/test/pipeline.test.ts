/**
 * The pipeline's own tests, as a project using Tributary writes them (`npm test` here): the graph is
 * what the pipeline means it to be, and `tributary` validates it and materialises it on the seeded
 * sample data into a temporary store, twice (the second run has nothing to do).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AssetGraph } from "tributary";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../assets/index.ts";

/** This project's folder, where tributary.config.ts is. */
const PROJECT = fileURLToPath(new URL("..", import.meta.url));
/** The `tributary` command of the installed package. */
const BIN = join(
  dirname(createRequire(import.meta.url).resolve("tributary/package.json")),
  "bin",
  "tributary.js",
);

function tributary(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
    delete env.FORCE_COLOR;
    const child = spawn(process.execPath, [BIN, ...args], { cwd: PROJECT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the commerce graph", () => {
  it("runs CDC through curated tables to features and revenue, in this order", () => {
    expect(graph).toBeInstanceOf(AssetGraph);
    expect(graph.levels).toEqual([
      ["customers_cdc", "orders_cdc"],
      ["curated_customers", "curated_orders"],
      ["customer_features", "daily_revenue"],
      ["recommendation_features"],
      ["recommendation_vectors"],
    ]);
    expect(graph.upstream("recommendation_features")).toEqual([
      "customers_cdc",
      "orders_cdc",
      "curated_customers",
      "curated_orders",
      "customer_features",
    ]);
  });

  it("is valid for `tributary validate`", async () => {
    expect(await tributary("validate")).toEqual({
      code: 0,
      stdout: "graph ok: 8 assets (2 sources, 6 assets), 7 edges, 5 levels\n",
      stderr: "",
    });
  });
});

describe("tributary materialize on the sample data", () => {
  let store: string;
  beforeAll(async () => {
    store = await mkdtemp(join(tmpdir(), "commerce-store-"));
  });
  afterAll(() => rm(store, { recursive: true, force: true }));

  it("ingests the seeded sample, materialises every partition, then finds everything fresh", async () => {
    const first = await tributary("materialize", "--store", store);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const lines = first.stdout.replaceAll(store, "<store>").split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "no data yet: generating the graph module's sample data into <store>/samples and ingesting it",
      "customers_cdc: read 261 = written 246 + quarantined 7 + duplicates 8",
      "orders_cdc: read 1858 = written 1746 + quarantined 55 + duplicates 57",
    ]);
    const partitions = /^plan: (\d+) of \1 asset partitions to materialise$/m.exec(first.stdout)?.[1];
    expect(first.stdout).toMatch(
      new RegExp(`^${partitions} materialised, 0 fresh, 0 failed, 0 skipped in `, "m"),
    );

    const second = await tributary("materialize", "--store", store);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^plan: 0 of ${partitions} asset partitions to materialise\n`));
    expect(second.stdout).toMatch(
      new RegExp(
        `\neverything is fresh: ${partitions} asset partitions up to date in [\\d.]+ s \\(run [0-9a-f-]{36}\\)\n$`,
      ),
    );
  }, 180_000);
});
