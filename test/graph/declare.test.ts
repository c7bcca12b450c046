import {
  asset,
  cron,
  DeclarationError,
  daily,
  freshness,
  hourly,
  InvalidKeyError,
  notNull,
  onUpstream,
  source,
  staticPartitions,
  Type,
} from "tributary";
import { describe, expect, it } from "vitest";

const Row = Type.Object({ id: Type.String(), at: Type.String() });
const events = source("events", { schema: Row, eventId: "id", eventTime: "at" });

function thrown(f: () => unknown): { name: string; message: string } {
  try {
    f();
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error("expected a throw");
}

describe("declaring sources and assets", () => {
  it("records a source's options, tags pii sources and freezes the spec", () => {
    const s = source("users", {
      schema: Row,
      eventId: "id",
      eventTime: "at",
      pii: ["id"],
      owners: ["team:a"],
      tags: ["cdc"],
      description: "users",
      freshness: "1d2h",
    });
    expect(s).toEqual({
      kind: "source",
      key: "users",
      schema: Row,
      eventId: "id",
      eventTime: "at",
      pii: ["id"],
      checks: [],
      freshnessMinutes: 1560,
      owners: ["team:a"],
      tags: ["cdc", "pii"],
      group: "default",
      description: "users",
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it("records an asset's options and derives its code version from its SQL", () => {
    const a = asset("totals", {
      deps: [events],
      schema: Row,
      sql: "SELECT * FROM events",
      group: "g",
      trigger: onUpstream(),
      resources: { memoryMb: 512 },
      checks: [notNull(["id"])],
    });
    expect(a).toMatchObject({
      kind: "asset",
      key: "totals",
      deps: [{ key: "events" }],
      sql: "SELECT * FROM events",
      group: "g",
      trigger: { on: "upstream" },
      resources: { memoryMb: 512 },
      checks: [{ kind: "not_null", name: "not_null_id", columns: ["id"], blocking: true }],
    });
    expect(a.codeVersion).toMatch(/^[0-9a-f]{12}$/);
    const same = asset("totals", { deps: [events], schema: Row, sql: "SELECT * FROM events" });
    const changed = asset("totals", { deps: [events], schema: Row, sql: "SELECT id, at FROM events" });
    expect(same.codeVersion).toBe(a.codeVersion);
    expect(changed.codeVersion).not.toBe(a.codeVersion);
    expect(
      asset("v", { deps: [events], schema: Row, sql: "SELECT * FROM events", codeVersion: "7" }).codeVersion,
    ).toBe("7");
  });

  it("records disposable only when declared true, so other specs keep their keys", () => {
    const scratch = source("scratch", { schema: Row, eventId: "id", eventTime: "at", disposable: true });
    expect(scratch).toEqual({
      kind: "source",
      key: "scratch",
      schema: Row,
      eventId: "id",
      eventTime: "at",
      pii: [],
      checks: [],
      owners: [],
      tags: [],
      group: "default",
      disposable: true,
    });
    const kept = source("kept", { schema: Row, eventId: "id", eventTime: "at", disposable: false });
    expect(Object.keys(kept)).toEqual(Object.keys(events));
    expect("disposable" in kept).toBe(false);

    const sql = "SELECT * FROM events";
    const tmp = asset("tmp", { deps: [events], schema: Row, sql, disposable: true });
    expect(tmp.disposable).toBe(true);
    expect(Object.keys(tmp)).toEqual([
      ...Object.keys(asset("tmp", { deps: [events], schema: Row, sql })),
      "disposable",
    ]);
    for (const declared of [asset("tmp", { deps: [events], schema: Row, sql, disposable: false }), events]) {
      expect("disposable" in declared).toBe(false);
    }
    expect(thrown(() => asset("odd", { schema: Row, sql, disposable: "yes" as never }))).toEqual({
      name: "DeclarationError",
      message: 'asset "odd": disposable must be true or false, not "yes".',
    });
    expect(
      thrown(() => source("odd", { schema: Row, eventId: "id", eventTime: "at", disposable: 1 as never }))
        .message,
    ).toBe('source "odd": disposable must be true or false, not 1.');
  });

  it("refuses invalid keys at declaration", () => {
    for (const key of ["Orders", "1orders", "orders-v2", "", "a".repeat(64), "../etc", "x;drop"]) {
      const e = thrown(() => asset(key, { schema: Row, sql: "SELECT 1" }));
      expect(e.name).toBe("InvalidKeyError");
      expect(e.message).toBe(
        `asset key ${JSON.stringify(key)} is invalid: keys must match ^[a-z][a-z0-9_]*$ (lowercase letters, digits and "_", starting with a letter) and be at most 63 characters, because they become table names, storage paths and cloud resource names.`,
      );
    }
    expect(() => source("Bad", { schema: Row, eventId: "id", eventTime: "at" })).toThrow(InvalidKeyError);
    expect(() => source("Bad", { schema: Row, eventId: "id", eventTime: "at" })).toThrow(
      /^source key "Bad" is invalid/,
    );
  });

  it("refuses an asset with both or neither of sql and compute", () => {
    const both = { schema: Row, sql: "SELECT 1", compute: () => [] } as never;
    expect(thrown(() => asset("both", both))).toEqual({
      name: "DeclarationError",
      message:
        'asset "both": declare exactly one of sql (DuckDB SQL over its upstream tables) or compute (a function of their rows).',
    });
    expect(thrown(() => asset("neither", { schema: Row } as never)).name).toBe("DeclarationError");
    expect(thrown(() => asset("unversioned", { schema: Row, compute: () => [] } as never))).toEqual({
      name: "DeclarationError",
      message:
        'asset "unversioned": a compute asset needs a codeVersion (e.g. codeVersion: "1"), bumped when its function changes; a function\'s text differs between the tools that load it, so no version can be derived from it.',
    });
  });

  it("refuses a schedule together with a trigger, a dependency listed twice, a non-object schema", () => {
    const both = {
      schema: Row,
      sql: "SELECT 1",
      schedule: cron("0 1 * * *"),
      trigger: onUpstream(),
    } as never;
    expect(thrown(() => asset("both", both)).message).toBe(
      'asset "both": declare either a schedule or a trigger, not both.',
    );
    expect(
      thrown(() => asset("twice", { deps: [events, "events"], schema: Row, sql: "SELECT 1" })).message,
    ).toBe('asset "twice": dependency "events" is listed twice in deps.');
    expect(thrown(() => asset("flat", { schema: Type.String() as never, sql: "SELECT 1" })).message).toBe(
      'asset "flat": schema must be a TypeBox object schema (Type.Object({ ... })), so its columns are known.',
    );
    expect(thrown(() => asset("odd", { deps: [42 as never], schema: Row, sql: "SELECT 1" })).message).toBe(
      'asset "odd": deps must be assets, sources, dep(...) references or keys; got 42.',
    );
    expect(
      thrown(() => asset("big", { schema: Row, sql: "SELECT 1", resources: { memoryMb: -1 } })).message,
    ).toBe('asset "big": resources.memoryMb must be a positive whole number, not -1.');
  });

  it("refuses a malformed duration", () => {
    expect(thrown(() => asset("late", { schema: Row, sql: "SELECT 1", freshness: "1 day" }))).toEqual({
      name: "DeclarationError",
      message:
        'asset "late": freshness: duration "1 day" is invalid: write days, hours and minutes like "26h", "90m" or "1d12h".',
    });
    expect(thrown(() => freshness("0m")).message).toBe(
      'freshness check: duration "0m" is invalid: write days, hours and minutes like "26h", "90m" or "1d12h".',
    );
  });

  it("refuses malformed partitions", () => {
    expect(thrown(() => daily({ start: "2026-13-01" })).message).toBe(
      'daily partitions: start "2026-13-01" is not a daily key like "2026-01-31".',
    );
    expect(thrown(() => daily({ start: "2026-02-30" })).message).toBe(
      'daily partitions: start "2026-02-30" is not a daily key like "2026-01-31".',
    );
    expect(thrown(() => hourly({ start: "2026-01-01" })).message).toBe(
      'hourly partitions: start "2026-01-01" is not a hourly key like "2026-01-31T00".',
    );
    expect(thrown(() => daily({ start: "2026-01-05", end: "2026-01-01" })).message).toBe(
      'daily partitions: end "2026-01-01" is before start "2026-01-05".',
    );
    expect(thrown(() => daily({ start: "2026-01-05", timezone: "Mars/Olympus" })).message).toBe(
      'daily partitions: time zone "Mars/Olympus" is not an IANA time zone (e.g. "UTC", "Europe/Berlin").',
    );
    expect(thrown(() => staticPartitions("tenant", [])).message).toBe(
      'static partitions "tenant": declare at least one key.',
    );
    expect(thrown(() => staticPartitions("tenant", ["a", "a"])).message).toBe(
      'static partitions "tenant": key "a" is listed twice.',
    );
    for (const bad of ["../x", "a/b", "it's", "a;b", "..", ""]) {
      const e = thrown(() => staticPartitions("tenant", [bad]));
      expect(e.name).toBe("DeclarationError");
      expect(e.message).toBe(
        `static partitions "tenant": partition key ${JSON.stringify(bad)} is invalid: static partition keys must match ^[A-Za-z0-9][A-Za-z0-9_-]*$ (letters, digits, "_" and "-"), because they become storage paths.`,
      );
    }
    expect(() => staticPartitions("Tenant", ["a"])).toThrow(/^partition dimension key "Tenant" is invalid/);
    expect(() => daily({ start: "x" })).toThrow(DeclarationError);
  });
});
