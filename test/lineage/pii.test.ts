/**
 * Personal data following the column lineage: fields, not whole structs; tokenised values are tokens;
 * holders declare, and their personal data stays personal to their consumers; compute functions and
 * untraceable SQL that read personal data must declare. Exact problems, and the CLI's refusal.
 */
import { asset, defineGraph, dep, type GraphInput, secret, source, Type } from "tributary";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { columnSources } from "../../src/runtime/lineage/columns.ts";
import { checkPii, PiiError, piiFlows } from "../../src/runtime/lineage/pii.ts";
import { tributary } from "../cli/run.ts";

let duck: Duck;
beforeAll(async () => {
  duck = await Duck.open();
});
afterAll(() => duck.close());

const signups = source("signups", {
  schema: Type.Object({
    id: Type.String(),
    at: Type.String(),
    tenant: Type.String(),
    person: Type.Object({ email: Type.String(), name: Type.String(), country: Type.String() }),
    tags: Type.Array(Type.String()),
  }),
  eventId: "id",
  eventTime: "at",
  pii: ["person.email", "person.name"],
});
const key = secret("pii_token_key", { use: "tokenisation" });
const out = (...cols: string[]) => Type.Object(Object.fromEntries(cols.map((c) => [c, Type.String()])));
const sqlAsset = (name: string, sql: string, cols: string[], extra: object = {}) =>
  asset(name, { deps: [signups], schema: out(...cols), sql, ...extra });

async function problems(items: GraphInput): Promise<string[]> {
  return (await piiFlows(defineGraph(items), duck.connection)).problems.map((p) => p.message);
}

const leak = (a: string, column: string, origins: string) =>
  `asset "${a}" outputs column "${column}" computed from personal data (${origins}) without tokenising it: tokenise it with pii_token(tenant, value) (the asset needs a tokenisation secret in its secrets), drop it, or declare the asset pii: ["${column}"] if it must hold personal data.`;

describe("column sources in detail", () => {
  it("name the struct field read, however it is spelled, and mark what pii_token tokenised", async () => {
    const found = await columnSources(
      `WITH c AS (SELECT tenant, person FROM signups)
       SELECT pii_token(tenant, lower(person.email)) AS token,
              struct_extract(person, 'name') AS name,
              person['country'] AS country,
              c.person.email AS email,
              person AS whole
       FROM c`,
      [{ key: "signups", columns: ["id", "at", "tenant", "person", "tags"] }],
      duck.connection,
    );
    expect(found).toEqual({
      known: true,
      columns: [
        {
          column: "token",
          from: [
            { asset: "signups", column: "person", path: "email", tokenised: true },
            { asset: "signups", column: "tenant", tokenised: true },
          ],
        },
        { column: "name", from: [{ asset: "signups", column: "person", path: "name" }] },
        { column: "country", from: [{ asset: "signups", column: "person", path: "country" }] },
        { column: "email", from: [{ asset: "signups", column: "person", path: "email" }] },
        { column: "whole", from: [{ asset: "signups", column: "person" }] },
      ],
    });
  });
});

