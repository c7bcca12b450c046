/**
 * Embedders: what turns an embedding asset's text into vectors.
 *
 * Locally and in tests a deterministic embedder that needs no network; in a stack the provider the stack
 * configures (Amazon Bedrock, Vertex AI, Azure OpenAI) through its official SDK, batched to the provider's
 * limits, retried with back-off on throttling and bounded in concurrency (the backpressure on vector writes).
 */

/** Which model an embedding asset uses, as the kit and a stack's configuration name it. */
export interface EmbeddingModel {
  /** The provider's model id (e.g. "amazon.titan-embed-text-v2:0"), or the local embedder's name. */
  readonly name: string;
  /** The length of every vector the model returns. */
  readonly dimension: number;
}

/** Something that embeds texts: one vector of `model.dimension` numbers per text, in order. */
export interface Embedder {
  readonly model: EmbeddingModel;
  /** False for the local feature-hashing embedder: its vectors match tokens, not meaning. */
  readonly semantic: boolean;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}
