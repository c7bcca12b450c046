/**
 * Every stack in stacks/: `tributary synth` (mocks) and the real Pulumi runner (`cmd/run` against the
 * local engine, as `pulumi up` starts the program) register the same resources, and the security
 * policy pack passes on them; deliberately broken variants fail with the rule's name.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";
import { configMap, StackConfigError } from "../../infra/config.ts";
import { evaluate } from "../../infra/policy/rules.ts";
import { runProgram } from "../../infra/synth/engine.ts";
import { pulumiProject, type ResourceRecord, SynthError, synth } from "../../infra/synth/index.ts";
import { configRegion, fakeInvoke, fakeOutputs } from "../../infra/synth/outputs.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const stacks = fs
  .readdirSync(path.join(repo, "stacks"))
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

const project = pulumiProject(repo);

it("runs the program as Pulumi.yaml says: tsx loads the TypeScript, not the runner", () => {
  expect(project).toEqual({
    name: "tributary",
    main: "infra/index.ts",
    nodeargs: ["--import", "tsx"],
    typescript: false,
  });
});

describe.each(stacks)("stack %s", (stack) => {
  it("registers under Pulumi's own runner exactly what synth prints, and passes the policy pack", async () => {
    const config = configMap(repo, stack);
    const region = configRegion(config);
    const [mocked, again, real] = await Promise.all([
      synth({ root: repo, stack }),
      synth({ root: repo, stack }),
      runProgram({
        cwd: repo,
        main: project.main,
        project: project.name,
        stack,
        config,
        // As the CLI runs it: Pulumi.yaml's nodeargs and typescript option.
        nodeargs: project.nodeargs,
        typescript: project.typescript,
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
    base ??= (await synth({ root: repo, stack: "dev-aws" })).resources;
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
        root: repo,
        stack: "dev-aws",
        override: { "tributary:retentionDays": '{"raw":0,"quarantine":14}' },
      }),
    ).rejects.toThrow(
      new StackConfigError("stacks/Pulumi.dev-aws.yaml: tributary:retentionDays.raw must be >= 1 (got 0)."),
    );
  });

  it("reports what the program refuses (here, a pipeline the graph lacks) as the program says it", async () => {
    await expect(
      synth({ root: repo, stack: "dev-aws", override: { "tributary:pipelines": '["comerce"]' } }),
    ).rejects.toThrow(
      new SynthError(
        'stacks/Pulumi.dev-aws.yaml: tributary:pipelines names "comerce", which the graph does not have. Did you mean "commerce"? Pipelines in the graph: commerce.',
      ),
    );
  }, 60_000);
});

describe("synth of a stack whose functions' bundle does not fit", () => {
  /** A copy of a bundle folder made of links to its files, with its manifest edited by `edit`. */
  function linked(from: string, to: string, edit: (m: Record<string, unknown>) => void = () => {}): void {
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
  }

  it("names the folder, what is wrong with it and the command that builds the right one", async () => {
    const bundles = inject("bundles");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-bad-bundles-"));
    try {
      const stackIn = (name: string) => {
        fs.mkdirSync(path.join(dir, name));
        return path.join(dir, name);
      };
      const missing = stackIn("missing");
      const other = stackIn("other");
      fs.symlinkSync(path.join(bundles.dir, "gcp-x64"), path.join(other, "aws-arm64"));
      const stale = stackIn("stale");
      linked(path.join(bundles.dir, "aws-arm64"), path.join(stale, "aws-arm64"), (m) => {
        delete (m.functions as Record<string, string>).daily_revenue;
      });
      const edited = stackIn("edited");
      linked(path.join(bundles.dir, "aws-arm64"), path.join(edited, "aws-arm64"));
      fs.rmSync(path.join(edited, "aws-arm64", "index.mjs"));
      fs.writeFileSync(path.join(edited, "aws-arm64", "index.mjs"), "export const handler = () => {};\n");
      const mapped = stackIn("mapped");
      linked(path.join(bundles.dir, "aws-arm64"), path.join(mapped, "aws-arm64"), (m) => {
        m.sourceMaps = true;
      });
      const problem = (folder: string) =>
        synth({ root: repo, stack: "dev-aws", override: { "tributary:bundles": folder } }).then(
          () => "no error",
          (e: Error) => e.message,
        );
      const messages = await Promise.all([missing, other, stale, edited, mapped].map(problem));
      const run = (folder: string) =>
        `run \`tributary bundle --cloud aws --arch arm64 --out ${path.join(folder, "aws-arm64")}\`.`;
      const from = (folder: string) =>
        `stack dev-aws deploys its functions from ${path.join(folder, "aws-arm64")} (tributary:bundles)`;
      expect(messages).toEqual([
        `${from(missing)}, which does not exist: ${run(missing)}`,
        `${from(other)}, which holds the bundle for gcp-x64: ${run(other)}`,
        `${from(stale)}, built from a graph without "daily_revenue": ${run(stale)}`,
        `${from(edited)}, whose files changed since it was built (index.mjs): ${run(edited)}`,
        `${from(mapped)}, built with source maps, which the stack does not ship (tributary:functions.sourceMaps is off): ${run(mapped)}`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
