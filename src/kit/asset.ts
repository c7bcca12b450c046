import * as crypto from "node:crypto";
import type { Static, TObject } from "@sinclair/typebox";
import type { CdcConnector, CdcSpec } from "./cdc.ts";
import type { CheckSpec } from "./checks.ts";
import {
  CDC_EVENT_TIME,
  cdcEventId,
  cdcProblem,
  cdcTenantPath,
  type DebeziumCdc,
  type DebeziumEnvelope,
  debeziumEnvelope,
} from "./debezium.ts";
import { parseDuration } from "./duration.ts";
import { DeclarationError } from "./errors.ts";
import { assertKey } from "./keys.ts";
import type { PartitionMapping, Partitions } from "./partitions.ts";
import type { EventTrigger, Schedule } from "./schedule.ts";
import { rememberSecrets, type SecretLike, secretNames } from "./secret.ts";

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
  /** Present (and true) only when declared: its data may be thrown away (see `disposable` in the options). */
  readonly disposable?: true;
  /** The names of the secrets its function needs, in declaration order; present only when declared. */
  readonly secrets?: readonly string[];
}

/** Data that arrives from outside (CDC events, files): validated, deduplicated and landed by ingest. */
export interface SourceDef<K extends string = string, S extends TObject = TObject> extends Common<K, S> {
  readonly kind: "source";
  /**
   * The field ingest deduplicates on. A CDC source's event id is derived from the change's position and
   * key, and this says how: "source.db+source.lsn+source.txId+op+key(id)" (kit/debezium.ts `cdcEventId`).
   */
  readonly eventId: string;
  /** The field whose time partitions the source; a CDC source's is "source.ts_ms". */
  readonly eventTime: string;
  /** The field naming the tenant; a CDC source's is a path: "after.tenant_id" or "source.db". */
  readonly tenant?: string;
  /** Dotted paths of fields holding personal data, e.g. "after.email". */
  readonly pii: readonly string[];
  /** Present when the source's records are change events of a table (see cdc.ts). */
  readonly cdc?: CdcSpec;
  /**
   * Present only when declared: how far past now an event may be dated, in minutes; later events are
   * quarantined (default at ingest: one day, `DEFAULT_HORIZON_MINUTES`).
   */
  readonly horizonMinutes?: number;
}

/** How far past now a source's events may be dated when it declares no horizon: one day. */
export const DEFAULT_HORIZON_MINUTES = 1440;

/** What a compute function gets besides its inputs. */
export interface ComputeContext {
  /** The partition being materialised ("" when unpartitioned). */
  readonly partition: string;
  /** The asset's key. */
  readonly key: string;
  /** The value of a secret the asset declares (`secrets: [...]`); refused for any other. */
  secret(name: string): Promise<string>;
  /**
   * The keyed token of `value` for `tenant`, under the asset's tokenisation secret: the same token
   * `pii_token(tenant, value)` gives in SQL. Refused when the asset declares no tokenisation secret.
   */
  token(tenant: string, value: string): string;
}

export type ComputeResult<S extends TObject> =
  | Iterable<Row<S>>
  | AsyncIterable<Row<S>>
  | Promise<Iterable<Row<S>> | AsyncIterable<Row<S>>>;

// biome-ignore lint/suspicious/noExplicitAny: the stored function's inputs are checked where it is declared.
export type ComputeFn<I = any, S extends TObject = TObject> = (
  inputs: I,
  ctx: ComputeContext,
) => ComputeResult<S>;

/** An embedding asset's declaration, as the engine reads it (`AssetDef.embedding`). */
export interface EmbeddingSpec {
  /** The upstream whose rows are embedded. */
  readonly from: string;
  /** Its column holding the text to embed; rows whose text is null have no vector. */
  readonly text: string;
  /** Its columns identifying a row within a tenant (strings or integers, never null). */
  readonly key: readonly string[];
  /** Its column naming the row's tenant: the vector table the row's vector goes to. */
  readonly tenant: string;
  /** The model the asset is built for (how configuration maps it to a provider: runtime/vectors/config.ts). */
  readonly model: { readonly name: string; readonly dimension: number };
}

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
  /**
   * Present only when declared: the asset holds personal data on purpose. `true`: any of its columns
   * may; a list: these columns do. Its personal data is personal data to its consumers too.
   */
  readonly pii?: true | readonly string[];
  /** Present on an embedding asset (`embedding()` in embedding.ts): what it embeds, how, with which model. */
  readonly embedding?: EmbeddingSpec;
  /** Present only when declared: how `tributary diff --data` matches its rows and what a change may do. */
  readonly diff?: DataDiffSpec;
}

