/** Runs the CLI in this process (fast), with its output captured: for commands whose tests need many runs. */
import { run } from "../../src/cli/main.ts";

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(...args: string[]): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const code = await run(["node", "tributary", ...args], {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    tty: false,
  });
  return { code, stdout, stderr };
}

/** Replace what changes from run to run (times, run ids, durations, temp paths) with placeholders. */
export function normalise(text: string, dir?: string): string {
  let t = text;
  if (dir) t = t.replaceAll(dir, "<store>");
  return t
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g, "<time>")
    .replace(/run [0-9a-f-]{36}/g, "run <id>")
    .replace(/\d+(\.\d+)? (ms|s)\b/g, "<n> $2")
    .replace(/ok \(\S+ old, SLA/g, "ok (<age> old, SLA");
}
