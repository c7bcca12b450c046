import { BundleError, type BundleReport, bundle } from "../../infra/bundle/build.ts";
import type { BundleArch, BundleCloud } from "../../infra/bundle/manifest.ts";
import { configMap, readStackConfig, stackFile, stacksShown } from "../../infra/config.ts";
import type { Io } from "../io.ts";
import { commandProject } from "../project.ts";

export interface BundleCommandOptions {
  cloud?: BundleCloud;
  arch?: BundleArch;
  stack?: string;
  graph?: string;
  config?: string;
  out?: string;
  json?: boolean;
  /** Ship source maps (with --stack: what the stack's tributary:functions.sourceMaps says). */
  sourceMaps?: boolean;
}

/**
 * `tributary bundle --cloud aws|gcp|azure`: the folder a stack deploys as its functions' code. The
 * architecture is `--arch`, else the stack's (`--stack`: tributary:functions.architecture), else what
 * the cloud runs by default: arm64 on AWS (Tributary's default), x64 on GCP and Azure (their only one).
 */
export async function bundleCommand(opts: BundleCommandOptions, io: Io): Promise<number> {
  let cloud = opts.cloud;
  let arch = opts.arch;
  let sourceMaps = opts.sourceMaps ?? false;
  if (opts.stack) {
    const project = await commandProject(opts);
    const file = stackFile(opts.stack, stacksShown(project.root, project.stacks));
    const config = readStackConfig(configMap(project.root, opts.stack, project.stacks), opts.stack, file);
    if (cloud && cloud !== config.cloud) {
      throw new BundleError(
        `--cloud ${cloud} does not match stack ${opts.stack}, which deploys to ${config.cloud}; drop --cloud or name a stack on ${cloud}.`,
      );
    }
    cloud = config.cloud;
    arch ??= config.cloud === "aws" && config.functions.architecture === "arm64" ? "arm64" : "x64";
    const wanted = config.functions.sourceMaps ?? false;
    if (opts.sourceMaps && !wanted) {
      throw new BundleError(
        `--source-maps: stack ${opts.stack} deploys without source maps; set tributary:functions.sourceMaps: true in ${file}, or drop --source-maps.`,
      );
    }
    sourceMaps = wanted;
  }
  if (!cloud)
    throw new BundleError("name the cloud to bundle for: --cloud aws|gcp|azure, or --stack <name>.");
  arch ??= cloud === "aws" ? "arm64" : "x64";
  if (cloud !== "aws" && arch !== "x64") {
    throw new BundleError(
      `--arch ${arch}: ${cloud === "gcp" ? "Cloud Functions" : "Azure Functions"} run on x64 only.`,
    );
  }

  const report = await bundle({
    cloud,
    arch,
    ...(opts.graph === undefined ? {} : { graph: opts.graph }),
    ...(opts.config === undefined ? {} : { config: opts.config }),
    ...(opts.out === undefined ? {} : { out: opts.out }),
    sourceMaps,
  });
  io.out(opts.json ? `${JSON.stringify(report, null, 2)}\n` : text(report));
  return 0;
}

const MB = 1024 * 1024;
const size = (bytes: number) =>
  bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;

/** The folder's files with their sizes, the totals, and what to do next. */
export function text(r: BundleReport): string {
  const rows = grouped(r.files);
  const width = Math.max(...rows.map((f) => f.path.length));
  const lines = [
    `${r.cloud}-${r.arch} bundle of ${r.graph} (${r.functions} assets and sources) in ${r.out}, built in ${(r.milliseconds / 1000).toFixed(1)} s:`,
    ...rows.map((f) => `  ${f.path.padEnd(width)}  ${size(f.bytes).padStart(9)}  ${f.role}`),
    "",
    `bundle JS ${size(r.totals.bundle)}, native binding ${
      r.binding.shipped
        ? size(r.totals.binding)
        : `not shipped (${r.binding.package}@${r.binding.version}, installed by the Cloud Functions build)`
    }, total ${size(r.totals.total)}.`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * The files, a shipped package's (`node_modules/<package>/…`, its own node_modules included) as one
 * line, `node_modules/<package>/ (N files)`: LanceDB and Apache Arrow are hundreds of files.
 */
function grouped(files: BundleReport["files"]): { path: string; bytes: number; role: string }[] {
  const out: { path: string; bytes: number; role: string; files: number }[] = [];
  const packages = new Map<string, (typeof out)[number]>();
  for (const f of files) {
    const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.path);
    if (!m) {
      out.push({ ...f, files: 1 });
      continue;
    }
    let row = packages.get(m[1]!);
    if (!row) {
      row = { path: `node_modules/${m[1]}/`, bytes: 0, role: f.role, files: 0 };
      packages.set(m[1]!, row);
      out.push(row);
    }
    row.bytes += f.bytes;
    row.files++;
  }
  return out.map((r) =>
    r.path.endsWith("/") ? { path: `${r.path} (${r.files} files)`, bytes: r.bytes, role: r.role } : r,
  );
}
