/**
 * The Glue catalog through the real @aws-sdk/client-glue, against a loopback server that records each
 * request and answers as Glue does (JSON 1.1 protocol; errors by `__type`), keeping the tables it is told
 * about with a VersionId that every update must name.
 */
import { GlueClient } from "@aws-sdk/client-glue";
import { afterEach, describe, expect, it } from "vitest";
import type { TableCommit } from "../../src/runtime/iceberg/catalog.ts";
import { GlueCatalog } from "../../src/runtime/iceberg/glue.ts";
import { CatalogError, MAX_ATTEMPTS } from "../../src/runtime/iceberg/pointer.ts";
import {
  type Answer,
  type Recorded,
  type RecordingServer,
  startRecordingServer,
} from "./recording-server.ts";

const DATABASE = "trib_dev";
const LOCATION = "s3://trib-dev-curated/curated/daily_revenue";
const metadata = (v: number) => `${LOCATION}/metadata/v${v}.metadata.json`;
const SCHEMA = {
  type: "struct",
  "schema-id": 0,
  fields: [
    { id: 1, name: "day", required: true, type: "date" },
    { id: 2, name: "cents", required: true, type: "long" },
    {
      id: 3,
      name: "tags",
      required: false,
      type: { type: "list", "element-id": 4, element: "string", "element-required": false },
    },
  ],
};
const COLUMNS = [
  {
    Name: "day",
    Type: "date",
    Parameters: {
      "iceberg.field.id": "1",
      "iceberg.field.optional": "false",
      "iceberg.field.current": "true",
    },
  },
  {
    Name: "cents",
    Type: "bigint",
    Parameters: {
      "iceberg.field.id": "2",
      "iceberg.field.optional": "false",
      "iceberg.field.current": "true",
    },
  },
  {
    Name: "tags",
    Type: "array<string>",
    Parameters: {
      "iceberg.field.id": "3",
      "iceberg.field.optional": "true",
      "iceberg.field.current": "true",
    },
  },
];

function commit(version: number): TableCommit {
  return {
    namespace: DATABASE,
    name: "daily_revenue",
    location: LOCATION,
    metadataLocation: metadata(version),
    ...(version > 1 ? { previousMetadataLocation: metadata(version - 1) } : {}),
    version,
    snapshotId: "4242424242",
    schema: SCHEMA,
  };
}

/** The table as the stack declares it (infra/aws/catalog.ts): an Iceberg table pointing nowhere yet. */
const DECLARED = {
  Name: "daily_revenue",
  Description: "Tributary asset daily_revenue (Iceberg; its function keeps metadata_location current)",
  TableType: "EXTERNAL_TABLE",
  Parameters: { table_type: "ICEBERG", EXTERNAL: "TRUE", "tributary:asset": "daily_revenue" },
  StorageDescriptor: { Location: LOCATION },
};

type Stored = Record<string, unknown> & { Parameters?: Record<string, string> };

/** Glue, as far as the catalog uses it: GetTable, CreateTable, UpdateTable on VersionId. */
function glue(tables: Map<string, { table: Stored; version: number }>, before?: (target: string) => void) {
  const error = (type: string, message: string): Answer => ({
    status: 400,
    headers: { "x-amzn-errortype": type },
    body: { __type: type, Message: message },
  });
  return (r: Recorded): Answer => {
    const target = String(r.headers["x-amz-target"]);
    before?.(target);
    const body = r.body as { Name?: string; TableInput?: Stored; VersionId?: string; DatabaseName: string };
    const name = body.Name ?? String(body.TableInput?.Name);
    const held = tables.get(name);
    switch (target) {
      case "AWSGlue.GetTable":
        if (!held) return error("EntityNotFoundException", `Table ${name} not found.`);
        return {
          status: 200,
          body: {
            Table: { ...held.table, DatabaseName: body.DatabaseName, VersionId: String(held.version) },
          },
        };
      case "AWSGlue.CreateTable":
        if (held) return error("AlreadyExistsException", `Table ${name} already exists.`);
        tables.set(name, { table: body.TableInput!, version: 0 });
        return { status: 200, body: {} };
      case "AWSGlue.UpdateTable":
        if (!held) return error("EntityNotFoundException", `Table ${name} not found.`);
        if (body.VersionId !== String(held.version)) {
          return error(
            "ConcurrentModificationException",
            "Update table failed due to concurrent modifications.",
          );
        }
        tables.set(name, { table: body.TableInput!, version: held.version + 1 });
        return { status: 200, body: {} };
      default:
        return { status: 501, body: {} };
    }
  };
}

