/**
 * What a change does to the graph: assets added, removed and modified (with the schema verdict for each
 * consumer), and every asset whose data goes stale downstream of it. Pure: two snapshots in, data out.
 */
import { unevolvable as tableUnevolvable } from "../../contract/table-schema.ts";
import { type AssetSnapshot, type GraphSnapshot, readsOf } from "./snapshot.ts";
import type {
  AssetModification,
  AssetSummary,
  Column,
  ColumnChange,
  ConsumerVerdict,
  GraphDiff,
  Impact,
  Risk,
  SchemaChange,
  Verdict,
} from "./types.ts";

export interface GraphDiffResult {
  readonly graph: GraphDiff;
  /** One breaking-schema risk per consumer that reads a removed or incompatibly retyped column. */
  readonly risks: readonly Risk[];
}

export function diffGraph(base: GraphSnapshot, head: GraphSnapshot): GraphDiffResult {
  const before = new Map(base.assets.map((a) => [a.key, a]));
  const after = new Map(head.assets.map((a) => [a.key, a]));
  const consumers = consumersOf(head);

  const added = head.assets.filter((a) => !before.has(a.key)).map(summary);
  const removed = base.assets.filter((a) => !after.has(a.key)).map(summary);
  const modified: AssetModification[] = [];
  for (const a of head.assets) {
    const b = before.get(a.key);
    if (!b) continue;
    const m = modification(b, a, consumers.get(a.key) ?? [], after);
    if (m) modified.push(m);
  }

  const risks: Risk[] = [];
  for (const m of modified) {
    for (const c of m.schema?.consumers ?? []) {
      if (c.verdict !== "breaking") continue;
      risks.push({
        kind: "breaking-schema",
        asset: c.consumer,
        subject: `${m.key} → ${c.consumer}`,
        message: `${c.consumer} ${c.reason}`,
      });
    }
  }

  // A table Iceberg cannot evolve breaks every reader of it, whoever reads it.
  for (const m of modified) {
    if (!m.table) continue;
    risks.push({
      kind: "breaking-schema",
      asset: m.key,
      subject: `table ${m.key}`,
      message: `Iceberg cannot evolve the table of ${m.key}: ${m.table.unevolvable.join("; ")}`,
    });
  }

  // A new flow of personal data: an asset that outputs or holds personal data in a column it did not.
  for (const a of head.assets) {
    const was = new Set(before.get(a.key)?.pii ?? []);
    const fresh = (a.pii ?? []).filter((line) => !was.has(line));
    if (fresh.length === 0) continue;
    risks.push({
      kind: "pii-flow",
      asset: a.key,
      subject: a.key,
      message: `${a.key} ${before.has(a.key) ? "now " : ""}holds personal data: ${fresh.join("; ")}`,
    });
  }

  const impact = impactOf(head, consumers, added, modified);
  return {
    graph: { added, removed, modified, impact, edges: edgesOf(base, head, added, removed, modified, impact) },
    risks,
  };
}

function summary(a: AssetSnapshot): AssetSummary {
  return { key: a.key, kind: a.kind, owners: a.owners, group: a.group, partitions: a.partitions };
}

