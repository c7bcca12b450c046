/**
 * `tributary ui`: the asset graph and its health as a page served on loopback. Also what
 * `tributary lineage --format html` shares with it: the model's inputs (stacks' plans, column lineage).
 */

import { type AssetGraph, TributaryError } from "tributary";
import type { Project } from "../../contract/project.ts";
import { graphModuleOf } from "../../contract/project.ts";
import { configMap, readStackConfig, stackFile, stackNames, stacksShown } from "../../infra/config.ts";
import { planDeployment } from "../../infra/plan/build.ts";
import type { DeploymentPlan } from "../../infra/plan/types.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import type { Io } from "../io.ts";
import { commandGraph, commandProject } from "../project.ts";
import { openStore } from "../store.ts";
import { columnLineageOf } from "../ui/columns.ts";
import type { ModelOptions } from "../ui/model.ts";
import { isLoopback, startUiServer, type UiServer } from "../ui/server.ts";

export interface UiOptions {
  graph?: string;
  config?: string;
  store?: string;
  port?: number;
  host?: string;
}

/**
 * Each stack's plan for the graph, for "where it lives". A stack file that does not plan (a missing
 * setting, a cron its cloud cannot say) is left out with a warning: the page is still worth showing.
 */
export function stackPlans(
  graph: AssetGraph,
  io: Io,
  project: Pick<Project, "root" | "stacks">,
): { name: string; plan: DeploymentPlan }[] {
  const plans: { name: string; plan: DeploymentPlan }[] = [];
  const { root, stacks } = project;
  for (const name of stackNames(root, stacks)) {
    try {
      const file = stackFile(name, stacksShown(root, stacks));
      plans.push({
        name,
        plan: planDeployment(graph, readStackConfig(configMap(root, name, stacks), name, file)),
      });
    } catch (error) {
      io.err(`tributary: stack ${name} left out: ${(error as Error).message}\n`);
    }
  }
  return plans;
}

/** Serves until the process is interrupted; resolves with the exit code then. */
export async function uiCommand(opts: UiOptions, io: Io): Promise<number> {
  const server = await serveUi(opts, io);
  io.out(`tributary ui: ${server.assets} assets of ${server.module} at ${server.url} (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await server.close();
  return 0;
}

/** The graph module loaded, its store and stacks read, and the page served: what `tributary ui` runs. */
export async function serveUi(
  opts: UiOptions,
  io: Io,
): Promise<UiServer & { readonly assets: number; readonly module: string }> {
  const graph = await commandGraph(opts);
  const stacks = stackPlans(graph, io, await commandProject(opts));
  // The model reads the store afresh on every call (its StoreState's cache is not used).
  const store = new StoreState(await openStore(opts.store, opts));
  const columnLineage = columnLineageOf(graph);
  const module = (await graphModuleOf(process.cwd(), opts.graph, opts.config)).name;
  const model = (): ModelOptions => ({ module, store, stacks, columnLineage, now: new Date() });
  const host = opts.host ?? "127.0.0.1";
  if (!isLoopback(host)) {
    io.err(
      `tributary: serving on ${host}: anyone who can reach it sees the graph, its SQL and the store's state.\n`,
    );
  }
  const server = await startUiServer({
    graph,
    model,
    host,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "EADDRINUSE") {
      throw new TributaryError(
        `port ${opts.port} on ${host} is in use: pass another --port, or 0 for any free one.`,
      );
    }
    if (error.code === "EACCES" || error.code === "EADDRNOTAVAIL") {
      throw new TributaryError(`cannot listen on ${host}:${opts.port}: ${error.message}.`);
    }
    throw error;
  });
  return Object.assign(server, { assets: graph.size, module });
}
