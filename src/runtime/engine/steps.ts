/**
 * The steps of a materialisation run: every selected asset partition, in dependency order, with whether
 * it runs and why. (A stack's deployment plan is infra/plan's; this is what one run of the engine does.)
 */
import type { AssetDef } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import {
  isPartitionKey,
  lastCompleteKey,
  MULTI_SEPARATOR,
  type Partitions,
  partitionKeys,
  timeDimension,
  upstreamKeys,
} from "../../kit/partitions.ts";
import { SecretMissingError } from "../secrets/source.ts";
import { SecretValueError } from "../secrets/token.ts";
import { effectiveModel, modelTag, type VectorsConfig, vectorsConfigFromEnv } from "../vectors/config.ts";
import { damaged, type ObjectCheck } from "./integrity.ts";
import { assetDataVersion, type InputVersion } from "./manifest.ts";
import type { StoreState } from "./state.ts";
import type { TokenKeys } from "./tokens.ts";

export interface StepOptions {
  /** Selection syntax; default everything. */
  readonly selection?: string;
  /** One partition key (a time key or a static key also selects every partition that has it). */
  readonly partition?: string;
  /** Exactly these partition keys of each selected asset ("" for an unpartitioned one); others are left alone. */
  readonly partitions?: readonly string[];
  /** Exactly these partitions of these assets (a replay's scope); selected assets not named are left alone. */
  readonly only?: ReadonlyMap<string, readonly string[]>;
  /** A time range of partitions, inclusive. */
  readonly from?: string;
  readonly to?: string;
  /** Materialise even what is fresh. */
  readonly force?: boolean;
  /** "Now", for open-ended time partitions (default: the current time). */
  readonly now?: Date;
  /**
   * Check the committed files of each partition that would be fresh against what its commit recorded
   * (the quick check of integrity.ts), and plan a corrupt one to run again. Default true; the
   * asset-graph page, which plans every few seconds, leaves it off.
   */
  readonly checkFiles?: boolean;
  /**
   * The tokenisation keys of the run: a tokenising asset's data version includes its key's id. Without
   * them such an asset is blocked (its data version cannot be known).
   */
  readonly keys?: TokenKeys;
  /**
   * How embedding assets embed (default: $TRIBUTARY_VECTORS): the model that embeds is part of their
   * data version, so every command that plans must see the same configuration.
   */
  readonly vectors?: VectorsConfig;
}

/** One asset partition and what the run will do with it. */
export interface Step {
  readonly asset: string;
  readonly partition: string;
  readonly action: "run" | "skip" | "blocked";
  /** Why: "never materialised", "code version changed (a → b)", "input x/p changed", "fresh", … */
  readonly reason: string;
  readonly dataVersion: string;
  readonly inputs: readonly InputVersion[];
  /** The committed files whose bytes are not the committed ones: why a fresh partition runs again. */
  readonly corrupt?: readonly ObjectCheck[];
  /** The ids of the tokenisation keys it uses, by secret name; present only for a tokenising asset. */
  readonly keys?: Readonly<Record<string, string>>;
}

/** An asset partition as messages name it: "daily_revenue/2026-11-01|acme", or the key alone when unpartitioned. */
export function partitionLabel(asset: string, partition: string): string {
  return partition ? `${asset}/${partition}` : asset;
}

export class StepError extends TributaryError {
  override name = "StepError";
}

const TIME_KEY = /^\d{4}-\d{2}-\d{2}(T\d{2})?$/;

