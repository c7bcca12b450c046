#!/usr/bin/env node
// The `tributary` command line: the package's compiled CLI (dist/). tsx's loaders are registered first
// (tributary/register), so the project's own TypeScript (graph module, tributary.config.ts) can be
// imported. In this repository dist/ is built by `npm ci` (prepare) and before the tests.
import { existsSync } from "node:fs";

// A reader that stops early (`tributary status | head`) is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    "tributary: the package is not built (no dist/cli/main.js): run `npm run build` in it.\n",
  );
  process.exit(1);
}
await import("../dist/cli/register.js");
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
