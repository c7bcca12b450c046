/**
 * `tributary diff` and `tributary preview-comment`: the pull-request preview of a change, as Markdown
 * for one comment or as JSON.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { previewDiff } from "../../infra/preview/diff.ts";
import { PreviewError } from "../../infra/preview/git.ts";
import { COMMENT_LIMIT, MARKER, renderMarkdown } from "../../infra/preview/markdown.ts";
import { previewOfDigest, readPreviewDigest } from "../../infra/preview/pulumi-preview.ts";
import { PREVIEW_VERSION, type Preview, type StackPreview } from "../../infra/preview/types.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import { piiColumns, piiFlows } from "../../runtime/lineage/pii.ts";
import type { Io } from "../io.ts";
import { proposedSchemaChanges, statusStore } from "./status.ts";

export interface DiffCommandOptions {
  base: string;
  head?: string;
  stack?: string[];
  format: "markdown" | "json";
  synth: boolean;
  exitCode?: boolean;
  out?: string;
  graph?: string;
  config?: string;
  /** A store to read CDC sources' proposed schema changes from (a folder or a store URI). */
  store?: string;
  /** Replay sample data through both revisions and compare the changed assets' data. */
  data?: boolean;
  /** With --data: replay this store (folder or URI) or folder of event files instead of the sample data. */
  replay?: string;
  /** With --data: keep the base revision's materialisation in this folder, and reuse it. */
  dataCache?: string;
}

export async function diffCommand(opts: DiffCommandOptions, io: Io): Promise<number> {
  const progress = (step: string) => io.err(`tributary: ${step}…\n`);
  const data = opts.data || opts.replay !== undefined || opts.dataCache !== undefined;
  const preview = await previewDiff({
    root: process.cwd(),
    base: opts.base,
    ...(opts.head ? { head: opts.head } : {}),
    ...(opts.stack && opts.stack.length > 0 ? { stacks: opts.stack } : {}),
    synth: opts.synth,
    ...(opts.graph ? { graph: opts.graph } : {}),
    ...(opts.config ? { config: opts.config } : {}),
    progress,
    pii: async (graph) => piiColumns(await piiFlows(graph)),
    ...(data
      ? {
          data: async (base, head, assets) => {
            const { dataDiff } = await import("../data-diff.ts");
            return dataDiff(base, head, assets, {
              ...(opts.replay === undefined ? {} : { replay: opts.replay }),
              ...(opts.dataCache === undefined ? {} : { cache: opts.dataCache }),
              progress,
              openUri: (uri) => statusStore(uri, opts),
            });
          },
        }
      : {}),
    ...(opts.store === undefined
      ? {}
      : {
          schemaChanges: async (graph) => {
            const state = new StoreState(await statusStore(opts.store, opts));
            return proposedSchemaChanges(graph, state, graph.select("kind:source"));
          },
        }),
  });
  write(
    opts.format === "json" ? `${JSON.stringify(preview, null, 2)}\n` : renderMarkdown(preview),
    opts.out,
    io,
  );
  if (opts.exitCode) {
    // Said on its own line too: a job's log shows why it failed without opening the comment.
    for (const r of preview.risks) if (r.kind === "data-expectation") io.err(`tributary: ${r.message}\n`);
  }
  return opts.exitCode && preview.risks.length > 0 ? 1 : 0;
}

export interface PreviewCommentOptions {
  stack?: string[];
  diff?: string;
  exitCode?: boolean;
  out?: string;
}

/**
 * Each file is the output of `pulumi preview --json` for one stack. The stack's name comes from
 * `--stack` (in the files' order), else from the file's name (`prod-aws.json`, `preview-prod-aws.json`).
 * With `--diff`, the graph and plan sections of a `tributary diff --format json` join them, and each
 * stack's resources are Pulumi's (against what is deployed) instead of the synthesised ones.
 */
export async function previewCommentCommand(
  files: readonly string[],
  opts: PreviewCommentOptions,
  io: Io,
): Promise<number> {
  if (files.length === 0 && !opts.diff) {
    throw new PreviewError(
      "give the output of `pulumi preview --json` for one or more stacks, or --diff with the output of `tributary diff --format json`, or both.",
    );
  }
  if (opts.stack && opts.stack.length > 0 && opts.stack.length !== files.length) {
    throw new PreviewError(
      `${files.length} preview file${files.length === 1 ? "" : "s"} but ${opts.stack.length} --stack name${opts.stack.length === 1 ? "" : "s"}: give one name per file, in the same order, or none.`,
    );
  }
  const base = opts.diff ? readDiff(opts.diff) : undefined;
  const stacks: StackPreview[] = [];
  const risks = [...(base?.risks ?? [])];
  files.forEach((file, i) => {
    const stack = opts.stack?.[i] ?? stackOfFile(file);
    const digest = readPreviewDigest(readText(file), file);
    const { stack: preview, risks: found } = previewOfDigest(digest, stack);
    const planned = base?.stacks.find((s) => s.stack === preview.stack);
    // The diff's plan changes stay; Pulumi's resources replace the synthesised ones, and their risks too.
    stacks.push({ ...preview, ...(planned?.plan ? { plan: planned.plan } : {}) });
    for (let r = risks.length - 1; r >= 0; r--) {
      const risk = risks[r]!;
      if (risk.stack === preview.stack && risk.subject.startsWith("urn:")) risks.splice(r, 1);
    }
    risks.push(...found);
  });
  for (const s of base?.stacks ?? []) if (!stacks.some((x) => x.stack === s.stack)) stacks.push(s);
  const preview: Preview = {
    version: PREVIEW_VERSION,
    ...(base?.base ? { base: base.base } : {}),
    ...(base?.head ? { head: base.head } : {}),
    ...(base?.graph ? { graph: base.graph } : {}),
    stacks,
    risks,
    ...(base?.data ? { data: base.data } : {}),
  };
  write(renderMarkdown(preview), opts.out, io);
  return opts.exitCode && preview.risks.length > 0 ? 1 : 0;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new PreviewError(
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}

function readDiff(file: string): Preview {
  let doc: unknown;
  try {
    doc = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof PreviewError) throw e;
    throw new PreviewError(`${file} is not JSON: ${(e as Error).message}`);
  }
  const p = doc as Partial<Preview> | null;
  if (typeof p !== "object" || p === null || p.version !== PREVIEW_VERSION || !Array.isArray(p.stacks)) {
    throw new PreviewError(
      `${file} is not the output of \`tributary diff --format json\` (version ${PREVIEW_VERSION} with "stacks").`,
    );
  }
  return p as Preview;
}

/** `prod-aws.json`, `preview-prod-aws.json`, `prod-aws.preview.json` → prod-aws. */
export function stackOfFile(file: string): string | undefined {
  const name = path
    .basename(file)
    .replace(/\.json$/i, "")
    .replace(/^preview[-_.]/i, "")
    .replace(/[-_.]preview$/i, "");
  // A file named only "preview.json" says nothing: the steps' URNs name the stack.
  return name === "" || /^preview$/i.test(name) ? undefined : name;
}

function write(text: string, out: string | undefined, io: Io): void {
  if (text.startsWith(MARKER) && text.length > COMMENT_LIMIT) {
    // Only when the risks alone are longer than a comment: said, and written whole rather than cut.
    io.err(
      `tributary: the comment is ${text.length} characters, over GitHub's ${COMMENT_LIMIT}, though it lists only the risks; GitHub will refuse it: attach the JSON (--format json) instead.\n`,
    );
  }
  if (out) fs.writeFileSync(out, text);
  else io.out(text);
}
