#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` here and `npm pack` build it): the package's JavaScript
// and type declarations in dist/, compiled from src/ by tsc, plus the files of src/ that are not
// TypeScript and that the package reads at run time (the policy pack's PulumiPolicy.yaml and
// package.json). Incremental: `tsc -b` compiles only when a source is newer than its last build, and
// files of dist/ whose source is gone are removed, so dist/ holds exactly what src/ compiles to.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = path.join(ROOT, "src");
const DIST = path.join(ROOT, "dist");

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-b", path.join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });

/** Every file below `dir`, as paths relative to it. */
function files(dir) {
  return fs.existsSync(dir)
    ? fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile())
    : [];
}

const sources = new Set(files(SRC));
// What tsc writes for src/a/b.ts: dist/a/b.js and dist/a/b.d.ts.
const compiledFrom = (file) => file.replace(/\.d\.ts$|\.js$/, ".ts");
for (const file of files(DIST)) {
  if (file === ".tsbuildinfo") continue;
  const compiled = /\.(d\.ts|js)$/.test(file);
  if (compiled ? !sources.has(compiledFrom(file)) : !sources.has(file)) fs.rmSync(path.join(DIST, file));
}
for (const file of sources) {
  if (file.endsWith(".ts")) continue;
  const [from, to] = [path.join(SRC, file), path.join(DIST, file)];
  if (fs.existsSync(to) && fs.readFileSync(to).equals(fs.readFileSync(from))) continue;
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}
