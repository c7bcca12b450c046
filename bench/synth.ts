/**
 * Synth benchmark: `synth({ root, stack })` (the Pulumi program under Pulumi's mocks, in a child process)
 * of generated graphs of 100, 1,000 and 2,000 assets for an AWS stack, against a baseline child process
 * that registers the same number of bare `aws.s3.Bucket`s under `pulumi.runtime.setMocks`, with no
 * Tributary code, started the same way (`node --import tsx <program>`). Tributary / baseline is then
 * Tributary's cost per registered resource over Pulumi's own; "less fixed cost" takes each side's
 * smallest child (3 sources; no buckets) off first.
 *
 *   npx tsx bench/synth.ts                   (100, 1,000 and 2,000 assets; one run of each side)
 *   npx tsx bench/synth.ts 1000 --runs 3     (one size; medians of 3 runs of each side)
 *   npx tsx bench/synth.ts --profile         (then one more synth of 1,000 assets, CPU-profiled: where it goes)
 *   npx tsx bench/synth.ts 300 --profile 300 --keep --heap 0
 *                                            (--keep: keep the generated project; --heap 0: Node's default heap)
 *
 * Each graph is generated (seeded, so every run synthesises the same graph) as the module text of a
 * project's `assets/index.ts`, in a throwaway project under bench/.data/ (gitignored) that looks like a
 * user's: the repository's package.json (so `import ... from "tributary"` self-resolves), Pulumi.yaml,
 * infra/ and assets/graph/, node_modules linked to the repository's, and `stacks/Pulumi.bench-aws.yaml`,
 * a copy of dev-aws deploying the pipeline "bench". Every child gets the same --max-old-space-size
 * (default 16 GiB, at most 70% of the memory): with Node's default heap (about 4 GB) the baseline of
 * 1,000 assets (13,000 buckets) and Tributary's synth of 2,000 assets both run out of memory.
 *
 * Targets: 1,000 assets under 30 s, and time growing linearly: 2,000 assets ≤ 2.2 × the time of 1,000.
 * Exits 1 when one is missed. The CPU time of each child (with its own children) is printed beside the
 * wall-clock time, which counts other processes' use of the cores.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { parseDocument } from "yaml";
import { type Synthesis, synth } from "../infra/synth/index.ts";
import { rng } from "./random.ts";

const TARGET_S_1K = 30;
const TARGET_GROWTH = 2.2;
const SEED = 0x7379_6e74; // "synt"

const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const DATA = join(REPO, "bench", ".data");
const run = promisify(execFile);

const CRONS: readonly (readonly [string, string])[] = [
  ["0 3 * * *", "Europe/Berlin"],
  ["30 * * * *", "UTC"],
  ["15 6 * * 1-5", "America/New_York"],
  ["0 */4 * * *", "UTC"],
];
const FRESHNESS = ["45m", "2h", "26h", "2d"];

interface Node {
  readonly key: string;
  readonly kind: "source" | "sql" | "compute";
  readonly deps: readonly string[];
  readonly daily: boolean;
  /** Assets: the index into CRONS, or undefined for `trigger: onUpstream()`. */
  readonly cron?: number;
  readonly freshness?: string;
}

/**
 * The graph: one source in 20 (at least 3; half of them daily-partitioned), then assets each reading
 * 1–3 distinct earlier nodes, drawn with a bias towards recent ones so the graph is deep. One asset in 20
 * is a compute asset, the rest SQL; three in ten are daily-partitioned; two in three run on
 * `onUpstream()`, the others on a cron schedule; one in four has a freshness SLA (one source in ten).
 */
function generate(n: number): Node[] {
  const random = rng(SEED ^ n);
  const sources = Math.max(3, Math.round(n / 20));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    if (i < sources) {
      const freshness = random() < 0.1 ? pick(FRESHNESS) : undefined;
      nodes.push({ key: `src_${i}`, kind: "source", deps: [], daily: random() < 0.5, freshness });
      continue;
    }
    const want = Math.min(i, 1 + Math.floor(random() * 3));
    const chosen = new Set<number>();
    while (chosen.size < want) {
      const u = random();
      chosen.add(i - 1 - Math.floor(u * u * i));
    }
    const deps = [...chosen].sort((a, b) => a - b).map((j) => nodes[j]!.key);
    nodes.push({
      key: `asset_${i}`,
      kind: random() < 0.05 ? "compute" : "sql",
      deps,
      daily: random() < 0.3,
      cron: random() < 1 / 3 ? Math.floor(random() * CRONS.length) : undefined,
      freshness: random() < 0.25 ? pick(FRESHNESS) : undefined,
    });
  }
  return nodes;
}

