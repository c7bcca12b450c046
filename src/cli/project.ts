/**
 * The project a command works on: the project configuration (`--config <file>`, else $TRIBUTARY_CONFIG,
 * else the nearest tributary.config.ts) with `--graph <module>` over its graph module. Every command
 * reads it the same way, as the Pulumi program (`deploy()`) does.
 */
import { type GraphModule, loadGraphModule } from "../contract/graph-module.ts";
import { loadProject, type Project } from "../contract/project.ts";
import type { AssetGraph } from "../kit/graph.ts";

/** `--config` (a global option) and `--graph`, as every command that reads the project takes them. */
export interface ProjectOptions {
  readonly config?: string;
  readonly graph?: string;
}

/** The project of the command's options, found from the working directory. */
export function commandProject(opts: ProjectOptions, cwd: string = process.cwd()): Promise<Project> {
  return loadProject(cwd, opts.config, opts.graph);
}

/** The graph module of the command's options: its graph and exports. */
export function commandGraphModule(opts: ProjectOptions, cwd: string = process.cwd()): Promise<GraphModule> {
  return loadGraphModule(opts.graph, cwd, opts.config);
}

/** The graph of the command's options. */
export async function commandGraph(opts: ProjectOptions, cwd: string = process.cwd()): Promise<AssetGraph> {
  return (await commandGraphModule(opts, cwd)).graph;
}
