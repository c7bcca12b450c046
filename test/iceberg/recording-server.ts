/**
 * A loopback HTTP server that records every request a real SDK client sends and answers each with what
 * `answer` says: the stand-in for services no emulator exists for (Glue, BigQuery), so the tests check the
 * exact wire requests of the official clients.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Recorded {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The body parsed as JSON; undefined when empty. */
  readonly body: unknown;
}

export interface Answer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export interface RecordingServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: Recorded[];
  close(): Promise<void>;
}

export async function startRecordingServer(answer: (r: Recorded) => Answer): Promise<RecordingServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const recorded: Recorded = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: text === "" ? undefined : JSON.parse(text),
      };
      requests.push(recorded);
      let a: Answer;
      try {
        a = answer(recorded);
      } catch (e) {
        a = { status: 501, body: { message: String(e) } };
      }
      const body = a.body === undefined ? "" : JSON.stringify(a.body);
      res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}
