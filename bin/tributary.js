#!/usr/bin/env node
// The `tributary` command line. The CLI is written in TypeScript and runs from source: register tsx's
// ESM loader first, so the CLI and the project's graph module (also TypeScript) can be imported.
import { register } from "tsx/esm/api";

// A reader that stops early (`tributary status | head`) is not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw error;
});

register();
const { run } = await import("../src/cli/main.ts");
process.exitCode = await run(process.argv);
