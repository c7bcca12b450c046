/**
 * The secrets of a deployed function: its environment names each secret its asset declares by reference
 * (`TRIBUTARY_SECRET_REFS`, JSON `{ "<name>": "<reference>" }`, written by infra from the plan), and the
 * function reads each value with its cloud's SDK (aws.ts, gcp.ts, azure.ts beside this file), once per
 * warm instance: a reference names a version, so a new value is a new reference, read afresh.
 *
 * A bundle run outside its cloud (`tributary invoke`, the fault-injection tests) may be given a secret
 * that has no reference as `TRIBUTARY_SECRET_<NAME>`, as the CLI is. A deployed function never is: the
 * policy pack's no-plain-secrets-in-environment refuses a variable named like a secret that holds a value.
 */

import { FUNCTION_ENV } from "../../contract/function-env.ts";
import type { SecretDef } from "../../kit/secret.ts";
import { SecretMissingError, type SecretSource, secretVariable } from "./source.ts";

/** Reads one secret's value by the reference a function's environment gives (a cloud's SDK call). */
export type SecretReader = (reference: string) => Promise<string>;

/** Values read, by reference, for the life of the instance; a failed read is forgotten (and retried). */
const values = new Map<string, Promise<string>>();

/** The secrets a function's environment names, read with `reader` (made on first use). */
export function functionSecrets(
  env: Readonly<Record<string, string | undefined>>,
  reader: () => SecretReader,
): SecretSource {
  let refs: Record<string, string> | undefined;
  let read: SecretReader | undefined;
  return {
    read: (s: SecretDef) => {
      refs ??= references(env);
      const ref = refs[s.name];
      const given = env[secretVariable(s.name)];
      if (ref === undefined && given !== undefined && given !== "") return Promise.resolve(given);
      if (ref === undefined) {
        return Promise.reject(
          new SecretMissingError(
            `handler: secret "${s.name}" is not in ${FUNCTION_ENV.secrets}: the function was deployed without it (or with a stale plan). Deploy it with pulumi up.`,
          ),
        );
      }
      let value = values.get(ref);
      if (value === undefined) {
        read ??= reader();
        value = read(ref);
        values.set(ref, value);
        value.catch(() => values.delete(ref));
      }
      return value;
    },
  };
}

function references(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const text = env[FUNCTION_ENV.secrets];
  if (text === undefined || text.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === "string")) as Record<
        string,
        string
      >;
    }
  } catch {}
  throw new SecretMissingError(
    `handler: ${FUNCTION_ENV.secrets} is not a JSON object of secret references; deploy the function with pulumi up.`,
  );
}

/** Forget every value read (tests). */
export function forgetSecretValues(): void {
  values.clear();
}
