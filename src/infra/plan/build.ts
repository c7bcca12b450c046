/**
 * Graph + stack config → DeploymentPlan. Pure: no Pulumi, no cloud, no clock; the same inputs give
 * byte-identical JSON.
 */
import * as crypto from "node:crypto";
import { AZURE_OPENAI_API_VERSION, modelProblem } from "../../contract/embedding.ts";
import {
  FUNCTION_ENV,
  functionKind,
  functionVariables,
  OUTBOX_SWEEPER,
  TABLE_MAINTENANCE,
} from "../../contract/function-env.ts";
import { layout, STORE_ZONES } from "../../contract/storage-layout.ts";
import { tableName, tableNamespace, tablePrefix } from "../../contract/table-names.ts";
import type { AnyAsset } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { didYouMean } from "../../kit/suggest.ts";
import { type Cloud, OUTBOX_DEFAULTS, type StackConfig, stackFileOf, TABLES_DEFAULTS } from "../config.ts";
import {
  type Access,
  type AlarmPlan,
  type BusPlan,
  type DeploymentPlan,
  type EmbeddingModelPlan,
  type EmbeddingPlan,
  type EnvValue,
  type FunctionPlan,
  type GrantPlan,
  PLAN_VERSION,
  type SecretPlan,
  type StoreId,
  type StorePlan,
  type StreamPlan,
  type TablesPlan,
  type TriggerPlan,
  type VectorsEnv,
} from "./types.ts";

/** A graph that cannot be deployed with this stack's config. */
export class PlanError extends TributaryError {
  override name = "PlanError";
}

/** Messages a consumer's queue may deliver before it is dead-lettered. */
export const MAX_RECEIVE_COUNT = 5;
/** Retries of a schedule or bus delivery before the event is dead-lettered. */
export const RETRY = { attempts: 3, maxEventAgeSeconds: 3600 } as const;
/**
 * Retries of a batch of a stream before it goes to the dead-letter destination, and the oldest record a
 * stream's function still reads: the stream's retention ({@link STREAM_RETENTION_HOURS}).
 */
export const STREAM_RETRY = { attempts: 5, maxEventAgeSeconds: 7 * 24 * 3600 } as const;
/**
 * Hours a CDC stream keeps its records: a week, the longest an Azure Event Hubs Standard hub keeps them
 * and Kinesis's extended retention, so that a batch reported to the dead-letter destination can be read
 * again while it is there.
 */
export const STREAM_RETENTION_HOURS = 7 * 24;
/**
 * The most event hubs one Event Hubs Premium namespace of one processing unit holds: an Azure stack has
 * one namespace for its streams.
 */
export const MAX_AZURE_STREAMS = 100;
/** A stream name every cloud takes: Kinesis (128, `[A-Za-z0-9_.-]`), Pub/Sub (a letter first), Event Hubs (a letter or digit last). */
const STREAM_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,126}[A-Za-z0-9]$/;
/** Longest logical function name: the clouds' limits (64 for AWS Lambda and IAM) less autonaming suffixes. */
const MAX_FUNCTION_NAME = 40;

/** Tag keys every resource carries. */
export const TAGS = {
  asset: "tributary:asset",
  pipeline: "tributary:pipeline",
  env: "tributary:env",
  owner: "owner",
  costCentre: "cost-centre",
} as const;
/** The `tributary:asset` value of resources that serve the whole stack. */
export const SHARED = "_shared";

