/**
 * A graph as plain data, for comparing two revisions of it: every declared attribute of every asset that
 * a reviewer cares about (schema, code version, dependencies, partitions, checks, schedule, owners, tags
 * …), with each one written as the text the preview shows. Two snapshots of the same declarations are
 * deep-equal; the revisions' graphs are built by different copies of the kit, so nothing here keeps a
 * reference to one.
 */
import type { TObject, TSchema } from "@sinclair/typebox";
import { type IcebergStruct, icebergSchema, TableSchemaError } from "../../contract/table-schema.ts";
import type { AnyAsset } from "../../kit/asset.ts";
import type { CheckSpec } from "../../kit/checks.ts";
import { formatDuration } from "../../kit/duration.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { columnType, type GraphNode } from "../../kit/lineage.ts";
import {
  describeMapping,
  describePartitions,
  lastCompleteKey,
  type Partitions,
  staticDimension,
  timeDimension,
  timeKeys,
} from "../../kit/partitions.ts";
import { namesWord, sqlCode } from "../../kit/sql.ts";
import type { Column } from "./types.ts";

export interface DependencySnapshot {
  readonly key: string;
  /** The partition mapping, as `describeMapping` writes it. */
  readonly mapping: string;
  /** The upstream columns declared read (`dep(x, { columns })`), if declared. */
  readonly columns?: readonly string[];
}

export interface AssetSnapshot extends GraphNode {
  readonly description?: string;
  /** As `describePartitions` writes it: "unpartitioned", "daily from 2026-11-01 × tenant [acme, …]". */
  readonly partitions: string;
  /** How many partitions it has today. */
  readonly partitionCount: number;
  readonly columns: readonly Column[];
  /** Assets: the code version; sources have none. */
  readonly code?: string;
  /** Assets: the SQL, when it is a SQL asset. */
  readonly sql?: string;
  readonly deps: readonly DependencySnapshot[];
  /** Each check as one line: `name: kind(columns…)[, non-blocking]`. */
  readonly checks: readonly { readonly name: string; readonly spec: string }[];
  /** "cron 0 3 * * * (UTC)", "on upstream" or "by hand" (sources: "on events"). */
  readonly schedule: string;
  /** Every other declared attribute that changes what runs or who is told, as text by name. */
  readonly other: Readonly<Record<string, string>>;
  /**
   * The columns holding personal data, each with where it comes from ("email ← customers_cdc.after.email");
   * absent when none does, or when it was not traced (runtime/lineage/pii.ts).
   */
  readonly pii?: readonly string[];
  /** Assets: the schema of their Iceberg table, as a new table's (contract/table-schema.ts). */
  readonly table?: IcebergStruct;
}

export interface GraphSnapshot {
  /** Every asset and source, in the graph's topological order. */
  readonly assets: readonly AssetSnapshot[];
}

/**
 * The snapshot with each asset's personal data (runtime/lineage/pii.ts `piiColumns`): the columns that
 * hold it, by asset key; an asset that leaks it untokenised is listed too.
 */
export function withPii(snapshot: GraphSnapshot, pii: ReadonlyMap<string, readonly string[]>): GraphSnapshot {
  return {
    assets: snapshot.assets.map((a) => {
      const columns = pii.get(a.key);
      return columns && columns.length > 0 && a.kind === "asset" ? { ...a, pii: columns } : a;
    }),
  };
}

/** The snapshot of a validated graph; `now` fixes which time partitions exist (default: now). */
export function snapshotOf(graph: AssetGraph, now?: Date): GraphSnapshot {
  const counts = new Map<string, number>();
  const count = (p: Partitions | undefined, described: string): number => {
    let n = counts.get(described);
    if (n === undefined) {
      n = partitionCount(p, now);
      counts.set(described, n);
    }
    return n;
  };
  return {
    assets: graph.assets().map((a) => {
      const partitions = describePartitions(a.partitions);
      return assetSnapshot(a, partitions, count(a.partitions, partitions));
    }),
  };
}

