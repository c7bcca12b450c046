/**
 * The asset-graph page: sigma draws the page's graphology graph; the panel on the right shows the
 * clicked asset. Data comes from `tributary ui` (`/api/graph`, `/api/assets/<key>`, polled for state)
 * or, in a file written by `tributary lineage --format html`, from the JSON inlined in the page.
 */
import Sigma from "sigma";
import { extremityArrow } from "sigma/rendering";
import type { UiAssetDetails, UiGraph, UiNode } from "../types.ts";
import { colourOf, columnLineageHtml, detailsHtml, esc, STATE_COLOURS, STATE_WORDS } from "./details.ts";
import { PageGraph } from "./page-graph.ts";

interface Inlined {
  graph: UiGraph;
  details: Record<string, UiAssetDetails>;
}

interface Source {
  graph(etag?: string): Promise<{ graph: UiGraph; etag?: string } | undefined>;
  details(key: string): Promise<UiAssetDetails>;
}

function inlinedSource(data: Inlined): Source {
  return {
    graph: async (etag) => (etag ? undefined : { graph: data.graph }),
    details: async (key) => {
      const d = data.details[key];
      if (!d) throw new Error(`no details for ${key}`);
      return d;
    },
  };
}

const serverSource: Source = {
  async graph(etag) {
    const res = await fetch("api/graph", etag ? { headers: { "if-none-match": etag } } : {});
    if (res.status === 304) return undefined;
    if (!res.ok) throw new Error(await res.text());
    return { graph: (await res.json()) as UiGraph, etag: res.headers.get("etag") ?? undefined };
  },
  async details(key) {
    const res = await fetch(`api/assets/${encodeURIComponent(key)}`);
    if (!res.ok) throw new Error(((await res.json()) as { error: string }).error);
    return (await res.json()) as UiAssetDetails;
  },
};

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Mix a colour with white, for what is not in focus. */
function faded(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const mix = (c: number) => Math.round(c + (255 - c) * 0.75);
  return `rgb(${mix(n >> 16)},${mix((n >> 8) & 255)},${mix(n & 255)})`;
}

