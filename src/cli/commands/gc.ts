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

/** `tributary gc`: delete data objects no manifest names (crashed runs' output, replaced versions). */
export async function gcCommand(opts: GcOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const graceMs = parseDuration(opts.olderThan ?? "1h", "--older-than") * 60_000;
  const r = await collectGarbage(graph, await openStore(opts.store, opts), {
    graceMs,
    ...(opts.dryRun ? { dryRun: true } : {}),
  });
  const bytes = r.removed.reduce((n, o) => n + o.size, 0);
  for (const o of r.removed) io.out(`${opts.dryRun ? "would remove" : "removed"} ${o.key}\n`);
  io.out(
    `${opts.dryRun ? "would remove" : "removed"} ${r.removed.length} unreferenced object${r.removed.length === 1 ? "" : "s"} (${bytes} bytes)` +
      `${r.kept > 0 ? `; kept ${r.kept} younger than ${opts.olderThan ?? "1h"}` : ""}\n`,
  );
  return 0;
}
