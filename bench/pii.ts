/**
 * The personal-data check (runtime/lineage/pii.ts) over a generated graph: one source with personal
 * fields, N SQL assets downstream of it, each selecting, joining and aggregating what it reads. Two
 * shapes: `tokenised`, the first layer tokenises and nothing downstream holds personal data (the check
 * reads only the first layer's SQL), and `held`, every asset keeps the e-mail and declares it, so every
 * asset reads personal data and every one's SQL is traced. Baseline, in the same run: DuckDB
 * parsing the traced statements (`json_serialize_sql`), the floor of any analysis that reads DuckDB's
 * parse tree. Usage: npx tsx bench/pii.ts [N]
 */
import { asset, defineGraph, secret, source, Type } from "../src/kit/index.ts";
import { Duck } from "../src/runtime/engine/duckdb.ts";
import { piiFlows } from "../src/runtime/lineage/pii.ts";

const n = Number(process.argv[2] ?? 1000);
const key = secret("pii_token_key", { use: "tokenisation" });
const people = source("people", {
  schema: Type.Object({
    id: Type.String(),
    at: Type.String(),
    tenant: Type.String(),
    person: Type.Object({ email: Type.String(), name: Type.String(), country: Type.String() }),
  }),
  eventId: "id",
  eventTime: "at",
  pii: ["person.email", "person.name"],
});
const Out = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  token: Type.String(),
  country: Type.String(),
});
/** The graph of one shape: the first layer tokenises the e-mail, or keeps it as a declared holder. */
function build(shape: "tokenised" | "held") {
  const assets = [];
  for (let i = 0; i < n; i++) {
    const up = i < 10 ? "people" : `a${(i * 7919) % i}`;
    const email = shape === "held" ? "lower(person.email)" : "pii_token(tenant, lower(person.email))";
    const sql =
      up === "people"
        ? `WITH latest AS (SELECT id, tenant, person, row_number() OVER (PARTITION BY id ORDER BY "at" DESC) AS r FROM people)
           SELECT id, tenant, ${email} AS token, person.country AS country FROM latest WHERE r = 1`
        : `SELECT u.id, u.tenant, u.token, upper(u.country) AS country FROM ${up} u
           JOIN (SELECT tenant, count(*) AS n FROM ${up} GROUP BY tenant) t USING (tenant) WHERE t.n > 0`;
    // Held: every asset keeps the e-mail in "token", and says so; tokenised: the first layer tokenises it.
    const first = shape === "held" ? { pii: ["token" as const] } : up === "people" ? { secrets: [key] } : {};
    assets.push(asset(`a${i}`, { deps: [up === "people" ? people : up], schema: Out, sql, ...first }));
  }
  return { assets, graph: defineGraph([people, ...assets]) };
}

const duck = await Duck.open({ threads: 1 });
try {
  for (const shape of ["tokenised", "held"] as const) {
    const { assets, graph } = build(shape);
    const t1 = performance.now();
    const flows = await piiFlows(graph, duck.connection);
    const check = performance.now() - t1;
    if (flows.problems.length > 0) throw new Error(`unexpected problems: ${flows.problems[0]!.message}`);
    // The statements the check traced: those reading personal data.
    const traced = assets.filter((a) => graph.inputs(a.key).some((e) => flows.holders.has(e.from)));
    const t0 = performance.now();
    for (const a of traced) {
      await duck.connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR)", [a.sql!]);
    }
    const parse = performance.now() - t0;
    console.log(
      `${shape}: pii check of ${n} SQL assets (${traced.length} traced) ${check.toFixed(0)} ms; DuckDB parsing those ${parse.toFixed(0)} ms; ratio ${(check / parse).toFixed(2)}`,
    );
  }
} finally {
  duck.close();
}
