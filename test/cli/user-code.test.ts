/**
 * A mistake in the user's own code (a syntax error, an undefined name, a module that throws while it
 * loads, a broken tributary.config.ts, a compute function that throws): every command that loads the
 * graph prints one `tributary:` line naming the file, line and column, then a code frame of the user's
 * TypeScript, and exits 1 without a stack. What Tributary's own code throws stays a bug: stack, exit 2.
 *
 * Syntax errors go through the real bin (tsx's esbuild reports them; under vitest another transformer
 * would); the other mistakes run in-process for every command, and through the bin once each.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { cli } from "./in-process.ts";
import { REPO, STACK_LINE, tributary } from "./run.ts";

const DIR = "test/fixtures/user-code";

/** The message each fixture gives, after `tributary: ` and the file as shown (`<file>:`). */
const MISTAKES = {
  "syntax-error": [
    `:13:5: SyntaxError: Expected "}" but found "eventId"`,
    `  11 |   source("orders", {`,
    `  12 |     schema: Type.Object({ id: Type.String(), at: Type.String() })`,
    `> 13 |     eventId: "id",`,
    `     |     ^`,
    `  14 |     eventTime: "at",`,
    `  15 |     tags: settings.tenants,`,
  ],
  "undefined-name": [
    ":14:17: ReferenceError: ordrs is not defined",
    "  12 | });",
    "  13 |",
    "> 14 | export default [ordrs];",
    "     |                 ^",
    "  15 |",
  ],
  "type-error": [
    ":15:20: TypeError: Cannot read properties of undefined (reading 'tenants')",
    `  13 |     eventId: "id",`,
    `  14 |     eventTime: "at",`,
    "> 15 |     tags: settings.tenants,",
    "     |                    ^",
    "  16 |   }),",
    "  17 | ];",
  ],
} as const;
type Mistake = keyof typeof MISTAKES;

/** The whole of stderr for `mistake`, its file shown as `file`. */
const stderrOf = (mistake: Mistake, file = `${DIR}/${mistake}.ts`) =>
  `tributary: ${file}${MISTAKES[mistake].join("\n")}\n`;

const tmp = mkdtempSync(join(tmpdir(), "tributary-user-code-"));
const input = join(tmp, "input.json");
writeFileSync(input, "{}\n");
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * Every command that loads the graph module (each `--graph` of src/cli/main.ts), with what else it
 * needs to get that far; `synth` takes its graph from the project configuration (below).
 */
const COMMANDS: [string, string[]][] = [
  ["validate", ["validate"]],
  ["list", ["list"]],
  ["lineage", ["lineage"]],
  ["ingest", ["ingest", "orders", input, "--store", join(tmp, "store")]],
  ["materialize", ["materialize", "--store", join(tmp, "store")]],
  ["status", ["status", "--store", join(tmp, "store")]],
  ["verify", ["verify", "--store", join(tmp, "store")]],
  ["query", ["query", "SELECT 1", "--store", join(tmp, "store")]],
  ["gc", ["gc", "--store", join(tmp, "store")]],
  ["secrets list", ["secrets", "list", "--store", join(tmp, "store")]],
  ["secrets rotate", ["secrets", "rotate", "pii_token_key", "--store", join(tmp, "store")]],
  ["secrets set", ["secrets", "set", "pii_token_key", "--store", join(tmp, "store")]],
  ["plan", ["plan", "--stack", "dev-aws"]],
  ["bundle", ["bundle", "--cloud", "aws", "--out", join(tmp, "bundle")]],
  ["invoke", ["invoke", "--cloud", "aws", "--event", input]],
  ["event", ["event", "--cloud", "aws", "--source", "orders", "--records", input]],
  ["ui", ["ui", "--port", "0"]],
];

/**
 * `tributary diff` shows its progress, and says which revision it was loading: the head, "working
 * tree" when the checkout has uncommitted changes, else "HEAD" (its commit varies too).
 */
const diffStderr = (mistake: Mistake) =>
  `tributary: loading the graph at <head>…\n${stderrOf(mistake).replace("tributary: ", "tributary: at <head> (<commit>): ")}`;
const withoutRevision = (stderr: string) =>
  stderr.replace(/ at (working tree|HEAD)\b/g, " at <head>").replace(/ \([0-9a-f]{7}\): /, " (<commit>): ");

describe("a syntax error in the graph module, through the bin: every command", () => {
  const graph = `${DIR}/syntax-error.ts`;
  test.concurrent.for(COMMANDS)("%s", async ([, args]) => {
    expect(await tributary([...args, "--graph", graph])).toEqual({
      code: 1,
      stdout: "",
      stderr: stderrOf("syntax-error"),
    });
  });

  test.concurrent("diff", async () => {
    const run = await tributary(["diff", "--base", "HEAD", "--no-synth", "--graph", graph]);
    expect({ ...run, stderr: withoutRevision(run.stderr) }).toEqual({
      code: 1,
      stdout: "",
      stderr: diffStderr("syntax-error"),
    });
  });
});

describe("an undefined name and a TypeError while loading, in-process: every command", () => {
  for (const mistake of ["undefined-name", "type-error"] as const) {
    test.for(COMMANDS)(`${mistake}: %s`, async ([, args]) => {
      expect(await cli(...args, "--graph", `${DIR}/${mistake}.ts`)).toEqual({
        code: 1,
        stdout: "",
        stderr: stderrOf(mistake),
      });
    });
  }
});

