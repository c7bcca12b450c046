/**
 * Amazon Bedrock through the real BedrockRuntimeClient (its endpoint from the standard environment, as in
 * a Lambda), against a loopback server answering with the bodies the Bedrock user guide documents:
 * Titan Text Embeddings V2 (`{ embedding, inputTextTokenCount, embeddingsByType }`, one text a call) and
 * Cohere Embed v3 (`{ embeddings, id, response_type, texts }`, up to 96 texts a call). Fake credentials;
 * no network.
 */
import { afterEach, describe, expect, it } from "vitest";
import { bedrockEmbedder } from "../../src/runtime/vectors/providers/bedrock.ts";
import { fakeProvider, type Reply, recordedSleep, type Seen, vector } from "./fake-provider.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

function awsEnvironment(url: string): void {
  process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = url;
  process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
  process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
}

const TITAN = "amazon.titan-embed-text-v2:0";
const COHERE = "cohere.embed-english-v3";

/** Titan V2's documented response for the request's text. */
function titanReply(req: Seen, n: number): Reply {
  const body = req.body as { inputText: string; dimensions: number };
  const embedding = vector(n, body.dimensions);
  return {
    body: {
      embedding,
      inputTextTokenCount: body.inputText.split(" ").length,
      embeddingsByType: { float: embedding },
    },
  };
}

/** Cohere Embed v3's documented response (floats) for the request's texts. */
function cohereReply(req: Seen, n: number): Reply {
  const body = req.body as { texts: string[] };
  return {
    body: {
      embeddings: body.texts.map((_, i) => vector(n * 1000 + i, 1024)),
      id: `5a9c1e1c-0c1d-4f6b-9e2a-${String(n).padStart(12, "0")}`,
      response_type: "embeddings_floats",
      texts: body.texts.map((t) => t.toLowerCase()),
    },
  };
}

