/** Finding resources in a synthesis by logical name, for the adapters' tests. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { type ResourceRecord, type Synthesis, synth } from "../../src/infra/synth/index.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const PROGRAM = path.join(HERE, "fixtures", "disposable-program.ts");

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

/**
 * `resources` with the options of the one resource of that name and type replaced by `options` (undefined:
 * none): a variant of a stack for the data-loss guard's rule. The original is left as it was.
 */
export function reoptioned(
  resources: readonly ResourceRecord[],
  name: string,
  type: string,
  options: Record<string, unknown> | undefined,
): ResourceRecord[] {
  expect(resources.filter((r) => r.name === name && r.type === type)).toHaveLength(1);
  return resources.map((r) => {
    if (r.name !== name || r.type !== type) return r;
    const { options: _, ...rest } = r;
    return options === undefined ? rest : { ...rest, options };
  });
}

/** The options of a resource the data-loss guard keeps: no stack change deletes it, nor does removing it. */
export const GUARDED = { protect: true, retainOnDelete: true } as const;

/**
 * Every resource registered with options that keep it (all but `ignoreChanges`), as [type, name, those
 * options], sorted by type then name.
 */
export function guarded(synthesis: Synthesis): [string, string, Record<string, unknown>][] {
  return synthesis.resources
    .map((r): [string, string, Record<string, unknown>] => {
      const { ignoreChanges: _, ...kept } = r.options ?? {};
      return [r.type, r.name, kept];
    })
    .filter(([, , kept]) => Object.keys(kept).length > 0)
    .sort(([t1, n1], [t2, n2]) => (t1 < t2 ? -1 : t1 > t2 ? 1 : n1 < n2 ? -1 : n1 > n2 ? 1 : 0));
}

/**
 * The synthesis of `stack` (a stack of this repository) for the reference graph with some specs declared
 * disposable (`which`: every asset and source, or the sources only), by the fixture program
 * fixtures/disposable-program.ts, in a throwaway project that shares this one's stack files and packages.
 */
export async function disposableSynth(stack: string, which: "all" | "sources"): Promise<Synthesis> {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-disposable-"));
  try {
    fs.writeFileSync(
      path.join(project, "Pulumi.yaml"),
      `name: tributary\nruntime: nodejs\nmain: ${PROGRAM}\nstackConfigDir: stacks\n`,
    );
    // The stack files are the example's.
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(project, "node_modules"), "dir");
    fs.symlinkSync(path.join(REPO, "examples", "commerce", "stacks"), path.join(project, "stacks"), "dir");
    return await synth({ root: project, stack, override: { "fixture:disposable": which } });
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
}
