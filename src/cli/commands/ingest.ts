import type { SourceDef } from "tributary";
import { SelectionError } from "tributary";
import { ingest, newBatchId } from "../../runtime/engine/ingest.ts";
import type { BatchManifest } from "../../runtime/engine/manifest.ts";
import {
  commandRun,
  ingestRun,
  parentOf,
  runComplete,
  runFail,
  runStart,
} from "../../runtime/openlineage/events.ts";
import { transportsFromEnv } from "../../runtime/openlineage/transport.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";

export interface IngestCliOptions {
  graph?: string;
  config?: string;
  store?: string;
  json?: boolean;
  maxRecordBytes?: string;
}

/** "orders_cdc: read 1000 = written 940 + quarantined 30 + duplicates 30". */
export function countsLine(source: string, c: BatchManifest["counts"]): string {
  return `${source}: read ${c.read} = written ${c.written} + quarantined ${c.quarantined} + duplicates ${c.duplicates}\n`;
}

/** `tributary ingest <source> <file|dir|->...`: validate, deduplicate, land or quarantine every record. */
export async function ingestCommand(
  sourceKey: string,
  inputs: string[],
  opts: IngestCliOptions,
  io: Io,
): Promise<number> {
  const graph = await commandGraph(opts);
  const source = graph.get(sourceKey);
  if (source.kind !== "source") {
    const sources = graph.select("kind:source");
    throw new SelectionError(
      `"${sourceKey}" is an asset, not a source; ingest reads into sources: ${sources.join(", ")}.`,
    );
  }
  const store = await openStore(opts.store, opts);
  const cli = commandRun("ingest");
  const transport = transportsFromEnv(store, cli.runId);
  const batch = newBatchId(new Date());
  const run = ingestRun(source as SourceDef, batch, { files: inputs.filter((i) => i !== "-") });
  const ctx = { store, parent: parentOf(cli) };
  await transport.emit(runStart(cli, { store }));
  await transport.emit(runStart(run, ctx));
  try {
    const max = opts.maxRecordBytes === undefined ? undefined : Number(opts.maxRecordBytes);
    const result = await ingest(store, source as SourceDef, inputs, {
      batch,
      ...(max === undefined ? {} : { maxRecordBytes: max }),
    });
    await transport.emit(runComplete(run, ctx, { manifest: result.manifest }));
    await transport.emit(runComplete(cli, { store }));
    if (opts.json) io.out(`${JSON.stringify(result.manifest, null, 2)}\n`);
    else {
      io.out(countsLine(source.key, result.manifest.counts));
      if (result.manifest.quarantine)
        io.out(`quarantined records with their reasons: ${result.manifest.quarantine.key}\n`);
    }
    return 0;
  } catch (e) {
    await transport.emit(runFail(run, ctx, e));
    await transport.emit(runFail(cli, { store }, e));
    throw e;
  } finally {
    await transport.close();
    for (const w of transport.warnings) io.err(`tributary: warning: ${w}\n`);
  }
}
