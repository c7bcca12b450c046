/**
 * `tributary bundle`: one cloud's deployable folder for every function of the graph. esbuild bundles the
 * cloud's entry point (runtime/handlers/entry/<cloud>.ts), the graph module and the engine into one ES
 * module for Node.js 22; the DuckDB native binding for the functions' architecture is the one thing not
 * bundled (a .node file and its libduckdb.so must be files on disk), copied beside it as the package the
 * bundled `require("@duckdb/node-bindings-linux-<arch>/duckdb.node")` finds.
 *
 * Layout, per cloud (every folder also has `tributary-bundle.json`, read by infra before it deploys):
 * - aws: `index.mjs` (the handler `index.handler`), `ingest-worker.js`, `package.json` (`type: module`,
 *   so the worker is an ES module too), `node_modules/@duckdb/node-bindings-linux-<arch>/`. Lambda runs
 *   the zip as it is: no build step, no npm. Zipped it is about 25 MB, within the 50 MB Lambda takes
 *   directly.
 * - gcp: `index.mjs`, `ingest-worker.js` and a `package.json` (`main: index.mjs`) that names the binding and
 *   the Functions Framework as dependencies, and no node_modules. The Cloud Functions build runs Google's
 *   Node.js buildpack on the source, whose npm step deletes a shipped node_modules before `npm install`
 *   unless vendoring is switched on (GoogleCloudPlatform/buildpacks, cmd/nodejs/npm: `RemoveAll("node_modules")`
 *   when not `IsUsingVendoredDependencies`); so the binding is declared and installed there, on the
 *   build's linux-x64. The framework must be installed too, and not bundled: it starts the function and
 *   must find it registered in its own module instance.
 * - azure: `index.mjs` (the package's `main`, which registers the triggers with `app`), `ingest-worker.js`,
 *   `package.json`, `host.json` (version 2.0, extension bundle 4 for the Service Bus and Event Grid
 *   triggers) and `node_modules/` with the binding. `@azure/functions` is bundled; `@azure/functions-core`,
 *   which the Functions worker provides at run time, is not.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as esbuild from "esbuild";
import { DEFAULT_GRAPH_MODULE, loadGraph } from "../cli/graph-module.ts";
import {
  type BundleArch,
  type BundleCloud,
  type BundleManifest,
  bundleName,
  folderHash,
  listFiles,
  MANIFEST,
  readManifest,
} from "./manifest.ts";
import { BundleError, type NativeBinding, nativeBinding } from "./native.ts";

export { BundleError } from "./native.ts";

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRIES = path.join(ROOT, "runtime", "handlers", "entry");
const KIT = path.join(ROOT, "assets", "graph", "index.ts");
const WORKER = path.join(ROOT, "runtime", "engine", "ingest-worker.ts");

/** Where bundles go, relative to the project: `<BUNDLES_DIR>/<cloud>-<arch>/`. */
export const BUNDLES_DIR = "dist/bundles";

/**
 * At the top of every bundled file: a `require` for the CommonJS packages esbuild bundles into an ES
 * module (its `__require` shim calls the module scope's `require`), and for the binding's
 * `require(".../duckdb.node")`, resolved from the bundle's own folder. The CommonJS file globals are
 * defined as `import.meta.dirname` and `import.meta.filename` instead (`DEFINE`): esbuild renames a
 * bundled module's own `__dirname` around them, where a declaration in the banner would clash with it.
 */
const BANNER = [
  'import { createRequire as __tributaryCreateRequire } from "node:module";',
  "const require = __tributaryCreateRequire(import.meta.url);",
].join("\n");
const DEFINE = { __dirname: "import.meta.dirname", __filename: "import.meta.filename" };

interface CloudLayout {
  /** Packages left out of the bundle besides the binding, resolved at run time. */
  readonly external: readonly string[];
  /** Whether the folder ships the binding in node_modules (else package.json names it). */
  readonly shipsBinding: boolean;
  /** package.json beyond name, private and type. */
  readonly packageJson: (binding: NativeBinding) => Record<string, unknown>;
  /** Other files at the folder's root. */
  readonly files: Readonly<Record<string, unknown>>;
}

