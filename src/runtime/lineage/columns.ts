/**
 * Column lineage of a SQL asset: which upstream columns each output column is computed from.
 *
 * DuckDB parses the SQL (`json_serialize_sql`, no tables needed) and this module binds the parse tree's
 * names itself, the way DuckDB's binder would, against the asset's direct upstreams and their declared
 * columns. Only the select lists count: a column used only to filter, group or join is not a source of an
 * output. Whatever cannot be bound faithfully makes the answer `known: false` with the reason, never a guess.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { Duck } from "../engine/duckdb.ts";

/** Structurally the same as the page's `UiColumnLineage`. */
export type ColumnLineage =
  | { known: true; columns: { column: string; from: { asset: string; column: string }[] }[] }
  | { known: false; reason: string };

interface Upstream {
  readonly key: string;
  readonly columns: readonly string[];
}

/** One node of DuckDB's JSON parse tree. */
type Ast = { readonly [k: string]: unknown };

/**
 * One upstream column a value comes from: the whole column, or a field inside it (`path`, for a struct
 * column read as `after.email`), and whether the value passed through `pii_token` on its way (`tokenised`):
 * what a tokenised value carries of the column is a keyed token, not the column's value.
 */
export interface ColumnSource {
  readonly asset: string;
  readonly column: string;
  /** Dotted field names below the column, lower case; absent for the whole column. */
  readonly path?: string;
  readonly tokenised?: true;
}

type Ref = ColumnSource;

/** The detailed lineage of each output column: fields within struct columns, and tokenisation. */
export type ColumnSources =
  | { known: true; columns: { column: string; from: ColumnSource[] }[] }
  | { known: false; reason: string };

/** Where one column's values come from, or why that is not known. */
type Lin = { readonly ok: true; readonly from: ReadonlyMap<string, Ref> } | Failed;
type Failed = { readonly ok: false; readonly reason: string };

/** A column a query or table exposes; `name` is absent when only DuckDB's renderer could name it. */
interface Col {
  readonly name: string | undefined;
  readonly lin: Lin;
}

/** The columns of a query, table or CTE, or why their very names are not known. */
type Rel = { readonly ok: true; readonly cols: readonly Col[] } | Failed;

/** One item of a FROM clause: a named table-like leaf, or a join of two. */
type Source =
  | { readonly kind: "empty" }
  | { readonly kind: "table"; readonly alias: string; readonly label: string; readonly rel: Rel }
  | {
      readonly kind: "join";
      readonly left: Source;
      readonly right: Source;
      readonly type: string;
      readonly using: readonly string[];
      /** SEMI and ANTI joins only filter: the right side's columns are not in scope. */
      readonly rightVisible: boolean;
      /** Why a NATURAL join's shared columns are not known. */
      readonly unknown?: string;
    };

/** The CTEs in effect, by lower-case name. */
type Env = ReadonlyMap<string, Rel>;

/** Names visible to an expression: its FROM clause, earlier select-list aliases, then enclosing queries. */
interface Scope {
  readonly source: Source;
  readonly env: Env;
  readonly aliases: Map<string, Col>;
  readonly parent: Scope | undefined;
}

type Match =
  | { readonly kind: "none" }
  | { readonly kind: "found"; readonly lin: Lin; readonly name: string; readonly table: string }
  | { readonly kind: "ambiguous"; readonly tables: readonly string[] }
  | { readonly kind: "unknown"; readonly reason: string };

/** The engine's token function (runtime/engine/tokens.ts): its result is a keyed token of its input. */
const TOKEN_FUNCTION = "pii_token";

/** The view the executor creates next to the upstreams; its values are the run's partition, no asset's. */
const THIS_PARTITION = "this_partition";
const PARTITION_COLUMNS = ["key", "time_key", "static_key"];

const NONE: Match = { kind: "none" };
const EMPTY: Source = { kind: "empty" };
/** Expression classes whose column references are all the sources of their value. */
const PLAIN = new Set([
  "FUNCTION",
  "OPERATOR",
  "COMPARISON",
  "CONJUNCTION",
  "CASE",
  "CAST",
  "BETWEEN",
  "WINDOW",
  "COLLATE",
  "CONSTANT",
  "PARAMETER",
  "DEFAULT",
]);

