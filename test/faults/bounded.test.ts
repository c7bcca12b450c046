/**
 * A bus that takes the connection and never answers, against each cloud's built bundle: the invocation
 * returns within its publish budget (half a second per publish here), and only the item that had
 * something to announce fails; its commit stays in the outbox.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MESSAGES } from "../../src/contract/bus-messages.ts";
import { Outbox } from "../../src/runtime/engine/outbox.ts";
import { batchIdOf } from "../../src/runtime/handlers/core.ts";
import { type BusMessage, type Cloud, envelope } from "../../src/runtime/handlers/envelopes.ts";
import { functionEnvironment } from "../../src/runtime/handlers/local.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { graph } from "../e2e/pipeline.ts";
import { orderRecords } from "../handlers/helpers.ts";
import { type FakeBus, startBus } from "./buses.ts";
import { deployBundle, FunctionHost } from "./hosts.ts";

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-bounded-"));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const records = orderRecords();
const message = (id: string, source: string): BusMessage => ({
  type: MESSAGES.sourceEvents,
  id,
  body: { source, records },
});

describe.each<Cloud>(["aws", "gcp", "azure"])("%s: against a bus that never answers", (cloud) => {
  let bus: FakeBus;
  let host: FunctionHost;
  let dir: string;
  beforeAll(async () => {
    bus = await startBus(cloud);
    await bus.fail("hang");
    dir = path.join(root, cloud);
    const stores = {
      raw: `file://${dir}/raw`,
      curated: `file://${dir}/curated`,
      quarantine: `file://${dir}/quarantine`,
    };
    host = new FunctionHost(
      cloud,
      deployBundle(inject("bundles").dir, cloud, path.join(root, "deployed")),
      {
        PATH: process.env.PATH,
        ...functionEnvironment(graph, "orders_cdc", stores, "bounded"),
        ...bus.env,
        TRIBUTARY_ASSET_EVENTS: bus.busName,
        TRIBUTARY_TIMEOUT_SECONDS: "7",
      },
      () => {},
    );
  }, 120_000);
  afterAll(async () => {
    await host?.stop();
    await bus?.stop();
  });

  it("the invocation returns, failing only the item with announcements, whose commit stays owed", async () => {
    const timeout = `publish: the asset-events bus ${bus.busName} did not take 3 announcements within 500 ms; they stay in the outbox for the next attempt.`;
    const ingest = envelope(cloud, message("m-1", "orders_cdc"), "orders_cdc");
    if (cloud === "aws") {
      // One SQS batch: the source events of this function, and a record for another source beside them.
      const other = envelope(cloud, message("m-2", "customers_cdc"), "orders_cdc");
      const batch = {
        Records: [
          ...(ingest.event as { Records: unknown[] }).Records,
          ...(other.event as { Records: unknown[] }).Records,
        ],
      };
      expect(await host.invoke({ event: batch })).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    } else {
      await expect(host.invoke(ingest)).rejects.toThrow(timeout);
    }
    const [entry] = await new Outbox(new LocalStore(path.join(dir, "curated"))).scan("orders_cdc");
    expect([entry?.state, entry?.key]).toEqual([
      "owed",
      `_outbox/orders_cdc/_batches/${batchIdOf("m-1")}.json`,
    ]);
    expect(bus.accepted).toEqual([]);
  }, 60_000);
});
