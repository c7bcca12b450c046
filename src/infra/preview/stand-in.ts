/**
 * Stand-in bundles for synthesising a stack in a diff. A deploy takes its functions' code from the
 * folder `tributary bundle` builds, and the program builds it when there is none; a diff compares code
 * through the assets' code versions instead, so building real bundles at both revisions (seconds each,
 * and a different hash on every change) would only add noise. Each stand-in is a bundle manifest
 * naming every function of both revisions' graphs, with no files, and one fixed hash: both revisions'
 * functions then register the same code inputs.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type FunctionKind, functionKind, STACK_FUNCTIONS } from "../../contract/function-env.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { ARCHES, type BundleManifest, bundleName, CLOUDS, MANIFEST } from "../bundle/manifest.ts";

/** The hash every stand-in manifest carries. */
export const STAND_IN_SHA256 = "0".repeat(64);

/** Write a bundles folder holding a stand-in for every cloud and architecture; returns its path. */
export function writeStandInBundles(graphs: readonly (AssetGraph | undefined)[]): string {
  const functions: Record<string, FunctionKind> = { ...STACK_FUNCTIONS };
  for (const g of graphs) for (const a of g?.assets() ?? []) functions[a.key] = functionKind(a);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-diff-bundles-"));
  for (const cloud of CLOUDS) {
    for (const arch of ARCHES) {
      const manifest: BundleManifest = {
        tributary: "diff",
        cloud,
        arch,
        graph: "stand-in for tributary diff",
        functions,
        binding: { package: "none", version: "0", shipped: false },
        // Built from nothing: never stale, so the program deploys it as it is.
        inputs: {},
        files: {},
        sha256: STAND_IN_SHA256,
      };
      const folder = path.join(dir, bundleName(cloud, arch));
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    }
  }
  return dir;
}
