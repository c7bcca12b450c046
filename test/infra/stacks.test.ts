/**
 * Every stack of the example (examples/commerce/stacks/): `tributary synth` (mocks) and the real Pulumi runner (`cmd/run` against the
 * local monitor, as `pulumi up` starts the program) register the same resources, and the security
 * policy pack passes on them; deliberately broken variants fail with the rule's name.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { configMap, StackConfigError } from "../../src/infra/config.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { pulumiProject } from "../../src/infra/pulumi-project.ts";
import { type ResourceRecord, SynthError, synth } from "../../src/infra/synth/index.ts";
import { runProgram } from "../../src/infra/synth/monitor.ts";
import { configRegion, fakeInvoke, fakeOutputs } from "../../src/infra/synth/outputs/index.ts";
import { EXAMPLE } from "../cli/run.ts";
import { examplePulumiRun } from "./example-project.ts";

const root = EXAMPLE;
const stacks = fs
  .readdirSync(path.join(root, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

it("runs the example's program as its Pulumi.yaml says: tributary/register loads the TypeScript, not the runner", () => {
  expect(pulumiProject(root)).toEqual({
    name: "tributary",
    main: "deploy.ts",
    stackConfigDir: path.join(root, "stacks"),
    namesStackConfigDir: true,
    nodeargs: ["--import", "tributary/register"],
    typescript: false,
  });
});

describe.each(stacks)("stack %s", (stack) => {
  it("registers under Pulumi's own runner exactly what synth prints, and passes the policy pack", async () => {
    const config = configMap(root, stack);
    const region = configRegion(config);
    const [mocked, again, real] = await Promise.all([
      synth({ root, stack }),
      synth({ root, stack }),
      runProgram({
        ...examplePulumiRun(),
        stack,
        config,
        newResource: (r) => fakeOutputs(r, region),
        invoke: (token, args) => fakeInvoke(token, args, config),
      }),
    ]);
    expect(mocked.resources.length).toBeGreaterThan(100);
    expect(JSON.stringify(real.resources)).toBe(JSON.stringify(mocked.resources));
    expect(real.outputs).toEqual(mocked.outputs);
    // Deterministic: the same graph and config give byte-identical JSON.
    expect(JSON.stringify(again)).toBe(JSON.stringify(mocked));
    expect(evaluate(mocked.resources)).toEqual([]);
  }, 180_000);
});

describe("the policy pack on broken variants of a synthesised stack", () => {
  let base: ResourceRecord[] | undefined;
  async function resources(): Promise<ResourceRecord[]> {
    base ??= (await synth({ root, stack: "dev-aws" })).resources;
    return structuredClone(base);
  }
  const change = (rs: ResourceRecord[], name: string, edit: (inputs: Record<string, unknown>) => void) => {
    const r = rs.find((x) => x.name === name && x.custom);
    if (!r) throw new Error(`no resource ${name}`);
    edit(r.inputs);
    return rs;
  };
  const rules = (rs: ResourceRecord[]) => [...new Set(evaluate(rs).map((v) => v.policy))];

  it("a public bucket fails no-public-access", async () => {
    const rs = change(await resources(), "trib-dev-raw-public-access", (i) => {
      i.restrictPublicBuckets = false;
    });
    expect(rules(rs)).toEqual(["no-public-access"]);
  }, 60_000);

  it("a wildcard grant fails no-wildcard-grants", async () => {
    const rs = change(await resources(), "trib-dev-curated-orders-policy", (i) => {
      const doc = JSON.parse(i.policy as string);
      doc.Statement[0].Action = "s3:*";
      i.policy = JSON.stringify(doc);
    });
    const urn =
      "urn:pulumi:dev-aws::tributary::tributary:aws:AssetFunction$aws:iam/rolePolicy:RolePolicy::trib-dev-curated-orders-policy";
    // s3:* on what it reads, raw events among them: a wildcard, and a delete of raw history.
    expect(evaluate(rs)).toEqual([
      expect.objectContaining({ policy: "no-wildcard-grants", urn }),
      expect.objectContaining({ policy: "raw-append-only", urn }),
    ]);
  }, 60_000);

  it("a queue without a dead letter fails dead-letter-queue", async () => {
    const rs = change(await resources(), "trib-dev-curated-orders-queue", (i) => {
      delete i.redrivePolicy;
    });
    expect(rules(rs)).toEqual(["dead-letter-queue"]);
  }, 60_000);
});

describe("synth of a broken stack", () => {
  it("names the file and key of a bad value, before a process starts", async () => {
    await expect(
      synth({
        root,
        stack: "dev-aws",
        override: { "tributary:retentionDays": '{"raw":0,"quarantine":14}' },
      }),
    ).rejects.toThrow(
      new StackConfigError("stacks/Pulumi.dev-aws.yaml: tributary:retentionDays.raw must be >= 1 (got 0)."),
    );
  });

  it("reports what the program refuses (here, a pipeline the graph lacks) as the program says it", async () => {
    await expect(
      synth({ root, stack: "dev-aws", override: { "tributary:pipelines": '["comerce"]' } }),
    ).rejects.toThrow(
      new SynthError(
        'stacks/Pulumi.dev-aws.yaml: tributary:pipelines names "comerce", which the graph does not have. Did you mean "commerce"? Pipelines in the graph: commerce.',
      ),
    );
  }, 60_000);
});
