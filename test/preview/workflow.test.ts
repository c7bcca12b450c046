/**
 * The pull-request workflows (this repository's and the one `tributary init` writes) run
 * `tributary diff --data` with the base revision's materialisation cached between runs.
 */
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
import { REPO } from "../cli/run.ts";

const WORKFLOWS = {
  repository: [".github/workflows/preview.yml", "examples/commerce/"],
  init: ["templates/init/_github/workflows/pull-request.yml", ""],
} as const;

describe.each(Object.entries(WORKFLOWS))("the %s workflow", (_, [file, dir]) => {
  const text = fs.readFileSync(`${REPO}/${file}`, "utf8");
  it("restores the base revision's data keyed by the base commit, then diffs with --data into it", () => {
    expect(text).toContain(
      [
        "      - name: Restore the base revision's data",
        "        uses: actions/cache@v4",
        "        with:",
        `          path: ${dir}.tributary-diff-base`,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression
        "          key: tributary-diff-base-${{ github.event.pull_request.base.sha }}",
        "          restore-keys: tributary-diff-base-",
      ].join("\n"),
    );
    expect(text).toContain(
      [
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression
        '          npx tributary diff --base "origin/${{ github.base_ref }}" --stack $STACKS \\',
        "            --data --data-cache .tributary-diff-base \\",
        "            --format json --out diff.json --exit-code",
      ].join("\n"),
    );
    expect(text.indexOf("Restore the base revision's data")).toBeLessThan(text.indexOf("npx tributary diff"));
  });
});
