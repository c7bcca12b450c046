/**
 * The deployment plan: everything one stack deploys, derived from the asset graph and the stack
 * config, as plain JSON. No cloud in here: each adapter (infra/aws, infra/gcp, infra/azure) turns the
 * same plan into its own resources. Ids in the plan are logical and stable; physical names are the
 * adapter's business.
 */
import type { EmbeddingProvider } from "../../contract/embedding.ts";
import type { FunctionKind } from "../../contract/function-env.ts";
import type { CdcConnector, CdcFormat } from "../../kit/cdc.ts";
import type { Cloud } from "../config.ts";

export const PLAN_VERSION = 1;

/** The three zones of the storage layout, each its own store (bucket, container). */
export type StoreId = "raw" | "curated" | "quarantine";
/** Source events come from outside; asset events announce a committed materialisation. */
export type BusId = "source-events" | "asset-events";
/** What a function may do under a prefix of a store. */
export type Access = "read" | "list" | "write" | "delete";

export interface DeploymentPlan {
  readonly version: typeof PLAN_VERSION;
  readonly stack: string;
  readonly cloud: Cloud;
  readonly region: string;
  readonly environment: string;
  /** Logical names of the stack's resources start with it: `<namePrefix>-<environment>`. */
  readonly prefix: string;
  readonly pipelines: readonly string[];
  readonly alertEmail: string;
  /** Tags every resource of the stack carries; functions add their asset's. */
  readonly tags: Readonly<Record<string, string>>;
  readonly stores: readonly StorePlan[];
  readonly buses: readonly BusPlan[];
  /** One stream per CDC source, in plan order: what its change events arrive on (streams in docs). */
  readonly streams: readonly StreamPlan[];
  readonly functions: readonly FunctionPlan[];
  readonly triggers: readonly TriggerPlan[];
  readonly grants: readonly GrantPlan[];
  readonly alarms: readonly AlarmPlan[];
  /** The secrets the deployed functions declare: provisioned in the cloud's secret store, read by exactly them. */
  readonly secrets: readonly SecretPlan[];
  /** The embedding model(s) the stack's embedding assets call, and who calls each; absent: none. */
  readonly embedding?: EmbeddingPlan;
  /** The curated assets as open tables: the stack's catalog, its tables, their maintenance and query limits. */
  readonly tables: TablesPlan;
  /** Days function logs are kept: as long as quarantined records, whose reasons they explain. */
  readonly logRetentionDays: number;
  /** Present when the functions' bundle ships source maps, which the functions then use. */
  readonly sourceMaps?: true;
}

export interface StorePlan {
  readonly id: StoreId;
  /** Logical name, e.g. "trib-dev-raw". */
  readonly name: string;
  /** The first segments of the object keys that live in this store (see contract/storage-layout.ts). */
  readonly zones: readonly string[];
  /** Days an object is kept after it was written (raw, quarantine) or superseded (curated); absent: kept. */
  readonly retentionDays?: number;
  /** Days after which objects move to a colder, cheaper tier; absent: never. */
  readonly coldAfterDays?: number;
  /** Always the stack's customer-managed key. */
  readonly encryption: "customer-key";
  readonly versioning: true;
  /** Whether the store holds data that cannot be recomputed (raw events can't; curated can). */
  readonly holdsSourceData: boolean;
  /**
   * The data-loss guard: true unless every asset and source whose data the store holds (every function
   * granted write on it) is declared `disposable: true`; a store that holds nobody's data stays
   * protected. A protected store cannot be deleted or replaced by a stack change and is kept in the
   * cloud when removed from the stack; an unprotected one may be deleted with its contents.
   */
  readonly protect: boolean;
}

export interface BusPlan {
  readonly id: BusId;
  readonly name: string;
  /** Functions that publish to it (asset events); external producers publish source events. */
  readonly publishers: readonly string[];
  /** Functions that consume from it. */
  readonly consumers: readonly string[];
}

/**
 * The stream of one CDC source: a Kinesis data stream, a Pub/Sub topic or an event hub, written by
 * Debezium Server's sink of that cloud (the record key the partition or ordering key, the value the
 * change event as JSON text) and read by the source's function alone. Its name is the destination
 * Debezium Server derives for the captured table when its `topic.prefix` is the stack's prefix
 * (`<prefix>.<schema>.<table>`, or `<prefix>.<database>.<table>` for MySQL), so the sinks write to it
 * without a routing transform.
 */
export interface StreamPlan {
  /** The CDC source whose change events it carries; that source's function consumes it. */
  readonly source: string;
  /** The stream's (topic's, event hub's) name, e.g. "trib-dev.inventory.products". */
  readonly name: string;
  /** The `topic.prefix` Debezium Server must be given: the stack's prefix. */
  readonly topicPrefix: string;
  /** The captured table as the connector names it. */
  readonly table: string;
  readonly format: CdcFormat;
  readonly connector: CdcConnector;
  /**
   * Hours a record stays readable in the stream: long enough for a failed batch, reported to the
   * dead-letter destination by its position, to be read again from the stream.
   */
  readonly retentionHours: number;
}