/** The partition keys of one asset a run covers. */
export function partitionsFor(partitions: Partitions | undefined, opts: StepOptions): string[] {
  if (opts.partitions) return opts.partitions.filter((k) => isPartitionKey(partitions, k));
  // A run of one partition leaves unpartitioned assets alone.
  if (!partitions) return opts.partition === undefined ? [""] : [];
  const time = timeDimension(partitions);
  const now = opts.now ?? new Date();
  const range = time
    ? { from: opts.from ?? time.start, to: opts.to ?? time.end ?? lastCompleteKey(time, now) }
    : undefined;
  for (const [name, value] of [
    ["--from", opts.from],
    ["--to", opts.to],
  ] as const) {
    if (value !== undefined && !TIME_KEY.test(value)) {
      throw new StepError(
        `${name} ${JSON.stringify(value)} is not a partition key like 2026-11-01 (daily) or 2026-11-01T13 (hourly).`,
      );
    }
  }
  const all = partitionKeys(partitions, range);
  const wanted = opts.partition;
  if (wanted === undefined) return all;
  if (isPartitionKey(partitions, wanted)) return [wanted];
  // A key of one dimension selects every partition of a two-dimensional asset that has it; a
  // two-dimensional key selects its matching dimension of a one-dimensional asset.
  const parts = wanted.split(MULTI_SEPARATOR);
  if (partitions.kind === "multi")
    return all.filter((k) => parts.every((p) => k.split(MULTI_SEPARATOR).includes(p)));
  return parts.filter((p) => isPartitionKey(partitions, p));
}

/**
 * Decide, for every selected asset partition in topological order, whether it must run. Data versions
 * are known before anything runs (hash of code version, input versions and partition), so the steps
 * say exactly what a run will do; `--dry-run` prints it.
 */
export async function steps(graph: AssetGraph, state: StoreState, opts: StepOptions = {}): Promise<Step[]> {
  const selected = graph.select(opts.selection).filter((k) => graph.get(k).kind === "asset");
  const planned = new Map<string, Step>();
  const items: Step[] = [];
  let matched = 0;
  const wanted = selected.map((key) => {
    const a = graph.get(key) as AssetDef;
    return { a, keys: opts.only ? [...(opts.only.get(key) ?? [])] : partitionsFor(a.partitions, opts) };
  });
  // Start every manifest read at once: one by one, the store's round trips are most of a fresh rerun.
  await Promise.all(wanted.flatMap(({ a, keys }) => keys.map((k) => state.manifest(a, k))));
  let vectors: VectorsConfig | undefined;
  for (const { a, keys } of wanted) {
    const key = a.key;
    matched += keys.length;
    const tokenKey = keys.length > 0 ? await keyOf(graph, a, opts.keys) : undefined;
    let model: string | undefined;
    if (a.embedding !== undefined) {
      vectors ??= opts.vectors ?? vectorsConfigFromEnv();
      model = modelTag(effectiveModel(a.embedding.model, vectors));
    }
    for (const partition of keys) {
      const item = await planOne(graph, state, a, partition, planned, opts.force ?? false, tokenKey, model);
      planned.set(`${key}\u0000${partition}`, item);
      items.push(item);
    }
  }
  if (opts.partition !== undefined && matched === 0) {
    throw new StepError(`no selected asset has a partition ${JSON.stringify(opts.partition)}.`);
  }
  if (opts.checkFiles === false) return items;
  // A fresh partition whose files are not the committed bytes runs again, with the same data version:
  // what reads it planned with that version already, so only its own action changes.
  return Promise.all(items.map((item) => (item.action === "skip" ? checked(graph, state, item) : item)));
}

async function checked(graph: AssetGraph, state: StoreState, item: Step): Promise<Step> {
  const checks = await state.integrity(graph.get(item.asset), item.partition);
  const corrupt = checks.filter(damaged);
  if (corrupt.length === 0) return item;
  const [first] = corrupt;
  const more = corrupt.length > 1 ? ` (and ${corrupt.length - 1} more)` : "";
  return {
    ...item,
    action: "run",
    reason: `committed file ${first!.key} is ${first!.state}: ${first!.why}${more}`,
    corrupt,
  };
}