/**
 * The lineage of each output column of `sql`, in select-list order, over the asset's direct `upstreams`
 * (each `from` sorted by asset then column). Uses `connection` only to parse; opens its own when absent.
 */
export async function columnLineage(
  sql: string,
  upstreams: readonly { key: string; columns: readonly string[] }[],
  connection?: DuckDBConnection,
): Promise<ColumnLineage> {
  const found = await columnSources(sql, upstreams, connection);
  if (!found.known) return found;
  return {
    known: true,
    columns: found.columns.map((c) => ({ column: c.column, from: wholeColumns(c.from) })),
  };
}

/** The upstream columns of detailed sources, each once, sorted. */
function wholeColumns(from: readonly ColumnSource[]): { asset: string; column: string }[] {
  const seen = new Map<string, { asset: string; column: string }>();
  for (const r of from) seen.set(`${r.asset}\u0000${r.column}`, { asset: r.asset, column: r.column });
  return [...seen.values()].sort((x, y) => cmp(x.asset, y.asset) || cmp(x.column, y.column));
}

/**
 * {@link columnLineage} in detail: each output column's sources with the struct fields read
 * (`after.email` is field `email` of column `after`) and whether each passed through `pii_token`.
 */
export async function columnSources(
  sql: string,
  upstreams: readonly { key: string; columns: readonly string[] }[],
  connection?: DuckDBConnection,
): Promise<ColumnSources> {
  const parsed = connection ? await serialize(connection, sql) : await withDuck((c) => serialize(c, sql));
  if (parsed.error === true) {
    const message = String(parsed.error_message ?? "unknown error");
    return {
      known: false,
      reason:
        parsed.error_type === "parser"
          ? `DuckDB could not parse the SQL: ${message}`
          : `DuckDB gives a parse tree only for SELECT statements: ${message}`,
    };
  }
  const statements = list(parsed.statements);
  if (statements.length !== 1) {
    return { known: false, reason: `the SQL has ${statements.length} statements; lineage needs one SELECT` };
  }
  const rel = new Binder(upstreams).query(node(statements[0], "node") ?? {}, new Map(), undefined);
  if (!rel.ok) return { known: false, reason: rel.reason };
  const columns: { column: string; from: ColumnSource[] }[] = [];
  const problems: string[] = [];
  rel.cols.forEach((c, i) => {
    if (c.name === undefined) {
      problems.push(
        `output column ${i + 1} is an expression without an alias, named by DuckDB's rendering of it: give it AS <name>`,
      );
    } else if (!c.lin.ok) {
      problems.push(`column "${c.name}": ${c.lin.reason}`);
    } else {
      columns.push({ column: c.name, from: sorted(c.lin.from) });
    }
  });
  if (problems.length > 0) return { known: false, reason: [...new Set(problems)].join("; ") };
  return { known: true, columns };
}

async function withDuck<T>(f: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const duck = await Duck.sandboxed([], { threads: 1 });
  try {
    return await f(duck.connection);
  } finally {
    duck.close();
  }
}

async function serialize(connection: DuckDBConnection, sql: string): Promise<Ast> {
  // The cast: json_serialize_sql accepts only VARCHAR, and a bare parameter has no type yet.
  const reader = await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [sql]);
  return JSON.parse(String(reader.getRows()[0]![0])) as Ast;
}

/** Binds the names of one statement's parse tree, as DuckDB's binder would, to upstream columns. */
class Binder {
  private readonly upstreams = new Map<string, Upstream>();

  constructor(upstreams: readonly Upstream[]) {
    for (const u of upstreams) this.upstreams.set(u.key.toLowerCase(), u);
  }

  /** The columns a query node outputs, with the CTEs of `env` and the enclosing `outer` scope. */
  query(q: Ast, env: Env, outer: Scope | undefined): Rel {
    const e = this.ctes(q, env, outer);
    switch (q.type) {
      case "SELECT_NODE":
        return this.select(q, e, outer);
      case "SET_OPERATION_NODE":
        return this.setOperation(q, e, outer);
      case "RECURSIVE_CTE_NODE":
        return this.recursive(q, e, outer, []);
      default:
        return fail(`a ${String(q.type)} query is not understood`);
    }
  }

