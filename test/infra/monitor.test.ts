import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runUnderMocks } from "../../src/infra/synth/mocks.ts";
import { type MonitorHooks, runProgram } from "../../src/infra/synth/monitor.ts";
import type { ResourceRecord } from "../../src/infra/synth/record.ts";
import { examplePulumiRun } from "./example-project.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const fixture = path.join(repo, "test/infra/fixtures/engine-program");
const config = {
  "tributary:environment": "dev",
  "tributary:retention": JSON.stringify({ days: 30, tier: "hot" }),
};

/** Deterministic cloud outputs, the same for the engine and for the mocks. */
const hooks: Required<MonitorHooks> = {
  newResource: ({ type, name, inputs }) => {
    if (type === "aws:s3/bucket:Bucket") {
      return { id: name, state: { ...inputs, arn: `arn:aws:s3:::${name}`, bucket: name } };
    }
    if (type === "aws:lambda/function:Function") {
      return {
        id: name,
        state: { ...inputs, arn: `arn:aws:lambda:eu-west-1:123456789012:function:${name}`, name },
      };
    }
    return {};
  },
  invoke: (token) => {
    if (token === "aws:index/getCallerIdentity:getCallerIdentity") {
      return {
        accountId: "123456789012",
        arn: "arn:aws:iam::123456789012:user/ci",
        userId: "AIDA",
        id: "123456789012",
      };
    }
    throw new Error(`unexpected invoke ${token}`);
  },
};

const fixtureRun = {
  cwd: fixture,
  project: "tributary",
  stack: "dev",
  config,
  nodeargs: ["--import", "tsx"],
};

/** The example's program, as its Pulumi.yaml runs it. */
const exampleRun = examplePulumiRun();

const thing = "urn:pulumi:dev::tributary::tributary:test:Thing::events";
const guard = "urn:pulumi:dev::tributary::tributary:test:Thing$tributary:test:Guard::events-guard";
const policy =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::events-data/*"}]}';

/** What the fixture registers, in tree order. */
const expected: ResourceRecord[] = [
  { urn: thing, type: "tributary:test:Thing", name: "events", custom: false, inputs: {} },
  {
    urn: "urn:pulumi:dev::tributary::tributary:test:Thing$aws:iam/rolePolicy:RolePolicy::events-read",
    type: "aws:iam/rolePolicy:RolePolicy",
    name: "events-read",
    parent: thing,
    custom: true,
    inputs: { policy, role: "tributary-runner" },
  },
  {
    urn: "urn:pulumi:dev::tributary::tributary:test:Thing$aws:lambda/function:Function::events-fn",
    type: "aws:lambda/function:Function",
    name: "events-fn",
    parent: thing,
    custom: true,
    inputs: {
      code: {
        $archive: {
          assets: { "index.mjs": { $asset: { text: "export const handler = async () => 'ok';\n" } } },
        },
      },
      environment: { variables: { BUCKET: "events-data", RETENTION_DAYS: "30" } },
      handler: "index.handler",
      role: "arn:aws:iam::123456789012:role/tributary-runner",
      runtime: "nodejs24.x",
    },
    options: { retainOnDelete: true, deleteBeforeReplace: true },
    dependsOn: ["urn:pulumi:dev::tributary::tributary:test:Thing$aws:iam/rolePolicy:RolePolicy::events-read"],
  },
  {
    urn: "urn:pulumi:dev::tributary::tributary:test:Thing$aws:s3/bucket:Bucket::events-data",
    type: "aws:s3/bucket:Bucket",
    name: "events-data",
    parent: thing,
    custom: true,
    // One tag is a secret, so all of them are: the synth prints where, never what.
    inputs: { tags: { $secret: true } },
    options: { protect: true },
  },
  {
    urn: guard,
    type: "tributary:test:Guard",
    name: "events-guard",
    parent: thing,
    custom: false,
    inputs: {},
    dependsOn: ["urn:pulumi:dev::tributary::tributary:test:Thing$aws:lambda/function:Function::events-fn"],
  },
  {
    urn: "urn:pulumi:dev::tributary::tributary:test:Thing$tributary:test:Guard$aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::events-guard-block",
    type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    name: "events-guard-block",
    parent: guard,
    custom: true,
    inputs: { blockPublicAcls: true, blockPublicPolicy: true, bucket: "events-data" },
  },
];

const expectedOutputs = {
  bucketArn: "arn:aws:s3:::events-data",
  policy,
  settings: { environment: "dev", retentionDays: 30 },
};

