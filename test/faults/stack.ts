/**
 * One stack of the reference pipeline under faults: every function runs from its built bundle in a
 * process of its own (hosts.ts), publishes with its cloud's SDK client to a fake asset-events bus that
 * fails on command (buses.ts), and the local cloud (runtime/handlers/local.ts) delivers what the bus
 * accepted, with the cloud's envelopes, retries (3 deliveries) and dead letters. A scenario injects its
 * faults during its first deliveries, then lets them stop; the stack's outbox sweeper then runs until
 * nothing is owed. What is left is compared with the fault-free run's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { OUTBOX_SWEEPER } from "../../src/contract/function-env.ts";
import { Outbox } from "../../src/runtime/engine/outbox.ts";
import type { Announcement } from "../../src/runtime/handlers/core.ts";
import { MATERIALISED_EVENT } from "../../src/runtime/handlers/core.ts";
import type { BusMessage, Cloud } from "../../src/runtime/handlers/envelopes.ts";
import { WORK_FAILED_EVENT } from "../../src/runtime/handlers/events.ts";
import { LocalCloud } from "../../src/runtime/handlers/local.ts";
import { OUTBOX_DRAINED_EVENT, OUTBOX_SWEPT_EVENT } from "../../src/runtime/handlers/outbox.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { graph, tables } from "../e2e/pipeline.ts";
import { type Fault, startBus } from "./buses.ts";
import { FunctionHost } from "./hosts.ts";

export interface Scenario {
  readonly name: string;
  /** What the bus does during the fault window. */
  readonly fault?: Fault;
  /**
   * During the fault window, kill a function between its commit and its publish: when it publishes
   * after committing in the same invocation (its outbox holds an entry written since the invocation
   * began), before the bus answers.
   */
  readonly crash?: boolean;
  /** The deliveries the faults last, [first, end), counted from 0 (default [1, 9)). */
  readonly window?: readonly [number, number];
  /** Deliver every message twice. */
  readonly twice?: boolean;
  /** Deliver in an order drawn from this seed instead of first in, first out. */
  readonly shuffle?: number;
}

/** What a scenario left and what happened on the way. */
export interface Outcome {
  readonly tables: Record<string, unknown[]>;
  /** Every committed asset partition and source partition, with its data version, sorted. */
  readonly commits: string[];
  /** The commits the functions logged (each commit once), as "asset/partition@version". */
  readonly logged: string[];
  /** What the bus accepted, as "asset/partition@version", in order. */
  readonly announced: string[];
  /** Outbox entries left (their states), after the sweeps. */
  readonly outbox: string[];
  readonly deliveries: number;
  readonly deadLetters: number;
  readonly sweeps: number;
  /** Publish requests the bus answered with a fault. */
  readonly faulted: number;
  /** Functions killed between their commit and their publish. */
  readonly crashes: number;
  /** Publishes that failed in the functions (items failed, drains that could not announce). */
  readonly failedPublishes: number;
  /** Function instances started (one per function, and one more after each crash). */
  readonly starts: number;
  /** What the dead-lettered deliveries last failed with, for a failing test to show. */
  readonly deadLettered: string[];
}

const label = (a: Announcement) => `${a.asset}/${a.partition}@${a.dataVersion}`;
/** The functions' timeout: a publish may take a fifteenth of it, half a second. */
const TIMEOUT_SECONDS = "7";
const MAX_SWEEPS = 4;
/** When the stack runs: the morning after the sample's day, whatever day the tests run on. */
const NOW = "2026-11-02T06:00:00.000Z";

