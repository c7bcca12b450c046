/**
 * The cloud providers in the engine's provider table: a deployed function's TRIBUTARY_VECTORS (as the
 * plan writes it) gives the engine the embedder of the stack's model, with the declared dimension, the
 * provider's defaults filled in from the function's environment.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseVectorsConfig } from "../../src/runtime/vectors/config.ts";
import { cloudEmbeddingConfig } from "../../src/runtime/vectors/providers/index.ts";
import { createEmbedder } from "../../src/runtime/vectors/providers.ts";
import { fakeProvider, type Seen, vector } from "./fake-provider.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

const declared = { name: "text-embedding", dimension: 256 };

describe("createEmbedder with a cloud provider", () => {
  it("bedrock: the mapped model at the declared dimension, the region from the configuration", async () => {
    const server = await fakeProvider(
      (req: Seen, n) => ({
        body: {
          embedding: vector(n, (req.body as { dimensions: number }).dimensions),
          inputTextTokenCount: 3,
        },
      }),
      { http2: true },
    );
    try {
      process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = server.url;
      process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
      process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
      delete process.env.AWS_PROFILE;
      const config = parseVectorsConfig(
        {
          provider: { kind: "bedrock", region: "eu-west-1", concurrency: 2 },
          models: { "text-embedding": "amazon.titan-embed-text-v2:0" },
        },
        "TRIBUTARY_VECTORS",
      );
      const { embedder, model } = await createEmbedder(declared, config, "recommendation_vectors");
      expect(model).toEqual({ provider: "bedrock", name: "amazon.titan-embed-text-v2:0", dimension: 256 });
      expect(embedder.model).toEqual({ name: "amazon.titan-embed-text-v2:0", dimension: 256 });
      expect(embedder.semantic).toBe(true);
      const [v] = await embedder.embed(["acme customer 1"]);
      expect(v).toHaveLength(256);
      expect(server.seen.map((r) => [r.url, r.body])).toEqual([
        [
          "/model/amazon.titan-embed-text-v2%3A0/invoke",
          { inputText: "acme customer 1", dimensions: 256, normalize: true },
        ],
      ]);
    } finally {
      await server.close();
    }
  });

  it("refuses a concurrency that is no whole number", () => {
    expect(() =>
      parseVectorsConfig({ provider: { kind: "vertex", location: "europe-west1", concurrency: 0 } }, "X"),
    ).toThrow("vectors: X: provider.concurrency must be a whole number of at least 1, not 0.");
  });
});

describe("the function's defaults", () => {
  it("bedrock's region from AWS_REGION, and a clear error without one", () => {
    const model = { name: "cohere.embed-english-v3", dimension: 1024 };
    expect(cloudEmbeddingConfig({ kind: "bedrock" }, model, { AWS_REGION: "us-east-1" })).toEqual({
      provider: "bedrock",
      model: "cohere.embed-english-v3",
      dimension: 1024,
      region: "us-east-1",
      concurrency: 4,
    });
    expect(() => cloudEmbeddingConfig({ kind: "bedrock" }, model, {})).toThrow(
      "embedding: bedrock needs a region: set provider.region in $TRIBUTARY_VECTORS or AWS_REGION.",
    );
  });

  it("vertex: the project left to the function's credentials; azure-openai: the deployment named after the model", () => {
    expect(
      cloudEmbeddingConfig(
        { kind: "vertex", location: "europe-west1" },
        { name: "text-embedding-005", dimension: 256 },
        {},
      ),
    ).toEqual({
      provider: "vertex",
      model: "text-embedding-005",
      dimension: 256,
      location: "europe-west1",
      concurrency: 4,
    });
    expect(
      cloudEmbeddingConfig(
        {
          kind: "azure-openai",
          endpoint: "https://trib-prod-openai-1127c7.openai.azure.com/",
          concurrency: 8,
        },
        { name: "text-embedding-3-small", dimension: 256 },
        {},
      ),
    ).toEqual({
      provider: "azure-openai",
      model: "text-embedding-3-small",
      dimension: 256,
      endpoint: "https://trib-prod-openai-1127c7.openai.azure.com/",
      deployment: "text-embedding-3-small",
      apiVersion: "2024-10-21",
      concurrency: 8,
    });
  });
});
