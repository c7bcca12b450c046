/**
 * The functions' code: the folder `tributary bundle` (or `deploy()`, when it was missing or stale) built
 * for the stack's cloud and architecture, found under the bundles folder: the stack config
 * `tributary:bundles`, else the environment variable TRIBUTARY_BUNDLES, else the project
 * configuration's `bundles` (default `dist/bundles`), relative to the project's root (the program's
 * working directory, as under `pulumi up`).
 *
 * A stack is never deployed with code that cannot run it: the program stops, before it registers
 * anything, when the folder holds no bundle, a bundle for another cloud or architecture, one whose
 * files changed since it was built, or one built from a graph without one of the stack's functions;
 * each time saying which `tributary bundle` to run.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { shown } from "../../contract/project.ts";
import { runError } from "../errors.ts";
import type { DeploymentPlan } from "../plan/types.ts";
import { type BundleNeed, bundleNeeds, bundleProblem } from "./fresh.ts";
import {
  type BundleArch,
  type BundleCloud,
  type BundleManifest,
  bundleName,
  readManifest,
} from "./manifest.ts";

export { bundleArch } from "./fresh.ts";

export const BUNDLES_ENV = "TRIBUTARY_BUNDLES";

export interface FunctionCode {
  /** The bundle folder, as the stack names it (relative to the project unless configured absolute). */
  readonly folder: string;
  readonly manifest: BundleManifest;
  /** The folder, for a Lambda's code, a bucket object's or a blob's source. */
  readonly archive: pulumi.asset.FileArchive;
}

/** The bundle the stack's functions of an architecture deploy. */
export type FunctionCodes = (arch: BundleArch) => FunctionCode;

/** A stack's bundles folder and where its setting came from, for messages. */
export interface BundlesFolder {
  /** As configured: relative to the project's root (the program's working directory) unless absolute. */
  readonly dir: string;
  /** The setting that named it (tributary:bundles, TRIBUTARY_BUNDLES); none for the project's own. */
  readonly from?: string;
}

/**
 * The bundles folder of a stack whose config is `config` (Pulumi's flat map), in the project whose
 * bundles folder is `bundles` (absolute), run in `cwd`.
 */
export function bundlesFolder(
  config: Readonly<Record<string, string>>,
  bundles: string,
  cwd: string = process.cwd(),
): BundlesFolder {
  const configured = config["tributary:bundles"];
  if (configured) return { dir: configured, from: "tributary:bundles" };
  const env = process.env[BUNDLES_ENV];
  if (env) return { dir: env, from: BUNDLES_ENV };
  return { dir: shown(cwd, bundles) };
}

/** The bundles folder from the program's own config: what a program that calls the adapters itself uses. */
export function configuredBundlesFolder(bundles: string, cwd: string = process.cwd()): BundlesFolder {
  const configured = new pulumi.Config("tributary").get("bundles");
  return bundlesFolder(configured ? { "tributary:bundles": configured } : {}, bundles, cwd);
}

/** The folder of the bundle `need` asks for, under `bundles`, as the stack names it. */
export function bundleFolder(bundles: BundlesFolder, need: Pick<BundleNeed, "cloud" | "arch">): string {
  return path.join(bundles.dir, bundleName(need.cloud, need.arch));
}

/** How messages name a bundle folder: with the setting that chose it. */
export function describeFolder(bundles: BundlesFolder, folder: string): string {
  return `${folder}${bundles.from ? ` (${bundles.from})` : ""}`;
}

/** The command that builds the bundle `need` asks for into `folder`. */
export function bundleCommand(bundles: BundlesFolder, need: BundleNeed, folder: string): string {
  return `tributary bundle --cloud ${need.cloud} --arch ${need.arch}${need.sourceMaps ? " --source-maps" : ""}${bundles.from ? ` --out ${folder}` : ""}`;
}

/**
 * Every bundle the plan's functions need, by architecture, each checked once against the plan; a
 * RunError naming the command that builds it when one is missing or does not fit.
 */
export function functionCodes(
  plan: DeploymentPlan,
  cloud: BundleCloud,
  bundles: BundlesFolder,
): FunctionCodes {
  const codes = new Map<BundleArch, FunctionCode>();
  for (const need of bundleNeeds(plan, cloud)) {
    const folder = bundleFolder(bundles, need);
    const problem = bundleProblem(path.resolve(folder), need);
    if (problem) {
      throw runError(
        `stack ${plan.stack} deploys its functions from ${describeFolder(bundles, folder)}, ${problem}: run \`${bundleCommand(bundles, need, folder)}\`.`,
      );
    }
    const manifest = readManifest(path.resolve(folder))!;
    codes.set(need.arch, { folder, manifest, archive: new pulumi.asset.FileArchive(folder) });
  }
  return (arch) => {
    const code = codes.get(arch);
    if (!code) throw new Error(`stack ${plan.stack} has no function on ${cloud} ${arch}`);
    return code;
  };
}
