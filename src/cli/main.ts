/**
 * The `tributary` command line: every command is declared here; each implementation lives in its own
 * module under `commands/`, imported only when its command runs, so `tributary --help` loads nothing
 * heavier than commander.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
// The error classes only, not the kit's index: it would load the kit's dependencies on every `--help`.
import { TributaryError } from "../kit/errors.ts";
import { GraphModuleCrash } from "./errors.ts";
import { type Io, processIo } from "./io.ts";
import { STORE_FLAGS, STORE_HELP } from "./store.ts";

const GRAPH_FLAGS = "--graph <module>";
const GRAPH_HELP =
  "the graph module to load, relative to the current directory (default: the project configuration's, else assets/index.ts)";
const CONFIG_HELP =
  "the project configuration (default: $TRIBUTARY_CONFIG, else the nearest tributary.config.ts)";

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
    .description(
      "A typed asset graph: validate it, ingest its sources, materialise its assets on DuckDB, inspect and trace them.",
    )
    .version(version(), "-v, --version", "print the version")
    .option("--config <file>", CONFIG_HELP)
    .helpOption("-h, --help", "print help")
    .helpCommand(false)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(text.replace(/^error: /, "tributary: ")),
    });
  /** A command's options with the global `--config`, which may come before or after the command. */
  const withConfig = <T extends object>(opts: T): T & { config?: string } => {
    const { config } = cli.opts<{ config?: string }>();
    return config === undefined ? opts : { ...opts, config };
  };

  cli
    .command("init")
    .description("scaffold a project: a starter pipeline with sample data, its tests, stacks per cloud, CI")
    .argument("[dir]", "the project's folder, new or existing (default: the current directory)")
    .option(
      "--tributary <spec>",
      "the tributary dependency to write, e.g. ^0.1.0, a tarball path or npm:@acme/tributary@0.1 (default: this version)",
    )
    .option("--name <name>", "the project's name in package.json and Pulumi.yaml (default: the folder's)")
    .option("--install", "run npm install in the folder afterwards")
    .addHelpText(
      "after",
      "\nWrites nothing if any file it would write exists. A package.json already there keeps what it says\n" +
        "and gets what the project needs added.\n" +
        "Examples:\n  npm init -y && npm install ./tributary-0.1.0.tgz && npx tributary init\n  npx tributary init my-pipelines --install",
    )
    .action(async (dir: string | undefined, opts: import("./commands/init.ts").InitOptions) => {
      const { initCommand } = await import("./commands/init.ts");
      setCode(await initCommand(dir, opts, io));
    });

  cli
    .command("validate")
    .description("load the graph module and validate the graph; print a summary or every error")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (opts: { graph?: string }) => {
      const { validate } = await import("./commands/validate.ts");
      setCode(await validate(withConfig(opts), io));
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
      setCode(await list(selection, withConfig(opts), io));
    });

  cli
    .command("lineage")
    .description("print the static lineage of the selected assets")
    .argument("[selection]", "which assets (default: all)")
    .addOption(
      new Option("--format <format>", "output format (html: the asset-graph page as one self-contained file)")
        .choices(["mermaid", "dot", "json", "html"])
        .default("mermaid"),
    )
    .option("--out <file>", "write to this file instead of standard output")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n\nExamples:\n  tributary lineage > lineage.mmd\n  tributary lineage +daily_revenue --format dot --out lineage.dot\n  tributary lineage --format html --out lineage.html`,
    )
    .action(
      async (
        selection: string | undefined,
        opts: { graph?: string; format: "mermaid" | "dot" | "json" | "html"; out?: string },
      ) => {
        const { lineage } = await import("./commands/lineage.ts");
        setCode(await lineage(selection, withConfig(opts), io));
      },
    );

  cli
    .command("ingest")
    .description(
      "validate, deduplicate and land a source's records; quarantine the invalid ones with their reason",
    )
    .argument("<source>", "the source's key, e.g. orders_cdc")
    .argument("<inputs...>", "NDJSON files (optionally gzip), folders of them, or - for standard input")
    .option("--max-record-bytes <n>", "quarantine records larger than this (default 1 MiB)")
    .option("--json", "print the batch manifest as JSON")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  tributary ingest orders_cdc exports/orders/\n  zcat orders.ndjson.gz | tributary ingest orders_cdc -",
    )
    .action(async (source: string, inputs: string[], opts: Record<string, unknown>) => {
      const { ingestCommand } = await import("./commands/ingest.ts");
      setCode(await ingestCommand(source, inputs, withConfig(opts), io));
    });

  cli
    .command("materialize")
    .alias("materialise")
    .description("materialise the stale partitions of the selected assets on DuckDB, in topological order")
    .argument("[selection]", "which assets (default: all)")
    .option(
      "--partition <key>",
      "only this partition (a time or static key selects every partition that has it)",
    )
    .option("--from <key>", "first time partition of a range, e.g. 2026-11-01")
    .option("--to <key>", "last time partition of a range, inclusive")
    .option("--force", "materialise even partitions that are fresh")
    .option("--dry-run", "print the plan (what is stale and why) and write nothing")
    .option("--json", "print the run's result as JSON")
    .option("--no-sample", "never generate and ingest the project's sample data")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n\nA partition is stale when it was never materialised, its asset's code version changed, or an input's data\nversion changed. On a store with no data for a source, the sample data (the project configuration's\nsampleData, else the graph module's sampleData export) is generated and ingested first.\n\nExamples:\n  tributary materialize\n  tributary materialize +daily_revenue --from 2026-11-01 --to 2026-11-07\n  tributary materialize curated_orders --partition acme --force`,
    )
    .action(async (selection: string | undefined, opts: Record<string, unknown>) => {
      const { materializeCommand } = await import("./commands/materialize.ts");
      setCode(await materializeCommand(selection, withConfig({ ...opts, tty: io.tty ?? false }), io));
    });

  cli
    .command("replay")
    .description(
      "re-derive everything downstream of a source's raw partitions in a time range, from raw (forced)",
    )
    .argument("<source>", "the source's key, e.g. orders_cdc")
    .requiredOption(
      "--from <date>",
      "first day of the range, e.g. 2026-11-01 (an hour, 2026-11-01T13, for hourly sources)",
    )
    .requiredOption("--to <date>", "last day of the range, inclusive")
    .option("--dry-run", "print what would be re-derived and write nothing")
    .option("--json", "print the run's result as JSON")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nReads only the raw zone (never the stream): every asset partition that reads the source's raw\n" +
        "partitions in the range, directly or through other assets, is materialised again, even when fresh,\n" +
        "each under its partition lock. Nothing is written to raw.\n\n" +
        "Examples:\n  tributary replay orders_cdc --from 2026-11-01 --to 2026-11-07 --dry-run\n  tributary replay orders_cdc --from 2026-11-03 --to 2026-11-03",
    )
    .action(async (source: string, opts: Record<string, unknown>) => {
      const { replayCommand } = await import("./commands/replay.ts");
      setCode(
        await replayCommand(
          source,
          withConfig({ ...(opts as { from: string; to: string }), tty: io.tty ?? false }),
          io,
        ),
      );
    });

  cli
    .command("status")
    .description(
      "per asset and partition: last materialised, rows, data version, fresh or stale and why, checks",
    )
    .argument("[selection]", "which assets (default: all)")
    .option("--all", "list every partition, not only those that need attention")
    .option("--json", "print JSON")
    .option(
      STORE_FLAGS,
      `${STORE_HELP}; or a deployed stack's curated store URI (s3://…, gs://…, https://<account>.blob.core.windows.net/<container>)`,
    )
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText("after", SELECTION_HELP)
    .action(async (selection: string | undefined, opts: Record<string, unknown>) => {
      const { statusCommand } = await import("./commands/status.ts");
      setCode(await statusCommand(selection, withConfig(opts), io));
    });

  cli
    .command("verify")
    .description(
      "read every committed file of the selected assets and sources and check it against its commit's SHA-256",
    )
    .argument("[selection]", "which assets and sources (default: all)")
    .option("--json", "print every file with its state as JSON")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n\nExits 1 when a file is corrupt (its bytes are not the committed ones) or missing. Files committed\nbefore Tributary recorded checksums are reported as unverified.\n\nExamples:\n  tributary verify\n  tributary verify +daily_revenue --json`,
    )
    .action(async (selection: string | undefined, opts: Record<string, unknown>) => {
      const { verifyCommand } = await import("./commands/verify.ts");
      setCode(await verifyCommand(selection, withConfig(opts), io));
    });

  cli
    .command("query")
    .description(
      "run one read-only DuckDB SELECT over the committed assets and sources, each a table named by its key",
    )
    .argument("<sql>", 'the query, e.g. "SELECT * FROM daily_revenue LIMIT 10"')
    .option("--json", "print the rows as JSON")
    .option("--limit <n>", "most rows to print as a table", "50")
    .option(
      "--as-of <snapshot|time>",
      "read the assets' tables as of a snapshot id (tributary tables), or as they were at a time, e.g. 2026-11-01T10:00:00Z",
    )
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (sql: string, opts: Record<string, unknown>) => {
      const { queryCommand } = await import("./commands/query.ts");
      setCode(await queryCommand(sql, withConfig(opts), io));
    });

  cli
    .command("search")
    .description(
      "the rows of one tenant nearest to a text in an embedding asset's vectors, with their cosine distances",
    )
    .argument("<asset>", "the embedding asset, e.g. recommendation_vectors")
    .argument("<text>", "the text to search for; it is embedded with the model that embedded the vectors")
    .requiredOption("--tenant <tenant>", "the tenant whose vectors are searched (only its rows come back)")
    .option("-k <n>", "how many rows", "10")
    .option("--json", "print the result as JSON")
    .option(
      "--store <dir|uri>",
      `${STORE_HELP}; or a deployed stack's curated store URI (s3://…, gs://…, https://<account>.blob.core.windows.net/<container>)`,
    )
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      '\nThe query is embedded as the run embedded the rows: with the model the table records, under $TRIBUTARY_VECTORS\n(default: the local hashing embedder, tributary-hashing-v1, which is not a semantic model).\nExamples:\n  tributary search recommendation_vectors "customer in DE; segment loyal" --tenant acme\n  tributary search recommendation_vectors "segment champion" --tenant globex -k 3 --json',
    )
    .action(async (asset: string, text: string, opts: import("./commands/search.ts").SearchOptions) => {
      const { searchCommand } = await import("./commands/search.ts");
      setCode(await searchCommand(asset, text, withConfig(opts), io));
    });

  cli
    .command("tables")
    .description(
      "each asset's Apache Iceberg table: its location, current snapshot, rows and files, partition fields",
    )
    .argument("[selection]", "which assets (default: all)")
    .option("--json", "print JSON")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      `${SELECTION_HELP}\n\nA table's location is what Iceberg readers open (DuckDB's iceberg_scan, Spark's Hadoop catalog).\n` +
        "Examples:\n  tributary tables\n  tributary tables daily_revenue --json",
    )
    .action(async (selection: string | undefined, opts: Record<string, unknown>) => {
      const { tablesCommand } = await import("./commands/tables.ts");
      setCode(await tablesCommand(selection, withConfig(opts), io));
    });

  cli
    .command("compact")
    .description("rewrite each partition whose table holds many small files as one file (same rows)")
    .argument("[selection]", "which assets (default: all)")
    .option(
      "--min-files <n>",
      "compact a partition holding at least this many files, averaging under 64 MiB",
      "8",
    )
    .option("--dry-run", "list what would be compacted")
    .option("--json", "print JSON")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (selection: string | undefined, opts: Record<string, unknown>) => {
      const { compactCommand } = await import("./commands/compact.ts");
      setCode(await compactCommand(selection, withConfig(opts), io));
    });

  cli
    .command("gc")
    .description(
      "expire table snapshots older than the grace period, and delete the objects no snapshot or record names",
    )
    .option(
      "--older-than <duration>",
      "the grace period: keep snapshots and objects younger than this, e.g. 30m, 2h, 1d",
      "1h",
    )
    .option("--dry-run", "list what would be deleted")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const { gcCommand } = await import("./commands/gc.ts");
      setCode(await gcCommand(withConfig(opts), io));
    });

  const secrets = cli
    .command("secrets")
    .description(
      "the graph's secrets on this machine: who needs each, where its value comes from; rotate a key",
    )
    .addHelpText(
      "after",
      "\nValues come from TRIBUTARY_SECRET_<NAME>, else the store's key files (<store>/_secrets/<name>, owner-only).\n" +
        "A tokenisation key is made there on first use. Values are never printed.\n" +
        "Examples:\n  tributary secrets list\n  tributary secrets rotate pii_token_key\n  openssl rand -base64 32 | tributary secrets set pii_token_key --replace",
    );
  secrets
    .command("list", { isDefault: true })
    .description(
      "every secret the graph declares: its use, who needs it, where its value comes from, its key id",
    )
    .option("--json", "print JSON")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (opts: Record<string, unknown>) => {
      const { secretsList } = await import("./commands/secrets.ts");
      setCode(await secretsList(withConfig(opts), io));
    });
  secrets
    .command("rotate")
    .description("give a tokenisation key a new key file; the next materialize re-tokenises with it")
    .argument("<name>", "the secret, e.g. pii_token_key")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (name: string, opts: Record<string, unknown>) => {
      const { secretsRotate } = await import("./commands/secrets.ts");
      setCode(await secretsRotate(name, withConfig(opts), io));
    });
  secrets
    .command("set")
    .description("store a secret's value, read from standard input, in its key file")
    .argument("<name>", "the secret")
    .option("--replace", "replace an existing key file")
    .option(STORE_FLAGS, STORE_HELP)
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (name: string, opts: Record<string, unknown>) => {
      const { secretsSet } = await import("./commands/secrets.ts");
      setCode(await secretsSet(name, withConfig(opts), io));
    });

  cli
    .command("plan")
    .description("print the deployment plan of a stack: stores, buses, functions, triggers, grants, alarms")
    .requiredOption("--stack <name>", "the stack, as in stacks/Pulumi.<name>.yaml")
    .option("--json", "print the whole plan as JSON")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  tributary plan --stack dev-aws\n  tributary plan --stack prod-aws --json",
    )
    .action(async (opts: { stack: string; json?: boolean; graph?: string }) => {
      const { plan } = await import("./commands/plan.ts");
      setCode(await plan(withConfig(opts), io));
    });

  cli
    .command("synth")
    .description("run the Pulumi program offline under mocks and print every resource a deploy registers")
    .requiredOption("--stack <name>", "the stack, as in stacks/Pulumi.<name>.yaml")
    .option("--json", "print every resource with its type, name, parent, inputs and options")
    .option("--check", "also run the security policy pack; violations exit 1")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nNo Pulumi CLI, credentials or network needed. The program is Pulumi.yaml's, beside the project configuration\n" +
        "(or its stacks folder); like `pulumi up`, it builds the functions' bundles when they are missing or stale.\n" +
        "Examples:\n  tributary synth --stack dev-aws\n  tributary synth --stack prod-aws --json --check",
    )
    .action(async (opts: { stack: string; json?: boolean; check?: boolean; graph?: string }) => {
      const { synth } = await import("./commands/synth.ts");
      setCode(await synth(withConfig(opts), io));
    });

  cli
    .command("bundle")
    .description("build the folder a stack deploys as its functions' code: the graph, the engine and DuckDB")
    .addOption(
      new Option("--cloud <cloud>", "the cloud whose functions run it").choices(["aws", "gcp", "azure"]),
    )
    .addOption(
      new Option(
        "--arch <arch>",
        "the functions' architecture (default: the stack's, else arm64 on aws, x64 elsewhere)",
      ).choices(["arm64", "x64"]),
    )
    .option("--stack <name>", "take the cloud and architecture from stacks/Pulumi.<name>.yaml")
    .option(
      "--out <dir>",
      "the folder to write (default: <cloud>-<arch> in the project configuration's bundles folder, dist/bundles, where the stacks look)",
    )
    .option("--json", "print the report as JSON")
    .option(
      "--source-maps",
      "ship source maps for stack traces (default: off, or the stack's tributary:functions.sourceMaps)",
    )
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  tributary bundle --cloud aws --arch arm64\n  tributary bundle --stack prod-azure --json",
    )
    .action(async (opts: import("./commands/bundle.ts").BundleCommandOptions) => {
      const { bundleCommand } = await import("./commands/bundle.ts");
      setCode(await bundleCommand(withConfig(opts), io));
    });

  cli
    .command("invoke")
    .description("run one cloud function's entry point on an event file, locally, like sam local invoke")
    .requiredOption("--cloud <cloud>", "aws, gcp or azure: whose entry point and event format")
    .requiredOption("--event <file>", "the event as the cloud delivers it (- reads standard input)")
    .option(
      "--asset <key>",
      "the function to run: the asset it materialises or the source it ingests (default: the one the event is for)",
    )
    .option(
      "--store <dir|uri>",
      "the store: a folder, or s3://, gs://, https://…blob… (default: $TRIBUTARY_STORE or .tributary)",
    )
    .option("--follow", "deliver what it announces to the consumers, and theirs, until nothing is left")
    .option("--json", "print the result and the announcements as JSON")
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nEmulators: set AWS_ENDPOINT_URL_S3 (s3rver), STORAGE_EMULATOR_HOST (GCS) or AZURE_STORAGE_CONNECTION_STRING (azurite).\n" +
        "Examples:\n  tributary event --cloud aws --source orders_cdc --records events.ndjson > sqs.json\n" +
        "  tributary invoke --cloud aws --event sqs.json --asset orders_cdc --follow",
    )
    .action(async (opts: import("./commands/invoke.ts").InvokeOptions) => {
      const { invokeCommand } = await import("./commands/invoke.ts");
      setCode(await invokeCommand(withConfig(opts), io));
    });

  cli
    .command("event")
    .description("print a sample event as a cloud delivers it to a function, for tributary invoke")
    .requiredOption("--cloud <cloud>", "aws, gcp or azure")
    .option("--source <key>", "source events of this source (with --records)")
    .option(
      "--stream <key>",
      "the change events of this CDC source (with --records: Debezium values, one a line) as its stream delivers them: a Kinesis event (aws), Pub/Sub pushes with ordering keys (gcp), an Event Hubs batch (azure)",
    )
    .option("--records <file>", "an NDJSON file: one record per line")
    .option("--materialised <asset>", "the announcement that this asset was materialised")
    .option("--partition <key>", "the announced partition (with --materialised)")
    .option("--data-version <v>", "the announced data version (with --materialised)")
    .option("--schedule <asset>", "a schedule tick of this asset")
    .option("--at <time>", "the scheduled time (ISO 8601; default now)")
    .option(
      "--http <mode>",
      "gcp: print the HTTP request that carries the event, { headers, body }: push (a Pub/Sub push), binary or structured (a CloudEvent in that content mode)",
    )
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .action(async (opts: import("./commands/invoke.ts").EventOptions) => {
      const { eventCommand } = await import("./commands/invoke.ts");
      setCode(await eventCommand(withConfig(opts), io));
    });

  cli
    .command("diff")
    .description(
      "preview a change for review: assets changed, schema verdicts, downstream impact, infrastructure per stack",
    )
    .requiredOption("--base <ref>", "the git revision the change is compared with, e.g. origin/main")
    .option(
      "--head <ref>",
      "the git revision of the change (default: the working tree, uncommitted changes included)",
    )
    .option("--stack <name...>", "only these stacks (default: every stack of either revision)")
    .addOption(
      new Option("--format <format>", "markdown (one pull-request comment) or json")
        .choices(["markdown", "json"])
        .default("markdown"),
    )
    .option("--no-synth", "compare the stacks' deployment plans only, not the synthesised resources (faster)")
    .option(
      "--exit-code",
      "exit 1 when the change breaks a consumer's schema, risks data loss or widens a privilege",
    )
    .option("--out <file>", "write to this file instead of standard output")
    .option(
      "--store <dir|uri>",
      "also say the proposed schema changes of CDC sources: columns their events landed in this store have and their rows do not declare",
    )
    .option(
      "--data",
      "replay the sample data through both revisions and compare the data of every changed asset and its downstream",
    )
    .option(
      "--replay <dir|uri>",
      "with --data: replay this store (read only) or folder of event files per source instead of the sample data",
    )
    .option(
      "--data-cache <dir>",
      "with --data: keep the base revision's materialisation in this folder and reuse it next time",
    )
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .addHelpText(
      "after",
      "\nBoth revisions are read from git (a temporary worktree for each ref); nothing is fetched or deployed.\n" +
        "Examples:\n  tributary diff --base origin/main\n  tributary diff --base main --head feature --stack prod-aws --format json --exit-code\n  tributary diff --base origin/main --data --no-synth",
    )
    .action(async (opts: import("./commands/diff.ts").DiffCommandOptions) => {
      const { diffCommand } = await import("./commands/diff.ts");
      setCode(await diffCommand(withConfig(opts), io));
    });

  cli
    .command("preview-comment")
    .description("render `pulumi preview --json` output of one or more stacks as the pull-request comment")
    .argument(
      "[preview.json...]",
      "one file per stack; the stack's name is the file's (prod-aws.json) unless --stack says",
    )
    .option("--stack <name...>", "the stack of each file, in the same order")
    .option("--diff <file>", "the output of `tributary diff --format json`, for the graph and plan sections")
    .option("--exit-code", "exit 1 when a breaking change, data loss or privilege widening is found")
    .option("--out <file>", "write to this file instead of standard output")
    .addHelpText(
      "after",
      "\nExamples:\n  pulumi preview --json --stack prod-aws > prod-aws.json\n  tributary preview-comment prod-aws.json --diff diff.json --out comment.md",
    )
    .action(async (files: string[], opts: import("./commands/diff.ts").PreviewCommentOptions) => {
      const { previewCommentCommand } = await import("./commands/diff.ts");
      setCode(await previewCommentCommand(files, opts, io));
    });

  cli
    .command("ui")
    .description("serve the asset graph and its health as a page in the browser, on this machine only")
    .option("--port <n>", "the port; 0 picks a free one", portNumber, 3210)
    .option(
      "--host <address>",
      "the address to listen on (anything but loopback shares the page)",
      "127.0.0.1",
    )
    .option(GRAPH_FLAGS, GRAPH_HELP)
    .option(STORE_FLAGS, STORE_HELP)
    .addHelpText(
      "after",
      "\nThe page follows the store while runs happen. Nothing is built or downloaded: the CLI serves the page.\n" +
        "Examples:\n  tributary ui\n  tributary ui --port 8080 --store /data/.tributary",
    )
    .action(async (opts: import("./commands/ui.ts").UiOptions) => {
      const { uiCommand } = await import("./commands/ui.ts");
      setCode(await uiCommand(withConfig(opts), io));
    });

  return cli;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65_535) {
    throw new InvalidArgumentError(`"${value}" is not a port: give a number from 0 to 65535.`);
  }
  return n;
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
    return await report(error, io);
  }
}

/**
 * The one top-level catch. A user error (TributaryError): its message, no stack, exit 1. Commander's
 * usage errors have been printed already: exit 1 (0 for --help and --version). An error thrown by the
 * user's code (a compute function): its place in their source, exit 1. Anything else is a bug: the
 * stack, and exit 2.
 */
async function report(error: unknown, io: Io): Promise<number> {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 1;
  if (error instanceof TributaryError) {
    io.err(`tributary: ${error.message}\n`);
    return 1;
  }
  if (error instanceof GraphModuleCrash) {
    io.err(
      `${stackOf(error.cause)}\n\ntributary: internal error: ${error.message}. This is a bug in Tributary: please report it with this output.\n`,
    );
    return 2;
  }
  const { userCodeFailure } = await import("../contract/user-code.ts");
  const mistake = userCodeFailure(error, process.cwd());
  if (mistake !== undefined) {
    io.err(`tributary: ${mistake.message}\n`);
    return 1;
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
