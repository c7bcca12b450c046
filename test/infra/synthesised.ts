/** Finding resources in a synthesis by logical name, for the adapters' tests. */
import { expect } from "vitest";
import type { ResourceRecord, Synthesis } from "../../infra/synth/index.ts";

/**
 * `one(name, type?)`: the one cloud resource with that logical name (and type), asserting there is
 * exactly one; `inputs(name, type?)`: its inputs. `synthesis` is read at call time (tests set it in
 * `beforeAll`).
 */
export function lookup(synthesis: () => Synthesis) {
  const one = (name: string, type?: string): ResourceRecord => {
    const found = synthesis().resources.filter(
      (r) => r.name === name && r.custom && (!type || r.type === type),
    );
    expect(
      found.map((r) => r.urn),
      name,
    ).toHaveLength(1);
    return found[0]!;
  };
  return { one, inputs: (name: string, type?: string) => one(name, type).inputs };
}

/**
 * `resources` with the inputs of the one resource of that name and type replaced by `change` of a deep
 * copy of them: a broken variant of a stack, for the policy checks. The original is left as it was.
 */
export function edited(
  resources: readonly ResourceRecord[],
  name: string,
  type: string,
  change: (inputs: Record<string, unknown>) => Record<string, unknown>,
): ResourceRecord[] {
  expect(resources.filter((r) => r.name === name && r.type === type)).toHaveLength(1);
  return resources.map((r) =>
    r.name === name && r.type === type ? { ...r, inputs: change(structuredClone(r.inputs)) } : r,
  );
}
