/**
 * A GCP function's event as the HTTP request Cloud Functions receives, and what the Functions Framework
 * makes of it: `tributary invoke --cloud gcp` delivers such a request through the real framework, and
 * `tributary event --cloud gcp --http <mode>` writes one. Three modes reach a function:
 * - `push`: a Pub/Sub push subscription's POST, the body `{message, subscription}` (what the stacks deploy);
 * - `binary`: a CloudEvent in binary content mode, its attributes in `ce-*` headers and its data the body
 *   (how Eventarc delivers a Pub/Sub message: the data is the push message);
 * - `structured`: a CloudEvent in structured content mode, the whole event the body
 *   (`content-type: application/cloudevents+json`).
 */
import type { AddressInfo } from "node:net";
import type { CloudEvent } from "@google-cloud/functions-framework";
import { isObject } from "./events.ts";

export const HTTP_MODES = ["push", "binary", "structured"] as const;
export type HttpMode = (typeof HTTP_MODES)[number];

/** One HTTP request to a function: its headers, and its body (a JSON value, or text sent as it is). */
export interface HttpRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

/** The CloudEvent attributes that travel as `ce-*` headers in binary mode (data does not). */
const ATTRIBUTES = ["specversion", "type", "source", "id", "time", "subject", "dataschema"] as const;

/**
 * The request that carries `event` in `mode`. `event` is the messagePublished CloudEvent the framework
 * would make of a push (envelopes.ts builds it); its data is the push message.
 */
export function httpRequest(mode: HttpMode, event: Readonly<Record<string, unknown>>): HttpRequest {
  if (mode === "push") return { headers: { "content-type": "application/json" }, body: event.data };
  if (mode === "structured") {
    return { headers: { "content-type": "application/cloudevents+json" }, body: event };
  }
  const headers: Record<string, string> = {};
  for (const a of ATTRIBUTES) if (typeof event[a] === "string") headers[`ce-${a}`] = event[a] as string;
  headers["content-type"] =
    typeof event.datacontenttype === "string" ? event.datacontenttype : "application/json";
  return { headers, body: event.data };
}

/** Header names as Node and Express give them to the framework: lowercase. */
function lowercase(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * What the framework hands a CloudEvent function for `request`, in the cases that name a function: in
 * binary mode (all four of ce-type, ce-specversion, ce-source and ce-id) the `ce-*` headers as attributes
 * and the body as data; otherwise the body (a structured CloudEvent, or a push body, which the framework
 * may still turn into a CloudEvent and the handler takes either way). `tributary invoke` uses it to find
 * the function an event is for; the delivery itself goes through the framework.
 */
export function cloudEventOf(request: HttpRequest): unknown {
  const headers = lowercase(request.headers);
  const binary = ["ce-type", "ce-specversion", "ce-source", "ce-id"].every((h) => headers[h]);
  if (!binary) return request.body;
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith("ce-")) event[name.slice(3)] = value;
  }
  event.data = request.body;
  return event;
}

/** The request's body as sent: text as it is, anything else as JSON. */
function bodyText(request: HttpRequest): string {
  return typeof request.body === "string" ? request.body : JSON.stringify(request.body ?? null);
}

let served = 0;

/**
 * Deliver `request` to `handler` through the Functions Framework, over HTTP on 127.0.0.1, as Cloud
 * Functions does: the framework's own middleware turns the request into the CloudEvent the handler gets.
 * Resolves to what the function answered (200 with its result), rejects with the framework's answer to
 * a failure (500 and the error's message), which is what makes Pub/Sub or Eventarc retry.
 */
export async function invokeOverHttp(
  handler: (event: CloudEvent<unknown>) => Promise<unknown>,
  request: HttpRequest,
): Promise<unknown> {
  const [{ cloudEvent }, { getTestServer }] = await Promise.all([
    import("@google-cloud/functions-framework"),
    import("@google-cloud/functions-framework/testing"),
  ]);
  const name = `tributary-invoke-${++served}`;
  // The framework logs a failure's stack; the function's failure is already logged, once, as a line.
  cloudEvent(name, (event: CloudEvent<unknown>) =>
    handler(event).catch((e: unknown) => {
      const error = e instanceof Error ? e : new Error(String(e));
      const quiet = new Error(error.message);
      quiet.name = error.name;
      quiet.stack = `${error.name}: ${error.message}`;
      throw quiet;
    }),
  );
  const server = getTestServer(name);
  await new Promise<void>((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", () => ok()));
  try {
    const { port } = server.address() as AddressInfo;
    const headers = lowercase(request.headers);
    headers["content-type"] ??= typeof request.body === "string" ? "text/plain" : "application/json";
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers,
      body: bodyText(request),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(text || `the Functions Framework answered ${res.status}`);
    if (res.status === 204 || text === "") return undefined;
    return (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text;
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

/** Whether a parsed event file is an HTTP request `{headers, body}` rather than a CloudEvent. */
export function isHttpRequest(value: unknown): value is HttpRequest {
  return isObject(value) && isObject(value.headers) && "body" in value && Object.keys(value).length === 2;
}
