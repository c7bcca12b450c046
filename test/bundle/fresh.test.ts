/**
 * When a bundle folder can deploy a stack's functions (bundle/fresh.ts), on the suite's prebuilt bundles
 * and variants of them; and what the program does with a folder it must not replace.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadGraph } from "../../src/contract/graph-module.ts";
import { type BundleNeed, bundleNeeds, bundleProblem } from "../../src/infra/bundle/fresh.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import { SynthError, synth } from "../../src/infra/synth/index.ts";
import { EXAMPLE } from "../cli/run.ts";

/** The example project: its graph, its stacks, and the bundles the suite built from it. */
const repo = EXAMPLE;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-fresh-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A copy of a bundle folder made of links to its files, with its manifest edited by `edit`. */
function linked(from: string, to: string, edit: (m: Record<string, unknown>) => void = () => {}): string {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [path.join(from, e.name), path.join(to, e.name)];
    if (e.isDirectory()) {
      linked(src, dst);
    } else if (e.name === "tributary-bundle.json") {
      const manifest = JSON.parse(fs.readFileSync(src, "utf8")) as Record<string, unknown>;
      edit(manifest);
      fs.writeFileSync(dst, JSON.stringify(manifest));
    } else {
      fs.symlinkSync(src, dst);
    }
  }
  return to;
}

let need: BundleNeed;
let built: string;
beforeAll(async () => {
  const plan = planDeployment(
    await loadGraph(undefined, repo),
    readStackConfig(configMap(repo, "dev-aws"), "dev-aws"),
  );
  [need] = bundleNeeds(plan, "aws") as [BundleNeed];
  built = path.join(inject("bundles").dir, "aws-arm64");
});

describe("bundleProblem", () => {
  it("finds nothing wrong with the bundle built from the project as it is", () => {
    expect(need).toMatchObject({ cloud: "aws", arch: "arm64", sourceMaps: false });
    expect(need.functions.map((f) => f.id)).toContain("daily_revenue");
    expect(bundleProblem(built, need, repo)).toBeUndefined();
  });

  it("says what is wrong with a folder that cannot deploy the stack's functions", () => {
    const variant = (name: string, edit?: (m: Record<string, unknown>) => void) =>
      linked(built, path.join(dir, name), edit);
    const empty = path.join(dir, "empty");
    fs.mkdirSync(empty);
    const other = path.join(dir, "other");
    fs.symlinkSync(path.join(inject("bundles").dir, "gcp-x64"), other);
    const edited = variant("edited");
    fs.rmSync(path.join(edited, "index.mjs"));
    fs.writeFileSync(path.join(edited, "index.mjs"), "export const handler = () => {};\n");
    const cases = {
      [path.join(dir, "missing")]: "which does not exist",
      [empty]: "which holds no Tributary bundle",
      [other]: "which holds the bundle for gcp-x64",
      [variant("mapped", (m) => {
        m.sourceMaps = true;
      })]: "built with source maps, which the stack does not ship (tributary:functions.sourceMaps is off)",
      [edited]: "whose files changed since it was built (index.mjs)",
      [variant("stale", (m) => {
        delete (m.functions as Record<string, string>).daily_revenue;
      })]: 'built from a graph without "daily_revenue"',
      [variant("kind", (m) => {
        (m.functions as Record<string, string>).daily_revenue = "ingest";
      })]: 'built from a graph in which "daily_revenue" is a source',
    };
    expect(Object.fromEntries(Object.keys(cases).map((d) => [d, bundleProblem(d, need, repo)]))).toEqual(
      cases,
    );
  });

  it("with the project's root, also whether what it was built from changed since", () => {
    const changed = linked(built, path.join(dir, "changed"), (m) => {
      const inputs = m.inputs as Record<string, string>;
      inputs["examples/commerce/assets/index.ts"] = "0".repeat(16);
      inputs["examples/commerce/assets/gone.ts"] = "0".repeat(16);
    });
    const earlier = linked(built, path.join(dir, "earlier"), (m) => {
      delete m.inputs;
    });
    expect([bundleProblem(changed, need, repo), bundleProblem(earlier, need, repo)]).toEqual([
      "whose sources changed since it was built (examples/commerce/assets/gone.ts, examples/commerce/assets/index.ts)",
      "built by an earlier Tributary, which did not record what it was built from",
    ]);
    // Without the root (what a program that calls the adapters itself checks): the folder only.
    expect([bundleProblem(changed, need), bundleProblem(earlier, need)]).toEqual([undefined, undefined]);
  });
});

describe("the program and a bundles folder that holds something else", () => {
  it("leaves it alone and stops, naming the folder and the setting, instead of building into it", async () => {
    const mine = path.join(dir, "mine");
    fs.mkdirSync(path.join(mine, "aws-arm64"), { recursive: true });
    fs.writeFileSync(path.join(mine, "aws-arm64", "notes.txt"), "keep me\n");
    await expect(
      synth({ root: repo, stack: "dev-aws", override: { "tributary:bundles": mine } }),
    ).rejects.toThrow(
      new SynthError(
        `stack dev-aws deploys its functions from ${mine}/aws-arm64 (tributary:bundles), which holds files that are not a Tributary bundle; they are left alone: empty the folder, or name another in tributary:bundles.`,
      ),
    );
    expect(fs.readdirSync(path.join(mine, "aws-arm64"))).toEqual(["notes.txt"]);
  }, 120_000);
});
