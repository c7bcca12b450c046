/**
 * Deterministic names and ids for Azure. Pure: no Pulumi.
 *
 * Storage accounts, key vaults, Service Bus namespaces and function apps share one global DNS namespace
 * each, so their names carry a short hash of the subscription and stack: the same stack in the same
 * subscription always gets the same names (a re-run replaces nothing), two stacks never collide. Role
 * assignments are named by GUIDs derived the same way from what they grant.
 */
import * as crypto from "node:crypto";

/** A name-based (version 5 style, SHA-1) GUID of the given parts: the same parts, the same GUID. */
export function guid(...parts: readonly string[]): string {
  const hash = crypto
    .createHash("sha1")
    .update(`tributary\u0000${parts.join("\u0000")}`)
    .digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Six hex characters that tell one subscription's stack from every other. */
export function suffix(subscriptionId: string, stack: string): string {
  return crypto.createHash("sha256").update(`${subscriptionId}/${stack}`).digest("hex").slice(0, 6);
}

/** A storage account name: 3-24 lowercase letters and digits, e.g. `tribproddata1a2b3c`. */
export function storageAccountName(prefix: string, role: string, sfx: string): string {
  const base = `${prefix}${role}`.toLowerCase().replace(/[^a-z0-9]/g, "");
  return `${base.slice(0, 24 - sfx.length)}${sfx}`;
}

/** The longest host id the Functions host takes. */
export const MAX_HOST_ID = 32;

/**
 * The Functions host id of an app (`AzureFunctionsWebHost__hostid`): 1 to 32 lowercase letters, digits
 * and single dashes, not starting or ending with one. The app's name when it fits; else a cut of it and a
 * hash of the whole, so that two apps sharing a host storage account never share a host id (the host
 * keys its locks and timers by it; the default, the name cut to 32 characters, would collide).
 */
export function hostId(appName: string): string {
  const clean = appName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  if (clean !== "" && clean.length <= MAX_HOST_ID) return clean;
  const hash = crypto.createHash("sha256").update(appName).digest("hex").slice(0, 6);
  return `${clean.slice(0, MAX_HOST_ID - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** A globally unique dashed name (key vault: 24, function app: 60), e.g. `trib-prod-kv-1a2b3c`. */
export function dashedName(base: string, sfx: string, max: number): string {
  return `${base.slice(0, max - sfx.length - 1).replace(/-+$/, "")}-${sfx}`;
}