/**
 * How `tributary diff --data` compares an asset's rows at two revisions (docs/preview.md): `key`, the
 * columns identifying a row within its partition (default: its unique check's columns); `expect`, what a
 * change may do to its data: "unchanged" (a refactor) or `{ only: [...] }` (only these columns may
 * change). A broken expectation is a risk: `diff --exit-code` fails.
 */
export interface DataDiffSpec<C extends string = string> {
  readonly key?: readonly C[];
  readonly expect?: "unchanged" | { readonly only: readonly C[] };
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
  if (!upstream || typeof upstream.key !== "string") {
    throw new DeclarationError(
      `dep(): the upstream is ${upstream === undefined ? "undefined" : JSON.stringify(upstream)}, not an asset or source. If it is declared in another module, look for a circular import.`,
      [],
    );
  }
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
  /**
   * Data that can be rebuilt or thrown away, e.g. a scratch asset or a dev-only source; default false.
   * A deployed store holding only disposable data is not protected: a stack change (or `pulumi destroy`)
   * may delete it with its contents. Stores holding any other data are protected and kept.
   */
  disposable?: boolean;
  /**
   * The secrets its function needs: declared secrets (`secret("name", {...})`) or their names. A
   * deployed stack grants its function read on exactly these; locally they come from the environment
   * or the store's key files.
   */
  secrets?: readonly SecretLike[];
}

interface SourceOnlyOptions {
  /** Dotted paths of fields holding personal data (e.g. "after.email"); they are tagged "pii". */
  pii?: readonly string[];
  /**
   * How far past now an event may be dated, e.g. "1d" (the default) or "2h": events in a partition
   * after the one of now + horizon are quarantined, as events before the first partition are.
   */
  horizon?: string;
}

export interface SourceOptions<S extends TObject> extends CommonOptions<S>, SourceOnlyOptions {
  /** The field that identifies an event; ingest deduplicates on it. */
  eventId: ColumnOf<S>;
  /** The field holding when the event happened; raw data is partitioned by its date. */
  eventTime: ColumnOf<S>;
  /** The field naming the tenant, for multi-tenant sources. */
  tenant?: ColumnOf<S>;
  cdc?: never;
}

/**
 * A source of change events of a table (docs/cdc.md): its schema is the change-event envelope of the
 * declared row, and its event id, event time and tenant are derived from each event.
 */
export interface CdcSourceOptions<R extends TObject, C extends CdcConnector>
  extends Omit<CommonOptions<DebeziumEnvelope<R, C>>, "schema">,
    SourceOnlyOptions {
  /** What the source captures: `debezium.postgres({ table, key, row })` or `debezium.mysql({...})`. */
  cdc: DebeziumCdc<R, C>;
  schema?: never;
  eventId?: never;
  eventTime?: never;
  tenant?: never;
}

type Logic<S extends TObject, D extends readonly DepLike[]> =
  | {
      /** DuckDB SQL; upstream tables are named by their keys. */
      sql: string;
      compute?: never;
      /** Changes when the logic changes; default: a hash of the SQL. */
      codeVersion?: string;
    }
  | {
      /** A function of the upstream rows returning the asset's rows. */
      compute: (inputs: Inputs<D>, ctx: ComputeContext) => ComputeResult<S>;
      sql?: never;
      /**
       * Required: bump it when the function's logic changes. A function's text differs between the tools
       * that load it (tsx, vitest, a bundler), so no version can be derived from it.
       */
      codeVersion: string;
    };

type Automation =
  | { /** Cron schedule with time zone. */ schedule?: Schedule; trigger?: never }
  | { /** Run when upstream data arrives. */ trigger: EventTrigger; schedule?: never };

