/**
 * `registerEach` (infra/adapter.ts), under Pulumi's mocks: components constructed in order, the next one
 * only once fewer than `atOnce` are still registering, each counted until it and everything under it is
 * registered; below the bound, all at once as a plain loop would.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, expect, it } from "vitest";
import { registerEach } from "../../src/infra/adapter.ts";

/** What happened, in order: "constructed <component>" and "registered <resource>". */
const events: string[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        if (args.custom) events.push(`registered ${args.name}`);
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "project",
    "stack",
    true,
  );
});

class Part extends pulumi.CustomResource {
  constructor(name: string, opts: pulumi.CustomResourceOptions) {
    super("test:index:Part", name, {}, opts);
  }
}

/** A component with two resources under it. */
class Pair extends pulumi.ComponentResource {
  readonly parts: Part[];
  constructor(name: string, opts: pulumi.ComponentResourceOptions) {
    super("test:index:Pair", name, {}, opts);
    events.push(`constructed ${name}`);
    this.parts = ["a", "b"].map((part) => new Part(`${name}-${part}`, { parent: this }));
  }
}

/** `registerEach` over `names`, with every resource's registration awaited. */
async function pairs(
  names: readonly string[],
  atOnce: number,
  whileConstructing?: () => void,
): Promise<void> {
  const built: Pair[] = [];
  const done = registerEach(names, (name, opts) => built[built.push(new Pair(name, opts)) - 1]!, atOnce);
  whileConstructing?.();
  await done;
  await new Promise((registered) =>
    pulumi.all(built.flatMap((p) => p.parts.map((r) => r.urn))).apply(registered),
  );
}

/** The components all of whose resources were registered before `event`. */
function registeredBefore(event: string, names: readonly string[]): string[] {
  const before = events.slice(0, events.indexOf(event));
  return names.filter((n) => before.includes(`registered ${n}-a`) && before.includes(`registered ${n}-b`));
}

it("constructs the next component only when fewer than atOnce are registering", async () => {
  events.length = 0;
  const names = ["p0", "p1", "p2", "p3", "p4"];
  await pairs(names, 2);

  expect(events.filter((e) => e.startsWith("constructed"))).toEqual(names.map((n) => `constructed ${n}`));
  // Every resource was registered, once.
  expect(events.filter((e) => e.startsWith("registered")).sort()).toEqual(
    names.flatMap((n) => [`registered ${n}-a`, `registered ${n}-b`]),
  );
  // The first two at once; each later one after enough earlier ones were registered in full.
  expect(events.slice(0, 2)).toEqual(["constructed p0", "constructed p1"]);
  for (let i = 2; i < names.length; i++) {
    expect(registeredBefore(`constructed ${names[i]}`, names.slice(0, i)).length).toBeGreaterThanOrEqual(
      i - 1,
    );
  }
});

it("constructs every component at once when there are no more than atOnce", async () => {
  events.length = 0;
  const names = ["q0", "q1", "q2"];
  let atOnce: string[] = [];
  // All constructed synchronously, before anything could register.
  await pairs(names, 3, () => (atOnce = [...events]));
  expect(atOnce).toEqual(names.map((n) => `constructed ${n}`));
  expect(events.length).toBe(9);
});
