/**
 * Sample page views for a first run: `tributary materialize` on a store with no data calls this (see
 * tributary.config.ts) and ingests what it writes. Seeded, so every run writes the same bytes: a week of
 * views from FIRST_DAY, with a few broken lines (ingest quarantines them, with the reason) and a few
 * events sent twice (ingest keeps one).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Static } from "tributary";
import { FIRST_DAY, type PageView } from "./site.ts";

const DAYS = 7;
const VIEWS_PER_DAY = 400;
const PATHS = ["/", "/pricing", "/docs", "/docs/install", "/blog", "/blog/launch", "/about", "/contact"];
const COUNTRIES = ["DE", "FR", "GB", "NL", "US"];
const VISITORS = 150;

/** Writes one NDJSON file per day into `dir`/page_views and returns the files by source key. */
export async function writeSampleData(dir: string): Promise<Record<string, string[]>> {
  const random = seeded(20260101);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join("");
  const folder = join(dir, "page_views");
  await mkdir(folder, { recursive: true });
  const files: string[] = [];
  for (let d = 0; d < DAYS; d++) {
    const day = new Date(Date.parse(`${FIRST_DAY}T00:00:00Z`) + d * 86_400_000);
    const view = (): Static<typeof PageView> => ({
      event_id: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      event_time: new Date(day.getTime() + Math.floor(random() * 86_400_000)).toISOString(),
      visitor_id: `v${Math.floor(random() * VISITORS)}`,
      // Popular pages first: the square skews the choice towards the start of the list.
      path: PATHS[Math.floor(random() ** 2 * PATHS.length)]!,
      country: pick(COUNTRIES),
      duration_ms: Math.floor(random() * 120_000),
    });
    const lines = Array.from({ length: VIEWS_PER_DAY }, () => JSON.stringify(view()));
    // What real landing zones hold too: an event sent twice, a truncated line, a path without its slash.
    lines.push(lines[0]!, lines[1]!.slice(0, 40), JSON.stringify({ ...view(), path: "pricing" }));
    const file = join(folder, `${day.toISOString().slice(0, 10)}.ndjson`);
    await writeFile(file, `${lines.join("\n")}\n`);
    files.push(file);
  }
  return { page_views: files };
}

/** A small seeded PRNG (mulberry32): the same seed gives the same numbers in [0, 1) on every machine. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