  /** `env` with the query's WITH clause: each CTE sees the ones before it. */
  private ctes(q: Ast, env: Env, outer: Scope | undefined): Env {
    const entries = list(node(q, "cte_map")?.map);
    if (entries.length === 0) return env;
    const next = new Map(env);
    for (const entry of entries) {
      const cte = node(node(entry, "value"), "query");
      const body = node(cte, "node");
      const aliases = strings(node(entry, "value")?.aliases);
      const rel =
        body?.type === "RECURSIVE_CTE_NODE"
          ? this.recursive(body, this.ctes(body, next, outer), outer, aliases)
          : renamed(this.query(body ?? {}, next, outer), aliases);
      next.set(String(entry.key).toLowerCase(), rel);
    }
    return next;
  }

  private select(q: Ast, env: Env, outer: Scope | undefined): Rel {
    const source = this.from(node(q, "from_table"), env, outer);
    const scope: Scope = { source, env, aliases: new Map(), parent: outer };
    const cols: Col[] = [];
    for (const item of list(q.select_list)) {
      if (item.class === "STAR") {
        if (item.columns === true && item.expr)
          return fail("COLUMNS(...) with a pattern or lambda is not understood");
        const expanded = this.star(item, scope);
        if (!expanded.ok) return expanded;
        cols.push(...expanded.cols);
        continue;
      }
      const alias = typeof item.alias === "string" && item.alias !== "" ? item.alias : undefined;
      let col: Col;
      if (item.class === "COLUMN_REF") {
        const r = this.ref(strings(item.column_names), scope);
        col = { name: alias ?? r.name, lin: r.lin };
      } else {
        col = { name: alias, lin: this.lineage(item, scope) };
      }
      // DuckDB lets later select items name earlier aliases when no FROM column has that name.
      if (alias !== undefined && !scope.aliases.has(alias.toLowerCase())) {
        scope.aliases.set(alias.toLowerCase(), col);
      }
      cols.push(col);
    }
    return { ok: true, cols };
  }

  private setOperation(q: Ast, env: Env, outer: Scope | undefined): Rel {
    const left = this.query(node(q, "left") ?? {}, env, outer);
    if (!left.ok) return left;
    const right = this.query(node(q, "right") ?? {}, env, outer);
    if (!right.ok) return right;
    const kind = String(q.setop_type);
    if (kind === "UNION_BY_NAME") {
      const cols = [...left.cols];
      for (const c of right.cols) {
        if (c.name === undefined) return fail("UNION BY NAME over an expression without an alias");
        const i = cols.findIndex((l) => l.name?.toLowerCase() === c.name!.toLowerCase());
        if (i < 0) cols.push(c);
        else cols[i] = { name: cols[i]!.name, lin: merge(cols[i]!.lin, c.lin) };
      }
      return { ok: true, cols };
    }
    if (left.cols.length !== right.cols.length) {
      const op = `${kind.replaceAll("_", " ")}${q.setop_all === true ? " ALL" : ""}`;
      return fail(`the sides of ${op} have ${left.cols.length} and ${right.cols.length} columns`);
    }
    // EXCEPT returns the left side's rows; UNION and INTERSECT values come from both sides.
    if (kind === "EXCEPT") return left;
    return {
      ok: true,
      cols: left.cols.map((c, i) => ({ name: c.name, lin: merge(c.lin, right.cols[i]!.lin) })),
    };
  }

  /** A recursive CTE's columns: the anchor's, joined by the recursive step's until nothing new arrives. */
  private recursive(q: Ast, env: Env, outer: Scope | undefined, aliases: readonly string[]): Rel {
    let current = renamed(this.query(node(q, "left") ?? {}, env, outer), aliases);
    const self = String(q.cte_name).toLowerCase();
    // Each round adds at least one column source or stops, so the loop is bounded by the sources there are.
    for (;;) {
      if (!current.ok) return current;
      const step = this.query(node(q, "right") ?? {}, new Map(env).set(self, current), outer);
      if (!step.ok) return step;
      if (step.cols.length !== current.cols.length) return fail(`recursive CTE "${self}" changes its width`);
      const next = current.cols.map((c, i) => ({ name: c.name, lin: merge(c.lin, step.cols[i]!.lin) }));
      if (next.every((c, i) => sameLin(c.lin, current.ok ? current.cols[i]!.lin : c.lin))) return current;
      current = { ok: true, cols: next };
    }
  }

