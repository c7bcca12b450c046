/**
 * LanceDB and the Apache Arrow it was built with, loaded on first use: nothing that does not touch a
 * vector table pays for the native library (the CLI's `--help`, the planner, functions of other assets).
 *
 * Arrow is required from LanceDB's own folder: LanceDB ships CommonJS and checks `instanceof` on Arrow's
 * classes, so a second copy of Arrow (the ESM build an `import` would load) makes every write fail with
 * "Table and inner RecordBatch schemas must be equivalent".
 */
import { createRequire } from "node:module";
import type * as Arrow from "apache-arrow";
import { TributaryError } from "../../kit/errors.ts";

export type LanceDb = typeof import("@lancedb/lancedb");
export type ArrowModule = typeof Arrow;

let loaded: Promise<{ lancedb: LanceDb; arrow: ArrowModule }> | undefined;

export function lance(): Promise<{ lancedb: LanceDb; arrow: ArrowModule }> {
  loaded ??= load().catch((e) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}

async function load(): Promise<{ lancedb: LanceDb; arrow: ArrowModule }> {
  // LanceDB's Rust logger prints warnings (an empty IVF partition, a table created) on standard error;
  // it reads LANCEDB_LOG once, when the native library loads. Errors are reported by our own messages.
  process.env.LANCEDB_LOG ??= "off";
  let lancedb: LanceDb;
  try {
    lancedb = await import("@lancedb/lancedb");
  } catch (e) {
    throw new TributaryError(
      `vectors: the LanceDB library (@lancedb/lancedb 0.31.0) cannot be loaded here: ${(e as Error).message.split("\n")[0]}`,
    );
  }
  const require = createRequire(createRequire(import.meta.url).resolve("@lancedb/lancedb"));
  return { lancedb, arrow: require("apache-arrow") as ArrowModule };
}

/**
 * A LanceDB error in one line: its message without the Rust source locations, and its innermost cause
 * when that says more ("… list request …: URL scheme is not allowed").
 */
export function lanceMessage(e: unknown): string {
  const text = String((e as Error | undefined)?.message ?? e).split("\n")[0]!;
  const clean = (t: string) => t.replace(/, \/\S+\.rs:\d+:\d+/g, "").trim();
  const parts = text.split(/\s+Caused by:\s+/);
  const head = clean(parts[0]!);
  const cause = parts.length > 1 ? clean(parts.at(-1)!) : "";
  return cause && !head.includes(cause) ? `${head}: ${cause}` : head;
}