/** The id of an asset's tokenisation key by secret name, or why it cannot be known; undefined when it has none. */
async function keyOf(
  graph: AssetGraph,
  a: AssetDef,
  keys: TokenKeys | undefined,
): Promise<{ keys: Record<string, string> } | { problem: string } | undefined> {
  const secret = graph.tokenSecret(a.key);
  if (secret === undefined) return undefined;
  if (keys === undefined) return { problem: `this run has no secrets to read "${secret.name}" from` };
  try {
    const found = await keys.of(a.key);
    return { keys: { [secret.name]: found!.key.kid } };
  } catch (e) {
    if (e instanceof SecretMissingError || e instanceof SecretValueError) return { problem: e.message };
    throw e;
  }
}

async function planOne(
  graph: AssetGraph,
  state: StoreState,
  a: AssetDef,
  partition: string,
  planned: ReadonlyMap<string, Step>,
  force: boolean,
  tokenKey?: { keys: Record<string, string> } | { problem: string },
  model?: string,
): Promise<Step> {
  const inputs: InputVersion[] = [];
  let missing: string | undefined;
  for (const edge of graph.inputs(a.key)) {
    const up = graph.get(edge.from);
    for (const upKey of upstreamKeys(up.partitions, a.partitions, edge.mapping, partition)) {
      const inRun = planned.get(`${up.key}\u0000${upKey}`);
      const version =
        inRun && inRun.action !== "blocked" ? inRun.dataVersion : await state.version(up, upKey);
      if (version === undefined) {
        missing ??= partitionLabel(up.key, upKey);
        continue;
      }
      inputs.push({ asset: up.key, partition: upKey, dataVersion: version });
    }
  }
  const keys = tokenKey !== undefined && "keys" in tokenKey ? tokenKey.keys : undefined;
  const dataVersion = assetDataVersion(a.codeVersion, inputs, partition, keys, model);
  const base = { asset: a.key, partition, dataVersion, inputs, ...(keys ? { keys } : {}) };
  if (missing)
    return {
      ...base,
      action: "blocked",
      reason: `upstream ${missing} has never been materialised; select it too (+${a.key})`,
    };
  if (tokenKey !== undefined && "problem" in tokenKey) {
    return { ...base, action: "blocked", reason: tokenKey.problem.replace(/\.$/, "") };
  }
  if (force) return { ...base, action: "run", reason: "forced" };
  const manifest = await state.manifest(a, partition);
  if (!manifest) return { ...base, action: "run", reason: "never materialised" };
  if (manifest.snapshot === undefined) {
    return { ...base, action: "run", reason: "committed before curated assets were Iceberg tables" };
  }
  if (manifest.dataVersion === dataVersion) return { ...base, action: "skip", reason: "fresh" };
  if (manifest.codeVersion !== a.codeVersion) {
    return {
      ...base,
      action: "run",
      reason: `code version changed (${manifest.codeVersion} → ${a.codeVersion})`,
    };
  }
  if (model !== undefined && manifest.vectors !== undefined && manifest.vectors.model !== model) {
    return {
      ...base,
      action: "run",
      reason: `embedding model changed (${manifest.vectors.model} → ${model}): every row is embedded again`,
    };
  }
  const rotated = Object.entries(keys ?? {}).find(([name, kid]) => manifest.keys?.[name] !== kid);
  if (rotated) {
    const [name, kid] = rotated;
    const before = manifest.keys?.[name];
    return {
      ...base,
      action: "run",
      reason:
        before === undefined
          ? `secret "${name}" now tokenises it (key k${kid})`
          : `secret "${name}" was rotated (key k${before} → k${kid})`,
    };
  }
  const before = new Map(manifest.inputs.map((i) => [`${i.asset}/${i.partition}`, i.dataVersion]));
  const changed = inputs.filter((i) => before.get(`${i.asset}/${i.partition}`) !== i.dataVersion);
  const gone = manifest.inputs.length + changed.length - inputs.length;
  const names = changed.slice(0, 3).map((i) => partitionLabel(i.asset, i.partition));
  const more = changed.length > 3 ? ` and ${changed.length - 3} more` : "";
  const reason =
    changed.length > 0
      ? `input ${names.join(", ")}${more} changed`
      : gone > 0
        ? "inputs removed"
        : "inputs changed";
  return { ...base, action: "run", reason };
}
