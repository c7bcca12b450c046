/**
 * Secrets on this machine: `TRIBUTARY_SECRET_<NAME>` if set, else the key file `<store>/_secrets/<name>`.
 *
 * A tokenisation key that has neither is generated once, on first use, into its key file: 32 random
 * bytes (base64url), the folder created owner-only (0700) and the file created exclusively and
 * owner-only (0600), so two runs starting together agree on one key and nothing is overwritten. A key
 * file readable by anyone else is refused, as ssh refuses such a private key. Only `rotate` (and `set`,
 * told to replace) ever replaces a key file, and says so.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SecretDef } from "../../kit/secret.ts";
import { LocalStore } from "../storage/local.ts";
import type { ObjectStore } from "../storage/port.ts";
import { environmentSecrets, SecretMissingError, type SecretSource, secretVariable } from "./source.ts";
import { keyId } from "./token.ts";

/** The store's folder of key files. */
export const SECRETS_DIR = "_secrets";

/** Where a secret's value is found on this machine. */
export type SecretOrigin =
  | { readonly kind: "environment"; readonly variable: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "missing"; readonly path: string };

/** New key material: 32 random bytes, base64url (43 characters). */
export function generateKey(): string {
  return randomBytes(32).toString("base64url");
}

export class LocalSecrets implements SecretSource {
  readonly dir: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #create: boolean;

  /**
   * The secrets of the local store at `storeRoot`. With `create: false` (a dry run, `status`) a
   * missing tokenisation key is reported, not made.
   */
  constructor(
    storeRoot: string,
    opts: { env?: Readonly<Record<string, string | undefined>>; create?: boolean } = {},
  ) {
    this.dir = join(storeRoot, SECRETS_DIR);
    this.#env = opts.env ?? process.env;
    this.#create = opts.create ?? true;
  }

  /** The key file of a secret. */
  path(name: string): string {
    return join(this.dir, name);
  }

  async origin(s: SecretDef): Promise<SecretOrigin> {
    const variable = secretVariable(s.name);
    const v = this.#env[variable];
    if (v !== undefined && v !== "") return { kind: "environment", variable };
    const path = this.path(s.name);
    return (await exists(path)) ? { kind: "file", path } : { kind: "missing", path };
  }

  async read(s: SecretDef): Promise<string> {
    const variable = secretVariable(s.name);
    const v = this.#env[variable];
    if (v !== undefined && v !== "") return v;
    const path = this.path(s.name);
    const found = await this.#readFile(path);
    if (found !== undefined) return found;
    if (s.use !== "tokenisation") {
      throw new SecretMissingError(
        `secret "${s.name}" is not set: set ${variable}, or store it with \`tributary secrets set ${s.name}\` (reads the value from standard input).`,
      );
    }
    if (!this.#create) {
      throw new SecretMissingError(
        `secret "${s.name}" has no key yet: the next tributary materialize makes one in ${path} (or set ${variable}).`,
      );
    }
    // First use of a tokenisation key: make one. Exclusive create: a concurrent run's key wins, and is read.
    await this.#ensureDir();
    try {
      const handle = await open(path, "wx", 0o600);
      try {
        await handle.writeFile(`${generateKey()}\n`);
      } finally {
        await handle.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    return (await this.#readFile(path))!;
  }

  /**
   * Replace a tokenisation key's file with a new key; returns the ids before and after. A value the
   * environment gives wins over the file: `shadowed` says so.
   */
  async rotate(s: SecretDef): Promise<{ before?: string; after: string; path: string; shadowed?: string }> {
    const path = this.path(s.name);
    const old = await this.#readFile(path);
    const key = generateKey();
    await this.#replace(path, key);
    const variable = secretVariable(s.name);
    const env = this.#env[variable];
    return {
      ...(old === undefined ? {} : { before: keyId(old) }),
      after: keyId(key),
      path,
      ...(env !== undefined && env !== "" ? { shadowed: variable } : {}),
    };
  }

  /** Store a secret's value in its key file; an existing file is replaced only when `replace` says so. */
  async set(s: SecretDef, value: string, replace: boolean): Promise<{ path: string; replaced: boolean }> {
    const path = this.path(s.name);
    const existed = await exists(path);
    if (existed && !replace) {
      throw new SecretMissingError(
        `secret "${s.name}" already has a key file (${path}); pass --replace to replace it.`,
      );
    }
    await this.#replace(path, value);
    return { path, replaced: existed };
  }

  /** The value of a key file, or undefined; refused when others may read it. */
  async #readFile(path: string): Promise<string | undefined> {
    let mode: number;
    try {
      mode = (await stat(path)).mode;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    if (process.platform !== "win32" && (mode & 0o077) !== 0) {
      throw new SecretMissingError(
        `key file ${path} may be read by others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}): run chmod 600 ${path}.`,
      );
    }
    const value = (await readFile(path, "utf8")).replace(/\r?\n$/, "");
    if (value === "") throw new SecretMissingError(`key file ${path} is empty.`);
    return value;
  }

  async #ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is masked by the umask, and an existing folder keeps its own: make it owner-only.
    await chmod(this.dir, 0o700);
  }

  /** Write `value` to a new owner-only file beside `path`, then rename it over `path`. */
  async #replace(path: string, value: string): Promise<void> {
    await this.#ensureDir();
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(tmp, `${value}\n`, { mode: 0o600, flag: "wx" });
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/**
 * The secrets of a store: `TRIBUTARY_SECRET_<NAME>`, else the store's key files (a local folder's
 * `_secrets/`); for another store, the environment only. `create: false` (dry runs, status, the page)
 * reports a missing tokenisation key instead of making one.
 */
export function storeSecrets(store: ObjectStore, opts: { create?: boolean } = {}): SecretSource {
  return store instanceof LocalStore ? new LocalSecrets(store.root, opts) : environmentSecrets();
}
