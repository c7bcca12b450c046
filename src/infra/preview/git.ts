/**
 * The revisions a preview compares, read from git without the network: a ref resolved to its commit,
 * and a temporary worktree holding the project as it was at that commit (removed afterwards). The
 * worktree borrows the project's installed packages, so its graph module and Pulumi program load as
 * they do in the project.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { TributaryError } from "../../kit/errors.ts";

export class PreviewError extends TributaryError {
  override name = "PreviewError";
}

function git(cwd: string, args: readonly string[]): string {
  return execFileSync("git", ["-c", "core.hooksPath=/dev/null", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

/** The top folder of the git repository holding `dir`. */
export function gitTop(dir: string): string {
  try {
    return git(dir, ["rev-parse", "--show-toplevel"]);
  } catch {
    throw new PreviewError(
      `${dir} is not in a git repository: tributary diff compares two git revisions of the project.`,
    );
  }
}

/** The commit a ref names; a PreviewError naming the ref when there is none. */
export function commitOf(top: string, ref: string): string {
  try {
    return git(top, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  } catch {
    throw new PreviewError(
      `no git revision "${ref}" in ${top}. Check the name, or fetch it first (e.g. \`git fetch origin main\` for origin/main); tributary diff never fetches.`,
    );
  }
}

/** Whether the working tree differs from HEAD (tracked files changed or files added). */
export function isDirty(top: string): boolean {
  return git(top, ["status", "--porcelain", "--untracked-files=normal"]).length > 0;
}

/**
 * Run `fn` with the project as it was at `commit`: `fn` receives the project's folder inside a
 * temporary worktree (the same path below the repository's top as `project`). The worktree is removed
 * afterwards, whatever happens.
 */
export async function withWorktree<T>(
  project: string,
  commit: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const top = gitTop(project);
  const below = path.relative(top, path.resolve(project));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-diff-"));
  const tree = path.join(tmp, "tree");
  try {
    git(top, ["worktree", "add", "--detach", "--quiet", tree, commit]);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const detail = (e as { stderr?: string }).stderr?.trim() ?? (e as Error).message;
    throw new PreviewError(`could not check out ${commit.slice(0, 12)} into a temporary worktree: ${detail}`);
  }
  try {
    const dir = path.join(tree, below);
    // Installed packages are not in git: borrow the project's (and the repository's, in a monorepo).
    for (const [from, to] of [
      [path.join(project, "node_modules"), path.join(dir, "node_modules")],
      [path.join(top, "node_modules"), path.join(tree, "node_modules")],
    ] as const) {
      if (fs.existsSync(from) && !fs.existsSync(to) && fs.existsSync(path.dirname(to))) {
        fs.symlinkSync(fs.realpathSync(from), to, "dir");
      }
    }
    return await fn(dir);
  } finally {
    try {
      git(top, ["worktree", "remove", "--force", tree]);
    } catch {
      // Removed below; prune forgets it.
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      git(top, ["worktree", "prune"]);
    } catch {
      // Nothing to prune.
    }
  }
}
