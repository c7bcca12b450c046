/**
 * Vertex AI's text embeddings `predict` through google-auth-library's authorised client (an OAuth2Client
 * holding a fake access token: no token endpoint is called) against a loopback server answering with
 * the documented body (`predictions[].embeddings { statistics, values }`) and Google's JSON errors.
 */
import { OAuth2Client } from "google-auth-library";
import { describe, expect, it } from "vitest";
import type { AuthorisedRequester } from "../../src/runtime/vectors/providers/vertex.ts";
import { vertexEmbedder, vertexPredictUrl } from "../../src/runtime/vectors/providers/vertex.ts";
import { fakeProvider, type Reply, recordedSleep, type Seen, vector } from "./fake-provider.ts";

const CONFIG = {
  provider: "vertex",
  model: "text-embedding-005",
  dimension: 256,
  project: "tributary-staging",
  location: "europe-west4",
  concurrency: 2,
} as const;
const PATH =
  "/v1/projects/tributary-staging/locations/europe-west4/publishers/google/models/text-embedding-005:predict";

function auth(): AuthorisedRequester {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: "ya29.fake-token", expiry_date: Date.now() + 3_600_000 });
  return client as unknown as AuthorisedRequester;
}

/** The documented predict response for the request's instances. */
function predictReply(req: Seen, n: number): Reply {
  const body = req.body as { instances: { content: string }[]; parameters: { outputDimensionality: number } };
  return {
    body: {
      predictions: body.instances.map((inst, i) => ({
        embeddings: {
          statistics: { truncated: false, token_count: inst.content.split(" ").length },
          values: vector(n * 1000 + i, body.parameters.outputDimensionality),
        },
      })),
      metadata: { billableCharacterCount: body.instances.reduce((s, x) => s + x.content.length, 0) },
    },
  };
}

const googleError = (code: number, status: string, message: string, headers?: Record<string, string>) => ({
  status: code,
  ...(headers ? { headers } : {}),
  body: { error: { code, message, status } },
});

it("names the regional endpoint, and the global one", () => {
  expect(vertexPredictUrl(CONFIG)).toBe(`https://europe-west4-aiplatform.googleapis.com${PATH}`);
  expect(vertexPredictUrl({ ...CONFIG, location: "global" })).toBe(
    "https://aiplatform.googleapis.com/v1/projects/tributary-staging/locations/global/publishers/google/models/text-embedding-005:predict",
  );
});

