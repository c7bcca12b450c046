import fc from "fast-check";
import { topologicalGenerations } from "graphology-dag";
import {
  type AnyAsset,
  type AssetGraph,
  asset,
  CycleError,
  defineGraph,
  type GraphError,
  GraphValidationError,
  source,
  Type,
} from "tributary";
import { describe, expect, it } from "vitest";
import { sqlCode } from "../../src/kit/sql.ts";

/**
 * Property tests of graph building: random DAGs (and DAGs with one back edge) declared through the public
 * kit, checked against what a few lines of independent code compute from the declared deps.
 */

const Row = Type.Object({ id: Type.String(), at: Type.String() });

/** How an asset's logic is written: SQL of three shapes (two have comments or literals to strip), or a function. */
type Logic = "sql" | "sql_upper" | "sql_commented" | "compute";

interface Dag {
  readonly n: number;
  /** deps[i]: distinct upstream node indices, each lower than i, in declared order. */
  readonly deps: readonly (readonly number[])[];
  /** names[i] is node i's name: a permutation, so key order is unrelated to index order. */
  readonly names: readonly number[];
  /** Whether node i is declared as a source (only when it has no deps). */
  readonly asSource: readonly boolean[];
  readonly logic: readonly Logic[];
  /** A permutation of 0..n-1: a second declaration order. */
  readonly shuffle: readonly number[];
  /** Where the shuffled declaration is split into two pipeline lists. */
  readonly split: number;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const keyOf = (dag: Dag, i: number): string => `a_${dag.names[i]}`;

/** A random DAG of 1–60 nodes whose edges all run from a lower to a higher index (dep → consumer). */
const dagArb: fc.Arbitrary<Dag> = fc
  .record({ n: fc.integer({ min: 1, max: 60 }), maxDeps: fc.integer({ min: 0, max: 6 }) })
  .chain(({ n, maxDeps }) =>
    fc.record({
      n: fc.constant(n),
      deps: fc.tuple(
        ...range(n).map((i) => fc.shuffledSubarray(range(i), { maxLength: Math.min(i, maxDeps) })),
      ) as fc.Arbitrary<number[][]>,
      names: fc.shuffledSubarray(range(n), { minLength: n, maxLength: n }),
      asSource: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      logic: fc.array(fc.constantFrom<Logic>("sql", "sql_upper", "sql_commented", "compute"), {
        minLength: n,
        maxLength: n,
      }),
      shuffle: fc.shuffledSubarray(range(n), { minLength: n, maxLength: n }),
      split: fc.integer({ min: 0, max: n }),
    }),
  );

function sqlFor(logic: Logic, tables: readonly string[]): string {
  if (tables.length === 0) return "SELECT 'x' AS id, 'y' AS at";
  const from = tables.join(" JOIN ");
  if (logic === "sql_upper") return `SELECT ID, AT FROM ${from.toUpperCase()} USING (ID)`;
  if (logic === "sql_commented")
    return `-- reads ${tables.length} tables\nSELECT id, at FROM ${from} USING (id) WHERE at > ''`;
  return `SELECT id, at FROM ${from} USING (id)`;
}

/** Declare node i of `dag` with the given upstream indices (which may point anywhere, for cycles). */
function declareNode(dag: Dag, i: number, deps: readonly number[], allowSource: boolean): AnyAsset {
  const key = keyOf(dag, i);
  const tables = deps.map((j) => keyOf(dag, j));
  if (allowSource && deps.length === 0 && dag.asSource[i]) {
    return source(key, { schema: Row, eventId: "id", eventTime: "at" });
  }
  const logic = dag.logic[i]!;
  if (logic === "compute")
    return asset(key, { deps: tables, schema: Row, codeVersion: "1", compute: () => [] });
  return asset(key, { deps: tables, schema: Row, sql: sqlFor(logic, tables) });
}

/** Every node of `dag` declared in index order. */
function declare(dag: Dag, deps: readonly (readonly number[])[] = dag.deps, allowSource = true): AnyAsset[] {
  return range(dag.n).map((i) => declareNode(dag, i, deps[i]!, allowSource));
}

/** The same declarations in `dag.shuffle` order, split into two pipelines. */
function declareShuffled(dag: Dag, deps: readonly (readonly number[])[] = dag.deps, allowSource = true) {
  const items = dag.shuffle.map((i) => declareNode(dag, i, deps[i]!, allowSource));
  return [items.slice(0, dag.split), items.slice(dag.split)];
}

/** Each node's level, computed from the declared deps alone: 0 without deps, else 1 + the deepest dep's. */
function expectedLevels(dag: Dag): number[] {
  const level: number[] = [];
  // Deps have lower indices, so index order visits every dep first.
  for (let i = 0; i < dag.n; i++) level.push(Math.max(-1, ...dag.deps[i]!.map((j) => level[j]!)) + 1);
  return level;
}

/** Nodes reachable from `start` within `depth` steps along `next`, without `start` itself. */
function reach(
  start: number,
  next: (i: number) => readonly number[],
  depth = Number.POSITIVE_INFINITY,
): Set<number> {
  const seen = new Set<number>();
  let frontier = [start];
  for (let d = 0; d < depth && frontier.length > 0; d++) {
    const following: number[] = [];
    for (const i of frontier) {
      for (const j of next(i)) {
        if (j !== start && !seen.has(j)) {
          seen.add(j);
          following.push(j);
        }
      }
    }
    frontier = following;
  }
  return seen;
}

function consumersOf(dag: Dag): number[][] {
  const out: number[][] = range(dag.n).map(() => []);
  dag.deps.forEach((ds, i) => {
    for (const j of ds) out[j]!.push(i);
  });
  return out;
}

function errorsOf(build: () => unknown): readonly GraphError[] {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(GraphValidationError);
    return (e as GraphValidationError).errors;
  }
  throw new Error("expected defineGraph to throw a GraphValidationError");
}

