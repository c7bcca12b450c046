/**
 * Functions run from their built bundles, as their clouds run them: each function of a stack is a
 * Node.js process of its own (an instance, kept warm between invocations) that imports the bundle
 * copied out of the repository, with the function's environment, and is invoked over IPC with the
 * event its cloud would deliver: the AWS handler as Lambda calls it, the GCP function as the Functions
 * Framework finds it (installed beside the bundle from its package.json), the Azure handlers with an
 * invocation context. Killing an instance mid-invocation is a crash: the invocation fails, and the next
 * one starts a new instance (a cold start).
 */
import { type ChildProcess, fork } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Cloud, Delivery } from "../../src/runtime/handlers/envelopes.ts";
import type { Invoke } from "../../src/runtime/handlers/local.ts";
import { installFrom } from "../bundle/install.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The instance's program: import the bundle, then run each invocation it is sent. */
const RUNNER = `const cloud = process.argv[2];
const bundle = await import("./index.mjs");
let gcp;
if (cloud === "gcp") {
  const { getFunction } = await import("@google-cloud/functions-framework/testing");
  gcp = getFunction("handler");
  if (gcp !== bundle.handler) throw new Error("the bundle registered no CloudEvent function \\"handler\\"");
}
const log = (...args) => console.log(...args);
process.on("message", async ({ id, delivery }) => {
  try {
    let result;
    if (cloud === "aws") result = await bundle.handler(delivery.event, { functionName: "f", awsRequestId: id });
    else if (cloud === "gcp") result = await gcp(delivery.event);
    else {
      const context = { invocationId: id, functionName: "f", triggerMetadata: delivery.triggerMetadata ?? {}, log, trace: log, debug: log, info: log, warn: log, error: log };
      result = await bundle.handlers[delivery.trigger ?? "serviceBus"](delivery.event, context);
    }
    process.send({ id, result: result ?? null });
  } catch (e) {
    process.send({ id, error: e instanceof Error ? e.message : String(e) });
  }
});
process.send({ ready: true });
`;

/**
 * Loaded before the bundle when the instance is given TRIBUTARY_TEST_NOW: its clock reads that time when
 * the process starts and runs on from there, so what "now" decides (the daily partitions up to
 * yesterday) is the same on every day the tests run.
 */
const CLOCK = `const start = Date.parse(process.env.TRIBUTARY_TEST_NOW);
if (!Number.isNaN(start)) {
  const Real = Date;
  const began = Real.now();
  const now = () => start + (Real.now() - began);
  globalThis.Date = class extends Real {
    constructor(...args) {
      if (args.length === 0) super(now());
      else super(...args);
    }
    static now() {
      return now();
    }
  };
}
`;

/** The bundle of `cloud` copied to `dir`, with the runner, as a deployment would have it. */
export function deployBundle(bundles: string, cloud: Cloud, dir: string): string {
  const target = path.join(dir, `${cloud}-x64`);
  fs.cpSync(path.join(bundles, `${cloud}-x64`), target, { recursive: true });
  if (cloud === "gcp") {
    const pkg = JSON.parse(fs.readFileSync(path.join(target, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    installFrom(repo, Object.keys(pkg.dependencies), target);
  }
  fs.writeFileSync(path.join(target, "run.mjs"), RUNNER);
  fs.writeFileSync(path.join(target, "clock.mjs"), CLOCK);
  return target;
}

interface Reply {
  readonly id?: string;
  readonly ready?: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

/** One function's instances: started on its first invocation, and again after a crash. */
export class FunctionHost {
  readonly #cloud: Cloud;
  readonly #dir: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #onLine: (line: string) => void;
  #child: ChildProcess | undefined;
  #ready: Promise<void> | undefined;
  #next = 0;
  /** Instances started (the first one and one after each crash). */
  starts = 0;

  constructor(cloud: Cloud, dir: string, env: NodeJS.ProcessEnv, onLine: (line: string) => void) {
    this.#cloud = cloud;
    this.#dir = dir;
    this.#env = env;
    this.#onLine = onLine;
  }

  #start(): Promise<void> {
    this.starts++;
    const child = fork(path.join(this.#dir, "run.mjs"), [this.#cloud], {
      cwd: this.#dir,
      env: this.#env,
      execArgv: ["--import", path.join(this.#dir, "clock.mjs")],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    this.#child = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => this.#onLine(line));
    }
    child.once("exit", () => {
      if (this.#child === child) {
        this.#child = undefined;
        this.#ready = undefined;
      }
    });
    return new Promise<void>((done, fail) => {
      const ready = (m: Reply) => {
        if (m.ready) {
          child.off("message", ready);
          done();
        }
      };
      child.on("message", ready);
      child.once("exit", (code, signal) =>
        fail(new Error(`the ${this.#cloud} function exited (${signal ?? code}) before it was ready`)),
      );
    });
  }

  /** Start an instance now (a cold start), unless one runs. */
  start(): Promise<void> {
    this.#ready ??= this.#start();
    return this.#ready;
  }

  /** Run one invocation; rejects with what the handler threw, or when the instance dies meanwhile. */
  readonly invoke: Invoke = async (delivery: Delivery) => {
    await this.start();
    const child = this.#child!;
    const id = `i-${++this.#next}`;
    return new Promise((done, fail) => {
      const onMessage = (m: Reply) => {
        if (m.id !== id) return;
        cleanup();
        if (m.error !== undefined) fail(new Error(m.error));
        else done(m.result);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        cleanup();
        fail(new Error(`the function's process died (${signal ?? `exit ${code}`}) during the invocation`));
      };
      const cleanup = () => {
        child.off("message", onMessage);
        child.off("exit", onExit);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ id, delivery });
    });
  };

  /** Kill the instance now, as a crash would (SIGKILL: nothing runs after). */
  crash(): void {
    this.#child?.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    await exited;
  }
}
