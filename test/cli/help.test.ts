import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { REPO, STACK_LINE, tributary } from "./run.ts";

describe("tributary --help and --version", () => {
  test("--help lists every command; --version prints package.json's version", async () => {
    const help = await tributary(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatchInlineSnapshot(`
      "Usage: tributary [options] [command]

      A typed asset graph: validate it, ingest its sources, materialise its assets on
      DuckDB, inspect and trace them.

      Options:
        -v, --version                                  print the version
        --config <file>                                the project configuration (default: $TRIBUTARY_CONFIG, else the nearest tributary.config.ts)
        -h, --help                                     print help

      Commands:
        init [options] [dir]                           scaffold a project: a starter pipeline with sample data, its tests, stacks per cloud, CI
        validate [options]                             load the graph module and validate the graph; print a summary or every error
        list [options] [selection]                     list the selected assets in topological order
        lineage [options] [selection]                  print the static lineage of the selected assets
        ingest [options] <source> <inputs...>          validate, deduplicate and land a source's records; quarantine the invalid ones with their reason
        materialize|materialise [options] [selection]  materialise the stale partitions of the selected assets on DuckDB, in topological order
        replay [options] <source>                      re-derive everything downstream of a source's raw partitions in a time range, from raw (forced)
        status [options] [selection]                   per asset and partition: last materialised, rows, data version, fresh or stale and why, checks
        verify [options] [selection]                   read every committed file of the selected assets and sources and check it against its commit's SHA-256
        query [options] <sql>                          run one read-only DuckDB SELECT over the committed assets and sources, each a table named by its key
        search [options] <asset> <text>                the rows of one tenant nearest to a text in an embedding asset's vectors, with their cosine distances
        tables [options] [selection]                   each asset's Apache Iceberg table: its location, current snapshot, rows and files, partition fields
        compact [options] [selection]                  rewrite each partition whose table holds many small files as one file (same rows)
        gc [options]                                   expire table snapshots older than the grace period, and delete the objects no snapshot or record names
        secrets                                        the graph's secrets on this machine: who needs each, where its value comes from; rotate a key
        plan [options]                                 print the deployment plan of a stack: stores, buses, functions, triggers, grants, alarms
        synth [options]                                run the Pulumi program offline under mocks and print every resource a deploy registers
        bundle [options]                               build the folder a stack deploys as its functions' code: the graph, the engine and DuckDB
        invoke [options]                               run one cloud function's entry point on an event file, locally, like sam local invoke
        event [options]                                print a sample event as a cloud delivers it to a function, for tributary invoke
        diff [options]                                 preview a change for review: assets changed, schema verdicts, downstream impact, infrastructure per stack
        preview-comment [options] [preview.json...]    render \`pulumi preview --json\` output of one or more stacks as the pull-request comment
        ui [options]                                   serve the asset graph and its health as a page in the browser, on this machine only
      "
    `);
    const { version } = JSON.parse(readFileSync(`${REPO}/package.json`, "utf8")) as { version: string };
    expect(await tributary(["--version"])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });

  test("validate --help mentions --graph", async () => {
    const run = await tributary(["validate", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatchInlineSnapshot(`
      "Usage: tributary validate [options]

      load the graph module and validate the graph; print a summary or every error

      Options:
        --graph <module>  the graph module to load, relative to the current directory
                          (default: the project configuration's, else assets/index.ts)
        -h, --help        print help

      Global Options:
        -v, --version     print the version
        --config <file>   the project configuration (default: $TRIBUTARY_CONFIG, else
                          the nearest tributary.config.ts)
      "
    `);
  });

  test("list --help mentions --json, --graph and the selection syntax", async () => {
    const run = await tributary(["list", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatchInlineSnapshot(`
      "Usage: tributary list [options] [selection]

      list the selected assets in topological order

      Arguments:
        selection         which assets (default: all)

      Options:
        --json            print a JSON array instead of a table
        --graph <module>  the graph module to load, relative to the current directory
                          (default: the project configuration's, else assets/index.ts)
        -h, --help        print help

      Global Options:
        -v, --version     print the version
        --config <file>   the project configuration (default: $TRIBUTARY_CONFIG, else
                          the nearest tributary.config.ts)

      Selection (terms joined by commas; absent means every asset):
        key                the asset itself
        +key, key+, +key+  with everything upstream, downstream, or both
        2+key, key+1       with two levels upstream, one level downstream
        tag:NAME, group:NAME, owner:NAME, kind:source|asset   by attribute
        *                  every asset

      Examples:
        tributary list +customer_features
        tributary list group:commerce --json
      "
    `);
  });

  test("lineage --help mentions --format and its choices, --out and --graph", async () => {
    const run = await tributary(["lineage", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatchInlineSnapshot(`
      "Usage: tributary lineage [options] [selection]

      print the static lineage of the selected assets

      Arguments:
        selection          which assets (default: all)

      Options:
        --format <format>  output format (html: the asset-graph page as one
                           self-contained file) (choices: "mermaid", "dot", "json",
                           "html", default: "mermaid")
        --out <file>       write to this file instead of standard output
        --graph <module>   the graph module to load, relative to the current directory
                           (default: the project configuration's, else
                           assets/index.ts)
        -h, --help         print help

      Global Options:
        -v, --version      print the version
        --config <file>    the project configuration (default: $TRIBUTARY_CONFIG, else
                           the nearest tributary.config.ts)

      Selection (terms joined by commas; absent means every asset):
        key                the asset itself
        +key, key+, +key+  with everything upstream, downstream, or both
        2+key, key+1       with two levels upstream, one level downstream
        tag:NAME, group:NAME, owner:NAME, kind:source|asset   by attribute
        *                  every asset

      Examples:
        tributary lineage > lineage.mmd
        tributary lineage +daily_revenue --format dot --out lineage.dot
        tributary lineage --format html --out lineage.html
      "
    `);
  });

  test("usage errors exit 1 with commander's message and a hint, no stack", async () => {
    const command = await tributary(["lst"]);
    expect(command).toEqual({
      code: 1,
      stdout: "",
      stderr: "tributary: unknown command 'lst'\n(Did you mean list?)\n(run with --help for usage)\n",
    });
    const option = await tributary(["list", "--jsn"]);
    expect(option).toEqual({
      code: 1,
      stdout: "",
      stderr: "tributary: unknown option '--jsn'\n(Did you mean --json?)\n(run with --help for usage)\n",
    });
    expect(command.stderr + option.stderr).not.toMatch(STACK_LINE);
  });
});
