import { createHash } from "node:crypto";
import type { Static, TObject } from "@sinclair/typebox";
import type { CheckSpec } from "./checks.ts";
import { parseDuration } from "./duration.ts";
import { DeclarationError } from "./errors.ts";
import { assertKey } from "./keys.ts";
import type { PartitionMapping, Partitions } from "./partitions.ts";
import type { EventTrigger, Schedule } from "./schedule.ts";

/** The column names of an object schema. */
export type ColumnOf<S extends TObject> = keyof S["properties"] & string;
/** One row of a schema, as TypeScript sees it. */
export type Row<S extends TObject> = Static<S>;

/** Who and what an asset or source belongs to. */
export interface Metadata {
  /** Teams or people to ask about it, e.g. "team:growth" or an e-mail. */
  readonly owners: readonly string[];
  readonly tags: readonly string[];
  /** A pipeline or domain; default "default". */
  readonly group: string;
  readonly description?: string;
}

export interface MetadataOptions {
  owners?: readonly string[];
  tags?: readonly string[];
  group?: string;
  description?: string;
}

/** Hints for the function that materialises an asset in the cloud. */
export interface Resources {
  /** Memory in MiB. */
  readonly memoryMb?: number;
  /** Wall-clock limit in seconds. */
  readonly timeoutSeconds?: number;
}

/** One declared dependency, normalised: the upstream key, how partitions map, which columns it reads. */
export interface Dependency {
  readonly key: string;
  /** Explicit mapping; absent means the default for the two partition shapes (see `defaultMapping`). */
  readonly mapping?: PartitionMapping;
  /** The upstream columns the consumer reads; each must exist in the upstream's schema. */
  readonly columns?: readonly string[];
}

interface Common<K extends string, S extends TObject> extends Metadata {
  readonly key: K;
  readonly schema: S;
  readonly partitions?: Partitions;
  readonly checks: readonly CheckSpec[];
  /** Freshness SLA in minutes: the asset should never be older than this. */
  readonly freshnessMinutes?: number;
}

/** Data that arrives from outside (CDC events, files): validated, deduplicated and landed by ingest. */
export interface SourceDef<K extends string = string, S extends TObject = TObject> extends Common<K, S> {
  readonly kind: "source";
  readonly eventId: string;
  readonly eventTime: string;
  readonly tenant?: string;
  /** Dotted paths of fields holding personal data, e.g. "after.email". */
  readonly pii: readonly string[];
}

/** What a compute function gets besides its inputs. */
export interface ComputeContext {
  /** The partition being materialised ("" when unpartitioned). */
  readonly partition: string;
  /** The asset's key. */
  readonly key: string;
}

export type ComputeResult<S extends TObject> =
  | Iterable<Row<S>>
  | AsyncIterable<Row<S>>
  | Promise<Iterable<Row<S>> | AsyncIterable<Row<S>>>;

// biome-ignore lint/suspicious/noExplicitAny: the stored function's inputs are checked where it is declared.
export type ComputeFn<I = any, S extends TObject = TObject> = (inputs: I, ctx: ComputeContext) => ComputeResult<S>;

/** Derived data: SQL over its upstream tables, or a TypeScript function over their rows. */
export interface AssetDef<K extends string = string, S extends TObject = TObject> extends Common<K, S> {
  readonly kind: "asset";
  readonly deps: readonly Dependency[];
  readonly sql?: string;
  readonly compute?: ComputeFn<unknown, S>;
  readonly schedule?: Schedule;
  readonly trigger?: EventTrigger;
  /** Changes when the asset's logic changes; default: a hash of its SQL or compute function. */
  readonly codeVersion: string;
  readonly resources: Resources;
}

export type AnyAsset = SourceDef | AssetDef;

/** What `deps` accepts: an asset or source (typed), a `dep(...)` reference, or a bare key (untyped). */
export type DepLike = { readonly key: string; readonly schema: TObject } | string;

