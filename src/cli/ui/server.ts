/**
 * `tributary ui`'s HTTP server: the page, its script and a small JSON API over the loaded graph and the
 * store. Loopback only unless told otherwise; requests naming another host are refused, so a web page
 * elsewhere cannot reach the API through DNS rebinding.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AssetGraph } from "tributary";
import { type ModelOptions, uiDetails, uiGraph } from "./model.ts";
import { clientScript, pageHtml } from "./page.ts";

export interface UiServerOptions {
  graph: AssetGraph;
  /** Read for every request, so the page follows the store while runs happen. */
  model: () => ModelOptions;
  host?: string;
  port?: number;
}

export interface UiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** Whether a host name or address is this machine's loopback. */
export const isLoopback = (host: string): boolean => LOOPBACK.has(host);

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const host = opts.host ?? "127.0.0.1";
  const script = await clientScript();
  const html = pageHtml({
    title: `Tributary · ${opts.model().module}`,
    live: true,
    script: { src: "app.js" },
  });

  const graphs = new GraphCache(() => uiGraph(opts.graph, opts.model()));
  await graphs.latest();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      send(res, 500, "application/json", JSON.stringify({ error: error.message }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostHeader = (req.headers.host ?? "").replace(/:\d+$/, "");
    if (isLoopback(host) && !isLoopback(hostHeader)) {
      send(res, 403, "text/plain", `tributary ui answers only to ${host}\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain", "only GET\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path === "/" || path === "/index.html") return send(res, 200, "text/html; charset=utf-8", html);
    if (path === "/app.js") return send(res, 200, "text/javascript; charset=utf-8", script, "max-age=0");
    if (path === "/api/graph") {
      const { body, etag } = await graphs.latest();
      if (req.headers["if-none-match"] === etag) {
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      res.setHeader("etag", etag);
      return send(res, 200, "application/json", body);
    }
    const asset = /^\/api\/assets\/(.+)$/.exec(path);
    if (asset) {
      const key = decodeURIComponent(asset[1]!);
      if (!opts.graph.has(key)) {
        return send(
          res,
          404,
          "application/json",
          JSON.stringify({ error: `no asset "${key}" in the graph` }),
        );
      }
      return send(
        res,
        200,
        "application/json",
        JSON.stringify(await uiDetails(opts.graph, key, opts.model())),
      );
    }
    send(res, 404, "text/plain", `not found: ${path}\n`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, cache = "no-store"): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": cache,
    "x-content-type-options": "nosniff",
    // The page loads nothing from elsewhere; say so, so nothing elsewhere can be loaded into it.
    "content-security-policy":
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
  });
  res.end(body);
}

/**
 * The graph's model, read from the store once and then again in the background as the page polls: at
 * most every 2 s, or every three reads' worth of time when the graph is large (a 10,000-asset graph
 * takes seconds to read), so a page open all day does not keep a core busy. A request never waits for
 * a read but the first.
 */
class GraphCache {
  #current: { body: string; etag: string } | undefined;
  #reading: Promise<void> | undefined;
  #started = 0;
  #cost = 0;
  readonly #read: () => Promise<unknown>;

  constructor(read: () => Promise<unknown>) {
    this.#read = read;
  }

  async latest(): Promise<{ body: string; etag: string }> {
    const due = performance.now() - this.#started >= Math.max(2000, 3 * this.#cost);
    if (!this.#reading && (this.#current === undefined || due)) {
      this.#reading = this.#refresh();
      // A failed re-read keeps the last model; only the first read's failure reaches the request.
      if (this.#current !== undefined) this.#reading.catch(() => {});
    }
    if (this.#current === undefined) await this.#reading;
    return this.#current!;
  }

  async #refresh(): Promise<void> {
    this.#started = performance.now();
    try {
      const body = JSON.stringify(await this.#read());
      // The ETag ignores the read time, so an unchanged store answers 304 and the page redraws nothing.
      const etag = `"${createHash("sha1")
        .update(body.replace(/"at":"[^"]*"/, ""))
        .digest("base64url")}"`;
      if (etag !== this.#current?.etag) this.#current = { body, etag };
    } finally {
      this.#cost = performance.now() - this.#started;
      this.#reading = undefined;
    }
  }
}
