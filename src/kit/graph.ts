import { DirectedGraph } from "graphology";
import { type AnyAsset, type AssetDef, columnsOf, type Dependency } from "./asset.ts";
import { checkColumns } from "./checks.ts";
import {
  CheckError,
  ColumnError,
  CycleError,
  DeclarationError,
  DuplicateKeyError,
  type GraphError,
  GraphValidationError,
  PartitionMappingError,
  ScheduleError,
  SecretError,
  SelectionError,
  UnknownDependencyError,
} from "./errors.ts";
import { defaultMapping, describeMapping, mappingProblem, type PartitionMapping } from "./partitions.ts";
import { scheduleProblem } from "./schedule.ts";
import { declaredSecrets, isSecret, type SecretDef, soleDeclaration } from "./secret.ts";
import { select } from "./selection.ts";
import { namesWord, sqlCode } from "./sql.ts";
import { didYouMean } from "./suggest.ts";
import { walk } from "./walk.ts";

/** An edge of the graph: `from` is read by `to`, through `mapping`. */
export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly mapping: PartitionMapping;
  readonly columns?: readonly string[];
}

/**
 * A validated asset graph: every dependency resolves, there is no cycle, every partition mapping and
 * column read can be satisfied. Immutable; build one with `defineGraph`.
 */
export class AssetGraph {
  /** The graphology graph (edges point from upstream to consumer). Treat as read-only. */
  readonly graph: DirectedGraph;
  /** Topological levels: level 0 has no upstream; within a level, keys are sorted. */
  readonly levels: readonly (readonly string[])[];
  /** Every key in deterministic topological order (levels, then key). */
  readonly order: readonly string[];
  readonly #byKey: ReadonlyMap<string, AnyAsset>;
  readonly #rank: ReadonlyMap<string, number>;
  readonly #secrets: ReadonlyMap<string, SecretDef>;

  /** @internal use `defineGraph`. */
  constructor(
    graph: DirectedGraph,
    byKey: ReadonlyMap<string, AnyAsset>,
    levels: string[][],
    secrets: ReadonlyMap<string, SecretDef> = new Map(),
  ) {
    this.graph = graph;
    this.#byKey = byKey;
    this.#secrets = secrets;
    this.levels = levels;
    this.order = levels.flat();
    const rank = new Map<string, number>();
    for (let i = 0; i < this.order.length; i++) rank.set(this.order[i]!, i);
    this.#rank = rank;
  }

  get size(): number {
    return this.order.length;
  }

  has(key: string): boolean {
    return this.#byKey.has(key);
  }

  /** The asset or source with this key; a SelectionError with suggestions when there is none. */
  get(key: string): AnyAsset {
    const a = this.#byKey.get(key);
    if (!a) throw new SelectionError(`unknown asset "${key}".${didYouMean(key, this.#byKey.keys())}`);
    return a;
  }

