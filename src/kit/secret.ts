/**
 * Secrets as part of the graph: an asset or source names the secrets it needs, the graph knows them,
 * and every consumer of the graph derives from that what it provisions (a stack's secret store and the
 * grants to read it), what it reads (a function reads only its own) and what it versions (a key that
 * tokens are made with is part of the data version of what it tokenised). A declaration holds a name and
 * what the secret is for, never a value.
 */
import { DeclarationError } from "./errors.ts";
import { assertKey } from "./keys.ts";

/**
 * What a secret is used for:
 * - `tokenisation`: the key personal data is tokenised with (`pii_token(tenant, value)` in SQL,
 *   `ctx.token(tenant, value)` in a compute function). A stack may generate it on first deploy; the
 *   local store keeps one in a key file; its fingerprint is part of the data version of the assets
 *   that use it, so a new key re-materialises them and their downstream.
 * - `value`: a value the asset's code reads (an API token, a provider's key) with `ctx.secret(name)`;
 *   it must be given (stack config, environment), and changing it re-materialises nothing.
 */
export type SecretUse = "tokenisation" | "value";

export const SECRET_USES: readonly SecretUse[] = ["tokenisation", "value"];

/** A declared secret: its name and what it is for. Immutable; made by `secret()`. */
export interface SecretDef<N extends string = string> {
  readonly kind: "secret";
  readonly name: N;
  readonly use: SecretUse;
  readonly description?: string;
}

export interface SecretOptions {
  /** What the secret is for (default "value"); see {@link SecretUse}. */
  use?: SecretUse;
  /** What it is, for whoever provisions or rotates it. */
  description?: string;
}

/**
 * Declare a secret. Its name follows the asset key rules (lowercase snake case): it becomes an
 * environment variable (`TRIBUTARY_SECRET_<NAME>`), a key file and each cloud's secret name.
 */
export function secret<const N extends string>(name: N, opts: SecretOptions = {}): SecretDef<N> {
  assertKey(name, "secret");
  const use = opts.use ?? "value";
  if (!SECRET_USES.includes(use)) {
    throw new DeclarationError(
      `secret "${name}": use must be ${SECRET_USES.map((u) => `"${u}"`).join(" or ")}, not ${JSON.stringify(use)}.`,
      [],
    );
  }
  const def: { -readonly [K in keyof SecretDef<N>]: SecretDef<N>[K] } = { kind: "secret", name, use };
  if (opts.description !== undefined) def.description = opts.description;
  const frozen = Object.freeze(def);
  const same = everDeclared.get(name);
  if (same) same.push(frozen);
  else everDeclared.set(name, [frozen]);
  return frozen;
}

/** Every secret declared with this kit, by name: how a spec copied without its declarations finds them. */
const everDeclared = new Map<string, SecretDef[]>();

/**
 * The one declaration of `name` made with this kit, when every declaration of that name says the same;
 * for a spec that names a secret it was not given as an object (a copy of a spec keeps names only).
 */
export function soleDeclaration(name: string): SecretDef | undefined {
  const all = everDeclared.get(name);
  if (!all) return undefined;
  const first = all[0]!;
  return all.every((s) => s.use === first.use && s.description === first.description) ? first : undefined;
}

/** What `secrets` accepts: a declared secret (typed) or its name. */
export type SecretLike = SecretDef | string;

/** Whether a value is a secret declaration (`secret()`'s result). */
export function isSecret(value: unknown): value is SecretDef {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "secret" &&
    typeof (value as { name?: unknown }).name === "string"
  );
}

/** The name of each secret an asset or source declares, in declaration order; duplicates refused. */
export function secretNames(owner: string, what: string, list: readonly unknown[] | undefined): string[] {
  const names: string[] = [];
  for (const item of list ?? []) {
    const name = typeof item === "string" ? item : isSecret(item) ? item.name : undefined;
    if (name === undefined) {
      throw new DeclarationError(
        `${what} "${owner}": secrets must be declared secrets (secret("name", {...})) or their names; got ${JSON.stringify(item) ?? String(item)}.`,
        [owner],
      );
    }
    if (names.includes(name)) {
      throw new DeclarationError(`${what} "${owner}": secret "${name}" is listed twice in secrets.`, [owner]);
    }
    names.push(name);
  }
  return names;
}

/**
 * The secret declarations an asset or source was given as objects (`secrets: [key]`), for the graph
 * to collect: the spec itself keeps names only.
 */
const declared = new WeakMap<object, readonly SecretDef[]>();

export function rememberSecrets(spec: object, list: readonly unknown[] | undefined): void {
  const defs = (list ?? []).filter(isSecret);
  if (defs.length > 0) declared.set(spec, Object.freeze(defs));
}

/** The secret declarations `spec` was given as objects (none when it named them by name only). */
export function declaredSecrets(spec: object): readonly SecretDef[] {
  return declared.get(spec) ?? [];
}
