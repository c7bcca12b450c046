/**
 * `tributary diff`: the preview of a change between two git revisions of the project. The base (and the
 * head, when it is a ref rather than the working tree) is checked out into a temporary worktree; each
 * revision's graph module is loaded and snapshotted, each stack's deployment plan is built from that
 * revision's graph and stack file, and, unless told not to, each revision's Pulumi program is
 * synthesised offline. No network, no cloud account, no Pulumi CLI.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataDiff } from "../../contract/data-diff.ts";
import { loadGraphModule } from "../../contract/graph-module.ts";
import { loadProject, type Project } from "../../contract/project.ts";
import { LOCAL_TABLE_NAMESPACE, tableName, tableNamespace } from "../../contract/table-names.ts";
import type { AssetGraph } from "../../kit/graph.ts";
import { CLOUDS, configMap, readStackConfig, stackFile, stackNames, stacksShown } from "../config.ts";
import { planDeployment } from "../plan/build.ts";
import type { DeploymentPlan } from "../plan/types.ts";
import { pulumiRoot } from "../pulumi-project.ts";
import { type Synthesis, synth } from "../synth/index.ts";
import { commitOf, gitTop, isDirty, PreviewError, withWorktree } from "./git.ts";
import { diffGraph } from "./graph-diff.ts";
import { diffPlans } from "./plan-diff.ts";
import { diffSyntheses } from "./resources.ts";
import { type GraphSnapshot, snapshotOf, withPii } from "./snapshot.ts";
import { writeStandInBundles } from "./stand-in.ts";
import {
  PREVIEW_VERSION,
  type Preview,
  type ProposedSchemaChange,
  type Risk,
  type StackPreview,
} from "./types.ts";

export interface DiffOptions {
  /** The project's folder (where Pulumi.yaml is), in the working tree. */
  readonly root: string;
  /** The git ref the change is compared with, e.g. origin/main. */
  readonly base: string;
  /** The git ref of the change; default: the working tree as it is (uncommitted changes included). */
  readonly head?: string;
  /** The stacks to compare; default: every stack of either revision. */
  readonly stacks?: readonly string[];
  /** Synthesise each stack at both revisions (seconds per stack); false: compare the plans only. */
  readonly synth?: boolean;
  /** The graph module, relative to the project (default: the project configuration's at each revision). */
  readonly graph?: string;
  /** The project configuration file, relative to the project (default: the nearest at each revision). */
  readonly config?: string;
  /** Which time partitions exist (default: now). */
  readonly now?: Date;
  /** Told what is being done, for a progress line. */
  readonly progress?: (step: string) => void;
  /**
   * Where each asset holds personal data: the columns, by asset key, each with where it comes from
   * ("email ← customers_cdc.after.email"). The CLI passes the column lineage's answer
   * (runtime/lineage/pii.ts); the preview itself reads no data and runs no SQL engine.
   */
  readonly pii: (graph: AssetGraph) => Promise<ReadonlyMap<string, readonly string[]>>;
  /**
   * The proposed schema changes of the graph's CDC sources: columns their landed events have and their
   * declared rows do not (runtime/engine/schema-changes.ts, read from a store by the CLI). Asked of the
   * base revision's graph; the preview says which of them the head declares.
   */
  readonly schemaChanges?: (graph: AssetGraph) => Promise<readonly Omit<ProposedSchemaChange, "declared">[]>;
  /**
   * What the change does to the data (`--data`): given both revisions (while their worktrees exist) and
   * the assets whose data it may alter, in the head's order. The CLI replays a sample through both
   * (runtime/engine/compare.ts); the preview itself runs no SQL engine.
   */
  readonly data?: (
    base: RevisionModule,
    head: RevisionModule,
    assets: readonly string[],
  ) => Promise<DataDiff>;
}

/** A revision's project and graph module, for `DiffOptions.data`. */
export interface RevisionModule {
  readonly ref: string;
  readonly commit: string;
  readonly project?: Project;
  readonly graph?: AssetGraph;
  /** The graph module's other exports (e.g. `sampleData`). */
  readonly exports: Readonly<Record<string, unknown>>;
}

interface Revision {
  readonly ref: string;
  readonly commit: string;
  readonly dir: string;
  /** The project as the revision configures it; none when its configuration cannot be read. */
  readonly project?: Project;
  readonly graph?: AssetGraph;
  readonly exports: Readonly<Record<string, unknown>>;
  readonly snapshot: GraphSnapshot;
}