/** Direct consumers of each key at head, in topological order. */
function consumersOf(head: GraphSnapshot): Map<string, AssetSnapshot[]> {
  const out = new Map<string, AssetSnapshot[]>();
  for (const a of head.assets) {
    for (const d of a.deps) {
      const list = out.get(d.key);
      if (list) list.push(a);
      else out.set(d.key, [a]);
    }
  }
  return out;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function modification(
  b: AssetSnapshot,
  a: AssetSnapshot,
  consumers: readonly AssetSnapshot[],
  after: ReadonlyMap<string, AssetSnapshot>,
): AssetModification | undefined {
  const m: { -readonly [K in keyof AssetModification]?: AssetModification[K] } = {};
  const schema = schemaChange(b.columns, a.columns, a.key, consumers, after);
  if (schema) m.schema = schema;
  const unevolvable = b.table && a.table ? tableUnevolvable(b.table, a.table) : [];
  if (unevolvable.length > 0) m.table = { unevolvable };
  if (b.code !== a.code && a.code !== undefined && b.code !== undefined) {
    m.code = { from: b.code, to: a.code, sql: a.sql !== undefined };
  }
  const deps = listChange(
    b.deps.map((d) => d.key),
    a.deps.map((d) => d.key),
  );
  const changedDeps = a.deps.flatMap((d) => {
    const old = b.deps.find((x) => x.key === d.key);
    if (!old) return [];
    const parts: string[] = [];
    if (old.mapping !== d.mapping) parts.push(`${old.mapping} → ${d.mapping}`);
    const oc = old.columns?.join(", ") ?? "every column";
    const nc = d.columns?.join(", ") ?? "every column";
    if (oc !== nc) parts.push(`reads ${oc} → ${nc}`);
    return parts.length > 0 ? [`${d.key}: ${parts.join("; ")}`] : [];
  });
  if (deps.added.length + deps.removed.length + changedDeps.length > 0) {
    m.dependencies = { ...deps, changed: changedDeps };
  }
  if (b.partitions !== a.partitions) m.partitions = { from: b.partitions, to: a.partitions };
  const checksBefore = new Map(b.checks.map((c) => [c.name, c.spec]));
  const checksAfter = new Map(a.checks.map((c) => [c.name, c.spec]));
  const checks = {
    added: a.checks.filter((c) => !checksBefore.has(c.name)).map((c) => `${c.name}: ${c.spec}`),
    removed: b.checks.filter((c) => !checksAfter.has(c.name)).map((c) => `${c.name}: ${c.spec}`),
    changed: a.checks
      .filter((c) => checksBefore.has(c.name) && checksBefore.get(c.name) !== c.spec)
      .map((c) => `${c.name}: ${checksBefore.get(c.name)} → ${c.spec}`),
  };
  if (checks.added.length + checks.removed.length + checks.changed.length > 0) m.checks = checks;
  if (b.schedule !== a.schedule) m.schedule = { from: b.schedule, to: a.schedule };
  if (!sameList([...b.owners].sort(), [...a.owners].sort())) m.ownership = { from: b.owners, to: a.owners };
  const tags = listChange(b.tags, a.tags);
  if (tags.added.length + tags.removed.length > 0) m.tags = tags;
  const other: { field: string; from: string; to: string }[] = [];
  const field = (name: string, from: string | undefined, to: string | undefined) => {
    if (from !== to) other.push({ field: name, from: from ?? "-", to: to ?? "-" });
  };
  field("group", b.group, a.group);
  field("description", b.description, a.description);
  for (const k of [...new Set([...Object.keys(b.other), ...Object.keys(a.other)])].sort()) {
    field(k, b.other[k], a.other[k]);
  }
  if (other.length > 0) m.other = other;
  if (Object.keys(m).length === 0) return undefined;
  const recompute =
    m.code !== undefined ||
    m.partitions !== undefined ||
    (a.kind === "asset" && m.dependencies !== undefined);
  return { key: a.key, kind: a.kind, owners: a.owners, ...m, recompute };
}

function listChange(before: readonly string[], after: readonly string[]) {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((x) => !b.has(x)), removed: before.filter((x) => !a.has(x)) };
}

// ---------------------------------------------------------------------------------------------------
// Schema verdicts

/** A type that can hold every value of `from`: integer ⊂ number, string(format) ⊂ string, anything ⊂ any. */
function widens(from: string, to: string): boolean {
  if (to === "any") return true;
  if (from === "integer" && to === "number") return true;
  return to === "string" && from.startsWith("string(");
}

/** The verdict of one column's change for a reader that reads the column. */
export function columnVerdict(change: ColumnChange): Verdict {
  switch (change.kind) {
    case "removed":
      return "breaking";
    case "added":
      // Rows written before lack it: only a nullable column reads as null there.
      return change.column.nullable ? "compatible" : "forward-compatible";
    case "retyped": {
      const { from, to } = change;
      const type: Verdict =
        from.type === to.type
          ? "compatible"
          : widens(from.type, to.type)
            ? "backward-compatible"
            : widens(to.type, from.type)
              ? "forward-compatible"
              : "breaking";
      const nulls: Verdict =
        from.nullable === to.nullable
          ? "compatible"
          : to.nullable
            ? "backward-compatible"
            : "forward-compatible";
      return combine([type, nulls]);
    }
  }
}

/** The verdict of several changes together: the weakest guarantee; both directions lost is breaking. */
export function combine(verdicts: readonly Verdict[]): Verdict {
  let backward = true;
  let forward = true;
  for (const v of verdicts) {
    if (v === "breaking") return "breaking";
    if (v === "forward-compatible") backward = false;
    if (v === "backward-compatible") forward = false;
  }
  if (backward && forward) return "compatible";
  if (backward) return "backward-compatible";
  if (forward) return "forward-compatible";
  return "breaking";
}

function columnChanges(before: readonly Column[], after: readonly Column[]): ColumnChange[] {
  const b = new Map(before.map((c) => [c.name, c]));
  const a = new Map(after.map((c) => [c.name, c]));
  const changes: ColumnChange[] = [];
  before.forEach((c, i) => {
    const now = a.get(c.name);
    if (now === undefined) {
      // The column now in its place, new and of the same type, is probably it renamed.
      const there = after[i];
      const renamed = there && !b.has(there.name) && there.type === c.type ? there.name : undefined;
      changes.push({ kind: "removed", column: c, ...(renamed ? { renamedTo: renamed } : {}) });
    } else if (now.type !== c.type || now.nullable !== c.nullable) {
      changes.push({ kind: "retyped", name: c.name, from: c, to: now });
    }
  });
  for (const c of after) if (!b.has(c.name)) changes.push({ kind: "added", column: c });
  return changes;
}

