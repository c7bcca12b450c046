/**
 * The project configuration on the command line: `--config <file>` (a global option, before or after
 * the command; else $TRIBUTARY_CONFIG) names the graph module, stacks folder, store and sample data of
 * every command, `--graph` overrides its graph, and a configuration with a mistake is refused with the
 * file and the setting. The project lives inside the repository, so its modules import "tributary".
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { awsStack } from "../preview/project.ts";
import { cli } from "./in-process.ts";
import { REPO } from "./run.ts";

fs.mkdirSync(path.join(REPO, ".scratch"), { recursive: true });
const root = fs.mkdtempSync(path.join(REPO, ".scratch", "config-"));
const rel = path.relative(REPO, root);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const files: Record<string, string> = {
  "tributary.config.ts": `import { writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { defineConfig } from "tributary";

export default defineConfig({
  graph: "pipelines/web.ts",
  stacks: "envs",
  store: "data",
  // Two clicks: the graph module's own sampleData (five) is not used.
  sampleData: async (dir) => {
    await mkdir(dir, { recursive: true });
    const rows = [
      { id: "c1", at: "2026-11-02T10:00:00Z", page: "/" },
      { id: "c2", at: "2026-11-02T10:01:00Z", page: "/cart" },
    ];
    await writeFile(join(dir, "clicks.ndjson"), rows.map((r) => JSON.stringify(r)).join("\\n") + "\\n");
    return { clicks: [join(dir, "clicks.ndjson")] };
  },
});
`,
  "pipelines/web.ts": `import { writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { asset, defineGraph, onUpstream, source, Type } from "tributary";

const clicks = source("clicks", {
  schema: Type.Object({ id: Type.String(), at: Type.String(), page: Type.String() }),
  eventId: "id", eventTime: "at", group: "web", owners: ["team:web"],
});
const pageViews = asset("page_views", {
  deps: [clicks], group: "web", owners: ["team:web"], trigger: onUpstream(),
  schema: Type.Object({ page: Type.String(), views: Type.Integer() }),
  sql: "SELECT page, count(*)::INTEGER AS views FROM clicks GROUP BY page",
});
export default defineGraph([clicks, pageViews]);

export async function sampleData(dir: string) {
  await mkdir(dir, { recursive: true });
  const rows = [1, 2, 3, 4, 5].map((i) => JSON.stringify({ id: "m" + i, at: "2026-11-02T10:00:00Z", page: "/" }));
  await writeFile(join(dir, "module.ndjson"), rows.join("\\n") + "\\n");
  return { clicks: [join(dir, "module.ndjson")] };
}
`,
  "envs/Pulumi.dev.yaml": awsStack(["web"], 30),
  "bad.config.ts": `export default { grpah: "pipelines/web.ts", store: 42, sampleData: "yes" };\n`,
};
for (const [file, text] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), text);
}
const config = path.join(rel, "tributary.config.ts");
const keys = async (...args: string[]) => {
  const r = await cli(...args);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  return (JSON.parse(r.stdout) as { key: string }[]).map((a) => a.key);
};

describe("--config", () => {
  it("names the graph module, before the command or after it; --graph overrides it", async () => {
    expect(await keys("--config", config, "list", "--json")).toEqual(["clicks", "page_views"]);
    expect(await keys("list", "--json", "--config", config)).toEqual(["clicks", "page_views"]);
    expect(
      await keys("list", "--json", "--config", config, "--graph", "test/fixtures/graphs/small.ts"),
    ).toEqual(["clicks", "page_views", "top_pages"]);
    // Without it: the repository's own configuration (the reference pipeline).
    expect(await keys("list", "--json")).toContain("daily_revenue");
  });

  it("or $TRIBUTARY_CONFIG does, when --config is not given", async () => {
    process.env.TRIBUTARY_CONFIG = config;
    try {
      expect(await keys("list", "--json")).toEqual(["clicks", "page_views"]);
    } finally {
      delete process.env.TRIBUTARY_CONFIG;
    }
  });

  it("names the stacks folder plan reads, and messages name the stack file in it", async () => {
    const r = await cli("--config", config, "plan", "--stack", "dev");
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout.split("\n")[0]).toBe("stack dev: aws eu-west-1, environment dev, pipelines web");
    expect(await cli("--config", config, "plan", "--stack", "dve")).toEqual({
      code: 1,
      stdout: "",
      stderr: 'tributary: envs/Pulumi.dve.yaml: no such stack file. Did you mean "dev"? Stacks here: dev.\n',
    });
  });

  it("names the store and the sample data materialize starts from, over the graph module's", async () => {
    const r = await cli("--config", config, "materialize");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(0, 2)).toEqual([
      `no data yet: generating the project configuration's sample data into ${root}/data/samples and ingesting it`,
      "clicks: read 2 = written 2 + quarantined 0 + duplicates 0",
    ]);
    const q = await cli(
      "--config",
      config,
      "query",
      "SELECT page, views FROM page_views ORDER BY page",
      "--json",
    );
    expect(JSON.parse(q.stdout)).toEqual([
      { page: "/", views: "1" },
      { page: "/cart", views: "1" },
    ]);
  }, 60_000);

  it("refuses a configuration file that is not there, or a mistake in one, naming the file and setting", async () => {
    expect(await cli("--config", "nope.config.ts", "list")).toEqual({
      code: 1,
      stdout: "",
      stderr: `tributary: no project configuration at nope.config.ts (in ${REPO}).\n`,
    });
    expect(await cli("--config", path.join(rel, "bad.config.ts"), "validate")).toEqual({
      code: 1,
      stdout: "",
      stderr:
        `tributary: ${rel}/bad.config.ts: 3 problems:\n` +
        '  - "grpah" is not a setting of the project configuration. Did you mean "graph"?\n' +
        "  - store must be a path relative to the configuration file, got number 42.\n" +
        '  - sampleData must be a function (dir) => files by source key, got "yes".\n',
    });
  });
});
