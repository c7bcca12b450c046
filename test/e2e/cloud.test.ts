import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import type { StoreId } from "../../src/infra/plan/types.ts";
import type { SourceDef } from "../../src/kit/asset.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { materialize } from "../../src/runtime/engine/materialize.ts";
import type { Cloud } from "../../src/runtime/handlers/envelopes.ts";
import { LocalCloud } from "../../src/runtime/handlers/local.ts";
import { secretValues } from "../../src/runtime/secrets/source.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { openStoreUri } from "../../src/runtime/storage/open.ts";
import type { ObjectStore } from "../../src/runtime/storage/port.ts";
import { CONFIG } from "../infra/fixtures/config.ts";
import { type Emulator, startAzurite, startS3 } from "../storage/emulators.ts";
import { startGcsFake } from "../storage/gcs-fake.ts";
import { GrantedStore } from "./granted.ts";
import { graph, listing, sampleFiles, sourceMessages, tables } from "./pipeline.ts";

let dir: string;
let files: Awaited<ReturnType<typeof sampleFiles>>;
let expected: Record<string, unknown[]>;
/** The stack's tokenisation key, as its secret store would give it to the functions and as the local run has it. */
const SECRETS = secretValues({ pii_token_key: "the end-to-end stack's tokenisation key" });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-e2e-"));
  files = await sampleFiles(join(dir, "sample"));
  // The reference: the same files ingested and materialised by the local engine, as `tributary materialize` does.
  const local = new LocalStore(join(dir, "local"));
  for (const f of files) await ingest(local, graph.get(f.source) as SourceDef, [f.path]);
  const run = await materialize(graph, local, { secrets: SECRETS });
  expect(run.counts.failed).toBe(0);
  expect(run.counts.skipped).toBe(0);
  expected = await tables(local);
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Target {
  readonly stores: { raw: string; curated: string; quarantine: string };
  readonly open: (uri: string) => ObjectStore;
}

const POISON = "records[0] is a number, not an object or an NDJSON line.";

/** Every function's store access goes through the grants the deployment plan gives it. */
const GRANTS = planDeployment(graph, CONFIG).grants;
function granted(t: Target) {
  return (uri: string, consumer: string) => {
    const id = (Object.keys(t.stores) as StoreId[]).find((k) => t.stores[k] === uri);
    if (!id) throw new Error(`${consumer} opened ${uri}, which is none of the stack's stores`);
    return new GrantedStore(t.open(uri), consumer, id, GRANTS);
  };
}

/**
 * Where a cloud's three stores live in the test: prefixes of one emulated bucket (s3rver, the GCS fake)
 * or container (Azurite), reached through the same `openStoreUri` a deployed function uses, with the
 * emulator's endpoint in the environment as a developer would set it.
 */
const EMULATORS: Record<Cloud, () => Promise<Emulator & { base: string }>> = {
  aws: async () => {
    const e = await startS3("e2e");
    return { ...e, base: `s3://${e.bucket}` };
  },
  gcp: async () => {
    const e = await startGcsFake("e2e");
    return { ...e, base: "gs://e2e" };
  },
  azure: async () => {
    const e = await startAzurite("e2e");
    return { ...e, base: `${e.serviceUrl}/${e.container}` };
  },
};

describe.each<Cloud>(["aws", "azure", "gcp"])("the reference pipeline through %s handlers", (cloud) => {
  let t: Target;
  let sim: LocalCloud;
  let emulator: Emulator | undefined;
  const saved = { ...process.env };
  beforeAll(async () => {
    const e = await EMULATORS[cloud]();
    emulator = e;
    Object.assign(process.env, e.env);
    t = {
      stores: {
        raw: `${e.base}/raw-store`,
        curated: `${e.base}/curated-store`,
        quarantine: `${e.base}/quarantine-store`,
      },
      open: (uri) => openStoreUri(uri),
    };
    sim = new LocalCloud({
      graph,
      cloud,
      stores: t.stores,
      openStore: granted(t),
      secrets: SECRETS,
      write: () => {},
    });
  }, 60_000);

  afterAll(async () => {
    await emulator?.stop();
    process.env = saved;
  });

  it("materialises the tables the local engine does", async () => {
    for (const m of sourceMessages(files)) sim.send(m);
    await sim.drain();
    expect(GrantedStore.denied).toEqual([]);
    expect(sim.deadLetters).toEqual([]);
    expect(sim.deliveries.filter((d) => d.error !== undefined)).toEqual([]);
    const got = await tables(t.open(t.stores.curated));
    expect(Object.keys(got)).toEqual(Object.keys(expected));
    for (const key of Object.keys(expected))
      expect({ key, rows: got[key] }).toEqual({ key, rows: expected[key] });
  }, 300_000);

  it("changes nothing when every message is delivered again", async () => {
    const stores = Object.values(t.stores).map((u) => t.open(u));
    const before = await listing(stores);
    const sent = [...sim.messages];
    for (const m of sent) sim.send(m);
    const again = await sim.drain();
    expect(again.filter((d) => d.error !== undefined).map((d) => [d.consumer, d.error, d.logs])).toEqual([]);
    expect(await listing(stores)).toEqual(before);
  }, 300_000);

  it("dead-letters a poison message after the retries, and the others still land", async () => {
    const bad = {
      type: MESSAGES.sourceEvents,
      id: "poison",
      body: { source: "orders_cdc", records: [42] },
    } as const;
    const good = {
      type: MESSAGES.sourceEvents,
      id: "late",
      body: {
        source: "orders_cdc",
        records: files.find((f) => f.source === "orders_cdc")!.lines.slice(0, 5),
      },
    } as const;
    sim.send(bad);
    sim.send(good);
    const done = await sim.drain();
    const failure = cloud === "aws" ? "batch items failed: poison" : `message poison: ${POISON}`;
    // (The good message's announcements fan out as usual: only the source events matter here.)
    const sourceEvents = done.filter((d) => d.message?.type === MESSAGES.sourceEvents);
    expect(sourceEvents.map((d) => [d.message?.id, d.attempt, d.error ?? "ok"])).toEqual([
      ["poison", 1, failure],
      ["late", 1, "ok"],
      ["poison", 2, failure],
      ["poison", 3, failure],
    ]);
    expect(sim.deadLetters.map((d) => d.message?.id)).toEqual(["poison"]);
    expect(sim.deadLetters[0]!.logs.join("\n")).toContain(POISON);
  }, 120_000);
});
