/**
 * `deploy()` (the package's `tributary/pulumi` entry): a Tributary project's Pulumi program. A user's
 * program, Pulumi.yaml's `main`, is one line:
 *
 *   import { deploy } from "tributary/pulumi";
 *   export const { buckets, buses, functions, streams, tables, lineage, stackName } = await deploy();
 *
 * It reads the project configuration (tributary.config.ts) from the program's working directory, loads
 * the graph module it names, reads the stack's config as Pulumi passes it (`pulumi.runtime.allConfig()`,
 * validated against the stack file's keys), plans the deployment, builds the functions' bundles when
 * they are missing or stale, and registers the plan's resources with the stack's cloud adapter.
 * `pulumi up`, `pulumi preview` and `tributary synth` (the same program, offline under mocks) all run
 * it, so what `tributary plan` prints is what they deploy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadGraph } from "../contract/graph-module.ts";
import { loadProject, type Project } from "../contract/project.ts";
import { TributaryError } from "../kit/errors.ts";
import type { AssetGraph } from "../kit/graph.ts";
import { type LineageDocument, toLineage } from "../kit/lineage.ts";
import type { CloudAdapter, StackOutputs } from "./adapter.ts";
import { ensureBundles } from "./bundle/ensure.ts";
import { bundlesFolder, functionCodes } from "./bundle/locate.ts";
import { configMap, readStackConfig, stackFile, stacksShown } from "./config.ts";
import { runError } from "./errors.ts";
import { planDeployment } from "./plan/build.ts";
import type { DeploymentPlan } from "./plan/types.ts";
import { checkStackConfigDir, pulumiProject } from "./pulumi-project.ts";
import { configuredSecrets, type SecretValues } from "./secrets.ts";
// On import, before any user module loads: Pulumi's runner's source-map-support is dropped (see there).
import { lean } from "./stack-traces.ts";

export interface DeployOptions {
  /** The project's working directory (default: the program's, the folder of Pulumi.yaml under `pulumi`). */
  readonly cwd?: string;
  /**
   * The project configuration file, relative to `cwd` (default: $TRIBUTARY_CONFIG, else the nearest
   * tributary.config.ts walking up from `cwd`).
   */
  readonly config?: string;
  /** The graph module, relative to `cwd`, over the configuration's (default: $TRIBUTARY_GRAPH, else none). */
  readonly graph?: string;
}

/** What a deployed stack tells its users (`pulumi stack output`): export each from the program. */
export interface Deployment extends StackOutputs {
  /** The static lineage of what this stack deploys (nodes, edges, columns, partition mappings). */
  readonly lineage: LineageDocument;
  /** The stack this program ran for. */
  readonly stackName: string;
}

/** Register the project's stack with Pulumi (see the module's comment) and return its outputs. */
export async function deploy(options: DeployOptions = {}): Promise<Deployment> {
  const stack = pulumi.getStack();
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const { project, graph } = await userStep(async () => {
    const project = await loadProject(cwd, options.config, options.graph);
    // Pulumi reads the stack's config from Pulumi.yaml's stackConfigDir: it must be the project's.
    if (fs.existsSync(path.join(cwd, "Pulumi.yaml"))) checkStackConfigDir(cwd, pulumiProject(cwd), project);
    return { project, graph: await loadGraph(options.graph, cwd, options.config) };
  });
  const file = stackFile(stack, stacksShown(project.root, project.stacks));
  const values = pulumi.runtime.allConfig();
  const { plan, secrets } = userStep(() => prepare(project, graph, stack, file, values));

  const bundles = bundlesFolder(values, project.bundles, cwd);
  await userStep(() =>
    ensureBundles(plan, bundles, {
      cwd,
      root: project.root,
      ...(options.config === undefined ? {} : { config: options.config }),
      ...(options.graph === undefined ? {} : { graph: options.graph }),
    }),
  );
  const code = functionCodes(plan, plan.cloud, bundles);
  const cloud = await adapter(plan.cloud, file);
  // The user's modules have loaded (their errors reported with file and line) and the bundles are
  // built: what follows registers thousands of resources, and Pulumi's SDK pays for debugging aids on
  // each (stack-traces.ts).
  lean();
  const deployed = await cloud.deploy(plan, secrets, code);
  return {
    buckets: deployed.buckets,
    buses: deployed.buses,
    functions: deployed.functions,
    streams: deployed.streams,
    ...(deployed.tables ? { tables: deployed.tables } : {}),
    lineage: toLineage(
      graph,
      plan.functions.map((f) => f.id),
    ),
    stackName: stack,
  };
}

/** The stack's config validated and planned, and its secrets' values. */
function prepare(
  project: Project,
  graph: AssetGraph,
  stack: string,
  file: string,
  values: Record<string, string>,
): { plan: DeploymentPlan; secrets: SecretValues } {
  // The stack file must hold no secret in plain text (the CLI decrypts the encrypted ones for us).
  if (fs.existsSync(path.join(project.stacks, `Pulumi.${stack}.yaml`))) {
    configMap(project.root, stack, project.stacks);
  }
  const config = readStackConfig(values, stack, file);
  const plan = planDeployment(graph, config);
  return { plan, secrets: configuredSecrets(values, plan.secrets) };
}

/** Each cloud's adapter is loaded only for its stacks: one cloud's SDK is all a deploy loads. */
async function adapter(cloud: string, file: string): Promise<CloudAdapter> {
  switch (cloud) {
    case "aws":
      return (await import("./aws/index.ts")).aws;
    case "gcp":
      return (await import("./gcp/index.ts")).gcp;
    case "azure":
      return (await import("./azure/index.ts")).azure;
    default:
      throw runError(`${file}: tributary:cloud "${cloud}" has no adapter yet; this release deploys to aws.`);
  }
}

/**
 * A step that fails on a user's mistake with a TributaryError: Pulumi prints a RunError's message
 * without a stack trace.
 */
function userStep<T>(step: () => T): T {
  const fail = (e: unknown): never => {
    if (e instanceof TributaryError) throw runError(e.message);
    throw e;
  };
  try {
    const result = step();
    return (result instanceof Promise ? result.catch(fail) : result) as T;
  } catch (e) {
    return fail(e);
  }
}
