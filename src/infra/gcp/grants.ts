/**
 * IAM bindings of a function on the stores, built from the plan's grants. Pure: bucket names in,
 * roles and IAM conditions out, so the exact conditions are unit-tested without Pulumi.
 *
 * Cloud Storage has no object-prefix resources in IAM, so every object-level binding carries a condition
 * naming the exact prefixes the plan grants (`resource.name.startsWith("projects/_/buckets/<b>/objects/<p>")`).
 * Listing is a request on the bucket, not on an object: its condition reads the list request's prefix
 * (the `storage.googleapis.com/objectListPrefix` API attribute), so a function lists only under the
 * prefixes it was granted "list" on and must pass such a prefix.
 *
 * Roles, the narrowest predefined ones for each set of rights:
 *   - read                  → roles/storage.objectViewer (get; its list right never matches an object condition)
 *   - write, without delete → roles/storage.objectCreator (create only: GCS needs delete to overwrite,
 *                             so these prefixes are append-only, as manifests and quarantine are meant to be)
 *   - delete (with write)   → roles/storage.objectUser (get, create, overwrite, delete)
 *   - list                  → roles/storage.objectViewer with the list-prefix condition
 */
import type { Access, GrantPlan, StoreId } from "../plan/types.ts";

export const ROLES = {
  viewer: "roles/storage.objectViewer",
  creator: "roles/storage.objectCreator",
  user: "roles/storage.objectUser",
} as const;

/** IAM allows at most 12 logical operators in a condition: 12 prefixes joined by 11 `||`. */
export const MAX_PREFIXES_PER_CONDITION = 12;

export type BindingKind = "read" | "create" | "modify" | "list";

export interface BucketBinding {
  readonly store: StoreId;
  readonly kind: BindingKind;
  /** Distinguishes the binding among the function's children, e.g. "curated-read" or "curated-read-2". */
  readonly suffix: string;
  readonly role: string;
  readonly condition: { readonly title: string; readonly expression: string };
}

const STORES: readonly StoreId[] = ["raw", "curated", "quarantine"];
const ROLE_OF: Record<BindingKind, string> = {
  read: ROLES.viewer,
  create: ROLES.creator,
  modify: ROLES.user,
  list: ROLES.viewer,
};

/** Which binding a grant's object rights fall in (list is separate). */
function objectKinds(access: readonly Access[]): BindingKind[] {
  if (access.includes("delete")) return ["modify"];
  const kinds: BindingKind[] = [];
  if (access.includes("read")) kinds.push("read");
  if (access.includes("write")) kinds.push("create");
  return kinds;
}

/** A CEL string literal. */
function literal(s: string): string {
  return JSON.stringify(s);
}

/** The condition term that matches the objects under `prefix` of `bucket`. */
export function objectPrefixTerm(bucket: string, prefix: string): string {
  return `resource.name.startsWith(${literal(`projects/_/buckets/${bucket}/objects/${prefix}`)})`;
}

/** The condition term that matches list requests under `prefix`. */
export function listPrefixTerm(prefix: string): string {
  return `api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith(${literal(prefix)})`;
}

/** The function's bucket bindings: per store and kind of right, one condition over the exact prefixes. */
export function bucketBindings(
  grants: readonly GrantPlan[],
  buckets: Readonly<Record<StoreId, string>>,
): BucketBinding[] {
  const out: BucketBinding[] = [];
  for (const store of STORES) {
    const mine = grants.filter((g) => g.store === store);
    for (const kind of ["read", "create", "modify", "list"] as const) {
      const prefixes = [
        ...new Set(
          mine
            .filter((g) =>
              kind === "list" ? g.access.includes("list") : objectKinds(g.access).includes(kind),
            )
            .map((g) => g.prefix),
        ),
      ];
      for (let i = 0; i < prefixes.length; i += MAX_PREFIXES_PER_CONDITION) {
        const chunk = prefixes.slice(i, i + MAX_PREFIXES_PER_CONDITION);
        const n = i / MAX_PREFIXES_PER_CONDITION;
        out.push({
          store,
          kind,
          suffix: n === 0 ? `${store}-${kind}` : `${store}-${kind}-${n + 1}`,
          role: ROLE_OF[kind],
          condition: {
            title: `${kind} ${store} prefixes${n === 0 ? "" : ` (${n + 1})`}`,
            expression: chunk
              .map((p) => (kind === "list" ? listPrefixTerm(p) : objectPrefixTerm(buckets[store], p)))
              .join(" || "),
          },
        });
      }
    }
  }
  return out;
}

/** A service account id (6-30 characters, lowercase, starting with a letter) for a logical name. */
export function accountId(name: string, hash: (s: string) => string): string {
  const clean = name.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  if (clean.length <= 30) return clean;
  return `${clean.slice(0, 23).replace(/-+$/, "")}-${hash(name).slice(0, 6)}`;
}

/** The Pub/Sub subscription filter of a trigger (at most 256 bytes, as Pub/Sub allows). */
export function subscriptionFilter(
  type: string,
  attribute: "asset" | "source",
  values: readonly string[],
): string {
  const any = values.map((v) => `attributes.${attribute} = ${literal(v)}`);
  const which = any.length === 1 ? any[0]! : `(${any.join(" OR ")})`;
  return `attributes.type = ${literal(type)} AND ${which}`;
}
