/**
 * The `tributary` command line: every command is declared here; each implementation lives in its own
 * module under `commands/`, imported only when its command runs, so `tributary --help` loads nothing
 * heavier than commander.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
// The error classes only, not the kit's index: it would load the kit's dependencies on every `--help`.
import { TributaryError } from "../../assets/graph/errors.ts";
import { GraphModuleCrash } from "./errors.ts";
import { type Io, processIo } from "./io.ts";

const GRAPH_FLAGS = "--graph <module>";
const GRAPH_HELP = "the graph module to load, relative to the current directory (default: assets/index.ts)";

const SELECTION_HELP = `
Selection (terms joined by commas; absent means every asset):
  key                the asset itself
  +key, key+, +key+  with everything upstream, downstream, or both
  2+key, key+1       with two levels upstream, one level downstream
  tag:NAME, group:NAME, owner:NAME, kind:source|asset   by attribute
  *                  every asset`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** The program with every command; `setCode` receives each action's exit code. */
export function program(io: Io, setCode: (code: number) => void): Command {
  const cli = new Command("tributary")
    .description("A typed asset graph: validate it, list its assets and export its lineage.")
    .version(version(), "-v, --version", "print the version")
    .helpOption("-h, --help", "print help")
    .helpCommand(false)
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(text.replace(/^error: /, "tributary: ")),
    });

  cli
    .command("validate")
    .description("load the graph module and validate the graph; print a summary or every error")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (opts: { graph?: string }) => {
      const { validate } = await import("./commands/validate.ts");
      setCode(await validate(opts, io));
    });

  cli
    .command("list")
    .description("list the selected assets in topological order")
    .argument("[selection]", "which assets (default: all)")
    .option("--json", "print a JSON array instead of a table")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n\nExamples:\n  tributary list +customer_features\n  tributary list group:commerce --json`,
    )
    .action(async (selection: string | undefined, opts: { graph?: string; json?: boolean }) => {
      const { list } = await import("./commands/list.ts");
      setCode(await list(selection, opts, io));
    });

  cli
    .command("lineage")
    .description("print the static lineage of the selected assets")
    .argument("[selection]", "which assets (default: all)")
    .addOption(
      new Option("--format <format>", "output format").choices(["mermaid", "dot", "json"]).default("mermaid"),
    )
    .option("--out <file>", "write to this file instead of standard output")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n\nExamples:\n  tributary lineage > lineage.mmd\n  tributary lineage +daily_revenue --format dot --out lineage.dot`,
    )
    .action(
      async (
        selection: string | undefined,
        opts: { graph?: string; format: "mermaid" | "dot" | "json"; out?: string },
      ) => {
        const { lineage } = await import("./commands/lineage.ts");
        setCode(await lineage(selection, opts, io));
      },
    );

  return cli;
}

/** Run the command line on `argv` (as in `process.argv`) and return the exit code. */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code = 0;
  try {
    await program(io, (c) => {
      code = c;
    }).parseAsync([...argv]);
    return code;
  } catch (error) {
    return report(error, io);
  }
}

/**
 * The one top-level catch. A user error (TributaryError): its message, no stack, exit 1. Commander's
 * usage errors have been printed already: exit 1 (0 for --help and --version). Anything else is a bug:
 * the stack, and exit 2.
 */
function report(error: unknown, io: Io): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
  if (error instanceof TributaryError) {
    io.err(`tributary: ${error.message}\n`);
    return 1;
  }
  if (error instanceof GraphModuleCrash) {
    io.err(
      `${stackOf(error.cause)}\n\ntributary: ${error.message}. If the stack above points into the graph module, fix it there; ` +
        "otherwise this is a bug in Tributary: please report it with this output.\n",
    );
    return 2;
  }
  io.err(
    `${stackOf(error)}\n\ntributary: internal error. This is a bug in Tributary: please report it with this output.\n`,
  );
  return 2;
}

function stackOf(error: unknown): string {
  return error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : `thrown: ${String(error)}`;
}
