/**
 * The published package: `npm pack` holds the compiled JavaScript and type declarations of every source,
 * the bin and the files the runtime reads, nothing of the repository besides (no sources, tests,
 * examples or build scripts), and every entry point names files it holds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { bundleEntry } from "../../src/infra/bundle/build.ts";
import { REPO } from "../cli/run.ts";
import { packed } from "./pack.ts";

interface Manifest {
  readonly private?: boolean;
  readonly bin: Record<string, string>;
  readonly files: readonly string[];
  readonly exports: Record<string, string | Record<string, string>>;
}
const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as Manifest;
const entries = Object.entries(manifest.exports).filter(
  (e): e is [string, Record<string, string>] => typeof e[1] === "object",
);

/** Every file below the repository's folder `dir`, relative to it. */
function filesOf(dir: string): string[] {
  const root = path.join(REPO, dir);
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(root, f)).isFile())
    .map((f) => f.split(path.sep).join("/"));
}

describe("npm pack", () => {
  it("holds each source compiled (JavaScript and declarations), the runtime's other files, the bin, init's template, and nothing else", async () => {
    const expected = [
      "README.md",
      "bin/tributary.js",
      "package.json",
      // `tributary init` copies its project template from the package.
      ...filesOf("templates").map((f) => `templates/${f}`),
      ...filesOf("src").flatMap((f) => {
        if (f.endsWith(".d.ts")) return []; // declarations for the sources only (the bundle's graph module)
        if (f.endsWith(".ts")) return [`dist/${f.slice(0, -3)}.js`, `dist/${f.slice(0, -3)}.d.ts`];
        return [`dist/${f}`];
      }),
    ].sort();
    const { files, size } = await packed();
    expect(files).toEqual(expected);
    expect(files).toContain("dist/infra/policy/PulumiPolicy.yaml");
    console.info(`npm pack: ${files.length} files, ${(size / 1024).toFixed(0)} KB`);
  });

  it("is publishable, and its bin and every entry point name files it holds", async () => {
    const { files } = await packed();
    expect(manifest.private).toBeUndefined();
    expect(Object.keys(manifest.exports)).toEqual([
      ".",
      "./pulumi",
      "./register",
      "./handlers/aws",
      "./handlers/gcp",
      "./handlers/azure",
      "./vectors",
      "./package.json",
    ]);
    const named = [manifest.bin.tributary!, ...entries.flatMap(([, e]) => [e.types!, e.default!])];
    expect(named.map((f) => f.replace(/^\.\//, "")).filter((f) => !files.includes(f))).toEqual([]);
  });

  it("maps each entry point's source (the tributary:source condition) to the file it compiles to", () => {
    for (const [name, e] of entries) {
      const source = e["tributary:source"]!;
      expect(fs.existsSync(path.join(REPO, source)), `${name}: ${source}`).toBe(true);
      const compiled = source.replace(/^\.\/src\//, "./dist/").replace(/\.ts$/, "");
      expect([e.types, e.default], name).toEqual([`${compiled}.d.ts`, `${compiled}.js`]);
      // Sources first: a resolver that knows the condition must find it before "types" and "default".
      expect(Object.keys(e), name).toEqual(["tributary:source", "types", "default"]);
    }
  });

  it("bundles the functions from the cloud entry points it exports", () => {
    for (const cloud of ["aws", "gcp", "azure"] as const) {
      const exported = manifest.exports[`./handlers/${cloud}`] as Record<string, string>;
      expect(bundleEntry(cloud)).toBe(path.join(REPO, exported["tributary:source"]!));
    }
  });
});
