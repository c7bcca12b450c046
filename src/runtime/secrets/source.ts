/**
 * Where a run's secret values come from: the one port the engine and the handlers read secrets
 * through. Locally: the environment, then the store's key files (local.ts); in a cloud function: the
 * references its environment names, read with the cloud's SDK (cloud.ts). Values are never logged,
 * never written to manifests or lineage events: only a tokenisation key's id is.
 */

import { TributaryError } from "../../kit/errors.ts";
import type { SecretDef } from "../../kit/secret.ts";

/** A declared secret has no value where this run looks for it. */
export class SecretMissingError extends TributaryError {
  override name = "SecretMissingError";
}

export interface SecretSource {
  /** The value of a declared secret; a SecretMissingError (saying where to set it) when it has none. */
  read(secret: SecretDef): Promise<string>;
}

/** The environment variable a secret's value may be given in: `TRIBUTARY_SECRET_<NAME>`. */
export function secretVariable(name: string): string {
  return `TRIBUTARY_SECRET_${name.toUpperCase()}`;
}

/**
 * Secrets from environment variables only (`TRIBUTARY_SECRET_<NAME>`): the engine's default when the
 * caller gives no source.
 */
export function environmentSecrets(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SecretSource {
  return {
    read: async (s) => {
      const value = env[secretVariable(s.name)];
      if (value === undefined || value === "") {
        throw new SecretMissingError(
          `secret "${s.name}" is not set: set ${secretVariable(s.name)}, or run through tributary materialize, which keeps ${s.use === "tokenisation" ? "a generated key" : "it"} in the store's _secrets/ folder.`,
        );
      }
      return value;
    },
  };
}

/** Secrets from a map of values (an embedding application's own, or a test's). */
export function secretValues(values: Readonly<Record<string, string>>): SecretSource {
  return {
    read: async (s) => {
      const value = values[s.name];
      if (value === undefined) throw new SecretMissingError(`secret "${s.name}" has no value here.`);
      return value;
    },
  };
}