describe("defineGraph on random DAGs", () => {
  it("orders every dependency before its consumer, levels by depth, sorted, the same for any declaration order", () => {
    fc.assert(
      fc.property(dagArb, (dag) => {
        const g = defineGraph(declare(dag));
        const key = (i: number) => keyOf(dag, i);

        // Every key once; every edge upstream → consumer.
        expect([...g.order].sort()).toEqual(range(dag.n).map(key).sort());
        dag.deps.forEach((ds, i) => {
          for (const j of ds) expect(g.rank(key(j))).toBeLessThan(g.rank(key(i)));
        });

        // Levels: each node at 1 + its deepest dep's level (0 without deps), keys sorted within a level.
        const level = expectedLevels(dag);
        const expected: string[][] = range(Math.max(...level) + 1).map(() => []);
        level.forEach((l, i) => {
          expected[l]!.push(key(i));
        });
        for (const keys of expected) keys.sort();
        expect(g.levels).toEqual(expected);
        expect(g.order).toEqual(expected.flat());
        // …which are graphology-dag's generations of the same graph, sorted.
        expect(g.levels).toEqual(topologicalGenerations(g.graph).map((l) => [...l].sort()));

        // The graphology graph holds exactly the declared edges, upstream → consumer.
        expect(g.graph.order).toBe(dag.n);
        expect(g.graph.size).toBe(dag.deps.reduce((s, ds) => s + ds.length, 0));
        dag.deps.forEach((ds, i) => {
          for (const j of ds) expect(g.graph.hasDirectedEdge(key(j), key(i))).toBe(true);
        });

        // Deterministic: again, and declared in another order across two pipelines.
        const again = defineGraph(declare(dag));
        const shuffled = defineGraph(declareShuffled(dag));
        expect(again.order).toEqual(g.order);
        expect(shuffled.order).toEqual(g.order);
        expect(shuffled.levels).toEqual(g.levels);
      }),
      { numRuns: 300 },
    );
  });
});

describe("defineGraph on random graphs with a cycle", () => {
  /** A DAG plus one back edge: `lo` is made to depend on `hi` (lo ≤ hi), and hi already reaches lo. */
  const cyclicArb = dagArb
    .chain((dag) => fc.record({ dag: fc.constant(dag), u: fc.nat(dag.n - 1), v: fc.nat(dag.n - 1) }))
    .map(({ dag, u, v }) => {
      const lo = Math.min(u, v);
      const hi = Math.max(u, v);
      const deps = dag.deps.map((ds) => [...ds]);
      // Make sure hi is downstream of lo, so the back edge closes a cycle (lo === hi: a self-dependency).
      if (lo !== hi && !reach(hi, (i) => deps[i]!).has(lo)) deps[hi]!.push(lo);
      deps[lo]!.push(hi);
      return { dag, deps, lo, hi };
    });

  it("throws one CycleError whose path is a real cycle of dependencies, the same for any declaration order", () => {
    fc.assert(
      fc.property(cyclicArb, ({ dag, deps }) => {
        const depsOf = new Map(range(dag.n).map((i) => [keyOf(dag, i), deps[i]!.map((j) => keyOf(dag, j))]));
        const errors = errorsOf(() => defineGraph(declare(dag, deps, false)));
        expect(errors.map((e) => e.name)).toEqual(["CycleError"]);
        const cycle = errors[0] as CycleError;
        expect(cycle).toBeInstanceOf(CycleError);
        const path = cycle.path;

        expect(path.length).toBeGreaterThanOrEqual(2);
        expect(path[0]).toBe(path[path.length - 1]);
        // Graph edges point upstream → consumer, so each key is read by the next one.
        for (let i = 0; i + 1 < path.length; i++) expect(depsOf.get(path[i + 1]!)).toContain(path[i]);
        // A simple cycle: no key twice before it closes.
        expect(new Set(path.slice(0, -1)).size).toBe(path.length - 1);
        expect(cycle.message).toBe(
          `graph: cycle between assets: ${path.join(" -> ")}. Remove one of these dependencies.`,
        );
        expect(cycle.assets).toEqual(path);

        // The same cycle whatever the declaration order.
        const shuffled = errorsOf(() => defineGraph(declareShuffled(dag, deps, false)));
        expect(shuffled.map((e) => e.message)).toEqual([cycle.message]);
      }),
      { numRuns: 300 },
    );
  });
});

