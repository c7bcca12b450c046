/**
 * Errors in the user's own code (their graph module and the files it imports, their project
 * configuration, their compute functions), told apart from Tributary's bugs by where they were thrown:
 * a frame in a file of the user's project is theirs, a frame in this package is ours. A user's error is
 * reported as the place in their source (file, line and column, in their TypeScript, not the transpiled
 * JavaScript) and a code frame, without a stack.
 *
 * Positions come from what the loader already knows: under tsx (the CLI's and the Pulumi program's
 * loader) Node's source maps are on, so a stack frame names the TypeScript line; a syntax error is
 * esbuild's, whose message names the file, line and column; an import Node cannot link names its line in
 * the stack's header; a JavaScript file's syntax error, which Node does not place, is found by esbuild.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { codeFrameColumns } from "@babel/code-frame";
import type { Message } from "esbuild";
import { TributaryError } from "../kit/errors.ts";

/** A place in a file of the user's project: 1-based line and column of their source. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * A mistake in the user's code: the message is `<file>:<line>:<column>: <Error>: <message>` followed
 * by a code frame of their source. A TributaryError, so the CLI prints it without a stack (exit 1) and
 * the Pulumi program stops with it as a RunError.
 */
export class UserCodeError extends TributaryError {
  override name = "UserCodeError";
  /** Where it was thrown, when known. */
  readonly position: SourcePosition | undefined;
  constructor(message: string, position: SourcePosition | undefined, cause: unknown) {
    super(message, { cause });
    this.position = position;
  }
}

/**
 * `error`, thrown while importing the user's module `file` (`what` names it: "graph module
 * assets/index.ts"), as a UserCodeError: a syntax error, an undefined name or anything their code
 * threw, at its place in their source. Undefined when it was thrown inside Tributary's own code: a bug,
 * to report with its stack. An error with no frame at all (Node's file system errors have none) counts
 * as theirs: only their module was running.
 */
export async function importFailure(
  error: unknown,
  module: { readonly file: string; readonly what: string },
  cwd: string,
): Promise<UserCodeError | undefined> {
  const syntax = syntaxPosition(error) ?? (await unplacedSyntaxError(error, module.file));
  if (syntax !== undefined) {
    if (origin(syntax.position.file) === "package") return undefined;
    return located(error, syntax.position, `SyntaxError: ${syntax.text}`, cwd);
  }
  const thrown = throwSite(error);
  if (thrown === "package") return undefined;
  if (thrown === undefined) {
    return new UserCodeError(`${module.what} threw while loading: ${headline(error)}`, undefined, error);
  }
  return located(error, thrown, headline(error), cwd);
}

/**
 * `error`, thrown while Tributary ran the user's code after loading it (a compute function), as a
 * UserCodeError at its place in their source; undefined when it was not thrown by their code.
 */
export function userCodeFailure(error: unknown, cwd: string): UserCodeError | undefined {
  const thrown = throwSite(error);
  return typeof thrown === "object" ? located(error, thrown, headline(error), cwd) : undefined;
}

function located(error: unknown, at: SourcePosition, headline: string, cwd: string): UserCodeError {
  const frame = codeFrame(at);
  const where = `${shown(at.file, cwd)}:${at.line}:${at.column}`;
  return new UserCodeError(`${where}: ${headline}${frame === undefined ? "" : `\n${frame}`}`, at, error);
}

/** `TypeError: Cannot read properties of undefined`, or what was thrown when it is not an Error. */
function headline(error: unknown): string {
  if (error instanceof Error) return error.message === "" ? error.name : `${error.name}: ${error.message}`;
  return typeof error === "string" ? JSON.stringify(error) : String(error);
}

/** A few lines of the file around `at`, with a caret under the column; undefined if it cannot be read. */
function codeFrame(at: SourcePosition): string | undefined {
  let source: string;
  try {
    source = readFileSync(at.file, "utf8");
  } catch {
    return undefined;
  }
  return codeFrameColumns(
    source,
    { start: { line: at.line, column: at.column } },
    { linesAbove: 2, linesBelow: 2 },
  );
}

