import { resolve } from "node:path";
import { LocalSecrets } from "../secrets/local.ts";
import { environmentSecrets, type SecretSource } from "../secrets/source.ts";
import { LocalStore } from "../storage/local.ts";
import type { ObjectStore } from "../storage/port.ts";

/** The store commands read and write: `--store <dir>`, else $TRIBUTARY_STORE, else `.tributary` here. */
export function openStore(dir: string | undefined, cwd: string = process.cwd()): ObjectStore {
  return new LocalStore(resolve(cwd, dir ?? process.env.TRIBUTARY_STORE ?? ".tributary"));
}

/**
 * The secrets of a store: `TRIBUTARY_SECRET_<NAME>`, else the store's key files (a local folder's
 * `_secrets/`); for another store, the environment only. `create: false` (dry runs, status, the page)
 * reports a missing tokenisation key instead of making one.
 */
export function storeSecrets(store: ObjectStore, opts: { create?: boolean } = {}): SecretSource {
  return store instanceof LocalStore ? new LocalSecrets(store.root, opts) : environmentSecrets();
}

export const STORE_FLAGS = "--store <dir>";
export const STORE_HELP = "the local store folder (default: $TRIBUTARY_STORE or .tributary)";
