/**
 * A data file's metrics from DuckDB's COPY … RETURN_STATS (iceberg/stats.ts), serialized as Iceberg keeps
 * bounds (iceberg/values.ts), checked against the file's own minimum and maximum computed in SQL; and a
 * file whose rows do not fit its partition drops that column from the table's partition spec.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { daily, multiPartitions, staticPartitions, Type } from "tributary";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { layout } from "../../src/contract/storage-layout.ts";
import { icebergSchema, partitionSources } from "../../src/contract/table-schema.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { commitTable } from "../../src/runtime/iceberg/commit.ts";
import { dataFileCopyOptions } from "../../src/runtime/iceberg/duck.ts";
import { defaultSpec, newSnapshotId } from "../../src/runtime/iceberg/metadata.ts";
import { metricsOf, type ReturnStatsRow } from "../../src/runtime/iceberg/stats.ts";
import { IcebergTable } from "../../src/runtime/iceberg/table.ts";
import {
  parseTimestampMicros,
  serialize,
  timeKeyValue,
  timeTransform,
} from "../../src/runtime/iceberg/values.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";

let dir: string;
let duck: Duck;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tributary-stats-"));
  duck = await Duck.open();
});
afterAll(async () => {
  duck.close();
  await rm(dir, { recursive: true, force: true });
});

const hex = (b: Buffer | undefined) => b?.toString("hex");

describe("Iceberg's single-value serialization", () => {
  it("writes longs, doubles, dates, timestamps, strings and booleans as Appendix D says", () => {
    expect(hex(serialize("long", 1n))).toBe("0100000000000000");
    expect(hex(serialize("long", -2n))).toBe("feffffffffffffff");
    expect(hex(serialize("date", 20758))).toBe("16510000");
    expect(hex(serialize("timestamptz", parseTimestampMicros("1970-01-01 00:00:01.5+00")!))).toBe(
      "60e3160000000000",
    );
    expect(hex(serialize("double", 0, "lower"))).toBe("0000000000000080");
    expect(hex(serialize("double", 0, "upper"))).toBe("0000000000000000");
    expect(hex(serialize("boolean", true))).toBe("01");
    // Strings: bounds cut to 16 code points; an upper bound's last one incremented.
    expect(serialize("string", "abcdefghijklmnopqrstuvwxyz", "lower")!.toString()).toBe("abcdefghijklmnop");
    expect(serialize("string", "abcdefghijklmnopqrstuvwxyz", "upper")!.toString()).toBe("abcdefghijklmnoq");
    expect(serialize("string", "é".repeat(20), "upper")!.toString()).toBe(`${"é".repeat(15)}ê`);
  });

  it("reads timestamps in any offset, and takes day and hour of dates, timestamps and partition keys", () => {
    expect(parseTimestampMicros("2026-11-01 01:30:00+01:30")).toBe(1_793_491_200_000_000n);
    expect(parseTimestampMicros("1969-12-31 23:59:59.999999+00")).toBe(-1n);
    expect(timeTransform("day", "timestamptz", -1n)).toBe(-1);
    expect(timeTransform("hour", "timestamptz", -1n)).toBe(-1);
    expect(timeTransform("day", "date", 20758)).toBe(20758);
    expect(timeKeyValue("day", "2026-11-01")).toBe(20758);
    expect(timeKeyValue("hour", "2026-11-01T13")).toBe(20758 * 24 + 13);
  });
});

describe("metrics from COPY … RETURN_STATS", () => {
  it("counts, sizes and bounds of every column, none for list elements, equal to the data's min and max", async () => {
    const { schema } = icebergSchema(
      Type.Object({
        id: Type.Integer(),
        name: Type.Union([Type.String(), Type.Null()]),
        score: Type.Number(),
        at: Type.String({ format: "date-time" }),
        day: Type.String({ format: "date" }),
        tags: Type.Array(Type.String()),
        source: Type.Object({ lsn: Type.Integer() }),
      }),
    );
    const path = join(dir, "m.parquet");
    const sql = `SELECT range::BIGINT - 2 AS id, CASE WHEN range % 3 = 0 THEN NULL ELSE 'name-' || range || '-with-a-long-tail' END AS name,
      CASE WHEN range = 4 THEN 'NaN'::DOUBLE ELSE range / 4 END AS score,
      TIMESTAMPTZ '2026-11-01 10:00:00.123456+00' + INTERVAL (range) HOUR AS at, DATE '1969-12-30' + range::INT AS day,
      ['x', 'y'][1:(range % 3)::INT] AS tags, {'lsn': range * 10} AS source FROM range(6)`;
    const [row] = await duck.rows(`COPY (${sql}) TO '${path}' (${dataFileCopyOptions(schema)})`);
    const m = metricsOf(row as unknown as ReturnStatsRow, schema);
    expect([m.recordCount, m.fileSizeInBytes > 0]).toEqual([6, true]);
    expect(Object.fromEntries(m.valueCounts)).toEqual({ 1: 6, 2: 6, 3: 6, 4: 6, 5: 6, 8: 8, 9: 6 });
    expect(Object.fromEntries(m.nullValueCounts)).toEqual({ 1: 0, 2: 2, 3: 0, 4: 0, 5: 0, 8: 2, 9: 0 });
    expect([...m.lowerBounds.keys()].sort()).toEqual([1, 2, 3, 4, 5, 9]);
    const [truth] = await duck.rows(
      `SELECT min(id) AS id0, max(id) AS id1, min(score) AS s0, max(score) AS s1, epoch_us(min("at")) AS at0, epoch_us(max("at")) AS at1,
        min(day) AS d0, max(day) AS d1 FROM read_parquet('${path}') WHERE NOT isnan(score)`,
    );
    expect(m.lowerBounds.get(1)).toEqual(serialize("long", truth!.id0 as bigint));
    expect(m.upperBounds.get(1)).toEqual(serialize("long", truth!.id1 as bigint));
    expect(m.lowerBounds.get(3)).toEqual(serialize("double", truth!.s0 as number, "lower"));
    expect(m.upperBounds.get(3)).toEqual(serialize("double", truth!.s1 as number, "upper"));
    expect(m.lowerBounds.get(4)).toEqual(serialize("timestamptz", truth!.at0 as bigint));
    expect(m.upperBounds.get(4)).toEqual(serialize("timestamptz", truth!.at1 as bigint));
    expect(m.lowerBounds.get(5)!.readInt32LE()).toBe(-2);
    expect(m.upperBounds.get(5)!.readInt32LE()).toBe(3);
    expect(m.lowerBounds.get(2)!.toString()).toBe("name-1-with-a-lo");
    expect(m.upperBounds.get(2)!.toString()).toBe("name-5-with-a-lp");
    expect(m.ranges.get(5)).toEqual({ min: -2, max: 3 });
  });
});

describe("a file whose rows do not fit its partition", () => {
  it("drops that column from the table's spec, keeping the others; later files keep the new spec", async () => {
    const store = new LocalStore(join(dir, "misfit"));
    const table = new IcebergTable(store, "r");
    const partitions = multiPartitions(daily({ start: "2026-11-01" }), staticPartitions("tenant", ["acme"]));
    const Revenue = Type.Object({
      day: Type.String({ format: "date" }),
      tenant_id: Type.String(),
      n: Type.Integer(),
    });
    const definition = {
      location: table.location,
      schema: Revenue,
      partitions: partitionSources(Revenue, partitions),
    };
    const write = async (day: string, days: number) => {
      const key = layout.curated("r", `${day}/acme`, `f-${days}`);
      const path = store.localPath(key);
      const { schema } = icebergSchema(Revenue);
      await mkdir(dirname(path), { recursive: true });
      const [row] = await duck.rows(
        `COPY (SELECT DATE '${day}' + range::INT AS day, 'acme' AS tenant_id, range::BIGINT AS n FROM range(${days})) TO '${path}' (${dataFileCopyOptions(schema)})`,
      );
      return commitTable(table, {
        definition,
        partitions,
        replace: [`${day}|acme`],
        add: [
          { key, partition: `${day}|acme`, metrics: metricsOf(row as unknown as ReturnStatsRow, schema) },
        ],
        snapshotId: newSnapshotId(),
      });
    };
    const fits = await write("2026-11-01", 1);
    expect(fits.excluded).toEqual([]);
    expect(defaultSpec(fits.metadata).fields.map((f) => f.name)).toEqual(["day_day", "tenant_id"]);
    const spills = await write("2026-11-02", 2); // rows of 2026-11-02 and 2026-11-03
    expect(spills.excluded).toEqual(["day"]);
    expect(spills.metadata.properties["tributary.partition.excluded-columns"]).toBe("day");
    expect(spills.metadata["partition-specs"]).toEqual([
      {
        "spec-id": 0,
        fields: [
          { "source-id": 1, "field-id": 1000, name: "day_day", transform: "day" },
          { "source-id": 2, "field-id": 1001, name: "tenant_id", transform: "identity" },
        ],
      },
      {
        "spec-id": 1,
        fields: [{ "source-id": 2, "field-id": 1001, name: "tenant_id", transform: "identity" }],
      },
    ]);
    const later = await write("2026-11-04", 1);
    expect([later.excluded, later.metadata["default-spec-id"]]).toEqual([[], 1]);
    // Each file is listed under the spec it was written with.
    const files = await table.liveFiles(later.snapshot);
    expect(
      files.map((f) => [f.key.split("/")[3], f.manifest.partition_spec_id, f.entry.data_file.partition]),
    ).toEqual([
      ["2026-11-01", 0, { day_day: 20758, tenant_id: "acme" }],
      ["2026-11-02", 1, { tenant_id: "acme" }],
      ["2026-11-04", 1, { tenant_id: "acme" }],
    ]);
  });
});
