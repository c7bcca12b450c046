/**
 * `deploy()` in a project of its own, as a user's: a project configuration that names its graph module,
 * stacks folder and bundles folder; no bundle built beforehand. `tributary plan`, `tributary synth` and
 * the Pulumi program under Pulumi's own runner (`cmd/run` against the local engine, as `pulumi up` and
 * `pulumi preview` start it) read the same configuration, build what they deploy, and agree.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileDigest, readManifest } from "../../src/infra/bundle/manifest.ts";
import { configMap } from "../../src/infra/config.ts";
import type { DeploymentPlan } from "../../src/infra/plan/types.ts";
import { synth } from "../../src/infra/synth/index.ts";
import { runProgram } from "../../src/infra/synth/monitor.ts";
import { configRegion, fakeInvoke, fakeOutputs } from "../../src/infra/synth/outputs/index.ts";
import type { Synthesis } from "../../src/infra/synth/record.ts";
import { tributary } from "../cli/run.ts";
import { awsStack, type Project, project } from "../preview/project.ts";

// The suite's prebuilt bundles are for the repository's graph: this project builds its own.
delete process.env.TRIBUTARY_BUNDLES;

const GRAPH = (
  extra: string,
) => `import { asset, cron, defineGraph, onUpstream, source, Type } from "tributary";
const events = source("events", {
  group: "shop", eventId: "event_id", eventTime: "event_time", owners: ["team:ingest"],
  schema: Type.Object({ event_id: Type.String(), event_time: Type.String({ format: "date-time" }), customer_id: Type.String(), amount: Type.Number() }),
});
const orders = asset("orders", {
  group: "shop", deps: [events], owners: ["team:orders"], trigger: onUpstream(),
  schema: Type.Object({ order_id: Type.String(), customer_id: Type.String(), amount: Type.Number() }),
  sql: "SELECT event_id AS order_id, customer_id, amount FROM events",
});
const customers = asset("customers", {
  group: "shop", deps: [orders], owners: ["team:growth"], schedule: cron("0 3 * * *"),
  schema: Type.Object({ customer_id: Type.String(), total: Type.Number() }),
  sql: "SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id",
});
${extra}`;

const SHOP = `${GRAPH("")}export default defineGraph([events, orders, customers]);\n`;
const bigSpenders = (over: number) =>
  `${GRAPH(`const bigSpenders = asset("big_spenders", {
  group: "shop", deps: [customers], owners: ["team:growth"], trigger: onUpstream(),
  schema: Type.Object({ customer_id: Type.String() }),
  sql: "SELECT customer_id FROM customers WHERE total > ${over}",
});
`)}export default defineGraph([events, orders, customers, bigSpenders]);\n`;

const PULUMI_YAML = `name: shop
runtime:
  name: nodejs
  options:
    nodeargs: "--import tributary/register"
    typescript: false
main: deploy.ts
stackConfigDir: environments
`;

const config = (graph: string) =>
  `import { defineConfig } from "tributary";\nexport default defineConfig({ graph: "${graph}", stacks: "environments", bundles: "build/functions" });\n`;

const STACK = "dev-aws";
const FOLDER = "build/functions/aws-arm64";
let p: Project;

beforeAll(() => {
  p = project();
  const files: Record<string, string> = {
    "Pulumi.yaml": PULUMI_YAML,
    "tributary.config.ts": config("pipelines/index.ts"),
    "more.config.ts": config("pipelines/more.ts"),
    [`environments/Pulumi.${STACK}.yaml`]: awsStack(["shop"], 30),
    "pipelines/index.ts": SHOP,
    "pipelines/more.ts": bigSpenders(1000),
  };
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(p.dir, file)), { recursive: true });
    fs.writeFileSync(path.join(p.dir, file), text);
  }
});
afterAll(() => p.remove());

/** The program under Pulumi's own runner, with `env` set as a user would before `pulumi up`. */
function runner(env: Record<string, string> = {}) {
  const values = configMap(p.dir, STACK, "environments");
  const region = configRegion(values);
  return runProgram({
    cwd: p.dir,
    main: "deploy.ts",
    project: "shop",
    stack: STACK,
    config: values,
    nodeargs: ["--import", "tributary/register"],
    typescript: false,
    newResource: (r) => fakeOutputs(r, region),
    invoke: (token, args) => fakeInvoke(token, args, values),
    env,
    // It may build the bundle first.
    timeoutMs: 300_000,
  });
}