export type AssetOptions<S extends TObject, D extends readonly DepLike[]> = CommonOptions<S> & {
  deps?: D;
  resources?: Resources;
  /**
   * The asset holds personal data on purpose: `true` (any of its columns may) or the columns that do.
   * Without it, an output column computed from a source's `pii` field (or another such asset's) that
   * is not tokenised with `pii_token` is a validation error. Its personal data stays personal data to
   * its consumers.
   */
  pii?: boolean | readonly ColumnOf<S>[];
  /** How `tributary diff --data` matches its rows and what a change may do to its data (DataDiffSpec). */
  diff?: DataDiffSpec<ColumnOf<S>>;
} & Logic<S, D> &
  Automation;

type Mutable<T> = { -readonly [P in keyof T]: T[P] };

/** Shared by every declaration that leaves a list out: frozen, so sharing it is safe. */
const NONE: readonly never[] = Object.freeze([]);

function frozenCopy<T>(list: readonly T[] | undefined): readonly T[] {
  return list === undefined || list.length === 0 ? NONE : Object.freeze([...list]);
}

function metadata(o: MetadataOptions): Metadata {
  const meta: Mutable<Metadata> = {
    owners: frozenCopy(o.owners),
    tags: frozenCopy(o.tags),
    group: o.group ?? "default",
  };
  if (o.description !== undefined) meta.description = o.description;
  return meta;
}

/** Whether a declaration is disposable; anything but a boolean is a mistake worth naming. */
function isDisposable(key: string, what: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean") {
    throw new DeclarationError(
      `${what} "${key}": disposable must be true or false, not ${JSON.stringify(value)}.`,
      [key],
    );
  }
  return value === true;
}

function assertObjectSchema(key: string, what: string, schema: unknown): asserts schema is TObject {
  const s = schema as { type?: unknown; properties?: unknown } | undefined;
  if (s?.type !== "object" || typeof s.properties !== "object" || s.properties === null) {
    throw new DeclarationError(
      `${what} "${key}": schema must be a TypeBox object schema (Type.Object({ ... })), so its columns are known.`,
      [key],
    );
  }
}

/** The options a CDC source derives and so must not be given. */
const DERIVED_BY_CDC = ["schema", "eventId", "eventTime", "tenant"] as const;

/** A CDC source's schema, event id, event time and tenant, from its (checked) declaration. */
function cdcFields(key: string, opts: { cdc?: unknown } & Record<string, unknown>) {
  const given = DERIVED_BY_CDC.filter((o) => opts[o] !== undefined);
  if (given.length > 0) {
    throw new DeclarationError(
      `source "${key}": a CDC source takes no ${given.join(", ")}: its schema is the change-event envelope of cdc.row, its event id the change's position and key, its event time source.ts_ms and its tenant cdc.tenant; remove ${given.length === 1 ? "it" : "them"}.`,
      [key],
    );
  }
  const cdc = opts.cdc as DebeziumCdc;
  if (typeof cdc !== "object" || cdc === null) {
    throw new DeclarationError(
      `source "${key}": cdc must be a change-data-capture declaration such as debezium.postgres({ table, key, row }), not ${JSON.stringify(cdc)}.`,
      [key],
    );
  }
  const problem = cdcProblem(key, cdc);
  if (problem !== undefined) throw new DeclarationError(problem, [key]);
  return {
    cdc,
    schema: debeziumEnvelope(cdc) as TObject,
    eventId: cdcEventId(cdc),
    eventTime: CDC_EVENT_TIME,
    tenant: cdcTenantPath(cdc),
  };
}

/**
 * Declare data that arrives from outside: events with a schema of their own, or change events of a
 * table (`cdc: debezium.postgres({...})`, docs/cdc.md).
 */
