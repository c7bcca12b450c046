/**
 * The package's own modules found by path, for what starts them rather than imports them (esbuild, a
 * child process, the page's script). The same code runs from its TypeScript sources (src/: this
 * repository's tests and tsx) and from its compiled JavaScript (dist/: an installed package), and every
 * module of one copy must come from that copy: an AssetGraph of another copy is another class.
 */
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The export condition that selects the sources (package.json "exports"; vitest and tsconfig set it). */
export const SOURCE_CONDITION = "tributary:source";

/** Whether this copy of the package runs from its TypeScript sources (src/) rather than dist/. */
export const fromSource = import.meta.url.endsWith(".ts");

/**
 * The module `relative` (written as the source's name, `./child.ts`) to the module at `url`, as this
 * copy has it: the `.ts` source, or beside a compiled module the `.js` tsc wrote.
 */
export function moduleFile(url: string, relative: string): string {
  const file = fileURLToPath(new URL(relative, url));
  return fromSource ? file : file.replace(/\.ts$/, ".js");
}

/**
 * Node.js arguments for a child process that runs modules of this copy and a project's TypeScript: the
 * package's loader (`tributary/register`), and from the sources also the condition that resolves
 * `import "tributary"` in the project's modules to these sources.
 */
export function childNodeArgs(): string[] {
  if (!fromSource) return ["--import", pathToFileURL(moduleFile(import.meta.url, "../cli/register.ts")).href];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return [`--conditions=${SOURCE_CONDITION}`, "--import", tsx];
}
