import { resolve } from "node:path";
import { loadProject } from "../contract/project.ts";
import { LocalStore } from "../runtime/storage/local.ts";
import type { ObjectStore } from "../runtime/storage/port.ts";
// Types only: main.ts imports this module's flags, and `--help` must not load the graph loader.
import type { ProjectOptions } from "./project.ts";

/**
 * The local store folder commands read and write: `--store <dir>`, else $TRIBUTARY_STORE (both relative
 * to the working directory), else the project configuration's `store` (default `.tributary` beside it).
 */
export async function storeDir(
  dir: string | undefined,
  opts: ProjectOptions = {},
  cwd: string = process.cwd(),
): Promise<string> {
  const given = dir ?? (process.env.TRIBUTARY_STORE || undefined);
  return given === undefined ? (await loadProject(cwd, opts.config, opts.graph)).store : resolve(cwd, given);
}

/** The local store (see storeDir). */
export async function openStore(
  dir: string | undefined,
  opts: ProjectOptions = {},
  cwd: string = process.cwd(),
): Promise<ObjectStore> {
  return new LocalStore(await storeDir(dir, opts, cwd));
}

export { storeSecrets } from "../runtime/secrets/local.ts";

export const STORE_FLAGS = "--store <dir>";
export const STORE_HELP =
  "the local store folder (default: $TRIBUTARY_STORE, else the project configuration's store, .tributary)";
