/**
 * `synth`: what `pulumi up` would register for a stack, computed offline like `cdk synth`. It runs the
 * project's Pulumi program (Pulumi.yaml's `main`, the very module the CLI runs) under Pulumi's mocks in
 * a child process, with the stack's config read from the project's stacks folder
 * (`stacks/Pulumi.<stack>.yaml`) and passed the way the CLI passes it. Like `pulumi up`, the program
 * builds the functions' bundles when they are missing or stale. Deterministic: the same graph and
 * config give byte-identical JSON.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { childNodeArgs, moduleFile } from "../../contract/package-files.ts";
import { CONFIG_ENV, GRAPH_ENV, loadProject } from "../../contract/project.ts";
import { TributaryError } from "../../kit/errors.ts";
import { configMap, readStackConfig, stackFile, stacksShown } from "../config.ts";
import { checkStackConfigDir, pulumiProject } from "../pulumi-project.ts";
import type { Synthesis } from "./record.ts";

export type { ResourceRecord, Synthesis } from "./record.ts";

export class SynthError extends TributaryError {
  override name = "SynthError";
}

export { pulumiProject } from "../pulumi-project.ts";

export interface SynthOptions {
  /** The project root (where Pulumi.yaml is). */
  readonly root: string;
  readonly stack: string;
  /** Config values to set over the stack file's (tests use it to break a stack on purpose). */
  readonly override?: Readonly<Record<string, string>>;
  /** The project configuration file, relative to `root` (default: the nearest tributary.config.ts). */
  readonly config?: string;
  /** The graph module over the configuration's, relative to `root`. */
  readonly graph?: string;
  /** Told each progress line the program prints (a bundle it builds), as it prints it. */
  readonly progress?: (line: string) => void;
}

const CHILD = moduleFile(import.meta.url, "./child.ts");

export async function synth(opts: SynthOptions): Promise<Synthesis> {
  const pulumi = pulumiProject(opts.root);
  // The program reads the same project: the configuration file and graph module are handed to it.
  const tributary = await loadProject(opts.root, opts.config, opts.graph);
  checkStackConfigDir(path.resolve(opts.root), pulumi, tributary);
  const config = { ...configMap(tributary.root, opts.stack, tributary.stacks), ...opts.override };
  // Validate here too, so a bad stack file fails fast with its file and key, before a process starts.
  readStackConfig(config, opts.stack, stackFile(opts.stack, stacksShown(tributary.root, tributary.stacks)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-synth-"));
  const out = path.join(dir, "synthesis.json");
  try {
    const request = {
      main: path.resolve(opts.root, pulumi.main),
      project: pulumi.name,
      stack: opts.stack,
      config,
      out,
    };
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done, fail) => {
      // Pulumi's SDK holds about 0.3 MB per resource: a 2,000-asset graph outgrows Node's default heap.
      const env: NodeJS.ProcessEnv = { ...process.env, TRIBUTARY_SYNTH: JSON.stringify(request) };
      delete env[CONFIG_ENV];
      delete env[GRAPH_ENV];
      if (tributary.configFile) env[CONFIG_ENV] = tributary.configFile;
      if (opts.graph !== undefined || process.env[GRAPH_ENV]) env[GRAPH_ENV] = tributary.graph;
      const child = spawn(process.execPath, ["--max-old-space-size=8192", ...childNodeArgs(), CHILD], {
        cwd: opts.root,
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      let line = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        if (!opts.progress) return;
        // The program's own progress lines ("tributary: …") are passed on as they come.
        const lines = (line + d).split("\n");
        line = lines.pop() ?? "";
        for (const l of lines) if (l.startsWith("tributary: ")) opts.progress(l);
      });
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
