/**
 * The documentation's relative links resolve: every `[text](target)` in README.md and docs/*.md that is
 * not a URL names a file or folder of the repository, and its `#anchor` (if any) a heading of that file,
 * spelled as GitHub spells heading anchors. Code blocks and code spans are not links.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The text with fenced code blocks blanked out, line for line, so line numbers stay. */
function withoutFences(text: string): string[] {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence === undefined && marker) {
      fence = marker;
      return "";
    }
    if (fence !== undefined) {
      if (
        marker !== undefined &&
        marker[0] === fence[0] &&
        marker.length >= fence.length &&
        line.trim() === marker
      )
        fence = undefined;
      return "";
    }
    return line;
  });
}

/** A heading's anchor as GitHub makes it: its text, lowercased, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[`*]/g, "")
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

/** Every anchor of a Markdown text: its headings' slugs, repeats numbered as GitHub numbers them. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link {
  readonly line: number;
  readonly target: string;
}

/** The inline links of a Markdown text that point into the repository (no scheme, no `//`). */
function relativeLinks(text: string): Link[] {
  const links: Link[] = [];
  withoutFences(text).forEach((line, i) => {
    const prose = line.replace(/(`+)[^`]*?\1/g, "");
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
      links.push({ line: i + 1, target });
    }
  });
  return links;
}

/** What is wrong with each link of `file` (a path under `base`), one line each; none when all resolve. */
function brokenLinks(file: string, text: string, base: string): string[] {
  const problems: string[] = [];
  for (const { line, target } of relativeLinks(text)) {
    const [path = "", anchor] = target.split("#", 2);
    const where = `${relative(base, file)}:${line}: ${target}`;
    if (path === "") {
      if (!anchors(text).has(decodeURIComponent(anchor ?? "")))
        problems.push(`${where}: no heading with that anchor`);
      continue;
    }
    const to = resolve(dirname(file), decodeURIComponent(path));
    if (!existsSync(to)) {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(to).isDirectory() || !to.endsWith(".md")) {
      problems.push(`${where}: an anchor into something that is not a Markdown file`);
    } else if (!anchors(readFileSync(to, "utf8")).has(decodeURIComponent(anchor))) {
      problems.push(`${where}: no heading with that anchor`);
    }
  }
  return problems;
}

function documentation(): string[] {
  const docs = join(root, "docs");
  return [
    join(root, "README.md"),
    ...readdirSync(docs)
      .filter((f) => f.endsWith(".md"))
      .sort()
      .map((f) => join(docs, f)),
  ];
}

describe("documentation links", () => {
  it("every relative link in README.md and docs/*.md resolves to a file and heading", () => {
    const files = documentation();
    expect(files.map((f) => relative(root, f))).toContain("docs/README.md");
    const broken = files.flatMap((f) => brokenLinks(f, readFileSync(f, "utf8"), root));
    expect(broken).toEqual([]);
  });

  it("every page of docs/ is reachable from docs/README.md", () => {
    const index = readFileSync(join(root, "docs", "README.md"), "utf8");
    const linked = new Set(relativeLinks(index).map((l) => l.target.split("#")[0]));
    const pages = documentation()
      .map((f) => relative(join(root, "docs"), f))
      .filter((f) => !f.startsWith("..") && f !== "README.md");
    expect(pages.filter((p) => !linked.has(p))).toEqual([]);
  });

  it("spells anchors as GitHub does", () => {
    expect(slug("`tributary query`: read-only SQL over committed data")).toBe(
      "tributary-query-read-only-sql-over-committed-data",
    );
    expect(slug("Host storage: one shared account, each app held to its own paths")).toBe(
      "host-storage-one-shared-account-each-app-held-to-its-own-paths",
    );
    expect(slug("Synth: offline")).toBe("synth-offline");
    expect(
      slug("Key Vault: firewall closed, trusted services through, functions by the private endpoint"),
    ).toBe("key-vault-firewall-closed-trusted-services-through-functions-by-the-private-endpoint");
    expect([...anchors("# A\n## Notes\n```\n## Not a heading\n```\n### Notes\n")]).toEqual([
      "a",
      "notes",
      "notes-1",
    ]);
  });

  it("finds a missing file, a missing anchor, and ignores code and URLs", () => {
    const file = join(root, "docs", "example.md");
    const text = [
      "# Example",
      "[ok](cli.md#ingest) [self](#example) [up](../README.md)",
      "[gone](nowhere.md) [no anchor](cli.md#nowhere) [bad self](#missing)",
      "`[code](nowhere.md)` [web](https://example.com/x.md) [mail](mailto:a@example.com)",
      "```md",
      "[fenced](nowhere.md)",
      "```",
    ].join("\n");
    expect(brokenLinks(file, text, root)).toEqual([
      "docs/example.md:3: nowhere.md: no such file",
      "docs/example.md:3: cli.md#nowhere: no heading with that anchor",
      "docs/example.md:3: #missing: no heading with that anchor",
    ]);
  });
});