describe("the local monitor runs a program under the real Pulumi runner", () => {
  it("records every resource the fixture registers, with resolved outputs, options and stack outputs", async () => {
    const started = Date.now();
    const run = await runProgram({ ...fixtureRun, main: "index.ts", ...hooks });
    console.info(`runProgram(fixture): ${Date.now() - started} ms`);
    expect(run.resources).toStrictEqual(expected);
    // Byte for byte, key order included: what `tributary synth` prints.
    expect(JSON.stringify(run.resources)).toBe(JSON.stringify(expected));
    expect(run.outputs).toStrictEqual(expectedOutputs);
    expect(run.project).toBe("tributary");
    expect(run.stack).toBe("dev");
    expect(run.log).toEqual([]);
  });

  it("runs transforms (stack, and a component's inherited by its children) and invokes, in a preview", async () => {
    const run = await runProgram({ ...fixtureRun, main: "transforms.ts", dryRun: true, ...hooks });
    const logs = "urn:pulumi:dev::tributary::tributary:test:Logs::logs";
    expect(run.resources).toStrictEqual([
      {
        urn: logs,
        type: "tributary:test:Logs",
        name: "logs",
        custom: false,
        inputs: {},
        options: { protect: true },
      },
      {
        urn: "urn:pulumi:dev::tributary::tributary:test:Logs$aws:s3/bucket:Bucket::logs-bucket",
        type: "aws:s3/bucket:Bucket",
        name: "logs-bucket",
        parent: logs,
        custom: true,
        inputs: { tags: { environment: "dev", managedBy: "tributary" } },
        options: { protect: true },
      },
    ]);
    expect(run.outputs).toStrictEqual({ accountId: "123456789012", preview: true });
  });

  it("rejects with a clear error naming a provider function it has no answer for", async () => {
    await expect(runProgram({ ...fixtureRun, main: "transforms.ts" })).rejects.toThrow(
      /no result for aws:index\/getCallerIdentity:getCallerIdentity: pass an invoke hook/,
    );
  });

  it("kills a program that does not finish in time, and leaves no process behind", async () => {
    const error = await runProgram({ ...fixtureRun, main: "hang.ts", timeoutMs: 6_000 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/^Pulumi program hang\.ts did not finish within 6000 ms:\npid \d+$/);
    const pid = Number(/pid (\d+)/.exec(error?.message ?? "")?.[1]);
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  // An uncaught error whose stack is still lazy costs ~18 s on Node 22 (~25 s on Node 20; nothing on Node
  // 24): the runner util.inspect()s it, with colours, for its tracing span, and Node loops to "Invalid
  // string length" on the source-mapped frame ".../node_modules/@pulumi/resource.ts:…" before falling
  // back. `pulumi up` would wait just as long, so infra/index.ts (and this fixture) give their RunErrors an
  // eager stack; these runs take seconds.
  it.concurrent("rejects with the program's own message when it stops with a RunError", async () => {
    const started = Date.now();
    const failure = runProgram({ ...fixtureRun, main: "run-error.ts", ...hooks });
    await expect(failure).rejects.toThrow(
      /^Pulumi program run-error\.ts exited with 32:\nstacks\/Pulumi\.x\.yaml: tributary:environment must be one of dev, prod$/,
    );
    console.info(`runProgram(run-error): ${Date.now() - started} ms`);
  }, 120_000);

  // Pulumi's runner installs source-map-support, which cannot read tsx's in-memory source maps: the
  // frame would name line 1 of the transpiled module. src/infra/stack-traces.ts removes it before loading.
  it.concurrent("names the file and line of a module that fails to load, as its author wrote them", async () => {
    const failure = runProgram({ ...fixtureRun, main: "load-error.ts", ...hooks });
    await expect(failure).rejects.toThrow(
      /\nError: broken at load: 1 row\n {4}at .*\/engine-program\/broken-module\.ts:9:28\)?\n/,
    );
  }, 120_000);

  it.concurrent("runs the example's program (deploy.ts), which stops with a clear error without stack config", async () => {
    const run = runProgram({ ...exampleRun, stack: "dev", config: {} });
    await expect(run).rejects.toThrow(
      /exited with 32:\nstacks\/Pulumi\.dev\.yaml: .*\n {2}- tributary:cloud is missing/,
    );
  }, 120_000);

  it("records what the SDK's mocks see for the same program, identically", async () => {
    // The mocks-based synth, in this process, with the same provider answers.
    const mocked = await runUnderMocks({
      main: path.join(fixture, "index.ts"),
      project: "tributary",
      stack: "dev",
      config,
      hooks,
    });
    const run = await runProgram({ ...fixtureRun, main: "index.ts", ...hooks });
    expect(mocked.resources).toStrictEqual(run.resources);
    expect(JSON.stringify(mocked.resources)).toBe(JSON.stringify(run.resources));
    expect(mocked.outputs).toStrictEqual(run.outputs);
    // A resource two levels down has its parent's whole type chain in its URN, on both sides.
    expect(run.resources.map((r) => r.urn)).toContain(
      "urn:pulumi:dev::tributary::tributary:test:Thing$tributary:test:Guard$aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock::events-guard-block",
    );
  });
});