export function source<const K extends string, S extends TObject>(
  key: K,
  opts: SourceOptions<S>,
): SourceDef<K, S>;
export function source<const K extends string, R extends TObject, C extends CdcConnector>(
  key: K,
  opts: CdcSourceOptions<R, C>,
): SourceDef<K, DebeziumEnvelope<R, C>>;
export function source<const K extends string, S extends TObject>(
  key: K,
  opts: SourceOptions<S> | CdcSourceOptions<TObject, CdcConnector>,
): SourceDef<K, S> {
  assertKey(key, "source");
  const cdc = opts.cdc === undefined ? undefined : cdcFields(key, opts as unknown as Record<string, unknown>);
  const schema = (cdc ? cdc.schema : opts.schema) as S;
  if (!cdc) assertObjectSchema(key, "source", schema);
  const pii = frozenCopy(opts.pii);
  const disposable = isDisposable(key, "source", opts.disposable);
  const secrets = secretNames(key, "source", opts.secrets);
  const horizon =
    opts.horizon === undefined ? undefined : parseDuration(opts.horizon, `source "${key}": horizon`);
  const meta = metadata(opts);
  // Built key by key (not from spreads of temporaries): the same keys in the same order, less garbage.
  const def: Partial<Mutable<SourceDef<K, S>>> = {
    kind: "source",
    key,
    schema,
    eventId: cdc ? cdc.eventId : (opts as SourceOptions<S>).eventId,
    eventTime: cdc ? cdc.eventTime : (opts as SourceOptions<S>).eventTime,
  };
  const tenant = cdc ? cdc.tenant : (opts as SourceOptions<S>).tenant;
  if (tenant !== undefined) def.tenant = tenant;
  if (opts.partitions !== undefined) def.partitions = opts.partitions;
  def.pii = pii;
  def.checks = frozenCopy(opts.checks as readonly CheckSpec[] | undefined);
  if (opts.freshness !== undefined)
    def.freshnessMinutes = parseDuration(opts.freshness, `source "${key}": freshness`);
  def.owners = meta.owners;
  def.tags = pii.length > 0 && !meta.tags.includes("pii") ? Object.freeze([...meta.tags, "pii"]) : meta.tags;
  def.group = meta.group;
  if (meta.description !== undefined) def.description = meta.description;
  if (disposable) def.disposable = true;
  if (secrets.length > 0) def.secrets = Object.freeze(secrets);
  if (cdc) def.cdc = cdc.cdc;
  if (horizon !== undefined) def.horizonMinutes = horizon;
  const spec = Object.freeze(def) as SourceDef<K, S>;
  rememberSecrets(spec, opts.secrets);
  return spec;
}

/** sha256 of a text, hex; the one-shot `crypto.hash` (Node ≥ 20.12) when there is one: a third of the cost. */
const sha256: (text: string) => string =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("sha256", text, "hex")
    : (text) => crypto.createHash("sha256").update(text).digest("hex");

/** A short hash of a text: code versions derived from a declaration. */
export function hash(text: string): string {
  return sha256(text).slice(0, 12);
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
  const dependency: Mutable<Dependency> = { key: ref.key };
  if (ref.mapping) dependency.mapping = ref.mapping;
  if (ref.columns) dependency.columns = ref.columns;
  return dependency;
}

/** The first key listed twice, in listing order; a quadratic scan for the usual handful of deps. */
function duplicateKey(deps: readonly Dependency[]): string | undefined {
  if (deps.length > 16) {
    const seen = new Set<string>();
    for (const d of deps) {
      if (seen.has(d.key)) return d.key;
      seen.add(d.key);
    }
    return undefined;
  }
  for (let i = 1; i < deps.length; i++) {
    const k = deps[i]!.key;
    for (let j = 0; j < i; j++) if (deps[j]!.key === k) return k;
  }
  return undefined;
}

/** Declare an asset derived from upstream assets and sources. */
export function asset<
  const K extends string,
  S extends TObject,
  const D extends readonly DepLike[] = readonly [],
