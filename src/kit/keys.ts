import { DeclarationError, InvalidKeyError } from "./errors.ts";

/** Asset keys become SQL identifiers, storage paths and cloud resource names: lowercase snake case. */
export const KEY_PATTERN = /^[a-z][a-z0-9_]*$/;
export const MAX_KEY_LENGTH = 63;

export function assertKey(key: unknown, what = "asset"): asserts key is string {
  if (typeof key !== "string" || !KEY_PATTERN.test(key) || key.length > MAX_KEY_LENGTH) {
    throw new InvalidKeyError(
      `${what} key ${JSON.stringify(key)} is invalid: keys must match ${KEY_PATTERN.source} ` +
        `(lowercase letters, digits and "_", starting with a letter) and be at most ${MAX_KEY_LENGTH} characters, ` +
        `because they become table names, storage paths and cloud resource names.`,
      typeof key === "string" ? [key] : [],
    );
  }
}

/** Static partition keys and tenant ids become path segments: no separators, no dots-only names, no quotes. */
export const PARTITION_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export function assertPartitionValue(value: unknown, where: string): asserts value is string {
  if (typeof value !== "string" || !PARTITION_VALUE_PATTERN.test(value) || value.length > 128) {
    throw new DeclarationError(
      `${where}: partition key ${JSON.stringify(value)} is invalid: static partition keys must match ` +
        `${PARTITION_VALUE_PATTERN.source} (letters, digits, "_" and "-"), because they become storage paths.`,
      [],
    );
  }
}
