/**
 * The side panel for one asset, as HTML text: pure functions of the details, so the page and the tests
 * render the same thing. Every string from the graph or the store goes through `esc`.
 */
import type { NodeState, UiAssetDetails, UiColumnLineage, UiEdge, UiNode } from "../types.ts";

export const STATE_COLOURS: Readonly<Record<NodeState, string>> = {
  fresh: "#2da44e",
  stale: "#d4a72c",
  failed: "#cf222e",
  blocked: "#8250df",
  never: "#8c959f",
};

/** Colours of a static page's nodes, which have no state. */
export const KIND_COLOURS = { source: "#0969da", asset: "#57606a" } as const;

export const STATE_WORDS: Readonly<Record<NodeState, string>> = {
  fresh: "fresh",
  stale: "stale",
  failed: "failed",
  blocked: "blocked",
  never: "never materialised",
};

export function colourOf(node: Pick<UiNode, "state" | "kind">): string {
  return node.state ? STATE_COLOURS[node.state] : KIND_COLOURS[node.kind];
}

/** A long identifier that may wrap after its underscores and dots, not inside a word. */
export const ident = (text: string): string => esc(text).replace(/([_.])/g, "$1<wbr>");

export function esc(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const table = (head: readonly string[], rows: readonly (readonly string[])[]): string =>
  `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;

const section = (title: string, body: string, attrs = ""): string =>
  `<section${attrs}><h3>${esc(title)}</h3>${body}</section>`;

/** A link that selects another asset when clicked (the page listens for `data-asset`). */
export const assetLink = (key: string): string =>
  `<a href="#asset=${encodeURIComponent(key)}" data-asset="${esc(key)}">${esc(key)}</a>`;

const badge = (state: NodeState): string =>
  `<span class="badge" style="background:${STATE_COLOURS[state]}">${esc(STATE_WORDS[state])}</span>`;

/** A row of coloured cells, one per partition, oldest first; each says its partition and state on hover. */
export function strip(cells: readonly { partition: string; state: NodeState; why?: string }[]): string {
  return `<div class="strip">${cells
    .map(
      (c) =>
        `<span class="cell" style="background:${STATE_COLOURS[c.state]}" title="${esc(
          `${c.partition || "(unpartitioned)"}: ${STATE_WORDS[c.state]}${c.why ? ` (${c.why})` : ""}`,
        )}"></span>`,
    )
    .join("")}</div>`;
}

function edges(list: readonly UiEdge[], end: "from" | "to"): string {
  if (list.length === 0) return `<p class="none">none</p>`;
  return `<ul class="edges">${list
    .map(
      (e) =>
        `<li>${assetLink(e[end])} <span class="muted">${esc(e.mapping)}${
          e.columns ? ` · reads ${esc(e.columns.join(", "))}` : ""
        }</span></li>`,
    )
    .join("")}</ul>`;
}

export function columnLineageHtml(lineage: UiColumnLineage | undefined): string {
  if (!lineage) return `<p class="none">not known: a compute function's reads cannot be seen</p>`;
  if (!lineage.known) return `<p class="none">not known: ${esc(lineage.reason)}</p>`;
  return table(
    ["column", "computed from"],
    lineage.columns.map((c) => [
      `<code>${esc(c.column)}</code>`,
      c.from.length === 0
        ? `<span class="muted">no upstream column (a constant)</span>`
        : c.from.map((f) => `${assetLink(f.asset)}.<code>${esc(f.column)}</code>`).join(", "),
    ]),
  );
}

