/**
 * Graph build benchmark: declaring and validating a large asset graph with Tributary against a bare
 * graphology build + topological sort of the same nodes and edges, in the same process.
 *
 *   npx tsx bench/graph.ts            (10,000 assets × 5 runs, then 100,000 × 3)
 *   npx tsx bench/graph.ts 10000 9    (one size and number of runs; edges are three times the assets)
 *
 * Targets: 10,000 assets under 500 ms, and Tributary / baseline ≤ 1.5. Exits 1 when one is missed.
 * Wall-clock times count other processes' use of the cores, so CPU times are printed as well.
 */

import { availableParallelism, loadavg } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DirectedGraph } from "graphology";
import { topologicalSort } from "graphology-dag";
import { type AnyAsset, asset, defineGraph, source, Type } from "../src/kit/index.ts";
import { rng } from "./random.ts";

const TARGET_MS_10K = 500;
const TARGET_RATIO = 1.5;
const SEED = 0x7269_6275; // "ribu"

interface Spec {
  readonly nodes: number;
  /** keys[i] is node i; the first `sources` nodes are sources (no deps). */
  readonly keys: readonly string[];
  readonly sources: number;
  /** deps[i]: the distinct upstream indices of node i, each lower than i. */
  readonly deps: readonly (readonly number[])[];
  readonly depKeys: readonly (readonly string[])[];
  readonly sql: readonly string[];
  readonly edges: number;
}

/**
 * A random DAG of `nodes` nodes and exactly `edges` edges, every edge from a lower to a higher index.
 * Each non-source node gets 3 distinct deps (a few get 4 to reach the edge count), drawn with a bias
 * towards recent nodes so the graph is deep, not just wide.
 */
function generate(nodes: number, edges: number, seed: number): Spec {
  const random = rng(seed);
  const sources = Math.max(4, Math.round(nodes / 2500));
  const keys = Array.from({ length: nodes }, (_, i) => (i < sources ? `src_${i}` : `asset_${i}`));
  const counts = new Array<number>(nodes).fill(0);
  let total = 0;
  let room = 0;
  for (let i = sources; i < nodes; i++) {
    counts[i] = Math.min(3, i);
    total += counts[i]!;
    room += Math.min(6, i);
  }
  if (edges > room)
    throw new Error(`bench: ${nodes} nodes cannot hold ${edges} edges of at most 6 deps each`);
  while (total < edges) {
    const i = sources + Math.floor(random() * (nodes - sources));
    if (counts[i]! < i && counts[i]! < 6) {
      counts[i]!++;
      total++;
    }
  }
  const deps: number[][] = [];
  for (let i = 0; i < nodes; i++) {
    const chosen = new Set<number>();
    while (chosen.size < counts[i]!) {
      const u = random();
      chosen.add(i - 1 - Math.floor(u * u * i));
    }
    deps.push([...chosen]);
  }
  const depKeys = deps.map((ds) => ds.map((j) => keys[j]!));
  const sql = depKeys.map((ks) => `SELECT id, at, amount FROM ${ks.join(" JOIN ")} USING (id)`);
  return { nodes, keys, sources, deps, depKeys, sql, edges: total };
}

const Row = Type.Object({ id: Type.String(), at: Type.String(), amount: Type.Integer() });

/** Tributary: declare every source and asset, then build, validate and order the graph. */
function tributary(spec: Spec): number {
  const items: AnyAsset[] = new Array(spec.nodes);
  for (let i = 0; i < spec.nodes; i++) {
    const key = spec.keys[i]!;
    items[i] =
      i < spec.sources
        ? source(key, { schema: Row, eventId: "id", eventTime: "at" })
        : asset(key, { deps: spec.depKeys[i]!, schema: Row, sql: spec.sql[i]! });
  }
  return defineGraph(items).order.length;
}

/** Baseline: the same nodes and edges in a bare graphology graph, then a topological sort. */
function baseline(spec: Spec): number {
  const graph = new DirectedGraph();
  for (const key of spec.keys) graph.addNode(key);
  for (let i = 0; i < spec.nodes; i++) {
    const to = spec.keys[i]!;
    for (const d of spec.depKeys[i]!) graph.addDirectedEdge(d, to);
  }
  return topologicalSort(graph).length;
}

