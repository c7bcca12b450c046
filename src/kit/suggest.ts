import { distance } from "fastest-levenshtein";

/**
 * Up to `max` candidates close to `wanted`, closest first (ties by name): the "did you mean" of an
 * error message. A candidate is close when it is within a third of the longer word's length of edits,
 * or when one contains the other (both at least three characters long).
 */
export function closest(wanted: string, candidates: Iterable<string>, max = 3): string[] {
  const scored: { name: string; d: number }[] = [];
  for (const name of candidates) {
    const d = distance(wanted, name);
    const limit = Math.max(2, Math.ceil(Math.max(wanted.length, name.length) / 3));
    const contains =
      Math.min(wanted.length, name.length) >= 3 && (name.includes(wanted) || wanted.includes(name));
    if (d <= limit || contains) scored.push({ name, d });
  }
  scored.sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return scored.slice(0, max).map((s) => s.name);
}

/** ` Did you mean "a" or "b"?` or the empty string. */
export function didYouMean(wanted: string, candidates: Iterable<string>): string {
  const found = closest(wanted, candidates);
  if (found.length === 0) return "";
  const quoted = found.map((f) => `"${f}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
  return ` Did you mean ${list}?`;
}
