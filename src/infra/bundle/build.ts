/**
 * `tributary bundle`: one cloud's deployable folder for every function of the graph. esbuild bundles the
 * cloud's entry point (runtime/handlers/entry/<cloud>.ts), the graph module and the engine into one ES
 * module for Node.js 24 (NODE_MAJOR); the DuckDB native binding for the functions' architecture is the
 * one thing not bundled (a .node file and its libduckdb.so must be files on disk), copied beside it as
 * the package the bundled `require("@duckdb/node-bindings-linux-<arch>/duckdb.node")` finds.
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
 *   `package.json`, `host.json` (version 2.0, extension bundle 4 for the Service Bus, Event Hubs and Event Grid
 *   triggers) and `node_modules/` with the binding. `@azure/functions` is bundled; `@azure/functions-core`,
 *   which the Functions worker provides at run time, is not.
 * - A graph with embedding assets adds LanceDB (bundle/vectors.ts): aws and azure ship it in node_modules
 *   (its Linux library is 143 MB on arm64, 154 MB on x64: an aws folder grows to 215–230 MB, about 80 MB
 *   zipped, past the 50 MB Lambda takes directly and near its 250 MB unzipped limit), gcp names it in
 *   package.json.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import * as esbuild from "esbuild";
import { functionKind, STACK_FUNCTIONS } from "../../contract/function-env.ts";
import { loadGraph } from "../../contract/graph-module.ts";
import { moduleFile } from "../../contract/package-files.ts";
import { graphModuleOf, loadProject, shown } from "../../contract/project.ts";
import {
  type BundleArch,
  type BundleCloud,
  type BundleManifest,
  bundleName,
  fileDigest,
  folderHash,
  listFiles,
  MANIFEST,
  readManifest,
} from "./manifest.ts";
import { BundleError, bindingSpec, bindingsPackage, type NativeBinding, nativeBinding } from "./native.ts";
import {
  LANCEDB,
  lancedbDependencies,
  lancedbPackage,
  lancedbPackages,
  placePackages,
  type ShippedPackage,
} from "./vectors.ts";

export { BundleError } from "./native.ts";

const require = createRequire(import.meta.url);
/**
 * What esbuild starts from, in this copy of the package (its sources, or dist/ when installed): each
 * cloud's entry point (the package's exports "./handlers/<cloud>"), the kit a graph module imports as
 * `tributary`, and the ingest worker.
 */
export const bundleEntry = (cloud: BundleCloud): string =>
  moduleFile(import.meta.url, `../../runtime/handlers/entry/${cloud}.ts`);
const KIT = moduleFile(import.meta.url, "../../kit/index.ts");
const WORKER = moduleFile(import.meta.url, "../../runtime/engine/ingest-worker.ts");

/**
 * At the top of every bundled file: a `require` for the CommonJS packages esbuild bundles into an ES
 * module (its `__require` shim calls the module scope's `require`), and for the binding's
 * `require(".../duckdb.node")`, resolved from the bundle's own folder. The CommonJS file globals are
 * defined as `import.meta.dirname` and `import.meta.filename` instead (`DEFINE`): esbuild renames a
 * bundled module's own `__dirname` around them, where a declaration in the banner would clash with it.
 */
export const BANNER = [
  'import { createRequire as __tributaryCreateRequire } from "node:module";',
  "const require = __tributaryCreateRequire(import.meta.url);",
].join("\n");
export const DEFINE = { __dirname: "import.meta.dirname", __filename: "import.meta.filename" };
/**
 * The Node.js major the functions run on, every cloud alike (the plan's `runtime`, `nodejs24`): the
 * bundle's syntax target and its package.json `engines`, which Google's Node.js buildpack reads too.
 */
export const NODE_MAJOR = 24;

