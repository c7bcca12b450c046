/**
 * A CDC source's Lambda function on its Kinesis stream, on this machine: what landing a batch through the
 * handler (decoding the records, ingesting them as one batch, announcing, the outbox) costs over calling
 * ingest with the same lines, and what isolating one record the store refuses (halving the batch until it
 * fails alone) costs over a clean batch. Local stores in a temporary folder, the same kind for both (every
 * write through `put`); Debezium's Postgres events of `inventory.products` (../shared/fixtures/cdc/), made
 * distinct per batch.
 *
 *   npx tsx --conditions=tributary:source bench/stream-batch.ts            20 batches of 100 records
 *   npx tsx --conditions=tributary:source bench/stream-batch.ts 50 --size 500
 *
 * Prints the median time per batch of each, and the ratios: the handler against ingest alone (the
 * baseline, measured in the same run), and a batch with one refused record against a clean one.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { daily, debezium, defineGraph, source, Type } from "tributary";
import { StorageError } from "../src/contract/storage-layout.ts";
import { ingest } from "../src/runtime/engine/ingest.ts";
import { awsHandler } from "../src/runtime/handlers/aws.ts";
import { functionEnvironment } from "../src/runtime/handlers/local.ts";
import { kinesisEvent } from "../src/runtime/handlers/stream-envelopes.ts";
import { LocalStore } from "../src/runtime/storage/local.ts";
import type { ObjectStore } from "../src/runtime/storage/port.ts";

const args = process.argv.slice(2);
const batches = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const sizeAt = args.indexOf("--size");
const size = sizeAt >= 0 ? Number(args[sizeAt + 1]) : 100;

const products = source("products", {
  cdc: debezium.postgres({
    table: "inventory.products",
    key: ["id"],
    row: Type.Object({
      id: Type.Integer(),
      name: Type.String(),
      description: Type.Union([Type.String(), Type.Null()]),
      weight: Type.Number(),
    }),
  }),
  partitions: daily({ start: "2020-07-01" }),
});
const graph = defineGraph([products]);

const fixture = (
  await readFile(
    join(import.meta.dirname, "../../shared/fixtures/cdc/flink-debezium-postgres.ndjson"),
    "utf8",
  )
)
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => JSON.parse(l) as { source: { lsn: number }; after: { id: number } | null });

/** `size` distinct change events of batch `b`: the fixture's, at new log positions and ids. */
function values(b: number): string[] {
  return Array.from({ length: size }, (_, i) => {
    const e = structuredClone(fixture[i % fixture.length]!);
    const n = b * size + i;
    e.source.lsn = 40_000_000 + n;
    if (e.after) e.after.id = 1_000_000 + n;
    return JSON.stringify(e);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A store refusing the objects of one day's partition, while `refused` is set. */
function refusing(inner: ObjectStore, refused: { prefix?: string }): ObjectStore {
  return {
    get uri() {
      return inner.uri;
    },
    put: (key, body, opts) => {
      if (refused.prefix && key.startsWith(refused.prefix)) {
        return Promise.reject(new StorageError(`storage: ${key}: SlowDown`));
      }
      return inner.put(key, body, opts);
    },
    get: (k) => inner.get(k),
    read: (k) => inner.read(k),
    head: (k) => inner.head(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
  };
}

const dir = await mkdtemp(join(tmpdir(), "tributary-bench-streams-"));
try {
  const uris = { raw: "s3://raw", curated: "s3://curated", quarantine: "s3://quarantine" };
  const refused: { prefix?: string } = {};
  const stores = Object.fromEntries(
    Object.entries(uris).map(([zone, uri]) => [
      uri,
      refusing(new LocalStore(join(dir, "handler", zone)), refused),
    ]),
  );
  const handler = awsHandler(graph, {
    env: functionEnvironment(graph, "products", uris, "bench"),
    openStore: (uri) => stores[uri]!,
    publisher: { publish: async () => {} },
    write: () => {},
  });
  const plain = refusing(new LocalStore(join(dir, "ingest")), {});

  const times = { handler: [] as number[], ingest: [] as number[], isolated: [] as number[] };
  for (let b = 0; b < batches; b++) {
    const v = values(b);
    let t = performance.now();
    await ingest(plain, products, [{ name: `batch-${b}`, stream: Readable.from([`${v.join("\n")}\n`]) }], {
      workers: 0,
    });
    times.ingest.push(performance.now() - t);

    const event = kinesisEvent(
      `bench.${b}`,
      v.map((value) => ({ key: "k", value })),
    );
    t = performance.now();
    await handler(event);
    times.handler.push(performance.now() - t);

    // The same size of batch with one record of a day whose partition the store refuses, in its middle.
    const w = values(batches + b);
    const odd = JSON.parse(w[Math.floor(size / 2)]!) as { source: { ts_ms: number } };
    odd.source.ts_ms += 86_400_000;
    w[Math.floor(size / 2)] = JSON.stringify(odd);
    refused.prefix = "raw/products/2020-07-30/";
    t = performance.now();
    const result = (await handler(
      kinesisEvent(
        `bench.odd.${b}`,
        w.map((value) => ({ key: "k", value })),
      ),
    )) as {
      batchItemFailures: unknown[];
    };
    times.isolated.push(performance.now() - t);
    refused.prefix = undefined;
    if (result.batchItemFailures.length !== 1)
      throw new Error(`expected one failure, got ${result.batchItemFailures.length}`);
  }
  const [h, i, iso] = [median(times.handler), median(times.ingest), median(times.isolated)];
  console.log(`${batches} batches of ${size} Debezium events, median per batch:`);
  console.log(`  ingest alone (baseline)          ${i.toFixed(1)} ms`);
  console.log(
    `  Kinesis handler, clean batch     ${h.toFixed(1)} ms   ratio ${(h / i).toFixed(2)} to ingest`,
  );
  console.log(
    `  one refused record isolated      ${iso.toFixed(1)} ms   ratio ${(iso / h).toFixed(2)} to a clean batch`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