  private from(t: Ast | undefined, env: Env, outer: Scope | undefined): Source {
    if (!t) return EMPTY;
    const aliasOf = (fallback: string) =>
      typeof t.alias === "string" && t.alias !== "" ? t.alias : fallback;
    const columnAliases = strings(t.column_name_alias);
    switch (t.type) {
      case "EMPTY":
        return EMPTY;
      case "BASE_TABLE": {
        const name = [t.catalog_name, t.schema_name, t.table_name]
          .filter((p) => typeof p === "string" && p !== "")
          .join(".");
        const alias = aliasOf(String(t.table_name));
        const label = alias === t.table_name ? name : `${name} ${alias}`;
        return { kind: "table", alias, label, rel: renamed(this.table(t, env), columnAliases) };
      }
      case "SUBQUERY": {
        const alias = aliasOf("");
        const rel = renamed(this.query(node(node(t, "subquery"), "node") ?? {}, env, outer), columnAliases);
        return { kind: "table", alias, label: alias || "a subquery", rel };
      }
      case "JOIN": {
        const left = this.from(node(t, "left"), env, outer);
        // DuckDB binds a FROM item after a join's left side laterally: it may name the left side's columns.
        const lateral: Scope = { source: left, env, aliases: new Map(), parent: outer };
        const right = this.from(node(t, "right"), env, lateral);
        const type = String(t.join_type);
        const rightVisible = type !== "SEMI" && type !== "ANTI";
        if (t.ref_type === "NATURAL") {
          const l = names(left);
          const r = names(right);
          if (!l.ok) return { kind: "join", left, right, type, using: [], rightVisible, unknown: l.reason };
          if (!r.ok) return { kind: "join", left, right, type, using: [], rightVisible, unknown: r.reason };
          const using = l.names.filter((n) => r.names.includes(n));
          return { kind: "join", left, right, type, using, rightVisible };
        }
        const using = strings(t.using_columns).map((c) => c.toLowerCase());
        return { kind: "join", left, right, type, using, rightVisible };
      }
      case "TABLE_FUNCTION": {
        const fn = String(node(t, "function")?.function_name ?? "?");
        const alias = aliasOf(fn);
        return {
          kind: "table",
          alias,
          label: alias,
          rel: fail(`${fn}(...) is a table function, not an upstream`),
        };
      }
      case "EXPRESSION_LIST": {
        // VALUES: DuckDB names the columns col0, col1, ...
        const rows = (Array.isArray(t.values) ? t.values : []).map((r) => list(r));
        const scope: Scope = { source: EMPTY, env, aliases: new Map(), parent: outer };
        const width = rows[0]?.length ?? 0;
        const cols: Col[] = [];
        for (let i = 0; i < width; i++) {
          const lin = rows.reduce<Lin>((acc, r) => merge(acc, this.lineage(r[i] ?? {}, scope)), ok([]));
          cols.push({ name: `col${i}`, lin });
        }
        const alias = aliasOf("valueslist");
        return { kind: "table", alias, label: alias, rel: renamed({ ok: true, cols }, columnAliases) };
      }
      default: {
        const alias = aliasOf("");
        return {
          kind: "table",
          alias,
          label: alias,
          rel: fail(`a ${String(t.type)} in FROM is not understood`),
        };
      }
    }
  }

