/**
 * Run the Pulumi program offline under Pulumi's own mocks (`pulumi.runtime.setMocks`), recording every
 * registration with its parent and options: the engine of `tributary synth`. Mocks keep their state in
 * the process, so one process synthesises one stack: `synth()` in index.ts runs this in a child.
 */
import { pathToFileURL } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import type { MonitorHooks } from "./monitor.ts";
import { configRegion, fakeInvoke, fakeOutputs } from "./outputs/index.ts";
import {
  explicitDependencies,
  inTreeOrder,
  normalise,
  type ResourceRecord,
  resourceUrn,
  SECRET_MARKER,
  type Synthesis,
} from "./record.ts";

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getObject(): Parameters<typeof pulumi.runtime.deserializeProperties>[0];
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(f: (deps: { getUrnsList(): string[] }) => void): void };
}

export interface MockRun {
  /** The program's path (absolute). */
  readonly main: string;
  readonly project: string;
  readonly stack: string;
  /** Pulumi's flat config map, as the CLI passes it in PULUMI_CONFIG. */
  readonly config: Record<string, string>;
  /** The provider's answers; default: `fakeOutputs`, and no provider function may be called. */
  readonly hooks?: MonitorHooks;
}

export async function runUnderMocks(run: MockRun): Promise<Synthesis> {
  const region = configRegion(run.config);
  const pending: Promise<ResourceRecord>[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        const r = { type: args.type, name: args.name, inputs: args.inputs };
        if (!run.hooks?.newResource) return fakeOutputs(r, region);
        const out = args.custom ? await run.hooks.newResource(r) : {};
        return { id: out.id ?? `${args.name}-id`, state: out.state ?? args.inputs };
      },
      call: (args) => {
        if (run.hooks?.invoke) return run.hooks.invoke(args.token, args.inputs);
        return fakeInvoke(args.token, args.inputs, run.config);
      },
    },
    run.project,
    run.stack,
    false,
  );
  pulumi.runtime.setAllConfig(run.config);
  type Callback = (err: unknown, response?: { getUrn(): string }) => void;
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: Callback): void;
    newUrn(parent: string, type: string, name: string): string;
  };
  // MockMonitor qualifies a type by its parent's own type only; the engine by the whole chain.
  monitor.newUrn = (parent, type, name) => resourceUrn(run.stack, run.project, parent, type, name);
  const register = monitor.registerResource.bind(monitor);
  // Records are kept in the order the program registered them, whatever order the answers come in.
  monitor.registerResource = (req, callback) => {
    pending.push(
      new Promise((done, fail) =>
        register(req, (err, response) => {
          if (err || !response) fail(err);
          else done(record(req, response.getUrn()));
          callback(err, response);
        }),
      ),
    );
  };

  const program = (await import(pathToFileURL(run.main).href)) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const key of Object.keys(program).sort()) {
    if (key === "default") continue;
    outputs[key] = await resolve(program[key]);
  }
  await pulumi.runtime.disconnect();
  return {
    project: run.project,
    stack: run.stack,
    resources: inTreeOrder(await Promise.all(pending)),
    outputs: (await normalise(outputs)) as Record<string, unknown>,
  };
}

async function record(req: RegisterRequest, urn: string): Promise<ResourceRecord> {
  const inputs = pulumi.runtime.deserializeProperties(req.getObject());
  const options: Record<string, unknown> = {};
  if (req.getProtect()) options.protect = true;
  if (req.getRetainondelete()) options.retainOnDelete = true;
  if (req.getDeletebeforereplace()) options.deleteBeforeReplace = true;
  // What Pulumi leaves to others once the resource exists (a table's pointer, its functions').
  if (req.getIgnorechangesList().length > 0) options.ignoreChanges = req.getIgnorechangesList();
  const parent = req.getParent();
  const byProperty: string[][] = [];
  req.getPropertydependenciesMap().forEach((deps) => void byProperty.push(deps.getUrnsList()));
  const dependsOn = explicitDependencies(req.getDependenciesList(), byProperty);
  return {
    urn,
    type: req.getType(),
    name: req.getName(),
    ...(parent ? { parent } : {}),
    custom: req.getCustom(),
    inputs: (await normalise(inputs)) as Record<string, unknown>,
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(dependsOn.length > 0 ? { dependsOn } : {}),
  };
}

/** An exported value with every Output inside it resolved; a secret one is its marker. */
async function resolve(value: unknown): Promise<unknown> {
  const output: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<string>);
  if (await pulumi.isSecret(output)) return { ...SECRET_MARKER };
  return new Promise((done) => output.apply((v) => done(v)));
}