export interface FunctionPlan {
  /**
   * The asset or source key the function materialises or ingests; the stack's outbox sweeper, which
   * announces the commits nobody announced, is OUTBOX_SWEEPER ("outbox-sweep").
   */
  readonly id: string;
  readonly kind: FunctionKind;
  readonly name: string;
  readonly pipeline: string;
  readonly description: string;
  readonly owners: readonly string[];
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly architecture: "arm64" | "x86_64";
  readonly runtime: "nodejs24";
  /** Environment variables; `{ store }` and `{ bus }` values are resolved to physical names by the adapter. */
  readonly environment: Readonly<Record<string, EnvValue>>;
  readonly tags: Readonly<Record<string, string>>;
  /** How many deliveries of one message before it goes to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** The secrets its asset declares, which it alone (with the others declaring them) may read. */
  readonly secrets?: readonly string[];
  /** An embedding asset's: the provider's model it calls, which it alone (with the others calling it) may. */
  readonly embeddingModel?: string;
}

/**
 * An environment variable's value: text, or a reference the adapter resolves: a store's URI, a bus's
 * name, the references of secrets (JSON, contract/function-env.ts `FUNCTION_ENV.secrets`), or the
 * stack's table catalog holding the namespace (JSON, contract/table-names.ts `CatalogRef`).
 */
export type EnvValue =
  | string
  | { readonly store: StoreId }
  | { readonly bus: BusId }
  | { readonly secrets: readonly string[] }
  | { readonly vectors: VectorsEnv }
  | { readonly catalog: string };

/**
 * An embedding function's vectors configuration (`FUNCTION_ENV.vectors`, runtime/vectors/config.ts): the
 * provider and its settings and the declared model's provider model. The adapter adds what only the
 * cloud knows: an Azure OpenAI account's endpoint.
 */
export interface VectorsEnv {
  readonly provider: {
    readonly kind: EmbeddingProvider;
    /** Bedrock's region. */
    readonly region?: string;
    /** Vertex AI's location (the project is the function's own). */
    readonly location?: string;
    /** Azure OpenAI's API version (the endpoint is the stack's account's). */
    readonly apiVersion?: string;
    readonly concurrency: number;
  };
  readonly models: Readonly<Record<string, string>>;
}

/** The stack's embedding provider and the models its functions call. */
export interface EmbeddingPlan {
  readonly provider: EmbeddingProvider;
  /** Where the models are called: Bedrock region, Vertex AI location, Azure OpenAI account location. */
  readonly region: string;
  /** Requests in flight to the model per function instance. */
  readonly concurrency: number;
  /** Azure OpenAI: each deployment's capacity, thousands of tokens a minute. */
  readonly capacity?: number;
  /** Each provider model called, with the dimensions asked of it and the functions that call it. */
  readonly models: readonly EmbeddingModelPlan[];
}

export interface EmbeddingModelPlan {
  /** The provider's model id (an Azure OpenAI deployment of the same name serves it). */
  readonly model: string;
  readonly dimensions: readonly number[];
  /** The embedding functions calling it, in plan order: the only principals granted the model. */
  readonly callers: readonly string[];
}

/** One secret of the stack: no value, ever; where its value comes from and who may read it. */
export interface SecretPlan {
  /** The secret's name in the graph. */
  readonly name: string;
  readonly use: "tokenisation" | "value";
  readonly description: string;
  /**
   * Where its value comes from: the stack's secret config (`tributary:secrets.<name>`), or generated
   * on the first deploy and kept in the stack's state (a tokenisation key only).
   */
  readonly value: "config" | "generated";
  /** The functions that may read it: exactly those whose asset or source declares it, in plan order. */
  readonly readers: readonly string[];
}

/**
 * The stack's curated tables: every deployed asset's curated data is an Iceberg table in the curated store
 * (contract/table-names.ts), registered in the cloud's catalog when it has one (a Glue database, a BigQuery
 * dataset: the tables' namespace) and queryable by its serverless SQL, with a read-only query identity that
 * reads exactly these tables. Empty when the stack deploys no asset (only sources).
 */
export interface TablesPlan {
  /** Where the cloud keeps the tables' pointers: Glue on AWS, BigQuery (BigLake metastore) on GCP, none on Azure. */
  readonly catalog: "glue" | "bigquery" | "none";
  /** The catalog namespace of the stack's tables, e.g. "trib_dev". */
  readonly namespace: string;
  readonly tables: readonly TablePlan[];
  /** The function that compacts and expires every table on a schedule (TABLE_MAINTENANCE); absent with no tables. */
  readonly maintenance?: string;
  /** What one serverless SQL query may scan (Athena's per-query cutoff), in bytes. */
  readonly scanLimitBytes: number;
  /** Days query results are kept before they expire. */
  readonly queryResultsDays: number;
}

export interface TablePlan {
  /** The asset whose curated data the table is. */
  readonly asset: string;
  /** Its name in the namespace. */
  readonly name: string;
  /** Its object-key prefix in the curated store, e.g. "curated/orders/". */
  readonly prefix: string;
  /** The functions that commit it, and so move its catalog pointer: its asset's and the maintenance's. */
  readonly writers: readonly string[];
}