const building = (problem: string) =>
  `tributary: stack ${STACK} deploys its functions from ${FOLDER}, ${problem}: building it…`;
const BUILT = new RegExp(
  `^tributary: built ${FOLDER} \\((\\d+) assets and sources, \\d+\\.\\d MB\\) in \\d+\\.\\d s\\.$`,
);
const lines = (text: string) => text.split("\n").filter((l) => l !== "");
const manifest = () => readManifest(path.join(p.dir, FOLDER));

describe("a project with no bundle", () => {
  let synthesised: Synthesis;

  it("tributary synth builds it first, saying so, then prints what the program registers", async () => {
    expect(fs.existsSync(path.join(p.dir, "build"))).toBe(false);
    const r = await tributary(["synth", "--stack", STACK, "--json"], p.dir);
    expect(r.code).toBe(0);
    const [first, second, ...rest] = lines(r.stderr);
    expect([first, rest]).toEqual([building("which does not exist"), []]);
    expect(second).toMatch(BUILT);
    expect(BUILT.exec(second!)?.[1]).toBe("3");
    expect(manifest()).toMatchObject({
      cloud: "aws",
      arch: "arm64",
      graph: "pipelines/index.ts",
      functions: {
        customers: "asset",
        events: "ingest",
        orders: "asset",
        "outbox-sweep": "sweep",
        "table-maintenance": "maintain",
      },
    });
    synthesised = JSON.parse(r.stdout) as Synthesis;
    expect(synthesised.outputs.functions).toEqual({
      customers: "shop-dev-customers",
      events: "shop-dev-events",
      orders: "shop-dev-orders",
      "outbox-sweep": "shop-dev-outbox-sweep",
      "table-maintenance": "shop-dev-table-maintenance",
    });
  }, 300_000);

  it("so does the program under Pulumi's own runner, and it registers exactly what synth printed", async () => {
    fs.rmSync(path.join(p.dir, "build"), { recursive: true });
    const run = await runner();
    const progress = run.log.filter((l) => l.startsWith("stderr: tributary: "));
    expect(progress[0]).toBe(`stderr: ${building("which does not exist")}`);
    expect(progress[1]?.slice("stderr: ".length)).toMatch(BUILT);
    expect(progress).toHaveLength(2);
    expect(manifest()?.graph).toBe("pipelines/index.ts");
    expect(run.resources.length).toBeGreaterThan(50);
    expect(JSON.stringify(run.resources)).toBe(JSON.stringify(synthesised.resources));
    expect(run.outputs).toEqual(synthesised.outputs);
  }, 300_000);

  it("a bundle that is up to date is deployed as it is: nothing is printed", async () => {
    const r = await tributary(["synth", "--stack", STACK], p.dir);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  }, 120_000);
});

describe("--graph, --config and the program under that configuration", () => {
  let plan: DeploymentPlan;
  let synthesised: Synthesis;

  it("plan --graph and plan --config plan the same graph, the configuration's otherwise", async () => {
    const [byGraph, byConfig, configured] = await Promise.all([
      tributary(["plan", "--stack", STACK, "--json", "--graph", "pipelines/more.ts"], p.dir),
      tributary(["--config", "more.config.ts", "plan", "--stack", STACK, "--json"], p.dir),
      tributary(["plan", "--stack", STACK, "--json"], p.dir),
    ]);
    expect([byGraph.code, byGraph.stderr, byConfig.code, byConfig.stderr]).toEqual([0, "", 0, ""]);
    expect(byConfig.stdout).toBe(byGraph.stdout);
    plan = JSON.parse(byGraph.stdout) as DeploymentPlan;
    expect(plan.functions.map((f) => f.id)).toEqual([
      "events",
      "orders",
      "customers",
      "big_spenders",
      "outbox-sweep",
      "table-maintenance",
    ]);
    const ids = (JSON.parse(configured.stdout) as DeploymentPlan).functions.map((f) => f.id);
    expect(ids).toEqual(["events", "orders", "customers", "outbox-sweep", "table-maintenance"]);
  }, 120_000);

  it("synth --graph builds the bundle of that graph and registers what plan --graph planned", async () => {
    const r = await tributary(["synth", "--stack", STACK, "--json", "--graph", "pipelines/more.ts"], p.dir);
    expect(r.code).toBe(0);
    const [first, second, ...rest] = lines(r.stderr);
    expect([first, rest]).toEqual([building('built from a graph without "big_spenders"'), []]);
    expect(BUILT.exec(second!)?.[1]).toBe("4");
    expect(manifest()?.graph).toBe("pipelines/more.ts");
    synthesised = JSON.parse(r.stdout) as Synthesis;
    expect(agreement(plan, synthesised)).toEqual(agreement(plan, plan));
  }, 300_000);

  it("synth --config (after the command) and the program given that configuration register the same", async () => {
    const [byConfig, run] = await Promise.all([
      tributary(["synth", "--stack", STACK, "--json", "--config", "more.config.ts"], p.dir),
      runner({ TRIBUTARY_CONFIG: "more.config.ts" }),
    ]);
    // The bundle synth --graph built is the one this configuration deploys: nothing is rebuilt.
    expect([byConfig.code, byConfig.stderr]).toEqual([0, ""]);
    expect(run.log.filter((l) => l.startsWith("stderr: tributary: "))).toEqual([]);
    expect(byConfig.stdout).toBe(`${JSON.stringify(synthesised, null, 2)}\n`);
    expect(JSON.stringify(run.resources)).toBe(JSON.stringify(synthesised.resources));
    expect(run.outputs).toEqual(synthesised.outputs);
  }, 300_000);
});

