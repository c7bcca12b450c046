/** `tributary ui` as a user runs it: a child process that serves until interrupted. */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { cli } from "./in-process.ts";
import { BIN, EXAMPLE, STACK_LINE } from "./run.ts";

describe("tributary ui", () => {
  it("serves the page, its script and the graph on 127.0.0.1, and stops on Ctrl-C", async () => {
    const child = spawn(process.execPath, [BIN, "ui", "--port", "0"], {
      cwd: EXAMPLE,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        const m = /at (http:\/\/127\.0\.0\.1:\d+\/) /.exec(stdout);
        if (m) resolve(m[1]!);
      });
      child.on("exit", () => reject(new Error(`exited: ${stderr}`)));
    });
    expect(stdout).toMatch(
      /^tributary ui: 8 assets of assets\/index\.ts at http:\/\/127\.0\.0\.1:\d+\/ \(Ctrl-C stops\)\n$/,
    );
    const page = await fetch(url);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toContain('<script src="app.js" defer></script>');
    const script = await fetch(new URL("app.js", url));
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await script.text()).length).toBeGreaterThan(50_000);
    const graph = (await (await fetch(new URL("api/graph", url))).json()) as {
      nodes: { key: string }[];
      live: boolean;
    };
    expect(graph.live).toBe(true);
    expect(graph.nodes.map((n) => n.key).sort()).toEqual(
      [
        "curated_customers",
        "curated_orders",
        "customer_features",
        "customers_cdc",
        "daily_revenue",
        "orders_cdc",
        "recommendation_features",
        "recommendation_vectors",
      ].sort(),
    );
    expect((await fetch(new URL("nope", url))).status).toBe(404);
    const code = await new Promise<number | null>((resolve) => {
      child.on("exit", (c) => resolve(c));
      child.kill("SIGINT");
    });
    expect(code).toBe(0);
    expect(stderr).toBe("");
  }, 60_000);

  it("says a port is taken, or is no port, without a stack trace", async () => {
    const taken = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => taken.once("listening", r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await cli("ui", "--port", String(port));
      expect(r).toEqual({
        code: 1,
        stdout: "",
        stderr: `tributary: port ${port} on 127.0.0.1 is in use: pass another --port, or 0 for any free one.\n`,
      });
    } finally {
      taken.close();
    }
    const bad = await cli("ui", "--port", "80000");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"80000" is not a port: give a number from 0 to 65535.');
    expect(bad.stderr).not.toMatch(STACK_LINE);
  });
});
