import { readFile } from "node:fs/promises";
import { type AssetGraph, SelectionError, TributaryError } from "tributary";
import { MESSAGES } from "../../contract/bus-messages.ts";
import { streamName } from "../../infra/plan/build.ts";
import { partitionLabel } from "../../runtime/engine/steps.ts";
import type { Work } from "../../runtime/handlers/core.ts";
import {
  AZURE_TRIGGERS,
  type AzureTrigger,
  type BusMessage,
  CLOUDS,
  type Cloud,
  type Delivery,
  envelope,
} from "../../runtime/handlers/envelopes.ts";
import { consumersOf, type DeliveryRecord, LocalCloud } from "../../runtime/handlers/local.ts";
import {
  eventHubDelivery,
  kinesisEvent,
  pubsubPushes,
  recordKeyOf,
  tableOf,
} from "../../runtime/handlers/stream-envelopes.ts";
import { STREAM_BATCH_EVENT } from "../../runtime/handlers/streams.ts";
import { storeSecrets } from "../../runtime/secrets/local.ts";
import { openStoreUri } from "../../runtime/storage/open.ts";
import type { Io } from "../io.ts";
import { commandGraph } from "../project.ts";
import { storeDir } from "../store.ts";

export class InvokeError extends TributaryError {
  override name = "InvokeError";
}

export interface InvokeOptions {
  cloud: string;
  event: string;
  asset?: string;
  store?: string;
  graph?: string;
  config?: string;
  follow?: boolean;
  json?: boolean;
}

function cloudOf(value: string): Cloud {
  if (!(CLOUDS as readonly string[]).includes(value)) {
    throw new InvokeError(`--cloud ${JSON.stringify(value)} is not one of ${CLOUDS.join(", ")}.`);
  }
  return value as Cloud;
}

/**
 * The store every zone uses locally: a store URI, or a folder (default $TRIBUTARY_STORE, else the
 * project configuration's store).
 */
