/**
 * Keyed tokenisation of personal data.
 *
 * A tokenisation secret is key material (any string of at least 32 bytes; generated ones are 32 random
 * bytes, base64url). From it:
 * - each tenant gets its own key, HKDF-SHA256 of the material with the tenant as context: tokens of one
 *   tenant say nothing about another's, and no tenant's key gives the secret back;
 * - a token is `k<kid>:` + base64url(HMAC-SHA256(tenant key, value)): deterministic (the same key gives
 *   the same token in every run, so tokens join), not reversible without the key (an attacker with a
 *   list of e-mail addresses cannot recompute them), and carrying the key's id;
 * - the key id (`kid`) is 8 hex digits of an HMAC of a fixed label under the material: it names the
 *   key without revealing it. A rotated key has another id, so its tokens differ in their prefix too,
 *   and the id is what the data version of a tokenising asset records (runtime/engine/steps.ts).
 */
import { createHmac, hkdfSync } from "node:crypto";
import { TributaryError } from "../../kit/errors.ts";

/** Key material shorter than this (in UTF-8 bytes) is refused: 256 bits, the size of the HMAC's key. */
export const MIN_KEY_BYTES = 32;

const SALT = "tributary/pii-token/v1";
const KID_LABEL = "tributary/key-id/v1";

/** A secret's value that cannot be used as it is. */
export class SecretValueError extends TributaryError {
  override name = "SecretValueError";
}

/** A tokenisation key: its id, and tokens under it. */
export interface TokenKey {
  /** 8 hex digits naming the key, e.g. "3f9a1c2e"; tokens start with `k<kid>:`. */
  readonly kid: string;
  /** The token of `value` for `tenant`. */
  token(tenant: string, value: string): string;
}

/** The id of a key: derived from the material, never the material. */
export function keyId(material: string): string {
  return createHmac("sha256", Buffer.from(material, "utf8")).update(KID_LABEL).digest("hex").slice(0, 8);
}

/** The tokenisation key of secret `name`, whose value is `material`. */
export function tokenKey(name: string, material: string): TokenKey {
  const ikm = Buffer.from(material, "utf8");
  if (ikm.length < MIN_KEY_BYTES) {
    throw new SecretValueError(
      `secret "${name}" is ${ikm.length} bytes long; a tokenisation key needs at least ${MIN_KEY_BYTES} (e.g. \`openssl rand -base64 32\`).`,
    );
  }
  const kid = keyId(material);
  const prefix = `k${kid}:`;
  const tenants = new Map<string, Buffer>();
  const tenantKey = (tenant: string): Buffer => {
    let key = tenants.get(tenant);
    if (key === undefined) {
      key = Buffer.from(hkdfSync("sha256", ikm, SALT, `tenant:${tenant}`, 32));
      tenants.set(tenant, key);
    }
    return key;
  };
  return {
    kid,
    token: (tenant, value) =>
      prefix + createHmac("sha256", tenantKey(tenant)).update(value, "utf8").digest("base64url"),
  };
}