let server: RecordingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function catalogOver(
  tables: Map<string, { table: Stored; version: number }>,
  before?: (target: string) => void,
): Promise<GlueCatalog> {
  server = await startRecordingServer(glue(tables, before));
  const client = new GlueClient({
    region: "eu-west-1",
    endpoint: server.url,
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
  });
  return new GlueCatalog({ region: "eu-west-1", database: DATABASE, client });
}

/** Each request as [operation, body]. */
const sent = () => server!.requests.map((r) => [String(r.headers["x-amz-target"]).slice(8), r.body]);
const get = ["GetTable", { DatabaseName: DATABASE, Name: "daily_revenue" }] as const;

/** What an update to version `v` sends, over the table as the stack declared it, the pointer at `from`. */
function updateTo(v: number, versionId: string, from?: number) {
  return [
    "UpdateTable",
    {
      DatabaseName: DATABASE,
      TableInput: {
        Name: "daily_revenue",
        Description: DECLARED.Description,
        TableType: "EXTERNAL_TABLE",
        Parameters: {
          table_type: "ICEBERG",
          EXTERNAL: "TRUE",
          "tributary:asset": "daily_revenue",
          metadata_location: metadata(v),
          ...(from === undefined && v === 1 ? {} : { previous_metadata_location: metadata(from ?? v - 1) }),
        },
        StorageDescriptor: { Location: LOCATION, Columns: COLUMNS },
      },
      VersionId: versionId,
      SkipArchive: true,
    },
  ] as const;
}