const LAYOUT: Record<BundleCloud, CloudLayout> = {
  aws: { external: [], shipsBinding: true, packageJson: () => ({}), files: {} },
  gcp: {
    external: ["@google-cloud/functions-framework"],
    shipsBinding: false,
    packageJson: (binding) => ({
      main: "index.mjs",
      dependencies: {
        "@google-cloud/functions-framework": installedVersion("@google-cloud/functions-framework"),
        [binding.package]: binding.version,
      },
    }),
    files: {},
  },
  azure: {
    external: ["@azure/functions-core"],
    shipsBinding: true,
    packageJson: () => ({ main: "index.mjs" }),
    files: {
      "host.json": {
        version: "2.0",
        extensionBundle: { id: "Microsoft.Azure.Functions.ExtensionBundle", version: "[4.*, 5.0.0)" },
      },
    },
  },
};

export interface BundleOptions {
  readonly cloud: BundleCloud;
  readonly arch: BundleArch;
  /** The graph module, relative to `cwd` (default assets/index.ts). */
  readonly graph?: string;
  /** The folder to write, relative to `cwd` (default dist/bundles/<cloud>-<arch>). */
  readonly out?: string;
  /** The project's root (default: the current directory). */
  readonly cwd?: string;
}

export type FileRole = "bundle" | "source map" | "binding" | "config";

export interface BundleReport {
  readonly cloud: BundleCloud;
  readonly arch: BundleArch;
  readonly graph: string;
  /** The folder, as given (or the default), relative to the project. */
  readonly out: string;
  readonly functions: number;
  readonly binding: BundleManifest["binding"];
  /** Every file of the folder with its size, the manifest last. */
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly role: FileRole }[];
  /** Bytes of the bundled JavaScript, of the shipped native binding, and of the whole folder. */
  readonly totals: { readonly bundle: number; readonly binding: number; readonly total: number };
  readonly sha256: string;
  /** What esbuild warned about, one line each. */
  readonly warnings: readonly string[];
  readonly milliseconds: number;
}

/** Build the bundle of `opts.cloud` for `opts.arch` and report what it wrote. */
export async function bundle(opts: BundleOptions): Promise<BundleReport> {
  const started = performance.now();
  const cwd = opts.cwd ?? process.cwd();
  const graphName = opts.graph ?? DEFAULT_GRAPH_MODULE;
  const outName = opts.out ?? path.join(BUNDLES_DIR, bundleName(opts.cloud, opts.arch));
  const out = path.resolve(cwd, outName);
  const layout = LAYOUT[opts.cloud];

  // A bundle never carries a graph `tributary validate` would reject: load it here first.
  const graph = await loadGraph(opts.graph, cwd);
  checkReplaceable(out, outName);
  // Built beside `out` and moved there when complete: a failed build leaves nothing behind.
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const work = fs.mkdtempSync(`${out}.partial-`);
  let manifest: BundleManifest;
  let warnings: string[];
  try {
    const cache = path.join(cwd, "node_modules", ".cache", "tributary");
    let binding: NativeBinding;
    [binding, warnings] = await Promise.all([
      nativeBinding(opts.arch, cache),
      buildJs(opts.cloud, path.resolve(cwd, graphName), work, cwd),
    ]);
    if (layout.shipsBinding) {
      fs.cpSync(binding.dir, path.join(work, "node_modules", binding.package), { recursive: true });
    }
    const pkg = {
      name: `tributary-${opts.cloud}-functions`,
      private: true,
      type: "module",
      ...layout.packageJson(binding),
    };
    writeJson(path.join(work, "package.json"), pkg);
    for (const [name, body] of Object.entries(layout.files)) writeJson(path.join(work, name), body);
    await checkSyntax(path.join(work, "index.mjs"));

    const files = listFiles(work);
    manifest = {
      tributary: (require("../../package.json") as { version: string }).version,
      cloud: opts.cloud,
      arch: opts.arch,
      graph: graphName,
      functions: Object.fromEntries(
        graph
          .assets()
          .map((a) => [a.key, a.kind === "source" ? "ingest" : "asset"] as const)
          .sort(([a], [b]) => (a < b ? -1 : 1)),
      ),
      binding: { package: binding.package, version: binding.version, shipped: layout.shipsBinding },
      files: Object.fromEntries(files.map((f) => [f, fs.statSync(path.join(work, f)).size])),
      sha256: folderHash(work, files),
    };
    writeJson(path.join(work, MANIFEST), manifest);
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(work, out);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  const listed = [...Object.keys(manifest.files), MANIFEST].map((f) => ({
    path: f,
    bytes: manifest.files[f] ?? fs.statSync(path.join(out, f)).size,
    role: roleOf(f),
  }));
  const sum = (role: FileRole) => listed.filter((f) => f.role === role).reduce((n, f) => n + f.bytes, 0);
  return {
    cloud: opts.cloud,
    arch: opts.arch,
    graph: graphName,
    out: outName,
    functions: graph.size,
    binding: manifest.binding,
    files: listed,
    totals: {
      bundle: sum("bundle"),
      binding: sum("binding"),
      total: listed.reduce((n, f) => n + f.bytes, 0),
    },
    sha256: manifest.sha256,
    warnings,
    milliseconds: Math.round(performance.now() - started),
  };
}

/** `out` may be replaced: it is missing, empty, or a previous bundle; a folder holding anything else is refused. */
function checkReplaceable(out: string, name: string): void {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) {
    throw new BundleError(`--out ${name} is a file; the bundle is a folder: choose another --out.`);
  }
  if (fs.readdirSync(out).length > 0 && !readManifest(out)) {
    throw new BundleError(
      `--out ${name} holds files that are not a Tributary bundle; they are left alone: choose an empty or new folder.`,
    );
  }
}