describe("personal data following the lineage", () => {
  it("the reference pipeline tokenises the e-mail, drops the name, and holds personal data nowhere else", async () => {
    const flows = await checkPii(graph, duck.connection);
    expect([...flows.holders].map(([k, v]) => [k, [...v]])).toEqual([
      [
        "customers_cdc",
        [
          ["before.email", ["customers_cdc.before.email"]],
          ["after.email", ["customers_cdc.after.email"]],
          ["before.name", ["customers_cdc.before.name"]],
          ["after.name", ["customers_cdc.after.name"]],
        ],
      ],
    ]);
  });

  it("finds each column that carries a personal field untokenised, through expressions, CTEs, * and whole structs", async () => {
    expect(
      await problems([
        signups,
        key,
        sqlAsset("lowered", "SELECT lower(person.email) AS email, person.country AS country FROM signups", [
          "email",
          "country",
        ]),
        sqlAsset(
          "through_cte",
          "WITH c AS (SELECT person FROM signups) SELECT c.person['name'] AS n, person.country AS k FROM c",
          ["n", "k"],
        ),
        sqlAsset("whole_struct", "SELECT person FROM signups", ["person"]),
        sqlAsset("star", "SELECT * EXCLUDE (tags) FROM signups", ["id", "at", "tenant", "person"]),
        sqlAsset(
          "half_tokenised",
          "SELECT pii_token(tenant, person.email) || person.name AS t FROM signups",
          ["t"],
          { secrets: [key] },
        ),
      ]),
    ).toEqual([
      // In the graph's order: topological, then by key.
      leak("half_tokenised", "t", "signups.person.name"),
      leak("lowered", "email", "signups.person.email"),
      leak("star", "person", "signups.person.email, signups.person.name"),
      leak("through_cte", "n", "signups.person.name"),
      leak("whole_struct", "person", "signups.person.email, signups.person.name"),
    ]);
  });

  it("accepts tokenised values, other fields of the struct, and declared holders, whose data is personal to their consumers", async () => {
    const tokens = sqlAsset(
      "tokens",
      "SELECT tenant, pii_token(tenant, lower(person.email)) AS token, person.country AS country FROM signups",
      ["tenant", "token", "country"],
      { secrets: [key] },
    );
    const crm = sqlAsset(
      "crm",
      "SELECT tenant, person.email AS email, person.country AS country FROM signups",
      ["tenant", "email", "country"],
      { pii: ["email"] },
    );
    const fromCrm = (name: string, sql: string, cols: string[]) =>
      asset(name, { deps: [crm], schema: out(...cols), sql });
    const items = [
      signups,
      key,
      tokens,
      crm,
      fromCrm("by_country", "SELECT country, count(*)::VARCHAR AS n FROM crm GROUP BY country", [
        "country",
        "n",
      ]),
      fromCrm("mailing", "SELECT upper(email) AS address FROM crm", ["address"]),
    ];
    expect(await problems(items)).toEqual([leak("mailing", "address", "signups.person.email")]);
    const flows = await piiFlows(defineGraph(items), duck.connection);
    expect(flows.holders.has("tokens")).toBe(false);
    expect([...flows.holders.get("crm")!]).toEqual([["email", ["signups.person.email"]]]);
  });

  it("a compute function reading personal data must declare; reading only other columns it need not", async () => {
    const opaque = asset("opaque", {
      deps: [signups],
      schema: out("n"),
      codeVersion: "1",
      compute: ({ signups: rows }) => rows.map((r) => ({ n: String(r.id) })),
    });
    const narrow = asset("narrow", {
      deps: [dep(signups, { columns: ["id", "tenant"] })],
      schema: out("n"),
      codeVersion: "1",
      compute: ({ signups: rows }) => rows.map((r) => ({ n: String(r.id) })),
    });
    const declared = asset("declared", {
      deps: [signups],
      schema: out("n", "m"),
      codeVersion: "1",
      pii: true,
      compute: ({ signups: rows }) => rows.map((r) => ({ n: r.person.email, m: r.id })),
    });
    const downstream = asset("downstream", {
      deps: [declared],
      schema: out("m"),
      sql: "SELECT m FROM declared",
    });
    expect(await problems([signups, opaque, narrow, declared, downstream])).toEqual([
      'asset "opaque" is a compute function that reads personal data (signups.person.email, signups.person.name), so what it outputs cannot be traced: declare it pii: true (or the columns that hold personal data), or read only columns without personal data (dep(upstream, { columns: [...] })).',
      leak("downstream", "m", "signups.person.email, signups.person.name"),
    ]);
  });

  it("SQL whose lineage cannot be traced, reading personal data, must declare", async () => {
    const untraced = sqlAsset("untraced", "SELECT COLUMNS('p.*') FROM signups", ["person"]);
    expect(await problems([signups, untraced])).toEqual([
      'asset "untraced" reads personal data (signups.person.email, signups.person.name) and its column lineage is not known (COLUMNS(...) with a pattern or lambda is not understood), so any column may carry it: make the SQL traceable, or declare the asset pii: true if it holds personal data.',
    ]);
    await expect(checkPii(defineGraph([signups, untraced]), duck.connection)).rejects.toBeInstanceOf(
      PiiError,
    );
  });

  it("tributary validate refuses a graph that leaks, naming the asset, the column and the field; exit 1, one message", async () => {
    expect(await tributary(["validate", "--graph", "test/fixtures/graphs/pii-leak.ts"])).toEqual({
      code: 1,
      stdout: "",
      stderr: `tributary: graph: 1 personal-data error:\n  - ${leak("leads", "email", "signups.person.email")}\n`,
    });
  }, 60_000);
});