function describeChange(c: ColumnChange): string {
  switch (c.kind) {
    case "removed":
      return `${c.column.name}, which was removed${c.renamedTo ? ` (renamed to ${c.renamedTo}?)` : ""}`;
    case "added":
      return `${c.column.name}, which was added`;
    case "retyped":
      return `${c.name}, retyped ${typeText(c.from)} → ${typeText(c.to)}`;
  }
}

export function typeText(c: Column): string {
  return c.nullable ? `${c.type}?` : c.type;
}

function schemaChange(
  before: readonly Column[],
  after: readonly Column[],
  producer: string,
  consumers: readonly AssetSnapshot[],
  assets: ReadonlyMap<string, AssetSnapshot>,
): SchemaChange | undefined {
  const changes = columnChanges(before, after);
  if (changes.length === 0) return undefined;
  const names = [...new Set([...before, ...after].map((c) => c.name))];
  const verdicts: ConsumerVerdict[] = consumers
    .filter((c) => assets.has(c.key))
    .map((consumer) => {
      const reads = readsOf(consumer, producer, names);
      const read = new Set(reads.columns);
      const relevant = changes.filter((c) => c.kind !== "added" && read.has(nameOf(c)));
      const verdict = combine(relevant.map(columnVerdict));
      const worst = relevant.filter((c) => columnVerdict(c) === verdict);
      const how = reads.from === "all" ? " (a compute function: every column counts as read)" : "";
      return {
        consumer: consumer.key,
        verdict,
        reads: relevant.map(nameOf),
        readsFrom: reads.from,
        reason:
          relevant.length === 0
            ? "reads none of the changed columns"
            : `reads ${(verdict === "compatible" ? relevant : worst).map(describeChange).join("; ")}${how}`,
      };
    });
  return { columns: changes, verdict: combine(changes.map(columnVerdict)), consumers: verdicts };
}

function nameOf(c: ColumnChange): string {
  return c.kind === "retyped" ? c.name : c.column.name;
}

// ---------------------------------------------------------------------------------------------------
// Downstream impact

function impactOf(
  head: GraphSnapshot,
  consumers: ReadonlyMap<string, readonly AssetSnapshot[]>,
  added: readonly AssetSummary[],
  modified: readonly AssetModification[],
): Impact[] {
  const because = new Map<string, Set<string>>();
  const broken = new Set<string>();
  const mark = (key: string, cause: string) => {
    const set = because.get(key) ?? new Set<string>();
    set.add(cause);
    because.set(key, set);
  };
  for (const a of added) if (a.kind === "asset") mark(a.key, a.key);
  for (const m of modified) {
    if (m.recompute) mark(m.key, m.key);
    for (const c of m.schema?.consumers ?? []) {
      if (c.verdict === "breaking") {
        broken.add(c.consumer);
        mark(c.consumer, m.key);
      }
    }
  }
  // Head's topological order: every upstream cause is known before a consumer is visited.
  for (const a of head.assets) {
    const causes = because.get(a.key);
    if (!causes) continue;
    const upstreamCauses = [...causes];
    for (const c of consumers.get(a.key) ?? []) for (const cause of upstreamCauses) mark(c.key, cause);
  }
  const rank = new Map(head.assets.map((a, i) => [a.key, i]));
  const inOrder = (keys: Iterable<string>) => [...keys].sort((x, y) => rank.get(x)! - rank.get(y)!);
  return head.assets
    .filter((a) => because.has(a.key) && a.kind === "asset")
    .map((a) => ({
      key: a.key,
      owners: a.owners,
      because: inOrder(because.get(a.key)!),
      partitions:
        a.partitionCount === 1 && a.partitions === "unpartitioned"
          ? "the one partition"
          : `all ${a.partitionCount} partition${a.partitionCount === 1 ? "" : "s"} (${a.partitions})`,
      partitionCount: a.partitionCount,
      broken: broken.has(a.key),
    }));
}

function edgesOf(
  base: GraphSnapshot,
  head: GraphSnapshot,
  added: readonly AssetSummary[],
  removed: readonly AssetSummary[],
  modified: readonly AssetModification[],
  impact: readonly Impact[],
): GraphDiff["edges"] {
  const shown = new Set([...added, ...modified, ...impact].map((a) => a.key));
  const gone = new Set(removed.map((a) => a.key));
  const headEdges = new Set(head.assets.flatMap((a) => a.deps.map((d) => `${d.key}\u0000${a.key}`)));
  const out: { from: string; to: string; removed?: boolean }[] = [];
  const changed = new Set(modified.map((m) => m.key));
  for (const a of head.assets) {
    for (const d of a.deps) {
      // Into a shown asset from anything (its inputs give context), or out of a shown one into a shown one.
      if (shown.has(a.key) && (shown.has(d.key) || changed.has(a.key))) out.push({ from: d.key, to: a.key });
    }
  }
  for (const a of base.assets) {
    for (const d of a.deps) {
      if (headEdges.has(`${d.key}\u0000${a.key}`)) continue;
      if (shown.has(a.key) || gone.has(a.key) || gone.has(d.key))
        out.push({ from: d.key, to: a.key, removed: true });
    }
  }
  return out;
}
