import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AssetGraph, SourceDef } from "tributary";
import { layout } from "../contract/storage-layout.ts";
import { ingest } from "../runtime/engine/ingest.ts";
import type { ObjectStore } from "../runtime/storage/port.ts";
import { countsLine } from "./commands/ingest.ts";
import type { Io } from "./io.ts";

/**
 * What a graph module may export as `sampleData`: write sample input files into `dir` and return them
 * by source key (files or folders of NDJSON), for a first run on a machine with no data.
 */
export type SampleData = (dir: string) => Promise<Readonly<Record<string, readonly string[]>>>;

/**
 * When no source of the graph has any committed batch and the module exports `sampleData`, generate the
 * samples (into `samples/` beside the store's data) and ingest them. Returns whether it did.
 */
export async function ensureSampleData(
  graph: AssetGraph,
  store: ObjectStore,
  exports: Readonly<Record<string, unknown>>,
  io: Io | undefined,
): Promise<boolean> {
  const sampleData = exports.sampleData as SampleData | undefined;
  if (typeof sampleData !== "function") return false;
  const sources = graph.assets().filter((a): a is SourceDef => a.kind === "source");
  for (const s of sources) if ((await store.list(layout.batchPrefix(s.key))).length > 0) return false;
  const dir = store.localPath?.("samples") ?? join(tmpdir(), `tributary-samples-${process.pid}`);
  io?.out(`no data yet: generating the graph module's sample data into ${dir} and ingesting it\n`);
  const files = await sampleData(dir);
  for (const s of sources) {
    const inputs = files[s.key];
    if (!inputs || inputs.length === 0) continue;
    const result = await ingest(store, s, inputs);
    io?.out(countsLine(s.key, result.manifest.counts));
  }
  return true;
}
