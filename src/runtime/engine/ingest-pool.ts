/**
 * Worker threads that validate blocks of NDJSON in parallel with the ingest thread, which reads the
 * input, deduplicates and writes. A worker that cannot start leaves the pool unready, and ingest keeps
 * validating on its own thread.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Classified, SourceSpec } from "./ingest-validate.ts";
import type { WorkerReply, WorkerRequest } from "./ingest-worker.ts";

/** A block with the verdict on each of its lines. */
export interface ClassifiedBlock extends Classified {
  readonly kind: "block";
  readonly block: Buffer;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  inFlight: number;
}

interface Pending {
  readonly slot: Slot;
  readonly resolve: (value: ClassifiedBlock) => void;
  readonly reject: (error: Error) => void;
}

/**
 * How to start the worker module: from TypeScript source (tsx, vitest) the worker registers tsx's
 * loader before importing it, as worker threads do not inherit the loader of the thread that starts them.
 */
function workerEntry(): { script: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return { script: new URL("./ingest-worker.js", here), eval: false };
  // tsx's ESM API (require.resolve would give its CommonJS build, which cannot register ESM hooks here).
  const pkgPath = createRequire(here).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const tsx = pathToFileURL(join(dirname(pkgPath), pkg.exports["./esm/api"]!.import.default)).href;
  const target = new URL("./ingest-worker.ts", here).href;
  const script = `import(${JSON.stringify(tsx)}).then((m) => { (m.register ?? m.default.register)(); return import(${JSON.stringify(target)}); });`;
  return { script, eval: true };
}

export class ClassifierPool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #error: Error | undefined;
  #closed = false;
  #startFailures = 0;
  #onReady: ((ready: boolean) => void)[] = [];

  constructor(spec: SourceSpec, size: number) {
    this.size = size;
    const entry = workerEntry();
    for (let i = 0; i < size; i++) {
      const worker = new Worker(entry.script, { eval: entry.eval, workerData: spec });
      const slot: Slot = { worker, ready: false, inFlight: 0 };
      worker.on("message", (m: WorkerReply) => this.#onMessage(slot, m));
      worker.on("error", (e) => this.#fail(slot, e));
      worker.on("exit", (code) => {
        if (!this.#closed) this.#fail(slot, new Error(`ingest worker exited with code ${code}`));
      });
      this.#slots.push(slot);
    }
  }

  /** Whether a worker can take a block now. */
  get ready(): boolean {
    return this.#error === undefined && this.#slots.some((s) => s.ready);
  }

  /** Resolves true once a worker is ready, false when none could start. */
  whenReady(): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    if (this.#error || this.#startFailures === this.size) return Promise.resolve(false);
    return new Promise((resolve) => this.#onReady.push(resolve));
  }

  #settleReady(ready: boolean): void {
    const waiting = this.#onReady;
    this.#onReady = [];
    for (const resolve of waiting) resolve(ready);
  }

  /**
   * Validates a block on the least busy ready worker. The block's ArrayBuffer moves to the worker and
   * back, so it must be the block's own (`owned`); any other block is copied first.
   */
  classify(block: Buffer, owned: boolean): Promise<ClassifiedBlock> {
    if (this.#error) return Promise.reject(this.#error);
    let slot: Slot | undefined;
    for (const s of this.#slots) if (s.ready && (!slot || s.inFlight < slot.inFlight)) slot = s;
    if (!slot) return Promise.reject(new Error("ingest: no worker is ready"));
    // A copy into an ArrayBuffer of its own (Buffer.from would use Node's shared pool for small ones).
    const copy = owned ? undefined : new Uint8Array(block);
    const own = copy === undefined ? block : Buffer.from(copy.buffer, 0, copy.length);
    const seq = this.#seq++;
    const chosen = slot;
    chosen.inFlight++;
    return new Promise<ClassifiedBlock>((resolve, reject) => {
      this.#pending.set(seq, { slot: chosen, resolve, reject });
      const request: WorkerRequest = { seq, block: own.buffer as ArrayBuffer, length: own.length };
      chosen.worker.postMessage(request, [own.buffer as ArrayBuffer]);
    });
  }

  #onMessage(slot: Slot, m: WorkerReply): void {
    if (m.kind === "ready") {
      slot.ready = true;
      this.#settleReady(true);
      return;
    }
    const pending = this.#pending.get(m.seq);
    if (!pending) return;
    this.#pending.delete(m.seq);
    slot.inFlight--;
    if (m.kind === "failed") {
      pending.reject(new Error(`ingest worker failed: ${m.error}`));
      return;
    }
    const { kind: _, block, length, ...classified } = m;
    pending.resolve({ kind: "block", block: Buffer.from(block, 0, length), ...classified });
  }

  #fail(slot: Slot, error: Error): void {
    const wasReady = slot.ready;
    slot.ready = false;
    // A worker that never started only makes the pool smaller; one that took blocks fails them.
    if (!wasReady && slot.inFlight === 0) {
      if (++this.#startFailures === this.size) this.#settleReady(false);
      return;
    }
    this.#error ??= error;
    for (const [seq, p] of this.#pending) {
      if (p.slot !== slot) continue;
      this.#pending.delete(seq);
      p.reject(error);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
