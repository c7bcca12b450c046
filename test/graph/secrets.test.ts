import {
  asset,
  DeclarationError,
  defineGraph,
  type GraphError,
  type GraphInput,
  GraphValidationError,
  InvalidKeyError,
  secret,
  source,
  Type,
} from "tributary";
import { describe, expect, it } from "vitest";

const Row = Type.Object({ id: Type.String(), at: Type.String(), email: Type.String() });
const events = source("events", { schema: Row, eventId: "id", eventTime: "at", pii: ["email"] });
const tokenKey = secret("pii_token_key", { use: "tokenisation", description: "tokens of e-mails" });
const apiToken = secret("api_token", { description: "the provider's API token" });

function problems(items: GraphInput): [string, string][] {
  try {
    defineGraph(items);
  } catch (e) {
    expect(e).toBeInstanceOf(GraphValidationError);
    return (e as GraphValidationError).errors.map((x: GraphError) => [x.name, x.message]);
  }
  return [];
}

describe("secrets in the graph", () => {
  it("declares a secret by name, with its use; names follow the key rules", () => {
    expect(tokenKey).toEqual({
      kind: "secret",
      name: "pii_token_key",
      use: "tokenisation",
      description: "tokens of e-mails",
    });
    expect(secret("plain")).toEqual({ kind: "secret", name: "plain", use: "value" });
    expect(Object.isFrozen(tokenKey)).toBe(true);
    expect(() => secret("PII-Key")).toThrow(InvalidKeyError);
    expect(() => secret("k", { use: "encryption" as never })).toThrow(
      new DeclarationError('secret "k": use must be "tokenisation" or "value", not "encryption".', []),
    );
  });

  it("an asset or source lists what it needs, as objects or names; the graph knows every secret and its users", () => {
    const tokens = asset("tokens", {
      deps: [events],
      schema: Type.Object({ t: Type.String() }),
      sql: "SELECT pii_token(id, email) AS t FROM events",
      secrets: [tokenKey, "api_token"],
    });
    expect(tokens.secrets).toEqual(["pii_token_key", "api_token"]);
    expect(tokens.tags).toEqual([]);
    const ingest = source("calls", {
      schema: Row,
      eventId: "id",
      eventTime: "at",
      secrets: [apiToken],
    });
    const graph = defineGraph([events, ingest, tokens]);
    expect(graph.secrets()).toEqual([apiToken, tokenKey]);
    expect(graph.secretsOf("tokens")).toEqual([tokenKey, apiToken]);
    expect(graph.tokenSecret("tokens")).toBe(tokenKey);
    expect(graph.tokenSecret("calls")).toBeUndefined();
    expect(graph.usersOf("api_token")).toEqual(["calls", "tokens"]);
    expect(graph.get("events").secrets).toBeUndefined();
    // A secret named only by name is declared by listing it to defineGraph.
    const named = asset("named", {
      deps: [events],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT id FROM events",
      secrets: ["api_token"],
    });
    expect(defineGraph([events, named, apiToken]).secretsOf("named")).toEqual([apiToken]);
    // A copy of a spec keeps the names; the kit's one declaration of each is found.
    expect(
      defineGraph([events, Object.freeze({ ...tokens, disposable: true as const })]).secretsOf("tokens"),
    ).toEqual([tokenKey, apiToken]);
  });

  it("reports unknown names with suggestions, conflicting declarations, and tokenisation where it cannot work", () => {
    const typo = asset("typo", {
      deps: [events],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT id FROM events",
      secrets: ["api_tokn", "nothing_like_it"],
    });
    const other = secret("api_token", { use: "tokenisation" });
    const conflicting = asset("conflicting", {
      deps: [events],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT id FROM events",
      secrets: [other],
    });
    const both = asset("both", {
      deps: [events],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT id FROM events",
      secrets: [tokenKey, secret("second_key", { use: "tokenisation" })],
    });
    const untokened = asset("untokened", {
      deps: [events],
      schema: Type.Object({ t: Type.String() }),
      sql: "SELECT pii_token(id, email) AS t FROM events",
    });
    const tokeningSource = source("raw_calls", {
      schema: Row,
      eventId: "id",
      eventTime: "at",
      secrets: [tokenKey],
    });
    expect(problems([events, apiToken, typo, conflicting, both, untokened, tokeningSource])).toEqual([
      [
        "SecretError",
        'graph: secret "api_token" is declared twice, differently (use "value", "the provider\'s API token"; use "tokenisation"). Declare it once and share the declaration.',
      ],
      [
        "SecretError",
        'graph: asset "typo" needs secret "api_tokn", which the graph does not declare. Did you mean "api_token"?',
      ],
      [
        "SecretError",
        'graph: asset "typo" needs secret "nothing_like_it", which the graph does not declare. Declare it with secret("nothing_like_it", { ... }) and list it in secrets or in defineGraph.',
      ],
      [
        "SecretError",
        'graph: asset "both" needs 2 tokenisation secrets ("pii_token_key", "second_key"); pii_token would not know which to use: keep one.',
      ],
      [
        "SecretError",
        'graph: asset "untokened" calls pii_token but needs no tokenisation secret: declare one (secret("pii_token_key", { use: "tokenisation" })) and list it in its secrets.',
      ],
      [
        "SecretError",
        'graph: source "raw_calls" needs the tokenisation secret "pii_token_key", but sources do not tokenise: tokenise in the asset that reads it, with pii_token(tenant, value).',
      ],
    ]);
  });

  it("refuses a secret listed twice or a value that is no secret, where it is declared", () => {
    expect(() =>
      asset("twice", {
        schema: Type.Object({ id: Type.String() }),
        sql: "SELECT 1 AS id",
        secrets: [tokenKey, "pii_token_key"],
      }),
    ).toThrow(
      new DeclarationError('asset "twice": secret "pii_token_key" is listed twice in secrets.', ["twice"]),
    );
    expect(() =>
      asset("odd", {
        schema: Type.Object({ id: Type.String() }),
        sql: "SELECT 1 AS id",
        secrets: [42 as never],
      }),
    ).toThrow(
      new DeclarationError(
        'asset "odd": secrets must be declared secrets (secret("name", {...})) or their names; got 42.',
        ["odd"],
      ),
    );
  });

  it("pii on an asset: true or its columns, tagged pii; a column it does not have is an error", () => {
    const holder = asset("holder", {
      deps: [events],
      schema: Type.Object({ id: Type.String(), email: Type.String() }),
      sql: "SELECT id, email FROM events",
      pii: ["email"],
      tags: ["crm"],
    });
    expect([holder.pii, holder.tags]).toEqual([["email"], ["crm", "pii"]]);
    expect(
      asset("all", { schema: Type.Object({ id: Type.String() }), sql: "SELECT 1 AS id", pii: true }).pii,
    ).toBe(true);
    expect(
      asset("none", { schema: Type.Object({ id: Type.String() }), sql: "SELECT 1 AS id", pii: false }).pii,
    ).toBeUndefined();
    expect(() =>
      asset("bad", { schema: Type.Object({ id: Type.String() }), sql: "SELECT 1 AS id", pii: [] as never }),
    ).toThrow(
      'asset "bad": pii must be true (the asset may hold personal data in any column) or a non-empty list of its columns that do, not [].',
    );
    const wrong = asset("wrong", {
      deps: [events],
      schema: Type.Object({ id: Type.String() }),
      sql: "SELECT id FROM events",
      pii: ["mail" as never],
    });
    expect(problems([events, wrong])).toEqual([
      ["ColumnError", 'graph: asset "wrong": pii column "mail" is not a column of its schema.'],
    ]);
  });
});
