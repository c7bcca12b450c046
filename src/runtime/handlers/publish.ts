/**
 * The port every bus publisher implements (publish-eventbridge.ts, publish-pubsub.ts,
 * publish-servicebus.ts, the local cloud's), and what it throws.
 */
import { TributaryError } from "../../kit/errors.ts";
import type { Announcement } from "../engine/outbox.ts";

/** Announcements could not be put on the asset-events bus: the invocation fails, and the cloud retries it. */
export class PublishError extends TributaryError {
  override name = "PublishError";
}

/** What bounds one publish call. */
export interface PublishOptions {
  /** Aborted when the call's time is up: the publisher gives up and throws PublishError. */
  readonly signal?: AbortSignal;
}

/**
 * Sends announcements to the asset-events bus (EventBridge, Pub/Sub, Service Bus). Resolves once the bus
 * has accepted every announcement; throws PublishError otherwise. Publishers bound their connections and
 * requests themselves and stop when `signal` is aborted; the caller also stops waiting then.
 */
export interface Publisher {
  publish(announcements: readonly Announcement[], opts?: PublishOptions): Promise<void>;
}
