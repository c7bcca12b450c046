/**
 * Builds the functions' bundles once per test run, before any test file, into a temporary folder named
 * by TRIBUTARY_BUNDLES (which every synth child process inherits, and infra/bundle.ts reads): the
 * stacks deploy aws-arm64, gcp-x64 and azure-x64; test/bundle/ runs x64 ones on this machine. The
 * reports go to the tests as `inject("bundles")`.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { type BundleReport, bundleEach } from "../../src/infra/bundle/build.ts";
import type { BundleArch, BundleCloud } from "../../src/infra/bundle/manifest.ts";

const BUILDS: readonly (readonly [BundleCloud, BundleArch])[] = [
  ["aws", "arm64"],
  ["aws", "x64"],
  ["gcp", "x64"],
  ["azure", "x64"],
];

export interface ProvidedBundles {
  /** The folder holding `<cloud>-<arch>/` for each build (what TRIBUTARY_BUNDLES names). */
  readonly dir: string;
  readonly reports: Readonly<Record<string, BundleReport>>;
}

declare module "vitest" {
  export interface ProvidedContext {
    bundles: ProvidedBundles;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const started = performance.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-bundles-"));
  const reports = await bundleEach(
    BUILDS.map(([cloud, arch]) => ({ cloud, arch, out: path.join(dir, `${cloud}-${arch}`) })),
    // The example's graph, from its project folder (whose stacks deploy these bundles).
    { cwd: fileURLToPath(new URL("../../examples/commerce", import.meta.url)) },
  );
  process.env.TRIBUTARY_BUNDLES = dir;
  project.provide("bundles", {
    dir,
    reports: Object.fromEntries(reports.map((r) => [`${r.cloud}-${r.arch}`, r])),
  });
  console.info(`bundles for the tests: ${BUILDS.length} in ${Math.round(performance.now() - started)} ms`);
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