async function start(): Promise<void> {
  const inline = document.getElementById("tributary-data");
  const source = inline ? inlinedSource(JSON.parse(inline.textContent ?? "") as Inlined) : serverSource;
  const first = await source.graph();
  if (!first) throw new Error("no graph");
  let data = first.graph;
  let etag = first.etag;
  const page = new PageGraph(data);
  const graph = page.graph;
  const nodeSize = data.nodes.length > 2000 ? 3 : data.nodes.length > 300 ? 5 : 8;
  const allLabels = data.nodes.length <= 300;

  // What the reducers read: the clicked asset, the lineage view's asset and the filter.
  let selected: string | undefined;
  let neighbours = new Set<string>();
  let lineageOf: string | undefined;
  let lineageSet: Set<string> | undefined;
  let filter: Set<string> | undefined;
  const visible = (key: string) => (!filter || filter.has(key)) && (!lineageSet || lineageSet.has(key));

  const container = $("graph");
  const sigma = new Sigma(graph as never, container, {
    // Every edge is one straight line with an arrow at its head.
    primitives: { edges: { extremities: [extremityArrow()], defaultHead: "arrow" } },
    settings: {
      // Sizes are pixels at the default zoom, whatever the layout's coordinates.
      itemSizesReference: "screen",
      labelRenderedSizeThreshold: 6,
      labelDensity: 0.5,
      hideEdgesOnMove: data.nodes.length > 2000,
      // Room for the last level's labels, which are drawn to the right of their nodes.
      stagePadding: 110,
      minCameraRatio: 0.002,
      maxCameraRatio: 4,
    },
    // What a reducer returns is laid over what sigma's default styles give: position and size always.
    nodeReducer: (key, _display, attrs) => {
      const n = attrs as unknown as UiNode;
      const base = {
        x: n.x,
        y: n.y,
        label: key,
        size: n.kind === "source" ? nodeSize * 1.2 : nodeSize,
        // A small graph shows every label; a large one lets sigma thin them out by zoom.
        labelVisibility: allLabels ? ("visible" as const) : ("auto" as const),
        zIndex: 0,
      };
      const colour = colourOf(n);
      if (!visible(key)) return { ...base, color: colour, visibility: "hidden" };
      if (selected === undefined) return { ...base, color: colour };
      if (key === selected) {
        return {
          ...base,
          color: colour,
          size: base.size * 1.6,
          highlighted: true,
          labelVisibility: "visible",
          zIndex: 2,
        };
      }
      // In a lineage view every asset left is in focus; otherwise the clicked asset's neighbours are.
      if (neighbours.has(key) || lineageSet)
        return { ...base, color: colour, labelVisibility: "visible", zIndex: 1 };
      return { ...base, color: faded(colour), label: "" };
    },
    edgeReducer: (edge) => {
      const from = graph.source(edge);
      const to = graph.target(edge);
      if (!visible(from) || !visible(to)) return { visibility: "hidden" };
      const touches = selected !== undefined && (from === selected || to === selected);
      return {
        color: touches ? "#57606a" : selected ? "#eaeef2" : "#afb8c1",
        size: touches ? 2 : 1,
      };
    },
  });

  // Partition strips: a canvas over the graph, redrawn after each frame, for nodes big enough to carry one.
  const strips = document.createElement("canvas");
  strips.className = "strips";
  container.appendChild(strips);
  const drawStrips = () => {
    const { width, height } = sigma.getDimensions();
    const ratio = window.devicePixelRatio || 1;
    if (strips.width !== Math.round(width * ratio) || strips.height !== Math.round(height * ratio)) {
      strips.width = Math.round(width * ratio);
      strips.height = Math.round(height * ratio);
      strips.style.width = `${width}px`;
      strips.style.height = `${height}px`;
    }
    const ctx = strips.getContext("2d")!;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    graph.forEachNode((key, attrs) => {
      const n = attrs as unknown as UiNode;
      if (!n.strip || n.strip.length === 0 || !visible(key)) return;
      const display = sigma.getNodeDisplayData(key);
      if (!display) return;
      const radius = sigma.scaleSize(display.size);
      if (radius < 5) return;
      const at = sigma.framedGraphToViewport(display);
      if (at.x < -100 || at.y < -100 || at.x > width + 100 || at.y > height + 100) return;
      const cell = Math.max(2, Math.min(6, Math.floor((radius * 6) / n.strip.length)));
      const total = cell * n.strip.length;
      const left = at.x - total / 2;
      const top = at.y + radius + 3;
      n.strip.forEach((s, i) => {
        ctx.fillStyle = STATE_COLOURS[s];
        ctx.fillRect(left + i * cell, top, cell - (cell > 2 ? 1 : 0), 4);
      });
    });
  };
  sigma.on("afterRender", drawStrips);
  // Sigma drew its first frame in its constructor, before this listener: draw this one's strips now.
  drawStrips();

  // Labels are drawn right of their nodes: move the view left by half the last level's longest label.
  let last = 0;
  let longest = 0;
  for (const n of data.nodes) if (n.level > last) last = n.level;
  for (const n of data.nodes) if (n.level === last) longest = Math.max(longest, n.key.length);
  const { width } = sigma.getDimensions();
  if (width > 0) sigma.getCamera().setState({ x: 0.5 + Math.min(0.2, (longest * 3.5) / width) });

  const panel = $("details");
  const showPanel = (html: string, asset?: string) => {
    // Which asset the panel shows (not data-asset: that marks the links inside it).
    if (asset === undefined) delete panel.dataset.shown;
    else panel.dataset.shown = asset;
    panel.innerHTML = html;
    panel.scrollTop = 0;
  };
  const emptyPanel = () =>
    showPanel(
      `<p class="muted" id="details-empty">Click an asset, or search for one by key.</p>${legendCounts()}`,
    );

  function legendCounts(): string {
    if (!data.live) return "";
    const counts = new Map<string, number>();
    for (const n of data.nodes) if (n.state) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
    return `<ul class="counts">${[...counts]
      .map(
        ([s, c]) =>
          `<li><span class="dot" style="background:${STATE_COLOURS[s as keyof typeof STATE_COLOURS]}"></span>${c} ${esc(STATE_WORDS[s as keyof typeof STATE_WORDS])}</li>`,
      )
      .join("")}</ul>`;
  }

  let showing = 0;
  async function select(key: string | undefined, opts: { focus?: boolean } = {}): Promise<void> {
    // A link to an asset this page does not draw (left out of a file's selection) selects nothing.
    if (key !== undefined && !graph.hasNode(key)) return;
    selected = key;
    neighbours = key ? new Set([...graph.inNeighbors(key), ...graph.outNeighbors(key)]) : new Set();
    sigma.refresh({ skipIndexation: true });
    const ticket = ++showing;
    if (!key) {
      emptyPanel();
      setHash();
      return;
    }
    if (opts.focus) {
      const display = sigma.getNodeDisplayData(key);
      // Zoom in on a large graph; a small one is readable as it is.
      const ratio = Math.min(sigma.getCamera().ratio, data.nodes.length > 200 ? 0.25 : 1);
      if (display) await sigma.getCamera().animate({ x: display.x, y: display.y, ratio }, { duration: 250 });
    }
    setHash();
    try {
      const d = await source.details(key);
      if (ticket !== showing) return;
      showPanel(detailsHtml(d, page.node(key), data.live), key);
    } catch (e) {
      if (ticket === showing) showPanel(`<p class="error">${esc((e as Error).message)}</p>`);
    }
  }

  function setLineage(key: string | undefined): void {
    lineageOf = key;
    lineageSet = key ? new Set([key, ...page.upstream(key), ...page.downstream(key)]) : undefined;
    $("view").textContent = key ? `lineage of ${key}` : "";
    $("view-clear").hidden = !key;
    sigma.refresh({ skipIndexation: true });
    setHash();
    if (key) {
      // Frame what is left: the camera moves to the middle of the lineage's nodes.
      let minX = Number.POSITIVE_INFINITY;
      let maxX = Number.NEGATIVE_INFINITY;
      let minY = Number.POSITIVE_INFINITY;
      let maxY = Number.NEGATIVE_INFINITY;
      for (const k of lineageSet!) {
        const d = sigma.getNodeDisplayData(k);
        if (!d) continue;
        minX = Math.min(minX, d.x);
        maxX = Math.max(maxX, d.x);
        minY = Math.min(minY, d.y);
        maxY = Math.max(maxY, d.y);
      }
      const span = Math.max(maxX - minX, maxY - minY, 0.05);
      void sigma
        .getCamera()
        .animate(
          { x: (minX + maxX) / 2, y: (minY + maxY) / 2, ratio: Math.min(1, span * 1.3) },
          { duration: 250 },
        );
    } else void sigma.getCamera().animate({ x: 0.5, y: 0.5, ratio: 1 }, { duration: 250 });
  }

  function setHash(): void {
    const params = new URLSearchParams();
    if (selected) params.set("asset", selected);
    if (lineageOf) params.set("lineage", lineageOf);
    const f = ($("filter") as HTMLInputElement).value.trim();
    if (filter && f) params.set("select", f);
    const text = params.toString();
    history.replaceState(null, "", text ? `#${text}` : location.pathname + location.search);
  }

  // Clicks on the graph and on links in the panel.
  sigma.on("clickNode", ({ node }) => void select(node));
  sigma.on("clickStage", () => void select(undefined));
  sigma.on("enterNode", () => {
    container.style.cursor = "pointer";
  });
  sigma.on("leaveNode", () => {
    container.style.cursor = "";
  });
  panel.addEventListener("click", (event) => {
    const target = event.target as HTMLElement;
    const link = target.closest<HTMLElement>("a[data-asset]");
    if (link) {
      event.preventDefault();
      void select(link.dataset.asset, { focus: true });
      return;
    }
    const lineage = target.closest<HTMLElement>("button[data-lineage]");
    if (lineage) setLineage(lineage.dataset.lineage);
  });
  $("view-clear").addEventListener("click", () => setLineage(undefined));

  // Search by key: suggestions as you type; Enter or a click picks one.
  const search = $("search") as HTMLInputElement;
  const suggestions = $("suggestions");
  const suggest = () => {
    const found = page.search(search.value);
    suggestions.innerHTML = found.map((k) => `<li data-key="${esc(k)}">${esc(k)}</li>`).join("");
    suggestions.hidden = found.length === 0;
  };
  const pick = (key: string | undefined) => {
    suggestions.hidden = true;
    if (!key) {
      $("search-error").textContent = search.value.trim() ? `no asset matches "${search.value.trim()}"` : "";
      return;
    }
    $("search-error").textContent = "";
    search.value = key;
    if (!visible(key)) {
      // The asset is filtered out: show everything again rather than select something hidden.
      filter = undefined;
      ($("filter") as HTMLInputElement).value = "";
      setLineage(undefined);
    }
    void select(key, { focus: true });
  };
  search.addEventListener("input", suggest);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") pick(page.search(search.value, 1)[0]);
    if (e.key === "Escape") suggestions.hidden = true;
  });
  suggestions.addEventListener("mousedown", (e) => {
    const li = (e.target as HTMLElement).closest<HTMLElement>("[data-key]");
    if (li) pick(li.dataset.key);
  });

  // Filter by the selection syntax (`+orders`, `group:shop`, `tag:pii+`): the kit's own `select`.
  const filterInput = $("filter") as HTMLInputElement;
  const applyFilter = () => {
    const text = filterInput.value.trim();
    const error = $("filter-error");
    try {
      filter = text === "" ? undefined : new Set(page.select(text));
      error.textContent = "";
    } catch (e) {
      error.textContent = (e as Error).message;
      return;
    }
    $("count").textContent = filter
      ? `${filter.size} of ${data.nodes.length} assets`
      : `${data.nodes.length} assets`;
    if (selected && !visible(selected)) void select(undefined);
    sigma.refresh({ skipIndexation: true });
    setHash();
  };
  filterInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") applyFilter();
  });
  filterInput.addEventListener("change", applyFilter);

  // A live page follows the store: the graph's state is polled, and redrawn when it changed.
  if (data.live) {
    const poll = async () => {
      if (document.visibilityState === "visible") {
        try {
          const next = await source.graph(etag);
          if (next) {
            data = next.graph;
            etag = next.etag;
            for (const n of data.nodes) if (graph.hasNode(n.key)) graph.mergeNodeAttributes(n.key, n);
            $("at").textContent = `state at ${new Date(data.at).toLocaleTimeString()}`;
            if (selected) void select(selected);
            else emptyPanel();
          }
        } catch {
          $("at").textContent = "the tributary ui server stopped";
        }
      }
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }

  $("module").textContent = data.module;
  $("count").textContent = `${data.nodes.length} assets`;
  $("at").textContent = data.live
    ? `state at ${new Date(data.at).toLocaleTimeString()}`
    : "static graph, no state";

  // Where the page was left: #asset=…&lineage=…&select=…
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("select")) {
    filterInput.value = hash.get("select")!;
    applyFilter();
  }
  const lineage = hash.get("lineage");
  if (lineage && graph.hasNode(lineage)) setLineage(lineage);
  const asset = hash.get("asset");
  if (asset && graph.hasNode(asset)) void select(asset, { focus: true });
  else emptyPanel();

  // For tests and the bench: the instance, and when the first frame was painted.
  const w = window as unknown as Record<string, unknown>;
  w.tributary = {
    sigma,
    page,
    columnLineageHtml,
    /** Where a node is drawn, in page pixels. */
    pointOf(key: string) {
      const d = sigma.getNodeDisplayData(key);
      if (!d) return undefined;
      const p = sigma.framedGraphToViewport(d);
      const box = container.getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y, color: d.color, hidden: d.visibility === "hidden" };
    },
  };
  requestAnimationFrame(() => {
    w.tributaryFirstFrame = performance.now();
    document.body.dataset.ready = "true";
  });
}

start().catch((e: Error) => {
  document.body.dataset.ready = "error";
  const panel = document.getElementById("details");
  if (panel) panel.innerHTML = `<p class="error">${esc(e.message)}</p>`;
});
