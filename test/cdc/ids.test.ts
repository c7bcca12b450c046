import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventUuid } from "../../src/runtime/engine/ingest-cdc.ts";
import { encodeUuid } from "../../src/runtime/engine/ingest-formats.ts";
import { IdIndex, writeUuid } from "../../src/runtime/engine/ingest-ids.ts";

const text = (id: string) => {
  const keys = new Int32Array(4);
  eventUuid(id, keys, 0);
  const out = Buffer.alloc(36);
  writeUuid(keys, 0, out, 0);
  return out.toString("latin1");
};

describe("CDC event ids", () => {
  it("are version 8 UUIDs of the event's db/position/op/key, the same on every run", () => {
    expect(text("postgres/34078720/601/r/101")).toBe(text("postgres/34078720/601/r/101"));
    expect(text("postgres/34078720/601/r/101")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // Read back from an ids object, a committed id is the same four integers.
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), (id) => {
        const keys = new Int32Array(4);
        eventUuid(id, keys, 0);
        const back = new Int32Array(4);
        expect(encodeUuid(text(id), back, 0)).toBe(true);
        expect([...back]).toEqual([...keys]);
      }),
    );
  });

  it("differ for a million different events of one table, including those one code unit apart", () => {
    const seen = new IdIndex();
    const keys = new Int32Array(4);
    let distinct = 0;
    for (let lsn = 0; lsn < 500_000; lsn++) {
      eventUuid(`postgres/${34078720 + lsn * 8}/${600 + lsn}/u/${lsn % 1000}`, keys, 0);
      if (seen.addUuid(keys, 0)) distinct++;
      eventUuid(`shop/mysql-bin.000003/${lsn}/0/c/"${lsn.toString(36)}"`, keys, 0);
      if (seen.addUuid(keys, 0)) distinct++;
    }
    expect(distinct).toBe(1_000_000);
  });
});
