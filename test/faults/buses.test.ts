/**
 * Each cloud's publisher, as a function builds it from its environment, against its fake bus: what the
 * bus accepts reaches it whole, and every fault fails the publish within its budget.
 */
import { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Announcement } from "../../src/runtime/handlers/core.ts";
import type { Cloud } from "../../src/runtime/handlers/envelopes.ts";
import { publishWithin } from "../../src/runtime/handlers/outbox.ts";
import { PublishError, type Publisher } from "../../src/runtime/handlers/publish.ts";
import { EventBridgePublisher, eventBridgeClient } from "../../src/runtime/handlers/publish-eventbridge.ts";
import { PubSubPublisher } from "../../src/runtime/handlers/publish-pubsub.ts";
import { ServiceBusPublisher } from "../../src/runtime/handlers/publish-servicebus.ts";
import { FAULTS, type FakeBus, type Fault, startBus } from "./buses.ts";

const announcements: Announcement[] = [
  { asset: "curated_orders", partition: "acme", dataVersion: "v1" },
  { asset: "curated_orders", partition: "globex", dataVersion: "v2" },
];

/** The publisher a function makes from its environment (the bus's, set for the test's duration). */
function publisherOf(bus: FakeBus): Publisher {
  if (bus.cloud === "aws") return new EventBridgePublisher({ bus: bus.busName, client: eventBridgeClient() });
  if (bus.cloud === "gcp") return new PubSubPublisher({ topic: bus.busName, pubsub: new PubSub() });
  return new ServiceBusPublisher({
    namespace: "tributary-faults.servicebus.windows.net",
    topic: bus.busName,
    connectionString: bus.env.TRIBUTARY_BUS!,
  });
}

/** Why each fault fails a publish of the two announcements, on each cloud. */
function expected(bus: FakeBus, fault: Fault): RegExp {
  const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  return exactly(message(bus, fault)) ?? /$^/;
}

function message(bus: FakeBus, fault: Fault): string {
  const timeout = `publish: the asset-events bus ${bus.busName} did not take 2 announcements within 1000 ms; they stay in the outbox for the next attempt.`;
  if (bus.cloud === "aws") {
    const put = "eventbridge: 2 announcements were not put on bus trib-faults-asset-events:";
    const endpoint = new URL(bus.env.AWS_ENDPOINT_URL_EVENTBRIDGE!);
    return {
      refuse: `${put} Error: connect ECONNREFUSED ${endpoint.host}`,
      error: `${put} InternalException: Internal error`,
      throttle: `${put} ThrottlingException: Rate exceeded`,
      hang: timeout,
    }[fault];
  }
  // The Pub/Sub client retries INTERNAL and RESOURCE_EXHAUSTED (as Google's settings say) until the budget.
  if (bus.cloud === "gcp") return timeout;
  const sent =
    "servicebus: 2 announcements were not sent to topic asset-events of tributary-faults.servicebus.windows.net:";
  const endpoint = new URL(bus.env.TRIBUTARY_BUS!.split(";")[0]!.slice("Endpoint=".length));
  return {
    // The client's connection retries count as its attempts: two of them before it gives up.
    refuse: `${sent} 2 attempts, the last: GeneralError: ECONNREFUSED: connect ECONNREFUSED ${endpoint.host}`,
    error: `${sent} 3 attempts, the last: GeneralError: InternalServerError: Internal error`,
    throttle: `${sent} 3 attempts, the last: ServiceBusy: The server is busy. Please retry.`,
    hang: timeout,
  }[fault];
}

describe.each<Cloud>(["aws", "gcp", "azure"])("the %s publisher against its fake bus", (cloud) => {
  let bus: FakeBus;
  let publisher: Publisher;
  const saved = { ...process.env };
  beforeAll(async () => {
    bus = await startBus(cloud);
    Object.assign(process.env, bus.env);
    publisher = publisherOf(bus);
  });
  afterAll(async () => {
    process.env = saved;
    await bus?.stop();
  });
  const rt = () => ({ publisher, publishBudgetMs: 1000, fn: { assetEvents: bus.busName } });

  it("publishes every announcement, and fails within the budget on each fault, then publishes again", async () => {
    await publishWithin(rt() as never, announcements);
    expect(bus.accepted.map((a) => a.body)).toEqual(announcements);
    for (const fault of FAULTS) {
      await bus.fail(fault);
      // Long enough for the SDK's own retries to give up, except against a bus that never answers.
      const budget = bus.cloud === "gcp" || fault === "hang" ? 1000 : 5000;
      const error = await publishWithin(rt() as never, announcements, budget).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, fault).toBeInstanceOf(PublishError);
      expect((error as Error).message, fault).toMatch(expected(bus, fault));
      await bus.heal();
      // A client reconnects with its own back-off once the bus is back: give it the time.
      await publishWithin(rt() as never, announcements.slice(0, 1), 15_000);
    }
    // Every healed publish arrived; so may some the publisher had given up on, which the client still
    // retried (at least once, never lost: a repeated announcement is harmless).
    const accepted = bus.accepted.map((a) => a.body);
    expect(accepted.slice(0, 2)).toEqual(announcements);
    expect(accepted.filter((a) => a.partition === "acme").length).toBeGreaterThanOrEqual(5);
    expect(
      accepted.filter((a) => !announcements.some((b) => JSON.stringify(a) === JSON.stringify(b))),
    ).toEqual([]);
  }, 60_000);
});
