#!/usr/bin/env node
// The `tributary` command line. The CLI is written in TypeScript and runs from source: register tsx's
// ESM loader first, so the CLI and the project's graph module (also TypeScript) can be imported.
import { register } from "tsx/esm/api";

register();
const { run } = await import("../runtime/cli/main.ts");
process.exitCode = await run(process.argv);
