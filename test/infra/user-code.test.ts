/**
 * A mistake in the user's graph module or tributary.config.ts under `pulumi up` / `pulumi preview`: the
 * Pulumi program, run by Pulumi's own runner against the local engine, stops with a RunError whose
 * message is the file, line and column in the user's TypeScript and a code frame, and no stack frame.
 * The runner installs source-map-support, which cannot see tsx's source maps: the positions must still
 * be the TypeScript's.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runProgram } from "../../src/infra/synth/monitor.ts";
import { STACK_LINE } from "../cli/run.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const fixtures = path.join(repo, "test/fixtures/user-code");
const main = path.join(repo, "src/infra/program.ts");

/** The program, as Pulumi.yaml runs it (tsx registered), in the project folder `cwd`. */
async function failure(cwd: string, dryRun: boolean): Promise<string> {
  const run = runProgram({
    cwd,
    main,
    project: "tributary",
    stack: "dev",
    config: {},
    dryRun,
    nodeargs: ["--import", "tsx"],
  });
  const error = await run.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error).toBeInstanceOf(Error);
  return error!.message;
}

/** What happens, the project folder, a preview (else an update), the message's lines. */
type Case = [string, string, boolean, string[]];
const cases: Case[] = [
  [
    "a syntax error in the graph module (pulumi preview)",
    "projects/syntax-error",
    true,
    [
      `${fixtures}/syntax-error.ts:13:5: SyntaxError: Expected "}" but found "eventId"`,
      `  11 |   source("orders", {`,
      "  12 |     schema: Type.Object({ id: Type.String(), at: Type.String() })",
      `> 13 |     eventId: "id",`,
      "     |     ^",
      `  14 |     eventTime: "at",`,
      "  15 |     tags: settings.tenants,",
    ],
  ],
  [
    "an undefined name in the graph module (pulumi up)",
    "projects/undefined-name",
    false,
    [
      `${fixtures}/undefined-name.ts:14:17: ReferenceError: ordrs is not defined`,
      "  12 | });",
      "  13 |",
      "> 14 | export default [ordrs];",
      "     |                 ^",
      "  15 |",
    ],
  ],
  [
    "a graph module that throws a TypeError while it loads (pulumi up)",
    "projects/type-error",
    false,
    [
      `${fixtures}/type-error.ts:15:20: TypeError: Cannot read properties of undefined (reading 'tenants')`,
      `  13 |     eventId: "id",`,
      `  14 |     eventTime: "at",`,
      "> 15 |     tags: settings.tenants,",
      "     |                    ^",
      "  16 |   }),",
      "  17 | ];",
    ],
  ],
  [
    "a syntax error in tributary.config.ts (pulumi preview)",
    "broken-config",
    true,
    [
      `tributary.config.ts:6:3: SyntaxError: Expected "}" but found "stacks"`,
      "  4 | export default defineConfig({",
      '  5 |   graph: "assets/index.ts"',
      '> 6 |   stacks: "stacks",',
      "    |   ^",
      "  7 | });",
      "  8 |",
    ],
  ],
];

describe("the Pulumi program stops on a mistake in the user's code with its place, not a stack", () => {
  it.concurrent.for(cases)("%s", { timeout: 120_000 }, async ([, folder, dryRun, message]) => {
    const text = await failure(path.join(fixtures, folder), dryRun);
    // The runner exits 32 for a RunError and prints its message alone.
    expect(text).toBe(`Pulumi program ${main} exited with 32:\n${message.join("\n")}`);
    expect(text).not.toMatch(STACK_LINE);
  });
});
