/**
 * A throwaway project for the benchmarks that synthesise a generated graph (synth, synth-scale), under
 * bench/.data/ (gitignored), that looks like a user's: the repository's package.json (so `import ... from
 * "tributary"` self-resolves), Pulumi.yaml, infra/, runtime/, bin/ and assets/graph/, node_modules linked
 * to the repository's, and `stacks/Pulumi.bench-<cloud>.yaml`, a copy of the cloud's example stack
 * deploying the pipeline "bench".
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseDocument } from "yaml";
import { moduleText, type Node } from "./generated-graph.ts";

export const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
export const DATA = join(REPO, "bench", ".data");

/** Each cloud's example stack, copied as `bench-<cloud>`. */
export const EXAMPLE_STACK: Readonly<Record<string, string>> = {
  aws: "dev-aws",
  gcp: "staging-gcp",
  azure: "prod-azure",
};

/** Make `dir` the project; its stack is `bench-<cloud>`. */
export async function makeProject(dir: string, cloud: string): Promise<void> {
  await cp(join(REPO, "package.json"), join(dir, "package.json"));
  await cp(join(REPO, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  await cp(join(REPO, "infra"), join(dir, "infra"), { recursive: true });
  // infra imports the runtime's bus message names and bundle manifest; the project's own CLI bundles
  // its graph (the repository's would load a second copy of the kit, whose AssetGraph is another class).
  await cp(join(REPO, "runtime"), join(dir, "runtime"), { recursive: true });
  await cp(join(REPO, "bin"), join(dir, "bin"), { recursive: true });
  await cp(join(REPO, "assets", "graph"), join(dir, "assets", "graph"), { recursive: true });
  await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  const stack = parseDocument(
    await readFile(join(REPO, "stacks", `Pulumi.${EXAMPLE_STACK[cloud]}.yaml`), "utf8"),
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
  const args = [join(dir, "bin", "tributary.js"), "bundle", "--stack", stack, "--json"];
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: "" },
    maxBuffer: 64 * 2 ** 20,
  });
  return (JSON.parse(stdout) as { milliseconds: number }).milliseconds / 1000;
}
