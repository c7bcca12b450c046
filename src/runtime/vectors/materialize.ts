/**
 * An embedding asset partition in the executor (engine/executor.ts), in two steps around its checks:
 *
 *   1. `prepareEmbedding`: its rows (key columns, tenant, text, SHA-256 of the text) from the upstream
 *      into a temporary table, checked: no null key, no key twice in a tenant, tenants that are valid
 *      path segments and, when the asset is partitioned by tenant, the partition's own. The ledger (the
 *      asset's Parquet output) is selected from it; its checks run on that.
 *   2. `syncEmbedding`, once the checks passed and before the commit: each tenant's vector table is
 *      brought up to date (sync.ts). A blocking check that fails therefore leaves the vectors untouched,
 *      and a crash before the commit leaves tables the next run finishes (it compares hashes with the
 *      tables themselves, not with the last commit).
 */
import type { AssetDef } from "../../kit/asset.ts";
import type { EmbeddingSpec } from "../../kit/embedding.ts";
import { TributaryError } from "../../kit/errors.ts";
import { PARTITION_VALUE_PATTERN } from "../../kit/keys.ts";
import type { Duck } from "../engine/duckdb.ts";
import type { VectorsRecord } from "../engine/manifest.ts";
import { ident, literal } from "../engine/types.ts";
import { modelTag } from "./config.ts";
import { lanceMessage } from "./lance.ts";
import { lanceLocation } from "./location.ts";
import { syncTenant, type TenantSync, type VectorsRuntime } from "./sync.ts";
import type { KeyType, TableShape } from "./table.ts";

export class EmbeddingError extends TributaryError {
  override name = "EmbeddingError";
}

const ROWS = "__tributary_embed";
const TEXT = "__text";

/** The embedding spec of an asset (it must be an embedding asset). */
function specOf(a: AssetDef): EmbeddingSpec {
  return a.embedding!;
}

/** The ledger's columns: the key columns, then the tenant column unless it is a key. */
function ledgerColumns(spec: EmbeddingSpec): string[] {
  return [...new Set([...spec.key, spec.tenant])];
}

/** Step 1 (see the module's comment); the upstream's view must be registered. */
export async function prepareEmbedding(duck: Duck, a: AssetDef, partition: string): Promise<void> {
  const spec = specOf(a);
  const cols = ledgerColumns(spec);
  await duck.run(
    `CREATE OR REPLACE TEMP TABLE ${ROWS} AS SELECT ${cols.map(ident).join(", ")}, ${ident(spec.text)} AS ${TEXT}, sha256(${ident(spec.text)}) AS content_hash FROM ${ident(spec.from)} WHERE ${ident(spec.text)} IS NOT NULL`,
  );
  const nullKey = await duck.rows(
    `SELECT count(*) AS n FROM ${ROWS} WHERE ${cols.map((c) => `${ident(c)} IS NULL`).join(" OR ")}`,
  );
  if (Number(nullKey[0]!.n) > 0) {
    throw new EmbeddingError(
      `"${a.key}": ${nullKey[0]!.n} row(s) of "${spec.from}" have a null ${cols.map((c) => `"${c}"`).join(" or ")}: every embedded row needs its key and tenant.`,
    );
  }
  const tenants = (await duck.rows(`SELECT DISTINCT ${ident(spec.tenant)} AS t FROM ${ROWS} ORDER BY 1`)).map(
    (r) => String(r.t),
  );
  const bad = tenants.find((t) => !PARTITION_VALUE_PATTERN.test(t) || t.length > 128);
  if (bad !== undefined) {
    throw new EmbeddingError(
      `"${a.key}": tenant ${JSON.stringify(bad)} (column "${spec.tenant}" of "${spec.from}") cannot name a vector table: tenants must match ${PARTITION_VALUE_PATTERN.source}.`,
    );
  }
  if (a.partitions !== undefined) {
    const other = tenants.find((t) => t !== partition);
    if (other !== undefined) {
      throw new EmbeddingError(
        `"${a.key}": partition "${partition}" read a row of tenant "${other}" from "${spec.from}": an embedding asset partitioned by tenant embeds each partition's own tenant only.`,
      );
    }
  }
  const twice = await duck.rows(
    `SELECT ${spec.key.map(ident).join(", ")}, ${ident(spec.tenant)} AS __tenant, count(*) AS n FROM ${ROWS} GROUP BY ALL HAVING count(*) > 1 ORDER BY ALL LIMIT 1`,
  );
  if (twice.length > 0) {
    const r = twice[0]!;
    const key = spec.key.map((k) => `${k} ${JSON.stringify(String(r[k]))}`).join(", ");
    throw new EmbeddingError(
      `"${a.key}": ${key} appears ${r.n} times in tenant "${r.__tenant}" of "${spec.from}": the key columns must identify one row per tenant.`,
    );
  }
}

