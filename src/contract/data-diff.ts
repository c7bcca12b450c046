/**
 * What `tributary diff --data` finds a change does to the data, as plain JSON: the engine's comparison
 * (runtime/engine/compare.ts) writes it, the preview (infra/preview) renders it. For each asset whose
 * data the change may alter (changed ones and everything downstream), both revisions' rows of the same
 * replay input, compared by key or as multisets.
 */

/** How rows of the two revisions were matched. */
export type RowMatch =
  | {
      readonly by: "key";
      /** The key columns; the partition is always part of a row's identity too. */
      readonly columns: readonly string[];
      /** Where the key comes from: the asset's `diff.key`, or its `unique` check's columns. */
      readonly from: "declared" | "unique check";
    }
  | {
      readonly by: "multiset";
      /** Why not by key: no key declared nor unique check, or the key is not unique in the data. */
      readonly reason: string;
    };

/** One column's values at one revision. */
export interface ColumnStats {
  readonly nulls: number;
  /** Nulls over rows (0 when there are no rows), rounded to 4 decimals. */
  readonly nullRate: number;
  /**
   * Counted for the columns some differing row touches; absent for the others, whose values are the
   * same at both revisions (so is their distinct count).
   */
  readonly distinct?: number;
  /** Numbers only. */
  readonly min?: number;
  readonly max?: number;
  readonly mean?: number;
}

export interface ColumnDataDiff {
  readonly name: string;
  /** Rows matched by key whose value of this column differs (0 for multisets). */
  readonly changed: number;
  readonly base: ColumnStats;
  readonly head: ColumnStats;
  /** The most frequent value changes among the changed rows: before → after, how many rows. */
  readonly top: readonly { readonly from: unknown; readonly to: unknown; readonly rows: number }[];
}

/** A row that differs: added (only at head), removed (only at base) or changed (both, by key). */
export interface ExampleRow {
  readonly change: "added" | "removed" | "changed";
  readonly partition: string;
  readonly before?: Readonly<Record<string, unknown>>;
  readonly after?: Readonly<Record<string, unknown>>;
  /** Changed rows: the columns that differ. */
  readonly columns?: readonly string[];
}

/** What a change was declared to do to an asset's data (its `diff.expect`), and whether it held. */
export interface DataExpectation {
  /** "unchanged", or the only columns allowed to change. */
  readonly expect: "unchanged" | { readonly only: readonly string[] };
  readonly held: boolean;
  /** Why it did not hold, naming the first differing row. */
  readonly message?: string;
}

export interface AssetDataDiff {
  readonly key: string;
  /**
   * identical / changed (both revisions have rows); added or removed (the asset exists at one revision
   * only); failed (it could not be materialised at a revision: `error` says why).
   */
  readonly verdict: "identical" | "changed" | "added" | "removed" | "failed";
  readonly match?: RowMatch;
  readonly rows?: {
    readonly base: number;
    readonly head: number;
    readonly added: number;
    readonly removed: number;
    readonly changed: number;
  };
  /** The partitions holding a difference, with its counts, in partition order. */
  readonly partitions?: readonly {
    readonly partition: string;
    readonly added: number;
    readonly removed: number;
    readonly changed: number;
  }[];
  /** Every column, those that moved most first (most changed rows, then the largest shift in stats). */
  readonly columns?: readonly ColumnDataDiff[];
  /** An order-independent checksum of each revision's rows (hex; DuckDB's row hash summed). */
  readonly checksum?: { readonly base: string; readonly head: string };
  /** The first differing rows, in change, partition and key order. */
  readonly examples?: readonly ExampleRow[];
  readonly expectation?: DataExpectation;
  readonly error?: string;
}

export interface DataDiff {
  /** What was replayed through both revisions. */
  readonly input: {
    readonly kind: "sample" | "store" | "folder";
    /** "the graph module's sample data", a store folder or URI, or a folder of event files. */
    readonly from: string;
  };
  /** The assets whose data the change may alter, in the head's topological order. */
  readonly assets: readonly AssetDataDiff[];
}
