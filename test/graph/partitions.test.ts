import {
  daily,
  hourly,
  isPartitionKey,
  lastCompleteKey,
  mapping,
  multiPartitions,
  partitionKeys,
  shiftTimeKey,
  staticPartitions,
  timeKeyAt,
  timeKeys,
  upstreamKeys,
} from "tributary";
import { describe, expect, it } from "vitest";

const days = daily({ start: "2026-02-26", end: "2026-03-02" });
const tenants = staticPartitions("tenant", ["acme", "globex"]);
const dayByTenant = multiPartitions(days, tenants);

describe("partitions", () => {
  it("enumerates daily keys across a month end and a leap-free February", () => {
    expect(timeKeys(days)).toEqual(["2026-02-26", "2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    expect(timeKeys(days, "2026-02-28", "2026-03-01")).toEqual(["2026-02-28", "2026-03-01"]);
    expect(timeKeys(days, "2026-01-01", "2026-02-27")).toEqual(["2026-02-26", "2026-02-27"]);
  });

  it("enumerates hourly keys across midnight", () => {
    const hours = hourly({ start: "2026-11-27T22" });
    expect(timeKeys(hours, "2026-11-27T22", "2026-11-28T01")).toEqual([
      "2026-11-27T22",
      "2026-11-27T23",
      "2026-11-28T00",
      "2026-11-28T01",
    ]);
    expect(shiftTimeKey("hourly", "2026-11-28T00", -1)).toBe("2026-11-27T23");
  });

  it("enumerates two-dimensional keys day by tenant", () => {
    expect(partitionKeys(dayByTenant, { from: "2026-02-28", to: "2026-03-01" })).toEqual([
      "2026-02-28|acme",
      "2026-02-28|globex",
      "2026-03-01|acme",
      "2026-03-01|globex",
    ]);
    expect(partitionKeys(tenants)).toEqual(["acme", "globex"]);
    expect(partitionKeys(undefined)).toEqual([""]);
  });

  it("knows its keys", () => {
    expect(isPartitionKey(dayByTenant, "2026-02-28|acme")).toBe(true);
    expect(isPartitionKey(dayByTenant, "2026-02-28|umbrella")).toBe(false);
    expect(isPartitionKey(dayByTenant, "2026-02-25|acme")).toBe(false);
    expect(isPartitionKey(dayByTenant, "2026-02-28")).toBe(false);
    expect(isPartitionKey(days, "2026-02-29")).toBe(false);
    expect(isPartitionKey(days, "2026-03-02")).toBe(true);
    expect(isPartitionKey(days, "2026-03-03")).toBe(false);
    expect(isPartitionKey(days, "../2026-03-01")).toBe(false);
    expect(isPartitionKey(tenants, "acme")).toBe(true);
    expect(isPartitionKey(undefined, "")).toBe(true);
  });

  it("finds the last complete period in the partitions' time zone", () => {
    const now = new Date("2026-11-28T00:30:00Z");
    expect(lastCompleteKey(daily({ start: "2026-01-01" }), now)).toBe("2026-11-27");
    // In Tokyo it is already 09:30 on the 28th, so the 27th is also the last complete day there.
    expect(lastCompleteKey(daily({ start: "2026-01-01", timezone: "Asia/Tokyo" }), now)).toBe("2026-11-27");
    // In Los Angeles it is still the 27th (16:30), so the last complete day is the 26th.
    expect(lastCompleteKey(daily({ start: "2026-01-01", timezone: "America/Los_Angeles" }), now)).toBe(
      "2026-11-26",
    );
    expect(lastCompleteKey(hourly({ start: "2026-01-01T00" }), now)).toBe("2026-11-27T23");
  });

  it("finds the period holding an instant, in the partitions' zone", () => {
    const at = Date.parse("2026-03-29T00:30:00Z"); // 01:30 in Berlin, the night clocks go forward
    expect(timeKeyAt({ granularity: "daily", timezone: "UTC" }, at)).toBe("2026-03-29");
    expect(timeKeyAt({ granularity: "hourly", timezone: "UTC" }, at)).toBe("2026-03-29T00");
    expect(timeKeyAt({ granularity: "hourly", timezone: "Europe/Berlin" }, at)).toBe("2026-03-29T01");
    expect(timeKeyAt({ granularity: "daily", timezone: "America/New_York" }, at)).toBe("2026-03-28");
    expect(timeKeyAt({ granularity: "hourly", timezone: "Asia/Kolkata" }, at)).toBe("2026-03-29T06");
  });

  it("maps a consumer partition to the upstream partitions it reads", () => {
    const range = { from: "2026-02-26", to: "2026-03-02" };
    expect(upstreamKeys(days, days, mapping.identity(), "2026-03-01")).toEqual(["2026-03-01"]);
    expect(upstreamKeys(days, days, mapping.window(3), "2026-03-01")).toEqual([
      "2026-02-27",
      "2026-02-28",
      "2026-03-01",
    ]);
    // A window reaching before the upstream's first partition is cut at it.
    expect(upstreamKeys(days, days, mapping.window(7), "2026-02-27")).toEqual(["2026-02-26", "2026-02-27"]);
    expect(upstreamKeys(dayByTenant, dayByTenant, mapping.window(2), "2026-03-01|acme")).toEqual([
      "2026-02-28|acme",
      "2026-03-01|acme",
    ]);
    expect(
      upstreamKeys(dayByTenant, tenants, mapping.allTime(), "globex", {
        from: "2026-03-01",
        to: "2026-03-02",
      }),
    ).toEqual(["2026-03-01|globex", "2026-03-02|globex"]);
    expect(upstreamKeys(dayByTenant, days, mapping.allStatic(), "2026-03-01")).toEqual([
      "2026-03-01|acme",
      "2026-03-01|globex",
    ]);
    expect(upstreamKeys(tenants, dayByTenant, mapping.identity(), "2026-03-01|acme")).toEqual(["acme"]);
    expect(upstreamKeys(days, dayByTenant, mapping.identity(), "2026-03-01|acme")).toEqual(["2026-03-01"]);
    expect(upstreamKeys(days, undefined, mapping.all(), "", range)).toEqual(timeKeys(days));
    expect(upstreamKeys(undefined, days, mapping.identity(), "2026-03-01")).toEqual([""]);
  });
});