export async function previewDiff(opts: DiffOptions): Promise<Preview> {
  const root = path.resolve(opts.root);
  const top = gitTop(root);
  const baseCommit = commitOf(top, opts.base);
  const progress = opts.progress ?? (() => {});
  const at = async <T>(ref: string | undefined, commit: string, fn: (dir: string) => Promise<T>) =>
    ref === undefined ? fn(root) : withWorktree(root, commit, fn);

  const headCommit = opts.head === undefined ? commitOf(top, "HEAD") : commitOf(top, opts.head);
  const headRef = opts.head ?? (isDirty(top) ? "working tree" : "HEAD");
  return at(opts.head, headCommit, async (headDir) => {
    progress(`loading the graph at ${headRef}`);
    const head = await revision(headRef, headCommit, headDir, opts, true);
    return withWorktree(root, baseCommit, async (baseDir) => {
      progress(`loading the graph at ${opts.base} (${baseCommit.slice(0, 7)})`);
      const base = await revision(opts.base, baseCommit, baseDir, opts, false);
      const { graph, risks: graphRisks } = diffGraph(base.snapshot, head.snapshot);
      const schemaChanges = await proposals(base, head, opts);
      const all = [...new Set([...stacksOf(base), ...stacksOf(head)])].sort();
      const stacks = opts.stacks ?? all;
      for (const s of opts.stacks ?? []) {
        if (!hasStack(head, s) && !hasStack(base, s)) {
          throw new PreviewError(
            `stack "${s}" has no ${stackFile(s, stacksShown(head.dir, head.project?.stacks))} at either revision. Stacks: ${all.join(", ") || "none"}.`,
          );
        }
      }
      const dataRisks: Risk[] = [];
      let data: DataDiff | undefined;
      if (opts.data) {
        progress(`replaying the data through both revisions`);
        const changed = [...graph.impact.map((i) => i.key), ...graph.removed.map((r) => r.key)];
        data = await opts.data(base, head, changed);
        for (const a of data.assets) {
          if (a.expectation?.held !== false) continue;
          dataRisks.push({
            kind: "data-expectation",
            asset: a.key,
            subject: a.key,
            message: a.expectation.message ?? `${a.key}'s data changed against its declared expectation`,
          });
        }
      }
      const stackRisks: Risk[] = [];
      const previews: StackPreview[] = [];
      const tableNames = new Map<string, Set<string>>();
      const standIn = opts.synth === false ? undefined : writeStandInBundles([base.graph, head.graph]);
      try {
        for (const stack of stacks) {
          progress(`comparing stack ${stack}`);
          const p = await stackPreview(stack, base, head, standIn, opts);
          previews.push(p.preview);
          stackRisks.push(...p.risks);
          for (const [asset, name] of p.tables)
            tableNames.set(asset, (tableNames.get(asset) ?? new Set()).add(name));
        }
      } finally {
        if (standIn) fs.rmSync(standIn, { recursive: true, force: true });
      }
      const risks: Risk[] = [
        ...graphRisks.map((r) => namedTable(r, tableNames)),
        ...dataRisks,
        ...stackRisks,
      ];
      return {
        version: PREVIEW_VERSION,
        base: { ref: opts.base, commit: baseCommit },
        head: { ref: headRef, commit: headCommit },
        graph,
        stacks: previews,
        risks,
        ...(data ? { data } : {}),
        ...(schemaChanges ? { schemaChanges } : {}),
      };
    });
  });
}

/** The proposed schema changes of the base's CDC sources, each saying whether the head declares it. */
async function proposals(
  base: Revision,
  head: Revision,
  opts: DiffOptions,
): Promise<ProposedSchemaChange[] | undefined> {
  const graph = base.graph ?? head.graph;
  if (!opts.schemaChanges || !graph) return undefined;
  return (await opts.schemaChanges(graph)).map((p) => {
    const now = head.graph?.has(p.source) ? head.graph.get(p.source) : undefined;
    const row = now?.kind === "source" && now.cdc ? now.cdc.row.properties : undefined;
    return { ...p, declared: row !== undefined && Object.hasOwn(row, p.column) };
  });
}

/**
 * A risk about an asset's Iceberg table, named as each stack's catalog has the table
 * ("table trib_dev.daily_revenue, trib_prod.daily_revenue"), or as a local store has it ("curated.…").
 */
function namedTable(r: Risk, names: ReadonlyMap<string, ReadonlySet<string>>): Risk {
  if (r.asset === undefined || r.subject !== `table ${r.asset}`) return r;
  const found = [...(names.get(r.asset) ?? [])].sort();
  const all = found.length > 0 ? found : [`${LOCAL_TABLE_NAMESPACE}.${tableName(r.asset)}`];
  return { ...r, subject: `table ${all.join(", ")}` };
}

