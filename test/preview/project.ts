/**
 * A throwaway project in a git repository, for `tributary diff`: a user's project, with the example's
 * Pulumi.yaml and program (deploy.ts, calling `tributary/pulumi`), node_modules linked to the
 * repository's (where `tributary` is this package), one stack file, and a graph module the test writes.
 * Each `commit` writes files and commits them.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EXAMPLE, REPO } from "../cli/run.ts";

export interface Project {
  readonly dir: string;
  /** Write the files (relative path → text) and commit them with `message`; returns the commit. */
  commit(files: Readonly<Record<string, string>>, message: string): string;
  git(...args: string[]): string;
  remove(): void;
}

export function project(): Project {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-preview-project-"));
  for (const p of ["Pulumi.yaml", "deploy.ts"]) fs.copyFileSync(path.join(EXAMPLE, p), path.join(dir, p));
  fs.writeFileSync(
    path.join(dir, "package.json"),
    `${JSON.stringify({ name: "preview-project", private: true, type: "module" }, null, 2)}\n`,
  );
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\n.tributary\n");
  const git = (...args: string[]) =>
    execFileSync(
      "git",
      ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", ...args],
      { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    ).trim();
  git("init", "--quiet", "--initial-branch=main");
  return {
    dir,
    git,
    commit(files, message) {
      for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.writeFileSync(path.join(dir, file), text);
      }
      git("add", "--all");
      git("commit", "--quiet", "-m", message);
      return git("rev-parse", "HEAD");
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A stack file like stacks/Pulumi.dev-aws.yaml, deploying `pipelines`, keeping raw events `rawDays`. */
export function awsStack(pipelines: readonly string[], rawDays: number): string {
  return [
    "config:",
    "  aws:region: eu-west-1",
    "  tributary:cloud: aws",
    "  tributary:environment: dev",
    "  tributary:namePrefix: shop",
    "  tributary:retentionDays:",
    `    raw: ${rawDays}`,
    "    quarantine: 14",
    "    curated: 7",
    "  tributary:alertEmail: data-alerts@example.com",
    "  tributary:owner: data-platform",
    "  tributary:costCentre: cc-1042",
    "  tributary:pipelines:",
    ...pipelines.map((p) => `    - ${p}`),
    "",
  ].join("\n");
}