interface CloudLayout {
  /** Packages left out of the bundle besides the binding, resolved at run time. */
  readonly external: readonly string[];
  /** Whether the folder ships the binding in node_modules (else package.json names it). */
  readonly shipsBinding: boolean;
  /** package.json beyond name, private and type. */
  readonly packageJson: (binding: {
    readonly package: string;
    readonly version: string;
  }) => Record<string, unknown>;
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

export interface BundleTarget {
  readonly cloud: BundleCloud;
  readonly arch: BundleArch;
  /**
   * The folder to write, relative to `cwd` (default `<cloud>-<arch>` in the project's bundles folder,
   * dist/bundles unless its configuration says otherwise).
   */
  readonly out?: string;
}

/** What every bundle of one build shares: the project and its graph module. */
export interface BuildOptions {
  /** The graph module, relative to `cwd` (default: the project configuration's). */
  readonly graph?: string;
  /** The project configuration file, relative to `cwd` (default: the nearest tributary.config.ts). */
  readonly config?: string;
  /**
   * Ship source maps beside the JavaScript (default false: they are a third of a bundle and only serve
   * stack traces, with NODE_OPTIONS=--enable-source-maps, which a stack then sets).
   */
  readonly sourceMaps?: boolean;
  /** Where the project is found from (default: the current directory). */
  readonly cwd?: string;
}

export interface BundleOptions extends BundleTarget, BuildOptions {}

export type FileRole = "bundle" | "source map" | "binding" | "config";

export interface BundleReport {
  readonly cloud: BundleCloud;
  readonly arch: BundleArch;
  readonly graph: string;
  /** The folder, as given (or the default, relative to the working directory when inside it). */
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
  /** From the start of the build to this folder's completion. */
  readonly milliseconds: number;
}

/** Build the bundle of `opts.cloud` for `opts.arch` and report what it wrote. */
export async function bundle(opts: BundleOptions): Promise<BundleReport> {
  return (await bundleEach([opts], opts))[0]!;
}

/**
 * Build several bundles of one graph module, with one esbuild pass for all their clouds (the JavaScript
 * of a cloud is the same on every architecture): what a project deploying to more than one cloud, or the
 * test suite, needs.
 */
export async function bundleEach(
  targets: readonly BundleTarget[],
  opts: BuildOptions = {},
): Promise<BundleReport[]> {
  const sourceMaps = opts.sourceMaps ?? false;
  const started = performance.now();
  const cwd = opts.cwd ?? process.cwd();
  const project = await loadProject(cwd, opts.config, opts.graph);
  const { name: graphName } = await graphModuleOf(cwd, opts.graph, opts.config);
  const outs = targets.map((t) => {
    const name = t.out ?? shown(cwd, path.join(project.bundles, bundleName(t.cloud, t.arch)));
    return { ...t, name, dir: path.resolve(cwd, name) };
  });
  // A bundle never carries a graph `tributary validate` would reject: load it here first.
  const graph = await loadGraph(opts.graph, cwd, opts.config);
  for (const o of outs) checkReplaceable(o.dir, o.name);
  const clouds = [...new Set(targets.map((t) => t.cloud))];
  // Paths in the bundle (its sources list, source maps) are the project's: relative to its root.
  const root = project.root;
  const cache = path.join(root, "node_modules", ".cache", "tributary");
  const js = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-bundle-"));
  try {
    // A graph with embedding assets needs LanceDB in its functions (bundle/vectors.ts).
    const embeds = graph.assets().some((a) => a.kind === "asset" && a.embedding !== undefined);
    const [{ warnings, inputs }, ...bindings] = await Promise.all([
      buildJs(clouds, project.graph, js, root, sourceMaps, embeds),
      // A folder that does not ship the binding only names it.
      ...outs.map((o) => (LAYOUT[o.cloud].shipsBinding ? nativeBinding(o.arch, cache) : bindingSpec(o.arch))),
    ]);
    const shipped = await Promise.all(
      outs.map((o) => (embeds && LAYOUT[o.cloud].shipsBinding ? lancedbPackages(o.arch, cache) : undefined)),
    );
    const functions = Object.fromEntries(
      [
        ...graph.assets().map((a) => [a.key, functionKind(a)] as const),
        ...Object.entries(STACK_FUNCTIONS),
      ].sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    return outs.map((o, i) => {
      const manifest = layOut(
        o,
        js,
        bindings[i]!,
        { graph: graphName, functions, sourceMaps, inputs: inputs[o.cloud]! },
        embeds ? { packages: shipped[i] } : undefined,
      );
      return report(o.dir, o.name, manifest, graph.size, warnings, started);
    });
  } finally {
    fs.rmSync(js, { recursive: true, force: true });
  }
}

/**
 * Write one bundle folder from the built JavaScript: beside `out`, moved there when complete, so a failed
 * build leaves nothing behind and a previous bundle stays until the new one is whole.
 */
function layOut(
  o: BundleTarget & { readonly dir: string },
  js: string,
  binding: NativeBinding | { readonly package: string; readonly version: string },
  of: Pick<BundleManifest, "graph" | "functions" | "sourceMaps" | "inputs">,
  vectors: { readonly packages: readonly ShippedPackage[] | undefined } | undefined,
): BundleManifest {
  const layout = LAYOUT[o.cloud];
  fs.mkdirSync(path.dirname(o.dir), { recursive: true });
  const work = fs.mkdtempSync(`${o.dir}.partial-`);
  try {
    fs.cpSync(path.join(js, o.cloud), work, { recursive: true });
    for (const f of of.sourceMaps ? ["ingest-worker.js", "ingest-worker.js.map"] : ["ingest-worker.js"])
      fs.copyFileSync(path.join(js, f), path.join(work, f));
    if ("dir" in binding) {
      fs.cpSync(binding.dir, path.join(work, "node_modules", binding.package), { recursive: true });
    }
    if (vectors?.packages) placePackages(vectors.packages, work);
    const pkg: Record<string, unknown> = {
      name: `tributary-${o.cloud}-functions`,
      private: true,
      type: "module",
      engines: { node: `${NODE_MAJOR}.x` },
      ...layout.packageJson(binding),
    };
    // A folder that installs its packages (GCP) names LanceDB beside the binding.
    if (vectors && !vectors.packages) {
      pkg.dependencies = { ...(pkg.dependencies as Record<string, string>), ...lancedbDependencies() };
    }
    writeJson(path.join(work, "package.json"), pkg);
    for (const [name, body] of Object.entries(layout.files)) writeJson(path.join(work, name), body);

    const files = listFiles(work);
    const manifest: BundleManifest = {
      tributary: (require("../../../package.json") as { version: string }).version,
      cloud: o.cloud,
      arch: o.arch,
      ...of,
      binding: { package: binding.package, version: binding.version, shipped: layout.shipsBinding },
      ...(vectors
        ? {
            vectors: {
              package: LANCEDB,
              version: lancedbPackage().version,
              shipped: vectors.packages !== undefined,
            },
          }
        : {}),
      files: Object.fromEntries(files.map((f) => [f, fs.statSync(path.join(work, f)).size])),
      sha256: folderHash(work, files),
    };
    writeJson(path.join(work, MANIFEST), manifest);
    fs.rmSync(o.dir, { recursive: true, force: true });
    fs.renameSync(work, o.dir);
    return manifest;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function report(
  dir: string,
  name: string,
  manifest: BundleManifest,
  functions: number,
  warnings: readonly string[],
  started: number,
): BundleReport {
  const files = [...Object.keys(manifest.files), MANIFEST].map((f) => ({
    path: f,
    bytes: manifest.files[f] ?? fs.statSync(path.join(dir, f)).size,
    role: roleOf(f),
  }));
  const sum = (role: FileRole) => files.filter((f) => f.role === role).reduce((n, f) => n + f.bytes, 0);
  return {
    cloud: manifest.cloud,
    arch: manifest.arch,
    graph: manifest.graph,
    out: name,
    functions,
    binding: manifest.binding,
    files,
    totals: { bundle: sum("bundle"), binding: sum("binding"), total: files.reduce((n, f) => n + f.bytes, 0) },
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

/**
 * esbuild, into `dir`: each cloud's entry point as `<cloud>/index.mjs`, in one pass that parses the
 * engine and the graph once for every cloud, and the ingest worker as `ingest-worker.js`. Checks that
 * each entry parses; returns the warnings, and each cloud's inputs (see BundleManifest.inputs).
 */
async function buildJs(
  clouds: readonly BundleCloud[],
  graph: string,
  dir: string,
  cwd: string,
  sourceMaps: boolean,
  embeds: boolean,
): Promise<{ warnings: string[]; inputs: Partial<Record<BundleCloud, Record<string, string>>> }> {
  const common: esbuild.BuildOptions = {
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${NODE_MAJOR}`,
    banner: { js: BANNER },
    define: DEFINE,
    sourcemap: sourceMaps ? "linked" : false,
    // Stack traces need the mappings only (NODE_OPTIONS=--enable-source-maps); the sources stay home.
    sourcesContent: false,
    keepNames: true,
    absWorkingDir: cwd,
    logLevel: "silent",
    metafile: true,
    // Each cloud's externals are packages only that cloud's entry imports: one list serves them all.
    // LanceDB (a native library, loaded only by embedding assets: runtime/vectors/lance.ts) is not
    // bundled: a function that embeds needs it installed beside the bundle.
    external: [
      "@duckdb/node-bindings-*",
      "@lancedb/lancedb",
      "apache-arrow",
      ...clouds.flatMap((c) => LAYOUT[c].external),
    ],
    plugins: [resolveTributary(graph)],
  };
  let results: esbuild.BuildResult[];
  try {
    results = await Promise.all([
      esbuild.build({
        ...common,
        entryPoints: Object.fromEntries(clouds.map((c) => [`${c}/index`, bundleEntry(c)])),
        outdir: dir,
        outExtension: { ".js": ".mjs" },
      }),
      // The engine starts its ingest workers from `ingest-worker.js` beside the bundle.
      esbuild.build({ ...common, entryPoints: [WORKER], outfile: path.join(dir, "ingest-worker.js") }),
    ]);
  } catch (e) {
    const errors = (e as Partial<esbuild.BuildFailure>).errors;
    if (!errors) throw e;
    throw new BundleError(
      `esbuild could not bundle the ${clouds.join(", ")} functions:\n${errors.map((m) => `  - ${describe(m)}`).join("\n")}`,
    );
  }
  const maps = [
    ...clouds.map((c) => path.join(dir, c, "index.mjs.map")),
    path.join(dir, "ingest-worker.js.map"),
  ];
  if (sourceMaps) for (const map of maps) relativeSources(map, cwd);
  await Promise.all(clouds.map((c) => checkSyntax(path.join(dir, c, "index.mjs"))));
  const [entries, worker] = results.map((r) => r.metafile!) as [esbuild.Metafile, esbuild.Metafile];
  const shared = [
    ...Object.keys(worker.inputs),
    bindingsManifest(cwd),
    // LanceDB's version names the library shipped for embedding assets.
    ...(embeds ? [path.relative(cwd, path.join(lancedbPackage().dir, "package.json"))] : []),
  ];
  const inputs: Partial<Record<BundleCloud, Record<string, string>>> = {};
  for (const c of clouds) {
    const output = Object.entries(entries.outputs).find(
      ([file]) => path.resolve(cwd, file) === path.join(dir, c, "index.mjs"),
    )?.[1];
    if (!output) throw new Error(`esbuild wrote no ${c}/index.mjs into ${dir}`);
    inputs[c] = fingerprints(cwd, [...Object.keys(output.inputs), ...shared]);
  }
  return { warnings: [...new Set(results.flatMap((r) => r.warnings.map(describe)))], inputs };
}

/**
 * The files among esbuild's inputs (`/`-separated, relative to `cwd`; plugin namespaces left out), each
 * with its fingerprint, sorted.
 */
function fingerprints(cwd: string, files: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [...new Set(files)].sort()) {
    const full = path.resolve(cwd, f);
    if (fs.statSync(full, { throwIfNoEntry: false })?.isFile())
      out[f.split(path.sep).join("/")] = fileDigest(full);
  }
  return out;
}

/** The DuckDB bindings' package.json (relative to `cwd`): its version names the native binding shipped. */
function bindingsManifest(cwd: string): string {
  return path.relative(cwd, path.join(bindingsPackage().dir, "package.json"));
}

/**
 * A source map's sources relative to the project (`runtime/engine/ingest.ts`), not to where it was
 * built: the same sources give the same bundle, byte for byte, wherever and on whatever machine.
 */
function relativeSources(file: string, cwd: string): void {
  const map = JSON.parse(fs.readFileSync(file, "utf8")) as { sources: string[] };
  map.sources = map.sources.map((s) =>
    // A source with a scheme (`webpack:/…` from a package's own map) is a name, not a path.
    /^[a-z][a-z0-9+.-]*:/i.test(s)
      ? s
      : path
          .relative(cwd, path.resolve(path.dirname(file), s))
          .split(path.sep)
          .join("/"),
  );
  fs.writeFileSync(file, JSON.stringify(map));
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
