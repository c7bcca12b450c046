/**
 * What every cloud's secrets share: where a secret's value comes from (the stack's secret config, or
 * generated on the first deploy) and the references a function's environment names. A value is a
 * Pulumi secret from end to end: encrypted in the stack's state, shown as a secret by `pulumi preview`,
 * and printed as a marker by `tributary synth`.
 */

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { SECRET_PLACEHOLDER } from "./config.ts";
import { runError } from "./errors.ts";
import type { SecretPlan } from "./plan/types.ts";

/** Bytes of a generated tokenisation key: 256 bits, the HMAC key's size. */
export const GENERATED_BYTES = 32;
/** The shortest value a tokenisation key may have, in bytes (runtime/secrets/token.ts refuses shorter). */
const MIN_KEY_BYTES = 32;

/** Each configured secret's value, by name (read once by the program from `tributary:secrets`). */
export type SecretValues = Readonly<Record<string, pulumi.Output<string>>>;

/**
 * The secrets' values of `tributary:secrets` as the program is given them (plain text in Pulumi's config
 * map, encrypted at rest), each made a Pulumi secret. A tokenisation key too short to be one stops the
 * deploy, without its value. `tributary synth` passes the placeholder for an encrypted value.
 */
export function configuredSecrets(config: Record<string, string>, plan: readonly SecretPlan[]): SecretValues {
  const text = config["tributary:secrets"];
  if (text === undefined) return {};
  const values = JSON.parse(text) as Record<string, string>;
  const out: Record<string, pulumi.Output<string>> = {};
  for (const [name, value] of Object.entries(values)) {
    const s = plan.find((p) => p.name === name);
    const bytes = Buffer.byteLength(value, "utf8");
    if (s?.use === "tokenisation" && value !== SECRET_PLACEHOLDER && bytes < MIN_KEY_BYTES) {
      throw runError(
        `tributary:secrets.${name} is ${bytes} bytes long; a tokenisation key needs at least ${MIN_KEY_BYTES} (e.g. \`openssl rand -base64 32\`).`,
      );
    }
    out[name] = pulumi.secret(value);
  }
  return out;
}

/**
 * A secret's value: the configured one, or, for a tokenisation key without one, 32 random bytes
 * (base64) generated on the first deploy and kept in the stack's state as a secret. The generator is a
 * child of `parent`, named `<name>-generated`; replacing it (`pulumi up --replace <its URN>`) rotates the key.
 */
export function secretValue(
  name: string,
  secret: SecretPlan,
  values: SecretValues,
  parent: pulumi.Resource,
): pulumi.Output<string> {
  const given = values[secret.name];
  if (secret.value === "config") {
    if (given === undefined)
      throw runError(`tributary:secrets.${secret.name} is missing from the stack's config.`);
    return given;
  }
  const bytes = new random.RandomBytes(`${name}-generated`, { length: GENERATED_BYTES }, { parent });
  return pulumi.secret(bytes.base64);
}

/**
 * The value of a function's `FUNCTION_ENV.secrets` variable: `{ "<name>": "<reference>" }` as JSON, for
 * the secrets `names`, keys sorted.
 */
export function secretReferences(
  names: readonly string[],
  references: Readonly<Record<string, pulumi.Input<string>>>,
): pulumi.Output<string> {
  const sorted = [...names].sort();
  for (const n of sorted) {
    if (references[n] === undefined) throw new Error(`no reference for secret "${n}" (a bug in Tributary)`);
  }
  return pulumi
    .all(sorted.map((n) => references[n]!))
    .apply((refs) => JSON.stringify(Object.fromEntries(sorted.map((n, i) => [n, refs[i]]))));
}
