import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AssetGraph, SampleData, SourceDef } from "tributary";
import type { Project } from "../contract/project.ts";
import { layout } from "../contract/storage-layout.ts";
import { ingest } from "../runtime/engine/ingest.ts";
import type { ObjectStore } from "../runtime/storage/port.ts";
import { countsLine } from "./commands/ingest.ts";
import type { Io } from "./io.ts";

export type { SampleData };

/** A sample-data hook and whose it is, for the message. */
export interface SampleHook {
  readonly generate: SampleData;
  /** "the project configuration's" or "the graph module's". */
  readonly of: string;
}

/**
 * The sample-data hook that applies: the project configuration's `sampleData`, else the graph module's
 * `sampleData` export. The configuration's comes first: it is the project's one place for its hooks,
 * while a graph module may be shared by projects (or loaded with --graph) and keep an export of its own.
 */
export function sampleHookOf(
  project: Pick<Project, "sampleData"> | undefined,
  exports: Readonly<Record<string, unknown>>,
): SampleHook | undefined {
  if (project?.sampleData) return { generate: project.sampleData, of: "the project configuration's" };
  const exported = exports.sampleData;
  return typeof exported === "function"
    ? { generate: exported as SampleData, of: "the graph module's" }
    : undefined;
}

/**
 * When no source of the graph has any committed batch and there is a sample-data hook, generate the
 * samples (into `samples/` beside the store's data) and ingest them. Returns whether it did.
 */
export async function ensureSampleData(
  graph: AssetGraph,
  store: ObjectStore,
  hook: SampleHook | undefined,
  io: Io | undefined,
): Promise<boolean> {
  if (hook === undefined) return false;
  const sources = graph.assets().filter((a): a is SourceDef => a.kind === "source");
  for (const s of sources) if ((await store.list(layout.batchPrefix(s.key))).length > 0) return false;
  const dir = store.localPath?.("samples") ?? join(tmpdir(), `tributary-samples-${process.pid}`);
  io?.out(`no data yet: generating ${hook.of} sample data into ${dir} and ingesting it\n`);
  const files = await hook.generate(dir);
  for (const s of sources) {
    const inputs = files[s.key];
    if (!inputs || inputs.length === 0) continue;
    const result = await ingest(store, s, inputs);
    io?.out(countsLine(s.key, result.manifest.counts));
  }
  return true;
}
