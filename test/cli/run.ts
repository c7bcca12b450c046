/** Runs the real `tributary` bin in a child process and collects what it printed. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root (absolute, without a trailing slash). */
export const REPO = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
export const BIN = `${REPO}/bin/tributary.js`;
/**
 * The reference pipeline's project (its tributary.config.ts, Pulumi.yaml and program, stacks/): the
 * tests use it as a user's project, through the package's public entry points.
 */
export const EXAMPLE = `${REPO}/examples/commerce`;

export interface Run {
  /** The exit code (null if killed by a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/tributary.js ...args`, in `cwd` (default: the repository root). */
export function tributary(args: readonly string[], cwd: string = REPO): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  // FORCE_COLOR beside NO_COLOR makes Node print a warning on stderr; the output must be exact.
  delete env.FORCE_COLOR;
  return run(process.execPath, [BIN, ...args], { cwd, env });
}

/** `command ...args` in `cwd` (with `env`, default this process's), collecting what it printed. */
export function run(
  command: string,
  args: readonly string[],
  opts: { readonly cwd: string; readonly env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A line of a stack trace ("    at f (file:1:2)"): user errors must print none. */
export const STACK_LINE = /^\s+at .+/m;