/** What starts a function. */
export type TriggerPlan =
  | {
      readonly function: string;
      readonly kind: "schedule";
      /** Five-field cron as the graph declares it. */
      readonly cron: string;
      readonly timezone: string;
      readonly retry: RetryPlan;
    }
  | {
      readonly function: string;
      readonly kind: "asset-materialised";
      readonly bus: "asset-events";
      /** The upstream keys whose materialisation starts it (every dependency of the asset). */
      readonly upstream: readonly string[];
      readonly retry: RetryPlan;
    }
  | {
      readonly function: string;
      readonly kind: "source-event";
      readonly bus: "source-events";
      readonly source: string;
      readonly retry: RetryPlan;
    }
  | {
      readonly function: string;
      /** A CDC source's function reads its stream (StreamPlan) in batches, ordered per record key. */
      readonly kind: "stream";
      /** The stream's name (StreamPlan.name). */
      readonly stream: string;
      /** The captured table, for words. */
      readonly table: string;
      readonly retry: RetryPlan;
    };

export interface RetryPlan {
  readonly attempts: number;
  readonly maxEventAgeSeconds: number;
}

/**
 * One right of one function on one store prefix. Grants come from graph edges only: an asset's
 * function reads its upstream's prefixes and writes its own; nothing else.
 */
export interface GrantPlan {
  readonly function: string;
  readonly store: StoreId;
  /** An object-key prefix ending in "/", e.g. "curated/orders/". */
  readonly prefix: string;
  readonly access: readonly Access[];
  /**
   * Why: "own" output, the "upstream:<key>" it reads, the "check:<name>" that reads it, "quarantine",
   * "outbox" (the sweeper's) or "tables" (the table maintenance's).
   */
  readonly reason: string;
}

export interface AlarmPlan {
  readonly id: string;
  readonly function: string;
  readonly kind: "dead-letters" | "errors" | "freshness" | "outbox-age";
  /**
   * For freshness: the asset must have materialised within this many minutes. For outbox-age (the
   * sweeper's): no commit may wait longer than this to be announced.
   */
  readonly minutes?: number;
  readonly description: string;
}

/** What the plan says of one function: every cloud's function component takes these. */
export interface FunctionParts {
  readonly fn: FunctionPlan;
  /** What starts it; absent: only invoked by hand. */
  readonly trigger?: TriggerPlan;
  /** The stream it reads, when it is a CDC source's function. */
  readonly stream?: StreamPlan;
  /** Its grants (graph edges only). */
  readonly grants: readonly GrantPlan[];
  readonly alarms: readonly AlarmPlan[];
}

/**
 * The tag (a label `tributary-disposable` on GCP, blob metadata `tributary_disposable` on an Azure
 * container) with the value "true" that marks an unprotected store, or a shared resource of a stack whose
 * stores are all unprotected: the policy pack lets such a resource go unprotected.
 */
export const DISPOSABLE_TAG = "tributary:disposable";
/** {@link DISPOSABLE_TAG} as the metadata of an Azure blob container (which takes no tags). */
export const DISPOSABLE_METADATA = "tributary_disposable";

/**
 * Whether the resources every store depends on are protected too: the customer-managed key (without it
 * no store's data can be read) and the stores that serve the data stores (access logs, deploy artifacts,
 * the Functions host). They are while any store is; a stack whose stores are all disposable may be
 * destroyed whole.
 */
export function protectsShared(plan: DeploymentPlan): boolean {
  return plan.stores.some((s) => s.protect);
}

/** One function's slice of the plan. */
export function functionParts(plan: DeploymentPlan, fn: FunctionPlan): FunctionParts {
  const stream = plan.streams.find((s) => s.source === fn.id);
  return {
    fn,
    trigger: plan.triggers.find((t) => t.function === fn.id),
    ...(stream ? { stream } : {}),
    grants: plan.grants.filter((g) => g.function === fn.id),
    alarms: plan.alarms.filter((a) => a.function === fn.id),
  };
}

/** What starts a function, or what would: a trigger's parts that its words need. */
export type TriggerWords =
  | Pick<Extract<TriggerPlan, { kind: "schedule" }>, "kind" | "cron" | "timezone">
  | Pick<Extract<TriggerPlan, { kind: "asset-materialised" }>, "kind" | "upstream">
  | Pick<Extract<TriggerPlan, { kind: "source-event" }>, "kind" | "source">
  | Pick<Extract<TriggerPlan, { kind: "stream" }>, "kind" | "table">;

/** A trigger in words, as `tributary plan` and the asset-graph page say it. */
export function describeTrigger(t: TriggerWords): string {
  switch (t.kind) {
    case "schedule":
      return `cron ${t.cron} (${t.timezone})`;
    case "asset-materialised":
      return `after ${t.upstream.join(", ")}`;
    case "source-event":
      return `events of ${t.source}`;
    case "stream":
      return `changes of ${t.table}`;
  }
}