describe("selection on random DAGs", () => {
  const pickArb = dagArb.chain((dag) =>
    fc.record({ dag: fc.constant(dag), k: fc.nat(dag.n - 1), depth: fc.integer({ min: 1, max: 3 }) }),
  );

  /** `nodes` as keys in the graph's topological order. */
  const inOrder = (g: AssetGraph, dag: Dag, nodes: Iterable<number>): string[] => {
    const keys = new Set([...nodes].map((i) => keyOf(dag, i)));
    return g.order.filter((k) => keys.has(k));
  };

  it("+k, k+, +k+, N+k and k+N match a breadth-first walk of the declared deps", () => {
    fc.assert(
      fc.property(pickArb, ({ dag, k, depth }) => {
        const g = defineGraph(declare(dag));
        const key = keyOf(dag, k);
        const up = (i: number) => dag.deps[i]!;
        const consumers = consumersOf(dag);
        const down = (i: number) => consumers[i]!;

        expect(g.select(key)).toEqual([key]);
        expect(g.select(`+${key}`)).toEqual(inOrder(g, dag, [k, ...reach(k, up)]));
        expect(g.select(`${key}+`)).toEqual(inOrder(g, dag, [k, ...reach(k, down)]));
        expect(g.select(`+${key}+`)).toEqual(inOrder(g, dag, [k, ...reach(k, up), ...reach(k, down)]));
        expect(g.select(`1+${key}`)).toEqual(inOrder(g, dag, [k, ...dag.deps[k]!]));
        expect(g.select(`${key}+1`)).toEqual(inOrder(g, dag, [k, ...consumers[k]!]));
        expect(g.select(`${depth}+${key}`)).toEqual(inOrder(g, dag, [k, ...reach(k, up, depth)]));
        expect(g.select(`${key}+${depth}`)).toEqual(inOrder(g, dag, [k, ...reach(k, down, depth)]));
        expect(g.upstream(key)).toEqual(inOrder(g, dag, reach(k, up)));
        expect(g.downstream(key)).toEqual(inOrder(g, dag, reach(k, down)));
      }),
      { numRuns: 300 },
    );
  });
});

describe("the SQL check on random SQL", () => {
  const tables = ["orders", "o", "orders_2", "x1"];
  const pieceArb = fc.oneof(
    fc.constantFrom(
      ...tables,
      ...["ORDERS", "Orders", "1orders", "orders1", "xorders", "_orders", "orders_", "9", "_", "a"],
      ...[" ", "\n", "\t", ",", ".", "(", ")", "*", "=", ";", "select", "from", "join"],
      ...["-", "--", "/*", "*/", "'", "''", '"', "$", "é"],
    ),
    fc.stringMatching(/^[a-z0-9_ ]{0,3}$/),
    fc.string({ maxLength: 3 }),
  );
  const upstreams = tables.map((t) => source(t, { schema: Row, eventId: "id", eventTime: "at" }));

  it("accepts an asset reading a table exactly when the table is a whole word of its SQL outside comments and literals", () => {
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 12 }), fc.constantFrom(...tables), (pieces, table) => {
        const sql = pieces.join("");
        const consumer = asset("consumer", { deps: [table], schema: Row, sql });
        // The oracle: split the code into maximal runs of word characters.
        if (
          sqlCode(sql)
            .split(/[^a-z0-9_]+/)
            .includes(table)
        ) {
          expect(defineGraph([...upstreams, consumer]).size).toBe(tables.length + 1);
        } else {
          expect(errorsOf(() => defineGraph([...upstreams, consumer])).map((e) => e.message)).toEqual([
            `graph: asset "consumer" depends on "${table}" but its SQL never names the table "${table}". Read it in the SQL or remove the dependency.`,
          ]);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
