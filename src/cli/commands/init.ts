/**
 * `tributary init [dir]`: scaffolds a project that works as it is: package.json (the folder's own, with
 * what the project needs added), the project configuration, a starter pipeline with seeded sample data,
 * its tests, the Pulumi program and one example stack per cloud, the pull-request workflow and a README.
 * It writes nothing when any file it would write exists: it names them and exits 1.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { TributaryError } from "../../kit/errors.ts";
import { type PackageNeeds, planPackageJson } from "../init/package-json.ts";
import { packageRoot, renderTemplate } from "../init/template.ts";
import { conflicts, writeProject } from "../init/write.ts";
import type { Io } from "../io.ts";

export interface InitOptions {
  /** The tributary dependency spec (default: this package's name and version). */
  tributary?: string;
  /** The project's name (default: the folder's). */
  name?: string;
  /** Run `npm install` in the folder afterwards. */
  install?: boolean;
  /** Today, for the starter pipeline's first day (tests pin it). */
  now?: Date;
}

/** The stacks the template writes, one per cloud. */
export const INIT_STACKS = ["dev-aws", "dev-gcp", "dev-azure"] as const;

/** Days of sample data the starter pipeline has: its first day is this many days before today. */
const SAMPLE_DAYS = 7;

export async function initCommand(dir: string | undefined, opts: InitOptions, io: Io): Promise<number> {
  const target = resolve(dir ?? ".");
  if (existsSync(target) && !statSync(target).isDirectory()) {
    throw new TributaryError(`${target} is a file; give tributary init a folder (new or existing).`);
  }
  const pkgFile = join(target, "package.json");
  const existing = readPackageJson(pkgFile);
  const name =
    opts.name ?? projectName(typeof existing?.name === "string" ? existing.name : basename(target));
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || name.length > 100) {
    throw new TributaryError(
      `--name "${name}" cannot name a project: use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit.`,
    );
  }
  const now = opts.now ?? new Date();
  const files = renderTemplate({
    name,
    namePrefix: namePrefix(name),
    firstDay: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - SAMPLE_DAYS))
      .toISOString()
      .slice(0, 10),
  });

  // Check everything before writing anything.
  const taken = conflicts(
    target,
    files.map((f) => f.path),
  );
  if (taken.length > 0) {
    throw new TributaryError(
      `init would overwrite ${taken.length === 1 ? "1 file" : `${taken.length} files`} in ${target}: ${taken.join(", ")}. ` +
        "Nothing was written: move them away, or run tributary init in another folder.",
    );
  }
  const pkg = planPackageJson(existing, packageNeeds(name, opts.tributary));

  writeProject(target, [...files, { path: "package.json", text: pkg.text }]);

  // How to get there from here: a path down from the current folder, else the absolute one.
  const down = relative(process.cwd(), target);
  const where = down === "" ? "." : down.startsWith("..") ? target : down;
  io.out(`tributary init: project "${name}" in ${target}\n`);
  io.out(
    pkg.existed
      ? `  updated  package.json: ${pkg.changes.join("; ") || "nothing to add"}\n`
      : "  created  package.json\n",
  );
  for (const f of files) io.out(`  created  ${f.path}\n`);
  if (pkg.kept.length > 0) {
    io.out(
      `package.json keeps its own ${pkg.kept.map((s) => `scripts.${s}`).join(", ")}; the project's would be: ` +
        `${pkg.kept.map((s) => `"${s}": "${PROJECT_SCRIPTS[s]}"`).join(", ")}\n`,
    );
  }
  let installed = false;
  if (opts.install) {
    io.out("\nnpm install\n");
    const code = await npmInstall(target, io);
    if (code !== 0) {
      io.err(
        `tributary: npm install exited with ${code} in ${target}; the project is written: run npm install there.\n`,
      );
      return 1;
    }
    installed = true;
  }
  io.out(nextSteps(where, installed));
  return 0;
}

/** The scripts the project's package.json gets. */
const PROJECT_SCRIPTS: Readonly<Record<string, string>> = {
  test: "vitest run",
  typecheck: "tsc --noEmit",
  validate: "tributary validate",
  materialize: "tributary materialize",
  ui: "tributary ui",
};

/** What the project depends on: tributary, and the versions of the rest that tributary itself uses. */
function packageNeeds(name: string, spec: string | undefined): PackageNeeds {
  const own = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    name: string;
    version: string;
    engines?: { node?: string };
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const version = (deps: Record<string, string> | undefined, dep: string): string => {
    const range = deps?.[dep];
    if (range === undefined) throw new Error(`tributary's package.json does not list ${dep}`);
    return range;
  };
  return {
    name,
    // Published under another name (a scope), it is installed by alias so imports stay "tributary".
    tributary: spec ?? (own.name === "tributary" ? `^${own.version}` : `npm:${own.name}@^${own.version}`),
    tributaryGiven: spec !== undefined,
    // The program's Pulumi SDK: the one tributary deploys with (npm keeps a single copy).
    dependencies: { "@pulumi/pulumi": version(own.dependencies, "@pulumi/pulumi") },
    devDependencies: Object.fromEntries(
      ["@types/node", "typescript", "vitest"].map((d) => [d, version(own.devDependencies, d)]),
    ),
    scripts: PROJECT_SCRIPTS,
    node: own.engines?.node ?? ">=22.12",
  };
}

function readPackageJson(file: string): Record<string, unknown> | undefined {
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new TributaryError(
      `${file} is not valid JSON (${(e as Error).message}); fix it, then run tributary init again. Nothing was written.`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TributaryError(
      `${file} does not hold a JSON object; fix it, then run tributary init again. Nothing was written.`,
    );
  }
  return value as Record<string, unknown>;
}

function npmInstall(cwd: string, io: Io): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.platform === "win32" ? "npm.cmd" : "npm", ["install"], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      shell: process.platform === "win32",
    });
    child.stdout.setEncoding("utf8").on("data", (d: string) => io.out(d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => io.err(d));
    child.on("error", (e) => {
      io.err(`tributary: cannot run npm: ${e.message}\n`);
      done(1);
    });
    child.on("close", (code) => done(code ?? 1));
  });
}

function nextSteps(where: string, installed: boolean): string {
  const steps = [
    ...(where === "." ? [] : [[`cd ${/^[\w./-]+$/.test(where) ? where : JSON.stringify(where)}`, ""]]),
    ...(installed ? [] : [["npm install", "the project's packages (tests, type checks)"]]),
    ["npx tributary materialize", "materialise the sample week on this machine, in .tributary/"],
    ["npm test", "the pipeline's tests"],
    [
      `npx tributary synth --stack ${INIT_STACKS[0]} --check`,
      "what a deploy creates, offline, with the policy pack",
    ],
    [
      `pulumi up --stack ${INIT_STACKS[0]}`,
      "deploy it (README.md: credentials and the stack's values first)",
    ],
  ];
  const width = Math.max(...steps.filter(([, why]) => why).map(([c]) => c!.length));
  return `\nNext:\n${steps.map(([c, why]) => `  ${why ? `${c!.padEnd(width)}  ${why}` : c}`.trimEnd()).join("\n")}\n`;
}

/** A folder's name as a project name: lowercase, with anything npm or Pulumi refuses made a dash. */
export function projectName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 100);
  return name === "" ? "pipelines" : name;
}

/** The stacks' `tributary:namePrefix`: up to 12 lowercase letters, digits and dashes, from the name. */
export function namePrefix(name: string): string {
  const prefix = name
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 12)
    .replace(/-+$/, "");
  return prefix === "" ? "trib" : prefix;
}
