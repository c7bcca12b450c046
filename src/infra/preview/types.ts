/**
 * The preview of a change, as data: what `tributary diff --format json` prints and what the Markdown
 * renderer reads. Three parts: the graph (assets added, removed, modified, with schema verdicts per
 * consumer), the downstream impact, and per stack the infrastructure (the deployment plan's logical
 * difference and the resources `synth` or `pulumi preview` would add, change, replace or delete).
 * Everything is keyed by logical names (asset keys, plan ids, URNs), never by physical names.
 */
import type { DataDiff } from "../../contract/data-diff.ts";
import type { GraphNode } from "../../kit/lineage.ts";

export const PREVIEW_VERSION = 1;

/** How a schema change looks to one reader of the table. */
export type Verdict =
  /** Nothing the reader reads changed. */
  | "compatible"
  /** The new schema reads data written under the old one, not the reverse (e.g. a read column widened). */
  | "backward-compatible"
  /** Data written under the new schema reads under the old one, not the reverse (e.g. a column narrowed). */
  | "forward-compatible"
  /** The reader reads a column that is gone or retyped beyond widening: its SQL fails or misreads. */
  | "breaking";

export interface Column {
  readonly name: string;
  /** One word, with the format for strings: `string`, `string(date-time)`, `integer`, `number`, `object`… */
  readonly type: string;
  readonly nullable: boolean;
}

/** One column's change between the two revisions. */
export type ColumnChange =
  | { readonly kind: "added"; readonly column: Column }
  | {
      readonly kind: "removed";
      readonly column: Column;
      /** A column added in the same place with the same type: probably this one, renamed. */
      readonly renamedTo?: string;
    }
  | {
      readonly kind: "retyped";
      readonly name: string;
      readonly from: Column;
      readonly to: Column;
    };

export interface SchemaChange {
  readonly columns: readonly ColumnChange[];
  /** The verdict for a reader of every column. */
  readonly verdict: Verdict;
  /** Per direct consumer at head (and consumers at base that read it no more are not listed). */
  readonly consumers: readonly ConsumerVerdict[];
}

export interface ConsumerVerdict {
  readonly consumer: string;
  readonly verdict: Verdict;
  /** The columns of the change it reads, e.g. ["customer_id"]. */
  readonly reads: readonly string[];
  /** How the columns it reads are known: declared in `dep(..., { columns })`, found in its SQL, or all (compute). */
  readonly readsFrom: "declared" | "sql" | "all";
  /** Why, in a sentence: "reads customer_id, which was removed (renamed to customer_ref?)". */
  readonly reason: string;
}

/** What changed of one asset; each field present only when that aspect changed. */
export interface AssetModification {
  readonly key: string;
  readonly kind: "source" | "asset";
  readonly owners: readonly string[];
  readonly schema?: SchemaChange;
  /**
   * Present when the asset's Iceberg table cannot evolve to the new schema (a type changed, a required
   * column added, an optional one made required): one sentence per column. Breaking for every reader
   * of the table, in Tributary or not.
   */
  readonly table?: { readonly unevolvable: readonly string[] };
  /** The code version (hash of the SQL, or the declared version of a compute function). */
  readonly code?: { readonly from: string; readonly to: string; readonly sql: boolean };
  readonly dependencies?: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
    /** Same upstream, different partition mapping or columns read: "orders: identity() → window(7)". */
    readonly changed: readonly string[];
  };
  readonly partitions?: { readonly from: string; readonly to: string };
  readonly checks?: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
    readonly changed: readonly string[];
  };
  /** "cron 0 3 * * * (UTC)", "on upstream", "by hand". */
  readonly schedule?: { readonly from: string; readonly to: string };
  /** The owners changed (`owners` above are the head's). */
  readonly ownership?: { readonly from: readonly string[]; readonly to: readonly string[] };
  readonly tags?: { readonly added: readonly string[]; readonly removed: readonly string[] };
  /** Other declared attributes: group, description, freshness, resources, event id/time, pii, disposable. */
  readonly other?: readonly { readonly field: string; readonly from: string; readonly to: string }[];
  /** Whether its data must be recomputed: a changed code version, dependencies or partitions. */
  readonly recompute: boolean;
}

export interface AssetSummary extends Omit<GraphNode, "tags"> {
  readonly partitions: string;
}

/** One asset whose data goes stale because of the change. */
export interface Impact {
  readonly key: string;
  readonly owners: readonly string[];
  /** The changed assets upstream of it (itself, when it changed). */
  readonly because: readonly string[];
  /** Which partitions are re-materialised: "all 331 partitions (daily from 2026-01-01)", "the one partition". */
  readonly partitions: string;
  readonly partitionCount: number;
  /** A consumer whose schema verdict from an upstream change is breaking. */
  readonly broken: boolean;
}

