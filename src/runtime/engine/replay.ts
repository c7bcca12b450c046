/**
 * Replay: re-derive everything downstream of a source's raw partitions in a time range, from the raw
 * zone alone. Raw objects are immutable and every batch that landed them is committed, so the stream
 * that delivered them is never read again: the asset partitions that read those raw partitions (directly
 * or through other assets, through every partition mapping) are materialised again, forced even where
 * their data versions say they are fresh, each under its partition lock like any materialisation.
 * Nothing is written to the raw zone.
 */
import type { AssetDef } from "../../kit/asset.ts";
import { TributaryError } from "../../kit/errors.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import {
  lastCompleteKey,
  MULTI_SEPARATOR,
  partitionKeys,
  timeDimension,
  upstreamKeys,
} from "../../kit/partitions.ts";
import { didYouMean } from "../../kit/suggest.ts";
import type { ObjectStore } from "../storage/port.ts";
import { type MaterializeOptions, materialize, type RunResult } from "./materialize.ts";
import { StoreState } from "./state.ts";

/** A replay that cannot be done as asked: an unknown source, a bad range, a range without raw data. */
export class ReplayError extends TributaryError {
  override name = "ReplayError";
}

/** What a replay covers. */
export interface ReplayScope {
  readonly source: string;
  /** The range as given, and as the source's time keys ("2026-11-01T00" … for an hourly source). */
  readonly from: string;
  readonly to: string;
  /** The source's partitions in the range that hold committed raw data, sorted. */
  readonly raw: readonly string[];
  /** The asset partitions that read them, directly or not, by asset in topological order. */
  readonly targets: ReadonlyMap<string, readonly string[]>;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}$/;

/** The range's bounds as time keys of the source's granularity, checked. */
function bounds(source: string, granularity: "daily" | "hourly", from: string, to: string): [string, string] {
  const key = (flag: string, value: string, end: boolean): string => {
    const date = DATE.test(value) || (HOUR.test(value) && granularity === "hourly");
    const day = value.slice(0, 10);
    const real = new Date(`${day}T00:00:00Z`);
    if (!date || Number.isNaN(real.getTime()) || real.toISOString().slice(0, 10) !== day) {
      const like = granularity === "daily" ? "2026-11-01" : "2026-11-01 or 2026-11-01T13";
      throw new ReplayError(
        `replay ${source}: ${flag} ${JSON.stringify(value)} is not a ${granularity === "daily" ? "date" : "date or hour"} like ${like}.`,
      );
    }
    if (HOUR.test(value) && Number(value.slice(11)) > 23) {
      throw new ReplayError(`replay ${source}: ${flag} ${JSON.stringify(value)} is not an hour of the day.`);
    }
    if (granularity === "daily" || HOUR.test(value)) return value;
    return `${value}T${end ? "23" : "00"}`;
  };
  const a = key("--from", from, false);
  const b = key("--to", to, true);
  if (a > b) throw new ReplayError(`replay ${source}: --from ${from} is after --to ${to}.`);
  return [a, b];
}

/**
 * The source's raw partitions with time keys in [from, to] and every asset partition downstream of them.
 * `now` bounds open-ended time partitions as a materialisation does (the last complete period).
 */
export async function replayScope(
  graph: AssetGraph,
  state: StoreState,
  sourceKey: string,
  range: { readonly from: string; readonly to: string; readonly now?: Date },
): Promise<ReplayScope> {
  const sources = graph.select("kind:source");
  if (!graph.has(sourceKey) || graph.get(sourceKey).kind !== "source") {
    const what = graph.has(sourceKey)
      ? `"${sourceKey}" is an asset, not a source`
      : `unknown source "${sourceKey}"`;
    throw new ReplayError(
      `replay: ${what}; replay re-derives what reads a source's raw data (sources: ${sources.join(", ")}).${graph.has(sourceKey) ? "" : didYouMean(sourceKey, sources)}`,
    );
  }
  const source = graph.get(sourceKey);
  const time = timeDimension(source.partitions);
  if (!time) {
    throw new ReplayError(
      `replay ${sourceKey}: the source has no time partitions, so no range of raw data to replay; re-derive what reads it with: tributary materialize "${sourceKey}+" --force`,
    );
  }
  const [from, to] = bounds(sourceKey, time.granularity, range.from, range.to);
  const timeOf = (key: string) => key.split(MULTI_SEPARATOR)[0]!;
  const committed = await state.sourcePartitions(sourceKey);
  const withData = [...committed.entries()]
    .filter(([, p]) => p.files.some((f) => f.rows > 0))
    .map(([k]) => k);
  const raw = withData.filter((k) => timeOf(k) >= from && timeOf(k) <= to);
  if (raw.length === 0) {
    const span =
      withData.length === 0
        ? "it has no raw data at all; ingest some first"
        : `its raw data spans ${timeOf(withData[0]!)} to ${timeOf(withData.at(-1)!)}`;
    throw new ReplayError(`replay ${sourceKey}: no raw data between ${range.from} and ${range.to}; ${span}.`);
  }

  // Every asset partition that reads an affected partition, in topological order.
  const affected = new Map<string, Set<string>>([[sourceKey, new Set(raw)]]);
  const targets = new Map<string, string[]>();
  const now = range.now ?? new Date();
  for (const key of graph.downstream(sourceKey)) {
    const a = graph.get(key) as AssetDef;
    const t = timeDimension(a.partitions);
    const keys = partitionKeys(a.partitions, t ? { to: t.end ?? lastCompleteKey(t, now) } : undefined);
    const edges = graph.inputs(key).filter((e) => affected.has(e.from));
    const hit = keys.filter((p) =>
      edges.some((e) => {
        const up = graph.get(e.from);
        const touched = affected.get(e.from)!;
        return upstreamKeys(up.partitions, a.partitions, e.mapping, p).some((k) => touched.has(k));
      }),
    );
    if (hit.length === 0) continue;
    affected.set(key, new Set(hit));
    targets.set(key, hit);
  }
  return { source: sourceKey, from, to, raw, targets };
}

export interface ReplayOptions
  extends Omit<
    MaterializeOptions,
    "selection" | "partition" | "partitions" | "only" | "from" | "to" | "force"
  > {
  readonly from: string;
  readonly to: string;
  /** "Now", for open-ended time partitions (default: the current time). */
  readonly now?: Date;
}

/** Replays a source's raw partitions in a range: its scope, and the materialisation run that re-derived it. */
export async function replay(
  graph: AssetGraph,
  store: ObjectStore,
  source: string,
  opts: ReplayOptions,
): Promise<{ scope: ReplayScope; run: RunResult }> {
  const scope = await replayScope(graph, new StoreState(store), source, opts);
  const run = await materialize(graph, store, replayRun(scope, opts));
  return { scope, run };
}

/** The materialisation a replay is: exactly its scope, forced. */
export function replayRun<T extends object>(scope: ReplayScope, opts: T): T & MaterializeOptions {
  return { ...opts, selection: `${scope.source}+`, only: scope.targets, force: true };
}