  /** What a table name in FROM reads: a CTE, else an upstream, else the executor's partition view. */
  private table(t: Ast, env: Env): Rel {
    const name = String(t.table_name);
    const qualified = [t.catalog_name, t.schema_name, name].filter((p) => typeof p === "string" && p !== "");
    if (qualified.length > 1 || t.at_clause) {
      return fail(`table "${qualified.join(".")}" is not an upstream of this asset`);
    }
    const cte = env.get(name.toLowerCase());
    if (cte) return cte;
    const up = this.upstreams.get(name.toLowerCase());
    if (up) {
      return {
        ok: true,
        cols: up.columns.map((c) => ({ name: c, lin: ok([{ asset: up.key, column: c }]) })),
      };
    }
    if (name.toLowerCase() === THIS_PARTITION) {
      return {
        ok: true,
        cols: PARTITION_COLUMNS.map((c) => ({
          name: c,
          lin: fail(`${THIS_PARTITION}.${c} is the run's partition, not a column of an upstream asset`),
        })),
      };
    }
    const keys = [...this.upstreams.values()].map((u) => u.key);
    return fail(
      `table "${name}" is not an upstream of this asset (${keys.length > 0 ? `its upstreams: ${keys.join(", ")}` : "it has none"})`,
    );
  }

  /** The sources of an expression's value: every column it references, through any nesting. */
  private lineage(e: Ast, scope: Scope): Lin {
    const acc = new Map<string, Ref>();
    const problem = this.walk(e, scope, new Set(), acc);
    return problem === undefined ? { ok: true, from: acc } : fail(problem);
  }

