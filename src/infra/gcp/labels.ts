/**
 * The plan's tags as GCP labels: keys and values of lowercase letters, digits, `_` and `-`, at most 63
 * characters, keys starting with a letter. `tributary:asset` becomes `tributary-asset`, a value like
 * "team:growth" becomes "team_growth"; "_shared" stays as it is.
 */

const MAX = 63;

/** A tag key as a label key: lowercase, every other character `-`, starting with a letter. */
export function labelKey(key: string): string {
  const k = key
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "-")
    .slice(0, MAX);
  return /^[a-z]/.test(k) ? k : `t${k}`.slice(0, MAX);
}

/** A tag value as a label value: lowercase, every other character `_`. */
export function labelValue(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, "_")
    .slice(0, MAX);
}

/** The plan's tags (and extra labels) as GCP labels, keys sorted. */
export function labelsOf(
  tags: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...tags, ...extra }).sort(([a], [b]) => (a < b ? -1 : 1)))
    out[labelKey(k)] = labelValue(v);
  return out;
}