/** The project's `assets/index.ts`, as a user would write it: one declaration per asset, from "tributary". */
function moduleText(nodes: readonly Node[]): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    "// Generated by bench/synth.ts: the graph of the synth benchmark. Do not edit.",
    'import { asset, cron, daily, defineGraph, onUpstream, source, Type } from "tributary";',
    "",
    "const Event = Type.Object({",
    "  event_id: Type.String(),",
    '  event_time: Type.String({ format: "date-time" }),',
    "  id: Type.Integer(),",
    "  amount: Type.Integer(),",
    "});",
    "const Row = Type.Object({ id: Type.Integer(), amount: Type.Integer() });",
    'const days = daily({ start: "2026-11-01" });',
    'const group = "bench";',
    "",
    "export default defineGraph([",
  ];
  for (const x of nodes) {
    const opts = ["group"];
    if (x.kind === "source") {
      opts.push("schema: Event", 'eventId: "event_id"', 'eventTime: "event_time"');
    } else {
      opts.push(`deps: ${JSON.stringify(x.deps)}`, "schema: Row");
      if (x.kind === "sql") {
        opts.push(`sql: ${q(x.deps.map((d) => `select id, amount from ${d}`).join(" union all "))}`);
      } else {
        opts.push("compute: () => []", 'codeVersion: "1"');
      }
    }
    if (x.daily) opts.push("partitions: days");
    if (x.kind !== "source") {
      const c = x.cron === undefined ? undefined : CRONS[x.cron]!;
      opts.push(c ? `schedule: cron(${q(c[0])}, ${q(c[1])})` : "trigger: onUpstream()");
    }
    if (x.freshness) opts.push(`freshness: ${q(x.freshness)}`);
    lines.push(`  ${x.kind === "source" ? "source" : "asset"}(${q(x.key)}, { ${opts.join(", ")} }),`);
  }
  lines.push("]);", "");
  return lines.join("\n");
}

/** The baseline program: `BENCH_N` bare buckets under Pulumi's mocks; no Tributary code. */
const BASELINE_PROGRAM = `// Generated by bench/synth.ts: the baseline of the synth benchmark. Do not edit.
import { writeFileSync } from "node:fs";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

// As synth's child does: no source-mapped stacks for Pulumi's per-promise stack captures.
process.setSourceMapsEnabled(false);
process.setSourceMapsEnabled = () => {};
const { n, out } = JSON.parse(process.env.BENCH_SYNTH_BASELINE ?? "{}");
let registered = 0;
await pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered++;
      return { id: args.name, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  "baseline",
  "bench",
  false,
);
const ids = [];
for (let i = 0; i < n; i++) {
  ids.push(new aws.s3.Bucket("bucket-" + i, { tags: { "tributary:asset": "b" + i, owner: "bench" } }).id);
}
await new Promise((done) => pulumi.all(ids).apply(() => done(undefined)));
await pulumi.runtime.disconnect();
writeFileSync(out, JSON.stringify({ registered }));
`;

/** A throwaway project at `dir` that looks like a user's, with the stack file `stacks/Pulumi.bench-<cloud>.yaml`. */
async function makeProject(dir: string): Promise<void> {
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
    await readFile(join(REPO, "stacks", `Pulumi.${EXAMPLE_STACK[CLOUD]}.yaml`), "utf8"),
  );
  stack.setIn(["config", "tributary:pipelines"], stack.createNode(["bench"]));
  await mkdir(join(dir, "stacks"));
  await writeFile(join(dir, "stacks", `Pulumi.${STACK}.yaml`), stack.toString());
  await writeFile(join(dir, "baseline.ts"), BASELINE_PROGRAM);
}

/**
 * Preloaded into every child (NODE_OPTIONS=--import): writes its startup time (process start → this
 * hook, i.e. node itself: NODE_OPTIONS imports come first), its lifetime and its peak RSS at exit; with BENCH_SYNTH_PROFILE set, it
 * records a CPU profile there too (`--cpu-prof` is not allowed in NODE_OPTIONS).
 */