export function planDeployment(graph: AssetGraph, config: StackConfig): DeploymentPlan {
  const prefix = `${config.namePrefix}-${config.environment}`;
  const deployed = selectPipelines(graph, config);
  const stackTags: Record<string, string> = {
    [TAGS.asset]: SHARED,
    [TAGS.pipeline]: config.pipelines.join("+"),
    [TAGS.env]: config.environment,
    [TAGS.owner]: config.owner,
    [TAGS.costCentre]: config.costCentre,
  };

  const functions: FunctionPlan[] = [];
  const triggers: TriggerPlan[] = [];
  const grants: GrantPlan[] = [];
  const alarms: AlarmPlan[] = [];
  const names = new Map<string, string>();
  const embedding = embeddingOf(deployed, config);
  const catalog = TABLE_CATALOGS[config.cloud];
  const namespace = tableNamespace(prefix);
  // Functions that commit tables tell the stack's catalog, on a cloud that has one.
  const catalogVariable = catalog === "none" ? undefined : { catalog: namespace };
  for (const a of deployed) {
    const fn = functionPlan(a, config, prefix, stackTags, catalogVariable, embedding);
    const clash = names.get(fn.name);
    if (clash)
      throw new PlanError(`"${a.key}" and "${clash}" shorten to the same function name "${fn.name}".`);
    names.set(fn.name, a.key);
    functions.push(fn);
    const trigger = triggerOf(a, prefix);
    if (trigger) triggers.push(trigger);
    grants.push(...grantsOf(graph, a));
    alarms.push(...alarmsOf(a, trigger !== undefined));
  }
  if (functions.length > 0) {
    const sweeper = sweeperPlan(config, prefix, stackTags);
    const clash = names.get(sweeper.fn.name);
    if (clash) {
      throw new PlanError(
        `"${clash}" shortens to "${sweeper.fn.name}", the name of the stack's outbox sweeper; rename the asset.`,
      );
    }
    functions.push(sweeper.fn);
    triggers.push(sweeper.trigger);
    grants.push(...sweeper.grants);
    alarms.push(...sweeper.alarms);
  }
  const curated = deployed.filter((a) => a.kind === "asset");
  let maintenance: string | undefined;
  if (curated.length > 0) {
    const m = maintenancePlan(config, prefix, stackTags, catalogVariable);
    const clash = names.get(m.fn.name);
    if (clash) {
      throw new PlanError(
        `"${clash}" shortens to "${m.fn.name}", the name of the stack's table maintenance; rename the asset.`,
      );
    }
    functions.push(m.fn);
    triggers.push(m.trigger);
    grants.push(...m.grants);
    alarms.push(...m.alarms);
    maintenance = m.fn.id;
  }
  const tables: TablesPlan = {
    catalog,
    namespace,
    tables: curated.map((a) => ({
      asset: a.key,
      name: tableName(a.key),
      prefix: tablePrefix(a.key),
      writers: maintenance ? [a.key, maintenance] : [a.key],
    })),
    ...(maintenance ? { maintenance } : {}),
    scanLimitBytes: (config.tables?.scanLimitGb ?? TABLES_DEFAULTS.scanLimitGb) * 1_000_000_000,
    queryResultsDays: config.tables?.queryResultsDays ?? TABLES_DEFAULTS.queryResultsDays,
  };

  // The data-loss guard: a store's data is that of the functions granted write on it, but for the table
  // maintenance, which rewrites the assets' data and holds none of its own.
  const disposable = new Set(deployed.filter((a) => a.disposable === true).map((a) => a.key));
  const protects = (store: StoreId): boolean => {
    const holders = grants.filter(
      (g) => g.store === store && g.access.includes("write") && g.function !== TABLE_MAINTENANCE,
    );
    return holders.length === 0 || holders.some((g) => !disposable.has(g.function));
  };
  const stores = (
    [
      {
        id: "raw",
        name: `${prefix}-raw`,
        zones: STORE_ZONES.raw,
        retentionDays: config.retentionDays.raw,
        coldAfterDays: config.coldAfterDays < config.retentionDays.raw ? config.coldAfterDays : undefined,
        encryption: "customer-key",
        versioning: true,
        holdsSourceData: true,
        protect: protects("raw"),
      },
      {
        id: "curated",
        name: `${prefix}-curated`,
        zones: STORE_ZONES.curated,
        retentionDays: config.retentionDays.curated,
        encryption: "customer-key",
        versioning: true,
        holdsSourceData: false,
        protect: protects("curated"),
      },
      {
        id: "quarantine",
        name: `${prefix}-quarantine`,
        zones: STORE_ZONES.quarantine,
        retentionDays: config.retentionDays.quarantine,
        encryption: "customer-key",
        versioning: true,
        holdsSourceData: true,
        protect: protects("quarantine"),
      },
    ] satisfies StorePlan[]
  ).map(dropUndefined);

  const consumers = (bus: string) =>
    triggers.filter((t) => "bus" in t && t.bus === bus).map((t) => t.function);
  const buses: BusPlan[] = [
    {
      id: "source-events",
      name: `${prefix}-source-events`,
      publishers: [],
      consumers: consumers("source-events"),
    },
    {
      id: "asset-events",
      name: `${prefix}-asset-events`,
      publishers: functions.map((f) => f.id),
      consumers: consumers("asset-events"),
    },
  ];

  const secrets = secretsOf(graph, deployed, config);
  const streams = streamsOf(deployed, config, prefix);

  return {
    version: PLAN_VERSION,
    stack: config.stack,
    cloud: config.cloud,
    region: config.region,
    environment: config.environment,
    prefix,
    pipelines: config.pipelines,
    alertEmail: config.alertEmail,
    tags: stackTags,
    stores,
    buses,
    streams,
    functions,
    triggers,
    grants,
    alarms,
    secrets,
    ...(embedding ? { embedding: embedding.plan } : {}),
    tables,
    logRetentionDays: config.retentionDays.quarantine,
    ...(config.functions.sourceMaps ? { sourceMaps: true as const } : {}),
  };
}

