import { type AnyAsset, type AssetGraph, describePartitions } from "tributary";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { formatTable } from "../table.ts";

export interface ListOptions {
  graph?: string;
  config?: string;
  json?: boolean;
}

/** One asset as `tributary list --json` prints it. */
export interface ListedAsset {
  key: string;
  kind: "source" | "asset";
  group: string;
  partitions: string;
  deps: string[];
  owners: string[];
  tags: string[];
  /** The cron schedule, or null. */
  schedule: { cron: string; timezone: string } | null;
  /** "upstream" when the asset runs as soon as its upstream data arrives, or null. */
  trigger: "upstream" | null;
  /** The names of the secrets its function needs (never their values). */
  secrets: string[];
}

/** `tributary list`: the selected assets in topological order, as a table or JSON. */
export async function list(selection: string | undefined, opts: ListOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const listed = graph.select(selection).map((key) => listed1(graph, graph.get(key)));
  if (opts.json) {
    io.out(`${JSON.stringify(listed, null, 2)}\n`);
    return 0;
  }
  // The secrets column only when a listed asset needs one.
  const secrets = listed.some((a) => a.secrets.length > 0);
  const rows = listed.map((a) => [
    a.key,
    a.kind,
    a.group,
    a.partitions,
    a.deps.length === 0 ? "-" : a.deps.join(", "),
    a.owners.length === 0 ? "-" : a.owners.join(", "),
    a.schedule ? `${a.schedule.cron} ${a.schedule.timezone}` : a.trigger ? "on upstream" : "-",
    ...(secrets ? [a.secrets.join(", ") || "-"] : []),
  ]);
  const head = ["key", "kind", "group", "partitions", "deps", "owners", "schedule"];
  io.out(formatTable(secrets ? [...head, "secrets"] : head, rows));
  return 0;
}

function listed1(graph: AssetGraph, a: AnyAsset): ListedAsset {
  return {
    key: a.key,
    kind: a.kind,
    group: a.group,
    partitions: describePartitions(a.partitions),
    deps: graph.inputs(a.key).map((e) => e.from),
    owners: [...a.owners],
    tags: [...a.tags],
    schedule:
      a.kind === "asset" && a.schedule ? { cron: a.schedule.cron, timezone: a.schedule.timezone } : null,
    trigger: a.kind === "asset" && a.trigger ? a.trigger.on : null,
    secrets: [...(a.secrets ?? [])],
  };
}