describe("the Glue catalog", () => {
  it("points the table the stack declared at the first commit: one GetTable, one UpdateTable on its VersionId", async () => {
    const tables = new Map([["daily_revenue", { table: { ...DECLARED } as Stored, version: 0 }]]);
    const catalog = await catalogOver(tables);
    expect(catalog.namespace).toBe(DATABASE);
    expect(await catalog.advance(commit(1))).toBe("updated");
    expect(sent()).toEqual([get, updateTo(1, "0")]);
    expect(tables.get("daily_revenue")!.table.Parameters).toEqual({
      table_type: "ICEBERG",
      EXTERNAL: "TRUE",
      "tributary:asset": "daily_revenue",
      metadata_location: metadata(1),
    });
  });

  it("moves it forward with previous_metadata_location, and the next commit updates on the next VersionId", async () => {
    const tables = new Map([["daily_revenue", { table: { ...DECLARED } as Stored, version: 0 }]]);
    const catalog = await catalogOver(tables);
    await catalog.publish(commit(1));
    await catalog.publish(commit(2));
    expect(sent()).toEqual([get, updateTo(1, "0"), get, updateTo(2, "1")]);
  });

  it("creates the table when the catalog has none, with the commit's location, pointer and columns", async () => {
    const tables = new Map<string, { table: Stored; version: number }>();
    const catalog = await catalogOver(tables);
    expect(await catalog.advance(commit(3))).toBe("created");
    expect(sent()).toEqual([
      get,
      [
        "CreateTable",
        {
          DatabaseName: DATABASE,
          TableInput: {
            Name: "daily_revenue",
            TableType: "EXTERNAL_TABLE",
            Parameters: {
              table_type: "ICEBERG",
              metadata_location: metadata(3),
              previous_metadata_location: metadata(2),
            },
            StorageDescriptor: { Location: LOCATION, Columns: COLUMNS },
          },
        },
      ],
    ]);
  });

  it("never moves the pointer backwards: a late or repeated publish reads and writes nothing", async () => {
    const at7 = { ...DECLARED, Parameters: { ...DECLARED.Parameters, metadata_location: metadata(7) } };
    const tables = new Map([["daily_revenue", { table: at7 as Stored, version: 9 }]]);
    const catalog = await catalogOver(tables);
    expect(await catalog.advance(commit(6))).toBe("newer");
    expect(await catalog.advance(commit(7))).toBe("current");
    expect(sent()).toEqual([get, get]);
    expect(tables.get("daily_revenue")!.version).toBe(9);
  });

  it("on a VersionId conflict reads again: a later writer's pointer stays, an earlier one's is moved past", async () => {
    // Another writer moves the pointer to v5 just before this one's update lands.
    const tables = new Map([["daily_revenue", { table: { ...DECLARED } as Stored, version: 0 }]]);
    let raced = false;
    const racer = (at: number) => (target: string) => {
      if (target === "AWSGlue.UpdateTable" && !raced) {
        raced = true;
        const held = tables.get("daily_revenue")!;
        tables.set("daily_revenue", {
          table: { ...held.table, Parameters: { ...held.table.Parameters, metadata_location: metadata(at) } },
          version: held.version + 1,
        });
      }
    };
    const catalog = await catalogOver(tables, racer(5));
    expect(await catalog.advance(commit(4))).toBe("newer");
    expect(sent()).toEqual([get, updateTo(4, "0"), get]);
    expect(tables.get("daily_revenue")!.table.Parameters!.metadata_location).toBe(metadata(5));

    await server!.close();
    raced = false;
    const again = new Map([["daily_revenue", { table: { ...DECLARED } as Stored, version: 0 }]]);
    tables.clear();
    for (const [k, v] of again) tables.set(k, v);
    const second = await catalogOver(tables, racer(3));
    expect(await second.advance(commit(4))).toBe("updated");
    expect(sent()).toEqual([get, updateTo(4, "0"), get, updateTo(4, "1", 3)]);
    expect(tables.get("daily_revenue")!.table.Parameters!.metadata_location).toBe(metadata(4));
  });

  it("creating when another writer just created it reads again and updates what that writer made", async () => {
    const tables = new Map<string, { table: Stored; version: number }>();
    let raced = false;
    const catalog = await catalogOver(tables, (target) => {
      if (target === "AWSGlue.CreateTable" && !raced) {
        raced = true;
        tables.set("daily_revenue", { table: { ...DECLARED } as Stored, version: 0 });
      }
    });
    expect(await catalog.advance(commit(1))).toBe("updated");
    expect(sent().map(([op]) => op)).toEqual(["GetTable", "CreateTable", "GetTable", "UpdateTable"]);
  });

  it(`gives up after ${MAX_ATTEMPTS} lost races, saying so`, async () => {
    const tables = new Map([["daily_revenue", { table: { ...DECLARED } as Stored, version: 0 }]]);
    const catalog = await catalogOver(tables, (target) => {
      if (target === "AWSGlue.UpdateTable") tables.get("daily_revenue")!.version++;
    });
    const failed = catalog.publish(commit(2));
    await expect(failed).rejects.toThrow(CatalogError);
    await expect(failed).rejects.toThrow(
      `glue table trib_dev.daily_revenue: another writer changed it ${MAX_ATTEMPTS} times while v2 was published; the next commit of the table publishes again.`,
    );
    expect(sent()).toHaveLength(2 * MAX_ATTEMPTS);
  });

  it("lets any other refusal through as Glue said it (here: no right to the table)", async () => {
    server = await startRecordingServer(() => ({
      status: 400,
      headers: { "x-amzn-errortype": "AccessDeniedException" },
      body: {
        __type: "AccessDeniedException",
        Message: "User is not authorized to perform: glue:GetTable on resource: table/trib_dev/daily_revenue",
      },
    }));
    const client = new GlueClient({
      region: "eu-west-1",
      endpoint: server.url,
      credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    });
    const catalog = new GlueCatalog({ region: "eu-west-1", database: DATABASE, client });
    await expect(catalog.publish(commit(1))).rejects.toThrow(
      "User is not authorized to perform: glue:GetTable on resource: table/trib_dev/daily_revenue",
    );
  });
});
