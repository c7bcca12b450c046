/**
 * Writing the new project's files, all or nothing: `conflicts` finds what is in the way before anything
 * is written, and `writeProject` undoes its own work when a write fails half-way (a full disk, a folder
 * it may not write to).
 */
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import { TributaryError } from "../../kit/errors.ts";

/**
 * The paths (relative to `target`) that writing `paths` would overwrite, and the files standing where
 * a folder must go; package.json is not one of them (it is added to, not replaced).
 */
export function conflicts(target: string, paths: readonly string[]): string[] {
  const found = new Set<string>();
  for (const path of paths) {
    if (path === "package.json") continue;
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join("/");
      const stat = fs.statSync(join(target, folder), { throwIfNoEntry: false });
      if (stat !== undefined && !stat.isDirectory()) found.add(folder);
    }
    if (fs.existsSync(join(target, path))) found.add(path);
  }
  return [...found].sort();
}

/**
 * Writes `files` under `target` (package.json replaced, every other file new). If one cannot be
 * written, removes the files and folders it made and puts package.json back as it was, then throws.
 */
export function writeProject(
  target: string,
  files: readonly { path: string; text: string }[],
  writeFile: typeof fs.writeFileSync = fs.writeFileSync,
): void {
  const pkgFile = join(target, "package.json");
  const before = fs.existsSync(pkgFile) ? fs.readFileSync(pkgFile) : undefined;
  const made: string[] = [];
  try {
    for (const f of files) {
      const file = join(target, f.path);
      // The folders this file needs that are not there yet, outermost first.
      const missing: string[] = [];
      for (let d = dirname(file); !fs.existsSync(d); d = dirname(d)) missing.unshift(d);
      made.push(...missing);
      fs.mkdirSync(dirname(file), { recursive: true });
      writeFile(file, f.text, { flag: f.path === "package.json" ? "w" : "wx" });
      if (f.path !== "package.json") made.push(file);
    }
  } catch (e) {
    for (const path of made.reverse()) fs.rmSync(path, { recursive: true, force: true });
    if (before !== undefined) fs.writeFileSync(pkgFile, before);
    else fs.rmSync(pkgFile, { force: true });
    const error = e as NodeJS.ErrnoException;
    throw new TributaryError(
      `cannot write ${error.path ?? target} (${error.code ?? error.message}); nothing was written.`,
    );
  }
}
