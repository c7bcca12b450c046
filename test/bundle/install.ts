/**
 * `npm install` of a bundle's package.json dependencies, offline: each package and what it depends on,
 * copied from the repository's node_modules into a folder's, in npm's layout (hoisted packages at the
 * top, nested ones inside their parent). What the Cloud Functions build does with a GCP bundle's
 * package.json, without the network.
 */
import * as fs from "node:fs";
import * as path from "node:path";

interface PackageJson {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

export function installFrom(repo: string, dependencies: readonly string[], dest: string): string[] {
  const top = path.join(repo, "node_modules");
  const copied: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, from: string, optional: boolean) => {
    const dir = find(name, from, top);
    if (!dir) {
      if (optional) return;
      throw new Error(`${name} (needed from ${from}) is not installed in ${top}`);
    }
    if (seen.has(dir)) return;
    seen.add(dir);
    // Hoisted packages go to the top; nested ones came with their parent's folder.
    if (path.dirname(dir) === top || path.dirname(path.dirname(dir)) === top) {
      const rel = path.relative(top, dir);
      if (!rel.includes("node_modules")) {
        fs.cpSync(dir, path.join(dest, "node_modules", rel), { recursive: true, dereference: true });
        copied.push(rel);
      }
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as PackageJson;
    for (const d of Object.keys(pkg.dependencies ?? {})) visit(d, dir, false);
    for (const d of Object.keys(pkg.optionalDependencies ?? {})) visit(d, dir, true);
  };
  for (const d of dependencies) visit(d, repo, false);
  return copied.sort();
}

/** Node's lookup: `<dir>/node_modules/<name>` from `from` up to the repository's node_modules. */
function find(name: string, from: string, top: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return candidate;
    if (path.join(dir, "node_modules") === top || dir === path.dirname(dir)) return undefined;
  }
}
