/**
 * The functions' code: the folder `tributary bundle` built for the stack's cloud and architecture
 * (runtime/bundle/), found under the bundles folder: the stack config `tributary:bundles`, else the
 * environment variable TRIBUTARY_BUNDLES, else `dist/bundles`, relative to the project's root (the
 * program's working directory, as under `pulumi up`).
 *
 * A stack is never deployed with code that cannot run it: the program stops, before it registers
 * anything, when the folder holds no bundle, a bundle for another cloud or architecture, one whose
 * files changed since it was built, or one built from a graph without one of the stack's functions;
 * each time saying which `tributary bundle` to run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { runError } from "../errors.ts";
import type { DeploymentPlan, FunctionPlan } from "../plan/types.ts";
import {
  BUNDLES_DIR,
  type BundleArch,
  type BundleCloud,
  type BundleManifest,
  bundleName,
  listFiles,
  readManifest,
} from "./manifest.ts";

export const BUNDLES_ENV = "TRIBUTARY_BUNDLES";

export interface FunctionCode {
  /** The bundle folder, as the stack names it (relative to the project unless configured absolute). */
  readonly folder: string;
  readonly manifest: BundleManifest;
  /** The folder, for a Lambda's code, a bucket object's or a blob's source. */
  readonly archive: pulumi.asset.FileArchive;
}

/** The architecture a function runs on, in the bundles' (Node.js's) names. */
export function bundleArch(fn: FunctionPlan): BundleArch {
  return fn.architecture === "arm64" ? "arm64" : "x64";
}

/** The bundles folder and where its setting came from, for messages. */
function bundlesDir(): { readonly dir: string; readonly from?: string } {
  const configured = new pulumi.Config("tributary").get("bundles");
  if (configured) return { dir: configured, from: "tributary:bundles" };
  const env = process.env[BUNDLES_ENV];
  if (env) return { dir: env, from: BUNDLES_ENV };
  return { dir: BUNDLES_DIR };
}

/**
 * The bundle of `cloud` for `arch` that the functions of `plan` deploy, checked against the plan; a
 * RunError naming the command that builds it when it is missing or does not fit.
 */
export function functionCode(plan: DeploymentPlan, cloud: BundleCloud, arch: BundleArch): FunctionCode {
  const bundles = bundlesDir();
  const folder = path.join(bundles.dir, bundleName(cloud, arch));
  const where = `${folder}${bundles.from ? ` (${bundles.from})` : ""}`;
  const command = `tributary bundle --cloud ${cloud} --arch ${arch}${plan.sourceMaps ? " --source-maps" : ""}${bundles.from ? ` --out ${folder}` : ""}`;
  const fail = (problem: string): never => {
    throw runError(
      `stack ${plan.stack} deploys its functions from ${where}, ${problem}: run \`${command}\`.`,
    );
  };

  const full = path.resolve(folder);
  const manifest = readManifest(full);
  if (!manifest)
    return fail(fs.existsSync(full) ? "which holds no Tributary bundle" : "which does not exist");
  if (manifest.cloud !== cloud || manifest.arch !== arch) {
    return fail(`which holds the bundle for ${bundleName(manifest.cloud, manifest.arch)}`);
  }
  // A bundle says whether it ships source maps; one built before it said so is taken as it is.
  const maps = plan.sourceMaps === true;
  if (manifest.sourceMaps !== undefined && manifest.sourceMaps !== maps) {
    return fail(
      maps
        ? "built without source maps, which the stack asks for (tributary:functions.sourceMaps)"
        : "built with source maps, which the stack does not ship (tributary:functions.sourceMaps is off)",
    );
  }
  const files = listFiles(full);
  const changed = [
    ...files.filter((f) => fs.statSync(path.join(full, f)).size !== manifest.files[f]),
    ...Object.keys(manifest.files).filter((f) => !files.includes(f)),
  ];
  if (changed.length > 0) {
    return fail(`whose files changed since it was built (${changed.slice(0, 3).join(", ")})`);
  }
  for (const fn of plan.functions) {
    const kind = manifest.functions[fn.id];
    if (kind !== fn.kind) {
      return fail(
        kind
          ? `built from a graph in which "${fn.id}" is ${kind === "ingest" ? "a source" : "an asset"}`
          : `built from a graph without "${fn.id}"`,
      );
    }
  }
  return { folder, manifest, archive: new pulumi.asset.FileArchive(folder) };
}

/**
 * Every bundle the plan's functions need, by architecture (one, unless functions differ), each checked
 * once.
 */
export function functionCodes(plan: DeploymentPlan, cloud: BundleCloud): (fn: FunctionPlan) => FunctionCode {
  const codes = new Map<BundleArch, FunctionCode>();
  for (const fn of plan.functions) {
    const arch = cloud === "aws" ? bundleArch(fn) : "x64";
    if (!codes.has(arch)) codes.set(arch, functionCode(plan, cloud, arch));
  }
  return (fn) => codes.get(cloud === "aws" ? bundleArch(fn) : "x64")!;
}
