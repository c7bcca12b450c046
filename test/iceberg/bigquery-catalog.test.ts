/**
 * The BigQuery (BigLake metastore) catalog through the real @google-cloud/bigquery client, against a
 * loopback server that records each request and answers as the BigQuery API does: tables.get with an
 * etag, tables.patch refused with 412 when its If-Match is not the table's etag.
 */
import { BigQuery } from "@google-cloud/bigquery";
import { OAuth2Client } from "google-auth-library";
import { afterEach, describe, expect, it } from "vitest";
import { BigQueryCatalog } from "../../src/runtime/iceberg/bigquery.ts";
import type { TableCommit } from "../../src/runtime/iceberg/catalog.ts";
import { CatalogError } from "../../src/runtime/iceberg/pointer.ts";
import {
  type Answer,
  type Recorded,
  type RecordingServer,
  startRecordingServer,
} from "./recording-server.ts";

const PROJECT = "acme-data";
const DATASET = "trib_dev";
const LOCATION = "gs://trib-dev-curated/curated/daily_revenue";
const metadata = (v: number) => `${LOCATION}/metadata/v${v}.metadata.json`;
const PATH = `/bigquery/v2/projects/${PROJECT}/datasets/${DATASET}/tables/daily_revenue`;
/** As the client sends it. */
const WIRE = `${PATH}?prettyPrint=false`;
const CONNECTION = `projects/${PROJECT}/locations/europe-west1/connections/trib-dev-tables`;

function commit(version: number): TableCommit {
  return {
    namespace: DATASET,
    name: "daily_revenue",
    location: LOCATION,
    metadataLocation: metadata(version),
    ...(version > 1 ? { previousMetadataLocation: metadata(version - 1) } : {}),
    version,
    snapshotId: "4242424242",
    schema: {
      type: "struct",
      "schema-id": 0,
      fields: [{ id: 1, name: "cents", required: true, type: "long" }],
    },
  };
}

/** The table's BigLake metastore options as the stack declares them (infra/gcp/catalog.ts). */
const DECLARED = {
  connectionId: CONNECTION,
  parameters: { table_type: "ICEBERG", EXTERNAL: "TRUE" },
  storageDescriptor: {
    locationUri: LOCATION,
    inputFormat: "org.apache.hadoop.mapred.FileInputFormat",
    outputFormat: "org.apache.hadoop.mapred.FileOutputFormat",
    serdeInfo: { serializationLibrary: "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe" },
  },
};

interface Held {
  options: typeof DECLARED & { parameters: Record<string, string> };
  etag: number;
}

/** BigQuery, as far as the catalog uses it: tables.get and tables.patch with If-Match. */
function bigquery(held: Held | undefined, before?: (r: Recorded) => void) {
  const resource = (h: Held) => ({
    kind: "bigquery#table",
    etag: `etag-${h.etag}`,
    id: `${PROJECT}:${DATASET}.daily_revenue`,
    tableReference: { projectId: PROJECT, datasetId: DATASET, tableId: "daily_revenue" },
    type: "EXTERNAL",
    externalCatalogTableOptions: h.options,
  });
  return (r: Recorded): Answer => {
    before?.(r);
    if (r.path.split("?")[0] !== PATH) return { status: 501, body: {} };
    if (!held) {
      return {
        status: 404,
        body: { error: { code: 404, message: `Not found: Table ${PROJECT}:${DATASET}.daily_revenue` } },
      };
    }
    if (r.method === "GET") return { status: 200, body: resource(held) };
    if (r.method === "PATCH") {
      if (r.headers["if-match"] !== `etag-${held.etag}`) {
        return { status: 412, body: { error: { code: 412, message: "Precondition check failed." } } };
      }
      held.options = (r.body as { externalCatalogTableOptions: Held["options"] }).externalCatalogTableOptions;
      held.etag++;
      return { status: 200, body: resource(held) };
    }
    return { status: 501, body: {} };
  };
}