/** Step 1's ledger: what the asset's Parquet file holds (ordered, so that equal inputs give equal files). */
export function ledgerSql(a: AssetDef): string {
  const cols = ledgerColumns(specOf(a));
  const order = [specOf(a).tenant, ...specOf(a).key.filter((k) => k !== specOf(a).tenant)];
  return `SELECT ${cols.map(ident).join(", ")}, content_hash FROM ${ROWS} ORDER BY ${order.map(ident).join(", ")}`;
}

/** Step 2 (see the module's comment): returns what the commit records. */
export async function syncEmbedding(
  duck: Duck,
  a: AssetDef,
  partition: string,
  storeUri: string,
  rt: VectorsRuntime,
  previous: VectorsRecord | undefined,
): Promise<VectorsRecord> {
  const spec = specOf(a);
  const what = `"${a.key}"`;
  const resolved = await rt.embedder(spec.model, what);
  const properties = (a.schema.properties ?? {}) as Record<string, { type?: unknown; anyOf?: unknown }>;
  const shape: TableShape = {
    asset: a.key,
    keys: spec.key.map((name) => ({ name, type: keyType(properties[name]) })),
    tenantColumn: spec.tenant,
    model: resolved.model,
    semantic: resolved.embedder.semantic,
  };
  const present = (await duck.rows(`SELECT DISTINCT ${ident(spec.tenant)} AS t FROM ${ROWS}`)).map((r) =>
    String(r.t),
  );
  // A tenant whose rows are all gone still has a table to empty: the partition's own tenant, or (for an
  // unpartitioned asset) every tenant the last commit had a table for.
  const tenants = [
    ...new Set([
      ...present,
      ...(a.partitions !== undefined ? [partition] : Object.keys(previous?.tables ?? {})),
    ]),
  ].sort();
  const location = lanceLocation(storeUri);
  // The database answers one query at a time: tenants' rows are read one after another.
  let reading: Promise<unknown> = Promise.resolve();
  const read = (tenant: string) => {
    const rows = reading.then(() => columnsOf(duck, spec, tenant));
    reading = rows.catch(() => undefined);
    return rows;
  };
  const results = await Promise.all(
    tenants.map((tenant) =>
      rt.writeLimit(async (): Promise<[string, TenantSync]> => {
        const columns = await read(tenant);
        try {
          return [tenant, await syncTenant(rt, location, shape, { tenant, ...columns }, resolved, what)];
        } catch (e) {
          if (e instanceof TributaryError) throw e;
          throw new EmbeddingError(
            `${what}: the vector table of tenant "${tenant}" could not be written: ${lanceMessage(e)}`,
          );
        }
      }),
    ),
  );
  const sum = (f: (s: TenantSync) => number) => results.reduce((n, [, s]) => n + f(s), 0);
  return {
    model: modelTag(resolved.model),
    semantic: resolved.embedder.semantic,
    embedded: sum((s) => s.embedded),
    unchanged: sum((s) => s.unchanged),
    deleted: sum((s) => s.deleted),
    tables: Object.fromEntries(
      results.map(([t, s]) => [t, { rows: s.rows, version: s.version, indexed: s.indexed }]),
    ),
  };
}

/** One tenant's rows, column by column. */
async function columnsOf(
  duck: Duck,
  spec: EmbeddingSpec,
  tenant: string,
): Promise<{ keys: unknown[][]; hashes: string[]; texts: string[] }> {
  const reader = await duck.connection.runAndReadAll(
    `SELECT ${spec.key.map(ident).join(", ")}, content_hash, ${TEXT} FROM ${ROWS} WHERE ${ident(spec.tenant)} = ${literal(tenant)}`,
  );
  // No rows, no columns: a tenant whose rows are all gone.
  const columns = reader.currentRowCount === 0 ? [] : reader.getColumnsJS();
  const k = spec.key.length;
  const column = (i: number) => (columns[i] ?? []) as unknown[];
  return {
    keys: spec.key.map((_, i) => column(i)),
    hashes: column(k) as string[],
    texts: column(k + 1) as string[],
  };
}

function keyType(schema: { type?: unknown; anyOf?: unknown } | undefined): KeyType {
  const s = schema as { type?: unknown; anyOf?: { type?: unknown }[] } | undefined;
  const type = typeof s?.type === "string" ? s.type : s?.anyOf?.find((b) => b.type !== "null")?.type;
  return type === "integer" ? "integer" : "string";
}

/** Drop what step 1 made. */
export async function dropEmbedding(duck: Duck): Promise<void> {
  await duck.run(`DROP TABLE IF EXISTS ${ROWS}`);
}