>(key: K, opts: AssetOptions<S, D>): AssetDef<K, S> {
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
  if (hasCompute && (typeof opts.codeVersion !== "string" || opts.codeVersion === "")) {
    throw new DeclarationError(
      `asset "${key}": a compute asset needs a codeVersion (e.g. codeVersion: "1"), bumped when its function changes; a function's text differs between the tools that load it, so no version can be derived from it.`,
      [key],
    );
  }
  const deps = (opts.deps ?? NONE).map((d) => normaliseDep(key, d));
  const twice = duplicateKey(deps);
  if (twice !== undefined) {
    throw new DeclarationError(`asset "${key}": dependency "${twice}" is listed twice in deps.`, [
      key,
      twice,
    ]);
  }
  const disposable = isDisposable(key, "asset", opts.disposable);
  const secrets = secretNames(key, "asset", opts.secrets);
  const pii = piiOption(key, opts.pii);
  const diff = diffOption(key, opts.schema, opts.diff);
  const resources = opts.resources ?? {};
  for (const [name, value] of Object.entries(resources)) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw new DeclarationError(
        `asset "${key}": resources.${name} must be a positive whole number, not ${value}.`,
        [key],
      );
    }
  }
  // Built key by key (not from spreads of temporaries): the same keys in the same order, less garbage.
  const def: Partial<Mutable<AssetDef<K, S>>> = {
    kind: "asset",
    key,
    schema: opts.schema,
    deps: Object.freeze(deps),
  };
  if (hasSql) def.sql = opts.sql;
  else def.compute = opts.compute as ComputeFn<unknown, S>;
  if (opts.partitions !== undefined) def.partitions = opts.partitions;
  def.checks = frozenCopy(opts.checks as readonly CheckSpec[] | undefined);
  if (opts.schedule) def.schedule = opts.schedule;
  if (opts.trigger) def.trigger = opts.trigger;
  if (opts.freshness !== undefined)
    def.freshnessMinutes = parseDuration(opts.freshness, `asset "${key}": freshness`);
  def.codeVersion = opts.codeVersion ?? hash(opts.sql as string);
  def.resources = Object.freeze({ ...resources });
  const meta = metadata(opts);
  def.owners = meta.owners;
  def.tags =
    pii !== undefined && !meta.tags.includes("pii") ? Object.freeze([...meta.tags, "pii"]) : meta.tags;
  def.group = meta.group;
  if (meta.description !== undefined) def.description = meta.description;
  if (disposable) def.disposable = true;
  if (secrets.length > 0) def.secrets = Object.freeze(secrets);
  if (pii !== undefined) def.pii = pii;
  if (diff !== undefined) def.diff = diff;
  const spec = Object.freeze(def) as AssetDef<K, S>;
  rememberSecrets(spec, opts.secrets);
  return spec;
}

/** An asset's `diff` option, its columns checked against its schema. */
function diffOption(key: string, schema: TObject, value: unknown): DataDiffSpec | undefined {
  if (value === undefined) return undefined;
  const columns = Object.keys(schema.properties);
  const list = (field: string, v: unknown): readonly string[] => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((c) => typeof c === "string")) {
      throw new DeclarationError(`asset "${key}": diff.${field} must be a non-empty list of its columns.`, [
        key,
      ]);
    }
    const unknown = v.find((c) => !columns.includes(c));
    if (unknown !== undefined) {
      throw new DeclarationError(
        `asset "${key}": diff.${field} names "${unknown}", which is not one of its columns (${columns.join(", ")}).`,
        [key],
      );
    }
    return Object.freeze([...new Set(v as string[])]);
  };
  const v = value as { key?: unknown; expect?: unknown };
  if (typeof v !== "object" || v === null) {
    throw new DeclarationError(`asset "${key}": diff must be an object: { key?, expect? }.`, [key]);
  }
  const out: { key?: readonly string[]; expect?: DataDiffSpec["expect"] } = {};
  if (v.key !== undefined) out.key = list("key", v.key);
  if (v.expect === "unchanged") out.expect = "unchanged";
  else if (typeof v.expect === "object" && v.expect !== null && "only" in v.expect) {
    out.expect = Object.freeze({ only: list("expect.only", (v.expect as { only: unknown }).only) });
  } else if (v.expect !== undefined) {
    throw new DeclarationError(
      `asset "${key}": diff.expect must be "unchanged" or { only: [columns that may change] }, not ${JSON.stringify(v.expect)}.`,
      [key],
    );
  }
  return Object.freeze(out);
}

/** An asset's `pii` option: absent (false), true, or a list of its columns. */
function piiOption(key: string, value: unknown): true | readonly string[] | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return true;
  if (Array.isArray(value) && value.length > 0 && value.every((c) => typeof c === "string")) {
    return Object.freeze([...new Set(value as string[])]);
  }
  throw new DeclarationError(
    `asset "${key}": pii must be true (the asset may hold personal data in any column) or a non-empty list of its columns that do, not ${JSON.stringify(value)}.`,
    [key],
  );
}

/** The column names of an asset or source. */
export function columnsOf(a: { readonly schema: TObject }): string[] {
  return Object.keys(a.schema.properties);
}