/**
 * The secrets the deployed functions declare, by name: each read by exactly its declaring functions,
 * valued from the stack's secret config, or generated on first deploy when it is a tokenisation key.
 * A value secret without config, and config naming no deployed secret, are mistakes to name.
 */
function secretsOf(graph: AssetGraph, deployed: readonly AnyAsset[], config: StackConfig): SecretPlan[] {
  const configured = config.secrets ?? [];
  const out: SecretPlan[] = [];
  for (const s of graph.secrets()) {
    const readers = deployed.filter((a) => a.secrets?.includes(s.name)).map((a) => a.key);
    if (readers.length === 0) continue;
    const given = configured.includes(s.name);
    if (!given && s.use !== "tokenisation") {
      throw new PlanError(
        `secret "${s.name}" (needed by ${readers.join(", ")}) has no value for stack "${config.stack}": set it with ` +
          `\`pulumi config set --secret --path 'tributary:secrets.${s.name}' <value>\` (stored encrypted in ${stackFileOf(config)}).`,
      );
    }
    out.push({
      name: s.name,
      use: s.use,
      description: s.description ?? `Tributary secret ${s.name}`,
      value: given ? "config" : "generated",
      readers,
    });
  }
  const names = out.map((s) => s.name);
  for (const name of configured) {
    if (!names.includes(name)) {
      throw new PlanError(
        `${stackFileOf(config)}: tributary:secrets.${name} is no secret of the functions stack "${config.stack}" deploys.${didYouMean(name, names) || ` Their secrets: ${names.join(", ") || "none"}.`} Remove it with \`pulumi config rm --path 'tributary:secrets.${name}'\`.`,
      );
    }
  }
  return out;
}

/** A CDC source's stream name: Debezium Server's destination for the table under the stack's `topic.prefix`. */
export function streamName(prefix: string, table: string): string {
  return `${prefix}.${table}`;
}

/**
 * One stream per deployed CDC source, named as Debezium Server names the table's destination. Two
 * sources of one table, a name a cloud refuses, or more streams than an Azure stack's namespace holds
 * are mistakes to name.
 */
function streamsOf(deployed: readonly AnyAsset[], config: StackConfig, prefix: string): StreamPlan[] {
  const out: StreamPlan[] = [];
  for (const a of deployed) {
    if (a.kind !== "source" || !a.cdc) continue;
    const name = streamName(prefix, a.cdc.table);
    if (!STREAM_NAME.test(name)) {
      throw new PlanError(
        `CDC source "${a.key}" captures the table ${JSON.stringify(a.cdc.table)}, whose stream would be named ${JSON.stringify(name)}: a stream name is 2 to 128 letters, digits, ".", "_" and "-", ending in a letter or digit (Kinesis, Pub/Sub and Event Hubs all take it). Capture the table under a name of that kind.`,
      );
    }
    const twin = out.find((s) => s.name === name);
    if (twin) {
      throw new PlanError(
        `CDC sources "${twin.source}" and "${a.key}" both capture ${a.cdc.table}: one stream per table, read by one source; declare one source for it.`,
      );
    }
    out.push({
      source: a.key,
      name,
      topicPrefix: prefix,
      table: a.cdc.table,
      format: a.cdc.format,
      connector: a.cdc.connector,
      retentionHours: STREAM_RETENTION_HOURS,
    });
  }
  if (config.cloud === "azure" && out.length > MAX_AZURE_STREAMS) {
    throw new PlanError(
      `stack "${config.stack}" deploys ${out.length} CDC sources; its Event Hubs namespace (Premium, one processing unit) holds at most ${MAX_AZURE_STREAMS} event hubs. Split the pipelines over two stacks.`,
    );
  }
  return out;
}

