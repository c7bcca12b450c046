/**
 * The Pulumi project (Pulumi.yaml) beside a Tributary project: its name, its program, and where Pulumi
 * reads the stacks' config from, which must be the folder Tributary reads them from.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CONFIG_FILE, type Project } from "../contract/project.ts";
import { TributaryError } from "../kit/errors.ts";

/** Pulumi.yaml cannot serve the project. */
export class PulumiProjectError extends TributaryError {
  override name = "PulumiProjectError";
}

export interface PulumiProject {
  readonly name: string;
  /** The program, relative to the folder of Pulumi.yaml. */
  readonly main: string;
  /** Where Pulumi reads `Pulumi.<stack>.yaml` from: absolute (default: the folder of Pulumi.yaml). */
  readonly stackConfigDir: string;
  /** Whether Pulumi.yaml names the folder (else the default applies). */
  readonly namesStackConfigDir: boolean;
  /** `runtime.options.nodeargs`, split at blanks: how the language host starts the program. */
  readonly nodeargs: string[];
  /** `runtime.options.typescript` (Pulumi's default: true): whether the runner loads TypeScript itself. */
  readonly typescript: boolean;
}

/**
 * The folder of the Pulumi project that deploys `project`: the project's root when Pulumi.yaml is there,
 * else the folder holding its stacks folder (Pulumi.yaml's stackConfigDir) when it is there.
 */
export function pulumiRoot(project: Pick<Project, "root" | "stacks">): string {
  for (const dir of [project.root, path.dirname(project.stacks)]) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
  }
  return project.root;
}

/** The Pulumi project at `root`: its name and program, from Pulumi.yaml. */
export function pulumiProject(root: string): PulumiProject {
  const file = path.join(root, "Pulumi.yaml");
  if (!fs.existsSync(file)) {
    throw new PulumiProjectError(`no Pulumi.yaml in ${root}: run tributary from the project's root.`);
  }
  const project = parse(fs.readFileSync(file, "utf8")) as {
    name?: string;
    main?: string;
    stackConfigDir?: string;
    runtime?: string | { options?: { nodeargs?: string; typescript?: boolean } };
  } | null;
  if (!project?.name) throw new PulumiProjectError(`Pulumi.yaml: "name" is missing.`);
  const options = typeof project.runtime === "object" ? (project.runtime.options ?? {}) : {};
  return {
    name: project.name,
    main: project.main ?? "index.ts",
    stackConfigDir: path.resolve(root, project.stackConfigDir ?? "."),
    namesStackConfigDir: project.stackConfigDir !== undefined,
    nodeargs: (options.nodeargs ?? "").split(/\s+/).filter((a) => a !== ""),
    typescript: options.typescript !== false,
  };
}

/**
 * Refuses a Pulumi project (at `root`) whose stack files are not the Tributary project's: `tributary
 * plan` and `synth` would read other files than `pulumi up` deploys.
 */
export function checkStackConfigDir(root: string, pulumi: PulumiProject, project: Project): void {
  if (pulumi.stackConfigDir === project.stacks) return;
  const rel = (dir: string) => path.relative(root, dir).split(path.sep).join("/") || ".";
  const pulumiSays = pulumi.namesStackConfigDir
    ? `Pulumi.yaml reads the stacks' config from stackConfigDir "${rel(pulumi.stackConfigDir)}"`
    : "Pulumi.yaml names no stackConfigDir, so Pulumi reads the stacks' config beside it";
  const configured = project.configFile
    ? `${path.basename(project.configFile)}'s stacks`
    : `the default, no ${CONFIG_FILE}`;
  throw new PulumiProjectError(
    `${pulumiSays}, but the project's stack files are in "${rel(project.stacks)}" (${configured}): ` +
      `set stackConfigDir: ${rel(project.stacks)} in Pulumi.yaml, so that tributary plan and synth read the stack files pulumi up deploys.`,
  );
}