/** The file as the user wrote it relative to where they are, or absolute when it is elsewhere. */
function shown(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

// ---- where an error comes from ----

/** The package's own code: src/ (run from source), dist/ (compiled) and bin/ of this package's root. */
const PACKAGE_ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
const PACKAGE_CODE = ["src", "dist", "bin"].map((d) => `${resolve(PACKAGE_ROOT, d)}${sep}`);
const LIBRARY = `${sep}node_modules${sep}`;

/** Whose a file is: this package's, another library's, or the user's. */
function origin(file: string): "package" | "library" | "user" {
  if (PACKAGE_CODE.some((dir) => file.startsWith(dir))) return "package";
  if (file.includes(LIBRARY)) return "library";
  return "user";
}

/**
 * A stack frame's file, line and column: `    at f (/abs/file.ts:8:17)`, `    at /abs/file.ts:8:17`,
 * `    at async f (file:///abs/file.ts:8:17)`. Node's internals (`node:…`), native and eval frames name no
 * absolute file and are skipped.
 */
const FRAME = /^\s+at (?:async )?(?:[^(]*\()?(.+?):(\d+):(\d+)\)?$/;

/**
 * Where `error` was thrown: the first frame, from the top, in a file of this package ("package") or of
 * the user's project (their position); frames of Node and of other libraries are passed over (a
 * library the user called points at their call). Undefined when no frame is either.
 */
function throwSite(error: unknown): SourcePosition | "package" | undefined {
  const stack = stackOf(error);
  if (stack === undefined) return undefined;
  for (const line of stack.split("\n")) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const file = fileOf(m[1]!);
    if (file === undefined) continue;
    const whose = origin(file);
    if (whose === "package") return "package";
    if (whose === "user") return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/**
 * The error's stack as Node formats it. When the loader has turned Node's source maps on (tsx does),
 * Node's own formatter gives the TypeScript positions; a formatter another library installed may not:
 * Pulumi's runner installs source-map-support, which cannot see tsx's in-memory source maps and prints
 * the transpiled JavaScript's positions. So the stack, formatted on first read, is read with Node's.
 */
function stackOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  if (!process.sourceMapsEnabled) return typeof error.stack === "string" ? error.stack : undefined;
  const errors = Error as { prepareStackTrace?: unknown };
  const installed = errors.prepareStackTrace;
  errors.prepareStackTrace = undefined;
  try {
    return typeof error.stack === "string" ? error.stack : undefined;
  } finally {
    errors.prepareStackTrace = installed;
  }
}

/** An absolute path from a frame's location (a path or a file: URL); undefined for anything else. */
function fileOf(location: string): string | undefined {
  if (location.startsWith("file://")) {
    try {
      return fileURLToPath(location);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(location) ? location : undefined;
}

// ---- syntax errors ----

/**
 * esbuild's transform failure, as tsx rethrows it: `Transform failed with 1 error:` then
 * `<file>:<line>:<column>: ERROR: <text>`, the column 0-based and counted in UTF-8 bytes.
 */
const ESBUILD = /^Transform failed with \d+ errors?:\n(.+?):(\d+):(\d+): ERROR: (.*)$/m;
/** Node's header on an import it cannot link: `<file>:<line>`, the source line, a caret line. */
const NODE_HEADER = /^(.+?):(\d+)\n.*\n( *)\^/;

/** The place and text of a syntax error: esbuild's (TypeScript) or Node's (linking imports). */
function syntaxPosition(error: unknown): { position: SourcePosition; text: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  const esbuild = ESBUILD.exec(error.message);
  if (esbuild) {
    const file = fileOf(esbuild[1]!);
    if (file === undefined) return undefined;
    const line = Number(esbuild[2]);
    return {
      position: { file, line, column: characterColumn(file, line, Number(esbuild[3])) },
      text: esbuild[4]!,
    };
  }
  if (error.name !== "SyntaxError") return undefined;
  const header = NODE_HEADER.exec(stackOf(error) ?? "");
  const file = header ? fileOf(header[1]!) : undefined;
  if (!header || file === undefined) return undefined;
  return { position: { file, line: Number(header[2]), column: header[3]!.length + 1 }, text: error.message };
}

/**
 * Node's SyntaxError for a JavaScript file carries no place (Node keeps it to print for an uncaught
 * error only): esbuild parses the module and the files it imports to find it.
 */
async function unplacedSyntaxError(
  error: unknown,
  entry: string,
): Promise<{ position: SourcePosition; text: string } | undefined> {
  if (!(error instanceof Error) || error.name !== "SyntaxError" || throwSite(error) !== undefined)
    return undefined;
  const esbuild = await import("esbuild");
  const dir = dirname(entry);
  try {
    await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: dir,
      bundle: true,
      write: false,
      packages: "external",
      platform: "node",
      format: "esm",
      logLevel: "silent",
    });
    return undefined;
  } catch (e) {
    const found = ((e as { errors?: Message[] }).errors ?? []).find(
      (m) => m.location !== null && !m.text.startsWith("Could not resolve"),
    );
    const at = found?.location;
    if (!found || !at) return undefined;
    const column = Buffer.from(at.lineText, "utf8").subarray(0, at.column).toString("utf8").length + 1;
    return { position: { file: resolve(dir, at.file), line: at.line, column }, text: found.text };
  }
}

/** esbuild's 0-based UTF-8 byte column on `line` of `file` as a 1-based column in characters. */
function characterColumn(file: string, line: number, bytes: number): number {
  try {
    const text = readFileSync(file, "utf8").split(/\r?\n/)[line - 1] ?? "";
    return Buffer.from(text, "utf8").subarray(0, bytes).toString("utf8").length + 1;
  } catch {
    return bytes + 1;
  }
}
