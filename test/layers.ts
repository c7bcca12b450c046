/**
 * The layers of src/ and the imports between them (docs/concepts.md):
 *   kit/       the declaration kit users import; imports nothing of ours
 *   contract/  what runtime/ and infra/ agree on (storage layout, bus messages, function environment,
 *              graph loading); imports only kit/
 *   runtime/   the engine, stores, handlers; imports only kit/ and contract/
 *   infra/     plan, cloud adapters, policy pack, synth, preview, bundles; imports only kit/ and contract/
 *   cli/       the one layer that reaches everything
 * Every import is read with TypeScript's own scanner (`ts.preProcessFile`): static imports and
 * re-exports, `import type`, `require`, and `import()` of a string literal.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";

export const LAYERS = ["kit", "contract", "runtime", "infra", "cli"] as const;
export type Layer = (typeof LAYERS)[number];

/** What each layer may import besides itself. */
export const ALLOWED: Readonly<Record<Layer, readonly Layer[]>> = {
  kit: [],
  contract: ["kit"],
  runtime: ["kit", "contract"],
  infra: ["kit", "contract"],
  cli: ["kit", "contract", "runtime", "infra"],
};

/** One source file and the specifiers it imports, as written. */
export interface FileImports {
  /** Relative to the package root, `/`-separated: `src/runtime/engine/steps.ts`. */
  readonly file: string;
  readonly imports: readonly string[];
}

/** Every specifier a file imports, in source order. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** Every .ts file under `src/` of `root`, with its imports. */
export function readSources(root: string): FileImports[] {
  const out: FileImports[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      else if (/\.[cm]?ts$/.test(e.name)) {
        out.push({ file: child, imports: importsOf(fs.readFileSync(path.join(root, child), "utf8")) });
      }
    }
  };
  walk("src");
  return out.sort((a, b) => (a.file < b.file ? -1 : 1));
}

/**
 * The package's own entry points (`tributary`, `tributary/pulumi`, …) as the source files they stand for:
 * an import of the package from inside it is an import of that file.
 */
export function selfExports(pkg: { name?: string; exports?: unknown }): Map<string, string> {
  const out = new Map<string, string>();
  const source = (target: unknown): string | undefined => {
    if (typeof target === "string") return target.startsWith("./src/") ? target.slice(2) : undefined;
    if (typeof target !== "object" || target === null) return undefined;
    const t = target as Record<string, unknown>;
    for (const condition of ["tributary:source", "types", "import", "default"]) {
      const found = source(t[condition]);
      if (found) return found;
    }
    return undefined;
  };
  const exports = pkg.exports;
  const entries =
    typeof exports === "string" || (typeof exports === "object" && exports !== null && !("." in exports))
      ? [[".", exports] as const]
      : Object.entries((exports ?? {}) as Record<string, unknown>);
  for (const [key, target] of entries) {
    const file = source(target);
    if (file && pkg.name) out.set(key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`, file);
  }
  return out;
}

/** The layer of a file under src/, or undefined when it is in none. */
export function layerOf(file: string): Layer | undefined {
  const [top, layer] = file.split("/");
  return top === "src" && (LAYERS as readonly string[]).includes(layer ?? "") ? (layer as Layer) : undefined;
}

/**
 * The file an import names, relative to the package root; undefined for another package's module
 * (node:fs, @pulumi/pulumi). A relative import keeps its path, extension and all.
 */
export function resolveImport(
  from: string,
  specifier: string,
  self: ReadonlyMap<string, string>,
): string | undefined {
  if (specifier.startsWith("."))
    return path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  return self.get(specifier);
}

/** The package's own manifest: the one file outside src/ that src/ may import (its version). */
const OWN_MANIFEST = "package.json";

/** Every import that breaks a layer rule, as `<file>: imports "<specifier>" (<why>)`. */
export function layerViolations(
  sources: readonly FileImports[],
  self: ReadonlyMap<string, string> = new Map(),
): string[] {
  const out: string[] = [];
  for (const { file, imports } of sources) {
    const layer = layerOf(file);
    if (!layer) {
      out.push(`${file}: is in no layer (src/${LAYERS.join("|")}/)`);
      continue;
    }
    for (const specifier of imports) {
      const target = resolveImport(file, specifier, self);
      if (target === undefined || target === OWN_MANIFEST) continue;
      const to = layerOf(target);
      if (!target.startsWith("src/")) {
        out.push(`${file}: imports "${specifier}" (${target}), outside src/`);
      } else if (!to) {
        out.push(`${file}: imports "${specifier}" (${target}), which is in no layer`);
      } else if (to !== layer && !ALLOWED[layer].includes(to)) {
        const may =
          ALLOWED[layer].length > 0 ? `only ${ALLOWED[layer].join(" and ")}/` : "nothing outside kit/";
        out.push(`${file}: imports "${specifier}" (${to}/): ${layer}/ may import ${may}`);
      }
    }
  }
  return out;
}

/**
 * The import cycles among the files, each as a path whose first and last files are the same
 * (`a.ts -> b.ts -> a.ts`), one per strongly connected group, starting at its first file by name.
 * Type-only imports count: a cycle of types is still two files that cannot be read one after the other.
 */
export function importCycles(
  sources: readonly FileImports[],
  self: ReadonlyMap<string, string> = new Map(),
): string[] {
  const known = new Set(sources.map((s) => s.file));
  const edges = new Map<string, string[]>();
  for (const { file, imports } of sources) {
    const targets = imports
      .map((s) => resolveImport(file, s, self))
      .filter((t): t is string => t !== undefined && known.has(t));
    edges.set(file, [...new Set(targets)].sort());
  }
  // Tarjan's strongly connected components, iterative enough for a few hundred files.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      const self = group.length === 1 && (edges.get(v) ?? []).includes(v);
      if (group.length > 1 || self) groups.push(group.sort());
    }
  };
  for (const f of [...known].sort()) if (!index.has(f)) visit(f);
  return groups
    .sort((a, b) => ((a[0] ?? "") < (b[0] ?? "") ? -1 : 1))
    .map((group) => cyclePath(group, edges).join(" -> "));
}

/** One cycle through a strongly connected group, from its first file back to it (breadth-first, shortest). */
function cyclePath(group: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[] {
  const members = new Set(group);
  const start = group[0] ?? "";
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() ?? "";
    for (const w of edges.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const pathBack = [v];
        for (let p = previous.get(v); p !== undefined; p = previous.get(p)) pathBack.push(p);
        return [...pathBack.reverse(), start];
      }
      if (!previous.has(w) && w !== start) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
