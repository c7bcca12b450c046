/**
 * What a CDC source's function does with a batch of its stream, whatever the cloud: a Kinesis event
 * (aws.ts), a Pub/Sub push (gcp.ts), an Event Hubs batch (azure.ts). Each record's value is a Debezium
 * change event as JSON text, as Debezium Server's sinks write it; the batch is ingested as one ingest
 * batch, through the same ingest as every source (validated, deduplicated by event id, landed or
 * quarantined), whose id is made from the records' positions, so a redelivered batch is a committed batch
 * and writes nothing.
 *
 * What fails: a record that is not a valid change event is quarantined with its reason, which is a
 * success for the stream (retrying it would quarantine it again). A record fails only when it cannot be
 * landed: the store refuses its partition's object, say. Then the batch is split in halves, and each half
 * ingested on its own, down to the records that still fail, so that one such record fails alone and
 * every other one lands: {@link landStream} returns the records that failed, in stream order, for the
 * cloud to retry (Kinesis retries from the lowest sequence number reported, Pub/Sub redelivers the
 * message, the Event Hubs trigger retries the batch). When a half fails as a whole, the store is failing
 * for more than one record, and splitting further would only repeat it: the rest of the batch is
 * reported failed at once.
 *
 * A record with no value (empty data: Debezium Server's Kinesis sink writes a tombstone's null value so;
 * its other sinks send none), or whitespace alone, is skipped, and counted as a tombstone.
 */
import { PoisonMessageError, perform, type Runtime, type WorkReport } from "./core.ts";
import { WORK_FAILED_EVENT } from "./events.ts";

/** One record of a CDC stream, as a cloud's trigger delivered it. */
export interface StreamRecord {
  /**
   * Its position, what the cloud's failure report names: a Kinesis sequence number, a Pub/Sub message
   * id, an Event Hubs `<partition>:<sequence number>`.
   */
  readonly id: string;
  /** The record key: the partition or ordering key Debezium Server set. */
  readonly key?: string;
  /** The Debezium value as JSON text; "" for a tombstone. */
  readonly value: string;
}

/** A batch of one stream. */
export interface StreamBatch {
  /**
   * Where the records come from, which with their ids names them uniquely: `<stream ARN>/<shard>`,
   * `<subscription>`, `<namespace>/<event hub>/<partition>`.
   */
  readonly origin: string;
  /** Who delivered it, for messages: "Kinesis", "Pub/Sub", "Event Hubs". */
  readonly via: string;
  readonly records: readonly StreamRecord[];
}

/** A record that could not be landed, and why. */
export interface FailedRecord {
  readonly id: string;
  readonly key?: string;
  readonly value: string;
  readonly error: string;
}

export interface Landing {
  /** The ingest batches made, one per group of records ingested together, in stream order. */
  readonly reports: readonly WorkReport[];
  /** Records of the batch. */
  readonly records: number;
  /** Records skipped for having no value. */
  readonly tombstones: number;
  /** Records that could not be landed, in stream order. */
  readonly failed: readonly FailedRecord[];
}

/** The log line of each stream batch. */
export const STREAM_BATCH_EVENT = "tributary.stream.batch";

/**
 * A value as one NDJSON line. A JSON text's raw line breaks can only be whitespace between its tokens
 * (inside a string they are escaped), so they become spaces: the value is the same JSON.
 */
function line(value: string): string {
  return /[\r\n]/.test(value) ? value.replace(/[\r\n]/g, " ") : value;
}

/** The work id of a group: the batch's origin and the positions of its first and last records. */
function groupId(batch: StreamBatch, group: readonly StreamRecord[]): string {
  const first = group[0]!.id;
  const last = group.at(-1)!.id;
  return `${batch.origin}:${first}${group.length > 1 ? `..${last}` : ""}#${group.length}`;
}

/**
 * Land a batch of the function's stream (see the module's comment). Throws PoisonMessageError when the
 * function is not a CDC source's: no retry makes it one.
 */
export async function landStream(rt: Runtime, batch: StreamBatch): Promise<Landing> {
  const source = rt.fn.kind === "ingest" && rt.graph.has(rt.fn.asset) ? rt.graph.get(rt.fn.asset) : undefined;
  if (source?.kind !== "source" || !source.cdc) {
    throw new PoisonMessageError(
      `${batch.via} batch of ${batch.origin}: this function ${rt.fn.kind === "ingest" ? `ingests "${rt.fn.asset}", which is no CDC source` : `${rt.fn.kind === "sweep" ? "sweeps the outbox" : `materialises "${rt.fn.asset}"`}`}; only a CDC source's function reads a stream.`,
    );
  }
  // A value of whitespace alone is no record to ingest (ingest would skip it as a blank line, uncounted).
  const present = batch.records.filter((r) => r.value.trim() !== "");
  const reports: WorkReport[] = [];
  const failed: FailedRecord[] = [];

  const ingestGroup = async (group: readonly StreamRecord[]): Promise<string | undefined> => {
    const id = groupId(batch, group);
    try {
      reports.push(
        await perform(rt, {
          kind: "source-events",
          id,
          source: rt.fn.asset,
          records: group.map((r) => line(r.value)),
        }),
      );
      return undefined;
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      rt.log({
        event: WORK_FAILED_EVENT,
        id,
        error: e instanceof Error ? e.name : "Error",
        message: error,
        poison: false,
      });
      return error;
    }
  };
  const fail = (group: readonly StreamRecord[], error: string) => {
    for (const r of group)
      failed.push({ id: r.id, ...(r.key === undefined ? {} : { key: r.key }), value: r.value, error });
  };
  /** Land `group`; true when every record of it failed (the failure is not the records'). */
  const land = async (group: readonly StreamRecord[]): Promise<boolean> => {
    const error = await ingestGroup(group);
    if (error === undefined) return false;
    if (group.length === 1) {
      fail(group, error);
      return true;
    }
    const half = Math.ceil(group.length / 2);
    const [first, second] = [group.slice(0, half), group.slice(half)];
    const firstFailed = await land(first);
    if (firstFailed && first.length > 1) {
      // The first half failed whole, and so did every split of it: the store fails for this batch.
      fail(second, error);
      return true;
    }
    const secondFailed = await land(second);
    return firstFailed && secondFailed;
  };
  if (present.length > 0) await land(present);
  failed.sort((a, b) => present.findIndex((r) => r.id === a.id) - present.findIndex((r) => r.id === b.id));

  const landing: Landing = {
    reports,
    records: batch.records.length,
    tombstones: batch.records.length - present.length,
    failed,
  };
  rt.log({
    event: STREAM_BATCH_EVENT,
    via: batch.via,
    origin: batch.origin,
    records: landing.records,
    tombstones: landing.tombstones,
    batches: reports.map((r) => r.id),
    failed: failed.map((f) => f.id),
    detail: landingDetail(batch, landing),
  });
  return landing;
}

/** What a landing did, in one sentence. */
export function landingDetail(batch: StreamBatch, landing: Landing): string {
  const landed = landing.records - landing.tombstones - landing.failed.length;
  const parts = [`${landed} of ${landing.records} record(s) of ${batch.origin} landed`];
  if (landing.tombstones > 0) parts.push(`${landing.tombstones} tombstone(s) skipped`);
  if (landing.failed.length > 0) {
    parts.push(
      `${landing.failed.length} could not be landed (${landing.failed.map((f) => f.id).join(", ")}): ${landing.failed[0]!.error}`,
    );
  }
  return `${parts.join("; ")}.`;
}
