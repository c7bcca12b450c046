/**
 * What a bundle folder is: `tributary-bundle.json`, written by `tributary bundle` beside the artefact's
 * files and read by the infrastructure before it deploys the folder. Light on purpose (no esbuild, no
 * graph): the Pulumi program imports it.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { FunctionKind } from "../../contract/function-env.ts";

export const CLOUDS = ["aws", "gcp", "azure"] as const;
export type BundleCloud = (typeof CLOUDS)[number];
/** Node's names for the two architectures the clouds run (Lambda calls x64 `x86_64`). */
export const ARCHES = ["arm64", "x64"] as const;
export type BundleArch = (typeof ARCHES)[number];

export const MANIFEST = "tributary-bundle.json";

/** The folder name of a bundle under the bundles folder: `aws-arm64`, `gcp-x64`, `azure-x64`. */
export function bundleName(cloud: BundleCloud, arch: BundleArch): string {
  return `${cloud}-${arch}`;
}

export interface BundleManifest {
  /** The Tributary version that built it. */
  readonly tributary: string;
  readonly cloud: BundleCloud;
  readonly arch: BundleArch;
  /** The graph module bundled in, as given to `--graph`. */
  readonly graph: string;
  /**
   * Every asset and source of the bundled graph, with what its function does (FunctionPlan.kind), and
   * the stack's own functions (STACK_FUNCTIONS: the outbox sweeper, the table maintenance), which every
   * bundle can run.
   */
  readonly functions: Readonly<Record<string, FunctionKind>>;
  /**
   * Whether the folder ships source maps (`tributary bundle --source-maps`, a stack's
   * functions.sourceMaps); absent in bundles built before the choice existed (they did) and stand-ins.
   */
  readonly sourceMaps?: boolean;
  /** The DuckDB native binding: the package, its version, and whether the folder ships it. */
  readonly binding: { readonly package: string; readonly version: string; readonly shipped: boolean };
  /**
   * LanceDB, when the graph has embedding assets: its version, and whether the folder ships it (with
   * its native library and Apache Arrow) or its package.json names it (GCP).
   */
  readonly vectors?: { readonly package: string; readonly version: string; readonly shipped: boolean };
  /**
   * What it was built from: every file esbuild read for the cloud's entry point and the ingest worker,
   * and the DuckDB bindings' package.json (whose version names the native binding), relative to the
   * project's root and `/`-separated, sorted, each with the first 16 hex digits of its SHA-256. A change
   * to any of them makes the bundle stale. Absent in bundles built before Tributary recorded it.
   */
  readonly inputs?: Readonly<Record<string, string>>;
  /** Every other file of the folder (relative, `/`-separated) with its size in bytes, sorted. */
  readonly files: Readonly<Record<string, number>>;
  /** SHA-256 over the files' paths and contents: changes whenever anything deployed changes. */
  readonly sha256: string;
}

/** Every file under `dir` except the manifest, relative and `/`-separated, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else if (child !== MANIFEST) out.push(child);
    }
  };
  walk("");
  return out.sort();
}

/** The SHA-256 of a folder's files: each file's path and the hash of its content, in path order. */
export function folderHash(dir: string, files: readonly string[] = listFiles(dir)): string {
  const all = createHash("sha256");
  for (const f of files) {
    const content = createHash("sha256")
      .update(fs.readFileSync(path.join(dir, f)))
      .digest("hex");
    all.update(`${f}\0${content}\n`);
  }
  return all.digest("hex");
}

/** The first 16 hex digits of the SHA-256 of the file `file`'s content: an input's fingerprint. */
export function fileDigest(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex").slice(0, 16);
}

/** The manifest of the bundle folder `dir`, or undefined when there is none or it cannot be read. */
export function readManifest(dir: string): BundleManifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), "utf8")) as BundleManifest;
  } catch {
    return undefined;
  }
}
