import { parseDuration } from "./duration.ts";

/** Options every check takes. */
export interface CheckOptions {
  /** A failing blocking check fails the asset partition and skips everything downstream. Default true. */
  readonly blocking?: boolean;
  /** Unique per asset; defaults to the kind and columns, e.g. "not_null_order_id". */
  readonly name?: string;
  readonly description?: string;
}

interface CheckBase {
  readonly name: string;
  readonly blocking: boolean;
  readonly description?: string;
}

export type Scalar = string | number | boolean;

/** A data-quality check on an asset's rows. `C` is the asset's column names, so a typo does not compile. */
export type CheckSpec<C extends string = string> = CheckBase &
  (
    | { readonly kind: "not_null"; readonly columns: readonly C[] }
    | { readonly kind: "unique"; readonly columns: readonly C[] }
    | { readonly kind: "accepted_values"; readonly column: C; readonly values: readonly Scalar[] }
    | { readonly kind: "row_count"; readonly min?: number; readonly max?: number }
    | {
        readonly kind: "references";
        readonly column: C;
        readonly asset: string;
        readonly assetColumn: string;
      }
    | { readonly kind: "freshness"; readonly maxLagMinutes: number }
    /** DuckDB SQL that returns the failing rows; the asset is the table named by its key. */
    | { readonly kind: "sql"; readonly sql: string }
  );

function base(kind: string, parts: readonly string[], o: CheckOptions = {}): CheckBase {
  return {
    name: o.name ?? [kind, ...parts].join("_"),
    blocking: o.blocking ?? true,
    ...(o.description === undefined ? {} : { description: o.description }),
  };
}

/** Every column is non-null in every row. */
export function notNull<const C extends string>(columns: readonly C[], o?: CheckOptions): CheckSpec<C> {
  return { ...base("not_null", columns, o), kind: "not_null", columns };
}

/** No two rows share the same values of `columns` (together). */
export function unique<const C extends string>(columns: readonly C[], o?: CheckOptions): CheckSpec<C> {
  return { ...base("unique", columns, o), kind: "unique", columns };
}

/** Every non-null value of `column` is one of `values`. */
export function acceptedValues<const C extends string>(
  column: C,
  values: readonly Scalar[],
  o?: CheckOptions,
): CheckSpec<C> {
  return { ...base("accepted_values", [column], o), kind: "accepted_values", column, values };
}

/** The partition has between `min` and `max` rows (inclusive; either may be left out). */
export function rowCount(range: { min?: number; max?: number }, o?: CheckOptions): CheckSpec<never> {
  return { ...base("row_count", [], o), kind: "row_count", ...range };
}

/** Every non-null value of `column` exists in `column` of asset `asset` (referential integrity). */
export function references<const C extends string>(
  column: C,
  target: { asset: string | { readonly key: string }; column: string },
  o?: CheckOptions,
): CheckSpec<C> {
  const asset = typeof target.asset === "string" ? target.asset : target.asset.key;
  return {
    ...base("references", [column, asset], o),
    kind: "references",
    column,
    asset,
    assetColumn: target.column,
  };
}

/** The asset was last materialised no longer ago than `maxLag` ("26h", "90m", "2d"). */
export function freshness(maxLag: string, o?: CheckOptions): CheckSpec<never> {
  return {
    ...base("freshness", [], o),
    kind: "freshness",
    maxLagMinutes: parseDuration(maxLag, "freshness check"),
  };
}

/** Custom DuckDB SQL returning the failing rows (zero rows means the check passes). */
export function sqlCheck(name: string, sql: string, o?: Omit<CheckOptions, "name">): CheckSpec<never> {
  return { ...base("sql", [], { ...o, name }), kind: "sql", sql };
}

/** The columns of its own asset a check reads. */
export function checkColumns(c: CheckSpec): readonly string[] {
  switch (c.kind) {
    case "not_null":
    case "unique":
      return c.columns;
    case "accepted_values":
    case "references":
      return [c.column];
    default:
      return [];
  }
}