/** The assets of the stack's pipelines, in topological order; an edge into an undeployed pipeline is an error. */
function selectPipelines(graph: AssetGraph, config: StackConfig): AnyAsset[] {
  const groups = new Set(graph.assets().map((a) => a.group));
  const missing = config.pipelines.filter((p) => !groups.has(p));
  if (missing.length > 0) {
    throw new PlanError(
      `${stackFileOf(config)}: tributary:pipelines names ${missing.map((m) => `"${m}"`).join(", ")}, ` +
        `which the graph does not have.${didYouMean(missing[0]!, groups)} Pipelines in the graph: ${[...groups].sort().join(", ")}.`,
    );
  }
  const wanted = new Set(config.pipelines);
  const deployed = graph.assets().filter((a) => wanted.has(a.group));
  for (const a of deployed) {
    for (const e of graph.inputs(a.key)) {
      const up = graph.get(e.from);
      if (!wanted.has(up.group)) {
        throw new PlanError(
          `"${a.key}" (pipeline "${a.group}") reads "${up.key}" of pipeline "${up.group}", which stack ` +
            `"${config.stack}" does not deploy: add "${up.group}" to tributary:pipelines in ${stackFileOf(config)}.`,
        );
      }
    }
  }
  return deployed;
}

/** A logical name for an asset's resources: `<prefix>-<key>`, shortened with a hash when too long. */
export function functionName(prefix: string, key: string): string {
  const name = `${prefix}-${key.replaceAll("_", "-")}`;
  if (name.length <= MAX_FUNCTION_NAME) return name;
  const hash = crypto.createHash("sha256").update(key).digest("hex").slice(0, 6);
  return `${name.slice(0, MAX_FUNCTION_NAME - 7).replace(/-+$/, "")}-${hash}`;
}

function functionPlan(
  a: AnyAsset,
  config: StackConfig,
  prefix: string,
  stackTags: Record<string, string>,
  catalog: EnvValue | undefined,
  embedding?: Embeddings,
): FunctionPlan {
  const kind = functionKind(a);
  const resources = a.kind === "asset" ? a.resources : {};
  const environment: Record<string, EnvValue> = functionVariables<EnvValue>({
    asset: a.key,
    kind,
    environment: config.environment,
    stores: STORE_VARIABLES,
    assetEvents: { bus: "asset-events" },
    ...(a.secrets ? { secrets: { secrets: a.secrets } } : {}),
    ...(kind === "asset" && catalog ? { catalog } : {}),
    timeoutSeconds: resources.timeoutSeconds ?? config.functions.timeoutSeconds,
    cpus: functionCpus(config.cloud, resources.memoryMb ?? config.functions.memoryMb),
  });
  const model = embedding?.byAsset.get(a.key);
  if (model) environment[FUNCTION_ENV.vectors] = { vectors: embedding!.env(model) };
  // Stack traces through the bundle's source maps, when it ships them.
  if (config.functions.sourceMaps) environment.NODE_OPTIONS = SOURCE_MAPS_NODE_OPTIONS;
  return {
    id: a.key,
    kind,
    name: functionName(prefix, a.key),
    pipeline: a.group,
    description:
      a.description ??
      (kind === "ingest" ? `Ingests source events of ${a.key}` : `Materialises the asset ${a.key}`),
    owners: a.owners,
    memoryMb: resources.memoryMb ?? config.functions.memoryMb,
    timeoutSeconds: resources.timeoutSeconds ?? config.functions.timeoutSeconds,
    architecture: config.functions.architecture,
    runtime: "nodejs24",
    environment,
    tags: { ...stackTags, [TAGS.asset]: a.key, [TAGS.pipeline]: a.group },
    maxReceiveCount: MAX_RECEIVE_COUNT,
    ...(a.secrets ? { secrets: a.secrets } : {}),
    ...(model ? { embeddingModel: model.model } : {}),
  };
}

