/**
 * Proposed schema changes of CDC sources: the columns their events' rows had that the declared row does
 * not, as committed batches recorded them (`BatchManifest.schemaChanges`). Ingest accepts and lands such
 * rows; `tributary status` and the pull-request preview say which columns the declaration could add. A
 * column the declaration has since added is no longer proposed.
 */
import type { SourceDef } from "../../kit/asset.ts";
import type { BatchManifest } from "./manifest.ts";

export interface ProposedColumn {
  readonly source: string;
  readonly column: string;
  /** The JSON types its values had, in the order first seen. */
  readonly types: readonly string[];
  /** How many valid events had it, over every batch, counted before deduplication. */
  readonly events: number;
  /** Where it was first seen: the batch, its input file and line. */
  readonly first: { readonly batch: string; readonly file: string; readonly line: number };
}

/** The columns `source`'s committed batches saw that its declared row does not have, in the order first seen. */
export function proposedColumns(source: SourceDef, batches: readonly BatchManifest[]): ProposedColumn[] {
  const declared = source.cdc ? source.cdc.row.properties : source.schema.properties;
  const out = new Map<string, { types: string[]; events: number; first: ProposedColumn["first"] }>();
  for (const m of batches) {
    for (const c of m.schemaChanges ?? []) {
      if (Object.hasOwn(declared, c.column)) continue;
      const seen = out.get(c.column);
      if (seen === undefined) {
        out.set(c.column, { types: [...c.types], events: c.count, first: { batch: m.batch, ...c.first } });
      } else {
        seen.events += c.count;
        for (const t of c.types) if (!seen.types.includes(t)) seen.types.push(t);
      }
    }
  }
  return [...out].map(([column, c]) => ({ source: source.key, column, ...c }));
}

/** "products gets a new column color (string, null) in 2 events since batch …": one line per column. */
export function describeProposal(p: ProposedColumn): string {
  return `${p.source}: new column "${p.column}" (${p.types.join(", ")}) in ${p.events} event${p.events === 1 ? "" : "s"}, first in ${p.first.file} line ${p.first.line} (batch ${p.first.batch})`;
}
