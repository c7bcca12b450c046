/**
 * Preview benchmark: `tributary diff` between two commits of a project whose graph has 1,000 generated
 * assets, 20 of them changed (5 rename an output column their consumers read, 5 change their SQL, 5
 * their schedule, 5 their owners), for one AWS stack, comparing graphs and plans (`--no-synth`: a
 * synthesis of 1,000 assets alone takes minutes, see bench/synth.ts).
 *
 *   npx tsx bench/preview.ts            (1,000 assets, 3 runs)
 *   npx tsx bench/preview.ts 2000 5     (assets, runs)
 *
 * Two measurements, medians of the runs:
 * - end to end, as CI runs it: the CLI in a child process, from git refs to the Markdown comment and to
 *   the JSON (worktree checkout, both graph modules loaded, both plans built, the diff, the rendering);
 *   target under 10 s. The comment must stay under 65,536 characters and name every breaking consumer.
 * - the diff itself, in this process, on graphs already loaded: snapshots, graph diff, both plans, plan
 *   diff and rendering, against a baseline of bare graphology doing the least a graph diff does (two
 *   graphs built from the same node and edge lists, nodes and edges added and removed, and everything
 *   downstream of the changed nodes). The ratio says what the preview's detail costs over that.
 *
 * Exits 1 when a target is missed. The generated project lives under bench/.data/ (gitignored).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { DirectedGraph } from "graphology";
import { parseDocument } from "yaml";
import { configMap, readStackConfig } from "../src/infra/config.ts";
import { planDeployment } from "../src/infra/plan/build.ts";
import { diffGraph } from "../src/infra/preview/graph-diff.ts";
import { renderMarkdown } from "../src/infra/preview/markdown.ts";
import { diffPlans } from "../src/infra/preview/plan-diff.ts";
import { snapshotOf } from "../src/infra/preview/snapshot.ts";
import type { Preview } from "../src/infra/preview/types.ts";
import { type AnyAsset, defineGraph } from "../src/kit/index.ts";
import { generate, moduleText, type Node, PROJECT_CONFIG } from "./generated-graph.ts";

const TARGET_S = 10;
const LIMIT = 65_536;
const STACK = "bench-aws";
const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const DATA = path.join(REPO, "bench", ".data");
const EXAMPLE = path.join(REPO, "examples", "commerce");

const assets = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 3);

/** The head's graph: 20 of the base's assets changed, spread over the graph, in four kinds. */
function change(nodes: readonly Node[]): { head: Node[]; changed: Map<string, string> } {
  const candidates = nodes.filter((n) => n.kind === "sql");
  const step = Math.floor(candidates.length / 21);
  const picked = Array.from({ length: 20 }, (_, i) => candidates[(i + 1) * step]!.key);
  const changed = new Map<string, string>();
  const head = nodes.map((n) => {
    const i = picked.indexOf(n.key);
    if (i < 0) return n;
    const kind = ["renamed", "sql", "schedule", "owners"][i % 4]!;
    changed.set(n.key, kind);
    switch (kind) {
      case "renamed":
        return { ...n, renamed: true };
      case "sql":
        return { ...n, filter: "amount >= 0" };
      case "schedule":
        return { ...n, cron: ((n.cron ?? -1) + 1) % 4 };
      default:
        return { ...n, owners: ["team:bench"] };
    }
  });
  return { head, changed };
}

function git(dir: string, ...args: string[]): string {
  return execFileSync(
    "git",
    ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false", ...args],
    { cwd: dir, encoding: "utf8" },
  ).trim();
}

/**
 * A user's project in a git repository (the example's Pulumi.yaml and program, node_modules linked to the
 * repository's, where `tributary` is this package): the base graph committed, then the head's.
 */