/** The model an embedding asset declares (kit/embedding.ts). */
function declaredModel(a: AnyAsset): { readonly name: string; readonly dimension: number } | undefined {
  return a.kind === "asset" ? a.embedding?.model : undefined;
}

interface Embeddings {
  readonly plan: EmbeddingPlan;
  /** Each embedding asset's declared model and the provider's model serving it. */
  readonly byAsset: ReadonlyMap<string, { declared: string; model: string }>;
  /** An embedding function's vectors configuration. */
  env(m: { declared: string; model: string }): VectorsEnv;
}

/**
 * The stack's embedding provider and the models its embedding assets call: each declared model mapped by
 * `tributary:embedding.models` (or taken as the provider's model id), checked against the model's
 * documented dimensions. An embedding asset on a stack that chose no provider is a mistake to name.
 */
function embeddingOf(deployed: readonly AnyAsset[], config: StackConfig): Embeddings | undefined {
  const assets = deployed.flatMap((a) => {
    const declared = declaredModel(a);
    return declared ? [{ key: a.key, declared }] : [];
  });
  if (assets.length === 0) return undefined;
  const choice = config.embedding;
  const file = stackFileOf(config);
  if (!choice) {
    throw new PlanError(
      `"${assets[0]!.key}" embeds with the model "${assets[0]!.declared.name}", but stack "${config.stack}" chooses no embedding provider: set tributary:embedding in ${file} (e.g. { provider: ${{ aws: "bedrock", gcp: "vertex", azure: "azure-openai" }[config.cloud]}, models: { ${assets[0]!.declared.name}: <the provider's model> } }).`,
    );
  }
  const byAsset = new Map<string, { declared: string; model: string }>();
  const models = new Map<string, { dimensions: Set<number>; callers: string[] }>();
  for (const { key, declared } of assets) {
    const model = choice.models[declared.name] ?? declared.name;
    const problem = modelProblem(choice.provider, model, declared.dimension);
    if (problem) {
      const mapped =
        model === declared.name ? "" : ` (tributary:embedding.models maps "${declared.name}" to it)`;
      throw new PlanError(
        `"${key}" embeds with "${declared.name}" at dimension ${declared.dimension}${mapped}, but in ${file}: ${problem}.`,
      );
    }
    byAsset.set(key, { declared: declared.name, model });
    const m = models.get(model) ?? { dimensions: new Set<number>(), callers: [] };
    m.dimensions.add(declared.dimension);
    m.callers.push(key);
    models.set(model, m);
  }
  const plan: EmbeddingPlan = {
    provider: choice.provider,
    region: choice.region,
    concurrency: choice.concurrency,
    ...(choice.capacity === undefined ? {} : { capacity: choice.capacity }),
    models: [...models].map(
      ([model, m]): EmbeddingModelPlan => ({
        model,
        dimensions: [...m.dimensions].sort((x, y) => x - y),
        callers: m.callers,
      }),
    ),
  };
  const where =
    choice.provider === "bedrock"
      ? { region: choice.region }
      : choice.provider === "vertex"
        ? { location: choice.region }
        : { apiVersion: AZURE_OPENAI_API_VERSION };
  return {
    plan,
    byAsset,
    env: (m) => ({
      provider: { kind: choice.provider, ...where, concurrency: choice.concurrency },
      models: { [m.declared]: m.model },
    }),
  };
}

/**
 * The whole vCPUs a function's memory size buys on its cloud, which is what parallel work can use
 * (ingest validates on worker threads from two): Lambda gives one vCPU-second per second per 1,769 MB
 * (it shows two cores from 128 MB, but a 512 MB function has under a third of one); Cloud Functions
 * gen2 1 vCPU at 2 GiB, 2 at 4 and 8 GiB, 4 at 16 GiB, 8 at 32 GiB; Flex Consumption a quarter of one
 * on its 512 MB instances, 1 on 2,048 MB, 2 on 4,096 MB. Under one counts as 0.
 */
