import { describe, expect, it } from "vitest";
import { columnVerdict, combine, diffGraph } from "../../src/infra/preview/graph-diff.ts";
import { snapshotOf } from "../../src/infra/preview/snapshot.ts";
import {
  asset,
  daily,
  defineGraph,
  dep,
  embedding,
  notNull,
  onUpstream,
  source,
  staticPartitions,
  Type,
  unique,
} from "../../src/kit/index.ts";

const NOW = new Date("2026-11-28T12:00:00Z");

const Event = Type.Object({
  event_id: Type.String(),
  event_time: Type.String({ format: "date-time" }),
  tenant: Type.String(),
  amount: Type.Integer(),
  note: Type.Optional(Type.String()),
});

function graph(opts: {
  amount?: ReturnType<typeof Type.Integer> | ReturnType<typeof Type.Number>;
  nullableAmount?: boolean;
  extra?: boolean;
  checks?: boolean;
  owners?: string[];
  tags?: string[];
  windowed?: boolean;
}) {
  const amount = opts.amount ?? Type.Integer();
  const events = source("events", {
    group: "g",
    schema: Event,
    eventId: "event_id",
    eventTime: "event_time",
    partitions: daily({ start: "2026-11-01" }),
  });
  const daySchema = Type.Object({
    day: Type.String(),
    amount: opts.nullableAmount ? Type.Union([amount, Type.Null()]) : amount,
    ...(opts.extra ? { tenants: Type.Integer() } : {}),
  });
  const days = asset("days", {
    group: "g",
    deps: [events],
    owners: opts.owners ?? ["team:a"],
    tags: opts.tags ?? [],
    partitions: daily({ start: "2026-11-01" }),
    schema: daySchema,
    sql: `SELECT '2026' AS day, sum(amount) AS amount${opts.extra ? ", count(DISTINCT tenant) AS tenants" : ""} FROM events`,
    checks: opts.checks ? [notNull(["day"]), unique(["day"], { blocking: false })] : [notNull(["day"])],
  });
  const weekly = asset("weekly", {
    group: "g",
    deps: [opts.windowed ? dep(days, { partitions: { kind: "window", size: 7 } }) : days],
    partitions: daily({ start: "2026-11-01" }),
    schema: Type.Object({ amount: Type.Number() }),
    sql: "SELECT sum(amount) AS amount FROM days",
    trigger: onUpstream(),
  });
  const labels = asset("labels", {
    group: "g",
    deps: [dep(days, { columns: ["day"] })],
    schema: Type.Object({ day: Type.String() }),
    sql: "SELECT day FROM days",
  });
  const scored = asset("scored", {
    group: "g",
    deps: [days],
    partitions: daily({ start: "2026-11-01" }),
    schema: Type.Object({ day: Type.String() }),
    compute: (rows: { days: { day: string }[] }) => rows.days,
    codeVersion: "1",
  });
  const tenants = asset("by_tenant", {
    group: "g",
    partitions: staticPartitions("tenant", ["acme", "globex"]),
    schema: Type.Object({ tenant: Type.String() }),
    sql: "SELECT 'acme' AS tenant",
  });
  return snapshotOf(defineGraph([events, days, weekly, labels, scored, tenants]), NOW);
}

describe("schema verdicts", () => {
  it("combines per column: both directions lost is breaking", () => {
    expect(combine([])).toBe("compatible");
    expect(combine(["compatible", "backward-compatible"])).toBe("backward-compatible");
    expect(combine(["forward-compatible", "backward-compatible"])).toBe("breaking");
    expect(
      columnVerdict({
        kind: "retyped",
        name: "x",
        from: { name: "x", type: "integer", nullable: false },
        to: { name: "x", type: "number", nullable: false },
      }),
    ).toBe("backward-compatible");
    expect(
      columnVerdict({
        kind: "retyped",
        name: "x",
        from: { name: "x", type: "number", nullable: false },
        to: { name: "x", type: "integer", nullable: true },
      }),
    ).toBe("breaking");
    expect(columnVerdict({ kind: "added", column: { name: "x", type: "string", nullable: true } })).toBe(
      "compatible",
    );
    expect(columnVerdict({ kind: "added", column: { name: "x", type: "string", nullable: false } })).toBe(
      "forward-compatible",
    );
  });

  it("widening a column a consumer reads is backward-compatible for it, and nothing for one that does not read it", () => {
    const { graph: g } = diffGraph(graph0(), graph({ amount: Type.Number() }));
    const days = g.modified.find((m) => m.key === "days")!;
    expect(days.schema!.columns).toEqual([
      {
        kind: "retyped",
        name: "amount",
        from: { name: "amount", type: "integer", nullable: false },
        to: { name: "amount", type: "number", nullable: false },
      },
    ]);
    expect(days.schema!.verdict).toBe("backward-compatible");
    expect(days.schema!.consumers.map((c) => [c.consumer, c.verdict, c.readsFrom, c.reads])).toEqual([
      ["labels", "compatible", "declared", []],
      ["scored", "backward-compatible", "all", ["amount"]],
      ["weekly", "backward-compatible", "sql", ["amount"]],
    ]);
    expect(days.schema!.consumers[1]!.reason).toBe(
      "reads amount, retyped integer → number (a compute function: every column counts as read)",
    );
    // A schema change alone does not change the data version: nothing goes stale.
    expect(days.recompute).toBe(false);
    expect(g.impact).toEqual([]);
  });

  it("a column made nullable is backward-compatible; an added required column forward-compatible", () => {
    const nullable = diffGraph(graph0(), graph({ nullableAmount: true })).graph.modified[0]!;
    expect(nullable.schema!.verdict).toBe("backward-compatible");
    const added = diffGraph(graph0(), graph({ extra: true })).graph.modified[0]!;
    expect(added.schema!.columns).toEqual([
      { kind: "added", column: { name: "tenants", type: "integer", nullable: false } },
    ]);
    expect(added.schema!.verdict).toBe("forward-compatible");
    expect(added.schema!.consumers.every((c) => c.verdict === "compatible")).toBe(true);
    expect(added.code).toEqual({ from: expect.any(String), to: expect.any(String), sql: true });
  });
});

