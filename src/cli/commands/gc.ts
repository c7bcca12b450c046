import { parseDuration } from "../../kit/duration.ts";
import { collectGarbage } from "../../runtime/engine/gc.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";

export interface GcOptions {
  graph?: string;
  config?: string;
  store?: string;
  olderThan?: string;
  dryRun?: boolean;
}

/**
 * `tributary gc`: expire the assets' table snapshots older than the grace period (each table keeps its
 * current one), and delete the objects under their tables that no remaining snapshot and no record
 * names (crashed runs' output, replaced versions, what expired snapshots alone used).
 */
export async function gcCommand(opts: GcOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const graceMs = parseDuration(opts.olderThan ?? "1h", "--older-than") * 60_000;
  const r = await collectGarbage(graph, await openStore(opts.store, opts), {
    graceMs,
    ...(opts.dryRun ? { dryRun: true } : {}),
  });
  const bytes = r.removed.reduce((n, o) => n + o.size, 0);
  for (const o of r.removed) io.out(`${opts.dryRun ? "would remove" : "removed"} ${o.key}\n`);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  io.out(
    `${opts.dryRun ? "would expire" : "expired"} ${plural(r.expired, "snapshot")} and ` +
      `${opts.dryRun ? "remove" : "removed"} ${plural(r.removed.length, "unreferenced object")} (${bytes} bytes)` +
      `${r.kept > 0 ? `; kept ${r.kept} younger than ${opts.olderThan ?? "1h"}` : ""}\n`,
  );
  return 0;
}