const HOOK = `// Generated by bench/synth.ts: preloaded into each child of the synth benchmark. Do not edit.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";

const started = performance.now();
const profile = process.env.BENCH_SYNTH_PROFILE;
let session;
if (profile) {
  session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
}
process.on("exit", () => {
  const stats = { started, exited: performance.now(), maxRssMb: process.resourceUsage().maxRSS / 1024 };
  writeFileSync(process.env.BENCH_SYNTH_STATS, JSON.stringify(stats));
  session?.post("Profiler.stop", (err, r) => {
    if (!err) writeFileSync(profile, JSON.stringify(r.profile));
  });
});
`;

/** Clock ticks per second of /proc's CPU times. */
const TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds of this process's children that have been waited for (with their own children), from
 * /proc/self/stat (cutime + cstime); undefined off Linux. The delta across one child is that child's.
 */
function childrenCpu(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17.
    return (Number(fields[13]) + Number(fields[14])) / TICKS;
  } catch {
    return undefined;
  }
}

/** One child, timed: wall and CPU seconds, and what its hook reported. */
interface Timing<T> {
  readonly wall: number;
  /** NaN when unknown. */
  readonly cpu: number;
  /** Seconds from the child's start to the hook: node starting. */
  readonly startup: number;
  /** Seconds from the child's start to its exit. */
  readonly lifetime: number;
  readonly rssMb: number;
  readonly value: T;
}

async function timed<T>(dir: string, run: () => Promise<T>): Promise<Timing<T>> {
  const stats = join(dir, "stats.json");
  await rm(stats, { force: true });
  const cpu0 = childrenCpu();
  const t0 = performance.now();
  const value = await run();
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = childrenCpu();
  const hook = JSON.parse(await readFile(stats, "utf8")) as {
    started: number;
    exited: number;
    maxRssMb: number;
  };
  return {
    wall,
    cpu: cpu0 === undefined || cpu1 === undefined ? Number.NaN : cpu1 - cpu0,
    startup: hook.started / 1000,
    lifetime: hook.exited / 1000,
    rssMb: hook.maxRssMb,
    value,
  };
}

/** The baseline child: `n` bare buckets; returns how many registrations the mocks saw. */
async function baseline(dir: string, n: number): Promise<number> {
  const out = join(dir, "baseline.json");
  await rm(out, { force: true });
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(dir, "baseline.ts")], {
      cwd: dir,
      env: { ...process.env, BENCH_SYNTH_BASELINE: JSON.stringify({ n, out }) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stderr }));
  });
  if (code !== 0) throw new Error(`bench: the baseline of ${n} buckets failed (exit ${code}):\n${stderr}`);
  const { registered } = JSON.parse(await readFile(out, "utf8")) as { registered: number };
  if (registered !== n) throw new Error(`bench: the baseline registered ${registered} of ${n} buckets`);
  return registered;
}

/**
 * Make `nodes` the project's graph, with the functions' bundle its stack deploys (dist/bundles/ of the
 * project), built by the project's `tributary bundle` in a child of its own (a graph module imported here
 * would stay cached under its path, and the next graph's bundle would list the first one's functions).
 * Not timed.
 */
