/**
 * Embedding assets: an asset whose rows are vectors. It embeds a text column of one upstream with a named
 * model and keeps one vector per row key, per tenant, in the tenant's vector table (LanceDB, on the
 * stack's store under `vectors/<asset>/tenant=<tenant>/`).
 *
 *   export const recommendationVectors = embedding("recommendation_vectors", {
 *     from: recommendationFeatures,
 *     text: "embedding_text",
 *     key: ["customer_id"],
 *     tenant: "tenant_id",
 *     model: { name: "text-embedding", dimension: 256 },
 *     trigger: onUpstream(),
 *   });
 *
 * It is an asset like any other (staleness, checks, lineage, grants, the preview), whose table is the
 * ledger of its vectors: the key columns, the tenant and `content_hash` (the SHA-256 of the text), one row
 * per vector. A run embeds only rows whose text changed since the vector table last saw them, removes
 * the vectors of keys that are gone, and reports how many it embedded, kept and deleted. The model's
 * name and dimension are part of its code version: changing either re-embeds every row.
 */
import { type TObject, type TSchema, Type } from "@sinclair/typebox";
import {
  type AssetDef,
  asset,
  type ColumnOf,
  type DepRef,
  dep,
  hash,
  type MetadataOptions,
  type Resources,
} from "./asset.ts";
import type { CheckSpec } from "./checks.ts";
import { DeclarationError } from "./errors.ts";
import type { Partitions } from "./partitions.ts";
import type { EventTrigger, Schedule } from "./schedule.ts";

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

/** The column of an embedding asset's ledger holding the SHA-256 of the embedded text. */
export const CONTENT_HASH = "content_hash";
/** Column names a vector table keeps for itself. */
export const RESERVED_VECTOR_COLUMNS: readonly string[] = [CONTENT_HASH, "vector", "_distance", "_rowid"];

type Upstream<K extends string, S extends TObject> = { readonly key: K; readonly schema: S } | DepRef<K, S>;

type Automation =
  | { /** Cron schedule with time zone. */ schedule?: Schedule; trigger?: never }
  | { /** Run when upstream data arrives. */ trigger: EventTrigger; schedule?: never };

export type EmbeddingOptions<U extends string, S extends TObject> = MetadataOptions & {
  /** The upstream asset (or `dep(upstream, {...})`) whose rows are embedded. */
  from: Upstream<U, S>;
  /** The upstream's text column. */
  text: ColumnOf<S>;
  /** The upstream's key columns: one vector per key and tenant. */
  key: readonly ColumnOf<S>[];
  /** The upstream's tenant column: each tenant's vectors are a table of their own. */
  tenant: ColumnOf<S>;
  /** The embedding model: its name (a provider's model or a name stacks map) and vector length. */
  model: { name: string; dimension: number };
  /**
   * Default: the upstream's, when it is unpartitioned or partitioned by a static dimension (its
   * tenants); an embedding asset is never partitioned by time (a key's vector is its latest text's).
   */
  partitions?: Partitions;
  /** Checks on the ledger (key columns, tenant, content_hash). */
  checks?: readonly CheckSpec[];
  freshness?: string;
  resources?: Resources;
  disposable?: boolean;
  /** Bump it to embed every row again with the same model (default: derived from the declaration). */
  codeVersion?: string;
} & Automation;