/** esbuild: the entry point as `index.mjs` and the ingest worker as `ingest-worker.js`; returns the warnings. */
async function buildJs(cloud: BundleCloud, graph: string, out: string, cwd: string): Promise<string[]> {
  const common: esbuild.BuildOptions = {
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    banner: { js: BANNER },
    define: DEFINE,
    sourcemap: "linked",
    // Stack traces need the mappings only (NODE_OPTIONS=--enable-source-maps); the sources stay home.
    sourcesContent: false,
    keepNames: true,
    absWorkingDir: cwd,
    logLevel: "silent",
    external: ["@duckdb/node-bindings-*", ...LAYOUT[cloud].external],
    plugins: [resolveTributary(graph)],
  };
  try {
    const results = await Promise.all([
      esbuild.build({
        ...common,
        entryPoints: [path.join(ENTRIES, `${cloud}.ts`)],
        outfile: path.join(out, "index.mjs"),
      }),
      // The engine starts its ingest workers from `ingest-worker.js` beside the bundle.
      esbuild.build({ ...common, entryPoints: [WORKER], outfile: path.join(out, "ingest-worker.js") }),
    ]);
    return [...new Set(results.flatMap((r) => r.warnings.map(describe)))];
  } catch (e) {
    const errors = (e as Partial<esbuild.BuildFailure>).errors;
    if (!errors) throw e;
    throw new BundleError(
      `esbuild could not bundle the ${cloud} functions:\n${errors.map((m) => `  - ${describe(m)}`).join("\n")}`,
    );
  }
}

/** `tributary:graph` is the project's graph module; `tributary` is this package's declaration kit. */
function resolveTributary(graph: string): esbuild.Plugin {
  return {
    name: "tributary",
    setup(build) {
      build.onResolve({ filter: /^tributary(:graph)?$/ }, (args) => ({
        path: args.path === "tributary" ? KIT : graph,
      }));
    },
  };
}

function describe(m: esbuild.Message): string {
  const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : "";
  return `${at}${m.text}`;
}

/** Parse the bundle as Node.js will (an early error, say a name declared twice, fails here, not in the cloud). */
async function checkSyntax(file: string): Promise<void> {
  try {
    await promisify(execFile)(process.execPath, ["--check", file]);
  } catch (e) {
    throw new Error(`the bundle ${file} does not parse: ${(e as { stderr?: string }).stderr ?? e}`);
  }
}

/** The version of the package `name` installed here (found from its main module: not every package exports package.json). */
function installedVersion(name: string): string {
  for (let dir = path.dirname(require.resolve(name)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, "package.json");
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version: string };
    if (pkg.name === name) return pkg.version;
  }
  throw new Error(`no package.json of ${name} above ${require.resolve(name)}`);
}

function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function roleOf(file: string): FileRole {
  if (file.startsWith("node_modules/")) return "binding";
  if (file.endsWith(".map")) return "source map";
  if (file.endsWith(".mjs") || file.endsWith(".js")) return "bundle";
  return "config";
}
