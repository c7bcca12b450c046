/**
 * compareRows (runtime/engine/compare.ts) on small tables: by key, as multisets (no key, or a key that
 * is not unique), declared expectations; and the `diff` option's declaration errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asset, Type } from "../../src/kit/index.ts";
import { compareRows } from "../../src/runtime/engine/compare.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";

const schema = Type.Object({ id: Type.Integer(), status: Type.String(), amount: Type.Number() });
const rows = (values: string) =>
  `SELECT col0 AS __partition, col1::BIGINT AS id, col2 AS status, col3::DOUBLE AS amount FROM (VALUES ${values})`;
const BASE = rows("('p1', 1, 'paid', 10), ('p1', 2, 'paid', 20), ('p1', 3, 'paid', 30), ('p2', 1, 'new', 5)");
const HEAD = rows(
  "('p1', 1, 'paid', 10), ('p1', 2, 'refunded', 20), ('p1', 4, 'paid', 40), ('p2', 1, 'new', 5)",
);

let duck: Duck;
beforeAll(async () => {
  duck = await Duck.open();
});
afterAll(() => duck.close());

describe("compareRows", () => {
  it("matches rows by partition and key, with each column's stats and the first differing rows", async () => {
    const d = await compareRows(duck, {
      asset: "orders",
      schema,
      base: BASE,
      head: HEAD,
      key: { columns: ["id"], from: "declared" },
      examples: 2,
    });
    expect(d.verdict).toBe("changed");
    expect(d.rows).toEqual({ base: 4, head: 4, added: 1, removed: 1, changed: 1 });
    expect(d.partitions).toEqual([{ partition: "p1", added: 1, removed: 1, changed: 1 }]);
    expect(d.columns!.map((c) => [c.name, c.changed])).toEqual([
      ["status", 1],
      ["amount", 0],
      ["id", 0],
    ]);
    expect(d.columns![0]).toEqual({
      name: "status",
      changed: 1,
      base: { nulls: 0, nullRate: 0, distinct: 2 },
      head: { nulls: 0, nullRate: 0, distinct: 3 },
      top: [{ from: "paid", to: "refunded", rows: 1 }],
    });
    expect(d.columns![1]!.base).toEqual({ nulls: 0, nullRate: 0, distinct: 4, min: 5, max: 30, mean: 16.25 });
    expect(d.columns![1]!.head).toEqual({ nulls: 0, nullRate: 0, distinct: 4, min: 5, max: 40, mean: 18.75 });
    expect(d.examples).toEqual([
      {
        change: "changed",
        partition: "p1",
        before: { id: 2, status: "paid", amount: 20 },
        after: { id: 2, status: "refunded", amount: 20 },
        columns: ["status"],
      },
      { change: "removed", partition: "p1", before: { id: 3, status: "paid", amount: 30 } },
    ]);
  });

  it("finds the same rows identical, with equal checksums", async () => {
    const d = await compareRows(duck, { asset: "orders", schema, base: BASE, head: BASE });
    expect(d.verdict).toBe("identical");
    expect(d.match).toEqual({ by: "multiset", reason: "no key: declare diff.key or a unique check" });
    expect(d.checksum!.base).toBe(d.checksum!.head);
    expect(d.examples).toEqual([]);
  });

  it("compares as multisets when the key is not unique", async () => {
    const twice = rows("('p1', 1, 'paid', 10), ('p1', 1, 'paid', 10)");
    const once = rows("('p1', 1, 'paid', 10)");
    const d = await compareRows(duck, {
      asset: "orders",
      schema,
      base: twice,
      head: once,
      key: { columns: ["id"], from: "unique check" },
    });
    expect(d.match).toEqual({ by: "multiset", reason: "the key (id) is not unique at the base revision" });
    expect(d.rows).toEqual({ base: 2, head: 1, added: 0, removed: 1, changed: 0 });
    expect(d.examples).toEqual([
      { change: "removed", partition: "p1", before: { id: 1, status: "paid", amount: 10 } },
    ]);
  });

  it("derives the head's checksum and untouched stats by key exactly as counting them over its rows does", async () => {
    // Nulls, a changed, an added and a removed row: the keyed comparison derives the head's side from
    // the base's and the differing rows; without a key both are aggregated over all their rows.
    const base = rows(
      "('p1', 1, 'paid', 10), ('p1', 2, NULL, 20), ('p1', 3, 'paid', NULL), ('p2', 1, 'new', 5), ('p2', 2, 'new', 7)",
    );
    const head = rows(
      "('p1', 1, 'paid', 10), ('p1', 2, 'refunded', 20), ('p1', 3, 'paid', NULL), ('p2', 1, 'new', 6), ('p2', 3, NULL, 8)",
    );
    const key = { columns: ["id"], from: "declared" } as const;
    const keyed = await compareRows(duck, { asset: "orders", schema, base, head, key });
    const whole = await compareRows(duck, { asset: "orders", schema, base, head });
    expect(keyed.match).toEqual({ by: "key", columns: ["id"], from: "declared" });
    expect(keyed.rows).toEqual({ base: 5, head: 5, added: 1, removed: 1, changed: 2 });
    expect(keyed.checksum).toEqual(whole.checksum);
    expect(keyed.checksum!.base).not.toBe(keyed.checksum!.head);
    const stats = (d: typeof keyed) => Object.fromEntries(d.columns!.map((c) => [c.name, [c.base, c.head]]));
    expect(stats(keyed)).toEqual(stats(whole));
    // Only the values changed by key: each column's stats at the head are the base's where untouched.
    const changed = rows(
      "('p1', 1, 'paid', 10), ('p1', 2, 'refunded', 20), ('p1', 3, 'paid', NULL), ('p2', 1, 'new', 5), ('p2', 2, 'new', 7)",
    );
    const one = await compareRows(duck, { asset: "orders", schema, base, head: changed, key });
    const all = await compareRows(duck, { asset: "orders", schema, base, head: changed });
    expect(one.checksum).toEqual(all.checksum);
    expect(one.columns!.find((c) => c.name === "amount")).toEqual({
      name: "amount",
      changed: 0,
      base: { nulls: 1, nullRate: 0.2, min: 5, max: 20, mean: 10.5 },
      head: { nulls: 1, nullRate: 0.2, min: 5, max: 20, mean: 10.5 },
      top: [],
    });
    expect(one.columns!.find((c) => c.name === "status")!.head).toEqual({
      nulls: 0,
      nullRate: 0,
      distinct: 3,
    });
  });

  it("holds an expectation that only named columns change, and breaks it naming the first other row", async () => {
    const key = { columns: ["id"], from: "declared" } as const;
    const only = rows(
      "('p1', 1, 'paid', 11), ('p1', 2, 'paid', 20), ('p1', 3, 'paid', 30), ('p2', 1, 'new', 5)",
    );
    const held = await compareRows(duck, {
      asset: "orders",
      schema,
      base: BASE,
      head: only,
      key,
      expect: { only: ["amount"] },
    });
    expect(held.expectation).toEqual({ expect: { only: ["amount"] }, held: true });
    const broken = await compareRows(duck, {
      asset: "orders",
      schema,
      base: BASE,
      head: HEAD,
      key,
      expect: { only: ["amount"] },
    });
    expect(broken.expectation).toEqual({
      expect: { only: ["amount"] },
      held: false,
      message:
        "orders declares that only amount may change, but 1 added, 1 removed, 1 changed rows; first differing row: partition p1, id=2: status paid → refunded",
    });
    // Without a key: the rows with the allowed columns set aside must be the same multiset.
    const multiset = await compareRows(duck, {
      asset: "orders",
      schema,
      base: BASE,
      head: only,
      expect: { only: ["amount"] },
    });
    expect(multiset.expectation).toEqual({ expect: { only: ["amount"] }, held: true });
  });
});

describe("the diff option", () => {
  const opts = { schema, sql: "SELECT 1 AS id, 'x' AS status, 1.0 AS amount" };
  it("refuses a column the asset does not have, and an unknown expectation", () => {
    expect(() => asset("orders", { ...opts, diff: { key: ["nope" as "id"] } })).toThrow(
      'asset "orders": diff.key names "nope", which is not one of its columns (id, status, amount).',
    );
    expect(() => asset("orders", { ...opts, diff: { expect: "same" as "unchanged" } })).toThrow(
      'asset "orders": diff.expect must be "unchanged" or { only: [columns that may change] }, not "same".',
    );
    expect(asset("orders", { ...opts, diff: { key: ["id"], expect: "unchanged" } }).diff).toEqual({
      key: ["id"],
      expect: "unchanged",
    });
  });
});
