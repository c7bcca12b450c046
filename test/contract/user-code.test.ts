/**
 * How an error is told to be the user's or Tributary's, and where in the user's source it points: on
 * errors whose stacks are written out, so each rule is checked on its own (the CLI and Pulumi tests
 * check the real loaders' errors end to end).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { importFailure, UserCodeError, userCodeFailure } from "../../src/contract/user-code.ts";
import { TributaryError } from "../../src/kit/errors.ts";
import { REPO } from "../cli/run.ts";

const dir = mkdtempSync(join(tmpdir(), "tributary-user-code-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, "index.ts");
writeFileSync(
  file,
  ['import { source } from "tributary";', "", "const tenants = settings.tenants;", ""].join("\n"),
);

/** An error of class `Kind` whose stack is exactly `frames` under its headline. */
function thrown(frames: string[], message = "settings is not defined", Kind = ReferenceError): Error {
  const e = new Kind(message);
  e.stack = [`${Kind.name}: ${message}`, ...frames].join("\n");
  return e;
}

const MODULE = { file, what: "graph module index.ts" };

const FRAME_3_17 = ["> 3 | const tenants = settings.tenants;", "    |                 ^", "  4 |"].join("\n");
const located = (shown: string) =>
  `${shown}:3:17: ReferenceError: settings is not defined\n  1 | import { source } from "tributary";\n  2 |\n${FRAME_3_17}`;

describe("whose an error is", async () => {
  test("the first frame in the user's project: their mistake, at that frame, shown relative to cwd", async () => {
    const e = thrown([
      `    at <anonymous> (${file}:3:17)`,
      "    at ModuleJob.run (node:internal/modules/esm/module_job:561:25)",
    ]);
    const failure = await importFailure(e, MODULE, dir);
    expect(failure).toBeInstanceOf(UserCodeError);
    expect(failure).toBeInstanceOf(TributaryError);
    expect(failure?.message).toBe(located("index.ts"));
    expect(failure?.position).toEqual({ file, line: 3, column: 17 });
    expect(failure?.cause).toBe(e);
    expect(userCodeFailure(e, dir)?.message).toBe(located("index.ts"));
  });

  test("frames of Node and of other libraries are passed over: the user's call is the place", async () => {
    const e = thrown([
      "    at JSON.parse (<anonymous>)",
      `    at parse (${REPO}/node_modules/yaml/dist/public-api.js:10:5)`,
      `    at async readTenants (${pathToFileURL(file).href}:3:17)`,
    ]);
    expect(userCodeFailure(e, dir)?.message).toBe(located("index.ts"));
  });

  test("a frame in this package above the user's: Tributary's bug, not theirs", async () => {
    const e = thrown(
      [`    at asset (${REPO}/src/kit/asset.ts:355:41)`, `    at <anonymous> (${file}:3:17)`],
      "Cannot read properties of undefined (reading 'schema')",
      TypeError,
    );
    expect(await importFailure(e, MODULE, dir)).toBeUndefined();
    expect(userCodeFailure(e, dir)).toBeUndefined();
    // The compiled package is this package too.
    const compiled = thrown([`    at asset (${REPO}/dist/kit/asset.js:200:10)`, `    at ${file}:3:17`]);
    expect(userCodeFailure(compiled, dir)).toBeUndefined();
  });

  test("a file outside the working directory is shown by its absolute path", async () => {
    const e = thrown([`    at ${file}:3:17`]);
    expect(userCodeFailure(e, REPO)?.message).toBe(located(file));
  });

  test("while loading, an error with no frame is the user's module's (only it was running), without a place", async () => {
    const enoent = thrown([], "ENOENT: no such file or directory, open 'settings.json'", Error);
    expect((await importFailure(enoent, MODULE, dir))?.message).toBe(
      "graph module index.ts threw while loading: Error: ENOENT: no such file or directory, open 'settings.json'",
    );
    expect((await importFailure("boom", MODULE, dir))?.message).toBe(
      'graph module index.ts threw while loading: "boom"',
    );
    // Later, in a run, a frameless error says nothing about whose it is: not the user's to fix.
    expect(userCodeFailure(enoent, dir)).toBeUndefined();
    expect(userCodeFailure("boom", dir)).toBeUndefined();
  });
});

describe("syntax errors", async () => {
  test("esbuild's (tsx's transform): its 0-based byte column becomes a 1-based column in characters", async () => {
    const source = join(dir, "café.ts");
    writeFileSync(source, '// é\nconst s = "café"; const x = ;\n');
    const e = new Error(`Transform failed with 1 error:\n${source}:2:29: ERROR: Unexpected ";"`);
    expect((await importFailure(e, { file: source, what: "graph module café.ts" }, dir))?.message).toBe(
      [
        'café.ts:2:29: SyntaxError: Unexpected ";"',
        "  1 | // é",
        '> 2 | const s = "café"; const x = ;',
        "    |                             ^",
        "  3 |",
      ].join("\n"),
    );
  });

  test("Node's, for an import it cannot link: the header's line and caret", async () => {
    const e = new SyntaxError("The requested module './other.ts' does not provide an export named 'nope'");
    e.stack = [
      `${file}:3`,
      "const tenants = settings.tenants;",
      "                ^",
      `SyntaxError: ${e.message}`,
      "    at #asyncInstantiate (node:internal/modules/esm/module_job:455:21)",
    ].join("\n");
    expect((await importFailure(e, MODULE, dir))?.message).toBe(
      `index.ts:3:17: SyntaxError: ${e.message}\n  1 | import { source } from "tributary";\n  2 |\n${FRAME_3_17}`,
    );
  });

  test("Node's, in a JavaScript file, which it does not place: esbuild finds it, in the file imported", async () => {
    const entry = join(dir, "graph.ts");
    writeFileSync(entry, 'import { tenants } from "./tenants.mjs";\nexport default [tenants];\n');
    writeFileSync(join(dir, "tenants.mjs"), 'export const tenants = ["acme",\n  "globex" "initech"];\n');
    const e = new SyntaxError("missing ] after element list");
    e.stack =
      "SyntaxError: missing ] after element list\n    at compileSourceTextModule (node:internal/modules/esm/utils:319:16)";
    expect((await importFailure(e, { file: entry, what: "graph module graph.ts" }, dir))?.message).toBe(
      [
        'tenants.mjs:2:12: SyntaxError: Expected "]" but found "\\"initech\\""',
        '  1 | export const tenants = ["acme",',
        '> 2 |   "globex" "initech"];',
        "    |            ^",
        "  3 |",
      ].join("\n"),
    );
  });

  test("in a file of this package: Tributary's bug", async () => {
    const e = new Error(
      `Transform failed with 1 error:\n${REPO}/src/kit/asset.ts:2:0: ERROR: Unexpected ";"`,
    );
    expect(await importFailure(e, MODULE, dir)).toBeUndefined();
  });
});
