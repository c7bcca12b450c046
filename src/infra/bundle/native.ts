/**
 * The DuckDB native binding a bundle needs: `@duckdb/node-bindings-linux-<arch>` (duckdb.node and the
 * libduckdb.so beside it), at the version of the `@duckdb/node-bindings` the engine is bundled with, for
 * the architecture the functions run on. From node_modules when npm installed it there (the machine's
 * own platform); otherwise fetched once with `npm pack` into a cache folder and unpacked.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { promisify } from "node:util";
import { TributaryError } from "../../kit/errors.ts";
import type { BundleArch } from "./manifest.ts";

/** A bundle cannot be built: the message says what and what to do. */
export class BundleError extends TributaryError {
  override name = "BundleError";
}

export interface NativeBinding {
  /** `@duckdb/node-bindings-linux-<arch>`. */
  readonly package: string;
  readonly version: string;
  /** The unpacked package: package.json, duckdb.node, libduckdb.so. */
  readonly dir: string;
}

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** The `@duckdb/node-bindings` the engine's `@duckdb/node-api` loads, as esbuild resolves it. */
export function bindingsPackage(): { readonly dir: string; readonly version: string } {
  const api = require.resolve("@duckdb/node-api/package.json");
  const file = createRequire(api).resolve("@duckdb/node-bindings/package.json");
  const { version } = JSON.parse(fs.readFileSync(file, "utf8")) as { version: string };
  return { dir: path.dirname(file), version };
}

/** The binding's package for Linux on `arch`, at the engine's version: what a package.json would name. */
export function bindingSpec(arch: BundleArch): { readonly package: string; readonly version: string } {
  return { package: `@duckdb/node-bindings-linux-${arch}`, version: bindingsPackage().version };
}

/** The binding for Linux on `arch`, from node_modules or the cache under `cache`, fetching it if need be. */
export async function nativeBinding(arch: BundleArch, cache: string): Promise<NativeBinding> {
  const bindings = bindingsPackage();
  const name = `@duckdb/node-bindings-linux-${arch}`;
  const version = bindings.version;
  const installed = installedDir(bindings.dir, name, version);
  if (installed) return { package: name, version, dir: installed };

  const dir = path.join(cache, `${name.replace("/", "+")}@${version}`);
  if (fs.existsSync(path.join(dir, "duckdb.node"))) return { package: name, version, dir };
  await fetchPackage(
    `${name}@${version}`,
    cache,
    dir,
    "duckdb.node",
    "the DuckDB library of Linux functions on that architecture",
  );
  return { package: name, version, dir };
}

function installedDir(from: string, name: string, version: string): string | undefined {
  try {
    const file = createRequire(path.join(from, "package.json")).resolve(`${name}/package.json`);
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string };
    return pkg.version === version ? path.dirname(file) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `npm pack` the package into `cache` and unpack it to `dir` (atomically: a half-unpacked folder never
 * shows); `marker` is a file of it whose presence says it is unpacked, `what` names it in errors.
 */
export async function fetchPackage(
  spec: string,
  cache: string,
  dir: string,
  marker: string,
  what: string,
): Promise<void> {
  fs.mkdirSync(cache, { recursive: true });
  const work = fs.mkdtempSync(path.join(cache, ".fetch-"));
  try {
    let tarball: string;
    try {
      const { stdout } = await run("npm", ["pack", spec, "--json", "--pack-destination", work], {
        maxBuffer: 16 << 20,
      });
      tarball = path.join(work, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    } catch (e) {
      const detail = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split("\n")[0];
      throw new BundleError(
        `could not fetch ${spec}, ${what}, with npm pack (${detail}). ` +
          `Run the command once with access to the npm registry: the package is kept in ${cache}.`,
      );
    }
    await run("tar", ["-xzf", tarball, "-C", work]);
    try {
      fs.renameSync(path.join(work, "package"), dir);
    } catch (e) {
      // Another bundle fetched it meanwhile: theirs is as good.
      if (!fs.existsSync(path.join(dir, marker))) throw e;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
