/**
 * Build what you deploy: before the program registers a stack's functions, each bundle they run from
 * that is missing or stale (bundleProblem: another cloud or architecture, source maps, edited files,
 * a function the graph has and the bundle lacks, or sources changed since it was built) is built, with
 * a line on standard error before and after, as `tributary bundle` would build it. `pulumi up`,
 * `pulumi preview` and `tributary synth` all pass here; `tributary bundle` remains for a CI cache.
 *
 * Two programs that find the same folder stale (two stacks previewed at once) build it once: the
 * build holds a lock file beside the folder, and whoever waited checks the folder again.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { DeploymentPlan } from "../plan/types.ts";
import { type BundleNeed, bundleNeeds, bundleProblem } from "./fresh.ts";
import { type BundlesFolder, bundleFolder, describeFolder } from "./locate.ts";
import { type BundleCloud, readManifest } from "./manifest.ts";
import { BundleError } from "./native.ts";

export interface EnsureOptions {
  /** The program's working directory: relative bundle folders are resolved against it. */
  readonly cwd: string;
  /** The project's root, against which bundles record their sources. */
  readonly root: string;
  /** The project configuration file and graph module the program deploys, as `loadProject` takes them. */
  readonly config?: string;
  readonly graph?: string;
  /** Where progress lines go (default: standard error). */
  readonly progress?: (line: string) => void;
}

/** How long a waiting program checks the lock again; a build takes seconds. */
const LOCK_POLL_MS = 250;

/**
 * Build every bundle of `plan`'s functions that is missing or stale in `bundles`. Returns what it built,
 * as `<cloud>-<arch>` names (none when every bundle was up to date).
 */
export async function ensureBundles(
  plan: DeploymentPlan,
  bundles: BundlesFolder,
  opts: EnsureOptions,
): Promise<string[]> {
  const progress = opts.progress ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const problemOf = (need: BundleNeed) =>
    bundleProblem(path.resolve(opts.cwd, bundleFolder(bundles, need)), need, opts.root);
  const stale = bundleNeeds(plan, plan.cloud as BundleCloud).filter((need) => problemOf(need) !== undefined);
  if (stale.length === 0) return [];

  const built: string[] = [];
  const lock = path.resolve(opts.cwd, bundles.dir, ".tributary-bundle.lock");
  await withLock(lock, async () => {
    // Checked again under the lock: another program may have built them meanwhile.
    const todo = stale
      .map((need) => ({ need, folder: bundleFolder(bundles, need), problem: problemOf(need) }))
      .filter((t): t is typeof t & { problem: string } => t.problem !== undefined);
    if (todo.length === 0) return;
    for (const t of todo) {
      const full = path.resolve(opts.cwd, t.folder);
      if (fs.existsSync(full) && !readManifest(full) && !isEmptyDir(full)) {
        throw new BundleError(
          `stack ${plan.stack} deploys its functions from ${describeFolder(bundles, t.folder)}, which holds files that are not a Tributary bundle; ` +
            `they are left alone: empty the folder, or name another in ${bundles.from ?? "the project configuration's bundles"}.`,
        );
      }
    }
    for (const t of todo) {
      progress(
        `tributary: stack ${plan.stack} deploys its functions from ${describeFolder(bundles, t.folder)}, ${t.problem}: building it…`,
      );
    }
    const { bundleEach } = await import("./build.ts");
    const reports = await bundleEach(
      todo.map((t) => ({ cloud: t.need.cloud, arch: t.need.arch, out: path.resolve(opts.cwd, t.folder) })),
      {
        cwd: opts.root,
        ...(opts.config === undefined ? {} : { config: opts.config }),
        ...(opts.graph === undefined ? {} : { graph: opts.graph }),
        sourceMaps: plan.sourceMaps === true,
      },
    );
    reports.forEach((r, i) => {
      const mb = (r.totals.total / (1024 * 1024)).toFixed(1);
      progress(
        `tributary: built ${todo[i]!.folder} (${r.functions} assets and sources, ${mb} MB) in ${(r.milliseconds / 1000).toFixed(1)} s.`,
      );
      built.push(`${r.cloud}-${r.arch}`);
    });
  });
  return built;
}

function isEmptyDir(dir: string): boolean {
  return fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length === 0;
}

/**
 * Run `fn` holding the lock file `file` (created exclusively, holding this process's id). A lock whose
 * holder is no longer running (a build killed half-way) is taken over.
 */
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      if (!holderRuns(file)) fs.rmSync(file, { force: true });
      else await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function holderRuns(file: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return true; // Just removed: look again shortly.
  }
  if (text === "") return true; // Being written.
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
