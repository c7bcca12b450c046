/**
 * Fault injection: the reference pipeline driven end to end through every cloud's bundled functions,
 * publishing to a fake bus that refuses, fails, throttles or never answers, with functions killed
 * between commit and publish, messages delivered twice or out of order. After the faults stop and the
 * retries and sweeps run, every partition is materialised as in the fault-free run, and every commit
 * was announced at least once.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import type { BusMessage, Cloud } from "../../src/runtime/handlers/envelopes.ts";
import { deployBundle } from "./hosts.ts";
import { type Outcome, runScenario, type Scenario } from "./stack.ts";

/**
 * The faults of each cloud's run. Each lasts deliveries 2 to 9 (of about 30): the second source message,
 * and the first functions downstream of the first, commit while the bus fails them; some are retried
 * past the faults, some are dead-lettered (three deliveries) and only the sweep announces them.
 */
const SCENARIOS: readonly Scenario[] = [
  { name: "refuse", fault: "refuse" },
  { name: "error", fault: "error" },
  { name: "throttle", fault: "throttle" },
  { name: "hang", fault: "hang" },
  { name: "crash", crash: true },
  { name: "twice", twice: true },
  { name: "out of order", shuffle: 20261202 },
];

/** One day of the reference pipeline's sample, one source-events message per source. */
function messages(): BusMessage[] {
  const lines = [
    ...generateSample({
      seed: 20261207,
      from: "2026-11-01",
      to: "2026-11-01",
      customersPerTenant: 4,
      ordersPerDayPerTenant: 4,
    }),
  ];
  return ["customers_cdc", "orders_cdc"].map((source) => ({
    type: MESSAGES.sourceEvents,
    id: `${source}-2026-11-01`,
    body: { source, records: lines.filter((l) => l.source === source).map((l) => l.line) },
  }));
}

/** How a delivery fails because of an injected fault: a publish the bus did not take, a dead function. */
const FAULTED = /(eventbridge|pubsub|servicebus|publish): |process died/;

let root: string;
let sample: BusMessage[];
const bundles = inject("bundles");
const counts = { scenarios: 0, faulted: 0, crashes: 0, failedPublishes: 0, deliveries: 0 };

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-faults-"));
  sample = messages();
});
afterAll(() => {
  console.info(
    `fault injection: ${counts.scenarios} scenarios, ${counts.faulted} faulted publish requests and ${counts.crashes} crashes injected, ${counts.failedPublishes} publishes failed in the functions, ${counts.deliveries} deliveries`,
  );
  fs.rmSync(root, { recursive: true, force: true });
});

describe.each<Cloud>(["aws", "gcp", "azure"])("%s functions under faults", (cloud) => {
  let bundle: string;
  let clean: Outcome;
  beforeAll(async () => {
    bundle = deployBundle(bundles.dir, cloud, path.join(root, "deployed"));
    clean = await runScenario(cloud, bundle, root, sample, { name: "clean" });
    counts.scenarios++;
    counts.deliveries += clean.deliveries;
  }, 300_000);

  it("run fault-free: every commit announced once, nothing owed, nothing dead-lettered", () => {
    expect(clean.deadLettered).toEqual([]);
    expect(clean.outbox).toEqual([]);
    // Partitions committed again when a later batch changed their input: every commit, kept or not.
    expect(clean.commits.filter((c) => !clean.logged.includes(c))).toEqual([]);
    expect([...new Set(clean.announced)].sort()).toEqual(clean.logged);
    expect(Object.values(clean.tables).every((rows) => rows.length > 0)).toBe(true);
  });

  it.each(SCENARIOS.map((s) => [s.name, s] as const))(
    "%s: end as the fault-free run",
    async (_, scenario) => {
      const o = await runScenario(cloud, bundle, root, sample, scenario);
      counts.scenarios++;
      counts.faulted += o.faulted;
      counts.crashes += o.crashes;
      counts.failedPublishes += o.failedPublishes;
      counts.deliveries += o.deliveries;
      expect(o.outbox).toEqual([]);
      // Messages dead-lettered on the way failed only by the faults: their commits are announced anyway.
      expect(o.deadLettered.filter((d) => !FAULTED.test(d))).toEqual([]);
      for (const key of Object.keys(clean.tables)) {
        expect({ key, rows: o.tables[key] }).toEqual({ key, rows: clean.tables[key] });
      }
      // Reordered source messages may land duplicates in other batches: same rows, other raw objects.
      if (scenario.shuffle === undefined) expect(o.commits).toEqual(clean.commits);
      // Nothing was announced zero times.
      const announced = new Set(o.announced);
      expect(o.logged.filter((c) => !announced.has(c))).toEqual([]);
      expect(o.commits.filter((c) => !announced.has(c))).toEqual([]);
      // The faults happened: the bus answered with them (a refused connection never reaches it), and
      // publishes failed in the functions; or functions died between commit and publish.
      if (scenario.fault) {
        expect(o.failedPublishes).toBeGreaterThan(0);
        if (scenario.fault !== "refuse") expect(o.faulted).toBeGreaterThan(0);
      }
      if (scenario.crash) expect(o.crashes).toBeGreaterThan(0);
      if (scenario.twice) expect(o.deliveries).toBeGreaterThanOrEqual(2 * clean.deliveries);
    },
    300_000,
  );
});