describe("through the bin, as a user runs it (tsx's source maps give the TypeScript positions)", () => {
  test.concurrent.for(["undefined-name", "type-error"] as const)("%s: validate", async (mistake) => {
    expect(await tributary(["validate", "--graph", `${DIR}/${mistake}.ts`])).toEqual({
      code: 1,
      stdout: "",
      stderr: stderrOf(mistake),
    });
  });

  test.concurrent("a syntax error in a JavaScript file it imports, which Node does not place", async () => {
    expect(await tributary(["validate", "--graph", `${DIR}/js-syntax-error.ts`])).toEqual({
      code: 1,
      stdout: "",
      stderr: [
        `tributary: ${DIR}/tenants.mjs:5:3: SyntaxError: Expected "]" but found "\\"initech\\""`,
        '  3 |   "acme",',
        '  4 |   "globex"',
        '> 5 |   "initech",',
        "    |   ^",
        "  6 | ];",
        "  7 |",
        "",
      ].join("\n"),
    });
  });

  test.concurrent("an import of a name the other module does not export: the import", async () => {
    expect(await tributary(["validate", "--graph", `${DIR}/missing-export.ts`])).toEqual({
      code: 1,
      stdout: "",
      stderr: [
        `tributary: ${DIR}/missing-export.ts:8:10: SyntaxError: The requested module './compute-throws.ts' does not provide an export named 'tenants'`,
        "   6 | }",
        "   7 |",
        '>  8 | import { tenants } from "./compute-throws.ts";',
        "     |          ^",
        "   9 |",
        "  10 | const settings: Settings = { tenants };",
        "",
      ].join("\n"),
    });
  });

  // synth has no --graph: it deploys the project configuration's graph module (here ../../<mistake>.ts,
  // outside the project's folder, so shown by its absolute path).
  test.concurrent.for(["syntax-error", "undefined-name", "type-error"] as const)(
    "%s: synth, from the project's configuration",
    async (mistake) => {
      const project = `${REPO}/${DIR}/projects/${mistake}`;
      expect(await tributary(["synth", "--stack", "dev-aws"], project)).toEqual({
        code: 1,
        stdout: "",
        stderr: stderrOf(mistake, `${REPO}/${DIR}/${mistake}.ts`),
      });
    },
  );
});

describe("a syntax error in tributary.config.ts", () => {
  const config = [
    'tributary: tributary.config.ts:6:3: SyntaxError: Expected "}" but found "stacks"',
    "  4 | export default defineConfig({",
    '  5 |   graph: "assets/index.ts"',
    '> 6 |   stacks: "stacks",',
    "    |   ^",
    "  7 | });",
    "  8 |",
    "",
  ].join("\n");
  test.concurrent.for([
    ["validate"],
    ["materialize", "--store", join(tmp, "config-store")],
    ["synth", "--stack", "dev-aws"],
  ])("%s", async (args) => {
    expect(await tributary(args, `${REPO}/${DIR}/broken-config`)).toEqual({
      code: 1,
      stdout: "",
      stderr: config,
    });
  });
});

describe("a compute function that throws while materialising", () => {
  const stderr = [
    "tributary: test/fixtures/user-code/compute-throws.ts:10:26: TypeError: Cannot read properties of undefined (reading 'country')",
    "   8 |",
    "   9 | function countryOf(order: Order): string {",
    "> 10 |   return order.customer!.country.toUpperCase();",
    "     |                          ^",
    "  11 | }",
    "  12 |",
    "",
  ].join("\n");

  test("through the bin: the user's line, exit 1, nothing committed", async () => {
    const store = join(tmp, "compute-bin");
    expect(await tributary(["materialize", "--graph", `${DIR}/compute-throws.ts`, "--store", store])).toEqual(
      { code: 1, stdout: "plan: 1 of 1 asset partitions to materialise\n", stderr },
    );
    // The run's lineage log (START, FAIL) and nothing else: no data file, no manifest.
    const files = (await readdir(store, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => relative(store, join(e.parentPath, e.name)));
    expect(files.filter((f) => !f.startsWith("_lineage/"))).toEqual([]);
  });

  test("in-process", async () => {
    const store = join(tmp, "compute-in-process");
    expect(await cli("materialize", "--graph", `${DIR}/compute-throws.ts`, "--store", store)).toEqual({
      code: 1,
      stdout: "plan: 1 of 1 asset partitions to materialise\n",
      stderr,
    });
  });
});

describe("what Tributary's own code throws stays a bug", () => {
  test("a kit function crashing on what the graph module gave it: the stack, exit 2", async () => {
    const run = await tributary(["validate", "--graph", `${DIR}/kit-crash.ts`]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe("TypeError: Cannot read properties of undefined (reading 'schema')");
    // The bin runs the compiled package (dist/), as an installed one does.
    expect(lines[1]).toMatch(new RegExp(`^ {4}at asset \\(file://${REPO}/dist/kit/asset\\.js:\\d+:\\d+\\)$`));
    expect(lines[2]).toBe(`    at <anonymous> (${REPO}/${DIR}/kit-crash.ts:7:17)`);
    expect(lines.at(-1)).toBe(
      `tributary: internal error: the graph module ${DIR}/kit-crash.ts threw while loading. This is a bug in Tributary: please report it with this output.`,
    );
  });

  test("a user's mistake never prints a stack frame", async () => {
    const run = await tributary(["validate", "--graph", `${DIR}/undefined-name.ts`]);
    expect(run.stderr).not.toMatch(STACK_LINE);
  });
});
