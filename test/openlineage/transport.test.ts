import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { curatedOrders, ordersCdc } from "../../examples/commerce/assets/commerce/index.ts";
import {
  assetRun,
  commandRun,
  parentOf,
  type RunEvent,
  runComplete,
  runFail,
  runStart,
} from "../../src/runtime/openlineage/events.ts";
import {
  CompositeTransport,
  FileTransport,
  HttpTransport,
  type LineageTransport,
  transportsFromEnv,
} from "../../src/runtime/openlineage/transport.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import type { ObjectStore } from "../../src/runtime/storage/port.ts";

const CLI_RUN = "019a4a6c-3a2d-7c1e-9f3b-5d2e8a7c4b10";
const ASSET_RUN = "019a4a6c-3b90-7e4f-8a21-0c6d9e5f3a27";
const DAY = new Date("2026-11-02T23:59:59.000Z");

let dir: string;
let store: LocalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-lineage-"));
  store = new LocalStore(join(dir, "store"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The three events of one materialisation, and the CLI's around them. */
function events(): RunEvent[] {
  const cli = commandRun("materialize", { runId: CLI_RUN });
  const run = assetRun(curatedOrders, "acme", { runId: ASSET_RUN, upstream: [ordersCdc] });
  const ctx = { store, eventTime: DAY, parent: parentOf(cli), engine: { version: "1.4.2" } };
  return [
    runStart(cli, { store, eventTime: DAY }),
    runStart(run, ctx),
    runComplete(run, ctx, {
      inputs: [{ asset: "orders_cdc", partition: "2026-11-01|acme", dataVersion: "a1b2c3d4e5f60718" }],
    }),
    runFail(cli, { store, eventTime: DAY }, new Error("1 asset partition failed.")),
  ];
}

const KEY = `_lineage/2026-11-02/${CLI_RUN}.ndjson`;

async function lines(s: ObjectStore, key = KEY): Promise<unknown[]> {
  const body = (await s.get(key))!.toString("utf8");
  expect(body.endsWith("\n")).toBe(true);
  return body
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as unknown);
}

describe("the file transport", () => {
  test("appends each event as one NDJSON line at _lineage/<day>/<run>.ndjson; the object is whole after every emit", async () => {
    const t = new FileTransport(store, CLI_RUN, { now: DAY });
    expect(t.key).toBe(KEY);
    const all = events();
    for (const [i, e] of all.entries()) {
      await t.emit(e);
      expect(await lines(store)).toEqual(all.slice(0, i + 1));
    }
    await t.close();
    expect(await lines(store)).toEqual(all);
    expect((await store.list("_lineage/")).map((o) => o.key)).toEqual([KEY]);
    expect(t.warnings).toEqual([]);
  });

  test("events emitted without waiting land in order, and close waits for them", async () => {
    const t = new FileTransport(store, CLI_RUN, { now: DAY });
    const all = [...events(), ...events()];
    const sent = all.map((e) => t.emit(e));
    await t.close();
    expect(await lines(store)).toEqual(all);
    await Promise.all(sent);
    expect(await lines(store)).toEqual(all);
  });

  test("an event after close is a warning, not a write", async () => {
    const t = new FileTransport(store, CLI_RUN, { now: DAY });
    const [first, second] = events();
    await t.emit(first!);
    await t.close();
    await t.emit(second!);
    expect(await lines(store)).toEqual([first]);
    expect(t.warnings).toEqual([
      `lineage: START of curated_orders (run ${ASSET_RUN}) was emitted after the file transport was closed; not written.`,
    ]);
  });

  test("a store that fails is a warning; close writes again, and the events written before are kept", async () => {
    let failing = false;
    const flaky: ObjectStore = {
      uri: store.uri,
      put: (key, body, opts) =>
        failing ? Promise.reject(new Error("EACCES: permission denied")) : store.put(key, body, opts),
      get: (key) => store.get(key),
      read: (key) => store.read(key),
      head: (key) => store.head(key),
      list: (prefix) => store.list(prefix),
      delete: (key) => store.delete(key),
    };
    const seen: string[] = [];
    const t = new FileTransport(flaky, CLI_RUN, { now: DAY, onWarning: (w) => seen.push(w) });
    const all = events();
    await t.emit(all[0]!);
    failing = true;
    await t.emit(all[1]!);
    expect(await lines(store)).toEqual([all[0]]);
    const warning = `lineage: could not write ${KEY} to ${store.uri}: EACCES: permission denied.`;
    expect(t.warnings).toEqual([warning]);
    expect(seen).toEqual([warning]);
    failing = false;
    await t.close();
    expect(await lines(store)).toEqual(all.slice(0, 2));
    expect(t.warnings).toEqual([warning]);
  });
});

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP server on 127.0.0.1 answering each request with the next of `answers` (then 200). */
async function server(answers: ((res: ServerResponse) => void)[] = []): Promise<{
  url: string;
  received: Received[];
  close: () => Promise<void>;
}> {
  const received: Received[] = [];
  const srv: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = answers.shift();
      if (answer) answer(res);
      else res.writeHead(201).end();
    });
  });
  await new Promise<void>((ok) => srv.listen(0, "127.0.0.1", ok));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((ok) => {
        srv.closeAllConnections();
        srv.close(() => ok());
      }),
  };
}

