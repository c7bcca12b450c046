import type { CheckSpec } from "../../kit/checks.ts";
import type { Duck } from "./duckdb.ts";
import type { CheckResult } from "./manifest.ts";
import { ident, literal } from "./types.ts";

const SAMPLE = 5;

function valueLiteral(v: string | number | boolean): string {
  return typeof v === "string" ? literal(v) : String(v);
}

/**
 * The SQL returning the failing rows of a check over `table`, or undefined for checks that are not
 * row predicates (row_count, freshness). `reference` is the table holding a references check's target.
 */
export function failingRowsSql(check: CheckSpec, table: string, reference?: string): string | undefined {
  const t = ident(table);
  switch (check.kind) {
    case "not_null":
      return `SELECT * FROM ${t} WHERE ${check.columns.map((c) => `${ident(c)} IS NULL`).join(" OR ")}`;
    case "unique": {
      const cols = check.columns.map(ident).join(", ");
      return `SELECT ${cols}, count(*) AS occurrences FROM ${t} GROUP BY ${cols} HAVING count(*) > 1`;
    }
    case "accepted_values":
      return `SELECT * FROM ${t} WHERE ${ident(check.column)} IS NOT NULL AND ${ident(check.column)} NOT IN (${check.values.map(valueLiteral).join(", ")})`;
    case "references":
      return `SELECT * FROM ${t} WHERE ${ident(check.column)} IS NOT NULL AND ${ident(check.column)} NOT IN (SELECT ${ident(check.assetColumn)} FROM ${ident(reference ?? check.asset)} WHERE ${ident(check.assetColumn)} IS NOT NULL)`;
    case "sql":
      return check.sql;
    default:
      return undefined;
  }
}

/** Run one check against `table` (a view over the asset partition's new data). Freshness is evaluated by status, not here. */
export async function runCheck(
  duck: Duck,
  check: CheckSpec,
  table: string,
  reference?: string,
): Promise<CheckResult> {
  const base = { name: check.name, kind: check.kind, blocking: check.blocking };
  if (check.kind === "row_count") {
    const [row] = await duck.rows(`SELECT count(*) AS n FROM ${ident(table)}`);
    const n = Number(row!.n);
    const low = check.min !== undefined && n < check.min;
    const high = check.max !== undefined && n > check.max;
    if (!low && !high) return { ...base, passed: true, failingRows: 0, sample: [] };
    const range = `${check.min ?? "any"}..${check.max ?? "any"}`;
    return {
      ...base,
      passed: false,
      failingRows: 1,
      sample: [{ rows: n }],
      message: `${n} rows, expected ${range}`,
    };
  }
  const sql = failingRowsSql(check, table, reference);
  if (sql === undefined) return { ...base, passed: true, failingRows: 0, sample: [] };
  const [count] = await duck.rows(
    check.kind === "unique"
      ? `SELECT coalesce(sum(occurrences), 0) AS n FROM (${sql})`
      : `SELECT count(*) AS n FROM (${sql})`,
  );
  const failing = Number(count!.n);
  if (failing === 0) return { ...base, passed: true, failingRows: 0, sample: [] };
  const sample = await duck.jsonRows(`SELECT * FROM (${sql}) LIMIT ${SAMPLE}`);
  return { ...base, passed: false, failingRows: failing, sample, message: describeFailure(check, failing) };
}

function describeFailure(check: CheckSpec, n: number): string {
  const rows = `${n} row${n === 1 ? "" : "s"}`;
  switch (check.kind) {
    case "not_null":
      return `${rows} with a null in ${check.columns.join(", ")}`;
    case "unique":
      return `${rows} share a value of (${check.columns.join(", ")})`;
    case "accepted_values":
      return `${rows} with ${check.column} outside ${check.values.join(", ")}`;
    case "references":
      return `${rows} whose ${check.column} is not in ${check.asset}.${check.assetColumn}`;
    default:
      return `${rows} returned by the check's SQL`;
  }
}
