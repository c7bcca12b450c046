/**
 * A new user's first hour, from the packed package (issue 16's acceptance). In an empty folder:
 * `npm init -y && npm install <tarball> && npx tributary init`, then `npx tributary materialize` (twice:
 * the second run finds everything fresh), the project's own tests and type check, and for every stack
 * `init` wrote: its Pulumi program (Pulumi.yaml's `main`) run by Pulumi's own runner
 * (`@pulumi/pulumi/cmd/run`, as `pulumi up` starts it) against the local engine, with no `tributary
 * bundle` beforehand, registers exactly what `npx tributary synth` prints, and `synth --check` passes
 * the policy pack. Last, what the project's pull-request workflow runs first: `tributary diff` of a
 * change against the committed project.
 *
 * Everything comes from `npm pack` of this repository and the npm registry; one install serves every
 * case. The npm cache is npm's own (`--prefer-offline`: what `npm ci` of this repository fetched is
 * not fetched again).
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INIT_STACKS } from "../../src/cli/commands/init.ts";
import { configMap } from "../../src/infra/config.ts";
import type { Synthesis } from "../../src/infra/synth/index.ts";
import { runProgram } from "../../src/infra/synth/monitor.ts";
import { configRegion, fakeInvoke, fakeOutputs } from "../../src/infra/synth/outputs/index.ts";
import { REPO, type Run, run } from "../cli/run.ts";
import { pulumiRun } from "../infra/example-project.ts";

const work = mkdtempSync(join(tmpdir(), "tributary-acceptance-"));
const project = join(work, "shop-data");
// The project's node_modules: hundreds of megabytes to delete.
afterAll(() => rmSync(work, { recursive: true, force: true }), 600_000);

// What the project's processes see is a user's shell, not this test run: no npm_* variables (npm sets
// them for `npm test`; an `npm install` inside must not inherit them), no TRIBUTARY_* settings of the
// other tests (TRIBUTARY_BUNDLES points the repository's stacks at prebuilt bundles), no colours. This
// file runs in a process of its own, and Pulumi's runner, started by runProgram, inherits this too.
for (const k of Object.keys(process.env)) {
  if (/^(npm_|TRIBUTARY_)/i.test(k) || k === "FORCE_COLOR" || k === "INIT_CWD") delete process.env[k];
}
process.env.NO_COLOR = "1";

/** `command ...args` in `cwd`, as a user's shell runs it. */
const sh = (cwd: string, command: string, ...args: string[]): Promise<Run> => run(command, args, { cwd });

/** `sh`, which must exit 0: else the command, its exit code and its output, as the failure. */
async function ok(cwd: string, command: string, ...args: string[]): Promise<Run> {
  const run = await sh(cwd, command, ...args);
  if (run.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
  }
  return run;
}

/** Times and ids replaced, so output can be compared exactly. */
const steady = (text: string) =>
  text.replace(/\b\d+(\.\d+)? (ms|s)\b/g, "<t>").replace(/run [0-9a-f-]{36}/g, "run <id>");

const seconds = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)} s`;

let initOutput: Run;

beforeAll(async () => {
  let t = performance.now();
  // `npm pack` builds dist/ first (prepare).
  await ok(REPO, "npm", "pack", "--pack-destination", work);
  const [tarball] = readdirSync(work).filter((f) => f.endsWith(".tgz"));
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${work}`);
  console.info(`npm pack: ${seconds(t)}`);

  mkdirSync(project);
  await ok(project, "npm", "init", "-y");
  t = performance.now();
  const install = ["--prefer-offline", "--no-audit", "--no-fund"];
  await ok(project, "npm", "install", join(work, tarball), ...install);
  console.info(`npm install <tarball>: ${seconds(t)}`);

  initOutput = await ok(project, "npx", "tributary", "init");
  // The packages init added (vitest, typescript, @types/node), for the project's own tests.
  t = performance.now();
  await ok(project, "npm", "install", ...install);
  console.info(`npm install (after init): ${seconds(t)}`);
}, 1_200_000);

describe("a new project from the packed package", () => {
  it("init writes the project into the folder npm init made, keeping the installed tarball", () => {
    expect(initOutput.stderr).toBe("");
    expect(initOutput.stdout.split("\n").slice(0, 2)).toEqual([
      `tributary init: project "shop-data" in ${project}`,
      '  updated  package.json: type "module" (was "commonjs"); engines.node ">=22.12"; ' +
        "scripts test, typecheck, validate, materialize, ui; dependencies @pulumi/pulumi; " +
        "devDependencies @types/node, typescript, vitest",
    ]);
    const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    expect(pkg.dependencies.tributary).toMatch(/^file:.*tributary-\d+\.\d+\.\d+\.tgz$/);
  });

  it("materialises the sample week, and the second run finds everything fresh", async () => {
    const first = await ok(project, "npx", "tributary", "materialize");
    expect(first.stderr).toBe("");
    expect(steady(first.stdout)).toBe(
      `no data yet: generating the project configuration's sample data into ${project}/.tributary/samples and ingesting it
page_views: read 2821 = written 2800 + quarantined 14 + duplicates 7
plan: 21 of 21 asset partitions to materialise
ok      page_stats: 7 partitions, 56 rows in <t>
ok      daily_summary: 7 partitions, 7 rows in <t>
ok      top_pages: 7 partitions, 56 rows in <t>
asset          materialised  fresh  failed  skipped  rows  time
page_stats     7             0      0       0        56    <t>
daily_summary  7             0      0       0        7     <t>
top_pages      7             0      0       0        56    <t>
21 materialised, 0 fresh, 0 failed, 0 skipped in <t> (run <id>)
`,
    );
    const second = await ok(project, "npx", "tributary", "materialize");
    expect(steady(second.stdout).split("\n").at(-2)).toBe(
      "everything is fresh: 21 asset partitions up to date in <t> (run <id>)",
    );
  }, 300_000);

  it("its own tests and type check pass", async () => {
    const test = await ok(project, "npm", "test");
    expect(test.stdout).toMatch(/Tests {2}6 passed \(6\)/);
    await ok(project, "npm", "run", "typecheck");
  }, 300_000);
});

