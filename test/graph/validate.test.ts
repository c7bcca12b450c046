import {
  type AnyAsset,
  asset,
  CheckError,
  ColumnError,
  CycleError,
  cron,
  DeclarationError,
  DuplicateKeyError,
  daily,
  defineGraph,
  dep,
  type GraphError,
  GraphValidationError,
  hourly,
  mapping,
  multiPartitions,
  notNull,
  PartitionMappingError,
  references,
  rowCount,
  ScheduleError,
  source,
  staticPartitions,
  Type,
  UnknownDependencyError,
} from "tributary";
import { describe, expect, it } from "vitest";

const Row = Type.Object({ id: Type.String(), at: Type.String(), amount: Type.Integer() });
const events = source("events", { schema: Row, eventId: "id", eventTime: "at" });
const sqlOver = (...tables: string[]) => `SELECT * FROM ${tables.join(", ")}`;

/** The errors defineGraph finds, as [class name, message]. */
function problems(items: AnyAsset[]): [string, string][] {
  try {
    defineGraph(items);
  } catch (e) {
    expect(e).toBeInstanceOf(GraphValidationError);
    return (e as GraphValidationError).errors.map((x: GraphError) => [x.name, x.message]);
  }
  throw new Error("expected the graph to be invalid");
}

function errorsOf(items: AnyAsset[]): readonly GraphError[] {
  try {
    defineGraph(items);
  } catch (e) {
    return (e as GraphValidationError).errors;
  }
  return [];
}

