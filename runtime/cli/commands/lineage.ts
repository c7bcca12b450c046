import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TributaryError, toDot, toLineage, toMermaid } from "tributary";
import { loadGraph } from "../graph-module.ts";
import type { Io } from "../io.ts";

export const LINEAGE_FORMATS = ["mermaid", "dot", "json"] as const;
export type LineageFormat = (typeof LINEAGE_FORMATS)[number];

export interface LineageOptions {
  graph?: string;
  format: LineageFormat;
  out?: string;
}

/** `tributary lineage`: the static lineage of the selected assets as Mermaid, DOT or JSON. */
export async function lineage(selection: string | undefined, opts: LineageOptions, io: Io): Promise<number> {
  const graph = await loadGraph(opts.graph);
  const keys = graph.select(selection);
  const text =
    opts.format === "mermaid"
      ? toMermaid(graph, keys)
      : opts.format === "dot"
        ? toDot(graph, keys)
        : `${JSON.stringify(toLineage(graph, keys), null, 2)}\n`;
  if (opts.out === undefined) {
    io.out(text);
    return 0;
  }
  const path = resolve(opts.out);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  } catch (error) {
    throw new TributaryError(
      `cannot write ${opts.out}: ${(error as Error).message}. Pass another path to --out.`,
      {
        cause: error,
      },
    );
  }
  const doc = toLineage(graph, keys);
  const n = doc.nodes.length;
  const e = doc.edges.length;
  io.out(
    `wrote ${opts.format} lineage of ${n} asset${n === 1 ? "" : "s"} and ${e} edge${e === 1 ? "" : "s"} to ${opts.out}\n`,
  );
  return 0;
}
