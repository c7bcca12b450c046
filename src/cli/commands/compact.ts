import { TributaryError } from "../../kit/errors.ts";
import { compact } from "../../runtime/engine/compact.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";

export interface CompactCommandOptions {
  graph?: string;
  config?: string;
  store?: string;
  minFiles?: string;
  dryRun?: boolean;
  json?: boolean;
}

export class CompactOptionError extends TributaryError {
  override name = "CompactOptionError";
}

/** `tributary compact`: rewrite the partitions whose tables hold many small files as one file each. */
export async function compactCommand(
  selection: string | undefined,
  opts: CompactCommandOptions,
  io: Io,
): Promise<number> {
  const minFiles = Number(opts.minFiles ?? 8);
  if (!Number.isInteger(minFiles) || minFiles < 2) {
    throw new CompactOptionError(
      `--min-files ${JSON.stringify(opts.minFiles)} is not a whole number of at least 2.`,
    );
  }
  const graph = await commandGraph(opts);
  const r = await compact(graph, await openStore(opts.store, opts), {
    minFiles,
    ...(selection === undefined ? {} : { selection }),
    ...(opts.dryRun ? { dryRun: true } : {}),
  });
  if (opts.json) {
    io.out(`${JSON.stringify(r, null, 2)}\n`);
    return 0;
  }
  const verb = opts.dryRun ? "would compact" : "compacted";
  for (const c of r.compacted) {
    io.out(
      `${verb} ${c.partition ? `${c.asset}/${c.partition}` : c.asset}: ${c.files} files, ${c.rows} rows, ${c.bytes} bytes` +
        `${c.into === undefined ? "" : ` into one file of ${c.into} bytes`}\n`,
    );
  }
  for (const b of r.busy) io.out(`skipped ${b}: another run holds it\n`);
  io.out(`${verb} ${r.compacted.length} partition${r.compacted.length === 1 ? "" : "s"}\n`);
  return 0;
}
