import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type AssetGraph, TributaryError, toDot, toLineage, toMermaid } from "tributary";
import { graphModuleOf } from "../../contract/project.ts";
import type { Io } from "../io.ts";
import { commandGraph, commandProject } from "../project.ts";
import { columnLineageOf } from "../ui/columns.ts";
import { uiDetails, uiGraph } from "../ui/model.ts";
import { clientScript, pageHtml } from "../ui/page.ts";
import type { UiAssetDetails } from "../ui/types.ts";
import { stackPlans } from "./ui.ts";

export const LINEAGE_FORMATS = ["mermaid", "dot", "json", "html"] as const;
export type LineageFormat = (typeof LINEAGE_FORMATS)[number];

export interface LineageOptions {
  graph?: string;
  config?: string;
  format: LineageFormat;
  out?: string;
}

/** `tributary lineage`: the static lineage of the selected assets as Mermaid, DOT or JSON. */
export async function lineage(selection: string | undefined, opts: LineageOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const keys = graph.select(selection);
  const text =
    opts.format === "mermaid"
      ? toMermaid(graph, keys)
      : opts.format === "dot"
        ? toDot(graph, keys)
        : opts.format === "html"
          ? await lineagePage(graph, keys, opts, io)
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

/**
 * The asset-graph page as one file: the selected assets, their edges among themselves, every asset's
 * details, and the page's script, inlined. Static: no store is read, so nodes are coloured by kind.
 */
async function lineagePage(
  graph: AssetGraph,
  keys: readonly string[],
  opts: LineageOptions,
  io: Io,
): Promise<string> {
  const module = (await graphModuleOf(process.cwd(), opts.graph, opts.config)).name;
  const columnLineage = columnLineageOf(graph);
  const model = { module, stacks: stackPlans(graph, io, await commandProject(opts)), columnLineage };
  const chosen = new Set(keys);
  const whole = await uiGraph(graph, model);
  const page = {
    ...whole,
    nodes: whole.nodes.filter((n) => chosen.has(n.key)),
    edges: whole.edges.filter((e) => chosen.has(e.from) && chosen.has(e.to)),
  };
  const details: Record<string, UiAssetDetails> = {};
  try {
    for (const d of await Promise.all(keys.map((k) => uiDetails(graph, k, model)))) details[d.key] = d;
  } finally {
    await columnLineage.close();
  }
  return pageHtml({
    title: `Tributary · ${module}`,
    live: false,
    script: { inline: await clientScript(), data: { graph: page, details } },
  });
}