describe("a stale bundle", () => {
  it("is rebuilt when a source it was built from changed, naming the file", async () => {
    fs.writeFileSync(path.join(p.dir, "pipelines/more.ts"), bigSpenders(2000));
    const s = await synth({ root: p.dir, stack: STACK, config: "more.config.ts", progress: () => {} });
    expect(s.outputs.functions).toMatchObject({ big_spenders: "shop-dev-big-spenders" });
    const r = await tributary(["--config", "more.config.ts", "synth", "--stack", STACK], p.dir);
    // synth() above rebuilt it already: the CLI finds it up to date.
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(manifest()?.inputs?.["pipelines/more.ts"]).toBe(fileDigest(path.join(p.dir, "pipelines/more.ts")));

    fs.writeFileSync(path.join(p.dir, "pipelines/more.ts"), bigSpenders(3000));
    const again = await tributary(["--config", "more.config.ts", "synth", "--stack", STACK], p.dir);
    expect(again.code).toBe(0);
    expect(lines(again.stderr)[0]).toBe(
      building("whose sources changed since it was built (pipelines/more.ts)"),
    );
    expect(lines(again.stderr)[1]).toMatch(BUILT);
    expect(manifest()?.inputs?.["pipelines/more.ts"]).toBe(fileDigest(path.join(p.dir, "pipelines/more.ts")));
  }, 300_000);
});

describe("a Pulumi.yaml that reads other stack files", () => {
  it("is refused before anything runs: plan and synth would not show what pulumi up deploys", async () => {
    fs.writeFileSync(
      path.join(p.dir, "elsewhere.config.ts"),
      config("pipelines/index.ts").replace("environments", "stacks"),
    );
    await expect(synth({ root: p.dir, stack: STACK, config: "elsewhere.config.ts" })).rejects.toThrow(
      'Pulumi.yaml reads the stacks\' config from stackConfigDir "environments", but the project\'s stack files are in "stacks" (elsewhere.config.ts\'s stacks): set stackConfigDir: stacks in Pulumi.yaml, so that tributary plan and synth read the stack files pulumi up deploys.',
    );
  });
});

/**
 * What a plan says a stack deploys, and what a synthesis registered, in the same terms: each function's
 * physical name, memory, timeout and architecture, each store's bucket.
 */
function agreement(plan: DeploymentPlan, deployed: DeploymentPlan | Synthesis) {
  if ("functions" in deployed && Array.isArray(deployed.functions)) {
    const p = deployed as DeploymentPlan;
    return {
      functions: Object.fromEntries(
        p.functions.map((f) => [f.id, [f.name, f.memoryMb, f.timeoutSeconds, f.architecture]]),
      ),
      buckets: Object.fromEntries(p.stores.map((s) => [s.id, s.name])),
    };
  }
  const s = deployed as Synthesis;
  const names = s.outputs.functions as Record<string, string>;
  const lambda = (name: string) =>
    s.resources.find((r) => r.type === "aws:lambda/function:Function" && r.name === name)?.inputs ?? {};
  return {
    functions: Object.fromEntries(
      plan.functions.map((f) => {
        const inputs = lambda(names[f.id]!);
        return [
          f.id,
          [names[f.id], inputs.memorySize, inputs.timeout, (inputs.architectures as string[])[0]],
        ];
      }),
    ),
    buckets: s.outputs.buckets,
  };
}
