/**
 * Azure OpenAI through the `openai` package's AzureOpenAI client with a Microsoft Entra token from a
 * TokenCredential (getBearerTokenProvider, scope cognitiveservices), against a loopback server answering
 * with the documented embeddings body (`{ object: "list", data: [{ object, embedding, index }], model,
 * usage }`) and the service's 429 with `retry-after-ms` / `retry-after`.
 */
import { describe, expect, it } from "vitest";
import { azureOpenAIEmbedder } from "../../src/runtime/vectors/providers/azure-openai.ts";
import { fakeProvider, type Reply, recordedSleep, type Seen, vector } from "./fake-provider.ts";

function credential() {
  const scopes: string[][] = [];
  return {
    scopes,
    getToken: async (scope: string | string[]) => {
      scopes.push([scope].flat());
      return { token: "entra-token-of-the-managed-identity", expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

const config = (endpoint: string) =>
  ({
    provider: "azure-openai",
    model: "text-embedding-3-small",
    dimension: 512,
    endpoint,
    deployment: "text-embedding-3-small",
    apiVersion: "2024-10-21",
    concurrency: 2,
  }) as const;

/** The documented response for the request's inputs (in reverse order: the client sorts by index). */
function embeddingsReply(req: Seen, n: number): Reply {
  const body = req.body as { input: string[]; dimensions?: number };
  const data = body.input.map((_, index) => ({
    object: "embedding",
    index,
    embedding: vector(n * 10_000 + index, body.dimensions ?? 1536),
  }));
  return {
    body: {
      object: "list",
      data: data.reverse(),
      model: "text-embedding-3-small",
      usage: { prompt_tokens: body.input.length * 4, total_tokens: body.input.length * 4 },
    },
  };
}

const rateLimited = (headers: Record<string, string>): Reply => ({
  status: 429,
  headers,
  body: {
    error: {
      code: "429",
      message:
        "Requests to the Embeddings_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 2 seconds.",
    },
  },
});

describe("text-embedding-3-small", () => {
  it("posts to the deployment with an Entra token, 2,048 inputs at most, within 8,192 estimated tokens", async () => {
    const server = await fakeProvider(embeddingsReply);
    try {
      const cred = credential();
      const embedder = azureOpenAIEmbedder(config(server.url), { credential: cred });
      const texts = Array.from({ length: 2100 }, (_, i) => `c${i}`);
      const vectors = await embedder.embed(texts);
      expect(vectors).toHaveLength(2100);
      expect(server.seen.map((r) => (r.body as { input: string[] }).input.length).sort()).toEqual(
        [2048, 52].sort(),
      );
      const first = server.seen.find((r) => (r.body as { input: string[] }).input.length === 2048)!;
      expect([first.method, first.url, first.headers.authorization, first.headers["api-key"]]).toEqual([
        "POST",
        "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21",
        "Bearer entra-token-of-the-managed-identity",
        undefined,
      ]);
      expect(first.body).toEqual({
        model: "text-embedding-3-small",
        input: texts.slice(0, 2048),
        encoding_format: "float",
        dimensions: 512,
      });
      expect(cred.scopes[0]).toEqual(["https://cognitiveservices.azure.com/.default"]);
      // The answer's data come in any order; each vector goes to the input of its index.
      const n = server.seen.indexOf(first);
      expect(Array.from(vectors[5]!)).toEqual(Array.from(Float32Array.from(vector(n * 10_000 + 5, 512))));

      // Longer inputs: the 8,192-token budget cuts the requests (400 bytes is about 100 tokens).
      server.seen.length = 0;
      await embedder.embed(Array.from({ length: 100 }, (_, i) => `${i} `.padEnd(400, "y")));
      expect(server.seen.map((r) => (r.body as { input: string[] }).input.length).sort()).toEqual(
        [81, 19].sort(),
      );
    } finally {
      await server.close();
    }
  });

  it("honours retry-after-ms, then retry-after in seconds", async () => {
    const server = await fakeProvider((req, n) =>
      n === 0
        ? rateLimited({ "retry-after-ms": "1500", "retry-after": "2" })
        : n === 1
          ? rateLimited({ "retry-after": "2" })
          : embeddingsReply(req, n),
    );
    try {
      const { delays, sleep } = recordedSleep();
      const embedder = azureOpenAIEmbedder(config(server.url), {
        credential: credential(),
        hooks: { sleep },
      });
      expect(await embedder.embed(["a"])).toHaveLength(1);
      expect(delays).toEqual([1500, 2000]);
      expect(server.seen).toHaveLength(3);
    } finally {
      await server.close();
    }
  });

  it("fails at once when the service asks to wait longer than a minute", async () => {
    const server = await fakeProvider(() => rateLimited({ "retry-after": "86400" }));
    try {
      const embedder = azureOpenAIEmbedder(config(server.url), { credential: credential() });
      await expect(embedder.embed(["a"])).rejects.toThrow(
        `embedding: azure-openai deployment text-embedding-3-small (text-embedding-3-small) at ${server.url} is throttled and asks to wait 86400 s, longer than 60 s: raise the model's quota or lower tributary:embedding.concurrency.`,
      );
      expect(server.seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("says so when the deployment is missing", async () => {
    const server = await fakeProvider(() => ({
      status: 404,
      body: {
        error: {
          code: "DeploymentNotFound",
          message:
            "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.",
        },
      },
    }));
    try {
      const embedder = azureOpenAIEmbedder(config(server.url), { credential: credential() });
      await expect(embedder.embed(["a"])).rejects.toThrow(
        `embedding: azure-openai deployment text-embedding-3-small (text-embedding-3-small) at ${server.url} does not exist or is not enabled (404 The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again). Deploy the stack again (pulumi up): it creates the deployment the function calls.`,
      );
    } finally {
      await server.close();
    }
  });
});

it("text-embedding-ada-002 returns its one size and is not asked for dimensions", async () => {
  const server = await fakeProvider(embeddingsReply);
  try {
    const embedder = azureOpenAIEmbedder(
      {
        ...config(server.url),
        model: "text-embedding-ada-002",
        deployment: "text-embedding-ada-002",
        dimension: 1536,
      },
      { credential: credential() },
    );
    expect(await embedder.embed(["a"])).toHaveLength(1);
    expect(server.seen[0]!.body).toEqual({
      model: "text-embedding-ada-002",
      input: ["a"],
      encoding_format: "float",
    });
  } finally {
    await server.close();
  }
});
