/**
 * Finds and reads the project configuration (`tributary.config.ts`): the nearest one walking up from
 * the working directory, like package.json. A project without one uses the defaults, relative to the
 * working directory.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ProjectConfig } from "../kit/config.ts";
import { TributaryError } from "../kit/errors.ts";

/** The configuration file's name. */
export const CONFIG_FILE = "tributary.config.ts";
/** The graph module when neither the configuration nor `--graph` names one. */
export const DEFAULT_GRAPH_MODULE = "assets/index.ts";
/** The stacks folder when the configuration names none. */
export const DEFAULT_STACKS_DIR = "stacks";

/** A project as every command sees it: absolute paths. */
export interface Project {
  /** The folder holding the configuration file (or the working directory without one). */
  readonly root: string;
  /** The configuration file, when there is one. */
  readonly configFile?: string;
  /** The graph module. */
  readonly graph: string;
  /** The stacks folder. */
  readonly stacks: string;
}

/** The configuration file that applies in `cwd`: the nearest walking up, or undefined. */
export function findConfigFile(cwd: string): string | undefined {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, CONFIG_FILE);
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Reads the project configuration that applies in `cwd` (or the file `configFile`). */
export async function loadProject(cwd: string, configFile?: string): Promise<Project> {
  const file = configFile === undefined ? findConfigFile(cwd) : resolve(cwd, configFile);
  if (file === undefined) {
    return {
      root: resolve(cwd),
      graph: resolve(cwd, DEFAULT_GRAPH_MODULE),
      stacks: resolve(cwd, DEFAULT_STACKS_DIR),
    };
  }
  if (!existsSync(file)) throw new TributaryError(`no project configuration at ${configFile} (in ${cwd}).`);
  const exports = await importConfig(file, cwd);
  const config = exports.default;
  if (typeof config !== "object" || config === null) {
    throw new TributaryError(
      `${file}: the default export must be the project configuration: export default defineConfig({ ... }).`,
    );
  }
  const root = dirname(file);
  return {
    root,
    configFile: file,
    graph: resolve(root, config.graph ?? DEFAULT_GRAPH_MODULE),
    stacks: resolve(root, config.stacks ?? DEFAULT_STACKS_DIR),
  };
}

/**
 * The graph module that applies in `cwd`: `graph` (the `--graph` override, relative to `cwd`), else
 * the project configuration's. `name` is how messages show it: relative to `cwd` when inside it.
 */
export async function graphModuleOf(
  cwd: string,
  graph?: string,
): Promise<{ readonly path: string; readonly name: string }> {
  if (graph !== undefined) return { path: resolve(cwd, graph), name: graph };
  const path = (await loadProject(cwd)).graph;
  const name = relative(cwd, path);
  return { path, name: name === "" || name.startsWith("..") ? path : name };
}

/** Imports the configuration file; a mistake in it (syntax, an undefined name…) is the user's to fix. */
async function importConfig(file: string, cwd: string): Promise<{ default?: ProjectConfig }> {
  try {
    return (await import(pathToFileURL(file).href)) as { default?: ProjectConfig };
  } catch (error) {
    if (error instanceof TributaryError) throw error;
    const { importFailure } = await import("./user-code.ts"); // only now: see graph-module.ts
    throw (await importFailure(error, { file, what: `the project configuration ${file}` }, cwd)) ?? error;
  }
}
