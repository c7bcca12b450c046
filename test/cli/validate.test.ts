import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE, REPO, STACK_LINE, tributary } from "./run.ts";

const fixture = (name: string) => `test/fixtures/graphs/${name}.ts`;

describe("tributary validate", () => {
  test("the reference graph is valid: a one-line summary, exit 0", async () => {
    expect(await tributary(["validate"])).toEqual({
      code: 0,
      stdout: "graph ok: 8 assets (2 sources, 6 assets), 7 edges, 5 levels\n",
      stderr: "",
    });
  });

  test("a module exporting a list of assets is built into a graph (and counts are singular when 1)", async () => {
    expect(await tributary(["validate", "--graph", fixture("small")])).toEqual({
      code: 0,
      stdout: "graph ok: 3 assets (1 source, 2 assets), 2 edges, 3 levels\n",
      stderr: "",
    });
  });

  // Each broken module: exit 1, the whole message naming the module and the assets, no stack.
  const broken: [string, string][] = [
    [
      "cycle",
      "tributary: graph module test/fixtures/graphs/cycle.ts: the graph is invalid (1 error):\n" +
        "  - graph: cycle between assets: a -> b -> c -> a. Remove one of these dependencies.\n",
    ],
    [
      "unknown-dep",
      "tributary: graph module test/fixtures/graphs/unknown-dep.ts: the graph is invalid (1 error):\n" +
        '  - graph: asset "revenue" depends on "ordres", which is not in the graph. Did you mean "orders"?\n',
    ],
    [
      "duplicate",
      "tributary: graph module test/fixtures/graphs/duplicate.ts: the graph is invalid (1 error):\n" +
        '  - graph: key "daily_revenue" is declared twice (two different assets). Keys must be unique across every pipeline of the graph.\n',
    ],
    [
      "invalid",
      "tributary: graph module test/fixtures/graphs/invalid.ts: the graph is invalid (2 errors):\n" +
        '  - graph: asset "refunds" depends on "order", which is not in the graph. Did you mean "orders"?\n' +
        '  - graph: asset "revenue": cron "0 25 * * *" is invalid: Constraint error, got value 25 expected range 0-23.\n',
    ],
    [
      "bad-export",
      "tributary: graph module test/fixtures/graphs/bad-export.ts: the default export is a number (42), not an AssetGraph or an array of assets and sources. End the module with `export default defineGraph([...])`.\n",
    ],
    [
      "no-default",
      "tributary: graph module test/fixtures/graphs/no-default.ts has no default export (it exports orders). End the module with `export default defineGraph([...])`.\n",
    ],
    [
      "bad-items",
      "tributary: graph module test/fixtures/graphs/bad-items.ts: the default export must list assets and sources (made by asset() and source()), or arrays of them:\n" +
        '  - item [1] is a string ("customers"), not an asset or source\n' +
        "  - item [2][1] is undefined, not an asset or source\n",
    ],
    [
      "missing",
      `tributary: no graph module at test/fixtures/graphs/missing.ts (in ${REPO}). Check the path given to --graph; it is resolved against the current directory.\n`,
    ],
  ];
  test.each(broken)("%s: exit 1 with the exact message and no stack", async (name, stderr) => {
    const run = await tributary(["validate", "--graph", fixture(name)]);
    expect(run).toEqual({ code: 1, stdout: "", stderr });
    expect(run.stderr).not.toMatch(STACK_LINE);
  });

  test("a broken module fails every command the same way, not only validate", async () => {
    const run = await tributary(["list", "--graph", fixture("cycle")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(broken[0]![1]);
  });

  test("without --graph, outside a project: names the path and the directory, suggests --graph", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tributary-cli-"));
    try {
      expect(await tributary(["validate"], dir)).toEqual({
        code: 1,
        stdout: "",
        stderr: `tributary: no graph module at assets/index.ts (in ${dir}). Run tributary from the project's root, or pass --graph <module> to load another graph module.\n`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("--graph naming a directory asks for the module file", async () => {
    expect(await tributary(["validate", "--graph", "assets"], EXAMPLE)).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "tributary: graph module assets is a directory; pass the module file to --graph, e.g. assets/index.ts.\n",
    });
  });

  test("a module throwing a plain Error is the user's mistake: its line and a code frame, exit 1, no stack", async () => {
    expect(await tributary(["validate", "--graph", fixture("throws")])).toEqual({
      code: 1,
      stdout: "",
      stderr: [
        "tributary: test/fixtures/graphs/throws.ts:5:9: Error: settings.json: unexpected end of JSON input",
        "  3 |",
        "  4 | function readSettings(): { tenants: string[] } {",
        '> 5 |   throw new Error("settings.json: unexpected end of JSON input");',
        "    |         ^",
        "  6 | }",
        "  7 |",
        "",
      ].join("\n"),
    });
  });
});