async function useGraph(dir: string, nodes: readonly Node[]): Promise<void> {
  await writeFile(join(dir, "assets", "index.ts"), moduleText(nodes));
  const args = [join(dir, "bin", "tributary.js"), "bundle", "--stack", STACK, "--json"];
  const { stdout } = await run(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  const built = JSON.parse(stdout) as { milliseconds: number };
  progress(`${fmt(nodes.length)} assets: bundle built in ${sec(built.milliseconds / 1000)} s`);
}

/** Checks that the synthesis deployed every asset: one AssetFunction component each. */
function check(s: Synthesis, assets: number): Synthesis {
  const functions = s.resources.filter((r) => r.type === `tributary:${CLOUD}:AssetFunction`).length;
  if (functions !== assets) {
    throw new Error(`bench: the synthesis has ${functions} AssetFunction components for ${assets} assets`);
  }
  return s;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Medians of each field over the runs. */
function medians(runs: readonly Timing<unknown>[]) {
  const m = (f: (t: Timing<unknown>) => number) => median(runs.map(f));
  return {
    wall: m((t) => t.wall),
    cpu: m((t) => t.cpu),
    startup: m((t) => t.startup),
    lifetime: m((t) => t.lifetime),
    rssMb: m((t) => t.rssMb),
  };
}
type Medians = ReturnType<typeof medians>;

interface Result {
  readonly assets: number;
  readonly edges: number;
  readonly resources: number;
  readonly components: number;
  readonly tributary: Medians;
  readonly baseline: Medians;
}

async function bench(dir: string, assets: number, runs: number): Promise<Result> {
  const nodes = generate(assets);
  await useGraph(dir, nodes);
  const t: Timing<Synthesis>[] = [];
  const b: Timing<number>[] = [];
  // Alternate, so drift (other processes) hits both sides alike.
  for (let r = 0; r < runs; r++) {
    const s = await timed(dir, async () => check(await synth({ root: dir, stack: STACK }), assets));
    t.push(s);
    progress(`${fmt(assets)} assets, run ${r + 1}: Tributary ${sec(s.wall)} s`);
    const n = s.value.resources.length;
    b.push(await timed(dir, () => baseline(dir, n)));
    progress(`${fmt(assets)} assets, run ${r + 1}: baseline ${sec(b.at(-1)!.wall)} s`);
  }
  const s = t[0]!.value;
  return {
    assets,
    edges: nodes.reduce((n, x) => n + x.deps.length, 0),
    resources: s.resources.length,
    components: s.resources.filter((r) => !r.custom).length,
    tributary: medians(t),
    baseline: medians(b),
  };
}

// ---------------------------------------------------------------------------------------------------
// --profile: one more Tributary synth, CPU-profiled in the child, its time split by what it was doing.

interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string };
    readonly children?: readonly number[];
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const STACK_FORMATTING = new Set([
  "prepareStackTraceWithSourceMaps",
  "defaultPrepareStackTrace",
  "get stack",
]);

/**
 * Each sample goes to the first of these its stack matches: garbage collection; formatting an
 * `Error.stack` (with tsx's source maps on, Node maps every frame), split by whether Pulumi's
 * `debuggablePromise` asked for it; the rest of `debuggablePromise` (capturing the stack); loading
 * modules; else by the leaf frame: Tributary's code (the project's infra/ and assets/), Pulumi
 * (@pulumi/*, google-protobuf), anything else.
 */
function categorise(profile: CpuProfile, root: string) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = pathToFileURL(root).href;
  const totals = new Map<string, number>();
  let deployFirst = Number.POSITIVE_INFINITY;
  let deployLast = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    const leaf = byId.get(profile.samples[i]!)!.callFrame;
    const frames: { functionName: string; url: string }[] = [];
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id))
      frames.push(byId.get(id)!.callFrame);
    const has = (f: (c: { functionName: string; url: string }) => boolean) => frames.some(f);
    if (has((c) => c.functionName === "deploy" && c.url.endsWith("/infra/aws/index.ts"))) {
      deployFirst = Math.min(deployFirst, t);
      deployLast = t;
    }
    const inDebuggable = has((c) => c.functionName === "debuggablePromise");
    let what: string;
    if (leaf.functionName === "(garbage collector)") what = "garbage collection";
    else if (has((c) => STACK_FORMATTING.has(c.functionName)))
      what = inDebuggable
        ? "Error.stack formatting, for Pulumi's debuggablePromise"
        : "Error.stack formatting, other callers";
    else if (inDebuggable) what = "Pulumi's debuggablePromise, rest (new Error(): stack capture)";
    else if (has((c) => c.functionName === "wrapSafe" || c.url.includes("/node_modules/tsx/")))
      what = "loading and compiling modules";
    else if (leaf.url.startsWith(own) && !leaf.url.includes("/node_modules/"))
      what = "Tributary's own code (self time)";
    else if (/@pulumi\/|google-protobuf/.test(leaf.url)) what = "Pulumi SDK, rest (self time)";
    else if (leaf.functionName === "(idle)") what = "idle";
    else what = "other (Node internals, V8, other packages)";
    totals.set(what, (totals.get(what) ?? 0) + dt);
  }
  return {
    span: (profile.endTime - profile.startTime) / 1e6,
    totals: [...totals].map(([what, us]) => ({ what, s: us / 1e6 })).sort((a, b) => b.s - a.s),
    beforeDeploy: (deployFirst - profile.startTime) / 1e6,
    deploy: (deployLast - deployFirst) / 1e6,
    afterDeploy: (profile.endTime - deployLast) / 1e6,
  };
}