describe.each(INIT_STACKS)("stack %s, as init wrote it", (stack) => {
  const cloud = stack.replace(/^dev-/, "");
  const bundles = () =>
    existsSync(join(project, "dist/bundles")) ? readdirSync(join(project, "dist/bundles")).sort() : [];

  it("Pulumi's runner, with no bundle built, registers exactly what synth prints; synth --check passes", async () => {
    const config = configMap(project, stack);
    const region = configRegion(config);
    expect(bundles().filter((b) => b.startsWith(`${cloud}-`))).toEqual([]);

    const real = await runProgram({
      // As the project's Pulumi.yaml says to start it.
      ...pulumiRun(project),
      stack,
      config,
      newResource: (r) => fakeOutputs(r, region),
      invoke: (token, args) => fakeInvoke(token, args, config),
      timeoutMs: 600_000,
    });
    // The program built the stack's bundle itself.
    expect(bundles().filter((b) => b.startsWith(`${cloud}-`))).toHaveLength(1);

    const json = await ok(project, "npx", "tributary", "synth", "--stack", stack, "--json");
    const synthesised = JSON.parse(json.stdout) as Synthesis;
    expect(synthesised.resources.length).toBeGreaterThan(50);
    expect(JSON.stringify(real.resources)).toBe(JSON.stringify(synthesised.resources));
    expect(real.outputs).toEqual(synthesised.outputs);
    // One function per asset and source, the stack's outbox sweeper and its table maintenance.
    expect(Object.keys(real.outputs.functions as object).sort()).toEqual([
      "daily_summary",
      "outbox-sweep",
      "page_stats",
      "page_views",
      "table-maintenance",
      "top_pages",
    ]);
    // init's program exports the curated tables: each asset's, and who may query them.
    expect(Object.keys((real.outputs.tables as { tables: object }).tables).sort()).toEqual([
      "daily_summary",
      "page_stats",
      "top_pages",
    ]);

    const check = await ok(project, "npx", "tributary", "synth", "--stack", stack, "--check");
    expect(check.stderr).toBe("");
    expect(check.stdout.endsWith("policy pack tributary-security: no violations\n")).toBe(true);
  }, 900_000);
});

describe("the pull-request workflow's offline preview", () => {
  it("tributary diff names a changed asset, its schema verdict per consumer, and the stack synthesised", async () => {
    const git = (...args: string[]) =>
      ok(project, "git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", ...args);
    await git("init", "--quiet");
    await git("add", ".");
    await git("commit", "--quiet", "-m", "tributary init");
    const site = join(project, "assets/site.ts");
    const before = readFileSync(site, "utf8");
    // A new nullable column: one Iceberg evolves the table with (a required one it cannot, a breaking risk).
    const after = before
      .replace(
        "    median_duration_ms: Type.Integer(),\n",
        "$&    max_duration_ms: Type.Union([Type.Integer(), Type.Null()]),\n",
      )
      .replace(
        "      CAST(median(duration_ms) AS BIGINT) AS median_duration_ms\n",
        "      CAST(median(duration_ms) AS BIGINT) AS median_duration_ms,\n      CAST(max(duration_ms) AS BIGINT) AS max_duration_ms\n",
      );
    expect(after).not.toBe(before);
    writeFileSync(site, after);
    try {
      const diff = await ok(
        project,
        "npx",
        "tributary",
        "diff",
        "--base",
        "HEAD",
        "--stack",
        "dev-aws",
        "--format",
        "json",
        "--exit-code",
      );
      const report = JSON.parse(diff.stdout);
      expect(report.graph.modified.map((m: { key: string }) => m.key)).toEqual(["page_stats"]);
      expect(report.graph.modified[0].schema).toEqual({
        columns: [{ kind: "added", column: { name: "max_duration_ms", type: "integer", nullable: true } }],
        verdict: "compatible",
        consumers: [
          {
            consumer: "daily_summary",
            verdict: "compatible",
            reads: [],
            readsFrom: "all",
            reason: "reads none of the changed columns",
          },
          {
            consumer: "top_pages",
            verdict: "compatible",
            reads: [],
            readsFrom: "declared",
            reason: "reads none of the changed columns",
          },
        ],
      });
      expect(report.stacks.map((s: { stack: string; source: string }) => [s.stack, s.source])).toEqual([
        ["dev-aws", "synth"],
      ]);
      expect(report.risks).toEqual([]);
    } finally {
      writeFileSync(site, before);
    }
  }, 300_000);
});
