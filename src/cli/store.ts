import { resolve } from "node:path";
import { LocalStore } from "../runtime/storage/local.ts";
import type { ObjectStore } from "../runtime/storage/port.ts";

/** The store commands read and write: `--store <dir>`, else $TRIBUTARY_STORE, else `.tributary` here. */
export function openStore(dir: string | undefined, cwd: string = process.cwd()): ObjectStore {
  return new LocalStore(resolve(cwd, dir ?? process.env.TRIBUTARY_STORE ?? ".tributary"));
}

export { storeSecrets } from "../runtime/secrets/local.ts";

export const STORE_FLAGS = "--store <dir>";
export const STORE_HELP = "the local store folder (default: $TRIBUTARY_STORE or .tributary)";
