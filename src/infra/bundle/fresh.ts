/**
 * Whether a bundle folder can deploy a stack's functions: what the program checks before it registers
 * anything, and what decides whether `deploy()` builds the bundle first. Light on purpose (no esbuild,
 * no graph): the Pulumi program imports it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DeploymentPlan, FunctionPlan } from "../plan/types.ts";
import {
  type BundleArch,
  type BundleCloud,
  bundleName,
  fileDigest,
  listFiles,
  readManifest,
} from "./manifest.ts";

/** What a stack asks of one bundle folder. */
export interface BundleNeed {
  readonly cloud: BundleCloud;
  readonly arch: BundleArch;
  /** Whether the stack ships source maps (tributary:functions.sourceMaps). */
  readonly sourceMaps: boolean;
  /** The functions it runs from the folder, with what each does. */
  readonly functions: readonly { readonly id: string; readonly kind: FunctionPlan["kind"] }[];
}

/** The architecture a function runs on, in the bundles' (Node.js's) names. */
export function bundleArch(fn: FunctionPlan): BundleArch {
  return fn.architecture === "arm64" ? "arm64" : "x64";
}

/** The bundles a stack's functions deploy: one per architecture they run on (one, unless they differ). */
export function bundleNeeds(plan: DeploymentPlan, cloud: BundleCloud): BundleNeed[] {
  const byArch = new Map<BundleArch, FunctionPlan[]>();
  for (const fn of plan.functions) {
    // Only Lambda runs arm64; Cloud Functions and Azure Functions run x64.
    const arch = cloud === "aws" ? bundleArch(fn) : "x64";
    byArch.set(arch, [...(byArch.get(arch) ?? []), fn]);
  }
  return [...byArch].map(([arch, fns]) => ({
    cloud,
    arch,
    sourceMaps: plan.sourceMaps === true,
    functions: fns.map((f) => ({ id: f.id, kind: f.kind })),
  }));
}

/**
 * Why the bundle folder `dir` cannot deploy what `need` asks, as the end of a sentence about the folder
 * ("which does not exist"), or undefined when it can. With `root` (the project's root, against which
 * the bundle recorded its inputs) also whether what it was built from has changed since: a bundle
 * built by an earlier Tributary, which did not record its inputs, counts as changed.
 */
export function bundleProblem(dir: string, need: BundleNeed, root?: string): string | undefined {
  const manifest = readManifest(dir);
  if (!manifest) return fs.existsSync(dir) ? "which holds no Tributary bundle" : "which does not exist";
  if (manifest.cloud !== need.cloud || manifest.arch !== need.arch) {
    return `which holds the bundle for ${bundleName(manifest.cloud, manifest.arch)}`;
  }
  // A bundle says whether it ships source maps; one built before it said so is taken as it is.
  if (manifest.sourceMaps !== undefined && manifest.sourceMaps !== need.sourceMaps) {
    return need.sourceMaps
      ? "built without source maps, which the stack asks for (tributary:functions.sourceMaps)"
      : "built with source maps, which the stack does not ship (tributary:functions.sourceMaps is off)";
  }
  const files = listFiles(dir);
  const changed = [
    ...files.filter((f) => fs.statSync(path.join(dir, f)).size !== manifest.files[f]),
    ...Object.keys(manifest.files).filter((f) => !files.includes(f)),
  ];
  if (changed.length > 0) return `whose files changed since it was built (${changed.slice(0, 3).join(", ")})`;
  for (const fn of need.functions) {
    const kind = manifest.functions[fn.id];
    if (kind !== fn.kind) {
      return kind
        ? `built from a graph in which "${fn.id}" is ${kind === "ingest" ? "a source" : "an asset"}`
        : `built from a graph without "${fn.id}"`;
    }
  }
  if (root === undefined) return undefined;
  if (!manifest.inputs) return "built by an earlier Tributary, which did not record what it was built from";
  const stale = Object.entries(manifest.inputs)
    .filter(([file, digest]) => {
      const full = path.resolve(root, file);
      return !fs.existsSync(full) || fileDigest(full) !== digest;
    })
    .map(([file]) => file)
    .sort();
  if (stale.length > 0) {
    const more = stale.length > 3 ? ` and ${stale.length - 3} more` : "";
    return `whose sources changed since it was built (${stale.slice(0, 3).join(", ")}${more})`;
  }
  return undefined;
}
