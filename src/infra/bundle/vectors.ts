/**
 * What a bundle ships for a graph with embedding assets: LanceDB (`@lancedb/lancedb`, left out of the
 * bundled JavaScript: runtime/vectors/lance.ts loads it, and Apache Arrow from beside it, at run time),
 * the packages it needs at run time (its dependencies and its peer Apache Arrow, with theirs), and its
 * native library for Linux on the functions' architecture (`@lancedb/lancedb-linux-<arch>-gnu`, from
 * node_modules or fetched once with `npm pack`, as the DuckDB binding is).
 *
 * Only what runs is shipped: type declarations, source maps, TypeScript sources and Arrow's ES module
 * build (LanceDB requires its CommonJS one) are left out, and LanceDB's optional embedding-function
 * packages (OpenAI, Hugging Face) with them.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import type { BundleArch } from "./manifest.ts";
import { BundleError, fetchPackage } from "./native.ts";

export const LANCEDB = "@lancedb/lancedb";

/** A package to place at `node_modules/<at>` of a bundle, from `dir`. */
export interface ShippedPackage {
  readonly name: string;
  readonly version: string;
  /** Its path under node_modules (`apache-arrow`, `command-line-usage/node_modules/array-back`). */
  readonly at: string;
  readonly dir: string;
}

interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

const require = createRequire(import.meta.url);
const readPkg = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as PackageJson;

/** LanceDB's installed folder and version, as the engine loads it. */
export function lancedbPackage(): { readonly dir: string; readonly version: string } {
  // Found from its main module: its exports do not include package.json.
  for (let dir = path.dirname(require.resolve(LANCEDB)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "package.json")) && readPkg(dir).name === LANCEDB) {
      return { dir, version: readPkg(dir).version };
    }
  }
  throw new BundleError(`${LANCEDB} is not installed: run npm install.`);
}

/** Node's lookup of a package's folder: `node_modules/<name>` in `from` and each folder above it. */
function findPackage(name: string, from: string): string | undefined {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
  }
  return undefined;
}

/** The package.json dependencies a bundle that installs its packages (GCP) names for LanceDB. */
export function lancedbDependencies(): Record<string, string> {
  const { dir, version } = lancedbPackage();
  const arrow = findPackage("apache-arrow", dir);
  if (!arrow)
    throw new BundleError(`${LANCEDB} needs apache-arrow, which is not installed: run npm install.`);
  return { [LANCEDB]: version, "apache-arrow": readPkg(arrow).version };
}

/** Every package LanceDB needs at run time on Linux `arch`, in npm's layout. */
export async function lancedbPackages(arch: BundleArch, cache: string): Promise<ShippedPackage[]> {
  const lancedb = lancedbPackage();
  const out: ShippedPackage[] = [];
  const placed = new Map<string, string>(); // name at the top → its folder
  const visit = (dir: string, parentAt: string | undefined) => {
    const pkg = readPkg(dir);
    const top = placed.get(pkg.name);
    if (top === dir) return;
    // Another version already holds the top: this one goes inside the package that needs it.
    const at =
      top === undefined || parentAt === undefined ? pkg.name : `${parentAt}/node_modules/${pkg.name}`;
    if (top === undefined) placed.set(pkg.name, dir);
    out.push({ name: pkg.name, version: pkg.version, at, dir });
    const needs = { ...pkg.dependencies, ...(pkg.name === LANCEDB ? pkg.peerDependencies : {}) };
    for (const name of Object.keys(needs).sort()) {
      // Type declarations are for compilers, not for the functions.
      if (name.startsWith("@types/")) continue;
      const found = findPackage(name, dir);
      if (!found)
        throw new BundleError(`${pkg.name} needs ${name}, which is not installed: run npm install.`);
      visit(found, at);
    }
  };
  visit(lancedb.dir, undefined);
  const native = `${LANCEDB}-linux-${arch}-gnu`;
  out.push({
    name: native,
    version: lancedb.version,
    at: native,
    dir: await nativeDir(native, lancedb, cache),
  });
  return out;
}

/** LanceDB's native package for one platform, at LanceDB's version: installed, cached, or fetched. */
async function nativeDir(
  name: string,
  lancedb: { dir: string; version: string },
  cache: string,
): Promise<string> {
  // Installed when it is this machine's platform; another platform's is fetched once.
  const installed = findPackage(name, lancedb.dir);
  if (installed && readPkg(installed).version === lancedb.version) return installed;
  const dir = path.join(cache, `${name.replace("/", "+")}@${lancedb.version}`);
  if (!fs.existsSync(path.join(dir, "package.json"))) {
    await fetchPackage(
      `${name}@${lancedb.version}`,
      cache,
      dir,
      "package.json",
      "the LanceDB library of Linux functions on that architecture",
    );
  }
  return dir;
}

/** Whether a file of a shipped package is needed at run time. */
export function shipsFile(pkg: string, rel: string): boolean {
  if (/\.(d\.ts|d\.mts|d\.cts|map|ts)$/.test(rel) || rel.endsWith(".tsbuildinfo")) return false;
  // Arrow's ES module build and its sources: LanceDB requires the CommonJS one.
  if (pkg === "apache-arrow" && (rel.endsWith(".mjs") || rel.startsWith("src/"))) return false;
  return !rel.split("/").includes("node_modules");
}

/**
 * Place the packages under `<folder>/node_modules`: each file hard-linked when the folders share a file
 * system (the native library is 150 MB), copied otherwise.
 */
export function placePackages(packages: readonly ShippedPackage[], folder: string): void {
  for (const p of packages) {
    const to = path.join(folder, "node_modules", p.at);
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(p.dir, rel), { withFileTypes: true })) {
        const child = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (e.name !== "node_modules") walk(child);
        } else if (shipsFile(p.name, child)) {
          const target = path.join(to, child);
          fs.mkdirSync(path.dirname(target), { recursive: true });
          const source = fs.realpathSync(path.join(p.dir, child));
          try {
            fs.linkSync(source, target);
          } catch {
            fs.copyFileSync(source, target);
          }
        }
      }
    };
    walk("");
  }
}