const throttled: Reply = {
  status: 429,
  headers: { "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
  body: { message: "Too many requests, please wait before trying again." },
};

describe("Titan Text Embeddings V2", () => {
  it("sends one documented request per text, signed, and returns the vectors in order", async () => {
    const server = await fakeProvider(titanReply, { http2: true });
    try {
      awsEnvironment(server.url);
      const embedder = bedrockEmbedder({
        provider: "bedrock",
        model: TITAN,
        dimension: 256,
        region: "eu-west-1",
        concurrency: 2,
      });
      expect(embedder.model).toEqual({ name: TITAN, dimension: 256 });
      expect(embedder.semantic).toBe(true);
      const texts = ["acme customer 1 orders 3", "acme customer 2 orders 5", "globex customer 9"];
      const vectors = await embedder.embed(texts);
      expect(server.seen.map((r) => [r.method, r.url, r.body])).toEqual(
        expect.arrayContaining(
          texts.map((t) => [
            "POST",
            "/model/amazon.titan-embed-text-v2%3A0/invoke",
            { inputText: t, dimensions: 256, normalize: true },
          ]),
        ),
      );
      expect(server.seen).toHaveLength(3);
      for (const r of server.seen) {
        expect(r.headers["content-type"]).toBe("application/json");
        expect(r.headers.accept).toBe("application/json");
        expect(String(r.headers.authorization)).toMatch(
          /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/bedrock\/aws4_request/,
        );
      }
      // Each text's vector is the one its own request was answered with.
      const byText = new Map(server.seen.map((r, n) => [(r.body as { inputText: string }).inputText, n]));
      expect(vectors.map((v) => Array.from(v))).toEqual(
        texts.map((t) => Array.from(Float32Array.from(vector(byText.get(t)!, 256)))),
      );
    } finally {
      await server.close();
    }
  });

  it("keeps at most `concurrency` requests in flight", async () => {
    let inFlight = 0;
    let most = 0;
    let held: (() => void)[] = [];
    const total = 10;
    const server = await fakeProvider(
      async (req, n) => {
        inFlight++;
        most = Math.max(most, inFlight);
        // Answer once three are waiting (or the last ones are): a fourth would raise `most` first.
        await new Promise<void>((release) => {
          held.push(release);
          if (held.length === 3 || n >= total - (total % 3)) {
            const now = held;
            held = [];
            for (const r of now) r();
          }
        });
        inFlight--;
        return titanReply(req, n);
      },
      { http2: true },
    );
    try {
      awsEnvironment(server.url);
      const embedder = bedrockEmbedder({
        provider: "bedrock",
        model: TITAN,
        dimension: 512,
        region: "eu-west-1",
        concurrency: 3,
      });
      const vectors = await embedder.embed(Array.from({ length: total }, (_, i) => `text ${i}`));
      expect(vectors).toHaveLength(total);
      expect(server.seen).toHaveLength(total);
      expect(most).toBe(3);
    } finally {
      await server.close();
    }
  });

  it("retries ThrottlingException with exponential back-off and full jitter, then succeeds", async () => {
    const server = await fakeProvider((req, n) => (n < 3 ? throttled : titanReply(req, n)), { http2: true });
    try {
      awsEnvironment(server.url);
      const { delays, sleep } = recordedSleep();
      const embedder = bedrockEmbedder(
        { provider: "bedrock", model: TITAN, dimension: 1024, region: "us-east-1", concurrency: 1 },
        { hooks: { sleep, random: () => 0.5 } },
      );
      const [v] = await embedder.embed(["one text"]);
      expect(Array.from(v!)).toEqual(Array.from(Float32Array.from(vector(3, 1024))));
      expect(server.seen).toHaveLength(4);
      // Half of 0.5 s, 1 s and 2 s: the ceiling doubles, the draw picks within it.
      expect(delays).toEqual([250, 500, 1000]);
    } finally {
      await server.close();
    }
  });

  it("gives up after the last attempt with what to do", async () => {
    const server = await fakeProvider(() => throttled, { http2: true });
    try {
      awsEnvironment(server.url);
      const { delays, sleep } = recordedSleep();
      const embedder = bedrockEmbedder(
        { provider: "bedrock", model: TITAN, dimension: 1024, region: "us-east-1", concurrency: 1 },
        { hooks: { sleep, random: () => 0.999 } },
      );
      await expect(embedder.embed(["one text"])).rejects.toThrow(
        "embedding: bedrock amazon.titan-embed-text-v2:0 in us-east-1 still failed after 6 attempts (429 ThrottlingException: Too many requests, please wait before trying again): raise the model's quota or lower tributary:embedding.concurrency, then run again.",
      );
      expect(server.seen).toHaveLength(6);
      expect(delays).toEqual([499, 999, 1998, 3996, 7992]);
    } finally {
      await server.close();
    }
  });

  it("says so when the model is not enabled, without retrying", async () => {
    const server = await fakeProvider(
      () => ({
        status: 404,
        headers: { "x-amzn-errortype": "ResourceNotFoundException" },
        body: { message: "Could not resolve the foundation model from the provided model identifier." },
      }),
      { http2: true },
    );
    try {
      awsEnvironment(server.url);
      const embedder = bedrockEmbedder({
        provider: "bedrock",
        model: TITAN,
        dimension: 1024,
        region: "eu-central-1",
        concurrency: 1,
      });
      await expect(embedder.embed(["x"])).rejects.toThrow(
        'embedding: bedrock amazon.titan-embed-text-v2:0 in eu-central-1 does not exist or is not enabled (Could not resolve the foundation model from the provided model identifier). Enable the model under "Model access" in the Bedrock console of eu-central-1, or choose another in tributary:embedding.models.',
      );
      expect(server.seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("refuses vectors of another dimension than the configured one", async () => {
    const server = await fakeProvider(
      (req, n) => {
        const reply = titanReply(req, n);
        return { body: { ...(reply.body as object), embedding: vector(n, 512) } };
      },
      { http2: true },
    );
    try {
      awsEnvironment(server.url);
      const embedder = bedrockEmbedder({
        provider: "bedrock",
        model: TITAN,
        dimension: 256,
        region: "eu-west-1",
        concurrency: 1,
      });
      await expect(embedder.embed(["x"])).rejects.toThrow(
        "embedding: bedrock amazon.titan-embed-text-v2:0 in eu-west-1 returned vectors of 512 numbers, but the stack configures dimension 256: set tributary:embedding.dimension to what the model returns.",
      );
    } finally {
      await server.close();
    }
  });

  it("refuses a text over the model's 50,000 characters before sending anything", async () => {
    const server = await fakeProvider(titanReply, { http2: true });
    try {
      awsEnvironment(server.url);
      const embedder = bedrockEmbedder({
        provider: "bedrock",
        model: TITAN,
        dimension: 256,
        region: "eu-west-1",
        concurrency: 1,
      });
      await expect(embedder.embed(["short", "x".repeat(50_001)])).rejects.toThrow(
        "embedding: text 1 has 50001 characters; amazon.titan-embed-text-v2:0 takes at most 50000 a text: shorten the column it embeds (e.g. left(text, 50000) in SQL).",
      );
      await expect(embedder.embed(["short", ""])).rejects.toThrow(
        "embedding: text 1 is empty; amazon.titan-embed-text-v2:0 embeds no empty text: leave the row out or give it text.",
      );
      expect(server.seen).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});

describe("Cohere Embed v3", () => {
  it("batches up to 96 texts a call, as search documents or as a query", async () => {
    const server = await fakeProvider(cohereReply, { http2: true });
    try {
      awsEnvironment(server.url);
      const config = {
        provider: "bedrock",
        model: COHERE,
        dimension: 1024,
        region: "eu-west-1",
        concurrency: 1,
      } as const;
      const texts = Array.from({ length: 200 }, (_, i) => `Customer ${i} of acme`);
      const vectors = await bedrockEmbedder(config).embed(texts);
      expect(server.seen.map((r) => [r.url, (r.body as { texts: string[] }).texts.length])).toEqual([
        ["/model/cohere.embed-english-v3/invoke", 96],
        ["/model/cohere.embed-english-v3/invoke", 96],
        ["/model/cohere.embed-english-v3/invoke", 8],
      ]);
      expect(server.seen[0]!.body).toEqual({
        texts: texts.slice(0, 96),
        input_type: "search_document",
        truncate: "NONE",
      });
      expect(Array.from(vectors[97]!)).toEqual(Array.from(Float32Array.from(vector(1001, 1024))));
      expect(Array.from(vectors[199]!)).toEqual(Array.from(Float32Array.from(vector(2007, 1024))));

      await bedrockEmbedder(config, { purpose: "query" }).embed(["who buys the most?"]);
      expect(server.seen[3]!.body).toEqual({
        texts: ["who buys the most?"],
        input_type: "search_query",
        truncate: "NONE",
      });
    } finally {
      await server.close();
    }
  });

  it("refuses a text over 2,048 characters, naming it", async () => {
    awsEnvironment("http://127.0.0.1:9");
    const embedder = bedrockEmbedder({
      provider: "bedrock",
      model: COHERE,
      dimension: 1024,
      region: "eu-west-1",
      concurrency: 1,
    });
    await expect(embedder.embed(["a", "b", "c".repeat(2049)])).rejects.toThrow(
      "embedding: text 2 has 2049 characters; cohere.embed-english-v3 takes at most 2048 a text: shorten the column it embeds (e.g. left(text, 2048) in SQL).",
    );
  });
});

it("refuses a model whose limits Tributary does not know", () => {
  expect(() =>
    bedrockEmbedder({
      provider: "bedrock",
      model: "amazon.titan-embed-text-v1",
      dimension: 1536,
      region: "eu-west-1",
      concurrency: 1,
    }),
  ).toThrow(
    'embedding: "amazon.titan-embed-text-v1" is not a bedrock model Tributary knows the limits of: use one of amazon.titan-embed-text-v2:0, cohere.embed-english-v3, cohere.embed-multilingual-v3.',
  );
});
