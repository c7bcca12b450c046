import { SingleBar } from "cli-progress";
import type { AssetGraph } from "tributary";
import type { VectorsRecord } from "../../runtime/engine/manifest.ts";
import {
  type MaterializeOptions,
  materialize,
  type RunOutcome,
  type RunResult,
} from "../../runtime/engine/materialize.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import type { Step } from "../../runtime/engine/steps.ts";
import { steps } from "../../runtime/engine/steps.ts";
import { TokenKeys } from "../../runtime/engine/tokens.ts";
import { checkPii } from "../../runtime/lineage/pii.ts";
import { commandRun, parentOf, runComplete, runFail, runStart } from "../../runtime/openlineage/events.ts";
import { transportsFromEnv } from "../../runtime/openlineage/transport.ts";
import type { ObjectStore } from "../../runtime/storage/port.ts";
import type { Io } from "../io.ts";
import { commandGraphModule, commandProject } from "../project.ts";
import { ensureSampleData, sampleHookOf } from "../samples.ts";
import { openStore, storeSecrets } from "../store.ts";
import { formatTable } from "../table.ts";

export interface MaterializeCliOptions {
  graph?: string;
  config?: string;
  store?: string;
  partition?: string;
  from?: string;
  to?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  sample?: boolean;
  /** Whether to draw a progress bar (a terminal); plain lines otherwise. */
  tty?: boolean;
}

const label = (asset: string, partition: string) => (partition ? `${asset} ${partition}` : asset);

/** `tributary materialize`: plan what is stale, run it, and report. Exit 1 when anything failed. */
export async function materializeCommand(
  selection: string | undefined,
  opts: MaterializeCliOptions,
  io: Io,
): Promise<number> {
  const { graph, exports } = await commandGraphModule(opts);
  await checkPii(graph);
  const store = await openStore(opts.store, opts);
  const planOptions = {
    ...(selection === undefined ? {} : { selection }),
    // A dry run writes nothing: a tokenisation key not made yet is reported, not made.
    keys: new TokenKeys(graph, storeSecrets(store, { create: !opts.dryRun })),
    ...(opts.partition === undefined ? {} : { partition: opts.partition }),
    ...(opts.from === undefined ? {} : { from: opts.from }),
    ...(opts.to === undefined ? {} : { to: opts.to }),
    force: opts.force ?? false,
  };
  if (opts.dryRun) return dryRun(graph, store, planOptions, opts, io);
  if (opts.sample !== false) {
    const hook = sampleHookOf(await commandProject(opts), exports);
    await ensureSampleData(graph, store, hook, opts.json ? undefined : io);
  }

  const progress = opts.json ? undefined : new Progress(io, opts.tty ?? false);
  const cliRun = commandRun("materialize");
  const transport = transportsFromEnv(store, cliRun.runId);
  await transport.emit(runStart(cliRun, { store }));
  const run: MaterializeOptions = {
    ...planOptions,
    runId: cliRun.runId,
    lineage: { transport, context: { parent: parentOf(cliRun) } },
    ...(progress ? { observer: progress } : {}),
  };
  let result: RunResult;
  try {
    result = await materialize(graph, store, run);
  } catch (e) {
    await transport.emit(runFail(cliRun, { store }, e));
    throw e;
  } finally {
    progress?.stop();
  }
  const failed = result.counts.failed + result.counts.skipped;
  await transport.emit(
    failed > 0
      ? runFail(
          cliRun,
          { store },
          new Error(`${result.counts.failed} failed, ${result.counts.skipped} skipped`),
        )
      : runComplete(cliRun, { store }),
  );
  await transport.close();
  for (const w of transport.warnings) io.err(`tributary: warning: ${w}\n`);
  if (opts.json) {
    io.out(`${JSON.stringify(toJson(result), null, 2)}\n`);
  } else {
    io.out(summary(result));
  }
  return result.counts.failed > 0 || result.outcomes.some((o) => o.status === "skipped") ? 1 : 0;
}

async function dryRun(
  graph: AssetGraph,
  store: ObjectStore,
  planOptions: object,
  opts: MaterializeCliOptions,
  io: Io,
): Promise<number> {
  const items = await steps(graph, new StoreState(store), planOptions);
  if (opts.json) {
    io.out(
      `${JSON.stringify(
        items.map(({ inputs: _, ...rest }) => rest),
        null,
        2,
      )}\n`,
    );
    return 0;
  }
  const rows = items.map((i) => [
    i.asset,
    i.partition || "-",
    i.action === "skip" ? "fresh" : i.action,
    i.reason,
  ]);
  const runs = items.filter((i) => i.action === "run").length;
  io.out(formatTable(["asset", "partition", "action", "why"], rows));
  io.out(`plan: ${runs} of ${items.length} asset partitions to materialise (dry run: nothing was written)\n`);
  return 0;
}

/**
 * A progress bar on a terminal; plain lines otherwise: one per asset when its partitions are done, and
 * one per partition that failed, was skipped or warned.
 */