async function profiled(dir: string, assets: number): Promise<string[]> {
  await writeFile(join(dir, "assets", "index.ts"), moduleText(generate(assets)));
  const file = join(dir, "child.cpuprofile");
  process.env.BENCH_SYNTH_PROFILE = file;
  let run: Timing<Synthesis>;
  try {
    run = await timed(dir, async () => check(await synth({ root: dir, stack: STACK }), assets));
  } finally {
    delete process.env.BENCH_SYNTH_PROFILE;
  }
  const c = categorise(JSON.parse(await readFile(file, "utf8")) as CpuProfile, dir);
  const total = c.totals.reduce((n, x) => n + x.s, 0);
  return [
    `\nProfile of one more Tributary synth of ${fmt(assets)} assets (${fmt(run.value.resources.length)} resources; ` +
      `${sec(run.wall)} s under the profiler), the child's samples by what it was doing:\n`,
    "| what | s | share |",
    "|---|---:|---:|",
    ...c.totals.map((x) => `| ${x.what} | ${sec(x.s)} | ${((100 * x.s) / total).toFixed(0)}% |`),
    `\nTimeline: node start ${sec(run.startup)} s; then tsx and loading modules, the graph and the plan ` +
      `until deploy() ${sec(c.beforeDeploy)} s; deploy() constructing every resource ${sec(c.deploy)} s; then ` +
      `registering them under the mocks, recording and writing the synthesis ${sec(c.afterDeploy)} s.`,
  ];
}

// ---------------------------------------------------------------------------------------------------

const fmt = (n: number) => n.toLocaleString("en-US");
const sec = (n: number) => (Number.isNaN(n) ? "?" : n.toFixed(2));
const progress = (line: string) => process.stderr.write(`  ${line}\n`);

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at < 0 ? undefined : (args.splice(at, 2)[1] ?? "");
};
const flag = (name: string): boolean => {
  const at = args.indexOf(name);
  return at >= 0 && args.splice(at, 1).length > 0;
};
const RUNS = Number(option("--runs") ?? 1);
// --cloud aws|gcp|azure: the generated graph deploys with that cloud's adapter, from a copy of its example stack.
const CLOUD = option("--cloud") ?? "aws";
const EXAMPLE_STACK: Record<string, string> = { aws: "dev-aws", gcp: "staging-gcp", azure: "prod-azure" };
if (!EXAMPLE_STACK[CLOUD]) throw new Error("usage: --cloud aws|gcp|azure");
const STACK = `bench-${CLOUD}`;
// Node's default heap (about 4 GB) cannot hold 2,000 assets' resources under the mocks; both sides get the same.
const HEAP_MB = Number(option("--heap") ?? Math.min(16_384, Math.floor((totalmem() * 0.7) / 2 ** 20)));
const KEEP = flag("--keep");
// --profile [assets]: one more synth, profiled (default: of 1,000 assets if measured, else of the first size).
const profileAt = args.indexOf("--profile");
const profileSize = /^\d+$/.test(args[profileAt + 1] ?? "") ? Number(args[profileAt + 1]) : undefined;
if (profileAt >= 0) args.splice(profileAt, profileSize === undefined ? 1 : 2);
const SIZES = args.length > 0 ? args.map(Number) : [100, 1000, 2000];
const PROFILE = profileAt < 0 ? undefined : (profileSize ?? (SIZES.includes(1000) ? 1000 : SIZES[0]!));
if (
  !Number.isInteger(RUNS) ||
  RUNS < 1 ||
  !Number.isInteger(HEAP_MB) ||
  (PROFILE !== undefined && PROFILE < 3) ||
  HEAP_MB < 0 ||
  SIZES.some((n) => !Number.isInteger(n) || n < 3)
) {
  throw new Error(
    "usage: npx tsx bench/synth.ts [assets ...] [--cloud aws|gcp|azure] [--runs N] [--heap MB] [--profile] [--keep]",
  );
}

