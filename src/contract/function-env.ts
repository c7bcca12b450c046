/**
 * The environment variables infra/plan gives every function and the handlers read back
 * (core.ts `functionEnv`): one list of names for both sides. No imports: the plan is pure and must not
 * load the engine.
 */
export const FUNCTION_ENV = {
  asset: "TRIBUTARY_ASSET",
  kind: "TRIBUTARY_KIND",
  environment: "TRIBUTARY_ENV",
  raw: "TRIBUTARY_STORE_RAW",
  curated: "TRIBUTARY_STORE_CURATED",
  quarantine: "TRIBUTARY_STORE_QUARANTINE",
  assetEvents: "TRIBUTARY_ASSET_EVENTS",
  /**
   * The secrets the function's asset declares, as JSON `{ "<name>": "<reference>" }`: a Secrets Manager
   * ARN with `#<version id>`, a Secret Manager version's resource name, a Key Vault secret's versioned URI.
   * References only: the function reads each value with its cloud's SDK (runtime/secrets/).
   */
  secrets: "TRIBUTARY_SECRET_REFS",
  /** The function's timeout: what its publishing may take is a fraction of it. */
  timeout: "TRIBUTARY_TIMEOUT_SECONDS",
  /** Whole vCPUs the function's memory size buys on its cloud: ingest validates on worker threads from 2. */
  cpus: "TRIBUTARY_CPUS",
  /**
   * An embedding asset's function: how it embeds and writes vectors, as JSON (runtime/vectors/config.ts
   * `VectorsConfig`, every field optional): the provider and its settings, the model names, backpressure.
   */
  vectors: "TRIBUTARY_VECTORS",
  /**
   * The catalog the function tells about each table commit (contract/table-names.ts `CatalogRef`, as
   * JSON): set for the functions that commit curated tables, on a cloud that has a catalog.
   */
  catalog: "TRIBUTARY_TABLE_CATALOG",
} as const;

/**
 * A function materialises an asset, ingests a source, sweeps the stack's outbox (announces the commits
 * nobody announced, runtime/handlers/outbox.ts), or maintains the stack's curated tables (compacts small
 * files, expires old snapshots, every night). One sweeper and one maintainer per stack, named by these
 * ids, which no asset key can be (asset keys have no dash).
 */
export type FunctionKind = "asset" | "ingest" | "sweep" | "maintain";
export const OUTBOX_SWEEPER = "outbox-sweep";
export const TABLE_MAINTENANCE = "table-maintenance";
/** When the table maintenance runs unless the stack says otherwise: every night at 03:00 UTC. */
export const TABLE_MAINTENANCE_CRON = "0 3 * * *";

/** The functions a stack has besides its assets' and sources', by id, with what they do. */
export const STACK_FUNCTIONS: Readonly<Record<string, FunctionKind>> = {
  [OUTBOX_SWEEPER]: "sweep",
  [TABLE_MAINTENANCE]: "maintain",
};

/** A source's function ingests it; an asset's materialises it. */
export function functionKind(a: { readonly kind: "source" | "asset" }): FunctionKind {
  return a.kind === "source" ? "ingest" : "asset";
}

/**
 * A function's variables, by name: the stores and bus as `V`, which is a URI or name in a running
 * function and a reference to resolve in the plan.
 */
export function functionVariables<V>(fn: {
  readonly asset: string;
  readonly kind: FunctionKind;
  readonly environment: string;
  readonly stores: { readonly raw: V; readonly curated: V; readonly quarantine: V };
  readonly assetEvents: V;
  /** The secrets' references, when the asset declares any. */
  readonly secrets?: V;
  /** The catalog its table commits are published to, when it commits tables on a cloud with one. */
  readonly catalog?: V;
  readonly timeoutSeconds: number;
  readonly cpus: number;
}): Record<string, string | V> {
  return {
    [FUNCTION_ENV.asset]: fn.asset,
    [FUNCTION_ENV.kind]: fn.kind,
    [FUNCTION_ENV.environment]: fn.environment,
    [FUNCTION_ENV.raw]: fn.stores.raw,
    [FUNCTION_ENV.curated]: fn.stores.curated,
    [FUNCTION_ENV.quarantine]: fn.stores.quarantine,
    [FUNCTION_ENV.assetEvents]: fn.assetEvents,
    ...(fn.secrets === undefined ? {} : { [FUNCTION_ENV.secrets]: fn.secrets }),
    [FUNCTION_ENV.timeout]: String(fn.timeoutSeconds),
    [FUNCTION_ENV.cpus]: String(fn.cpus),
    ...(fn.catalog === undefined ? {} : { [FUNCTION_ENV.catalog]: fn.catalog }),
  };
}
