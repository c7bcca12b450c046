/**
 * A loopback HTTP server standing in for an embedding provider: it records every request (method, path,
 * headers, JSON body) and answers with what the test's `answer` says, now or when the test releases it.
 */
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

export interface Reply {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body: unknown;
}

export interface FakeProvider {
  readonly seen: Seen[];
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * `answer` gets each request and its number (0-based); a promise holds the answer back until it settles.
 * `http2`: speak HTTP/2 without TLS (prior knowledge), as the Bedrock Runtime client does.
 */
export async function fakeProvider(
  answer: (req: Seen, n: number) => Reply | Promise<Reply>,
  options: { http2?: boolean } = {},
): Promise<FakeProvider> {
  const seen: Seen[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const handle = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    let text = "";
    req.setEncoding("utf8").on("data", (d: string) => (text += d));
    req.on("end", async () => {
      const r: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: text === "" ? undefined : JSON.parse(text),
      };
      const n = seen.push(r) - 1;
      const reply = await answer(r, n);
      res.statusCode = reply.status ?? 200;
      res.setHeader("content-type", "application/json");
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      res.end(JSON.stringify(reply.body));
    });
  };
  const server = options.http2 ? http2.createServer(handle) : http.createServer(handle);
  if (options.http2) {
    server.on("session", (s: http2.ServerHttp2Session) => {
      sessions.add(s);
      s.on("close", () => sessions.delete(s));
    });
  }
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as AddressInfo).port;
  return {
    seen,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        if (server instanceof http.Server) server.closeAllConnections();
        for (const s of sessions) s.destroy();
        server.close(() => done());
      }),
  };
}

/** A deterministic vector of `dimension` numbers for the `n`th text: what fixtures answer with. */
export function vector(n: number, dimension: number): number[] {
  return Array.from({ length: dimension }, (_, i) => Math.round(Math.sin(n * 31 + i) * 1e6) / 1e6);
}

/** Waits that are recorded, not slept: retries in tests take no time and their delays are asserted. */
export function recordedSleep(): { delays: number[]; sleep: (ms: number) => Promise<void> } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}