export function functionCpus(cloud: Cloud, memoryMb: number): number {
  if (cloud === "aws") return Math.min(6, Math.floor(memoryMb / 1769));
  // Flex Consumption runs the next instance size up from what a function asks for (512, 2048, 4096 MB).
  if (cloud === "azure") return memoryMb > 2048 ? 2 : memoryMb > 512 ? 1 : 0;
  const tiers = [
    [32768, 8],
    [16384, 4],
    [4096, 2],
    [2048, 1],
  ] as const;
  return tiers.find(([mb]) => memoryMb >= mb)?.[1] ?? 0;
}

/** What a function's Node.js is started with when its bundle ships source maps. */
export const SOURCE_MAPS_NODE_OPTIONS = "--enable-source-maps";

const STORE_VARIABLES = {
  raw: { store: "raw" },
  curated: { store: "curated" },
  quarantine: { store: "quarantine" },
} as const;

/** The sweeper needs no engine memory (it reads small JSON objects and publishes). */
export const SWEEPER_RESOURCES = { memoryMb: 256, timeoutSeconds: 120 } as const;

/** Every `minutes` minutes, on the minute, as five-field cron. */
export function sweepCron(minutes: number): string {
  if (minutes === 1) return "* * * * *";
  if (minutes === 60) return "0 * * * *";
  return `*/${minutes} * * * *`;
}

/**
 * The stack's outbox sweeper (runtime/handlers/outbox.ts): one function, on a schedule, that announces
 * the commits whose announcements nobody made (a publish that failed after the platform's last retry, a
 * function that crashed between commit and publish), discards entries whose commit never happened, and
 * reports how old the oldest unannounced commit is, which its `outbox-age` alarm watches. Its rights:
 * read, list and delete outbox entries, read the manifests they name (to see that the commit exists),
 * and publish on asset-events; no data, no writes.
 */
function sweeperPlan(
  config: StackConfig,
  prefix: string,
  stackTags: Record<string, string>,
): { fn: FunctionPlan; trigger: TriggerPlan; grants: GrantPlan[]; alarms: AlarmPlan[] } {
  const id = OUTBOX_SWEEPER;
  const outbox = config.outbox ?? OUTBOX_DEFAULTS;
  const fn: FunctionPlan = {
    id,
    kind: "sweep",
    name: functionName(prefix, id),
    pipeline: config.pipelines.join("+"),
    description: "Announces the commits whose announcements were lost: the stack's outbox sweep",
    owners: [],
    memoryMb: SWEEPER_RESOURCES.memoryMb,
    timeoutSeconds: SWEEPER_RESOURCES.timeoutSeconds,
    architecture: config.functions.architecture,
    runtime: "nodejs24",
    environment: functionVariables<EnvValue>({
      asset: id,
      kind: "sweep",
      environment: config.environment,
      stores: STORE_VARIABLES,
      assetEvents: { bus: "asset-events" },
      timeoutSeconds: SWEEPER_RESOURCES.timeoutSeconds,
      cpus: functionCpus(config.cloud, SWEEPER_RESOURCES.memoryMb),
    }),
    tags: { ...stackTags, [TAGS.asset]: id },
    maxReceiveCount: MAX_RECEIVE_COUNT,
  };
  if (config.functions.sourceMaps) {
    (fn.environment as Record<string, EnvValue>).NODE_OPTIONS = SOURCE_MAPS_NODE_OPTIONS;
  }
  const grant = (prefix: string, access: Access[]): GrantPlan => ({
    function: id,
    store: "curated",
    prefix,
    access,
    reason: "outbox",
  });
  return {
    fn,
    trigger: {
      function: id,
      kind: "schedule",
      cron: sweepCron(outbox.sweepEveryMinutes),
      timezone: "UTC",
      retry: RETRY,
    },
    grants: [grant("_outbox/", ["read", "list", "delete"]), grant("_manifests/", ["read"])],
    alarms: [
      ...alarmsOf({ key: id }, true),
      {
        id: `${id}-age`,
        function: id,
        kind: "outbox-age",
        minutes: outbox.alarmAfterMinutes,
        description: `A commit has waited more than ${outbox.alarmAfterMinutes} minutes to be announced: the assets downstream of it wait too. Look at the sweeper's logs (tributary.outbox.swept) and the asset-events bus; tributary status lists what is unannounced.`,
      },
    ],
  };
}

