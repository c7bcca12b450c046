import { damaged, remedy } from "../../runtime/engine/integrity.ts";
import { StoreState } from "../../runtime/engine/state.ts";
import { commitLabel, verifyCommitted } from "../../runtime/engine/verify.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { openStore } from "../store.ts";
import { formatTable } from "../table.ts";

export interface VerifyOptions {
  graph?: string;
  config?: string;
  store?: string;
  json?: boolean;
}

/**
 * `tributary verify [selection]`: read every byte of every committed object of the selected assets
 * and sources, and compare it with what its commit recorded. Exit 1 when one is corrupt or missing.
 */
export async function verifyCommand(
  selection: string | undefined,
  opts: VerifyOptions,
  io: Io,
): Promise<number> {
  const graph = await commandGraph(opts);
  const state = new StoreState(await openStore(opts.store, opts));
  const keys = graph.select(selection);
  const objects = (await verifyCommitted(graph, state, keys, "full")).map((o) => ({
    ...o,
    of: commitLabel(o),
  }));
  const count = (s: string) => objects.filter((o) => o.state === s).length;
  const counts = {
    objects: objects.length,
    ok: count("ok"),
    corrupt: count("corrupt"),
    missing: count("missing"),
    unverified: count("unverified"),
  };
  const code = counts.corrupt + counts.missing > 0 ? 1 : 0;
  if (opts.json) {
    io.out(`${JSON.stringify({ counts, objects }, null, 2)}\n`);
    return code;
  }
  const shown = objects.filter((o) => o.state !== "ok");
  if (shown.length > 0) {
    io.out(
      formatTable(
        ["file", "of", "state", "why"],
        shown.map((o) => [o.key, o.of, o.state, o.why ?? ""]),
      ),
    );
    io.out("\n");
  }
  const of = `${keys.length} asset${keys.length === 1 ? "" : "s"} and source${keys.length === 1 ? "" : "s"}`;
  const parts = [
    `${counts.ok} intact`,
    ...(counts.corrupt ? [`${counts.corrupt} corrupt`] : []),
    ...(counts.missing ? [`${counts.missing} missing`] : []),
    ...(counts.unverified
      ? [`${counts.unverified} unverified (committed before Tributary recorded checksums; read unchecked)`]
      : []),
  ];
  io.out(
    `verified ${counts.objects} committed file${counts.objects === 1 ? "" : "s"} of ${of}: ${parts.join(", ")}\n`,
  );
  for (const o of objects.filter(damaged)) io.out(`${o.key}: ${remedy(o.key)}\n`);
  return code;
}
