import * as crypto from "node:crypto";
import type { Static, TObject } from "@sinclair/typebox";
import type { CdcSpec } from "./cdc.ts";
import type { CheckSpec } from "./checks.ts";
import { parseDuration } from "./duration.ts";
import type { EmbeddingSpec } from "./embedding.ts";
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
  readonly eventId: string;
  readonly eventTime: string;
  readonly tenant?: string;
  /** Dotted paths of fields holding personal data, e.g. "after.email". */
  readonly pii: readonly string[];
  /** Present when the source's records are change events of a table (see cdc.ts). */
  readonly cdc?: CdcSpec;
}

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

/** Declare data that arrives from outside. */
export function source<const K extends string, S extends TObject>(
  key: K,
  opts: SourceOptions<S>,
): SourceDef<K, S> {
  assertKey(key, "source");
  assertObjectSchema(key, "source", opts.schema);
  const pii = frozenCopy(opts.pii);
  const disposable = isDisposable(key, "source", opts.disposable);
  const secrets = secretNames(key, "source", opts.secrets);
  const meta = metadata(opts);
  // Built key by key (not from spreads of temporaries): the same keys in the same order, less garbage.
  const def: Partial<Mutable<SourceDef<K, S>>> = {
    kind: "source",
    key,
    schema: opts.schema,
    eventId: opts.eventId,
    eventTime: opts.eventTime,
  };
  if (opts.tenant !== undefined) def.tenant = opts.tenant;
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
  const spec = Object.freeze(def) as AssetDef<K, S>;
  rememberSecrets(spec, opts.secrets);
  return spec;
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