function makeProject(base: readonly Node[], head: readonly Node[]): string {
  fs.mkdirSync(DATA, { recursive: true });
  const dir = fs.mkdtempSync(path.join(DATA, "preview-"));
  fs.writeFileSync(
    path.join(dir, "package.json"),
    `${JSON.stringify({ name: "bench", private: true, type: "module" })}\n`,
  );
  for (const p of ["Pulumi.yaml", "deploy.ts"]) fs.copyFileSync(path.join(EXAMPLE, p), path.join(dir, p));
  // Its own configuration: without one, the repository's (found walking up) would name the example's graph.
  fs.writeFileSync(path.join(dir, "tributary.config.ts"), PROJECT_CONFIG);
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\n");
  const stack = parseDocument(fs.readFileSync(path.join(EXAMPLE, "stacks", "Pulumi.dev-aws.yaml"), "utf8"));
  stack.setIn(["config", "tributary:pipelines"], stack.createNode(["bench"]));
  fs.mkdirSync(path.join(dir, "stacks"));
  fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${STACK}.yaml`), stack.toString());
  git(dir, "init", "--quiet", "--initial-branch=main");
  fs.mkdirSync(path.join(dir, "assets"));
  fs.writeFileSync(path.join(dir, "assets", "index.ts"), moduleText(base));
  git(dir, "add", "--all");
  git(dir, "commit", "--quiet", "-m", "base");
  fs.writeFileSync(path.join(dir, "assets", "index.ts"), moduleText(head));
  git(dir, "commit", "--quiet", "--all", "-m", "head");
  return dir;
}

/** The CLI in a child process, from the project's folder; its wall time in seconds. */
function cli(
  dir: string,
  args: readonly string[],
): Promise<{ seconds: number; code: number | null; stderr: string }> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [path.join(REPO, "bin", "tributary.js"), ...args], {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ seconds: (performance.now() - started) / 1000, code, stderr }));
  });
}

/** The graph of a generated node list, built by this process's kit (the same declarations as the module's). */
async function graphOf(dir: string, ref: string): Promise<ReturnType<typeof defineGraph>> {
  const file = path.join(dir, `.graph-${ref}.ts`);
  fs.writeFileSync(file, git(dir, "show", `${ref}:assets/index.ts`));
  const module = (await import(file)) as { default: { assets(): readonly AnyAsset[] } };
  return defineGraph(module.default.assets());
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function baseline(base: readonly Node[], head: readonly Node[], changed: ReadonlySet<string>): number {
  const build = (nodes: readonly Node[]) => {
    const g = new DirectedGraph();
    for (const n of nodes) g.addNode(n.key, { n });
    for (const n of nodes) for (const d of n.deps) g.addEdge(d, n.key);
    return g;
  };
  const a = build(base);
  const b = build(head);
  let found = 0;
  b.forEachNode((k) => {
    if (!a.hasNode(k)) found++;
  });
  a.forEachNode((k) => {
    if (!b.hasNode(k)) found++;
  });
  b.forEachEdge((_e, _attr, s, t) => {
    if (!a.hasEdge(s, t)) found++;
  });
  const seen = new Set<string>();
  const queue = [...changed];
  while (queue.length > 0) {
    const k = queue.pop()!;
    for (const o of b.outNeighbors(k)) {
      if (!seen.has(o)) {
        seen.add(o);
        queue.push(o);
      }
    }
  }
  return found + seen.size;
}

const base = generate(assets);
const { head, changed } = change(base);
const dir = makeProject(base, head);
const breaking = new Set<string>();
for (const n of head) {
  for (const d of n.deps) if (changed.get(d) === "renamed") breaking.add(`${d} → ${n.key}`);
}
console.log(
  `preview: ${assets} assets, ${changed.size} changed (${[...new Set(changed.values())].join(", ")}), ` +
    `${breaking.size} breaking consumer edges; ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}`,
);

let failed = false;
try {
  // End to end, as CI runs it.
  const markdown = path.join(dir, "comment.md");
  const json = path.join(dir, "preview.json");
  const args = ["diff", "--base", "HEAD~1", "--head", "HEAD", "--stack", STACK, "--no-synth"];
  const md: number[] = [];
  const js: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await cli(dir, [...args, "--out", markdown]);
    if (a.code !== 0) throw new Error(`tributary diff failed:\n${a.stderr}`);
    md.push(a.seconds);
    const b = await cli(dir, [...args, "--format", "json", "--out", json]);
    if (b.code !== 0) throw new Error(`tributary diff --format json failed:\n${b.stderr}`);
    js.push(b.seconds);
  }
  const comment = fs.readFileSync(markdown, "utf8");
  const preview = JSON.parse(fs.readFileSync(json, "utf8")) as Preview;
  const missing = [...breaking].filter((b) => !comment.includes(b));
  const reported = preview.risks.filter((r) => r.kind === "breaking-schema").length;
  console.log(
    `end to end (CLI, git refs → comment): markdown ${median(md).toFixed(2)} s, json ${median(js).toFixed(2)} s ` +
      `(target < ${TARGET_S} s); comment ${comment.length} characters (limit ${LIMIT}), ` +
      `${reported} breaking consumers reported, ${missing.length} of ${breaking.size} missing from the comment; ` +
      `${preview.graph!.impact.length} assets impacted`,
  );
  if (median(md) >= TARGET_S || median(js) >= TARGET_S) failed = true;
  if (comment.length > LIMIT || missing.length > 0 || reported !== breaking.size) failed = true;

  // The diff itself, in process, against bare graphology.
  const [baseGraph, headGraph] = [await graphOf(dir, "HEAD~1"), await graphOf(dir, "HEAD")];
  const config = readStackConfig(configMap(dir, STACK), STACK);
  const now = new Date();
  const ours: number[] = [];
  const bare: number[] = [];
  const keys = new Set(changed.keys());
  for (let i = 0; i < runs + 2; i++) {
    let t = performance.now();
    const g = diffGraph(snapshotOf(baseGraph, now), snapshotOf(headGraph, now));
    const plan = diffPlans(STACK, planDeployment(baseGraph, config), planDeployment(headGraph, config));
    const text = renderMarkdown({
      version: 1,
      graph: g.graph,
      stacks: [{ stack: STACK, source: "plan", plan: plan.changes, summary: {} }],
      risks: [...g.risks, ...plan.risks],
    });
    if (text.length === 0) throw new Error("bench: empty comment");
    ours.push(performance.now() - t);
    t = performance.now();
    if (baseline(base, head, keys) === 0) throw new Error("bench: the baseline found nothing");
    bare.push(performance.now() - t);
  }
  // The first two runs warm up (JIT); medians of the rest.
  const o = median(ours.slice(2));
  const b = median(bare.slice(2));
  console.log(
    `in process (loaded graphs → comment): ${o.toFixed(1)} ms; bare graphology diff + downstream ${b.toFixed(1)} ms; ratio ${(o / b).toFixed(1)}`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(failed ? "preview: a target was missed" : "preview: every target met");
process.exit(failed ? 1 : 0);