function assetSnapshot(a: AnyAsset, partitions: string, partitionCount: number): AssetSnapshot {
  const other: Record<string, string> = {};
  if (a.freshnessMinutes !== undefined) other.freshness = `${a.freshnessMinutes} min`;
  const disposable = (a as { disposable?: boolean }).disposable;
  if (disposable) other.disposable = "yes";
  if (a.secrets) other.secrets = a.secrets.join(", ");
  if (a.kind === "source") {
    other.eventId = a.eventId;
    other.eventTime = a.eventTime;
    if (a.tenant !== undefined) other.tenant = a.tenant;
    if (a.pii.length > 0) other.pii = a.pii.join(", ");
    if (a.cdc) {
      other.cdc = `${a.cdc.format} ${a.cdc.connector} ${a.cdc.table}, key (${a.cdc.key.join(", ")})`;
      // The row's columns: the source's own columns are the envelope's (before, after, source, op, …).
      other.row = Object.entries(a.cdc.row.properties)
        .map(([name, s]) => {
          const t = columnType(s as TSchema);
          return `${name} ${t.type}${t.nullable ? " or null" : ""}`;
        })
        .join(", ");
    }
    if (a.horizonMinutes !== undefined) other.horizon = formatDuration(a.horizonMinutes);
  } else {
    if (a.pii !== undefined) other.pii = a.pii === true ? "yes" : a.pii.join(", ");
    if (a.diff) {
      const expect = a.diff.expect;
      other.diff = [
        a.diff.key ? `key (${a.diff.key.join(", ")})` : "",
        expect === undefined
          ? ""
          : expect === "unchanged"
            ? "expect unchanged"
            : `expect only ${expect.only.join(", ")} to change`,
      ]
        .filter(Boolean)
        .join("; ");
    }
    if (a.resources.memoryMb !== undefined) other.memoryMb = String(a.resources.memoryMb);
    if (a.resources.timeoutSeconds !== undefined) other.timeoutSeconds = String(a.resources.timeoutSeconds);
    if (a.embedding !== undefined) {
      const e = a.embedding;
      other[EMBEDDING_MODEL] = `${e.model.name}, ${e.model.dimension} dimensions`;
      other.embeds = `${e.from}.${e.text} by ${e.key.join(", ")}, one vector table per ${e.tenant}`;
    }
  }
  return {
    key: a.key,
    kind: a.kind,
    group: a.group,
    owners: [...a.owners],
    tags: [...a.tags],
    ...(a.description === undefined ? {} : { description: a.description }),
    partitions,
    partitionCount,
    columns: Object.entries(a.schema.properties).map(([name, s]) => ({
      name,
      ...columnType(s as TSchema),
    })),
    ...(a.kind === "asset" ? { code: a.codeVersion, ...(a.sql === undefined ? {} : { sql: a.sql }) } : {}),
    deps:
      a.kind === "asset"
        ? a.deps.map((d) => ({
            key: d.key,
            mapping: d.mapping ? describeMapping(d.mapping) : "default",
            ...(d.columns ? { columns: [...d.columns] } : {}),
          }))
        : [],
    checks: a.checks.map((c) => ({ name: c.name, spec: checkSpec(c) })),
    schedule: scheduleOf(a),
    other,
    ...(a.kind === "asset" ? tableOf(a.schema) : {}),
  };
}

/** The embedding model of an embedding asset, as the preview names the field: a change re-embeds everything. */
export const EMBEDDING_MODEL = "embedding model (a change embeds every row again)";
/** An asset's table schema; none for a schema with no Iceberg type (the engine refuses it at run time). */
function tableOf(schema: TObject): { table?: IcebergStruct } {
  try {
    const { fields } = icebergSchema(schema).schema;
    return { table: { type: "struct", fields } };
  } catch (e) {
    if (e instanceof TableSchemaError) return {};
    throw e;
  }
}

function scheduleOf(a: AnyAsset): string {
  if (a.kind === "source") return "on events";
  if (a.schedule) return `cron ${a.schedule.cron} (${a.schedule.timezone})`;
  if (a.trigger) return "on upstream";
  return "by hand";
}

/** A check as one line of text: what it checks and whether it blocks. */
export function checkSpec(c: CheckSpec): string {
  const what = (() => {
    switch (c.kind) {
      case "not_null":
      case "unique":
        return `${c.kind}(${c.columns.join(", ")})`;
      case "accepted_values":
        return `accepted_values(${c.column} in ${c.values.map((v) => JSON.stringify(v)).join(", ")})`;
      case "row_count":
        return `row_count(${c.min ?? "-"}..${c.max ?? "-"})`;
      case "references":
        return `references(${c.column} → ${c.asset}.${c.assetColumn})`;
      case "freshness":
        return `freshness(${c.maxLagMinutes} min)`;
      case "sql":
        return `sql(${c.sql.replace(/\s+/g, " ").trim()})`;
    }
  })();
  return c.blocking ? what : `${what}, non-blocking`;
}

/** How many partitions `p` has at `now` (time partitions run up to the last complete one). */
export function partitionCount(p: Partitions | undefined, now: Date = new Date()): number {
  if (!p) return 1;
  const t = timeDimension(p);
  const times = t ? timeKeys(t, t.start, t.end ?? lastCompleteKey(t, now)).length : 1;
  const statics = staticDimension(p)?.keys.length ?? 1;
  return times * statics;
}

/**
 * The columns of `upstream` that `consumer` reads, and how that is known: declared in its dependency,
 * found as words of its SQL (every column when it selects `*` from it), or all of them (a compute
 * function, whose reads cannot be seen).
 */
export function readsOf(
  consumer: AssetSnapshot,
  upstream: string,
  upstreamColumns: readonly string[],
): { readonly columns: readonly string[]; readonly from: "declared" | "sql" | "all" } {
  const dep = consumer.deps.find((d) => d.key === upstream);
  if (dep?.columns) return { columns: dep.columns, from: "declared" };
  if (consumer.sql === undefined) return { columns: upstreamColumns, from: "all" };
  const code = sqlCode(consumer.sql);
  if (/(?:^|[\s,(])(?:[a-z_][a-z0-9_]*\.)?\*(?=\s*(?:,|from\b|$))/.test(code)) {
    return { columns: upstreamColumns, from: "sql" };
  }
  return { columns: upstreamColumns.filter((c) => namesWord(code, c.toLowerCase())), from: "sql" };
}
