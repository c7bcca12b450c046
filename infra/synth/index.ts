/**
 * `synth`: what `pulumi up` would register for a stack, computed offline like `cdk synth`. It runs the
 * project's Pulumi program (Pulumi.yaml's `main`, the very module the CLI runs) under Pulumi's mocks in
 * a child process, with the stack's config read from `stacks/Pulumi.<stack>.yaml` and passed the way the
 * CLI passes it. Deterministic: the same graph and config give byte-identical JSON.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { TributaryError } from "../../assets/graph/errors.ts";
import { configMap, readStackConfig } from "../config.ts";
import type { Synthesis } from "./record.ts";

export type { ResourceRecord, Synthesis } from "./record.ts";

export class SynthError extends TributaryError {
  override name = "SynthError";
}

export interface PulumiProject {
  readonly name: string;
  /** The program, relative to the project's root. */
  readonly main: string;
  /** `runtime.options.nodeargs`, split at blanks. */
  readonly nodeargs: string[];
  /** `runtime.options.typescript` (the CLI's default: true): whether the runner loads TypeScript itself. */
  readonly typescript: boolean;
}

/** The Pulumi project at `root`: its name, program and how the CLI runs it, from Pulumi.yaml. */
export function pulumiProject(root: string): PulumiProject {
  const file = path.join(root, "Pulumi.yaml");
  if (!fs.existsSync(file)) {
    throw new SynthError(`no Pulumi.yaml in ${root}: run tributary from the project's root.`);
  }
  const project = parse(fs.readFileSync(file, "utf8")) as {
    name?: string;
    main?: string;
    runtime?: string | { options?: { nodeargs?: string; typescript?: boolean } };
  };
  if (!project?.name) throw new SynthError(`Pulumi.yaml: "name" is missing.`);
  const options = typeof project.runtime === "object" ? (project.runtime.options ?? {}) : {};
  return {
    name: project.name,
    main: project.main ?? "index.ts",
    nodeargs: (options.nodeargs ?? "").split(/\s+/).filter((a) => a !== ""),
    typescript: options.typescript !== false,
  };
}

export interface SynthOptions {
  /** The project root (where Pulumi.yaml is). */
  readonly root: string;
  readonly stack: string;
  /** Config values to set over the stack file's (tests use it to break a stack on purpose). */
  readonly override?: Readonly<Record<string, string>>;
}

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));

export async function synth(opts: SynthOptions): Promise<Synthesis> {
  const project = pulumiProject(opts.root);
  const config = { ...configMap(opts.root, opts.stack), ...opts.override };
  // Validate here too, so a bad stack file fails fast with its file and key, before a process starts.
  readStackConfig(config, opts.stack);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-synth-"));
  const out = path.join(dir, "synthesis.json");
  try {
    const request = {
      main: path.resolve(opts.root, project.main),
      project: project.name,
      stack: opts.stack,
      config,
      out,
    };
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, fail) => {
      // Pulumi's SDK holds about 0.3 MB per resource: a 2,000-asset graph outgrows Node's default heap.
      const child = spawn(process.execPath, ["--max-old-space-size=8192", "--import", "tsx", CHILD], {
        cwd: opts.root,
        env: { ...process.env, TRIBUTARY_SYNTH: JSON.stringify(request) },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", fail);
      child.on("close", (code) => done({ code, stderr }));
    });
    if (code !== 0 || !fs.existsSync(out)) {
      const result = fs.existsSync(out)
        ? (JSON.parse(fs.readFileSync(out, "utf8")) as { error?: string })
        : {};
      if (result.error) throw new SynthError(result.error);
      throw new Error(`synth of stack "${opts.stack}" crashed (exit ${code}):\n${stderr}`);
    }
    return JSON.parse(fs.readFileSync(out, "utf8")) as Synthesis;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
