import { describe, expect, test } from "vitest";
import { formatTable } from "../../src/cli/table.ts";

describe("formatTable", () => {
  test("pads every column but the last to its widest cell, two spaces apart", () => {
    expect(
      formatTable(
        ["key", "kind", "deps"],
        [
          ["orders", "source", "-"],
          ["daily_revenue", "asset", "orders"],
        ],
      ),
    ).toBe(
      ["key            kind    deps", "orders         source  -", "daily_revenue  asset   orders", ""].join(
        "\n",
      ),
    );
  });

  test("counts a multi-byte character such as × as one column", () => {
    expect(formatTable(["p", "x"], [["a × b", "1"]])).toBe("p      x\na × b  1\n");
  });

  test("a header without rows is one line", () => {
    expect(formatTable(["key", "kind"], [])).toBe("key  kind\n");
  });

  test("a row with the wrong number of cells is a bug, said so", () => {
    expect(() => formatTable(["a", "b"], [["1"]])).toThrow(
      "table: a row has 1 cells for 2 columns (a bug in Tributary)",
    );
  });
});
