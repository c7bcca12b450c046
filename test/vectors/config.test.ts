import { describe, expect, it } from "vitest";
import {
  DEFAULT_VECTORS,
  effectiveModel,
  modelTag,
  parseVectorsConfig,
  VectorsConfigError,
  vectorsConfigFromEnv,
} from "../../src/runtime/vectors/config.ts";
import { HashingEmbedder } from "../../src/runtime/vectors/hashing.ts";
import { createEmbedder, embedderOf } from "../../src/runtime/vectors/providers.ts";

describe("tributary-hashing-v1", () => {
  const e = new HashingEmbedder(8);

  it("gives these vectors, on every machine, for ever (a change is a new model name)", () => {
    const [a, b, empty, punctuation, unicode] = e.embedSync([
      "Customer in DE; spent 12.50",
      "customer in de; SPENT 12.50",
      "",
      "!!!",
      "Ünïcode Straße 3,5 ﬁne",
    ]);
    const v = (x: Float32Array | undefined) => Array.from(x!, (n) => Math.round(n * 1e6) / 1e6);
    expect(v(a)).toEqual([0, 0, 0.447214, 0.894427, 0, 0, 0, 0]);
    // Case and NFKC forms do not matter; a text without a token has the vector of the feature "".
    expect(v(b)).toEqual(v(a));
    expect(v(empty)).toEqual([0, 0, 0, 0, 0, -1, 0, 0]);
    expect(v(punctuation)).toEqual(v(empty));
    expect(v(unicode)).toEqual([0, -0.333333, 0, -0.666667, 0, -0.666667, 0, 0]);
  });

  it("is unit length, and near for texts sharing words, far for texts sharing none", async () => {
    const big = new HashingEmbedder(256);
    const [x, y, z] = await big.embed([
      "customer in DE; segment loyal; 3 orders",
      "customer in DE; segment loyal; 4 orders",
      "completely unrelated words here",
    ]);
    const dot = (p: Float32Array, q: Float32Array) => p.reduce((s, n, i) => s + n * q[i]!, 0);
    expect(dot(x!, x!)).toBeCloseTo(1, 6);
    expect(dot(x!, y!)).toBeGreaterThan(0.7);
    expect(Math.abs(dot(x!, z!))).toBeLessThan(0.3);
    expect(big.model).toEqual({ name: "tributary-hashing-v1", dimension: 256 });
    expect(big.semantic).toBe(false);
  });
});

describe("the vectors configuration", () => {
  it("defaults to the local embedder, and fills in what is left out", () => {
    expect(vectorsConfigFromEnv({})).toBe(DEFAULT_VECTORS);
    expect(
      vectorsConfigFromEnv({
        TRIBUTARY_VECTORS: JSON.stringify({
          provider: { kind: "bedrock", region: "eu-west-1" },
          models: { "text-embedding": "amazon.titan-embed-text-v2:0" },
          embedConcurrency: 2,
          index: { minRows: 1000 },
        }),
      }),
    ).toEqual({
      ...DEFAULT_VECTORS,
      provider: { kind: "bedrock", region: "eu-west-1" },
      models: { "text-embedding": "amazon.titan-embed-text-v2:0" },
      embedConcurrency: 2,
      index: { ...DEFAULT_VECTORS.index, minRows: 1000 },
    });
  });

  it.each([
    ["not json", "vectors: $TRIBUTARY_VECTORS is not JSON"],
    ["[]", "vectors: $TRIBUTARY_VECTORS: must be a JSON object, not []."],
    [
      '{"provider":{"kind":"openai"}}',
      'vectors: $TRIBUTARY_VECTORS: provider must be an object whose kind is one of local, bedrock, vertex, azure-openai, not {"kind":"openai"}.',
    ],
    [
      '{"provider":{"kind":"vertex"}}',
      'vectors: $TRIBUTARY_VECTORS: provider.location of provider "vertex" must be a non-empty string.',
    ],
    [
      '{"provider":{"kind":"bedrock","endpoint":"x"}}',
      'vectors: $TRIBUTARY_VECTORS: unknown setting "provider.endpoint" of provider "bedrock" (its settings: kind, region, concurrency).',
    ],
    [
      '{"embedConcurency":2}',
      'vectors: $TRIBUTARY_VECTORS: unknown setting "embedConcurency" (settings: provider, models, batchSize, embedConcurrency, writeConcurrency, writeBatchRows, index).',
    ],
    [
      '{"writeConcurrency":0}',
      "vectors: $TRIBUTARY_VECTORS: writeConcurrency must be a whole number of at least 1, not 0.",
    ],
    [
      '{"index":{"retrainShare":2}}',
      "vectors: $TRIBUTARY_VECTORS: index.retrainShare must be a number above 0 and at most 1, not 2.",
    ],
    [
      '{"models":{"a":3}}',
      "vectors: $TRIBUTARY_VECTORS: models must map declared model names to provider model names (strings).",
    ],
  ])("refuses %s, naming the setting", (text, message) => {
    const run = () => vectorsConfigFromEnv({ TRIBUTARY_VECTORS: text });
    expect(run).toThrow(VectorsConfigError);
    expect(run).toThrow(message);
  });

  it("maps a declared model to the model that embeds: the hashing stand-in locally, the provider's model in a stack", () => {
    const declared = { name: "text-embedding", dimension: 256 };
    expect(modelTag(effectiveModel(declared, DEFAULT_VECTORS))).toBe("local:tributary-hashing-v1/256");
    const azure = parseVectorsConfig(
      {
        provider: { kind: "azure-openai", endpoint: "https://acme.openai.azure.com" },
        models: { "text-embedding": "embeddings-3-small" },
      },
      "test",
    );
    expect(modelTag(effectiveModel(declared, azure))).toBe("azure-openai:embeddings-3-small/256");
    const vertex = parseVectorsConfig({ provider: { kind: "vertex", location: "europe-west4" } }, "test");
    expect(modelTag(effectiveModel(declared, vertex))).toBe("vertex:text-embedding/256");
  });

  it("makes the local embedder, and refuses a table's model of another provider than the configured one", async () => {
    const { embedder, model } = await createEmbedder({ name: "m", dimension: 16 }, DEFAULT_VECTORS, '"a"');
    expect([embedder.model, model]).toEqual([
      { name: "tributary-hashing-v1", dimension: 16 },
      { provider: "local", name: "tributary-hashing-v1", dimension: 16 },
    ]);
    await expect(
      embedderOf(
        { provider: "bedrock", name: "amazon.titan-embed-text-v2:0", dimension: 256 },
        DEFAULT_VECTORS,
        "search x",
      ),
    ).rejects.toThrow(
      'search x: the vectors were embedded by bedrock:amazon.titan-embed-text-v2:0/256, but the configured provider is "local" ($TRIBUTARY_VECTORS): use the configuration that materialised them.',
    );
  });
});
