import {
  asset,
  DeclarationError,
  daily,
  defineGraph,
  dep,
  embedding,
  multiPartitions,
  staticPartitions,
  Type,
} from "tributary";
import { describe, expect, it } from "vitest";

const tenants = staticPartitions("tenant", ["acme", "globex"]);
const Features = Type.Object({
  customer_id: Type.String(),
  shop_id: Type.Integer(),
  tenant_id: Type.String(),
  text: Type.Union([Type.String(), Type.Null()]),
  score: Type.Number(),
  maybe_key: Type.Union([Type.String(), Type.Null()]),
});
const features = asset("features", {
  schema: Features,
  partitions: tenants,
  sql: "SELECT 'a' AS customer_id, 1 AS shop_id, 'acme' AS tenant_id, 'x' AS text, 0.5 AS score, NULL AS maybe_key",
});
const base = {
  from: features,
  text: "text",
  key: ["customer_id"],
  tenant: "tenant_id",
  model: { name: "text-embedding", dimension: 256 },
} as const;

describe("embedding()", () => {
  it("declares an asset: its ledger schema, its SQL, its upstream's partitions, what it embeds", () => {
    const v = embedding("feature_vectors", { ...base, key: ["shop_id", "customer_id"], owners: ["team:ml"] });
    expect(v.kind).toBe("asset");
    expect(Object.keys(v.schema.properties)).toEqual(["shop_id", "customer_id", "tenant_id", "content_hash"]);
    expect(v.sql).toBe(
      'SELECT "shop_id", "customer_id", "tenant_id", sha256("text") AS content_hash FROM "features" WHERE "text" IS NOT NULL',
    );
    expect(v.partitions).toBe(tenants);
    expect(v.deps).toEqual([{ key: "features", columns: ["shop_id", "customer_id", "tenant_id", "text"] }]);
    expect(v.embedding).toEqual({
      from: "features",
      text: "text",
      key: ["shop_id", "customer_id"],
      tenant: "tenant_id",
      model: { name: "text-embedding", dimension: 256 },
    });
    expect(v.owners).toEqual(["team:ml"]);
    expect(
      defineGraph([features, v])
        .inputs("feature_vectors")
        .map((e) => e.from),
    ).toEqual(["features"]);
  });

  it("puts the model's name and dimension in its code version", () => {
    const versions = [
      embedding("v", base).codeVersion,
      embedding("v", { ...base, model: { name: "text-embedding", dimension: 512 } }).codeVersion,
      embedding("v", { ...base, model: { name: "other", dimension: 256 } }).codeVersion,
      embedding("v", { ...base, codeVersion: "2" }).codeVersion,
    ];
    expect(new Set(versions).size).toBe(4);
    expect(embedding("v", base).codeVersion).toBe(versions[0]);
  });

  it("accepts dep(upstream, {...}) and an explicit tenant partitioning", () => {
    const v = embedding("v", {
      ...base,
      from: dep(features, { columns: ["customer_id", "tenant_id", "text"] }),
      partitions: tenants,
    });
    expect(v.deps).toEqual([{ key: "features", columns: ["customer_id", "tenant_id", "text"] }]);
  });

  it.each([
    [
      { text: "nope" },
      'embedding asset "v": text "nope" is not a column of "features" (its columns: customer_id, shop_id, tenant_id, text, score, maybe_key).',
    ],
    [{ text: "score" }, 'embedding asset "v": text column "score" of "features" must be a string.'],
    [
      { key: ["maybe_key"] },
      'embedding asset "v": key column "maybe_key" of "features" must be a string or an integer that is never null.',
    ],
    [
      { key: [] },
      'embedding asset "v": key must list the upstream\'s columns that identify a row, e.g. key: ["customer_id"].',
    ],
    [{ key: ["customer_id", "customer_id"] }, 'embedding asset "v": key lists a column twice.'],
    [
      { tenant: "shop_id" },
      'embedding asset "v": tenant column "shop_id" of "features" must be a string that is never null.',
    ],
    [
      { model: { name: "", dimension: 256 } },
      'embedding asset "v": model.name must name the embedding model, e.g. { name: "text-embedding", dimension: 256 }.',
    ],
    [
      { model: { name: "m", dimension: 1.5 } },
      'embedding asset "v": model.dimension must be a whole number from 2 to 8192, not 1.5.',
    ],
    [
      { partitions: daily({ start: "2026-11-01" }) },
      'embedding asset "v": an embedding asset is unpartitioned or partitioned by its tenants (staticPartitions), not by time: a key\'s vector is that of its latest text.',
    ],
    [
      { partitions: multiPartitions(daily({ start: "2026-11-01" }), tenants) },
      'embedding asset "v": an embedding asset is unpartitioned or partitioned by its tenants (staticPartitions), not by time × static keys: a key\'s vector is that of its latest text.',
    ],
    [
      { from: undefined },
      'embedding asset "v": from must be the upstream asset (or dep(upstream, {...})), not undefined. If it is declared in another module, look for a circular import.',
    ],
  ])("refuses %j, saying why", (change, message) => {
    const declare = () => embedding("v", { ...base, ...(change as object) } as never);
    expect(declare).toThrow(DeclarationError);
    expect(declare).toThrow(message);
  });

  it("refuses a key column a vector table keeps for itself", () => {
    const reserved = asset("reserved", {
      schema: Type.Object({ vector: Type.String(), tenant_id: Type.String(), text: Type.String() }),
      sql: "SELECT 'a' AS vector, 'acme' AS tenant_id, 'x' AS text",
    });
    expect(() => embedding("v", { ...base, from: reserved, key: ["vector"] } as never)).toThrow(
      'embedding asset "v": the column name "vector" is reserved by the vector table.',
    );
  });
});