const status =
  (code: number, body = "") =>
  (res: ServerResponse) =>
    res.writeHead(code, { "content-type": "text/plain" }).end(body);

describe("the HTTP transport", () => {
  test("POSTs each event as JSON to <url>/api/v1/lineage with the bearer token", async () => {
    const s = await server();
    try {
      const t = new HttpTransport(`${s.url}/`, { apiKey: "ol-secret-123" });
      expect(t.endpoint).toBe(`${s.url}/api/v1/lineage`);
      const all = events();
      for (const e of all) await t.emit(e);
      await t.close();
      expect(
        s.received.map((r) => [r.method, r.url, r.headers["content-type"], r.headers.authorization]),
      ).toEqual(all.map(() => ["POST", "/api/v1/lineage", "application/json", "Bearer ol-secret-123"]));
      expect(s.received.map((r) => JSON.parse(r.body) as unknown)).toEqual(all);
      expect(t.warnings).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test("no API key: no Authorization header; a path in the URL and a custom endpoint are kept", async () => {
    const s = await server();
    try {
      const t = new HttpTransport(`${s.url}/marquez`, { endpoint: "/api/v2/lineage" });
      await t.emit(events()[0]!);
      expect(s.received.map((r) => [r.url, r.headers.authorization])).toEqual([
        ["/marquez/api/v2/lineage", undefined],
      ]);
    } finally {
      await s.close();
    }
  });

  test("a 500 is retried once: 500 then 200 delivers the event, without a warning", async () => {
    const s = await server([status(500, "database is restarting"), status(200)]);
    try {
      const t = new HttpTransport(s.url, { retryDelayMs: 0 });
      const event = events()[1]!;
      await t.emit(event);
      expect(s.received.map((r) => JSON.parse(r.body) as unknown)).toEqual([event, event]);
      expect(t.warnings).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test("two 5xx answers: a warning naming the event and both answers; the next event goes through", async () => {
    const s = await server([status(503, "overloaded"), status(502)]);
    try {
      const t = new HttpTransport(s.url, { retryDelayMs: 0 });
      const [first, second] = events();
      await t.emit(first!);
      await t.emit(second!);
      expect(s.received).toHaveLength(3);
      expect(t.warnings).toEqual([
        `lineage: POST ${s.url}/api/v1/lineage failed for START of tributary.materialize (run ${CLI_RUN}): HTTP 503 Service Unavailable (overloaded); retried: HTTP 502 Bad Gateway.`,
      ]);
    } finally {
      await s.close();
    }
  });

  test("a 4xx is not retried: the backend would refuse the event again", async () => {
    const s = await server([status(422, '{"message":"eventTime is missing"}')]);
    try {
      const t = new HttpTransport(s.url, { retryDelayMs: 0 });
      await t.emit(events()[2]!);
      expect(s.received).toHaveLength(1);
      expect(t.warnings).toEqual([
        `lineage: POST ${s.url}/api/v1/lineage failed for COMPLETE of curated_orders (run ${ASSET_RUN}): HTTP 422 Unprocessable Entity ({"message":"eventTime is missing"}).`,
      ]);
    } finally {
      await s.close();
    }
  });

  test("an unreachable server is a warning, not a throw", async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    const seen: string[] = [];
    const t = new HttpTransport(url, { retryDelayMs: 0, onWarning: (w) => seen.push(w) });
    await expect(t.emit(events()[0]!)).resolves.toBe(undefined);
    await expect(t.close()).resolves.toBe(undefined);
    expect(t.warnings).toEqual([
      `lineage: POST ${url}/api/v1/lineage failed for START of tributary.materialize (run ${CLI_RUN}): fetch failed (ECONNREFUSED); retried: fetch failed (ECONNREFUSED).`,
    ]);
    expect(seen).toEqual(t.warnings);
  });

  test("a server that does not answer times out, twice", async () => {
    const s = await server([() => {}, () => {}]);
    try {
      const t = new HttpTransport(s.url, { timeoutMs: 150, retryDelayMs: 0 });
      const started = Date.now();
      await t.emit(events()[0]!);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(s.received).toHaveLength(2);
      expect(t.warnings).toEqual([
        `lineage: POST ${s.url}/api/v1/lineage failed for START of tributary.materialize (run ${CLI_RUN}): timed out; retried: timed out.`,
      ]);
    } finally {
      await s.close();
    }
  });

  test("close waits for events still in flight", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((ok) => {
      release = ok;
    });
    const s = await server([(res) => void gate.then(() => res.writeHead(200).end())]);
    try {
      const t = new HttpTransport(s.url, { retryDelayMs: 0 });
      let delivered = false;
      void t.emit(events()[0]!).then(() => {
        delivered = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(delivered).toBe(false);
      const closing = t.close();
      release();
      await closing;
      expect(delivered).toBe(true);
      expect(t.warnings).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe("transports from the environment", () => {
  const kinds = (t: CompositeTransport) => t.transports.map((x) => x.constructor.name);

  test("no OPENLINEAGE_URL: the file only", () => {
    const t = transportsFromEnv(store, CLI_RUN, {}, { now: DAY });
    expect(kinds(t)).toEqual(["FileTransport"]);
    expect((t.transports[0] as FileTransport).key).toBe(KEY);
  });

  test("OPENLINEAGE_URL and OPENLINEAGE_API_KEY: file and HTTP, every event in both", async () => {
    const s = await server();
    try {
      const t = transportsFromEnv(
        store,
        CLI_RUN,
        { OPENLINEAGE_URL: s.url, OPENLINEAGE_API_KEY: "ol-secret-123" },
        { now: DAY, retryDelayMs: 0 },
      );
      expect(kinds(t)).toEqual(["FileTransport", "HttpTransport"]);
      expect((t.transports[1] as HttpTransport).endpoint).toBe(`${s.url}/api/v1/lineage`);
      const all = events();
      for (const e of all) await t.emit(e);
      await t.close();
      expect(await lines(store)).toEqual(all);
      expect(s.received.map((r) => JSON.parse(r.body) as unknown)).toEqual(all);
      expect(s.received.map((r) => r.headers.authorization)).toEqual(all.map(() => "Bearer ol-secret-123"));
      expect(t.warnings).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test("OPENLINEAGE_DISABLED=true turns HTTP off; the file stays", () => {
    for (const value of ["true", "TRUE", "1"]) {
      const t = transportsFromEnv(store, CLI_RUN, {
        OPENLINEAGE_URL: "http://marquez:5000",
        OPENLINEAGE_DISABLED: value,
      });
      expect(kinds(t)).toEqual(["FileTransport"]);
    }
    const on = transportsFromEnv(store, CLI_RUN, {
      OPENLINEAGE_URL: "http://marquez:5000",
      OPENLINEAGE_DISABLED: "false",
    });
    expect(kinds(on)).toEqual(["FileTransport", "HttpTransport"]);
  });

  test("a URL that is not http(s) is a warning; events still reach the store", async () => {
    const seen: string[] = [];
    const t = transportsFromEnv(
      store,
      CLI_RUN,
      { OPENLINEAGE_URL: "marquez:5000" },
      { now: DAY, onWarning: (w) => seen.push(w) },
    );
    const warning =
      'lineage: OPENLINEAGE_URL "marquez:5000" is not an http(s) URL; events go to the store only.';
    expect(t.warnings).toEqual([warning]);
    expect(seen).toEqual([warning]);
    const [first] = events();
    await t.emit(first!);
    await t.close();
    expect(await lines(store)).toEqual([first]);
  });

  test("an unreachable backend leaves the file complete; the composite collects the HTTP warnings", async () => {
    const s = await server();
    await s.close();
    const t = transportsFromEnv(store, CLI_RUN, { OPENLINEAGE_URL: s.url }, { now: DAY, retryDelayMs: 0 });
    const all = events();
    for (const e of all) await t.emit(e);
    await t.close();
    expect(await lines(store)).toEqual(all);
    expect(t.warnings).toHaveLength(4);
    expect(t.warnings.map((w) => w.slice(0, w.indexOf(" (run")))).toEqual([
      `lineage: POST ${s.url}/api/v1/lineage failed for START of tributary.materialize`,
      `lineage: POST ${s.url}/api/v1/lineage failed for START of curated_orders`,
      `lineage: POST ${s.url}/api/v1/lineage failed for COMPLETE of curated_orders`,
      `lineage: POST ${s.url}/api/v1/lineage failed for FAIL of tributary.materialize`,
    ]);
  });

  test("a composite of custom transports: one that rejects does not stop the others", async () => {
    const got: string[] = [];
    const rejecting: LineageTransport = {
      warnings: [],
      emit: () => Promise.reject(new Error("not supposed to reject")),
      close: () => Promise.reject(new Error("nor this")),
    };
    const recording: LineageTransport = {
      warnings: ["w1"],
      emit: async (e) => {
        got.push(`${e.eventType} ${e.job.name}`);
      },
      close: async () => {
        got.push("closed");
      },
    };
    const t = new CompositeTransport([rejecting, recording]);
    const [first] = events();
    await expect(t.emit(first!)).resolves.toBe(undefined);
    await expect(t.close()).resolves.toBe(undefined);
    expect(got).toEqual(["START tributary.materialize", "closed"]);
    expect(t.warnings).toEqual(["w1"]);
  });
});
