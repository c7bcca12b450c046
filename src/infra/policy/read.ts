/**
 * Reading resource inputs that may be absent, or unknown during a preview: shared by every cloud's checks.
 */

/** A value the engine does not know yet (a preview's computed output). Rules skip it. */
export const UNKNOWN: unique symbol = Symbol.for("tributary.policy.unknown");
export type Unknown = typeof UNKNOWN;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value at `path`; {@link UNKNOWN} as soon as a step is unknown, undefined when a step is missing. */
export function at(v: unknown, ...path: string[]): unknown {
  let cur = v;
  for (const key of path) {
    if (cur === UNKNOWN) return UNKNOWN;
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}
