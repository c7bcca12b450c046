import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, normalise } from "./in-process.ts";

const GRAPH = "test/fixtures/graphs/replay.ts";
let dir: string;
let store: string;
const run = (...args: string[]) => cli(...args, "--graph", GRAPH, "--store", store);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-replay-cli-"));
  store = join(dir, "store");
  const clicks = [1, 2, 3, 4].flatMap((d) =>
    ["home", "cart", "home"].map((page, i) =>
      JSON.stringify({ id: `c${d}-${i}`, at: `2026-01-0${d}T1${i}:00:00Z`, page }),
    ),
  );
  await writeFile(join(dir, "clicks.ndjson"), `${clicks.join("\n")}\n`);
  expect((await run("ingest", "clicks", join(dir, "clicks.ndjson"))).stdout).toBe(
    "clicks: read 12 = written 12 + quarantined 0 + duplicates 0\n",
  );
  expect((await run("materialize", "--no-sample")).code).toBe(0);
}, 120_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("tributary replay", () => {
  it("--dry-run prints the raw partitions in the range and what reads them, and writes nothing", async () => {
    const before = await readFile(join(store, "_manifests/top_pages/_all/manifest.json"), "utf8");
    expect(await run("replay", "clicks", "--from", "2026-01-02", "--to", "2026-01-03", "--dry-run")).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "replay clicks 2026-01-02 to 2026-01-03: 2 raw partitions, read by 3 asset partitions of 2 assets\n" +
        "asset       partition   action  why\n" +
        "page_views  2026-01-02  run     forced\n" +
        "page_views  2026-01-03  run     forced\n" +
        "top_pages   -           run     forced\n" +
        "plan: 3 of 3 asset partitions to materialise (dry run: nothing was written)\n",
    });
    expect(await readFile(join(store, "_manifests/top_pages/_all/manifest.json"), "utf8")).toBe(before);
  });

  it("re-derives them, forced, and says so", async () => {
    const replayed = await run("replay", "clicks", "--from", "2026-01-04", "--to", "2026-01-05");
    expect(replayed.code).toBe(0);
    expect(normalise(replayed.stdout, store).split("\n")).toEqual([
      "replay clicks 2026-01-04 to 2026-01-05: 1 raw partition, read by 2 asset partitions of 2 assets",
      "plan: 2 of 2 asset partitions to materialise",
      "ok      page_views: 1 partition, 2 rows in <n> ms",
      "ok      top_pages: 1 partition, 2 rows in <n> ms",
      expect.stringMatching(/^asset +materialised/),
      expect.stringMatching(/^page_views +1 +0 +0 +0 +2 +<n> ms$/),
      expect.stringMatching(/^top_pages +1 +0 +0 +0 +2 +<n> ms$/),
      "2 materialised, 0 fresh, 0 failed, 0 skipped in <n> s (run <id>)",
      "",
    ]);
  });

  it("--json prints the scope and the run", async () => {
    const r = await run("replay", "clicks", "--from", "2026-01-01", "--to", "2026-01-01", "--json");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Record<string, unknown> & { outcomes: Record<string, unknown>[] };
    expect({ ...json, runId: "", ms: 0, outcomes: [] }).toEqual({
      source: "clicks",
      from: "2026-01-01",
      to: "2026-01-01",
      raw: ["2026-01-01"],
      downstream: { page_views: ["2026-01-01"], top_pages: [""] },
      runId: "",
      counts: { materialized: 2, fresh: 0, failed: 0, skipped: 0 },
      ms: 0,
      outcomes: [],
    });
    expect(json.outcomes.map((o) => [o.asset, o.partition, o.status, o.reason, o.rows])).toEqual([
      ["page_views", "2026-01-01", "materialized", "forced", 2],
      ["top_pages", "", "materialized", "forced", 2],
    ]);
  });

  it("names what is wrong, in one line, and writes nothing", async () => {
    const fail = async (args: string[], stderr: string) =>
      expect(await run("replay", ...args)).toEqual({ code: 1, stdout: "", stderr: `tributary: ${stderr}\n` });
    await fail(
      ["click", "--from", "2026-01-01", "--to", "2026-01-02"],
      'replay: unknown source "click"; replay re-derives what reads a source\'s raw data (sources: clicks). Did you mean "clicks"?',
    );
    await fail(
      ["page_views", "--from", "2026-01-01", "--to", "2026-01-02"],
      'replay: "page_views" is an asset, not a source; replay re-derives what reads a source\'s raw data (sources: clicks).',
    );
    await fail(
      ["clicks", "--from", "2026-01-02", "--to", "2026-01-01"],
      "replay clicks: --from 2026-01-02 is after --to 2026-01-01.",
    );
    await fail(
      ["clicks", "--from", "2026-1-2", "--to", "2026-01-03"],
      'replay clicks: --from "2026-1-2" is not a date like 2026-11-01.',
    );
    await fail(
      ["clicks", "--from", "2026-02-01", "--to", "2026-02-03"],
      "replay clicks: no raw data between 2026-02-01 and 2026-02-03; its raw data spans 2026-01-01 to 2026-01-04.",
    );
    await fail(
      ["clicks", "--to", "2026-01-03"],
      "required option '--from <date>' not specified\n(run with --help for usage)",
    );
  });
});