let server: RecordingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function catalogOver(held: Held | undefined, before?: (r: Recorded) => void): Promise<BigQueryCatalog> {
  server = await startRecordingServer(bigquery(held, before));
  // A token that needs no network: the requests carry it and the server ignores it.
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: "test-token", expiry_date: Date.now() + 3_600_000 });
  const client = new BigQuery({
    projectId: PROJECT,
    apiEndpoint: server.url,
    authClient: auth,
    autoRetry: false,
  });
  return new BigQueryCatalog({ project: PROJECT, dataset: DATASET, client });
}

/** Each request as [method, path, If-Match, body]. */
const sent = () => server!.requests.map((r) => [r.method, r.path, r.headers["if-match"], r.body]);
const get = ["GET", WIRE, undefined, undefined] as const;
function patch(v: number, etag: number, from?: number) {
  const previous = from ?? (v > 1 ? v - 1 : undefined);
  return [
    "PATCH",
    WIRE,
    `etag-${etag}`,
    {
      etag: `etag-${etag}`,
      externalCatalogTableOptions: {
        ...DECLARED,
        parameters: {
          table_type: "ICEBERG",
          EXTERNAL: "TRUE",
          metadata_location: metadata(v),
          ...(previous === undefined ? {} : { previous_metadata_location: metadata(previous) }),
        },
      },
      schema: null,
    },
  ] as const;
}

describe("the BigQuery catalog", () => {
  it("patches the table the stack declared with the new metadata file, on the etag it read, schema left to BigQuery", async () => {
    const held: Held = { options: structuredClone(DECLARED), etag: 1 };
    const catalog = await catalogOver(held);
    expect(catalog.namespace).toBe(DATASET);
    expect(await catalog.advance(commit(1))).toBe("updated");
    expect(await catalog.advance(commit(2))).toBe("updated");
    expect(sent()).toEqual([get, patch(1, 1), get, patch(2, 2)]);
    expect(held.options.parameters).toEqual({
      table_type: "ICEBERG",
      EXTERNAL: "TRUE",
      metadata_location: metadata(2),
      previous_metadata_location: metadata(1),
    });
  });

  it("never moves the pointer backwards: a late or repeated publish only reads", async () => {
    const held: Held = {
      options: {
        ...structuredClone(DECLARED),
        parameters: { ...DECLARED.parameters, metadata_location: metadata(9) },
      },
      etag: 4,
    };
    const catalog = await catalogOver(held);
    expect(await catalog.advance(commit(8))).toBe("newer");
    expect(await catalog.advance(commit(9))).toBe("current");
    expect(sent()).toEqual([get, get]);
  });

  it("on a 412 (another writer patched first) reads again, and moves past an older pointer only", async () => {
    const held: Held = { options: structuredClone(DECLARED), etag: 1 };
    let raced = false;
    const racer = (at: number) => (r: Recorded) => {
      if (r.method === "PATCH" && !raced) {
        raced = true;
        held.options = {
          ...held.options,
          parameters: { ...held.options.parameters, metadata_location: metadata(at) },
        };
        held.etag++;
      }
    };
    const catalog = await catalogOver(held, racer(3));
    expect(await catalog.advance(commit(4))).toBe("updated");
    expect(sent()).toEqual([get, patch(4, 1), get, patch(4, 2, 3)]);
    expect(held.options.parameters.metadata_location).toBe(metadata(4));

    await server!.close();
    raced = false;
    const later = await catalogOver(held, racer(6));
    expect(await later.advance(commit(5))).toBe("newer");
    expect(sent().map(([method]) => method)).toEqual(["GET", "PATCH", "GET"]);
    expect(held.options.parameters.metadata_location).toBe(metadata(6));
  });

  it("names a missing table as a deployment problem: it may not create tables", async () => {
    const catalog = await catalogOver(undefined);
    const failed = catalog.publish(commit(1));
    await expect(failed).rejects.toThrow(CatalogError);
    await expect(failed).rejects.toThrow(
      `bigquery table ${PROJECT}.${DATASET}.daily_revenue does not exist: the stack declares one table per curated asset in its dataset; deploy the stack (pulumi up) to create it.`,
    );
    expect(sent()).toEqual([get]);
  });
});
