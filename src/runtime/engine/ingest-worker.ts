/**
 * A worker thread of ingest: validates blocks of NDJSON for one source (the `SourceSpec` in workerData)
 * and sends each verdict back with the block, so the ingest thread can write the records' bytes.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type Classified, RecordClassifier, type SourceSpec } from "./ingest-validate.ts";

/** A block to validate: the first `length` bytes of an ArrayBuffer that is transferred (and sent back). */
export interface WorkerRequest {
  readonly seq: number;
  readonly block: ArrayBuffer;
  readonly length: number;
}

export type WorkerReply =
  | { readonly kind: "ready" }
  | ({
      readonly kind: "done";
      readonly seq: number;
      readonly block: ArrayBuffer;
      readonly length: number;
    } & Classified)
  | { readonly kind: "failed"; readonly seq: number; readonly error: string };

const port = parentPort;
if (port) {
  const classifier = new RecordClassifier(workerData as SourceSpec);
  port.on("message", (m: WorkerRequest) => {
    try {
      const r = classifier.classify(Buffer.from(m.block, 0, m.length));
      const reply: WorkerReply = { kind: "done", seq: m.seq, block: m.block, length: m.length, ...r };
      const transfer = [m.block, r.bounds.buffer, r.codes.buffer, r.keys.buffer] as ArrayBuffer[];
      port.postMessage(reply, transfer);
    } catch (e) {
      const reply: WorkerReply = { kind: "failed", seq: m.seq, error: (e as Error).stack ?? String(e) };
      port.postMessage(reply);
    }
  });
  port.postMessage({ kind: "ready" } satisfies WorkerReply);
}