  private walk(
    e: unknown,
    scope: Scope,
    params: ReadonlySet<string>,
    acc: Map<string, Ref>,
  ): string | undefined {
    if (Array.isArray(e)) {
      for (const x of e) {
        const p = this.walk(x, scope, params, acc);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    if (e === null || typeof e !== "object") return undefined;
    const x = e as Ast;
    const cls = x.class;
    if (cls === "FUNCTION" && String(x.function_name).toLowerCase() === TOKEN_FUNCTION) {
      // What goes into pii_token comes out as a keyed token of it.
      const inner = new Map<string, Ref>();
      const p = this.walk(x.children, scope, params, inner);
      if (p !== undefined) return p;
      for (const r of inner.values()) {
        const t: Ref = { ...r, tokenised: true };
        acc.set(refKey(t), t);
      }
      return undefined;
    }
    const field = fieldAccess(x);
    if (field !== undefined && !params.has(field[0]!.toLowerCase())) {
      const r = this.ref(field, scope);
      if (!r.lin.ok) return r.lin.reason;
      for (const [k, v] of r.lin.from) acc.set(k, v);
      return undefined;
    }
    if (typeof cls === "string" && !PLAIN.has(cls)) {
      switch (cls) {
        case "COLUMN_REF": {
          const parts = strings(x.column_names);
          if (parts.length > 0 && params.has(parts[0]!.toLowerCase())) return undefined;
          const r = this.ref(parts, scope);
          if (!r.lin.ok) return r.lin.reason;
          for (const [k, v] of r.lin.from) acc.set(k, v);
          return undefined;
        }
        case "LAMBDA": {
          // A lambda's parameters shadow columns inside its body.
          const inner = new Set(params);
          const lhs = node(x, "lhs");
          const declared = lhs?.class === "COLUMN_REF" ? [lhs] : list(lhs?.children);
          for (const p of declared) inner.add(String(strings(p.column_names)[0]).toLowerCase());
          return this.walk(x.expr, scope, inner, acc);
        }
        case "SUBQUERY": {
          const rel = this.query(node(node(x, "subquery"), "node") ?? {}, scope.env, scope);
          if (!rel.ok) return rel.reason;
          // EXISTS tests for rows: like WHERE, its select list is no source of the value.
          if (x.subquery_type !== "EXISTS" && x.subquery_type !== "NOT_EXISTS") {
            for (const c of rel.cols) {
              if (!c.lin.ok) return c.lin.reason;
              for (const [k, v] of c.lin.from) acc.set(k, v);
            }
          }
          return this.walk(x.child, scope, params, acc);
        }
        case "STAR":
          return "a * or COLUMNS(...) inside an expression is not understood";
        case "POSITIONAL_REFERENCE":
          return `the positional reference #${String(x.index)} is not understood`;
        default:
          return `a ${cls} expression is not understood`;
      }
    }
    if (x.type === "OPERATOR_UNPACK") return "unpacking *COLUMNS(...) is not understood";
    for (const v of Object.values(x)) {
      const p = this.walk(v, scope, params, acc);
      if (p !== undefined) return p;
    }
    return undefined;
  }

  /**
   * A column reference, resolved like DuckDB's binder: `a.b` is table `a`'s column `b` when `a` is a table
   * in scope, else field `b` of column `a`; then earlier select aliases, whole-row references, and the
   * enclosing queries. `name` is what DuckDB calls the output of a bare reference.
   */
  private ref(parts: readonly string[], scope: Scope | undefined): { lin: Lin; name: string | undefined } {
    const lower = parts.map((p) => p.toLowerCase());
    const written = parts.join(".");
    const last = parts[parts.length - 1];
    for (let s = scope; s; s = s.parent) {
      if (lower.length >= 2) {
        const tables = aliased(s.source, lower[0]!);
        if (tables.length > 1) {
          return { lin: fail(`"${parts[0]}" names ${tables.length} tables in FROM`), name: last };
        }
        const t = tables[0];
        if (t) {
          const m = inTable(t, lower[1]!);
          if (m.kind === "found")
            return { lin: within(m.lin, lower.slice(2)), name: lower.length === 2 ? m.name : last };
          if (m.kind === "unknown") return { lin: fail(m.reason), name: last };
          return { lin: fail(`${t.label} has no column "${parts[1]}"`), name: last };
        }
      }
      const m = lookup(s.source, lower[0]!);
      if (m.kind === "found")
        return { lin: within(m.lin, lower.slice(1)), name: lower.length === 1 ? m.name : last };
      if (m.kind === "ambiguous") {
        return { lin: fail(`"${parts[0]}" is ambiguous: a column of ${m.tables.join(" and ")}`), name: last };
      }
      if (m.kind === "unknown") return { lin: fail(m.reason), name: last };
      if (lower.length === 1) {
        const alias = s.aliases.get(lower[0]!);
        if (alias) return { lin: alias.lin, name: alias.name ?? last };
        const [row, ...more] = aliased(s.source, lower[0]!);
        if (row && more.length === 0) {
          // A bare table name is its whole row, as a struct.
          if (!row.rel.ok) return { lin: row.rel, name: last };
          return { lin: row.rel.cols.reduce<Lin>((acc, c) => merge(acc, c.lin), ok([])), name: last };
        }
      }
    }
    return { lin: fail(`"${written}" is not a column of any table in FROM`), name: last };
  }

  /** A select-list `*`, `t.*` or COLUMNS(*), with its EXCLUDE, REPLACE and RENAME. */
  private star(item: Ast, scope: Scope): Rel {
    const relation = typeof item.relation_name === "string" ? item.relation_name : "";
    let cols: StarCol[];
    if (relation !== "") {
      const tables = aliased(scope.source, relation.toLowerCase());
      if (tables.length !== 1) return fail(`${relation}.* names ${tables.length} tables in FROM`);
      const expanded = starOf(tables[0]!);
      if (!expanded.ok) return expanded;
      cols = expanded.cols;
    } else {
      const expanded = starOf(scope.source);
      if (!expanded.ok) return expanded;
      cols = expanded.cols;
    }
    const excluded = new Set(strings(item.exclude_list).map((c) => c.toLowerCase()));
    const qualifiedExcluded = list(item.qualified_exclude_list).map((q) => ({
      table: String(q.table ?? "").toLowerCase(),
      column: String(q.column ?? "").toLowerCase(),
    }));
    cols = cols.filter(
      (c) =>
        !excluded.has(c.name.toLowerCase()) &&
        !qualifiedExcluded.some(
          (q) => q.column === c.name.toLowerCase() && (q.table === "" || q.table === c.table),
        ),
    );
    const replaced = new Map<string, Lin>();
    for (const r of list(item.replace_list)) {
      replaced.set(String(r.key).toLowerCase(), this.lineage(node(r, "value") ?? {}, scope));
    }
    const renames = new Map<string, string>();
    for (const r of list(item.rename_list)) {
      renames.set(String(node(r, "key")?.column ?? "").toLowerCase(), String(r.value));
    }
    return {
      ok: true,
      cols: cols.map((c) => ({
        name: renames.get(c.name.toLowerCase()) ?? c.name,
        lin: replaced.get(c.name.toLowerCase()) ?? c.lin,
      })),
    };
  }
}

type StarCol = { readonly name: string; readonly lin: Lin; readonly table: string };

/** The columns `*` gives over a FROM item: left to right, a USING column once, where DuckDB puts it. */
function starOf(source: Source): { ok: true; cols: StarCol[] } | Failed {
  switch (source.kind) {
    case "empty":
      return { ok: true, cols: [] };
    case "table": {
      if (!source.rel.ok) return fail(`* over ${source.label}: ${source.rel.reason}`);
      const cols: StarCol[] = [];
      const seen = new Set<string>();
      for (const [i, c] of source.rel.cols.entries()) {
        if (c.name === undefined) {
          return fail(`* over ${source.label}: its column ${i + 1} is an expression without an alias`);
        }
        // DuckDB renames a repeated name in a subquery (a, a_1); spelling that out would be a guess.
        if (seen.has(c.name.toLowerCase()))
          return fail(`* over ${source.label}: two columns named "${c.name}"`);
        seen.add(c.name.toLowerCase());
        cols.push({ name: c.name, lin: c.lin, table: source.alias.toLowerCase() });
      }
      return { ok: true, cols };
    }
    case "join": {
      if (source.unknown !== undefined) return fail(`NATURAL JOIN: ${source.unknown}`);
      const left = starOf(source.left);
      if (!left.ok) return left;
      if (!source.rightVisible) return left;
      const right = starOf(source.right);
      if (!right.ok) return right;
      const cols = [...left.cols];
      let rest = right.cols;
      for (const u of source.using) {
        const i = cols.findIndex((c) => c.name.toLowerCase() === u);
        const j = rest.findIndex((c) => c.name.toLowerCase() === u);
        if (i < 0 || j < 0) return fail(`USING column "${u}" is not on both sides of the join`);
        const lin = usingLin(source.type, cols[i]!.lin, rest[j]!.lin);
        cols[i] = { ...cols[i]!, lin };
        rest = rest.filter((_, k) => k !== j);
      }
      return { ok: true, cols: [...cols, ...rest] };
    }
  }
}

/** A USING column's value: the left side's, the right side's in a RIGHT JOIN, either in a FULL JOIN. */
function usingLin(type: string, left: Lin, right: Lin): Lin {
  if (type === "RIGHT") return right;
  if (type === "FULL") return merge(left, right);
  return left;
}

/** An unqualified column name looked up in a FROM item. */
function lookup(source: Source, name: string): Match {
  switch (source.kind) {
    case "empty":
      return NONE;
    case "table":
      return inTable(source, name);
    case "join": {
      if (source.unknown !== undefined) return { kind: "unknown", reason: `NATURAL JOIN: ${source.unknown}` };
      if (source.using.includes(name)) {
        const l = lookup(source.left, name);
        if (source.type !== "RIGHT" && source.type !== "FULL") return l;
        const r = lookup(source.right, name);
        if (source.type === "RIGHT") return r;
        if (l.kind !== "found") return l;
        if (r.kind !== "found") return r;
        return { kind: "found", lin: merge(l.lin, r.lin), name: l.name, table: l.table };
      }
      const l = lookup(source.left, name);
      const r = source.rightVisible ? lookup(source.right, name) : NONE;
      if (l.kind === "ambiguous" || r.kind === "ambiguous" || (l.kind === "found" && r.kind === "found")) {
        return { kind: "ambiguous", tables: [...tablesOf(l), ...tablesOf(r)] };
      }
      // With the other side unknown, a name found on one side is still that side's: were it on both,
      // DuckDB would refuse the query as ambiguous.
      if (l.kind === "found") return l;
      if (r.kind === "found") return r;
      if (l.kind === "unknown") return l;
      return r;
    }
  }
}

function tablesOf(m: Match): readonly string[] {
  if (m.kind === "found") return [m.table];
  if (m.kind === "ambiguous") return m.tables;
  return [];
}

function inTable(t: Extract<Source, { kind: "table" }>, name: string): Match {
  if (!t.rel.ok) return { kind: "unknown", reason: t.rel.reason };
  const hits = t.rel.cols.filter((c) => c.name?.toLowerCase() === name);
  if (hits.length === 0) return NONE;
  if (hits.length > 1)
    return { kind: "unknown", reason: `${t.label} has ${hits.length} columns named "${name}"` };
  return { kind: "found", lin: hits[0]!.lin, name: hits[0]!.name!, table: t.label };
}

/** The tables in scope of a FROM item that go by `alias` (lower case). */
function aliased(source: Source, alias: string): Extract<Source, { kind: "table" }>[] {
  if (source.kind === "table") return source.alias.toLowerCase() === alias ? [source] : [];
  if (source.kind === "join") {
    return [...aliased(source.left, alias), ...(source.rightVisible ? aliased(source.right, alias) : [])];
  }
  return [];
}

/** The lower-case column names a FROM item exposes, for NATURAL joins. */
function names(source: Source): { ok: true; names: string[] } | Failed {
  const cols = starOf(source);
  if (!cols.ok) return cols;
  return { ok: true, names: cols.cols.map((c) => c.name.toLowerCase()) };
}

/** A relation with its columns renamed by `t(a, b)` or `WITH t(a, b)`, first columns first. */
function renamed(rel: Rel, aliases: readonly string[]): Rel {
  if (!rel.ok || aliases.length === 0) return rel;
  return { ok: true, cols: rel.cols.map((c, i) => ({ name: aliases[i] ?? c.name, lin: c.lin })) };
}

function refKey(r: Ref): string {
  return `${r.asset}\u0000${r.column}\u0000${r.path ?? ""}\u0000${r.tokenised ? "t" : ""}`;
}

function ok(refs: readonly Ref[]): Lin {
  return { ok: true, from: new Map(refs.map((r) => [refKey(r), r])) };
}

/** A value's sources narrowed to a field inside them: `after.email` of `after`'s sources. */
function within(lin: Lin, fields: readonly string[]): Lin {
  if (!lin.ok || fields.length === 0) return lin;
  const below = fields.join(".");
  return ok(
    [...lin.from.values()].map((r) => ({ ...r, path: r.path === undefined ? below : `${r.path}.${below}` })),
  );
}

/**
 * A struct field read by function or subscript (`struct_extract(after, 'email')`, `after['email']`) as
 * the column reference it amounts to (`after.email`); undefined for anything else.
 */
function fieldAccess(x: Ast): string[] | undefined {
  const extract =
    (x.class === "FUNCTION" && String(x.function_name).toLowerCase() === "struct_extract") ||
    (x.class === "OPERATOR" && x.type === "ARRAY_EXTRACT");
  if (!extract) return undefined;
  const [target, name] = list(x.children);
  if (target?.class !== "COLUMN_REF" || name?.class !== "CONSTANT") return undefined;
  const value = node(name, "value");
  if (node(value, "type")?.id !== "VARCHAR" || value?.is_null === true) return undefined;
  return [...strings(target.column_names), String(value?.value)];
}

function fail(reason: string): Failed {
  return { ok: false, reason };
}

function merge(a: Lin, b: Lin): Lin {
  if (!a.ok) return a;
  if (!b.ok) return b;
  return { ok: true, from: new Map([...a.from, ...b.from]) };
}

function sameLin(a: Lin, b: Lin): boolean {
  if (!a.ok || !b.ok) return a.ok === b.ok;
  return a.from.size === b.from.size && [...a.from.keys()].every((k) => b.from.has(k));
}

function sorted(from: ReadonlyMap<string, Ref>): Ref[] {
  return [...from.values()].sort(
    (x, y) =>
      cmp(x.asset, y.asset) ||
      cmp(x.column, y.column) ||
      cmp(x.path ?? "", y.path ?? "") ||
      cmp(x.tokenised ? "t" : "", y.tokenised ? "t" : ""),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function node(x: Ast | undefined, key: string): Ast | undefined {
  const v = x?.[key];
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Ast) : undefined;
}

function list(v: unknown): Ast[] {
  return Array.isArray(v) ? v.filter((x): x is Ast => x !== null && typeof x === "object") : [];
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}
