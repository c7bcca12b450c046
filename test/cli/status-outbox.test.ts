import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { statusCommand } from "../../src/cli/commands/status.ts";
import type { SourceDef } from "../../src/kit/asset.ts";
import { ingest, sourcePartitions } from "../../src/runtime/engine/ingest.ts";
import { Outbox } from "../../src/runtime/engine/outbox.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { orderRecords } from "../handlers/helpers.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-status-outbox-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const T0 = new Date("2026-12-01T10:00:00.000Z");
const LATER = new Date("2026-12-01T10:12:30.000Z");

async function status(selection: string | undefined, json: boolean) {
  let out = "";
  const code = await statusCommand(
    selection,
    { store: dir, json },
    {
      out: (t) => {
        out += t;
      },
      err: () => {},
      tty: false,
    },
    LATER,
  );
  return { code, out };
}

describe("tributary status", () => {
  it("lists the commits whose announcements have not gone out, and how long they have waited", async () => {
    const store = new LocalStore(dir);
    const lines = orderRecords().map((r) => JSON.stringify(r));
    // What a function's commit leaves when its publish fails: the batch and its owed outbox entry.
    await ingest(
      store,
      graph.get("orders_cdc") as SourceDef,
      [{ name: "m", stream: Readable.from([`${lines.join("\n")}\n`]) }],
      { batch: "b1", now: () => T0, outbox: new Outbox(store, { now: () => T0 }) },
    );
    const versions = await sourcePartitions(store, { key: "orders_cdc" });

    const text = await status(undefined, false);
    expect(text.code).toBe(0);
    const v = (p: string) => versions.get(p)!.dataVersion;
    expect(text.out.split("\n").slice(-6)).toEqual([
      "3 commits are not announced yet (the function's next invocation or the stack's outbox sweep announces them):",
      "asset partition                data version      committed                 waiting",
      `orders_cdc/2026-11-01|acme     ${v("2026-11-01|acme")}  2026-12-01T10:00:00.000Z  12m`,
      `orders_cdc/2026-11-01|globex   ${v("2026-11-01|globex")}  2026-12-01T10:00:00.000Z  12m`,
      `orders_cdc/2026-11-01|initech  ${v("2026-11-01|initech")}  2026-12-01T10:00:00.000Z  12m`,
      "",
    ]);
    const json = JSON.parse((await status("orders_cdc", true)).out) as { unannounced: unknown[] };
    expect(json.unannounced[0]).toEqual({
      asset: "orders_cdc",
      partition: "2026-11-01|acme",
      dataVersion: v("2026-11-01|acme"),
      committedAt: "2026-12-01T10:00:00.000Z",
      waitingSeconds: 750,
    });
    // Another selection does not list them.
    expect(JSON.parse((await status("daily_revenue", true)).out).unannounced).toEqual([]);
  });
});