class Progress {
  readonly #io: Io;
  readonly #bar: SingleBar | undefined;
  readonly #left = new Map<string, number>();
  readonly #done = new Map<string, { partitions: number; rows: number; ms: number }>();
  readonly #vectors = new Map<string, VectorsRecord[]>();
  #finished = 0;
  constructor(io: Io, tty: boolean) {
    this.#io = io;
    this.#bar = tty
      ? new SingleBar({
          format: "{bar} {value}/{total} {item}",
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stderr,
        })
      : undefined;
  }
  planned(items: readonly Step[]): void {
    const runs = items.filter((i) => i.action === "run").length;
    for (const i of items) this.#left.set(i.asset, (this.#left.get(i.asset) ?? 0) + 1);
    this.#io.out(`plan: ${runs} of ${items.length} asset partitions to materialise\n`);
    this.#bar?.start(runs, 0, { item: "" });
  }
  started(item: Step): void {
    this.#bar?.update(this.#finished, { item: label(item.asset, item.partition) });
  }
  finished(o: RunOutcome): void {
    const asset = o.item.asset;
    if (o.status === "materialized" || o.status === "failed") this.#bar?.update(++this.#finished);
    if (o.status === "materialized") {
      const d = this.#done.get(asset) ?? { partitions: 0, rows: 0, ms: 0 };
      this.#done.set(asset, {
        partitions: d.partitions + 1,
        rows: d.rows + o.manifest!.rowCount,
        ms: d.ms + o.ms,
      });
      const v = o.manifest!.vectors;
      if (v) this.#vectors.set(asset, [...(this.#vectors.get(asset) ?? []), v]);
    }
    const line = o.status === "materialized" ? warningLines(o) : outcomeLine(o);
    const left = (this.#left.get(asset) ?? 1) - 1;
    this.#left.set(asset, left);
    const d = this.#done.get(asset);
    const assetLine =
      left === 0 && d
        ? `ok      ${asset}: ${d.partitions} partition${d.partitions === 1 ? "" : "s"}, ${d.rows} rows in ${Math.round(d.ms)} ms${vectorsLine(this.#vectors.get(asset))}\n`
        : "";
    if (line || assetLine) this.#print(line + assetLine);
  }
  #print(text: string): void {
    if (this.#bar) {
      // Lines go above the bar: clear it, print, draw it again.
      process.stderr.write("\r\x1b[K");
      this.#io.out(text);
      this.#bar.render();
    } else this.#io.out(text);
  }
  stop(): void {
    this.#bar?.stop();
  }
}

/** "; vectors: 1 embedded, 205 unchanged, 0 deleted (local:tributary-hashing-v1/256, not a semantic model)" */
function vectorsLine(records: readonly VectorsRecord[] | undefined): string {
  if (!records || records.length === 0) return "";
  const sum = (f: (r: VectorsRecord) => number) => records.reduce((n, r) => n + f(r), 0);
  const models = [...new Set(records.map((r) => r.model))].join(", ");
  const semantic = records.every((r) => r.semantic) ? "" : ", not a semantic model";
  return `; vectors: ${sum((r) => r.embedded)} embedded, ${sum((r) => r.unchanged)} unchanged, ${sum((r) => r.deleted)} deleted (${models}${semantic})`;
}

function warningLines(o: RunOutcome): string {
  if (o.status !== "materialized") return "";
  return o.checks
    .filter((c) => !c.passed)
    .map((c) => `warning ${label(o.item.asset, o.item.partition)}: check "${c.name}": ${c.message}\n`)
    .join("");
}

function outcomeLine(o: RunOutcome): string {
  const name = label(o.item.asset, o.item.partition);
  if (o.status === "failed") {
    const failed = o.checks.filter((c) => !c.passed && c.blocking);
    if (failed.length === 0) return `FAILED  ${name}: ${o.error}\n`;
    const details = failed
      .map(
        (c) =>
          `\n    check "${c.name}" failed: ${c.message}${c.sample.map((r) => `\n      ${JSON.stringify(r)}`).join("")}`,
      )
      .join("");
    return `FAILED  ${name}:${details}\n`;
  }
  if (o.status === "skipped") return `skipped ${name}: ${o.reason}\n`;
  return "";
}

function summary(r: RunResult): string {
  const byAsset = new Map<
    string,
    { materialized: number; fresh: number; failed: number; skipped: number; rows: number; ms: number }
  >();
  for (const o of r.outcomes) {
    const s = byAsset.get(o.item.asset) ?? {
      materialized: 0,
      fresh: 0,
      failed: 0,
      skipped: 0,
      rows: 0,
      ms: 0,
    };
    s[o.status]++;
    if (o.status === "materialized") s.rows += o.manifest!.rowCount;
    s.ms += o.ms;
    byAsset.set(o.item.asset, s);
  }
  const rows = [...byAsset].map(([asset, s]) => [
    asset,
    String(s.materialized),
    String(s.fresh),
    String(s.failed),
    String(s.skipped),
    String(s.rows),
    `${Math.round(s.ms)} ms`,
  ]);
  const c = r.counts;
  const verdict =
    c.materialized === 0 && c.failed === 0 && c.skipped === 0
      ? `everything is fresh: ${c.fresh} asset partitions up to date`
      : `${c.materialized} materialised, ${c.fresh} fresh, ${c.failed} failed, ${c.skipped} skipped`;
  const table =
    rows.length > 0
      ? formatTable(["asset", "materialised", "fresh", "failed", "skipped", "rows", "time"], rows)
      : "";
  return `${table}${verdict} in ${(r.ms / 1000).toFixed(1)} s (run ${r.runId})\n`;
}

function toJson(r: RunResult) {
  return {
    runId: r.runId,
    counts: r.counts,
    ms: Math.round(r.ms),
    outcomes: r.outcomes.map((o) => ({
      asset: o.item.asset,
      partition: o.item.partition,
      status: o.status,
      reason: o.item.reason,
      dataVersion: o.item.dataVersion,
      ...("manifest" in o && o.manifest
        ? { rows: o.manifest.rowCount, files: o.manifest.files.map((f) => f.key) }
        : {}),
      ...("manifest" in o && o.manifest?.vectors ? { vectors: o.manifest.vectors } : {}),
      ...("checks" in o ? { checks: o.checks } : {}),
      ...("error" in o && o.error ? { error: o.error } : {}),
      ...(o.status === "skipped" ? { skippedBecause: o.reason } : {}),
      ms: Math.round(o.ms),
    })),
  };
}