/** A dependency with options, made by `dep()`. */
export interface DepRef<K extends string = string, S extends TObject = TObject> {
  readonly key: K;
  readonly schema: S;
  readonly mapping?: PartitionMapping;
  readonly columns?: readonly string[];
  readonly __dep: true;
}

type KeyOf<D> = D extends string ? D : D extends { readonly key: infer K extends string } ? K : never;
type RowsOf<D> = D extends string
  ? Record<string, unknown>[]
  : D extends { readonly schema: infer S extends TObject }
    ? Row<S>[]
    : never;

/** The rows a compute function receives: one array per dependency, by key. */
export type Inputs<D extends readonly DepLike[]> = { readonly [E in D[number] as KeyOf<E>]: RowsOf<E> };

/** Read `upstream` with an explicit partition mapping and/or the list of columns read. */
export function dep<K extends string, S extends TObject>(
  upstream: { readonly key: K; readonly schema: S },
  opts: { partitions?: PartitionMapping; columns?: readonly ColumnOf<S>[] },
): DepRef<K, S> {
  return Object.freeze({
    key: upstream.key,
    schema: upstream.schema,
    ...(opts.partitions ? { mapping: opts.partitions } : {}),
    ...(opts.columns ? { columns: Object.freeze([...opts.columns]) } : {}),
    __dep: true as const,
  });
}

interface CommonOptions<S extends TObject> extends MetadataOptions {
  /** The output schema (a TypeBox `Type.Object`). */
  schema: S;
  partitions?: Partitions;
  checks?: readonly CheckSpec<ColumnOf<S>>[];
  /** Freshness SLA, e.g. "26h": alarms fire when the asset is older. */
  freshness?: string;
}

export interface SourceOptions<S extends TObject> extends CommonOptions<S> {
  /** The field that identifies an event; ingest deduplicates on it. */
  eventId: ColumnOf<S>;
  /** The field holding when the event happened; raw data is partitioned by its date. */
  eventTime: ColumnOf<S>;
  /** The field naming the tenant, for multi-tenant sources. */
  tenant?: ColumnOf<S>;
  /** Dotted paths of fields holding personal data (e.g. "after.email"); they are tagged "pii". */
  pii?: readonly string[];
}

type Logic<S extends TObject, D extends readonly DepLike[]> =
  | {
      /** DuckDB SQL; upstream tables are named by their keys. */
      sql: string;
      compute?: never;
    }
  | {
      /** A function of the upstream rows returning the asset's rows. */
      compute: (inputs: Inputs<D>, ctx: ComputeContext) => ComputeResult<S>;
      sql?: never;
    };

type Automation =
  | { /** Cron schedule with time zone. */ schedule?: Schedule; trigger?: never }
  | { /** Run when upstream data arrives. */ trigger: EventTrigger; schedule?: never };

export type AssetOptions<S extends TObject, D extends readonly DepLike[]> = CommonOptions<S> & {
  deps?: D;
  codeVersion?: string;
  resources?: Resources;
} & Logic<S, D> &
  Automation;

function metadata(key: string, o: MetadataOptions): Metadata {
  return {
    owners: Object.freeze([...(o.owners ?? [])]),
    tags: Object.freeze([...(o.tags ?? [])]),
    group: o.group ?? "default",
    ...(o.description === undefined ? {} : { description: o.description }),
  };
}

function assertObjectSchema(key: string, what: string, schema: unknown): asserts schema is TObject {
  const s = schema as { type?: unknown; properties?: unknown } | undefined;
  if (!s || s.type !== "object" || typeof s.properties !== "object" || s.properties === null) {
    throw new DeclarationError(
      `${what} "${key}": schema must be a TypeBox object schema (Type.Object({ ... })), so its columns are known.`,
      [key],
    );
  }
}

function freshnessOf(key: string, what: string, text: string | undefined): { freshnessMinutes?: number } {
  return text === undefined ? {} : { freshnessMinutes: parseDuration(text, `${what} "${key}": freshness`) };
}

