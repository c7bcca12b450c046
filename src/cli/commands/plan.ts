import { configMap, readStackConfig, stackFile, stacksShown } from "../../infra/config.ts";
import { planDeployment } from "../../infra/plan/build.ts";
import { type DeploymentPlan, describeTrigger, type TriggerPlan } from "../../infra/plan/types.ts";
import { checkPii } from "../../runtime/lineage/pii.ts";
import type { Io } from "../io.ts";
import { commandGraph, commandProject } from "../project.ts";
import { formatTable } from "../table.ts";

export interface PlanOptions {
  stack: string;
  graph?: string;
  config?: string;
  json?: boolean;
}

/** `tributary plan --stack <name>`: the stack's DeploymentPlan, as a summary or as JSON. */
export async function plan(opts: PlanOptions, io: Io): Promise<number> {
  const project = await commandProject(opts);
  const config = readStackConfig(
    configMap(project.root, opts.stack, project.stacks),
    opts.stack,
    stackFile(opts.stack, stacksShown(project.root, project.stacks)),
  );
  const graph = await commandGraph(opts);
  await checkPii(graph);
  const p = planDeployment(graph, config);
  io.out(opts.json ? `${JSON.stringify(p, null, 2)}\n` : summary(p));
  return 0;
}

function trigger(t: TriggerPlan | undefined): string {
  return t ? describeTrigger(t) : "invoked by hand";
}

/** Where the curated tables are registered, and what one query may scan there. */
function tablesLine(p: DeploymentPlan): string {
  const t = p.tables;
  const where =
    t.catalog === "glue"
      ? `Glue database ${t.namespace}, Athena stops a query after ${t.scanLimitBytes / 1e9} GB scanned`
      : t.catalog === "bigquery"
        ? `BigQuery dataset ${t.namespace}`
        : "no catalog on this cloud: docs/serverless-sql.md";
  return `tables (${where}): ${t.tables.map((x) => x.name).join(", ")}`;
}

/** The plan for a reader: where data lives, what runs when, and what each function may touch. */
export function summary(p: DeploymentPlan): string {
  const lines = [
    `stack ${p.stack}: ${p.cloud} ${p.region}, environment ${p.environment}, pipelines ${p.pipelines.join(", ")}`,
    "",
    "stores",
    formatTable(
      ["store", "name", "holds", "retention", "colder tier", "data"],
      p.stores.map((s) => [
        s.id,
        s.name,
        s.zones.join(", "),
        s.retentionDays === undefined ? "kept" : `${s.retentionDays} days`,
        s.coldAfterDays === undefined ? "-" : `after ${s.coldAfterDays} days`,
        // Protected: no stack change deletes the store, and it stays when removed from the stack.
        s.protect ? "protected" : "disposable",
      ]),
    ),
    "buses",
    formatTable(
      ["bus", "name", "consumers"],
      p.buses.map((b) => [b.id, b.name, b.consumers.join(", ") || "-"]),
    ),
    ...(p.streams.length > 0
      ? [
          "streams (Debezium Server's topic.prefix: the stack's prefix)",
          formatTable(
            ["source", "stream", "table", "kept"],
            p.streams.map((s) => [s.source, s.name, s.table, `${s.retentionHours / 24} days`]),
          ),
        ]
      : []),
    "functions",
    formatTable(
      ["function", "kind", "runs", "memory", "timeout", "reads", "alarms"],
      p.functions.map((f) => {
        const reads = p.grants
          .filter((g) => g.function === f.id && g.reason.startsWith("upstream:"))
          .map((g) => g.reason.slice("upstream:".length));
        return [
          f.id,
          f.kind,
          trigger(p.triggers.find((t) => t.function === f.id)),
          `${f.memoryMb} MB`,
          `${f.timeoutSeconds} s`,
          [...new Set(reads)].join(", ") || "-",
          p.alarms
            .filter((a) => a.function === f.id)
            .map((a) => a.kind)
            .join(", "),
        ];
      }),
    ),
    ...(p.tables.tables.length > 0 ? [tablesLine(p), ""] : []),
    ...(p.secrets.length > 0
      ? [
          "secrets (names only: values live in the cloud's secret store)",
          formatTable(
            ["secret", "use", "value", "read by"],
            p.secrets.map((s) => [
              s.name,
              s.use,
              s.value === "config" ? "from tributary:secrets" : "generated on first deploy",
              s.readers.join(", "),
            ]),
          ),
        ]
      : []),
    `${p.grants.length} grants, each from a graph edge or the function's own output; alarms mail ${p.alertEmail}.`,
    "Run `tributary plan --json` for every field, `tributary synth` for the cloud resources.",
  ];
  return `${lines.join("\n")}\n`;
}