describe("graph validation", () => {
  it("accepts a valid graph and orders it by levels, ties by key", () => {
    const b = asset("b_totals", { deps: [events], schema: Row, sql: sqlOver("events") });
    const a = asset("a_totals", { deps: [events], schema: Row, sql: sqlOver("events") });
    const top = asset("top", { deps: [a, b], schema: Row, sql: sqlOver("a_totals", "b_totals") });
    const g = defineGraph([top, b, a, events]);
    expect(g.levels).toEqual([["events"], ["a_totals", "b_totals"], ["top"]]);
    expect(g.order).toEqual(["events", "a_totals", "b_totals", "top"]);
    expect(g.upstream("top")).toEqual(["events", "a_totals", "b_totals"]);
    expect(g.downstream("events", 1)).toEqual(["a_totals", "b_totals"]);
    expect(g.inputs("top")).toEqual([
      { from: "a_totals", to: "top", mapping: { kind: "identity" } },
      { from: "b_totals", to: "top", mapping: { kind: "identity" } },
    ]);
  });

  it("names a duplicate key", () => {
    const one = asset("totals", { deps: [events], schema: Row, sql: sqlOver("events") });
    const two = asset("totals", { deps: [events], schema: Row, sql: `${sqlOver("events")} LIMIT 1` });
    expect(problems([events, one, two])).toEqual([
      [
        "DuplicateKeyError",
        'graph: key "totals" is declared twice (two different assets). Keys must be unique across every pipeline of the graph.',
      ],
    ]);
    expect(problems([events, one, one])[0]![1]).toBe(
      'graph: key "totals" is declared twice (the same declaration is listed twice). Keys must be unique across every pipeline of the graph.',
    );
    const [err] = errorsOf([events, one, two]);
    expect(err).toBeInstanceOf(DuplicateKeyError);
    expect(err!.assets).toEqual(["totals"]);
  });

  it("names an unknown dependency and suggests the closest key", () => {
    const orders = asset("curated_orders", { deps: [events], schema: Row, sql: sqlOver("events") });
    const revenue = asset("revenue", { deps: ["curated_order"], schema: Row, sql: sqlOver("curated_order") });
    const lost = asset("lost", { deps: ["zzz"], schema: Row, sql: sqlOver("zzz") });
    expect(problems([events, orders, revenue, lost])).toEqual([
      [
        "UnknownDependencyError",
        'graph: asset "revenue" depends on "curated_order", which is not in the graph. Did you mean "curated_orders"?',
      ],
      [
        "UnknownDependencyError",
        'graph: asset "lost" depends on "zzz", which is not in the graph. Add it to the graph or remove the dependency.',
      ],
    ]);
    const [err] = errorsOf([events, orders, revenue]);
    expect(err).toBeInstanceOf(UnknownDependencyError);
    expect(err!.assets).toEqual(["revenue", "curated_order"]);
  });

  it("names a cycle with its path", () => {
    const a = asset("a", { deps: ["c"], schema: Row, sql: sqlOver("c") });
    const b = asset("b", { deps: ["a"], schema: Row, sql: sqlOver("a") });
    const c = asset("c", { deps: ["b"], schema: Row, sql: sqlOver("b") });
    const d = asset("d", { deps: ["c"], schema: Row, sql: sqlOver("c") });
    expect(problems([a, b, c, d])).toEqual([
      ["CycleError", "graph: cycle between assets: a -> b -> c -> a. Remove one of these dependencies."],
    ]);
    const [err] = errorsOf([a, b, c, d]);
    expect(err).toBeInstanceOf(CycleError);
    expect((err as CycleError).path).toEqual(["a", "b", "c", "a"]);
  });

  it("names a self-dependency as a cycle", () => {
    const a = asset("a", { deps: ["a"], schema: Row, sql: sqlOver("a") });
    expect(problems([a])).toEqual([
      ["CycleError", "graph: cycle between assets: a -> a. Remove one of these dependencies."],
    ]);
  });

  it("reports every problem at once", () => {
    const a = asset("a", { deps: ["missing"], schema: Row, sql: sqlOver("missing") });
    const b = asset("b", {
      deps: [events],
      schema: Row,
      sql: sqlOver("events"),
      schedule: cron("0 25 * * *"),
    });
    expect(problems([events, a, b, b]).map(([name]) => name)).toEqual([
      "DuplicateKeyError",
      "UnknownDependencyError",
      "ScheduleError",
    ]);
    expect(() => defineGraph([events, a, b, b])).toThrow(
      /^graph: 3 errors:\n {2}- key "b" is declared twice.*\n {2}- asset "a" depends on "missing".*\n {2}- asset "b": cron "0 25 \* \* \*" is invalid: .*$/,
    );
  });

  it("refuses a partition mapping that cannot be satisfied", () => {
    const days = daily({ start: "2026-01-01" });
    const hours = hourly({ start: "2026-01-01T00" });
    const dailyEvents = source("daily_events", {
      schema: Row,
      eventId: "id",
      eventTime: "at",
      partitions: days,
    });
    const hourlyAsset = asset("per_hour", {
      deps: [dep(dailyEvents, { partitions: mapping.identity() })],
      schema: Row,
      partitions: hours,
      sql: sqlOver("daily_events"),
    });
    const weekly = asset("weekly", {
      deps: [dep(dailyEvents, { partitions: mapping.window(7) })],
      schema: Row,
      partitions: daily({ start: "2026-01-03" }),
      sql: sqlOver("daily_events"),
    });
    const early = asset("early", {
      deps: [dailyEvents],
      schema: Row,
      partitions: daily({ start: "2025-12-01" }),
      sql: sqlOver("daily_events"),
    });
    const implicit = asset("implicit", {
      deps: [dailyEvents],
      schema: Row,
      partitions: staticPartitions("tenant", ["acme"]),
      sql: sqlOver("daily_events"),
    });
    const zero = asset("zero", {
      deps: [dep(dailyEvents, { partitions: mapping.window(0) })],
      schema: Row,
      partitions: days,
      sql: sqlOver("daily_events"),
    });
    const tenants = staticPartitions("tenant", ["acme", "globex"]);
    const byTenant = source("by_tenant", {
      schema: Row,
      eventId: "id",
      eventTime: "at",
      partitions: multiPartitions(days, staticPartitions("tenant", ["acme"])),
    });
    const perTenant = asset("per_tenant", {
      deps: [dep(byTenant, { partitions: mapping.allTime() })],
      schema: Row,
      partitions: tenants,
      sql: sqlOver("by_tenant"),
    });
    const unpartitioned = asset("unpartitioned", {
      deps: [dep(dailyEvents, { partitions: mapping.identity() })],
      schema: Row,
      sql: sqlOver("daily_events"),
    });
    expect(
      problems([dailyEvents, hourlyAsset, weekly, early, implicit, zero, byTenant, perTenant, unpartitioned]),
    ).toEqual([
      [
        "PartitionMappingError",
        'graph: asset "per_hour" reads "daily_events" with partition mapping identity(), which cannot be satisfied: the upstream is daily and the consumer hourly.',
      ],
      [
        "PartitionMappingError",
        'graph: asset "early" reads "daily_events" with partition mapping identity(), which cannot be satisfied: the upstream starts at 2026-01-01, after the consumer\'s first partition 2025-12-01.',
      ],
      [
        "PartitionMappingError",
        'graph: asset "implicit" reads "daily_events", whose partitions differ from its own; declare the mapping with dep(daily_events, { partitions: mapping.window(7) }) or another mapping.',
      ],
      [
        "PartitionMappingError",
        'graph: asset "zero" reads "daily_events" with partition mapping window(0), which cannot be satisfied: window size must be a whole number of at least 1, not 0.',
      ],
      [
        "PartitionMappingError",
        'graph: asset "per_tenant" reads "by_tenant" with partition mapping allTime(), which cannot be satisfied: the upstream has no tenant partition "globex".',
      ],
      [
        "PartitionMappingError",
        'graph: asset "unpartitioned" reads "daily_events" with partition mapping identity(), which cannot be satisfied: an unpartitioned consumer cannot read one partition of a partitioned upstream; use all().',
      ],
    ]);
    expect(errorsOf([dailyEvents, hourlyAsset])[0]).toBeInstanceOf(PartitionMappingError);
    expect(errorsOf([dailyEvents, hourlyAsset])[0]!.assets).toEqual(["per_hour", "daily_events"]);
  });

  it("accepts the mappings that can be satisfied", () => {
    const days = daily({ start: "2026-01-01" });
    const tenants = staticPartitions("tenant", ["acme", "globex"]);
    const raw = source("raw", {
      schema: Row,
      eventId: "id",
      eventTime: "at",
      partitions: multiPartitions(days, tenants),
    });
    const perTenant = asset("per_tenant", {
      deps: [dep(raw, { partitions: mapping.allTime() })],
      schema: Row,
      partitions: tenants,
      sql: sqlOver("raw"),
    });
    const perDay = asset("per_day", {
      deps: [dep(raw, { partitions: mapping.allStatic() })],
      schema: Row,
      partitions: days,
      sql: sqlOver("raw"),
    });
    const rolling = asset("rolling", {
      deps: [dep(raw, { partitions: mapping.window(7) })],
      schema: Row,
      partitions: multiPartitions(days, tenants),
      sql: sqlOver("raw"),
    });
    const projected = asset("projected", {
      deps: [perTenant, perDay],
      schema: Row,
      partitions: multiPartitions(daily({ start: "2026-02-01" }), staticPartitions("tenant", ["acme"])),
      sql: sqlOver("per_tenant", "per_day"),
    });
    const total = asset("total", { deps: [raw, projected], schema: Row, sql: sqlOver("raw", "projected") });
    const g = defineGraph([raw, perTenant, perDay, rolling, projected, total]);
    expect(g.inputs("projected").map((e) => e.mapping.kind)).toEqual(["identity", "identity"]);
    expect(g.inputs("total").map((e) => e.mapping.kind)).toEqual(["all", "all"]);
  });

  it("names a column a consumer reads that its producer does not declare", () => {
    const narrow = asset("narrow", {
      deps: [dep(events, { columns: ["id", "amount"] }), "wide"],
      schema: Row,
      sql: sqlOver("events", "wide"),
    });
    const wide = asset("wide", {
      deps: [events],
      schema: Type.Object({ total: Type.Integer() }),
      sql: sqlOver("events"),
    });
    // Columns are typed: reading "amout" would not compile, so a plain JS consumer is simulated here.
    const typo = asset("typo", {
      deps: [{ key: "events", schema: Row, columns: ["amout"], __dep: true } as never],
      schema: Row,
      sql: sqlOver("events"),
    });
    expect(problems([events, narrow, wide, typo])).toEqual([
      [
        "ColumnError",
        'graph: asset "typo" reads column "amout" of "events", which "events" does not declare. Did you mean "amount"?',
      ],
    ]);
    expect(errorsOf([events, typo])[0]).toBeInstanceOf(ColumnError);
  });

  it("names an invalid cron and an invalid time zone", () => {
    const badCron = asset("bad_cron", {
      deps: [events],
      schema: Row,
      sql: sqlOver("events"),
      schedule: cron("0 2 * *"),
    });
    const badRange = asset("bad_range", {
      deps: [events],
      schema: Row,
      sql: sqlOver("events"),
      schedule: cron("61 2 * * *"),
    });
    const badZone = asset("bad_zone", {
      deps: [events],
      schema: Row,
      sql: sqlOver("events"),
      schedule: cron("0 2 * * *", "Europe/Atlantis"),
    });
    const good = asset("good", {
      deps: [events],
      schema: Row,
      sql: sqlOver("events"),
      schedule: cron("0 2 * * 1-5", "Asia/Tokyo"),
    });
    expect(problems([events, badCron, badRange, badZone, good])).toEqual([
      [
        "ScheduleError",
        'graph: asset "bad_cron": cron "0 2 * *" has 4 fields; write five: minute hour day-of-month month day-of-week.',
      ],
      [
        "ScheduleError",
        'graph: asset "bad_range": cron "61 2 * * *" is invalid: Constraint error, got value 61 expected range 0-59.',
      ],
      [
        "ScheduleError",
        'graph: asset "bad_zone": time zone "Europe/Atlantis" is not an IANA time zone (e.g. "UTC", "Europe/Berlin").',
      ],
    ]);
    expect(errorsOf([events, badCron])[0]).toBeInstanceOf(ScheduleError);
  });

  it("names checks on columns that do not exist and references to unknown assets", () => {
    const target = asset("customers", {
      deps: [events],
      schema: Type.Object({ customer_id: Type.String() }),
      sql: sqlOver("events"),
    });
    const checked = asset("checked", {
      deps: [events],
      schema: Row,
      sql: sqlOver("events"),
      checks: [
        notNull(["amount"]),
        notNull(["amount"]),
        { ...notNull(["ammount" as "amount"]), name: "typo" },
        references("id", { asset: "customer", column: "customer_id" }),
        references("id", { asset: "customers", column: "id" }),
        rowCount({ min: 5, max: 1 }),
      ],
    });
    expect(problems([events, target, checked])).toEqual([
      [
        "CheckError",
        'graph: asset "checked": two checks are named "not_null_amount"; give one a distinct name.',
      ],
      [
        "CheckError",
        'graph: asset "checked": check "typo" reads column "ammount", which the schema does not declare. Did you mean "amount"?',
      ],
      [
        "CheckError",
        'graph: asset "checked": check "references_id_customer" references asset "customer", which is not in the graph. Did you mean "customers"?',
      ],
      [
        "CheckError",
        'graph: asset "checked": check "references_id_customers" references column "id" of "customers", which "customers" does not declare.',
      ],
      ["CheckError", 'graph: asset "checked": check "row_count" has min 5 above max 1.'],
    ]);
    expect(errorsOf([events, checked])[0]).toBeInstanceOf(CheckError);
  });

  it("refuses items that are not assets, such as an import cycle's undefined", () => {
    expect(() => defineGraph([events, [undefined as never]])).toThrow(
      new DeclarationError(
        "graph: item [1][0] given to defineGraph is undefined, not an asset, source or secret. If it is imported from another module, look for a circular import.",
        [],
      ),
    );
    expect(() => dep(undefined as never, {})).toThrow(
      "dep(): the upstream is undefined, not an asset or source. If it is declared in another module, look for a circular import.",
    );
  });

  it("names SQL that never reads a declared dependency", () => {
    const other = asset("other", { deps: [events], schema: Row, sql: sqlOver("events") });
    const a = asset("a", {
      deps: [events, other],
      schema: Row,
      sql: "SELECT * FROM events -- no other\n WHERE 'other' <> /* other */ 'x'",
    });
    expect(problems([events, other, a])).toEqual([
      [
        "DeclarationError",
        'graph: asset "a" depends on "other" but its SQL never names the table "other". Read it in the SQL or remove the dependency.',
      ],
    ]);
    expect(errorsOf([events, other, a])[0]).toBeInstanceOf(DeclarationError);
  });

  it("names source fields that are not in the schema", () => {
    const bad = source("bad", {
      schema: Row,
      eventId: "ident" as "id",
      eventTime: "at",
      tenant: "tenant" as "id",
      pii: ["email", "id"],
    });
    expect(problems([bad])).toEqual([
      ["ColumnError", 'graph: source "bad": eventId "ident" is not a field of its schema.'],
      ["ColumnError", 'graph: source "bad": tenant "tenant" is not a field of its schema.'],
      ["ColumnError", 'graph: source "bad": pii field "email" is not a field of its schema.'],
    ]);
  });
});