/** Declare data that arrives from outside. */
export function source<const K extends string, S extends TObject>(key: K, opts: SourceOptions<S>): SourceDef<K, S> {
  assertKey(key, "source");
  assertObjectSchema(key, "source", opts.schema);
  const pii = Object.freeze([...(opts.pii ?? [])]);
  const meta = metadata(key, opts);
  return Object.freeze({
    kind: "source",
    key,
    schema: opts.schema,
    eventId: opts.eventId,
    eventTime: opts.eventTime,
    ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
    ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
    pii,
    checks: Object.freeze([...(opts.checks ?? [])]) as readonly CheckSpec[],
    ...freshnessOf(key, "source", opts.freshness),
    ...meta,
    tags: pii.length > 0 && !meta.tags.includes("pii") ? Object.freeze([...meta.tags, "pii"]) : meta.tags,
  });
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

function normaliseDep(owner: string, d: unknown): Dependency {
  if (typeof d === "string") return { key: d };
  const ref = d as Partial<DepRef> | null;
  if (!ref || typeof ref.key !== "string") {
    throw new DeclarationError(
      `asset "${owner}": deps must be assets, sources, dep(...) references or keys; got ${JSON.stringify(d)}.`,
      [owner],
    );
  }
  if (!ref.__dep) return { key: ref.key };
  return {
    key: ref.key,
    ...(ref.mapping ? { mapping: ref.mapping } : {}),
    ...(ref.columns ? { columns: ref.columns } : {}),
  };
}

/** Declare an asset derived from upstream assets and sources. */
export function asset<const K extends string, S extends TObject, const D extends readonly DepLike[] = readonly []>(
  key: K,
  opts: AssetOptions<S, D>,
): AssetDef<K, S> {
  assertKey(key, "asset");
  assertObjectSchema(key, "asset", opts.schema);
  const hasSql = typeof opts.sql === "string";
  const hasCompute = typeof opts.compute === "function";
  if (hasSql === hasCompute) {
    throw new DeclarationError(
      `asset "${key}": declare exactly one of sql (DuckDB SQL over its upstream tables) or compute (a function of their rows).`,
      [key],
    );
  }
  if (opts.schedule && opts.trigger) {
    throw new DeclarationError(`asset "${key}": declare either a schedule or a trigger, not both.`, [key]);
  }
  const deps = (opts.deps ?? []).map((d) => normaliseDep(key, d));
  const seen = new Set<string>();
  for (const d of deps) {
    if (seen.has(d.key)) {
      throw new DeclarationError(`asset "${key}": dependency "${d.key}" is listed twice in deps.`, [key, d.key]);
    }
    seen.add(d.key);
  }
  const resources = opts.resources ?? {};
  for (const [name, value] of Object.entries(resources)) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw new DeclarationError(`asset "${key}": resources.${name} must be a positive whole number, not ${value}.`, [key]);
    }
  }
  return Object.freeze({
    kind: "asset",
    key,
    schema: opts.schema,
    deps: Object.freeze(deps),
    ...(hasSql ? { sql: opts.sql } : { compute: opts.compute as ComputeFn<unknown, S> }),
    ...(opts.partitions === undefined ? {} : { partitions: opts.partitions }),
    checks: Object.freeze([...(opts.checks ?? [])]) as readonly CheckSpec[],
    ...(opts.schedule ? { schedule: opts.schedule } : {}),
    ...(opts.trigger ? { trigger: opts.trigger } : {}),
    ...freshnessOf(key, "asset", opts.freshness),
    codeVersion: opts.codeVersion ?? hash(hasSql ? (opts.sql as string) : String(opts.compute)),
    resources: Object.freeze({ ...resources }),
    ...metadata(key, opts),
  });
}

/** The column names of an asset or source. */
export function columnsOf(a: { readonly schema: TObject }): string[] {
  return Object.keys(a.schema.properties);
}