export async function runScenario(
  cloud: Cloud,
  bundleDir: string,
  root: string,
  messages: readonly BusMessage[],
  scenario: Scenario,
): Promise<Outcome> {
  const dir = path.join(root, `${cloud}-${scenario.name}`);
  fs.mkdirSync(dir, { recursive: true });
  const stores = {
    raw: `file://${dir}/raw`,
    curated: `file://${dir}/curated`,
    quarantine: `file://${dir}/quarantine`,
  };
  const bus = await startBus(cloud);
  const outbox = new Outbox(new LocalStore(path.join(dir, "curated")));
  const hosts = new Map<string, FunctionHost>();
  const lines: { consumer: string; record: Record<string, unknown> }[] = [];
  let current = "";
  /** The current function's outbox entries when its invocation began: a new one is a commit of it. */
  let before = new Set<string>();
  let crashing = false;
  let crashes = 0;
  let delivered = 0;
  const [first, end] = scenario.window ?? [1, 9];
  const rng = scenario.shuffle === undefined ? undefined : xoroshiro128plus(scenario.shuffle);
  try {
    const sim: LocalCloud = new LocalCloud({
      graph,
      cloud,
      stores,
      environment: "faults",
      duplicate: scenario.twice ?? false,
      ...(rng ? { pick: (n: number) => Math.floor(((rng.next() >>> 0) / 4294967296) * n) } : {}),
      // No publisher of the local cloud's: each function builds its own SDK client from its environment.
      publisher: () => undefined,
      env: () => ({
        ...bus.env,
        TRIBUTARY_ASSET_EVENTS: bus.busName,
        [TIMEOUT]: TIMEOUT_SECONDS,
        TRIBUTARY_TEST_NOW: NOW,
        // The tokenisation key of curated_customers, as a bundle run outside its cloud is given it.
        TRIBUTARY_SECRET_PII_TOKEN_KEY: "the fault-injection stack's tokenisation key",
      }),
      entry: async (consumer, deps) => {
        const host = new FunctionHost(cloud, bundleDir, { PATH: process.env.PATH, ...deps.env }, (line) => {
          if (!line.startsWith("{")) return;
          try {
            lines.push({ consumer, record: JSON.parse(line) as Record<string, unknown> });
          } catch {
            // Not one of the function's JSON lines.
          }
        });
        hosts.set(consumer, host);
        await host.start();
        return async (delivery) => {
          current = consumer;
          before = new Set(
            (await outbox.scan(consumer === OUTBOX_SWEEPER ? undefined : consumer)).map((e) => e.key),
          );
          return host.invoke(delivery);
        };
      },
      onDelivery: async () => {
        delivered++;
        if (delivered === first) {
          if (scenario.fault) await bus.fail(scenario.fault);
          crashing = scenario.crash ?? false;
        }
        if (delivered === end) {
          crashing = false;
          await bus.heal();
        }
      },
    });
    bus.onAccept = (body, id) => sim.announce(body, id);
    bus.onPublish = async () => {
      if (!crashing) return false;
      const mine = await outbox.scan(current === OUTBOX_SWEEPER ? undefined : current);
      if (!mine.some((e) => !before.has(e.key))) return false;
      crashes++;
      hosts.get(current)?.crash();
      return true;
    };
    if (first === 0) {
      if (scenario.fault) await bus.fail(scenario.fault);
      crashing = scenario.crash ?? false;
    }

    // Every function's first instance starts at once, as a deployed stack's would be up already.
    await sim.warm([...graph.order, OUTBOX_SWEEPER]);
    for (const m of messages) sim.send(m);
    await sim.drain();
    // Faults have stopped; the stack's sweeper runs on its schedule until nothing is owed.
    let sweeps = 0;
    do {
      sweeps++;
      sim.send({
        type: "schedule",
        id: `sweep-${sweeps}`,
        asset: OUTBOX_SWEEPER,
        scheduledTime: new Date(Date.UTC(2026, 11, 2, 3, 5 * sweeps)).toISOString(),
      });
      await sim.drain();
    } while ((await outbox.scan()).length > 0 && sweeps < MAX_SWEEPS);

    const curated = new LocalStore(path.join(dir, "curated"));
    const failedPublishes = lines.filter(
      (l) =>
        (l.record.event === WORK_FAILED_EVENT && l.record.error === "PublishError") ||
        (l.record.event === OUTBOX_DRAINED_EVENT && l.record.error !== undefined) ||
        (l.record.event === OUTBOX_SWEPT_EVENT && l.record.error !== undefined),
    ).length;
    return {
      tables: await tables(curated),
      commits: await commits(curated),
      logged: [
        ...new Set(
          lines
            .filter((l) => l.record.event === MATERIALISED_EVENT)
            .map((l) => label(l.record as unknown as Announcement)),
        ),
      ].sort(),
      announced: bus.accepted.map((a) => label(a.body)),
      outbox: (await outbox.scan()).map((s) => `${s.state} ${s.key}`),
      deliveries: sim.deliveries.length,
      deadLetters: sim.deadLetters.length,
      sweeps,
      faulted: bus.faulted,
      crashes,
      failedPublishes,
      starts: [...hosts.values()].reduce((n, h) => n + h.starts, 0),
      deadLettered: sim.deadLetters.map(
        (d) => `${d.consumer} ${d.message?.id ?? ""}: ${d.error} ${d.logs.join(" ")}`,
      ),
    };
  } finally {
    await Promise.all([...hosts.values()].map((h) => h.stop()));
    await bus.stop();
  }
}

const TIMEOUT = "TRIBUTARY_TIMEOUT_SECONDS";

/** Every commit the store holds: asset partitions' manifests and source partitions' versions. */
async function commits(store: LocalStore): Promise<string[]> {
  const out: string[] = [];
  const { sourcePartitions } = await import("../../src/runtime/engine/ingest.ts");
  for (const a of graph.assets()) {
    if (a.kind === "source") {
      for (const [partition, p] of await sourcePartitions(store, a)) {
        out.push(label({ asset: a.key, partition, dataVersion: p.dataVersion }));
      }
      continue;
    }
    for (const o of await store.list(`_manifests/${a.key}/`)) {
      if (!o.key.endsWith("/manifest.json")) continue;
      const m = JSON.parse((await store.get(o.key))!.toString()) as Announcement;
      out.push(label(m));
    }
  }
  return out.sort();
}
