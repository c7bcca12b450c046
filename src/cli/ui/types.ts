/**
 * What the asset-graph page is given: the graph as drawn (positions by topological level, colour from
 * state) and, per asset, what a click shows. Served as JSON by `tributary ui`, inlined by
 * `tributary lineage --format html`. Plain data only: the page's script reads these types too.
 */

import type { GraphNode, LineageEdge } from "../../kit/lineage.ts";

export const UI_VERSION = 1;

/** An asset's state in the store, worst partition first: failed, blocked, stale, never, fresh. */
export type NodeState = "fresh" | "stale" | "failed" | "blocked" | "never";

/** The page's first load: every node and edge, nothing per asset beyond what colours and labels need. */
export interface UiGraph {
  readonly version: typeof UI_VERSION;
  /** The graph module's path, relative to the working directory. */
  readonly module: string;
  /** When this was read (ISO). */
  readonly at: string;
  /** Whether node states come from a store (`tributary ui`), or the page is the static graph only. */
  readonly live: boolean;
  readonly nodes: readonly UiNode[];
  readonly edges: readonly UiEdge[];
  /** Stacks found in `stacks/` (their `tributary plan` is in each asset's details). */
  readonly stacks: readonly string[];
}

export interface UiNode extends GraphNode {
  /** Topological level: sources 0, each asset one past its deepest upstream. */
  readonly level: number;
  /** Position: x by level (left to right), y within the level, ordered to keep edges short. */
  readonly x: number;
  readonly y: number;
  /** Absent when the page is static (no store was read). */
  readonly state?: NodeState;
  /** Why: "up to date", the stale reason, the failed check or error, "never materialised". */
  readonly why?: string;
  /** One cell per partition, oldest first, the latest `STRIP_MAX` at most; absent when unpartitioned or static. */
  readonly strip?: readonly NodeState[];
  /** How many partitions the asset has in all (the strip may show fewer). */
  readonly partitions: number;
}

/** The latest partitions a node's strip shows. */
export const STRIP_MAX = 48;

/** An edge as the lineage document has it: from, to, the partition mapping in words, the columns read. */
export type UiEdge = LineageEdge;

/** What clicking an asset shows. */
export interface UiAssetDetails extends GraphNode {
  readonly description?: string;
  readonly schema: readonly UiColumn[];
  readonly sql?: string;
  readonly codeVersion?: string;
  /** The partitioning in words ("daily from 2026-01-01 (UTC)", "unpartitioned"). */
  readonly partitioning: string;
  /** "cron 0 3 * * * (Europe/Berlin)", "after orders", "events of orders_cdc", or absent. */
  readonly automation?: string;
  /** The freshness SLA and whether it holds now ("ok (3h old, SLA 26h)"); absent without one. */
  readonly freshness?: string;
  readonly checks: readonly UiCheck[];
  /** The latest materialisations, newest first (at most 20). Empty when static. */
  readonly materialisations: readonly UiMaterialisation[];
  /** Every partition's state, newest first (at most 500). Empty when static. */
  readonly partitions: readonly UiPartition[];
  readonly upstream: readonly UiEdge[];
  readonly downstream: readonly UiEdge[];
  /** Output column → the upstream columns it is computed from, where the SQL makes it known. */
  readonly columnLineage?: UiColumnLineage;
  /** Where the asset lives in each stack, from `tributary plan`. */
  readonly stacks: readonly UiStackPlacement[];
}

export interface UiColumn {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

export interface UiCheck {
  readonly name: string;
  readonly kind: string;
  readonly blocking: boolean;
  /** The latest result over the asset's partitions, when it has run. */
  readonly last?: {
    readonly passed: boolean;
    readonly message?: string;
    readonly partition: string;
    readonly at: string;
  };
}

export interface UiMaterialisation {
  readonly partition: string;
  readonly at: string;
  readonly rows: number;
  readonly dataVersion: string;
  readonly durationMs?: number;
}

export interface UiPartition {
  readonly partition: string;
  readonly state: NodeState;
  readonly why: string;
  readonly rows: number | null;
  readonly at: string | null;
}

export type UiColumnLineage =
  | {
      readonly known: true;
      readonly columns: readonly {
        readonly column: string;
        readonly from: readonly { readonly asset: string; readonly column: string }[];
      }[];
    }
  | { readonly known: false; readonly reason: string };

export interface UiStackPlacement {
  readonly stack: string;
  readonly cloud: string;
  readonly region: string;
  /** The store and prefix holding the asset's data: "shop-prod-curated" and "curated/orders/". */
  readonly store: { readonly id: string; readonly name: string; readonly prefix: string };
  /** The function that materialises it, when the stack deploys one. */
  readonly function?: { readonly name: string; readonly runs: string };
}
