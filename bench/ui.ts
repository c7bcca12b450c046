/**
 * Asset-graph page benchmark: the first frame of `tributary ui` in headless Chromium (Debian's) for a
 * generated graph, against bare sigma over bare graphology drawing the same nodes and edges at the same
 * positions, served by the same kind of loopback server in the same run.
 *
 *   npx tsx bench/ui.ts              (10,000 assets, then 1,000; 3 runs each)
 *   npx tsx bench/ui.ts 10000 5      (assets, runs)
 *
 * The first frame is the page's own clock (from navigation start to the animation frame after sigma
 * drew the graph): the HTML, the script, `/api/graph` (the model, over an empty store: every asset is
 * read from the store and found never materialised), the graph built, sigma's first render. The
 * baseline page is given the positions ready-made as a static JSON file: it reads nothing from a store
 * and has no panel, reducers or strips. Also the static file of `tributary lineage --format html`.
 * Target: 10,000 assets under 3 s. Exits 1 when it is missed. Needs Chromium (`apt-get install chromium`).
 */
import * as fs from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Page } from "playwright-core";
import { serveUi } from "../src/cli/commands/ui.ts";
import { uiGraph } from "../src/cli/ui/model.ts";
import { loadGraph } from "../src/contract/graph-module.ts";
import { launch } from "../test/ui/browser.ts";
import { generate, moduleText } from "./generated-graph.ts";

const TARGET_MS = 3000;
const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const DATA = path.join(REPO, "bench", ".data", "ui");
const sizes = process.argv[2] ? [Number(process.argv[2])] : [10_000, 1_000];
const runs = Number(process.argv[3] ?? 3);
const quiet = { out: () => {}, err: () => {}, tty: false };

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The bare page: sigma on graphology, the nodes and edges as given, nothing else. */
async function bareScript(): Promise<string> {
  const entry = path.join(DATA, "bare.ts");
  fs.writeFileSync(
    entry,
    `import Graph from "graphology";
import Sigma from "sigma";
const data = await (await fetch("graph.json")).json();
const g = new Graph();
for (const n of data.nodes) g.addNode(n.key, { x: n.x, y: n.y, size: 3, label: n.key, color: "#57606a" });
for (const e of data.edges) g.addDirectedEdge(e.from, e.to);
new Sigma(g, document.getElementById("graph"));
requestAnimationFrame(() => { window.tributaryFirstFrame = performance.now(); document.body.dataset.ready = "true"; });
`,
  );
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    minify: true,
    nodePaths: [path.join(REPO, "node_modules")],
    logLevel: "silent",
  });
  return out.outputFiles[0]!.text;
}

async function firstFrame(page: Page, url: string): Promise<number> {
  await page.goto("about:blank");
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready !== undefined, null, { timeout: 60_000 });
  if ((await page.evaluate(() => document.body.dataset.ready)) !== "true")
    throw new Error(`${url}: the page failed`);
  return page.evaluate(() => (window as unknown as { tributaryFirstFrame: number }).tributaryFirstFrame);
}

fs.mkdirSync(DATA, { recursive: true });
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const bare = await bareScript();
console.log(
  `ui: first frame in headless Chromium; ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}`,
);
let failed = false;
try {
  for (const n of sizes) {
    const module = path.join(DATA, `graph-${n}.ts`);
    fs.writeFileSync(module, moduleText(generate(n)));
    const store = fs.mkdtempSync(path.join(tmpdir(), "tributary-bench-ui-"));
    const relative = path.relative(process.cwd(), module);
    const server = await serveUi({ graph: relative, store, port: 0 }, quiet);
    // The baseline's server: the bare page, its script, and the positions the model computed.
    const graph = await loadGraph(relative);
    const positions = JSON.stringify(await uiGraph(graph, { module: relative }));
    const baseline = createServer((req, res) => {
      if (req.url === "/bare.js") res.writeHead(200, { "content-type": "text/javascript" }).end(bare);
      else if (req.url === "/graph.json")
        res.writeHead(200, { "content-type": "application/json" }).end(positions);
      else
        res
          .writeHead(200, { "content-type": "text/html" })
          .end(
            `<!doctype html><body style="margin:0"><div id="graph" style="width:1000px;height:860px"></div><script type="module" src="bare.js"></script>`,
          );
    });
    await new Promise<void>((r) => baseline.listen(0, "127.0.0.1", r));
    const bareUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`;
    // The static file, as `tributary lineage --format html` writes it.
    const file = path.join(DATA, `lineage-${n}.html`);
    const { cli } = await import("../test/cli/in-process.ts");
    const written = await cli("lineage", "--graph", relative, "--format", "html", "--out", file);
    if (written.code !== 0) throw new Error(written.stderr);
    try {
      const ours: number[] = [];
      const theirs: number[] = [];
      const files: number[] = [];
      // One warm-up of each, then the runs.
      for (let i = 0; i <= runs; i++) {
        const o = await firstFrame(page, server.url);
        const b = await firstFrame(page, bareUrl);
        const f = await firstFrame(page, `file://${file}`);
        if (i === 0) continue;
        ours.push(o);
        theirs.push(b);
        files.push(f);
      }
      const o = median(ours);
      const b = median(theirs);
      console.log(
        `${n} assets: tributary ui ${o.toFixed(0)} ms (target < ${TARGET_MS} ms); bare sigma + graphology ${b.toFixed(0)} ms; ratio ${(o / b).toFixed(2)}; ` +
          `lineage --format html file (${(fs.statSync(file).size / 1e6).toFixed(1)} MB) ${median(files).toFixed(0)} ms`,
      );
      if (n >= 10_000 && o >= TARGET_MS) failed = true;
    } finally {
      await server.close();
      baseline.close();
      fs.rmSync(store, { recursive: true, force: true });
    }
  }
} finally {
  await browser.close();
}
console.log(failed ? "ui: a target was missed" : "ui: every target met");
process.exit(failed ? 1 : 0);
