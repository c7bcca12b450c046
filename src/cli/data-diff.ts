/**
 * `tributary diff --data`: the same input replayed through the base and head revisions, each
 * materialised by the engine into a throwaway store, and each asset the change may alter compared
 * (runtime/engine/compare.ts).
 *
 * The base store gets the input (the sample data by default, or what `--replay` names, copied: the
 * replayed store is only read) and materialises what the compared base assets need. The head store
 * starts as a copy of it (hard links: committed objects are never rewritten, a write replaces a file),
 * so the head's materialisation finds every unchanged upstream asset fresh by its data version and
 * computes only what the change touches. With `--data-cache <dir>` the base store is that folder and
 * kept: the next run's base materialisation finds it fresh.
 */
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AssetDataDiff, DataDiff } from "../contract/data-diff.ts";
import { layout } from "../contract/storage-layout.ts";
import type { RevisionModule } from "../infra/preview/diff.ts";
import type { AssetDef } from "../kit/asset.ts";
import { TributaryError } from "../kit/errors.ts";
import type { AssetGraph } from "../kit/graph.ts";
import { compareRows, PARTITION_COLUMN } from "../runtime/engine/compare.ts";
import { Duck } from "../runtime/engine/duckdb.ts";
import { Scratch } from "../runtime/engine/files.ts";
import { ingest } from "../runtime/engine/ingest.ts";
import { materialize } from "../runtime/engine/materialize.ts";
import { committedRowsByPartition } from "../runtime/engine/read.ts";
import { StoreState } from "../runtime/engine/state.ts";
import { TokenKeys } from "../runtime/engine/tokens.ts";
import { LocalStore } from "../runtime/storage/local.ts";
import type { ObjectStore } from "../runtime/storage/port.ts";
import { ensureSampleData, sampleHookOf } from "./samples.ts";
import { storeSecrets } from "./store.ts";

export class DataDiffError extends TributaryError {
  override name = "DataDiffError";
}

export interface DataDiffOptions {
  /** A store (folder with `_manifests/`, or URI) or a folder of event files per source, read only. */
  readonly replay?: string;
  /** Keep the base revision's store in this folder, and reuse what it holds. */
  readonly cache?: string;
  readonly progress?: (step: string) => void;
  /** Opens a store URI (the CLI's, for cloud stores). */
  readonly openUri?: (uri: string) => Promise<ObjectStore>;
}

const URI = /^[a-z][a-z0-9+.-]*:\/\//;

