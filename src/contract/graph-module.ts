/**
 * Loads the project's graph module: the TypeScript module whose default export is the asset graph
 * (`export default defineGraph([...])`) or the list of its assets and sources.
 */
import { statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { type AnyAsset, AssetGraph, defineGraph, GraphValidationError, TributaryError } from "tributary";
import { GraphModuleCrash, GraphModuleError } from "./errors.ts";
import { DEFAULT_GRAPH_MODULE, graphModuleOf } from "./project.ts";

export { DEFAULT_GRAPH_MODULE };

const EXPORT_HINT = "End the module with `export default defineGraph([...])`.";

/**
 * Import the graph module `module` (default: the project configuration's, `configFile` as
 * `loadProject` takes it), resolved against `cwd`, and return its validated graph. Every failure a
 * user can fix is a GraphModuleError naming the module.
 */
export async function loadGraph(
  module: string | undefined,
  cwd: string = process.cwd(),
  configFile?: string,
): Promise<AssetGraph> {
  return (await loadGraphModule(module, cwd, configFile)).graph;
}

/** The graph module's graph and its other exports (e.g. `sampleData`). */
export interface GraphModule {
  readonly graph: AssetGraph;
  readonly exports: Readonly<Record<string, unknown>>;
}

/** Like `loadGraph`, also returning the module's exports. */
export async function loadGraphModule(
  module: string | undefined,
  cwd: string = process.cwd(),
  configFile?: string,
): Promise<GraphModule> {
  // Without --graph: the project configuration's graph module (tributary.config.ts), else the default.
  const { path, name } = await graphModuleOf(cwd, module, configFile);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) {
    throw new GraphModuleError(
      module === undefined
        ? `no graph module at ${name} (in ${cwd}). Run tributary from the project's root, or pass --graph <module> to load another graph module.`
        : `no graph module at ${name} (in ${cwd}). Check the path given to --graph; it is resolved against the current directory.`,
    );
  }
  if (stat.isDirectory()) {
    throw new GraphModuleError(
      `graph module ${name} is a directory; pass the module file to --graph, e.g. ${DEFAULT_GRAPH_MODULE}.`,
    );
  }

  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw await explainImportFailure(path, name, error, cwd);
  }
  return { graph: graphOfModule(name, exports), exports };
}

/**
 * The validated graph of a graph module's exports, already imported: by `loadGraphModule`, and by the
 * cloud functions' bundles, whose graph module is bundled in (runtime/handlers/entry/). `name` names
 * the module in errors.
 */
export function graphOfModule(name: string, exports: Readonly<Record<string, unknown>>): AssetGraph {
  if (!("default" in exports)) {
    const named = Object.keys(exports).sort();
    throw new GraphModuleError(
      `graph module ${name} has no default export${named.length > 0 ? ` (it exports ${named.join(", ")})` : ""}. ${EXPORT_HINT}`,
    );
  }
  const graph = exports.default;
  if (graph instanceof AssetGraph) return graph;
  if (Array.isArray(graph)) return build(name, graph);
  // An AssetGraph of another copy of the kit (a project checked out at another revision, whose
  // `tributary` import resolves to its own copy): rebuilt, and so validated, by this one.
  if (isGraphLike(graph)) return build(name, graph.assets());
  throw new GraphModuleError(
    `graph module ${name}: the default export is ${describe(graph)}, not an AssetGraph or an array of assets and sources. ${EXPORT_HINT}`,
  );
}

async function explainImportFailure(path: string, name: string, error: unknown, cwd: string): Promise<Error> {
  if (error instanceof GraphValidationError) return invalidGraph(name, error);
  if (error instanceof TributaryError)
    return new GraphModuleError(`graph module ${name}: ${error.message}`, { cause: error });
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_MODULE_NOT_FOUND" && error instanceof Error) {
    return new GraphModuleError(
      `graph module ${name} imports a module that cannot be found: ${error.message}`,
      { cause: error },
    );
  }
  // A syntax error, an undefined name, anything else the user's code threw: its place in their source.
  // Loaded only now: the functions' bundles load graph modules too, and their cold start pays for imports.
  const { importFailure } = await import("./user-code.ts");
  return (
    (await importFailure(error, { file: path, what: `graph module ${name}` }, cwd)) ??
    new GraphModuleCrash(name, error)
  );
}

function invalidGraph(name: string, error: GraphValidationError): GraphModuleError {
  const n = error.errors.length;
  const lines = error.errors.map((e) => `  - ${e.message}`);
  return new GraphModuleError(
    `graph module ${name}: the graph is invalid (${n} error${n === 1 ? "" : "s"}):\n${lines.join("\n")}`,
    {
      cause: error,
    },
  );
}

/** Build the graph from an exported list, checking each item is an asset or source first. */
function build(name: string, items: readonly unknown[]): AssetGraph {
  const problems: string[] = [];
  items.forEach((item, i) => {
    const inner = Array.isArray(item) ? item : [item];
    inner.forEach((a, j) => {
      if (!isAsset(a)) {
        const at = Array.isArray(item) ? `[${i}][${j}]` : `[${i}]`;
        problems.push(`  - item ${at} is ${describe(a)}, not an asset or source`);
      }
    });
  });
  if (problems.length > 0) {
    throw new GraphModuleError(
      `graph module ${name}: the default export must list assets and sources (made by asset() and source()), or arrays of them:\n${problems.join("\n")}`,
    );
  }
  try {
    return defineGraph(items as readonly (AnyAsset | readonly AnyAsset[])[]);
  } catch (error) {
    if (error instanceof GraphValidationError) throw invalidGraph(name, error);
    throw error;
  }
}

function isGraphLike(value: unknown): value is { assets(): readonly unknown[] } {
  const v = value as { assets?: unknown; order?: unknown } | null;
  return typeof v === "object" && v !== null && typeof v.assets === "function" && Array.isArray(v.order);
}

function isAsset(value: unknown): value is AnyAsset {
  const v = value as { kind?: unknown; key?: unknown } | null;
  return (
    typeof v === "object" &&
    v !== null &&
    (v.kind === "asset" || v.kind === "source") &&
    typeof v.key === "string"
  );
}

/** A value's type for an error message: `a number (42)`, `undefined`, `an object with keys a, b`. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "number":
    case "boolean":
    case "bigint":
      return `a ${typeof value} (${String(value)})`;
    case "string":
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
    case "function":
      return "a function";
    case "object": {
      const keys = Object.keys(value);
      return keys.length === 0
        ? "an empty object"
        : `an object with keys ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}`;
    }
    default:
      return `a ${typeof value}`;
  }
}
