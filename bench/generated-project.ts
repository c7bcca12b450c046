/**
 * A throwaway project for the benchmarks that synthesise a generated graph (synth, synth-scale), under
 * bench/.data/ (gitignored), that looks like a user's: a package.json of its own, the example's
 * Pulumi.yaml and deploy.ts (its program calls `tributary/pulumi`), a tributary.config.ts, node_modules
 * linked to the repository's (where `tributary` is the package itself), and
 * `stacks/Pulumi.bench-<cloud>.yaml`, a copy of the cloud's example stack deploying the pipeline "bench".
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseDocument } from "yaml";
import { moduleText, type Node, PROJECT_CONFIG } from "./generated-graph.ts";

export const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
export const DATA = join(REPO, "bench", ".data");
const EXAMPLE = join(REPO, "examples", "commerce");

/** Each cloud's example stack, copied as `bench-<cloud>`. */
export const EXAMPLE_STACK: Readonly<Record<string, string>> = {
  aws: "dev-aws",
  gcp: "staging-gcp",
  azure: "prod-azure",
};

/** Make `dir` the project; its stack is `bench-<cloud>`. */
export async function makeProject(dir: string, cloud: string): Promise<void> {
  await writeFile(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "bench", private: true, type: "module" })}\n`,
  );
  for (const file of ["Pulumi.yaml", "deploy.ts"]) await cp(join(EXAMPLE, file), join(dir, file));
  // Its own configuration: without one, the repository's (found walking up) would name the example's graph.
  await writeFile(join(dir, "tributary.config.ts"), PROJECT_CONFIG);
  await mkdir(join(dir, "assets"));
  await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  const stack = parseDocument(
    await readFile(join(EXAMPLE, "stacks", `Pulumi.${EXAMPLE_STACK[cloud]}.yaml`), "utf8"),
  );
  stack.setIn(["config", "tributary:pipelines"], stack.createNode(["bench"]));
  await mkdir(join(dir, "stacks"));
  await writeFile(join(dir, "stacks", `Pulumi.bench-${cloud}.yaml`), stack.toString());
}

/**
 * Make `nodes` the project's graph, with the functions' bundle the stack deploys (dist/bundles/ of the
 * project), built by the project's `tributary bundle` in a child of its own (a graph module imported here
 * would stay cached under its path, and the next graph's bundle would list the first one's functions).
 * Returns the bundle's build time in seconds.
 */
export async function useGraph(dir: string, stack: string, nodes: readonly Node[]): Promise<number> {
  await writeFile(join(dir, "assets", "index.ts"), moduleText(nodes));
  const args = [join(REPO, "bin", "tributary.js"), "bundle", "--stack", stack, "--json"];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: "" },
    maxBuffer: 64 * 2 ** 20,
  });
  return (JSON.parse(stdout) as { milliseconds: number }).milliseconds / 1000;
}
