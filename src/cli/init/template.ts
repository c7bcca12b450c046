/**
 * The project `tributary init` writes: the files of templates/init/, copied with a few words filled in. A
 * template file holds `{{name}}`-style placeholders; a path segment starting with `_` becomes a dot file
 * or folder (`_gitignore` → `.gitignore`), because npm leaves `.gitignore` files out of a package.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The words a template file may use, e.g. `{{name}}`. */
export interface TemplateValues {
  /** The project's name: package.json's and Pulumi.yaml's. */
  readonly name: string;
  /** The stacks' `tributary:namePrefix`: cloud resource names start with it. */
  readonly namePrefix: string;
  /** The starter pipeline's first daily partition ("2026-11-30"). */
  readonly firstDay: string;
}

/** One file of the new project: its path (relative, `/`-separated) and its text. */
export interface ProjectFile {
  readonly path: string;
  readonly text: string;
}

/** The folder holding this package's package.json: the package root, from src/ as from a build. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/**
 * Where the template lives in the package: outside src/, because its TypeScript is the user's project,
 * shipped as it is and never compiled with the package's own.
 */
export const TEMPLATE_DIR = "templates/init";

/** Every file of the template, rendered with `values`, sorted by path. */
export function renderTemplate(values: TemplateValues, root: string = packageRoot()): ProjectFile[] {
  const dir = join(root, TEMPLATE_DIR);
  return filesUnder(dir)
    .map((file) => ({
      path: projectPath(relative(dir, file)),
      text: fill(readFileSync(file, "utf8"), values, file),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** A template path as the project's: `/`-separated, `_name` segments as `.name`. */
export function projectPath(templatePath: string): string {
  return templatePath
    .split(sep)
    .map((segment) => (segment.startsWith("_") ? `.${segment.slice(1)}` : segment))
    .join("/");
}

const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** `text` with every `{{word}}` replaced by its value; a word without one is a bug in the template. */
export function fill(text: string, values: TemplateValues, file: string): string {
  return text.replace(PLACEHOLDER, (_, word: string) => {
    if (!Object.hasOwn(values, word))
      throw new Error(`${file}: the template uses {{${word}}}, which has no value`);
    return values[word as keyof TemplateValues];
  });
}
