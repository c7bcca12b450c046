/**
 * What the three cloud entry points share: turning a Tributary bus message (a type and a JSON body,
 * however the cloud wraps them) into `Work`, and running one piece of work with its failure logged.
 * Every cloud-specific wrapper (SQS record, EventBridge event, Pub/Sub message, Service Bus message)
 * is unwrapped in its own module; everything that can be said about the message itself is said here,
 * once, so a malformed message reads the same on every cloud.
 */

import { MESSAGES } from "../../contract/bus-messages.ts";
import { StorageError } from "../../contract/storage-layout.ts";
import { assertObjectKey } from "../storage/port.ts";
import { PoisonMessageError, perform, type Runtime, type Work, type WorkReport } from "./core.ts";

/** The log line of a piece of work that threw; the cloud retries it (and dead-letters it in the end). */
export const WORK_FAILED_EVENT = "tributary.work.failed";

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short, printable excerpt of a value for an error message. */
export function excerpt(v: unknown, max = 60): string {
  const s = typeof v === "string" ? v : (JSON.stringify(v) ?? String(v));
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

/** What the bus messages may be: the list every "not a Tributary message" error ends with. */
export const EXPECTED_TYPES = `${MESSAGES.assetMaterialised}, ${MESSAGES.sourceEvents} or ${MESSAGES.assetScheduled}`;

/** Parse a message body that must be JSON; `where` names the message ("SQS message 1f3…"). */
export function parseJson(text: string, where: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PoisonMessageError(`${where}: the body is not JSON (${excerpt(text)}); expected ${expected}.`);
  }
}

/** A body given as bytes or text (Service Bus, Pub/Sub) as the JSON value it holds. */
export function jsonBody(body: unknown, where: string, expected: string): unknown {
  if (typeof body === "string") return parseJson(body, where, expected);
  if (body instanceof Uint8Array) return parseJson(Buffer.from(body).toString("utf8"), where, expected);
  return body;
}

export const nonEmpty = (v: unknown): v is string => typeof v === "string" && v !== "";

/**
 * The work of one Tributary bus message: `type` is the message type (EventBridge detail-type, Pub/Sub
 * or Service Bus `type` property), `body` its parsed body, `id` the cloud's id of the message.
 */
export function busWork(type: unknown, body: unknown, id: string, where: string): Work {
  if (type === MESSAGES.assetMaterialised) {
    if (
      !isObject(body) ||
      !nonEmpty(body.asset) ||
      typeof body.partition !== "string" ||
      !nonEmpty(body.dataVersion)
    ) {
      throw new PoisonMessageError(
        `${where}: a ${type} message has the body {asset, partition, dataVersion} (strings; partition "" when the asset is unpartitioned), not ${excerpt(body, 120)}.`,
      );
    }
    return {
      kind: "asset-materialised",
      id,
      asset: body.asset,
      partition: body.partition,
      dataVersion: body.dataVersion,
    };
  }
  if (type === MESSAGES.sourceEvents) {
    if (!isObject(body) || !nonEmpty(body.source) || !Array.isArray(body.records)) {
      throw new PoisonMessageError(
        `${where}: a ${type} message has the body {source, records} (records: JSON objects or NDJSON lines), not ${excerpt(body, 120)}.`,
      );
    }
    return { kind: "source-events", id, source: body.source, records: body.records };
  }
  throw new PoisonMessageError(
    `${where}: not a Tributary message: its type is ${type === undefined ? "missing" : excerpt(type)}; expected ${EXPECTED_TYPES}.`,
  );
}

/**
 * The work of an object landed in a store (S3, GCS, Blob Storage notifications), `key` decoded. A key the
 * stores cannot name (a space, a quote…) is poison: no retry makes it readable, the object must be
 * renamed; saying so here beats a storage error on every retry.
 */
export function objectCreatedWork(id: string, store: string, key: string): Work {
  try {
    assertObjectKey(key);
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    throw new PoisonMessageError(
      `${id}: the landed object's key ${JSON.stringify(key)} cannot be read: ${e.message.replace(/^storage: /, "")} Rename the object.`,
    );
  }
  return { kind: "object-created", id, store, key };
}

/** The work of a schedule tick for `asset` at `time` (an ISO 8601 timestamp). */
export function scheduleWork(asset: unknown, time: unknown, id: string, where: string): Work {
  if (!nonEmpty(asset)) {
    throw new PoisonMessageError(`${where}: a schedule tick names its asset, not ${excerpt(asset)}.`);
  }
  const scheduledTime = typeof time === "string" ? new Date(time) : undefined;
  if (!scheduledTime || Number.isNaN(scheduledTime.getTime())) {
    throw new PoisonMessageError(
      `${where}: the scheduled time of "${asset}" is ${excerpt(time)}, not an ISO 8601 timestamp.`,
    );
  }
  return { kind: "schedule", id, asset, scheduledTime };
}

/**
 * Run the work `make` describes (making it may throw PoisonMessageError); a failure is logged with its
 * reason, then rethrown for the cloud to retry or dead-letter.
 */
export async function attempt(rt: Runtime, id: string, make: () => Work): Promise<WorkReport> {
  try {
    return await perform(rt, make());
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    rt.log({
      event: WORK_FAILED_EVENT,
      id,
      error: error.name,
      message: error.message,
      poison: error instanceof PoisonMessageError,
    });
    throw e;
  }
}

/**
 * One piece of work of an event, made when it runs: making it may throw PoisonMessageError, which then
 * fails this item alone (and is logged as its failure).
 */
export interface WorkItem {
  readonly id: string;
  readonly make: () => Work;
}

/** An item that fails as poison when it runs: what cannot be understood is logged like any failure. */
export function poisonItem(id: string, error: unknown): WorkItem {
  return {
    id,
    make: () => {
      throw error;
    },
  };
}

/** Run every piece of work, all of them even when one fails; then throw if any failed. */
export async function attemptAll(rt: Runtime, items: readonly WorkItem[]): Promise<WorkReport[]> {
  const reports: WorkReport[] = [];
  const errors: unknown[] = [];
  for (const item of items) {
    try {
      reports.push(await attempt(rt, item.id, item.make));
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    throw new AggregateError(
      errors,
      `${errors.length} of ${items.length} items of the event failed: ${errors
        .map((e) => (e instanceof Error ? e.message : String(e)))
        .join(" | ")}`,
    );
  }
  return reports;
}

/** Split a list into chunks of at most `size` (bus APIs cap the entries of one call). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