export interface GraphDiff {
  readonly added: readonly AssetSummary[];
  readonly removed: readonly AssetSummary[];
  readonly modified: readonly AssetModification[];
  /** Every asset downstream of a change (and the changed ones that recompute), in topological order. */
  readonly impact: readonly Impact[];
  /**
   * The head's edges among the added, modified and impacted assets, and the base's edges that were
   * removed (`removed: true`), for the Mermaid graph.
   */
  readonly edges: readonly { readonly from: string; readonly to: string; readonly removed?: boolean }[];
}

/** A flag the reviewer must see: never truncated, and what `--exit-code` exits 1 on. */
export interface Risk {
  /**
   * `pii-flow`: an asset outputs or holds personal data it did not before. `data-expectation`: the
   * change alters an asset's data in a way its `diff.expect` says it must not (`diff --data`).
   */
  readonly kind: "breaking-schema" | "data-loss" | "privilege-widening" | "pii-flow" | "data-expectation";
  /** The stack, for infrastructure risks. */
  readonly stack?: string;
  /** The asset it concerns, when one does. */
  readonly asset?: string;
  /** The resource (URN) or plan item (e.g. "grant curated_orders read raw:raw/orders_cdc/"). */
  readonly subject: string;
  readonly message: string;
}

/** A change to one item of a stack's deployment plan. */
export interface PlanItemChange {
  readonly section:
    | "stores"
    | "buses"
    | "streams"
    | "functions"
    | "triggers"
    | "grants"
    | "secrets"
    | "alarms"
    | "stack";
  /** The item's logical id: a store id, function id, `<function> <access> <store>:<prefix>` for grants. */
  readonly id: string;
  readonly op: "add" | "remove" | "change";
  /** The asset the item belongs to (functions, triggers, grants, alarms). */
  readonly asset?: string;
  /** Changed fields, "field: before → after". */
  readonly fields?: readonly string[];
}

export type ResourceOp = "create" | "update" | "replace" | "delete";

export interface ResourceChange {
  readonly op: ResourceOp;
  readonly urn: string;
  readonly type: string;
  /** The logical name (the URN's last part). */
  readonly name: string;
  /** The asset it belongs to: its `tributary-asset` tag or its component's; absent for shared resources. */
  readonly asset?: string;
  /** Changed input paths (updates and replaces), e.g. ["lifecycleRules[0].expiration.days"]. */
  readonly changed?: readonly string[];
  /** The inputs whose change forces the replacement. */
  readonly replaceKeys?: readonly string[];
  /** Values that are not known until deploy (previews): paths. */
  readonly unknown?: readonly string[];
  /** Deleting or replacing it loses data it holds (a bucket, storage account, container or encryption key). */
  readonly dataLoss?: boolean;
  /** It grants more than before: a new grant, or a policy with more actions or resources. */
  readonly widensPrivilege?: boolean;
}

export interface StackPreview {
  readonly stack: string;
  readonly cloud?: string;
  /** Where the resource changes come from: our synth at both revisions, or `pulumi preview --json`. */
  readonly source: "synth" | "plan" | "pulumi-preview";
  readonly plan?: readonly PlanItemChange[];
  readonly resources?: readonly ResourceChange[];
  /** Counts by op, resources that stay the same included ("same"). */
  readonly summary: Readonly<Record<string, number>>;
  /** The stack does not exist at one revision, or failed to synthesise there: said, not hidden. */
  readonly notes?: readonly string[];
}

/**
 * A column a CDC source's events have and its declared row did not at the base revision, as committed
 * ingest batches recorded it (read from a store: `tributary diff --store`).
 */
export interface ProposedSchemaChange {
  readonly source: string;
  readonly column: string;
  /** The JSON types its values had. */
  readonly types: readonly string[];
  /** How many landed events had it. */
  readonly events: number;
  readonly first: { readonly batch: string; readonly file: string; readonly line: number };
  /** Whether the head revision declares it (the change adopts it). */
  readonly declared: boolean;
}

export interface Preview {
  readonly version: typeof PREVIEW_VERSION;
  readonly base?: { readonly ref: string; readonly commit: string };
  readonly head?: { readonly ref: string; readonly commit: string };
  readonly graph?: GraphDiff;
  readonly stacks: readonly StackPreview[];
  /** Every breaking schema change, data-loss risk and privilege widening, graph and stacks together. */
  readonly risks: readonly Risk[];
  /** What the change does to the data replayed through both revisions (`diff --data`). */
  readonly data?: DataDiff;
  /** Proposed schema changes of CDC sources, when a store was given to read them from. */
  readonly schemaChanges?: readonly ProposedSchemaChange[];
}
