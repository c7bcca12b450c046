import { checkPii } from "../../runtime/lineage/pii.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";

export interface ValidateOptions {
  graph?: string;
  config?: string;
}

/** `tributary validate`: load and validate the graph; print a one-line summary. */
export async function validate(opts: ValidateOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  // Personal data must be tokenised or declared wherever the lineage takes it (DuckDB parses the SQL).
  await checkPii(graph);
  const assets = graph.assets();
  const sources = assets.filter((a) => a.kind === "source").length;
  io.out(
    `graph ok: ${count(assets.length, "asset")} (${count(sources, "source")}, ${count(assets.length - sources, "asset")}), ` +
      `${count(graph.edges().length, "edge")}, ${count(graph.levels.length, "level")}\n`,
  );
  return 0;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
