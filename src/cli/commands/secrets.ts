/**
 * `tributary secrets`: the graph's secrets on this machine. `list` says, per secret, who needs it and
 * where its value comes from (never the value); `rotate` gives a tokenisation key a new key file and
 * says what the next run re-materialises; `set` stores a value read from standard input.
 */
import type { AssetGraph, SecretDef } from "tributary";
import { TributaryError } from "../../kit/errors.ts";
import { didYouMean } from "../../kit/suggest.ts";
import { LocalSecrets, type SecretOrigin } from "../../runtime/secrets/local.ts";
import { keyId, tokenKey } from "../../runtime/secrets/token.ts";
import { LocalStore } from "../../runtime/storage/local.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface SecretsOptions {
  graph?: string;
  config?: string;
  store?: string;
  json?: boolean;
  replace?: boolean;
}

/** One secret as `tributary secrets list --json` prints it. */
export interface ListedSecret {
  name: string;
  use: "tokenisation" | "value";
  description: string | null;
  /** The assets and sources that declare it, in topological order. */
  neededBy: string[];
  /** Where its value comes from here: an environment variable, the key file, or nowhere yet. */
  origin: SecretOrigin;
  /** A tokenisation key's id (tokens start with `k<id>:`); null for a value or a key not made yet. */
  keyId: string | null;
}

class SecretsCommandError extends TributaryError {
  override name = "SecretsCommandError";
}

async function localSecrets(opts: SecretsOptions): Promise<LocalSecrets> {
  const store = await openStore(opts.store, opts);
  if (!(store instanceof LocalStore)) throw new SecretsCommandError("secrets live in a local store folder.");
  return new LocalSecrets(store.root, { create: false });
}

function declared(graph: AssetGraph, name: string): SecretDef {
  const s = graph.secrets().find((d) => d.name === name);
  if (s === undefined) {
    const names = graph.secrets().map((d) => d.name);
    throw new SecretsCommandError(
      `the graph declares no secret "${name}".${didYouMean(name, names) || ` Its secrets: ${names.join(", ") || "none"}.`}`,
    );
  }
  return s;
}

export async function secretsList(opts: SecretsOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const secrets = await localSecrets(opts);
  const listed: ListedSecret[] = [];
  for (const s of graph.secrets()) {
    const origin = await secrets.origin(s);
    const key = s.use === "tokenisation" && origin.kind !== "missing" ? keyId(await secrets.read(s)) : null;
    listed.push({
      name: s.name,
      use: s.use,
      description: s.description ?? null,
      neededBy: graph.usersOf(s.name),
      origin,
      keyId: key,
    });
  }
  if (opts.json) {
    io.out(`${JSON.stringify(listed, null, 2)}\n`);
    return 0;
  }
  if (listed.length === 0) {
    io.out("the graph declares no secrets\n");
    return 0;
  }
  io.out(
    formatTable(
      ["secret", "use", "needed by", "value from", "key"],
      listed.map((s) => [
        s.name,
        s.use,
        s.neededBy.join(", ") || "-",
        s.origin.kind === "environment"
          ? s.origin.variable
          : s.origin.kind === "file"
            ? s.origin.path
            : s.use === "tokenisation"
              ? "not made yet (the next materialize makes it)"
              : "not set",
        s.keyId === null ? "-" : `k${s.keyId}`,
      ]),
    ),
  );
  return 0;
}

export async function secretsRotate(name: string, opts: SecretsOptions, io: Io): Promise<number> {
  const graph = await commandGraph(opts);
  const s = declared(graph, name);
  if (s.use !== "tokenisation") {
    throw new SecretsCommandError(
      `secret "${name}" is a value, not a tokenisation key: give the new value with \`tributary secrets set ${name} --replace\`.`,
    );
  }
  const r = await (await localSecrets(opts)).rotate(s);
  const users = graph.usersOf(name);
  const downstream = graph.sort(
    new Set(users.flatMap((u) => graph.downstream(u)).filter((k) => !users.includes(k))),
  );
  io.out(
    `rotated ${name}: key ${r.before === undefined ? "(none)" : `k${r.before}`} → k${r.after} in ${r.path}\n` +
      `the next materialize re-materialises ${users.join(", ")}${downstream.length > 0 ? ` and downstream ${downstream.join(", ")}` : ""}\n`,
  );
  if (r.shadowed) {
    io.err(
      `tributary: warning: ${r.shadowed} is set and wins over the key file: unset it to use the new key.\n`,
    );
  }
  return 0;
}

export async function secretsSet(
  name: string,
  opts: SecretsOptions,
  io: Io,
  input: AsyncIterable<string | Buffer> | Iterable<string> = process.stdin,
): Promise<number> {
  const graph = await commandGraph(opts);
  const s = declared(graph, name);
  let value = "";
  for await (const chunk of input) value += chunk.toString();
  value = value.replace(/\r?\n$/, "");
  if (value === "") throw new SecretsCommandError(`no value on standard input for secret "${name}".`);
  if (/[\r\n]/.test(value)) throw new SecretsCommandError(`the value of secret "${name}" must be one line.`);
  if (s.use === "tokenisation") tokenKey(name, value); // refuses a key too short to be one
  const r = await (await localSecrets(opts)).set(s, value, opts.replace ?? false);
  const id = s.use === "tokenisation" ? ` (key k${keyId(value)})` : "";
  io.out(`${r.replaced ? "replaced" : "stored"} ${name}${id} in ${r.path}\n`);
  return 0;
}