// A full collection before each timed run, so no run pays for the garbage of the one before.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Wall-clock and CPU milliseconds of one run (CPU: this process, all threads, so GC helpers count). */
function time(run: () => number, expected: number): { wall: number; cpu: number } {
  collect();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const n = run();
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  if (n !== expected) throw new Error(`bench: expected ${expected} nodes in order, got ${n}`);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Result {
  readonly nodes: number;
  readonly edges: number;
  readonly runs: number;
  /** Medians, wall-clock ms. */
  readonly tributary: number;
  readonly baseline: number;
  /** Medians, CPU ms: steadier than wall-clock time when other processes share the cores. */
  readonly tributaryCpu: number;
  readonly baselineCpu: number;
}

function bench(nodes: number, runs: number): Result {
  const spec = generate(nodes, nodes * 3, SEED ^ nodes);
  // Warm-up: one of each, so the JIT has seen both paths before we time them.
  time(() => tributary(spec), nodes);
  time(() => baseline(spec), nodes);
  const t: { wall: number; cpu: number }[] = [];
  const b: { wall: number; cpu: number }[] = [];
  // Alternate, so drift (other processes, heap growth) hits both sides alike.
  for (let r = 0; r < runs; r++) {
    t.push(time(() => tributary(spec), nodes));
    b.push(time(() => baseline(spec), nodes));
  }
  return {
    nodes,
    edges: spec.edges,
    runs,
    tributary: median(t.map((x) => x.wall)),
    baseline: median(b.map((x) => x.wall)),
    tributaryCpu: median(t.map((x) => x.cpu)),
    baselineCpu: median(b.map((x) => x.cpu)),
  };
}

const fmt = (n: number) => n.toLocaleString("en-US");
const ms = (n: number) => n.toFixed(1);

const sizes: [number, number][] =
  process.argv[2] === undefined
    ? [
        [10_000, 5],
        [100_000, 3],
      ]
    : [[Number(process.argv[2]), Number(process.argv[3] ?? 3)]];

const results = sizes.map(([n, runs]) => bench(n, runs));

const cores = availableParallelism();
const load = loadavg()[0]!;
console.log(
  `Node ${process.version}, ${process.platform}/${process.arch}, ${cores} cores, load ${load.toFixed(1)}; ` +
    `medians after one warm-up run; a full GC before each run.\n`,
);
console.log(
  "| assets | edges | runs | Tributary ms | baseline ms | ratio | Tributary CPU ms | baseline CPU ms | CPU ratio |",
);
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const r of results) {
  console.log(
    `| ${fmt(r.nodes)} | ${fmt(r.edges)} | ${r.runs} | ${ms(r.tributary)} | ${ms(r.baseline)} | ${(r.tributary / r.baseline).toFixed(2)} ` +
      `| ${ms(r.tributaryCpu)} | ${ms(r.baselineCpu)} | ${(r.tributaryCpu / r.baselineCpu).toFixed(2)} |`,
  );
}
if (load > cores)
  console.log(
    `\nnote: load ${load.toFixed(1)} on ${cores} cores: wall-clock times are inflated; see the CPU columns.`,
  );
console.log(`\npeak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);

const small = results.find((r) => r.nodes === 10_000);
if (small) {
  const ratio = small.tributary / small.baseline;
  const fast = small.tributary < TARGET_MS_10K;
  const close = ratio <= TARGET_RATIO;
  console.log(
    `target 10,000 assets < ${TARGET_MS_10K} ms: ${fast ? "met" : "MISSED"} (${ms(small.tributary)} ms)`,
  );
  console.log(`target ratio ≤ ${TARGET_RATIO}: ${close ? "met" : "MISSED"} (${ratio.toFixed(2)})`);
  if (!fast || !close) process.exitCode = 1;
}
for (const r of results.filter((x) => x.nodes !== 10_000)) {
  console.log(
    `ratio at ${fmt(r.nodes)} assets: ${(r.tributary / r.baseline).toFixed(2)} (target ≤ ${TARGET_RATIO})`,
  );
}