/** Replay the input through both revisions and compare each of `assets` (the changed and downstream). */
export async function dataDiff(
  base: RevisionModule,
  head: RevisionModule,
  assets: readonly string[],
  opts: DataDiffOptions,
): Promise<DataDiff> {
  const progress = opts.progress ?? (() => {});
  const tmp = mkdtempSync(join(tmpdir(), "tributary-data-diff-"));
  try {
    const baseDir = opts.cache ? resolve(opts.cache) : join(tmp, "base");
    mkdirSync(baseDir, { recursive: true });
    const baseStore = new LocalStore(baseDir);
    const graphOf = (r: RevisionModule) => r.graph;
    const input = await prepareInput(base, head, baseStore, opts);
    const at = (r: RevisionModule, key: string) =>
      r.graph?.has(key) && r.graph.get(key).kind === "asset" ? (r.graph.get(key) as AssetDef) : undefined;
    const compared = assets.filter((k) => at(base, k) || at(head, k));
    // Tokenisation keys made once, in the base store: both revisions tokenise alike.
    for (const r of [base, head]) {
      const g = graphOf(r);
      if (!g) continue;
      const keys = new TokenKeys(g, storeSecrets(baseStore));
      for (const k of g.order) if (g.get(k).kind === "asset") await keys.of(k);
    }
    progress(`materialising ${base.ref} (${base.commit.slice(0, 7)})`);
    const baseFailed = await run(
      base.graph,
      baseStore,
      compared.filter((k) => at(base, k)),
    );
    const headDir = join(tmp, "head");
    linkTree(baseDir, headDir);
    // An Iceberg table names its files by their absolute location, so a linked table is still the base's:
    // the assets compared start the head without their tables, records and vectors, and are materialised
    // again at the head's location. What they read upstream stays shared.
    for (const key of compared) {
      if (!at(head, key)) continue;
      for (const prefix of [
        layout.curatedPrefix(key),
        layout.manifestPrefix(key),
        layout.outboxPrefix(key),
        layout.vectorsPrefix(key),
        `_failures/${key}/`,
      ]) {
        rmSync(join(headDir, prefix), { recursive: true, force: true });
      }
    }
    const headStore = new LocalStore(headDir);
    progress(`materialising ${head.ref}`);
    const headFailed = await run(
      head.graph,
      headStore,
      compared.filter((k) => at(head, k)),
    );

    progress(`comparing ${compared.length} asset${compared.length === 1 ? "" : "s"}`);
    const duck = await Duck.open();
    const sides = [new StoreState(baseStore), new StoreState(headStore)] as const;
    const scratch = [new Scratch(baseStore), new Scratch(headStore)] as const;
    const out: AssetDataDiff[] = [];
    try {
      for (const key of compared) {
        const b = at(base, key);
        const h = at(head, key);
        const failed = (b && baseFailed.get(key)) ?? (h && headFailed.get(key));
        if (failed) {
          out.push({ key, verdict: "failed", error: failed });
          continue;
        }
        const read = async (i: 0 | 1, a: AssetDef) =>
          (await committedRowsByPartition(sides[i], scratch[i], a, PARTITION_COLUMN)).sql;
        if (!b || !h) {
          const a = (h ?? b)!;
          const [r] = await duck.rows(`SELECT count(*)::BIGINT AS n FROM (${await read(h ? 1 : 0, a)})`);
          const n = Number(r!.n);
          out.push({
            key,
            verdict: h ? "added" : "removed",
            rows: { base: h ? 0 : n, head: h ? n : 0, added: h ? n : 0, removed: h ? 0 : n, changed: 0 },
          });
          continue;
        }
        const sameColumns =
          JSON.stringify(Object.keys(b.schema.properties)) ===
          JSON.stringify(Object.keys(h.schema.properties));
        if (!sameColumns) {
          out.push({
            key,
            verdict: "failed",
            error:
              "its columns differ between the revisions: compared by the schema change above, not row by row",
          });
          continue;
        }
        const key_ = keyOf(h);
        out.push(
          await compareRows(duck, {
            asset: key,
            schema: h.schema,
            base: await read(0, b),
            head: await read(1, h),
            ...(key_ ? { key: key_ } : {}),
            ...(h.diff?.expect ? { expect: h.diff.expect } : {}),
          }),
        );
      }
    } finally {
      duck.close();
      await Promise.all(scratch.map((s) => s.cleanup()));
    }
    return { input, assets: out };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The key rows are matched by: the declared `diff.key`, else the columns of its (first) unique check. */
function keyOf(a: AssetDef): { columns: readonly string[]; from: "declared" | "unique check" } | undefined {
  if (a.diff?.key) return { columns: a.diff.key, from: "declared" };
  const u = a.checks.find((c) => c.kind === "unique");
  return u && u.kind === "unique" ? { columns: u.columns, from: "unique check" } : undefined;
}

/**
 * Materialise `keys` and what they read; the assets that failed (or were skipped), with why. A failure
 * is a finding, not an error: the comparison says it.
 */
async function run(
  graph: AssetGraph | undefined,
  store: ObjectStore,
  keys: readonly string[],
): Promise<Map<string, string>> {
  const failed = new Map<string, string>();
  if (!graph || keys.length === 0) return failed;
  const result = await materialize(graph, store, {
    selection: keys.map((k) => `+${k}`).join(","),
    keys: new TokenKeys(graph, storeSecrets(store)),
  });
  for (const o of result.outcomes) {
    if (failed.has(o.item.asset)) continue;
    const label = o.item.partition ? ` (partition ${o.item.partition})` : "";
    if (o.status === "failed") {
      const check = o.checks.find((c) => !c.passed && c.blocking);
      failed.set(
        o.item.asset,
        `failed to materialise${label}: ${check ? `check "${check.name}" failed: ${check.message}` : o.error}`,
      );
    } else if (o.status === "skipped") failed.set(o.item.asset, `skipped${label}: ${o.reason}`);
  }
  return failed;
}

/** Put the replay input into the base store, unless it already holds source data (a cached store). */
async function prepareInput(
  base: RevisionModule,
  head: RevisionModule,
  store: ObjectStore,
  opts: DataDiffOptions,
): Promise<DataDiff["input"]> {
  const graph = base.graph ?? head.graph;
  if (!graph) return { kind: "sample", from: "no graph at either revision" };
  const sources = graph.order.filter((k) => graph.get(k).kind === "source");
  let filled = false;
  for (const s of sources) if ((await store.list(layout.batchPrefix(s))).length > 0) filled = true;
  const replay = opts.replay;
  if (replay === undefined) {
    const hook = sampleHookOf(head.project, head.exports) ?? sampleHookOf(base.project, base.exports);
    if (!hook) {
      throw new DataDiffError(
        "diff --data: the project has no sample data (a sampleData hook in tributary.config.ts or the graph module) to replay; give --replay <store or folder>.",
      );
    }
    if (!filled) await ensureSampleData(graph, store, hook, undefined);
    return { kind: "sample", from: `${hook.of} sample data` };
  }
  const isUri = URI.test(replay) && !replay.startsWith("file:");
  const local = isUri ? undefined : resolve(replay.replace(/^file:\/\//, ""));
  if (local !== undefined && !existsSync(local)) {
    throw new DataDiffError(`diff --data: --replay ${replay}: no such folder.`);
  }
  if (local !== undefined && !existsSync(join(local, "_manifests"))) {
    // A folder of event files: <folder>/<source>/… for each source it has.
    const found = sources.filter((s) => existsSync(join(local, s)));
    if (found.length === 0) {
      throw new DataDiffError(
        `diff --data: --replay ${replay} is neither a store (no _manifests/) nor a folder of event files per source (no folder named ${sources.join(" or ")}).`,
      );
    }
    if (!filled) {
      for (const s of found) {
        const source = graph.get(s);
        if (source.kind === "source") await ingest(store, source, [join(local, s)]);
      }
    }
    return { kind: "folder", from: replay };
  }
  const from = isUri ? await opts.openUri!(replay) : new LocalStore(local!);
  if (!filled) {
    let copied = 0;
    for (const s of sources) {
      // The committed batches and the raw objects they name: what a replay reads, and nothing else.
      for (const prefix of [layout.rawPrefix(s), layout.batchPrefix(s)]) {
        for (const o of await from.list(prefix)) {
          const body = await from.get(o.key);
          if (body) await store.put(o.key, body);
          copied++;
        }
      }
    }
    if (copied === 0) {
      throw new DataDiffError(
        `diff --data: --replay ${replay} holds no raw data of the graph's sources (${sources.join(", ")}).`,
      );
    }
  }
  return { kind: "store", from: replay };
}

/** Copy a folder tree as hard links (a copy where the file system refuses them). */
function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: statSync(from).mode & 0o777 });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isDirectory()) {
      if (e.name === "_locks") continue;
      linkTree(src, dst);
    } else if (e.isFile()) {
      try {
        linkSync(src, dst);
      } catch {
        copyFileSync(src, dst);
      }
    }
  }
}