describe("text-embedding-005", () => {
  it("sends up to 250 instances a request within 20,000 estimated tokens, with the bearer token", async () => {
    const server = await fakeProvider(predictReply);
    try {
      const embedder = vertexEmbedder(CONFIG, { auth: auth(), apiEndpoint: server.url });
      const texts = Array.from({ length: 300 }, (_, i) => `customer ${i} of acme bought shoes`);
      const vectors = await embedder.embed(texts);
      const sizes = server.seen.map((r) => (r.body as { instances: unknown[] }).instances.length).sort();
      expect(sizes).toEqual([250, 50].sort());
      const first = server.seen.find((r) => (r.body as { instances: unknown[] }).instances.length === 250)!;
      expect([first.method, first.url, first.headers.authorization]).toEqual([
        "POST",
        PATH,
        "Bearer ya29.fake-token",
      ]);
      expect(first.body).toEqual({
        instances: texts.slice(0, 250).map((content) => ({ content, task_type: "RETRIEVAL_DOCUMENT" })),
        parameters: { autoTruncate: false, outputDimensionality: 256 },
      });
      const n = server.seen.indexOf(first);
      expect(Array.from(vectors[3]!)).toEqual(Array.from(Float32Array.from(vector(n * 1000 + 3, 256))));
      expect(vectors).toHaveLength(300);

      // Long texts: the token budget, not the count, cuts the requests (2,400 bytes is about 600 tokens).
      server.seen.length = 0;
      await embedder.embed(Array.from({ length: 40 }, (_, i) => `${i} `.padEnd(2400, "x")));
      expect(server.seen.map((r) => (r.body as { instances: unknown[] }).instances.length).sort()).toEqual([
        33, 7,
      ]);
    } finally {
      await server.close();
    }
  });

  it("asks for query embeddings for a search", async () => {
    const server = await fakeProvider(predictReply);
    try {
      await vertexEmbedder(CONFIG, { auth: auth(), apiEndpoint: server.url, purpose: "query" }).embed([
        "shoes",
      ]);
      expect(server.seen[0]!.body).toEqual({
        instances: [{ content: "shoes", task_type: "RETRIEVAL_QUERY" }],
        parameters: { autoTruncate: false, outputDimensionality: 256 },
      });
    } finally {
      await server.close();
    }
  });

  it("waits as long as RESOURCE_EXHAUSTED's Retry-After says, then succeeds", async () => {
    const server = await fakeProvider((req, n) =>
      n === 0
        ? googleError(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: text-embedding-005.",
            { "retry-after": "7" },
          )
        : predictReply(req, n),
    );
    try {
      const { delays, sleep } = recordedSleep();
      const embedder = vertexEmbedder(CONFIG, { auth: auth(), apiEndpoint: server.url, hooks: { sleep } });
      expect(await embedder.embed(["a", "b"])).toHaveLength(2);
      expect(delays).toEqual([7000]);
      expect(server.seen).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it("splits a request the model finds too long, and names a single text it refuses", async () => {
    const server = await fakeProvider((req, n) => {
      const instances = (req.body as { instances: { content: string }[] }).instances;
      if (instances.length > 1 || instances[0]!.content.startsWith("huge")) {
        return googleError(
          400,
          "INVALID_ARGUMENT",
          "Unable to submit request because the input token count is 24000 but the model supports up to 20000.",
        );
      }
      return predictReply(req, n);
    });
    try {
      const embedder = vertexEmbedder(
        { ...CONFIG, concurrency: 1 },
        { auth: auth(), apiEndpoint: server.url },
      );
      const vectors = await embedder.embed(["a", "b", "c"]);
      expect(vectors).toHaveLength(3);
      // [a b c] → [a b] → [a], [b]; then [c].
      expect(
        server.seen.map((r) =>
          (r.body as { instances: { content: string }[] }).instances.map((i) => i.content),
        ),
      ).toEqual([["a", "b", "c"], ["a", "b"], ["a"], ["b"], ["c"]]);
      await expect(embedder.embed(["fine", "huge text"])).rejects.toThrow(
        "embedding: vertex text-embedding-005 in tributary-staging/europe-west4 refused text 1: Unable to submit request because the input token count is 24000 but the model supports up to 20000.",
      );
    } finally {
      await server.close();
    }
  });

  it("says so when the publisher model is not there", async () => {
    const server = await fakeProvider(() =>
      googleError(
        404,
        "NOT_FOUND",
        "Publisher Model `projects/tributary-staging/locations/europe-west4/publishers/google/models/text-embedding-005` was not found or your project does not have access to it.",
      ),
    );
    try {
      const embedder = vertexEmbedder(CONFIG, { auth: auth(), apiEndpoint: server.url });
      await expect(embedder.embed(["x"])).rejects.toThrow(
        "embedding: vertex text-embedding-005 in tributary-staging/europe-west4 does not exist or is not enabled (Publisher Model `projects/tributary-staging/locations/europe-west4/publishers/google/models/text-embedding-005` was not found or your project does not have access to it). Enable the Vertex AI API (aiplatform.googleapis.com) in tributary-staging, and choose a model served in europe-west4 in tributary:embedding.models.",
      );
      expect(server.seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

it("gemini-embedding-001 takes one text a request", async () => {
  const server = await fakeProvider(predictReply);
  try {
    const embedder = vertexEmbedder(
      { ...CONFIG, model: "gemini-embedding-001", dimension: 3072 },
      { auth: auth(), apiEndpoint: server.url },
    );
    expect(await embedder.embed(["a", "b", "c"])).toHaveLength(3);
    expect(server.seen.map((r) => (r.body as { instances: unknown[] }).instances.length)).toEqual([1, 1, 1]);
  } finally {
    await server.close();
  }
});
