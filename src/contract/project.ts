/**
 * Finds and reads the project configuration (`tributary.config.ts`): `--config <file>`, else the file
 * $TRIBUTARY_CONFIG names, else the nearest one walking up from the working directory, like
 * package.json. A project without one uses the defaults, relative to the working directory. Every
 * command and the Pulumi program (`deploy()`) read it the same way.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ProjectConfig, SampleData } from "../kit/config.ts";
import { TributaryError } from "../kit/errors.ts";
import { didYouMean } from "../kit/suggest.ts";

/** The configuration file's name. */
export const CONFIG_FILE = "tributary.config.ts";
/** The graph module when neither the configuration nor `--graph` names one. */
export const DEFAULT_GRAPH_MODULE = "assets/index.ts";
/** The stacks folder when the configuration names none. */
export const DEFAULT_STACKS_DIR = "stacks";
/** The local store when neither `--store`, $TRIBUTARY_STORE nor the configuration names one. */
export const DEFAULT_STORE_DIR = ".tributary";
/** The bundles folder when neither the stack, $TRIBUTARY_BUNDLES nor the configuration names one. */
export const DEFAULT_BUNDLES_DIR = "dist/bundles";
/** The configuration file, when no `--config` is given (what `tributary synth` hands its program). */
export const CONFIG_ENV = "TRIBUTARY_CONFIG";
/** The graph module over the configuration's, when no `--graph` is given (likewise). */
export const GRAPH_ENV = "TRIBUTARY_GRAPH";

/** A project as every command sees it: absolute paths. */
export interface Project {
  /** The folder holding the configuration file (or the working directory without one). */
  readonly root: string;
  /** The configuration file, when there is one. */
  readonly configFile?: string;
  /** The graph module (`--graph` or $TRIBUTARY_GRAPH when given, else the configuration's). */
  readonly graph: string;
  /** The stacks folder. */
  readonly stacks: string;
  /** The local store's folder, when neither `--store` nor $TRIBUTARY_STORE names one. */
  readonly store: string;
  /** The bundles folder, when neither the stack nor $TRIBUTARY_BUNDLES names one. */
  readonly bundles: string;
  /** The configuration's sample-data hook. */
  readonly sampleData?: SampleData;
}

/** The configuration's settings that are paths, relative to the configuration file. */
const PATHS = ["graph", "stacks", "store", "bundles"] as const;
const SETTINGS = [...PATHS, "sampleData"].sort();

/** The configuration file that applies in `cwd`: the nearest walking up, or undefined. */
export function findConfigFile(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, CONFIG_FILE);
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Reads the project configuration that applies in `cwd`: the file `configFile` (relative to `cwd`),
 * else $TRIBUTARY_CONFIG's, else the nearest. `graph` (relative to `cwd`, else $TRIBUTARY_GRAPH) is
 * the graph module over the configuration's.
 */
export async function loadProject(cwd: string, configFile?: string, graph?: string): Promise<Project> {
  const named = configFile ?? nonEmpty(process.env[CONFIG_ENV]);
  const override = graph ?? nonEmpty(process.env[GRAPH_ENV]);
  const graphOver = override === undefined ? undefined : resolve(cwd, override);
  const file = named === undefined ? findConfigFile(cwd) : resolve(cwd, named);
  if (file === undefined) {
    return {
      root: resolve(cwd),
      graph: graphOver ?? resolve(cwd, DEFAULT_GRAPH_MODULE),
      stacks: resolve(cwd, DEFAULT_STACKS_DIR),
      store: resolve(cwd, DEFAULT_STORE_DIR),
      bundles: resolve(cwd, DEFAULT_BUNDLES_DIR),
    };
  }
  if (!existsSync(file)) {
    const from = configFile === undefined ? `: $${CONFIG_ENV} names it` : "";
    throw new TributaryError(`no project configuration at ${named} (in ${cwd})${from}.`);
  }
  const config = readConfig(shown(cwd, file), (await importConfig(file, cwd)).default);
  const root = dirname(file);
  return {
    root,
    configFile: file,
    graph: graphOver ?? resolve(root, config.graph ?? DEFAULT_GRAPH_MODULE),
    stacks: resolve(root, config.stacks ?? DEFAULT_STACKS_DIR),
    store: resolve(root, config.store ?? DEFAULT_STORE_DIR),
    bundles: resolve(root, config.bundles ?? DEFAULT_BUNDLES_DIR),
    ...(config.sampleData ? { sampleData: config.sampleData } : {}),
  };
}

/**
 * The graph module that applies in `cwd`: `graph` (the `--graph` override, relative to `cwd`), else
 * the project configuration's (`configFile`, as `loadProject` takes it). `name` is how messages show
 * it: relative to `cwd` when inside it.
 */
export async function graphModuleOf(
  cwd: string,
  graph?: string,
  configFile?: string,
): Promise<{ readonly path: string; readonly name: string }> {
  if (graph !== undefined) return { path: resolve(cwd, graph), name: graph };
  const path = (await loadProject(cwd, configFile)).graph;
  return { path, name: shown(cwd, path) };
}

/** `path` relative to `cwd` when inside it, else absolute: how messages name a file. */
export function shown(cwd: string, path: string): string {
  const name = relative(cwd, path);
  return name === "" || name.startsWith("..") ? path : name;
}

/** The configuration object, checked: every setting known and of its type. */
function readConfig(file: string, config: unknown): ProjectConfig {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TributaryError(
      `${file}: the default export must be the project configuration: export default defineConfig({ ... }).`,
    );
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!SETTINGS.includes(key)) {
      problems.push(
        `"${key}" is not a setting of the project configuration.${didYouMean(key, SETTINGS) || ` Settings: ${SETTINGS.join(", ")}.`}`,
      );
    } else if (key === "sampleData") {
      if (value !== undefined && typeof value !== "function") {
        problems.push(`sampleData must be a function (dir) => files by source key, got ${typeOf(value)}.`);
      }
    } else if (value !== undefined && (typeof value !== "string" || value === "")) {
      problems.push(`${key} must be a path relative to the configuration file, got ${typeOf(value)}.`);
    }
  }
  if (problems.length === 1) throw new TributaryError(`${file}: ${problems[0]}`);
  if (problems.length > 1) {
    throw new TributaryError(
      `${file}: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return config as ProjectConfig;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  return `a ${typeof value}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Imports the configuration file; a mistake in it (syntax, an undefined name…) is the user's to fix. */
async function importConfig(file: string, cwd: string): Promise<{ default?: unknown }> {
  try {
    return (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    if (error instanceof TributaryError) throw error;
    const { importFailure } = await import("./user-code.ts"); // only now: see graph-module.ts
    throw (await importFailure(error, { file, what: `the project configuration ${file}` }, cwd)) ?? error;
  }
}