await mkdir(DATA, { recursive: true });
const dir = await mkdtemp(join(DATA, "synth-"));
const results: Result[] = [];
let floor: { tributary: Timing<Synthesis>; baseline: Timing<number> } | undefined;
let profile: string[] = [];
try {
  await makeProject(dir);
  await writeFile(join(dir, "hook.mjs"), HOOK);
  // Every child inherits these: synth() passes its own environment on.
  process.env.NODE_OPTIONS = [
    process.env.NODE_OPTIONS,
    `--import "${pathToFileURL(join(dir, "hook.mjs")).href}"`,
    HEAP_MB > 0 ? `--max-old-space-size=${HEAP_MB}` : undefined,
  ]
    .filter(Boolean)
    .join(" ");
  process.env.BENCH_SYNTH_STATS = join(dir, "stats.json");
  // Warm-up, not timed: fills tsx's transform cache with infra/ and the kit (as a user's second synth finds it).
  await useGraph(dir, generate(20));
  check(await synth({ root: dir, stack: STACK }), 20);
  await baseline(dir, 0);
  // The fixed cost of a child: the smallest graph (3 sources), and a baseline registering nothing.
  await useGraph(dir, generate(3));
  floor = {
    tributary: await timed(dir, async () => check(await synth({ root: dir, stack: STACK }), 3)),
    baseline: await timed(dir, () => baseline(dir, 0)),
  };
  for (const n of SIZES) results.push(await bench(dir, n, RUNS));
  if (PROFILE !== undefined) profile = await profiled(dir, PROFILE);
} finally {
  if (KEEP) console.log(`kept: ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}

const cores = availableParallelism();
const load = loadavg()[0]!;
const ft = floor.tributary;
const fb = floor.baseline;
console.log(
  `\nNode ${process.version}, ${process.platform}/${process.arch}, ${cores} cores, load ${load.toFixed(1)}; ` +
    `${RUNS === 1 ? "one run" : `medians of ${RUNS} runs`} of each side after one warm-up synth; ` +
    `every child runs with ${HEAP_MB > 0 ? `--max-old-space-size=${fmt(HEAP_MB)}` : "Node's default heap"}.`,
);
console.log(
  `Baseline: a child registering as many bare aws.s3.Buckets under setMocks, started the same way.\n` +
    `Fixed cost of a child: Tributary with 3 sources (${fmt(ft.value.resources.length)} resources) ${sec(ft.wall)} s, ` +
    `an empty baseline ${sec(fb.wall)} s (node start ${sec(fb.startup)} s of it).\n`,
);
console.log(
  "| assets | edges | resources (components) | Tributary s | resources/s | baseline s | baseline resources/s " +
    "| ratio | ratio less fixed cost | Tributary CPU s | baseline CPU s | peak RSS MB Tributary / baseline |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const marginal = (r: Result) => (r.tributary.wall - ft.wall) / (r.baseline.wall - fb.wall);
for (const r of results) {
  const t = r.tributary;
  const b = r.baseline;
  console.log(
    `| ${fmt(r.assets)} | ${fmt(r.edges)} | ${fmt(r.resources)} (${fmt(r.components)}) | ${sec(t.wall)} ` +
      `| ${fmt(Math.round(r.resources / t.wall))} | ${sec(b.wall)} | ${fmt(Math.round(r.resources / b.wall))} ` +
      `| ${(t.wall / b.wall).toFixed(2)} | ${marginal(r).toFixed(2)} | ${sec(t.cpu)} | ${sec(b.cpu)} ` +
      `| ${fmt(Math.round(t.rssMb))} / ${fmt(Math.round(b.rssMb))} |`,
  );
}
if (load > cores)
  console.log(
    `\nnote: load ${load.toFixed(1)} on ${cores} cores: wall-clock times are inflated; see the CPU columns.`,
  );

console.log("");
const k1 = results.find((r) => r.assets === 1000);
const k2 = results.find((r) => r.assets === 2000);
if (k1 && k2) {
  const growth = k2.tributary.wall / k1.tributary.wall;
  const ok = growth <= TARGET_GROWTH;
  console.log(
    `target growth 1,000 → 2,000 assets ≤ ${TARGET_GROWTH}×: ${ok ? "met" : "MISSED"} (${growth.toFixed(2)}×; ` +
      `CPU ${(k2.tributary.cpu / k1.tributary.cpu).toFixed(2)}×; resources ${(k2.resources / k1.resources).toFixed(2)}×; ` +
      `baseline ${(k2.baseline.wall / k1.baseline.wall).toFixed(2)}×)`,
  );
  if (!ok) process.exitCode = 1;
}
if (k1) {
  const ok = k1.tributary.wall < TARGET_S_1K;
  console.log(
    `target 1,000 assets < ${TARGET_S_1K} s: ${ok ? "met" : "MISSED"} (${sec(k1.tributary.wall)} s)`,
  );
  if (!ok) process.exitCode = 1;
}
for (const r of results) {
  const per = (s: number) => ((s * 1000) / r.resources).toFixed(2);
  console.log(
    `ratio at ${fmt(r.assets)} assets: ${(r.tributary.wall / r.baseline.wall).toFixed(2)}, ` +
      `${marginal(r).toFixed(2)} less each side's fixed cost (ms per resource: Tributary ${per(r.tributary.wall)}, ` +
      `baseline ${per(r.baseline.wall)})`,
  );
}
for (const line of profile) console.log(line);
console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