  /** Every asset and source in topological order. */
  assets(): AnyAsset[] {
    return this.order.map((k) => this.#byKey.get(k)!);
  }

  /** The edges into `key`, with their resolved partition mappings, in dependency order. */
  inputs(key: string): Edge[] {
    const a = this.get(key);
    if (a.kind === "source") return [];
    return a.deps.map((d) => edgeOf(d, a, this.#byKey.get(d.key)!));
  }

  /** Every edge of the graph, in the consumers' topological order. */
  edges(): Edge[] {
    return this.order.flatMap((k) => this.inputs(k));
  }

  /** Position in the topological order. */
  rank(key: string): number {
    return this.#rank.get(key) ?? -1;
  }

  /** Sort keys by topological order. */
  sort(keys: Iterable<string>): string[] {
    return [...keys].sort((a, b) => this.rank(a) - this.rank(b));
  }

  /** Upstream keys of `key` up to `depth` levels (all when undefined), without `key` itself. */
  upstream(key: string, depth?: number): string[] {
    return this.sort(walk(this.graph, this.get(key).key, "in", depth));
  }

  /** Downstream keys of `key` up to `depth` levels (all when undefined), without `key` itself. */
  downstream(key: string, depth?: number): string[] {
    return this.sort(walk(this.graph, this.get(key).key, "out", depth));
  }

  /** The keys a selection expression names, in topological order (see `selection.ts`). */
  select(expression: string | undefined): string[] {
    return select(this, expression);
  }

  /** Every secret the graph declares, by name. */
  secrets(): SecretDef[] {
    return [...this.#secrets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The secrets an asset or source declares, in its declaration order. */
  secretsOf(key: string): SecretDef[] {
    return (this.get(key).secrets ?? []).map((n) => this.#secrets.get(n)!);
  }

  /** The tokenisation secret an asset declares (at most one), if any. */
  tokenSecret(key: string): SecretDef | undefined {
    return this.secretsOf(key).find((s) => s.use === "tokenisation");
  }

  /** The keys of the assets and sources that declare a secret, in topological order. */
  usersOf(name: string): string[] {
    return this.order.filter((k) => this.#byKey.get(k)!.secrets?.includes(name));
  }
}

function edgeOf(d: Dependency, consumer: AssetDef, upstream: AnyAsset): Edge {
  const mapping = d.mapping ??
    defaultMapping(upstream.partitions, consumer.partitions) ?? { kind: "identity" };
  return { from: d.key, to: consumer.key, mapping, ...(d.columns ? { columns: d.columns } : {}) };
}

/**
 * What a graph module may export: assets and sources, or lists of them (one per pipeline); secrets
 * that assets name only by name are listed here too.
 */
export type GraphInput = readonly (AnyAsset | SecretDef | readonly (AnyAsset | SecretDef)[])[];

/**
 * Build and validate the graph in one pass. Throws a GraphValidationError listing every problem found,
 * each a typed GraphError naming the assets involved: duplicate keys, unknown dependencies, a cycle, then
 * each declaration's own problems in declaration order.
 *
 * Sized for 100,000 assets (see bench/graph.ts): every edge is added before one cycle check over the
 * whole graph, and nothing in the loops allocates per edge beyond the graph itself.
 */
export function defineGraph(items: GraphInput): AssetGraph {
  const all: AnyAsset[] = [];
  const listedSecrets: SecretDef[] = [];
  items.forEach((item, i) => {
    const inner: readonly unknown[] = Array.isArray(item) ? item : [item];
    inner.forEach((a, j) => {
      if (isSecret(a)) {
        listedSecrets.push(a);
        return;
      }
      const k = (a as { key?: unknown } | null | undefined)?.key;
      const kind = (a as { kind?: unknown } | null | undefined)?.kind;
      if (typeof k !== "string" || (kind !== "asset" && kind !== "source")) {
        const at = Array.isArray(item) ? `[${i}][${j}]` : `[${i}]`;
        throw new DeclarationError(
          `graph: item ${at} given to defineGraph is ${a === undefined ? "undefined" : (JSON.stringify(a) ?? String(a))}, not an asset, source or secret. If it is imported from another module, look for a circular import.`,
          [],
        );
      }
      all.push(a as AnyAsset);
    });
  });
  const errors: GraphError[] = [];
  const byKey = new Map<string, AnyAsset>();
  const index = new Map<string, number>();
  const unique: AnyAsset[] = [];
  const graph = new DirectedGraph();
  for (const a of all) {
    const prior = byKey.get(a.key);
    if (prior) {
      errors.push(
        new DuplicateKeyError(
          `graph: key "${a.key}" is declared twice${prior === a ? " (the same declaration is listed twice)" : prior.kind === a.kind ? ` (two different ${a.kind}s)` : ` (as ${prior.kind} and as ${a.kind})`}. Keys must be unique across every pipeline of the graph.`,
          [a.key],
        ),
      );
      continue;
    }
    byKey.set(a.key, a);
    index.set(a.key, unique.length);
    unique.push(a);
    graph.addNode(a.key);
  }
  // Each declaration is checked against the others now, before the graph holds edges (so the garbage
  // this makes is collected while little is alive); its problems are listed after the structural ones.
  const problems: GraphError[] = [];
  const columns = columnSets();
  for (const a of unique) validateAsset(a, byKey, columns, problems);
  const secrets = collectSecrets(listedSecrets, unique, problems);

  // Every edge first, then one cycle check over the whole graph (never a check per edge: quadratic).
  // The edges are also kept as node indices (`from[e]` is read by `to[e]`) for that check.
  const n = unique.length;
  let declared = 0;
  for (const a of unique) if (a.kind !== "source") declared += a.deps.length;
  const from = new Int32Array(declared);
  const to = new Int32Array(declared);
  let edges = 0;
  for (let i = 0; i < n; i++) {
    const a = unique[i]!;
    if (a.kind === "source") continue;
    for (const d of a.deps) {
      const j = index.get(d.key);
      if (j !== undefined) {
        graph.addDirectedEdge(d.key, a.key);
        from[edges] = j;
        to[edges++] = i;
      } else {
        errors.push(
          new UnknownDependencyError(
            `graph: asset "${a.key}" depends on "${d.key}", which is not in the graph.${didYouMean(d.key, byKey.keys()) || " Add it to the graph or remove the dependency."}`,
            [a.key, d.key],
          ),
        );
      }
    }
  }

  const levels = generations(unique, from.subarray(0, edges), to.subarray(0, edges));
  if (levels === undefined) errors.push(new CycleError(findCycle(graph)));

  for (const p of problems) errors.push(p);

  if (errors.length > 0 || levels === undefined) throw new GraphValidationError(errors);
  return new AssetGraph(graph, byKey, levels, secrets);
}

/**
 * The graph's secrets: those listed to defineGraph and those its specs were given as objects. A name
 * is declared once (two declarations that say the same thing are one); every name a spec lists must be
 * declared; a source uses no tokenisation secret (tokens are made by assets) and an asset at most one
 * (`pii_token` would not know which), and an asset whose SQL calls `pii_token` declares one.
 */
function collectSecrets(
  listed: readonly SecretDef[],
  specs: readonly AnyAsset[],
  errors: GraphError[],
): Map<string, SecretDef> {
  const byName = new Map<string, SecretDef>();
  const twice = new Set<string>();
  const declare = (s: SecretDef) => {
    const prior = byName.get(s.name);
    if (prior === undefined) byName.set(s.name, s);
    else if (
      prior !== s &&
      (prior.use !== s.use || prior.description !== s.description) &&
      !twice.has(s.name)
    ) {
      twice.add(s.name);
      errors.push(
        new SecretError(
          `graph: secret "${s.name}" is declared twice, differently (${describeSecret(prior)}; ${describeSecret(s)}). Declare it once and share the declaration.`,
          [],
        ),
      );
    }
  };
  for (const s of listed) declare(s);
  for (const a of specs) for (const s of declaredSecrets(a)) declare(s);
  // Names no spec was given a declaration of: the kit's one declaration of that name, if it has one.
  for (const a of specs) {
    for (const name of a.secrets ?? []) {
      const sole = byName.has(name) ? undefined : soleDeclaration(name);
      if (sole) byName.set(name, sole);
    }
  }
  for (const a of specs) {
    const what = `${a.kind} "${a.key}"`;
    const tokenKeys: string[] = [];
    let unknown = false;
    for (const name of a.secrets ?? []) {
      const s = byName.get(name);
      if (s === undefined) {
        unknown = true;
        errors.push(
          new SecretError(
            `graph: ${what} needs secret "${name}", which the graph does not declare.${didYouMean(name, byName.keys()) || ` Declare it with secret("${name}", { ... }) and list it in secrets or in defineGraph.`}`,
            [a.key],
          ),
        );
      } else if (s.use === "tokenisation") tokenKeys.push(name);
    }
    if (a.kind === "source" && tokenKeys.length > 0) {
      errors.push(
        new SecretError(
          `graph: ${what} needs the tokenisation secret "${tokenKeys[0]}", but sources do not tokenise: tokenise in the asset that reads it, with pii_token(tenant, value).`,
          [a.key],
        ),
      );
    }
    if (a.kind === "asset" && tokenKeys.length > 1) {
      errors.push(
        new SecretError(
          `graph: ${what} needs ${tokenKeys.length} tokenisation secrets (${tokenKeys.map((k) => `"${k}"`).join(", ")}); pii_token would not know which to use: keep one.`,
          [a.key],
        ),
      );
    }
    if (
      a.kind === "asset" &&
      a.sql !== undefined &&
      tokenKeys.length === 0 &&
      !unknown &&
      namesWord(sqlCode(a.sql), "pii_token")
    ) {
      errors.push(
        new SecretError(
          `graph: ${what} calls pii_token but needs no tokenisation secret: declare one (secret("pii_token_key", { use: "tokenisation" })) and list it in its secrets.`,
          [a.key],
        ),
      );
    }
  }
  return byName;
}

function describeSecret(s: SecretDef): string {
  return `use "${s.use}"${s.description === undefined ? "" : `, "${s.description}"`}`;
}

/**
 * Kahn's algorithm, one level at a time, over the edges as node indices: level 0 is every node without
 * an upstream; a node joins the level after that of its last upstream, so its level is one more than its
 * deepest upstream's. Each level is sorted by key. Undefined when some nodes are never freed: a cycle.
 */
function generations(nodes: readonly AnyAsset[], from: Int32Array, to: Int32Array): string[][] | undefined {
  const n = nodes.length;
  const inDegree = new Int32Array(n);
  // The consumers of node j are next[first[j]] … next[first[j + 1] - 1].
  const first = new Int32Array(n + 1);
  for (let e = 0; e < from.length; e++) {
    first[from[e]! + 1]!++;
    inDegree[to[e]!]!++;
  }
  for (let j = 0; j < n; j++) first[j + 1]! += first[j]!;
  const fill = first.slice(0, n);
  const next = new Int32Array(from.length);
  for (let e = 0; e < from.length; e++) next[fill[from[e]!]!++] = to[e]!;

  const levels: string[][] = [];
  let level: number[] = [];
  for (let i = 0; i < n; i++) if (inDegree[i] === 0) level.push(i);
  let freed = 0;
  while (level.length > 0) {
    freed += level.length;
    const following: number[] = [];
    const keys: string[] = new Array(level.length);
    for (let k = 0; k < level.length; k++) {
      const j = level[k]!;
      keys[k] = nodes[j]!.key;
      for (let e = first[j]!; e < first[j + 1]!; e++) {
        const c = next[e]!;
        if (--inDegree[c]! === 0) following.push(c);
      }
    }
    levels.push(keys.sort());
    level = following;
  }
  return freed === n ? levels : undefined;
}

/** The column names of a schema, as a set: one per schema (usually shared by many assets) per build. */
type ColumnSets = (a: AnyAsset) => ReadonlySet<string>;

function columnSets(): ColumnSets {
  const cache = new Map<object, ReadonlySet<string>>();
  return (a) => {
    let set = cache.get(a.schema);
    if (set === undefined) {
      set = new Set(columnsOf(a));
      cache.set(a.schema, set);
    }
    return set;
  };
}

function validateAsset(
  a: AnyAsset,
  byKey: ReadonlyMap<string, AnyAsset>,
  columns: ColumnSets,
  errors: GraphError[],
): void {
  if (a.kind === "source") {
    const own = columns(a);
    const what = `source "${a.key}"`;
    // A CDC source's are derived from its declaration, checked when it was declared (kit/debezium.ts).
    for (const [option, field] of [
      ["eventId", a.eventId],
      ["eventTime", a.eventTime],
      ["tenant", a.tenant],
    ] as const) {
      if (field !== undefined && a.cdc === undefined && !own.has(field)) {
        errors.push(
          new ColumnError(
            `graph: ${what}: ${option} "${field}" is not a field of its schema.${didYouMean(field, own)}`,
            [a.key],
          ),
        );
      }
    }
    for (const path of a.pii) {
      if (!hasPath(a.schema, path)) {
        errors.push(
          new ColumnError(`graph: ${what}: pii field "${path}" is not a field of its schema.`, [a.key]),
        );
      }
    }
  } else {
    if (Array.isArray(a.pii)) {
      const own = columns(a);
      for (const col of a.pii as readonly string[]) {
        if (!own.has(col)) {
          errors.push(
            new ColumnError(
              `graph: asset "${a.key}": pii column "${col}" is not a column of its schema.${didYouMean(col, own)}`,
              [a.key],
            ),
          );
        }
      }
    }
    if (a.schedule) {
      const problem = scheduleProblem(a.schedule);
      if (problem) errors.push(new ScheduleError(`graph: asset "${a.key}": ${problem}.`, [a.key]));
    }
    const code = a.sql === undefined ? undefined : sqlCode(a.sql);
    for (const d of a.deps) {
      const up = byKey.get(d.key);
      if (!up) continue;
      validateEdge(a, up, d, columns, errors);
      if (code !== undefined && !namesWord(code, d.key)) {
        errors.push(
          new DeclarationError(
            `graph: asset "${a.key}" depends on "${d.key}" but its SQL never names the table "${d.key}". Read it in the SQL or remove the dependency.`,
            [a.key, d.key],
          ),
        );
      }
    }
  }
  if (a.checks.length > 0) validateChecks(a, byKey, columns, errors);
}

function validateChecks(
  a: AnyAsset,
  byKey: ReadonlyMap<string, AnyAsset>,
  columns: ColumnSets,
  errors: GraphError[],
): void {
  const own = columns(a);
  const what = `${a.kind} "${a.key}"`;
  const names = new Set<string>();
  for (const c of a.checks) {
    if (names.has(c.name)) {
      errors.push(
        new CheckError(`graph: ${what}: two checks are named "${c.name}"; give one a distinct name.`, [
          a.key,
        ]),
      );
    }
    names.add(c.name);
    for (const col of checkColumns(c)) {
      if (!own.has(col)) {
        errors.push(
          new CheckError(
            `graph: ${what}: check "${c.name}" reads column "${col}", which the schema does not declare.${didYouMean(col, own)}`,
            [a.key],
          ),
        );
      }
    }
    if (c.kind === "references") {
      const target = byKey.get(c.asset);
      if (!target) {
        errors.push(
          new CheckError(
            `graph: ${what}: check "${c.name}" references asset "${c.asset}", which is not in the graph.${didYouMean(c.asset, byKey.keys())}`,
            [a.key, c.asset],
          ),
        );
      } else if (!columns(target).has(c.assetColumn)) {
        errors.push(
          new CheckError(
            `graph: ${what}: check "${c.name}" references column "${c.assetColumn}" of "${c.asset}", which "${c.asset}" does not declare.${didYouMean(c.assetColumn, columns(target))}`,
            [a.key, c.asset],
          ),
        );
      }
    }
    if (c.kind === "row_count" && c.min !== undefined && c.max !== undefined && c.min > c.max) {
      errors.push(
        new CheckError(`graph: ${what}: check "${c.name}" has min ${c.min} above max ${c.max}.`, [a.key]),
      );
    }
  }
}

function validateEdge(
  consumer: AssetDef,
  up: AnyAsset,
  d: Dependency,
  columns: ColumnSets,
  errors: GraphError[],
): void {
  // An unpartitioned upstream read without an explicit mapping maps by identity, which always holds.
  if (d.mapping !== undefined || up.partitions !== undefined) {
    const mapping = d.mapping ?? defaultMapping(up.partitions, consumer.partitions);
    if (!mapping) {
      errors.push(
        new PartitionMappingError(
          `graph: asset "${consumer.key}" reads "${up.key}", whose partitions differ from its own; declare the mapping with dep(${up.key}, { partitions: mapping.window(7) }) or another mapping.`,
          [consumer.key, up.key],
        ),
      );
    } else {
      const problem = mappingProblem(up.partitions, consumer.partitions, mapping);
      if (problem) {
        errors.push(
          new PartitionMappingError(
            `graph: asset "${consumer.key}" reads "${up.key}" with partition mapping ${describeMapping(mapping)}, which cannot be satisfied: ${problem}.`,
            [consumer.key, up.key],
          ),
        );
      }
    }
  }
  if (d.columns) {
    const have = columns(up);
    for (const col of d.columns) {
      if (!have.has(col)) {
        errors.push(
          new ColumnError(
            `graph: asset "${consumer.key}" reads column "${col}" of "${up.key}", which "${up.key}" does not declare.${didYouMean(col, have)}`,
            [consumer.key, up.key],
          ),
        );
      }
    }
  }
}

function hasPath(schema: { properties?: Record<string, unknown> }, path: string): boolean {
  let node: unknown = schema;
  for (const part of path.split(".")) {
    const props = (node as { properties?: Record<string, unknown>; anyOf?: unknown[] }) ?? {};
    // A nullable object (Type.Union([Type.Object(...), Type.Null()])) is looked into through its object branch.
    const obj = props.properties
      ? props
      : (props.anyOf?.find((b) => (b as { properties?: unknown }).properties) as typeof props);
    node = obj?.properties?.[part];
    if (node === undefined) return false;
  }
  return true;
}

/** A cycle of `graph` as a closed path [a, b, …, a], found by depth-first search in key order. */
export function findCycle(graph: DirectedGraph): string[] {
  const state = new Map<string, 1 | 2>(); // 1: on the stack, 2: done
  const nodes = graph.nodes().sort();
  for (const root of nodes) {
    if (state.has(root)) continue;
    const stack: { node: string; next: string[]; i: number }[] = [
      { node: root, next: graph.outNeighbors(root).sort(), i: 0 },
    ];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i >= top.next.length) {
        state.set(top.node, 2);
        stack.pop();
        continue;
      }
      const n = top.next[top.i++]!;
      const s = state.get(n);
      if (s === 1) {
        const from = stack.findIndex((f) => f.node === n);
        return [...stack.slice(from).map((f) => f.node), n];
      }
      if (s === undefined) {
        state.set(n, 1);
        stack.push({ node: n, next: graph.outNeighbors(n).sort(), i: 0 });
      }
    }
  }
  throw new Error("graph: findCycle called on an acyclic graph (a bug in Tributary)");
}