/** Declare an embedding asset (see the module's comment). */
export function embedding<const K extends string, U extends string, S extends TObject>(
  key: K,
  opts: EmbeddingOptions<U, S>,
): AssetDef<K, TObject> {
  const fail = (what: string): never => {
    throw new DeclarationError(`embedding asset "${key}": ${what}`, [key]);
  };
  const from = opts.from as Upstream<U, S> | undefined;
  if (!from || typeof from.key !== "string" || typeof from.schema !== "object") {
    return fail(
      `from must be the upstream asset (or dep(upstream, {...})), not ${from === undefined ? "undefined" : JSON.stringify(from)}. If it is declared in another module, look for a circular import.`,
    );
  }
  const columns = from.schema.properties as Record<string, TSchema>;
  const column = (option: string, name: unknown, types: readonly string[], nullable: boolean): string => {
    if (typeof name !== "string" || !(name in columns)) {
      return fail(
        `${option} ${JSON.stringify(name)} is not a column of "${from.key}" (its columns: ${Object.keys(columns).join(", ")}).`,
      );
    }
    const t = plainType(columns[name]!);
    if (t === undefined || !types.includes(t.type) || (t.nullable && !nullable)) {
      return fail(
        `${option} column "${name}" of "${from.key}" must be ${types.map((x) => `a${x === "integer" ? "n" : ""} ${x}`).join(" or ")}${nullable ? "" : " that is never null"}.`,
      );
    }
    return name;
  };
  const text = column("text", opts.text, ["string"], true);
  if (!Array.isArray(opts.key) || opts.key.length === 0) {
    return fail(`key must list the upstream's columns that identify a row, e.g. key: ["customer_id"].`);
  }
  const keyColumns = opts.key.map((k) => column("key", k, ["string", "integer"], false));
  if (new Set(keyColumns).size !== keyColumns.length) fail(`key lists a column twice.`);
  const tenant = column("tenant", opts.tenant, ["string"], false);
  for (const c of [...keyColumns, tenant]) {
    if (RESERVED_VECTOR_COLUMNS.includes(c)) fail(`the column name "${c}" is reserved by the vector table.`);
  }
  const model = opts.model as { name?: unknown; dimension?: unknown } | undefined;
  if (typeof model?.name !== "string" || model.name.trim() === "") {
    fail(`model.name must name the embedding model, e.g. { name: "text-embedding", dimension: 256 }.`);
  }
  const dimension = model!.dimension;
  if (typeof dimension !== "number" || !Number.isInteger(dimension) || dimension < 2 || dimension > 8192) {
    fail(`model.dimension must be a whole number from 2 to 8192, not ${JSON.stringify(dimension)}.`);
  }
  const upstreamPartitions = (from as { partitions?: Partitions }).partitions;
  const partitions = opts.partitions ?? upstreamPartitions;
  if (partitions !== undefined && partitions.kind !== "static") {
    fail(
      `an embedding asset is unpartitioned or partitioned by its tenants (staticPartitions), not by ${partitions.kind === "time" ? "time" : "time × static keys"}: a key's vector is that of its latest text.`,
    );
  }

  const ledger: Record<string, TSchema> = {};
  for (const c of [...keyColumns, tenant]) ledger[c] = columns[c]!;
  ledger[CONTENT_HASH] = Type.String();
  const q = (name: string) => `"${name}"`;
  const ledgerColumns = [...new Set([...keyColumns, tenant])];
  const sql = `SELECT ${ledgerColumns.map(q).join(", ")}, sha256(${q(text)}) AS ${CONTENT_HASH} FROM ${q(from.key)} WHERE ${q(text)} IS NOT NULL`;
  const spec: EmbeddingSpec = Object.freeze({
    from: from.key,
    text,
    key: Object.freeze(keyColumns),
    tenant,
    model: Object.freeze({ name: model!.name as string, dimension: dimension as number }),
  });
  const upstream =
    "__dep" in from
      ? from
      : dep(from, { columns: [...new Set([...keyColumns, tenant, text])] as ColumnOf<S>[] });
  const { from: _f, text: _t, key: _k, tenant: _n, model: _m, codeVersion, ...rest } = opts;
  const def = asset(key, {
    ...rest,
    ...(partitions === undefined ? {} : { partitions }),
    schema: Type.Object(ledger),
    deps: [upstream],
    sql,
    codeVersion: embeddingCodeVersion(codeVersion ?? sql, spec.model),
  } as Parameters<typeof asset>[1]) as AssetDef<K, TObject>;
  return Object.freeze({ ...def, embedding: spec });
}

/** The code version of an embedding asset: its declaration's, with the model's name and dimension. */
function embeddingCodeVersion(base: string, model: EmbeddingSpec["model"]): string {
  return hash(JSON.stringify([base, model.name, model.dimension]));
}

/** A column's JSON type when it is a plain string or integer (possibly nullable). */
function plainType(s: TSchema): { type: string; nullable: boolean } | undefined {
  const schema = s as { type?: unknown; anyOf?: { type?: unknown }[] };
  if (typeof schema.type === "string") return { type: schema.type, nullable: false };
  if (Array.isArray(schema.anyOf)) {
    const rest = schema.anyOf.filter((b) => b.type !== "null");
    if (rest.length === 1 && typeof rest[0]!.type === "string") {
      return { type: rest[0]!.type as string, nullable: rest.length < schema.anyOf.length };
    }
  }
  return undefined;
}