async function storeUri(store: string | undefined, opts: InvokeOptions): Promise<string> {
  const s = store ?? (process.env.TRIBUTARY_STORE || undefined);
  if (s !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return s;
  return storeDir(s, opts);
}

/**
 * `tributary invoke --cloud <c> --event <file> --asset <key>`: run one function's cloud entry point on
 * an event file, as the cloud would deliver it, against a local store or an emulator's. With
 * `--follow`, what it announces is delivered to the functions that consume it, and theirs, until
 * nothing is left: a whole deployed stack's fan-out on this machine.
 */
export async function invokeCommand(opts: InvokeOptions, io: Io): Promise<number> {
  const cloud = cloudOf(opts.cloud);
  const graph = await commandGraph(opts);
  if (opts.asset !== undefined && !graph.has(opts.asset)) {
    throw new SelectionError(
      `--asset "${opts.asset}" is not in the graph; functions: ${graph.order.join(", ")}.`,
    );
  }
  const text =
    opts.event === "-" ? await readStdin() : await readFile(opts.event, "utf8").catch(() => undefined);
  if (text === undefined) throw new InvokeError(`--event ${opts.event}: no such file.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new InvokeError(`--event ${opts.event} is not JSON: ${(e as Error).message}`);
  }
  // GCP pushes a stream's messages one request each: an event file may hold them in order, as a list.
  const deliveries =
    cloud === "gcp" && Array.isArray(parsed)
      ? await Promise.all(parsed.map((p) => deliveryOf(cloud, p)))
      : [await deliveryOf(cloud, parsed)];
  if (deliveries.length === 0)
    throw new InvokeError(`--event ${opts.event} is an empty list: no push to deliver.`);
  const asset = opts.asset ?? (await functionOf(graph, cloud, deliveries[0]!, opts.event));
  const uri = await storeUri(opts.store, opts);
  const cloudSim = new LocalCloud({
    graph,
    cloud,
    stores: { raw: uri, curated: uri, quarantine: uri },
    openStore: (u) => openStoreUri(u),
    // The functions' secrets from this machine: the store's key files (a folder) or TRIBUTARY_SECRET_<NAME>.
    secrets: storeSecrets(openStoreUri(uri)),
    write: (line) => io.err(`${line}\n`),
    onDelivery: opts.json ? undefined : (r) => io.out(describe(r)),
  });
  const delivered: DeliveryRecord[] = [];
  for (const d of deliveries) delivered.push(await cloudSim.invoke(asset, d));
  const rest = opts.follow ? await cloudSim.drain() : [];
  const announced = delivered.flatMap((r) => r.announced);
  if (opts.json) {
    const result =
      delivered.length === 1 ? (delivered[0]!.result ?? null) : delivered.map((r) => r.result ?? null);
    const error = delivered.find((r) => r.error !== undefined)?.error;
    io.out(`${JSON.stringify({ result, error, announced, followed: rest.map(summary) }, null, 2)}\n`);
  } else if (!opts.follow && announced.length > 0) {
    io.out(`not delivered (pass --follow to run the consumers): ${announced.length} announcement(s)\n`);
  }
  const failed = [...delivered, ...rest].filter((r) => r.error !== undefined);
  if (cloudSim.deadLetters.length > 0) {
    io.err(`tributary: ${cloudSim.deadLetters.length} message(s) dead-lettered after every retry\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

function summary(r: DeliveryRecord) {
  return { consumer: r.consumer, attempt: r.attempt, error: r.error, announced: r.announced };
}

/** What the function did, from its own `tributary.work` log lines (each cloud writes them as JSON). */
function workLines(logs: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of logs) {
    try {
      const record = JSON.parse(line) as { event?: unknown; status?: unknown; detail?: unknown };
      if (record.event === "tributary.work") out.push(`  ${String(record.status)}: ${String(record.detail)}`);
      if (record.event === STREAM_BATCH_EVENT) out.push(`  stream: ${String(record.detail)}`);
    } catch {
      // not a JSON line: nothing to show
    }
  }
  return out;
}

const SHOWN = 4;

function describe(r: DeliveryRecord): string {
  const what = r.message ? messageLine(r.message) : "event";
  const outcome = r.error === undefined ? "ok" : `FAILED (attempt ${r.attempt}): ${r.error}`;
  const lines = [`${r.consumer} ← ${what}: ${outcome}`, ...workLines(r.logs)];
  if (r.result !== undefined && r.message === undefined && !isReport(r.result)) {
    lines.push(`  returned ${JSON.stringify(r.result)}`);
  }
  for (const a of r.announced.slice(0, SHOWN)) {
    lines.push(`  announced ${partitionLabel(a.asset, a.partition)} (data version ${a.dataVersion})`);
  }
  if (r.announced.length > SHOWN) lines.push(`  … and ${r.announced.length - SHOWN} more announcements`);
  return `${lines.join("\n")}\n`;
}

/** GCP and Azure entry points return their work report, which the work lines already show. */
function isReport(result: unknown): boolean {
  const reports = Array.isArray(result) ? result : [result];
  return reports.every((x) => typeof x === "object" && x !== null && "status" in x && "detail" in x);
}

function messageLine(m: BusMessage): string {
  if (m.type === "schedule") return `schedule ${m.scheduledTime}`;
  if (m.type === MESSAGES.sourceEvents) return `${m.body.records.length} source event(s) of ${m.body.source}`;
  return `${partitionLabel(m.body.asset, m.body.partition)} materialised`;
}

/**
 * An event file is the cloud's own payload; for Azure, `{ trigger, event, triggerMetadata }`; for GCP
 * also the HTTP request `{ headers, body }` that carries it (a push, or a CloudEvent in binary or
 * structured mode), which is delivered through the Functions Framework.
 */
async function deliveryOf(cloud: Cloud, parsed: unknown): Promise<Delivery> {
  if (cloud === "gcp") {
    const { cloudEventOf, isHttpRequest } = await import("../../runtime/handlers/gcp-http.ts");
    if (!isHttpRequest(parsed)) return { event: parsed };
    const bad = Object.entries(parsed.headers).find(([, v]) => typeof v !== "string");
    if (bad) {
      throw new InvokeError(
        `the GCP event's header ${JSON.stringify(bad[0])} is ${JSON.stringify(bad[1])}; header values are strings.`,
      );
    }
    return { event: cloudEventOf(parsed), http: parsed };
  }
  if (cloud !== "azure") return { event: parsed };
  const o = parsed as {
    trigger?: unknown;
    event?: unknown;
    triggerMetadata?: unknown;
    retryContext?: unknown;
  } | null;
  if (o && typeof o === "object" && "trigger" in o) {
    if (!(AZURE_TRIGGERS as readonly unknown[]).includes(o.trigger)) {
      throw new InvokeError(
        `the Azure event's "trigger" is ${JSON.stringify(o.trigger)}; expected serviceBus, timer, eventGrid or eventHub.`,
      );
    }
    const retry = o.retryContext as { retryCount?: unknown; maxRetryCount?: unknown } | undefined;
    return {
      trigger: o.trigger as AzureTrigger,
      event: o.event,
      ...(o.triggerMetadata && typeof o.triggerMetadata === "object"
        ? { triggerMetadata: o.triggerMetadata as Record<string, unknown> }
        : {}),
      ...(retry && Number.isInteger(retry.retryCount) && Number.isInteger(retry.maxRetryCount)
        ? {
            retryContext: {
              retryCount: retry.retryCount as number,
              maxRetryCount: retry.maxRetryCount as number,
            },
          }
        : {}),
    };
  }
  // An Event Grid event as the portal and the samples show it.
  if (o && typeof o === "object" && "eventType" in o) return { trigger: "eventGrid", event: o };
  throw new InvokeError(
    'an Azure event file is { "trigger": "serviceBus" | "timer" | "eventGrid" | "eventHub", "event": …, "triggerMetadata": … } or an Event Grid event; `tributary event --cloud azure` writes one.',
  );
}

/**
 * The function an event is for, when the event says so: the source of source events or of a landed
 * object, the asset of a schedule tick, the one consumer of an announcement. The event is read by the
 * cloud entry point's own parser; otherwise `--asset` must say.
 */
async function functionOf(graph: AssetGraph, cloud: Cloud, d: Delivery, file: string): Promise<string> {
  const ask = (why: string) =>
    new InvokeError(
      `--event ${file}: ${why}; pass --asset <key>, the function to run (one of ${graph.order.join(", ")}).`,
    );
  const changes = await streamValuesOf(cloud, d);
  if (changes !== undefined) {
    const tables = [...new Set(changes.map(tableOf).filter((t): t is string => t !== undefined))];
    const readers = graph
      .assets()
      .filter((a) => a.kind === "source" && a.cdc !== undefined && tables.includes(a.cdc.table))
      .map((a) => a.key);
    if (readers.length === 1) return readers[0]!;
    if (readers.length === 0) {
      throw ask(
        tables.length === 0
          ? "its change events name no captured table"
          : `no CDC source of the graph captures ${tables.join(", ")}`,
      );
    }
    throw ask(`its change events are of ${readers.join(", ")}`);
  }
  let work: Work | undefined;
  try {
    work = await workOf(cloud, d);
  } catch {
    work = undefined; // not a message Tributary understands: the function will say why
  }
  const key =
    work?.kind === "source-events"
      ? work.source
      : work?.kind === "schedule" || work?.kind === "asset-materialised"
        ? work.asset
        : work?.kind === "object-created" && work.key.startsWith("landing/")
          ? work.key.split("/")[1]
          : undefined;
  if (!work || key === undefined) throw ask("the event names no source or asset Tributary can run it for");
  const candidates =
    work.kind === "asset-materialised"
      ? consumersOf(graph, {
          type: MESSAGES.assetMaterialised,
          id: "",
          body: { asset: work.asset, partition: work.partition, dataVersion: work.dataVersion },
        })
      : graph.has(key)
        ? [key]
        : [];
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length === 0) throw ask(`no function runs it ("${key}")`);
  throw ask(`"${key}" is read by ${candidates.join(", ")}`);
}

/**
 * The values of a stream's delivery: a Kinesis event's records, a pushed Pub/Sub message that is no
 * Tributary message, an Event Hubs batch; undefined for anything else.
 */
async function streamValuesOf(cloud: Cloud, d: Delivery): Promise<string[] | undefined> {
  if (cloud === "aws") {
    const { isKinesisBatch, kinesisBatches } = await import("../../runtime/handlers/aws.ts");
    if (!isKinesisBatch(d.event)) return undefined;
    try {
      return kinesisBatches(d.event).flatMap((b) => b.records.map((r) => r.value));
    } catch {
      return undefined;
    }
  }
  if (cloud === "gcp") {
    const message = (await import("../../runtime/handlers/gcp.ts")).streamMessage(d.event);
    return message?.records.map((r) => r.value);
  }
  if (d.trigger !== "eventHub") return undefined;
  const events = Array.isArray(d.event) ? d.event : [d.event];
  return events.map((e) => (typeof e === "string" ? e : JSON.stringify(e)));
}

/** The work a cloud entry point would make of one delivery (its first item, for a batch). */
async function workOf(cloud: Cloud, d: Delivery): Promise<Work | undefined> {
  const e = d.event as { Records?: unknown[] } | null;
  if (cloud === "aws") {
    const { asyncWork, sqsItems } = await import("../../runtime/handlers/aws.ts");
    const record = Array.isArray(e?.Records) ? (e.Records[0] as Record<string, unknown>) : undefined;
    if (record?.eventSource === "aws:sqs") return sqsItems(record, String(record.messageId), "")[0]?.make();
    return asyncWork(d.event, "")[0]?.make();
  }
  if (cloud === "gcp") return (await import("../../runtime/handlers/gcp.ts")).gcpWork(d.event);
  const { eventGridWork, serviceBusWork } = await import("../../runtime/handlers/azure.ts");
  if (d.trigger === "eventGrid") return eventGridWork(d.event, "event");
  if (d.trigger === "timer") return undefined; // a timer names no asset: the function's settings do
  const metadata = { ...d.triggerMetadata };
  return serviceBusWork(
    d.event,
    metadata,
    typeof metadata.messageId === "string" ? metadata.messageId : undefined,
  );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export interface EventOptions {
  cloud: string;
  source?: string;
  /** A CDC source: its change events (--records) as its stream delivers them. */
  stream?: string;
  records?: string;
  materialised?: string;
  partition?: string;
  dataVersion?: string;
  schedule?: string;
  at?: string;
  /** GCP: write the HTTP request that carries the event (push, binary or structured CloudEvent). */
  http?: string;
  graph?: string;
  config?: string;
}

/**
 * `tributary event --cloud <c> …`: print a sample event as the cloud would deliver it, for `invoke`:
 * source events (records from an NDJSON file), an asset's "materialised" announcement, or a schedule tick.
 */
export async function eventCommand(opts: EventOptions, io: Io): Promise<number> {
  const cloud = cloudOf(opts.cloud);
  const { HTTP_MODES, httpRequest } = await import("../../runtime/handlers/gcp-http.ts");
  const mode = opts.http as (typeof HTTP_MODES)[number] | undefined;
  if (mode !== undefined) {
    if (cloud !== "gcp") {
      throw new InvokeError(
        `--http is for --cloud gcp, whose functions are called over HTTP; ${cloud} events are not HTTP requests.`,
      );
    }
    if (!HTTP_MODES.includes(mode)) {
      throw new InvokeError(`--http ${JSON.stringify(opts.http)} is not one of ${HTTP_MODES.join(", ")}.`);
    }
  }
  const graph = await commandGraph(opts);
  const chosen = [opts.source, opts.stream, opts.materialised, opts.schedule].filter((v) => v !== undefined);
  if (chosen.length !== 1) {
    throw new InvokeError(
      "give exactly one of --source <key> --records <file>, --stream <key> --records <file>, --materialised <asset>, --schedule <asset>.",
    );
  }
  const known = (key: string) => {
    if (!graph.has(key))
      throw new SelectionError(`"${key}" is not in the graph; keys: ${graph.order.join(", ")}.`);
    return key;
  };
  if (opts.stream !== undefined) {
    const out = await streamEvent(graph, cloud, known(opts.stream), opts.records, mode);
    io.out(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const id = `local-${Date.now().toString(36)}`;
  let message: BusMessage;
  let consumer: string;
  if (opts.source !== undefined) {
    consumer = known(opts.source);
    if (!opts.records) throw new InvokeError("--source needs --records <file.ndjson>: the records to send.");
    const text = await readFile(opts.records, "utf8").catch(() => {
      throw new InvokeError(`--records ${opts.records}: no such file.`);
    });
    const records = text.split("\n").filter((l) => l.trim() !== "");
    message = { type: MESSAGES.sourceEvents, id, body: { source: consumer, records } };
  } else if (opts.materialised !== undefined) {
    consumer = known(opts.materialised);
    message = {
      type: MESSAGES.assetMaterialised,
      id,
      body: { asset: consumer, partition: opts.partition ?? "", dataVersion: opts.dataVersion ?? "unknown" },
    };
  } else {
    consumer = known(opts.schedule!);
    message = { type: "schedule", id, asset: consumer, scheduledTime: opts.at ?? new Date().toISOString() };
  }
  const d = envelope(cloud, message, consumer);
  const out = mode ? httpRequest(mode, d.event as Record<string, unknown>) : cloud === "azure" ? d : d.event;
  io.out(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}

/**
 * The change events of a CDC source's `--records` file (Debezium values, one a line) as the source's
 * stream delivers them to its function on `cloud`, each with the record key Debezium Server gives it; the
 * stream named as a stack with the prefix "local" names it.
 */
async function streamEvent(
  graph: AssetGraph,
  cloud: Cloud,
  key: string,
  records: string | undefined,
  mode: string | undefined,
): Promise<unknown> {
  const a = graph.get(key);
  if (a.kind !== "source" || !a.cdc) {
    const sources = graph
      .assets()
      .filter((s) => s.kind === "source" && s.cdc)
      .map((s) => s.key);
    throw new InvokeError(
      `--stream "${key}": ${a.kind === "source" ? "it is no CDC source, whose function reads no stream; send it source events with --source" : "it is an asset, not a CDC source"}. CDC sources: ${sources.join(", ") || "none"}.`,
    );
  }
  if (!records)
    throw new InvokeError("--stream needs --records <file.ndjson>: the change events to send, one a line.");
  const text = await readFile(records, "utf8").catch(() => {
    throw new InvokeError(`--records ${records}: no such file.`);
  });
  const cdc = a.cdc;
  const entries = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((value) => ({ key: recordKeyOf(cdc, value), value }));
  const stream = streamName("local", cdc.table);
  if (cloud === "aws") return kinesisEvent(stream, entries);
  if (cloud === "azure") return eventHubDelivery(stream, key, entries);
  const pushes = pubsubPushes(key, entries);
  if (mode === undefined) return pushes;
  if (mode !== "push") {
    throw new InvokeError(
      `--stream --http ${mode}: a stream's messages reach its function as Pub/Sub pushes; use --http push.`,
    );
  }
  return pushes.map((body) => ({ headers: { "content-type": "application/json" }, body }));
}
