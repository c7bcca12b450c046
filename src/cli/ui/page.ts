/**
 * The asset-graph page as HTML: the same page served by `tributary ui` (its script at `app.js`, its data
 * from the API) and written whole by `tributary lineage --format html` (script and data inlined, so the
 * file opens anywhere, offline). The page's script is bundled from `client/` by esbuild when first asked
 * for: the user builds nothing.
 */
import { build } from "esbuild";
import { moduleFile } from "../../contract/package-files.ts";
import { esc } from "./client/details.ts";
import type { UiAssetDetails, UiGraph } from "./types.ts";

const ENTRY = moduleFile(import.meta.url, "./client/main.ts");

let bundled: Promise<string> | undefined;

/** The page's script, one minified file (cached for the process). */
export function clientScript(): Promise<string> {
  bundled ??= build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
  }).then((r) => r.outputFiles[0]!.text);
  return bundled;
}

const STYLE = `
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#fff}
body{display:grid;grid-template-rows:auto 1fr;grid-template-columns:1fr 400px;grid-template-areas:"top top" "graph details"}
#top{grid-area:top;display:flex;gap:12px;align-items:center;padding:8px 12px;border-bottom:1px solid #d0d7de;flex-wrap:wrap}
#top h1{font-size:15px;margin:0 8px 0 0}
#top .muted{font-size:12px}
.field{position:relative;display:flex;flex-direction:column}
.field input{font:inherit;padding:4px 8px;border:1px solid #d0d7de;border-radius:6px;width:210px}
.field .error{position:absolute;top:100%;left:0;color:#cf222e;font-size:12px;white-space:nowrap;z-index:3;background:#fff}
#suggestions{position:absolute;top:100%;left:0;right:0;margin:2px 0 0;padding:0;list-style:none;background:#fff;border:1px solid #d0d7de;border-radius:6px;z-index:4;max-height:320px;overflow:auto}
#suggestions li{padding:3px 8px;cursor:pointer}
#suggestions li:hover{background:#f6f8fa}
#graph{grid-area:graph;position:relative;min-height:0;min-width:0}
#graph canvas.strips{position:absolute;inset:0;pointer-events:none}
#details{grid-area:details;border-left:1px solid #d0d7de;overflow:auto;padding:12px 16px}
#details header{display:flex;align-items:center;gap:8px;flex-wrap:wrap}
#details h2{margin:0;font-size:18px;word-break:break-all}
#details h3{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#57606a;margin:18px 0 6px}
#details dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:10px 0}
#details dt{color:#57606a}
#details dd{margin:0}
#details table{border-collapse:collapse;width:100%;font-size:12.5px}
#details th,#details td{text-align:left;border-bottom:1px solid #eaeef2;padding:3px 6px 3px 0;vertical-align:top}
#details pre{background:#f6f8fa;padding:8px;border-radius:6px;overflow:auto;font-size:12px;white-space:pre-wrap}
#details button{font:inherit;margin:4px 0;padding:4px 10px;border:1px solid #d0d7de;border-radius:6px;background:#f6f8fa;cursor:pointer}
.kind{font-size:12px;color:#57606a;border:1px solid #d0d7de;border-radius:10px;padding:0 6px}
.badge{color:#fff;font-size:12px;border-radius:10px;padding:0 8px}
.why{margin:6px 0;color:#57606a}
.muted,.none{color:#8c959f}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}
.error{color:#cf222e}
.strip{display:flex;flex-wrap:wrap;gap:1px;margin:4px 0 8px}
.strip .cell{width:8px;height:12px;border-radius:1px}
.edges{margin:0;padding-left:18px}
.counts{list-style:none;padding:0;margin:12px 0}
.counts li,.legend li{display:flex;align-items:center;gap:6px}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%}
.legend{display:flex;gap:10px;list-style:none;margin:0;padding:0;font-size:12px}
#view{font-weight:600}
`;

const LEGEND_LIVE = [
  ["#2da44e", "fresh"],
  ["#d4a72c", "stale"],
  ["#cf222e", "failed"],
  ["#8250df", "blocked"],
  ["#8c959f", "never materialised"],
] as const;
const LEGEND_STATIC = [
  ["#0969da", "source"],
  ["#57606a", "asset"],
] as const;

/** Inline JSON for a `<script type="application/json">`: nothing in it may close the element. */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

export interface PageContent {
  title: string;
  live: boolean;
  /** Served: the script's URL. Written whole: the script and the data. */
  script:
    | { src: string }
    | { inline: string; data: { graph: UiGraph; details: Record<string, UiAssetDetails> } };
}

export function pageHtml(p: PageContent): string {
  const legend = (p.live ? LEGEND_LIVE : LEGEND_STATIC)
    .map(([c, w]) => `<li><span class="dot" style="background:${c}"></span>${w}</li>`)
    .join("");
  const title = esc(p.title);
  const scripts =
    "src" in p.script
      ? `<script src="${p.script.src}" defer></script>`
      : `<script type="application/json" id="tributary-data">${inlineJson(p.script.data)}</script>\n<script>${p.script.inline.replaceAll("</script", "<\\/script")}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<div id="top">
  <h1>Tributary</h1>
  <span id="module" class="muted"></span>
  <div class="field"><input id="search" type="search" placeholder="Search by key" autocomplete="off" aria-label="Search by key"><ul id="suggestions" hidden></ul><span id="search-error" class="error"></span></div>
  <div class="field"><input id="filter" type="text" placeholder="Filter: +orders, tag:pii" autocomplete="off" aria-label="Filter by selection"><span id="filter-error" class="error"></span></div>
  <span id="count" class="muted"></span>
  <span id="view"></span><button type="button" id="view-clear" hidden>Show all</button>
  <ul class="legend">${legend}</ul>
  <span id="at" class="muted"></span>
</div>
<div id="graph"></div>
<aside id="details"></aside>
${scripts}
</body>
</html>
`;
}
