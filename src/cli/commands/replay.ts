import { replayRun, replayScope } from "../../runtime/engine/replay.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import { TokenKeys } from "../../runtime/engine/tokens.ts";
import { checkPii } from "../../runtime/lineage/pii.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore, storeSecrets } from "../store.ts";
import { dryRun, runReported } from "./materialize.ts";

export interface ReplayCliOptions {
  graph?: string;
  config?: string;
  store?: string;
  from: string;
  to: string;
  dryRun?: boolean;
  json?: boolean;
  /** Whether to draw a progress bar (a terminal); plain lines otherwise. */
  tty?: boolean;
}

/**
 * `tributary replay <source> --from <date> --to <date>`: re-derive every asset partition downstream of
 * the source's raw partitions in the range, from raw, forced. Exit 1 when anything failed.
 */
export async function replayCommand(source: string, opts: ReplayCliOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  await checkPii(graph);
  const store = await openStore(opts.store, opts);
  const scope = await replayScope(graph, new StoreState(store), source, { from: opts.from, to: opts.to });
  const partitions = [...scope.targets.values()].reduce((n, keys) => n + keys.length, 0);
  const head = {
    source,
    from: opts.from,
    to: opts.to,
    raw: scope.raw,
    downstream: Object.fromEntries(scope.targets),
  };
  if (!opts.json) {
    const s = (n: number) => (n === 1 ? "" : "s");
    io.out(
      `replay ${source} ${opts.from} to ${opts.to}: ${scope.raw.length} raw partition${s(scope.raw.length)}, read by ${partitions} asset partition${s(partitions)} of ${scope.targets.size} asset${s(scope.targets.size)}\n`,
    );
  }
  // A dry run writes nothing: a tokenisation key not made yet is reported, not made.
  const keys = new TokenKeys(graph, storeSecrets(store, { create: !opts.dryRun }));
  const planOptions = replayRun(scope, { keys });
  if (opts.dryRun) return dryRun(graph, store, planOptions, opts, io, head);
  return runReported(graph, store, "replay", planOptions, opts, io, head);
}