describe("the Iceberg table's verdict", () => {
  it("a change Iceberg cannot evolve breaks the asset's table, whoever reads it; a relaxed column does not", () => {
    const { graph: g, risks } = diffGraph(graph0(), graph({ amount: Type.Number() }));
    const reason = 'column "amount" changes type from long to double, which Iceberg cannot evolve';
    expect(g.modified.find((m) => m.key === "days")!.table).toEqual({ unevolvable: [reason] });
    expect(risks).toEqual([
      {
        kind: "breaking-schema",
        asset: "days",
        subject: "table days",
        message: `Iceberg cannot evolve the table of days: ${reason}`,
      },
    ]);
    const relaxed = diffGraph(graph0(), graph({ nullableAmount: true }));
    expect([relaxed.graph.modified[0]!.table, relaxed.risks]).toEqual([undefined, []]);
  });
});

function graph0() {
  return graph({});
}

describe("other changes", () => {
  it("reports checks, owners and tags without recomputing anything", () => {
    const { graph: g, risks } = diffGraph(
      graph0(),
      graph({ checks: true, owners: ["team:b"], tags: ["pii"] }),
    );
    expect(risks).toEqual([]);
    expect(g.modified).toEqual([
      {
        key: "days",
        kind: "asset",
        owners: ["team:b"],
        checks: { added: ["unique_day: unique(day), non-blocking"], removed: [], changed: [] },
        ownership: { from: ["team:a"], to: ["team:b"] },
        tags: { added: ["pii"], removed: [] },
        recompute: false,
      },
    ]);
    expect(g.impact).toEqual([]);
  });

  it("a changed partition mapping recomputes the consumer and everything below it, counting partitions at the given time", () => {
    const { graph: g } = diffGraph(graph0(), graph({ windowed: true }));
    expect(g.modified.map((m) => [m.key, m.dependencies])).toEqual([
      ["weekly", { added: [], removed: [], changed: ["days: default → window(7)"] }],
    ]);
    expect(g.impact).toEqual([
      {
        key: "weekly",
        owners: [],
        because: ["weekly"],
        partitions: "all 27 partitions (daily from 2026-11-01)",
        partitionCount: 27,
        broken: false,
      },
    ]);
  });

  it("counts static and time partitions", () => {
    const s = graph0();
    expect(s.assets.find((a) => a.key === "by_tenant")!.partitionCount).toBe(2);
    expect(s.assets.find((a) => a.key === "events")!.partitionCount).toBe(27);
  });

  it("says nothing when nothing changed", () => {
    expect(diffGraph(graph0(), graph0())).toEqual({
      graph: { added: [], removed: [], modified: [], impact: [], edges: [] },
      risks: [],
    });
  });

  it("says when an embedding asset's model changes: its code version changes and every row is embedded again", () => {
    const tenants = staticPartitions("tenant", ["acme", "globex"]);
    const vectorsOf = (dimension: number) => {
      const features = asset("features", {
        schema: Type.Object({ id: Type.String(), tenant: Type.String(), text: Type.String() }),
        partitions: tenants,
        sql: "SELECT 'a' AS id, 'acme' AS tenant, 'x' AS text",
      });
      const vectors = embedding("feature_vectors", {
        from: features,
        text: "text",
        key: ["id"],
        tenant: "tenant",
        model: { name: "text-embedding", dimension },
      });
      return snapshotOf(defineGraph([features, vectors]), NOW);
    };
    const { graph: g } = diffGraph(vectorsOf(256), vectorsOf(512));
    expect(
      g.modified.map(({ code, ...m }) => ({ ...m, code: code && { changed: code.from !== code.to } })),
    ).toEqual([
      {
        key: "feature_vectors",
        kind: "asset",
        owners: [],
        code: { changed: true },
        other: [
          {
            field: "embedding model (a change embeds every row again)",
            from: "text-embedding, 256 dimensions",
            to: "text-embedding, 512 dimensions",
          },
        ],
        recompute: true,
      },
    ]);
    expect(g.impact.map((i) => [i.key, i.partitions])).toEqual([
      ["feature_vectors", "all 2 partitions (tenant [acme, globex])"],
    ]);
    expect(vectorsOf(256).assets.find((a) => a.key === "feature_vectors")!.other).toEqual({
      "embedding model (a change embeds every row again)": "text-embedding, 256 dimensions",
      embeds: "features.text by id, one vector table per tenant",
    });
  });
});