async function revision(
  ref: string,
  commit: string,
  dir: string,
  opts: DiffOptions,
  required: boolean,
): Promise<Revision> {
  try {
    const project = await loadProject(dir, opts.config, opts.graph);
    if (!required && !fs.existsSync(project.graph)) {
      // The project had no graph before this change: everything is added.
      return { ref, commit, dir, project, exports: {}, snapshot: { assets: [] } };
    }
    const { graph, exports } = await loadGraphModule(opts.graph, dir, opts.config);
    const pii = await opts.pii(graph);
    const snapshot = withPii(snapshotOf(graph, opts.now), pii);
    return { ref, commit, dir, project, graph, exports, snapshot };
  } catch (e) {
    if (e instanceof PreviewError || !(e instanceof Error) || !("name" in e)) throw e;
    throw new PreviewError(`at ${ref} (${commit.slice(0, 7)}): ${e.message}`, { cause: e });
  }
}

interface Side {
  readonly plan?: DeploymentPlan;
  readonly synthesis?: Synthesis;
  readonly note?: string;
}

/** The stacks of a revision's project. */
function stacksOf(r: Revision): string[] {
  return r.project ? stackNames(r.project.root, r.project.stacks) : [];
}

function hasStack(r: Revision, stack: string): boolean {
  return r.project !== undefined && fs.existsSync(path.join(r.project.stacks, `Pulumi.${stack}.yaml`));
}

async function side(
  stack: string,
  r: Revision,
  standIn: string | undefined,
  opts: DiffOptions,
): Promise<Side> {
  const project = r.project;
  if (!project || !hasStack(r, stack)) return { note: `the stack does not exist at ${r.ref}` };
  let plan: DeploymentPlan | undefined;
  try {
    const file = stackFile(stack, stacksShown(project.root, project.stacks));
    const config = readStackConfig(configMap(project.root, stack, project.stacks), stack, file);
    plan = r.graph ? planDeployment(r.graph, config) : undefined;
  } catch (e) {
    return { note: `no plan at ${r.ref}: ${(e as Error).message}` };
  }
  if (!standIn || !plan || !(CLOUDS as readonly string[]).includes(plan.cloud)) return { plan };
  try {
    const synthesis = await synth({
      root: pulumiRoot(project),
      stack,
      override: { "tributary:bundles": standIn },
      ...(project.configFile === undefined ? {} : { config: project.configFile }),
      ...(opts.graph === undefined ? {} : { graph: project.graph }),
    });
    return { plan, synthesis };
  } catch (e) {
    return { plan, note: `not synthesised at ${r.ref}: ${(e as Error).message.split("\n")[0]}` };
  }
}

async function stackPreview(
  stack: string,
  base: Revision,
  head: Revision,
  standIn: string | undefined,
  opts: DiffOptions,
): Promise<{ preview: StackPreview; risks: Risk[]; tables: Map<string, string> }> {
  const [b, h] = await Promise.all([side(stack, base, standIn, opts), side(stack, head, standIn, opts)]);
  // The stack's tables as its catalog names them: the curated assets it deploys, in its namespace.
  const tables = new Map<string, string>();
  const deployed = h.plan ?? b.plan;
  for (const f of deployed?.functions ?? []) {
    if (f.kind === "asset") tables.set(f.id, `${tableNamespace(deployed!.prefix)}.${tableName(f.id)}`);
  }
  const plan = diffPlans(stack, b.plan, h.plan);
  const notes = [b.note, h.note].filter((n): n is string => n !== undefined);
  const synthesised = (b.synthesis || !b.plan) && (h.synthesis || !h.plan) && standIn !== undefined;
  const resources = synthesised ? diffSyntheses(b.synthesis, h.synthesis, stack) : undefined;
  if (standIn && synthesised) {
    notes.push(
      "function code is compared through the assets' code versions: the bundles are not built for a diff",
    );
  }
  const cloud = h.plan?.cloud ?? b.plan?.cloud;
  return {
    preview: {
      stack,
      ...(cloud ? { cloud } : {}),
      source: resources ? "synth" : "plan",
      plan: plan.changes,
      ...(resources ? { resources: resources.resources } : {}),
      summary: resources ? resources.summary : planSummary(plan.changes),
      ...(notes.length > 0 ? { notes } : {}),
    },
    risks: [...plan.risks, ...(resources?.risks ?? [])],
    tables,
  };
}

function planSummary(changes: readonly { op: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) out[c.op] = (out[c.op] ?? 0) + 1;
  return out;
}