/** The whole panel. `node` gives the state the graph was drawn with (absent on a static page). */
export function detailsHtml(d: UiAssetDetails, node: UiNode | undefined, live: boolean): string {
  const parts: string[] = [];
  const state = node?.state;
  parts.push(
    `<header><h2 id="details-key">${esc(d.key)}</h2><span class="kind">${esc(d.kind)}</span>${
      state ? ` ${badge(state)}` : ""
    }</header>`,
  );
  if (state && node?.why) parts.push(`<p class="why" id="details-why">${esc(node.why)}</p>`);
  if (d.description) parts.push(`<p class="description">${esc(d.description)}</p>`);
  const facts: [string, string][] = [
    ["group", esc(d.group)],
    ["owners", d.owners.length ? esc(d.owners.join(", ")) : `<span class="muted">none</span>`],
  ];
  if (d.tags.length) facts.push(["tags", esc(d.tags.join(", "))]);
  facts.push(["partitions", esc(d.partitioning)]);
  if (d.automation) facts.push(["runs", esc(d.automation)]);
  if (d.freshness) facts.push(["freshness", esc(d.freshness)]);
  if (d.codeVersion) facts.push(["code version", `<code>${esc(d.codeVersion)}</code>`]);
  parts.push(`<dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`);
  parts.push(
    `<button type="button" id="lineage-button" data-lineage="${esc(d.key)}">Lineage of ${esc(d.key)}</button>`,
  );

  if (live) {
    if (d.partitions.length > 0) {
      const cells = [...d.partitions]
        .reverse()
        .map((p) => ({ partition: p.partition, state: p.state, why: p.why }));
      const attention = d.partitions.filter((p) => p.state !== "fresh");
      parts.push(
        section(
          `Partitions (${d.partitions.length})`,
          strip(cells) +
            (attention.length > 0
              ? table(
                  ["partition", "state", "why"],
                  attention.slice(0, 50).map((p) => [esc(p.partition || "-"), badge(p.state), esc(p.why)]),
                )
              : `<p class="muted">all fresh</p>`),
          ` id="details-partitions"`,
        ),
      );
    }
    parts.push(
      section(
        "Last materialisations",
        d.materialisations.length === 0
          ? `<p class="none">never materialised</p>`
          : table(
              ["partition", "at", "rows", "took"],
              d.materialisations.map((m) => [
                esc(m.partition || "-"),
                esc(m.at.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC")),
                esc(m.rows.toLocaleString("en")),
                m.durationMs === undefined
                  ? "-"
                  : esc(
                      m.durationMs < 1000
                        ? `${Math.round(m.durationMs)} ms`
                        : `${(m.durationMs / 1000).toFixed(1)} s`,
                    ),
              ]),
            ),
        ` id="details-materialisations"`,
      ),
    );
  }

  parts.push(
    section(
      `Checks (${d.checks.length})`,
      d.checks.length === 0
        ? `<p class="none">none</p>`
        : table(
            live ? ["check", "kind", "blocking", "last result"] : ["check", "kind", "blocking"],
            d.checks.map((c) => {
              const row = [
                `<code>${ident(c.name)}</code>`,
                esc(c.kind.replaceAll("_", " ")),
                c.blocking ? "yes" : "no",
              ];
              if (live) {
                row.push(
                  !c.last
                    ? `<span class="muted">not run</span>`
                    : c.last.passed
                      ? `<span class="pass">passed</span> <span class="muted">${esc(c.last.partition || "")}</span>`
                      : `<span class="fail">failed</span> ${esc(c.last.message ?? "")} <span class="muted">${esc(c.last.partition || "")}</span>`,
                );
              }
              return row;
            }),
          ),
      ` id="details-checks"`,
    ),
  );

  parts.push(
    section(
      `Schema (${d.schema.length} columns)`,
      table(
        ["column", "type", "nullable"],
        d.schema.map((c) => [`<code>${ident(c.name)}</code>`, esc(c.type), c.nullable ? "yes" : "no"]),
      ),
      ` id="details-schema"`,
    ),
  );
  if (d.sql) parts.push(section("SQL", `<pre><code>${esc(d.sql.trim())}</code></pre>`, ` id="details-sql"`));
  parts.push(section("Upstream", edges(d.upstream, "from"), ` id="details-upstream"`));
  parts.push(section("Downstream", edges(d.downstream, "to"), ` id="details-downstream"`));
  if (d.kind === "asset") {
    parts.push(section("Column lineage", columnLineageHtml(d.columnLineage), ` id="details-columns"`));
  }
  parts.push(
    section(
      "Deployed",
      d.stacks.length === 0
        ? `<p class="none">in no stack</p>`
        : table(
            ["stack", "where", "data", "function"],
            d.stacks.map((s) => [
              `<code>${esc(s.stack)}</code>`,
              esc(`${s.cloud} ${s.region}`),
              `<code>${esc(`${s.store.name}/${s.store.prefix}`)}</code>`,
              s.function ? `<code>${esc(s.function.name)}</code> ${esc(s.function.runs)}` : "-",
            ]),
          ),
      ` id="details-stacks"`,
    ),
  );
  return parts.join("");
}
