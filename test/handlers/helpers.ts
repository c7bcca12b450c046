/**
 * What the cloud entry point tests share: the reference graph's sample records, a function's
 * environment over cloud-like store URIs that open local directories, a recording publisher, and the
 * listing of what a test wrote.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import graph from "../../examples/commerce/assets/index.ts";
import { sourcePartitions } from "../../src/runtime/engine/ingest.ts";
import {
  type Announcement,
  functionEnv,
  functionStore,
  type HandlerDeps,
} from "../../src/runtime/handlers/core.ts";
import { functionEnvironment } from "../../src/runtime/handlers/local.ts";
import type { Publisher } from "../../src/runtime/handlers/publish.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

export { graph };

/** The day the tests' records happen on. */
export const DAY = "2026-11-01";

/**
 * Valid `orders_cdc` events of `DAY`: no invalid lines, no repeats, none late, so every record of a
 * message is written (three tenants, two orders a day each, plus the in-flight snapshot).
 */
export function orderRecords(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of generateSample({
    seed: 11,
    from: DAY,
    to: DAY,
    customersPerTenant: 2,
    ordersPerDayPerTenant: 2,
    invalidShare: 0,
    duplicateShare: 0,
    lateShare: 0,
  })) {
    if (line.source === "orders_cdc") out.push(JSON.parse(line.line) as Record<string, unknown>);
  }
  return out;
}

/** The stores of one test stack: cloud URIs, each opened as a directory under `root`. */
export function stack(root: string, uris: { raw: string; curated: string; quarantine: string }) {
  const dirs = new Map(Object.entries(uris).map(([zone, uri]) => [uri, join(root, zone)]));
  return {
    uris,
    openStore(uri: string) {
      const dir = dirs.get(uri);
      if (!dir) throw new Error(`test: the function opened ${uri}, which is none of the stack's stores`);
      return new LocalStore(dir);
    },
    env(asset: string, extra: Record<string, string> = {}): Record<string, string> {
      return { ...functionEnvironment(graph, asset, uris, "test"), ...extra };
    },
  };
}

/** A publisher that keeps what it is given, and log lines kept as parsed JSON. */
export function recorder() {
  const published: Announcement[] = [];
  const lines: string[] = [];
  const publisher: Publisher = { publish: async (a) => void published.push(...a) };
  return {
    published,
    lines,
    /** The log records (parsed lines) of one event name. */
    logged: (event: string) =>
      lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.event === event),
    deps: (
      s: ReturnType<typeof stack>,
      asset: string,
      extra: Record<string, string> = {},
    ): HandlerDeps & { write: (line: string) => void } => ({
      env: s.env(asset, extra),
      openStore: (uri) => s.openStore(uri),
      publisher,
      write: (line) => void lines.push(line),
    }),
  };
}

export async function tempDir(name: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `tributary-${name}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Every file under `root`, relative, sorted. */
export async function tree(root: string): Promise<string[]> {
  const entries = (await readdir(root, { recursive: true, withFileTypes: true })) as {
    name: string;
    parentPath: string;
    isFile(): boolean;
  }[];
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

/** The announcements an ingest of `source` into the stack must make: one per partition, as committed. */
export async function sourceAnnouncements(
  s: ReturnType<typeof stack>,
  source: string,
): Promise<Announcement[]> {
  const store = functionStore(functionEnv(s.env(source)), (uri) => s.openStore(uri));
  const versions = await sourcePartitions(store, { key: source });
  return [...versions].map(([partition, v]) => ({ asset: source, partition, dataVersion: v.dataVersion }));
}

/** The data version of a committed asset partition, from its manifest in the curated store. */
export async function committedVersion(root: string, asset: string, partition: string): Promise<string> {
  const text = await readFile(join(root, "curated", "_manifests", asset, partition, "manifest.json"), "utf8");
  return (JSON.parse(text) as { dataVersion: string }).dataVersion;
}

/** A sample event of /work/shared/fixtures/cloud-events/. */
export async function fixture(name: string): Promise<Record<string, unknown>> {
  const path = new URL(`../../../shared/fixtures/cloud-events/${name}`, import.meta.url);
  return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
}
