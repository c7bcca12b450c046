/**
 * Bundle benchmark: `tributary bundle` of the repository's graph for each cloud (AWS arm64, GCP and Azure
 * x64), against a baseline measured in the same run, alternately: the work no bundle can avoid, that
 * is esbuild bundling the engine alone (materialise and ingest, with the same options, no graph, no
 * cloud entry point or SDK) plus a plain copy of the DuckDB binding the folder ships. Bundle / baseline
 * is then what the graph, the cloud's SDKs and entry point, the manifest (hashing the folder) and the
 * syntax check cost on top. Sizes: the bundle's JavaScript against the engine's alone.
 *
 *   npx tsx bench/bundle.ts              (every cloud, median of 3 runs each, after one warm-up)
 *   npx tsx bench/bundle.ts --runs 5 --cloud gcp
 *
 * Writes under bench/.data/ (gitignored); the arm64 binding is fetched once into node_modules/.cache.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { type BundleReport, bundle } from "../src/infra/bundle/build.ts";
import type { BundleArch, BundleCloud } from "../src/infra/bundle/manifest.ts";
import { nativeBinding } from "../src/infra/bundle/native.ts";

const REPO = join(import.meta.dirname, "..");
const DATA = join(import.meta.dirname, ".data");
const TARGETS: Record<BundleCloud, BundleArch> = { aws: "arm64", gcp: "x64", azure: "x64" };

const option = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(option("--runs") ?? 3);
const only = option("--cloud") as BundleCloud | undefined;
const clouds = (Object.keys(TARGETS) as BundleCloud[]).filter((c) => !only || c === only);
if (!Number.isInteger(RUNS) || RUNS < 1 || clouds.length === 0) {
  throw new Error("usage: npx tsx bench/bundle.ts [--runs N] [--cloud aws|gcp|azure]");
}

const ENGINE = `export { materialize } from ${JSON.stringify(join(REPO, "src/runtime/engine/materialize.ts"))};
export { ingest } from ${JSON.stringify(join(REPO, "src/runtime/engine/ingest.ts"))};
`;

/** The baseline: the engine alone through esbuild (as the bundle's options), and a copy of the binding. */
async function baseline(dir: string, binding: string | undefined): Promise<{ ms: number; jsBytes: number }> {
  const started = performance.now();
  await esbuild.build({
    stdin: { contents: ENGINE, resolveDir: REPO, loader: "ts" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    sourcemap: "linked",
    sourcesContent: false,
    keepNames: true,
    external: ["@duckdb/node-bindings-*"],
    outfile: join(dir, "engine.mjs"),
    logLevel: "silent",
  });
  if (binding) cpSync(binding, join(dir, "binding"), { recursive: true });
  return { ms: performance.now() - started, jsBytes: statSync(join(dir, "engine.mjs")).size };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
const sec = (ms: number) => (ms / 1000).toFixed(2);

mkdirSync(DATA, { recursive: true });
const work = mkdtempSync(join(DATA, "bundle-"));
const rows: string[] = [];
try {
  for (const cloud of clouds) {
    const arch = TARGETS[cloud];
    const out = join(work, `${cloud}-${arch}`);
    const ships = cloud !== "gcp";
    const binding = ships
      ? (await nativeBinding(arch, join(REPO, "node_modules", ".cache", "tributary"))).dir
      : undefined;
    // Warm-up, not timed: loads the graph module (then cached, as in one CLI run) and esbuild's service.
    await bundle({ cloud, arch, out });
    await baseline(mkdtempSync(join(work, "base-")), binding);
    const times: number[] = [];
    const bases: number[] = [];
    let report: BundleReport | undefined;
    let engineBytes = 0;
    for (let r = 0; r < RUNS; r++) {
      report = await bundle({ cloud, arch, out });
      times.push(report.milliseconds);
      const b = await baseline(mkdtempSync(join(work, "base-")), binding);
      bases.push(b.ms);
      engineBytes = b.jsBytes;
      process.stderr.write(
        `  ${cloud}-${arch} run ${r + 1}: bundle ${sec(report.milliseconds)} s, baseline ${sec(b.ms)} s\n`,
      );
    }
    if (!report) continue;
    const js = report.files.find((f) => f.path === "index.mjs")!.bytes;
    rows.push(
      `| ${cloud}-${arch} | ${sec(median(times))} | ${sec(median(bases))} | ${(median(times) / median(bases)).toFixed(2)} | ` +
        `${mb(js)} | ${mb(engineBytes)} | ${(js / engineBytes).toFixed(1)} | ${ships ? mb(report.totals.binding) : "installed by the build"} | ${mb(report.totals.total)} |`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const load = loadavg()[0]!;
console.log(
  `\nNode ${process.version}, ${process.platform}/${process.arch}, ${availableParallelism()} cores, load ${load.toFixed(1)}; median of ${RUNS} runs after a warm-up.`,
);
console.log(
  "Baseline: esbuild bundling the engine alone (materialise + ingest, same options) and copying the DuckDB binding the folder ships.\n",
);
console.log(
  "| bundle | build s | baseline s | ratio | index.mjs MB | engine alone MB | size ratio | binding MB | folder MB |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(row);
if (load > availableParallelism())
  console.log(`\nnote: load ${load.toFixed(1)}: wall-clock times are inflated.`);