/** Each cloud's table catalog (contract/table-names.ts `CatalogRef`): Azure has none to deploy. */
export const TABLE_CATALOGS: Record<Cloud, TablesPlan["catalog"]> = {
  aws: "glue",
  gcp: "bigquery",
  azure: "none",
};

/** Maintenance rewrites whole partitions: it gets the longest timeout a stack allows. */
export const MAINTENANCE_RESOURCES = { timeoutSeconds: 900 } as const;

/**
 * The stack's table maintenance: one function, on a schedule (nightly by default), that compacts the
 * small files of every curated table's partitions once they pass the engine's threshold and expires old
 * snapshots (runtime/handlers/maintain.ts runs the engine's step). Its rights cover every table: the whole
 * curated zone (data and metadata files), the partitions' locks (so it takes turns with the assets' own
 * functions), and Tributary's records (which name each partition's files); and every table's catalog entry
 * (TablePlan.writers). Whole-zone prefixes keep its policy one size whatever the graph's.
 */
function maintenancePlan(
  config: StackConfig,
  prefix: string,
  stackTags: Record<string, string>,
  catalog: EnvValue | undefined,
): { fn: FunctionPlan; trigger: TriggerPlan; grants: GrantPlan[]; alarms: AlarmPlan[] } {
  const id = TABLE_MAINTENANCE;
  const { memoryMb } = config.functions;
  const { timeoutSeconds } = MAINTENANCE_RESOURCES;
  const fn: FunctionPlan = {
    id,
    kind: "maintain",
    name: functionName(prefix, id),
    pipeline: config.pipelines.join("+"),
    description:
      "Compacts the curated tables' small files and expires their old snapshots: the stack's table maintenance",
    owners: [],
    memoryMb,
    timeoutSeconds,
    architecture: config.functions.architecture,
    runtime: "nodejs24",
    environment: functionVariables<EnvValue>({
      asset: id,
      kind: "maintain",
      environment: config.environment,
      stores: STORE_VARIABLES,
      assetEvents: { bus: "asset-events" },
      ...(catalog ? { catalog } : {}),
      timeoutSeconds,
      cpus: functionCpus(config.cloud, memoryMb),
    }),
    tags: { ...stackTags, [TAGS.asset]: id },
    maxReceiveCount: MAX_RECEIVE_COUNT,
  };
  if (config.functions.sourceMaps) {
    (fn.environment as Record<string, EnvValue>).NODE_OPTIONS = SOURCE_MAPS_NODE_OPTIONS;
  }
  const grant = (prefix: string, access: Access[]): GrantPlan => ({
    function: id,
    store: "curated",
    prefix,
    access,
    reason: "tables",
  });
  return {
    fn,
    trigger: {
      function: id,
      kind: "schedule",
      cron: config.tables?.maintenanceCron ?? TABLES_DEFAULTS.maintenanceCron,
      timezone: "UTC",
      retry: RETRY,
    },
    grants: [
      grant("curated/", ["read", "list", "write", "delete"]),
      grant("_manifests/", ["read", "list", "write"]),
      grant("_locks/", ["read", "list", "write", "delete"]),
    ],
    alarms: alarmsOf({ key: id }, true),
  };
}

/**
 * What starts an asset's function: its cron schedule; else, when it is event-triggered, the
 * materialisation of any upstream asset or source; a source's ingester starts on its source events, a
 * CDC source's on its stream. An asset with neither runs only when invoked.
 */
function triggerOf(a: AnyAsset, prefix: string): TriggerPlan | undefined {
  if (a.kind === "source" && a.cdc) {
    return {
      function: a.key,
      kind: "stream",
      stream: streamName(prefix, a.cdc.table),
      table: a.cdc.table,
      retry: STREAM_RETRY,
    };
  }
  if (a.kind === "source") {
    return { function: a.key, kind: "source-event", bus: "source-events", source: a.key, retry: RETRY };
  }
  if (a.schedule) {
    return {
      function: a.key,
      kind: "schedule",
      cron: a.schedule.cron,
      timezone: a.schedule.timezone,
      retry: RETRY,
    };
  }
  if (a.trigger?.on === "upstream") {
    const upstream = [...new Set(a.deps.map((d) => d.key))].sort();
    return { function: a.key, kind: "asset-materialised", bus: "asset-events", upstream, retry: RETRY };
  }
  return undefined;
}

/**
 * The rights of one function, from the graph's edges and the assets its references checks name
 * (prefixes as contract/storage-layout.ts lays them out). An asset reads each upstream's (and each
 * referenced asset's) data and manifests and writes its own data, manifests,
 * failures and locks, and its quarantine prefix. An ingester appends its source's raw events and its
 * quarantine (write, never delete: expiry is the stores' lifecycle rule, and a failed attempt's leftovers
 * are named by no manifest; see contract/storage-layout.ts), and writes its batch manifests, its id index
 * and attempt claims, and its lock.
 */
export function grantsOf(graph: AssetGraph, a: AnyAsset): GrantPlan[] {
  const k = a.key;
  const grant = (store: StoreId, prefix: string, access: Access[], reason: string): GrantPlan => ({
    function: k,
    store,
    prefix,
    access,
    reason,
  });
  if (a.kind === "source") {
    return [
      grant("raw", `raw/${k}/`, ["write"], "own"),
      grant("curated", `_manifests/${k}/`, ["read", "list", "write"], "own"),
      grant("curated", `_index/${k}/`, ["read", "write", "delete"], "own"),
      grant("curated", `_locks/${k}/`, ["read", "list", "write", "delete"], "own"),
      grant("curated", `_outbox/${k}/`, ["read", "list", "write", "delete"], "own"),
      grant("quarantine", `quarantine/${k}/`, ["write"], "quarantine"),
    ];
  }
  const out: GrantPlan[] = [];
  // What the asset reads: its upstreams, and the targets of its references checks (a foreign key is
  // checked against the committed data of the asset it names, which need not be an upstream).
  const reads = new Map<string, string>();
  for (const e of graph.inputs(k)) reads.set(e.from, `upstream:${e.from}`);
  for (const c of a.checks)
    if (c.kind === "references" && !reads.has(c.asset)) reads.set(c.asset, `check:${c.name}`);
  for (const [up, reason] of [...reads].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    // A source's events are raw files; an asset's data is curated Parquet. Both commit by manifest.
    const data =
      graph.get(up).kind === "source"
        ? grant("raw", `raw/${up}/`, ["read"], reason)
        : grant("curated", `curated/${up}/`, ["read"], reason);
    out.push(data, grant("curated", `_manifests/${up}/`, ["read", "list"], reason));
  }
  // An embedding asset's vector tables (one LanceDB database a tenant): its own, read and rewritten.
  if (declaredModel(a))
    out.push(grant("curated", layout.vectorsPrefix(k), ["read", "list", "write", "delete"], "own"));
  out.push(
    grant("curated", `curated/${k}/`, ["read", "list", "write", "delete"], "own"),
    grant("curated", `_manifests/${k}/`, ["read", "list", "write"], "own"),
    grant("curated", `_failures/${k}/`, ["read", "write", "delete"], "own"),
    grant("curated", `_locks/${k}/`, ["read", "list", "write", "delete"], "own"),
    grant("curated", `_outbox/${k}/`, ["read", "list", "write", "delete"], "own"),
    grant("quarantine", `quarantine/${k}/`, ["write"], "quarantine"),
  );
  return out;
}

function alarmsOf(a: Pick<AnyAsset, "key" | "freshnessMinutes">, triggered: boolean): AlarmPlan[] {
  const out: AlarmPlan[] = [];
  if (triggered) {
    out.push({
      id: `${a.key}-dead-letters`,
      function: a.key,
      kind: "dead-letters",
      description: `Messages for ${a.key} were dead-lettered after every retry: inspect and redrive them.`,
    });
  }
  out.push({
    id: `${a.key}-errors`,
    function: a.key,
    kind: "errors",
    description: `The function of ${a.key} failed.`,
  });
  if (a.freshnessMinutes !== undefined) {
    out.push({
      id: `${a.key}-freshness`,
      function: a.key,
      kind: "freshness",
      minutes: a.freshnessMinutes,
      description: `${a.key} was not materialised in the last ${a.freshnessMinutes} minutes.`,
    });
  }
  return out;
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
