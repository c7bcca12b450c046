/**
 * Fake asset-events buses on 127.0.0.1 that the clouds' own SDK clients publish to, each speaking its
 * cloud's wire protocol, each failing on command:
 * - EventBridge: an HTTP server answering `AWSEvents.PutEvents` (JSON 1.1), found by the SDK through
 *   AWS_ENDPOINT_URL_EVENTBRIDGE;
 * - Pub/Sub: a gRPC server implementing `google.pubsub.v1.Publisher/Publish` from the client's own
 *   protos, found through PUBSUB_EMULATOR_HOST (insecure, as for Google's emulator);
 * - Service Bus: an AMQP 1.0 peer (rhea, what @azure/service-bus is built on) that takes the client's
 *   connection, its claims-based authorisation (`$cbs` put-token) and its sender link to the topic, and
 *   settles what it receives, found through a connection string with UseDevelopmentEmulator=true (plain
 *   AMQP, as for Microsoft's emulator), which the handler reads from the app setting TRIBUTARY_BUS.
 *
 * Faults, while set: `refuse` closes the port (connections are refused; the same port opens again when
 * healed); `error` answers each publish with the cloud's internal error (HTTP 500 InternalException,
 * gRPC INTERNAL, AMQP amqp:internal-error); `throttle` with its throttling answer (HTTP 400
 * ThrottlingException, gRPC RESOURCE_EXHAUSTED, AMQP com.microsoft:server-busy); `hang` takes the
 * request and never answers it. What a bus accepts is handed to `onAccept`, in order.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo, Socket } from "node:net";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import rhea from "rhea";
import type { Announcement } from "../../src/runtime/handlers/core.ts";
import type { Cloud } from "../../src/runtime/handlers/envelopes.ts";

export type Fault = "refuse" | "error" | "throttle" | "hang";
export const FAULTS: readonly Fault[] = ["refuse", "error", "throttle", "hang"];

export interface FakeBus {
  readonly cloud: Cloud;
  /** What a function's environment needs to publish here (with the asset-events bus name). */
  readonly env: Readonly<Record<string, string>>;
  /** The asset-events bus as TRIBUTARY_ASSET_EVENTS names it. */
  readonly busName: string;
  /** Answer every publish with `fault` until `heal`. */
  fail(fault: Fault): Promise<void>;
  heal(): Promise<void>;
  /** Publish requests answered with a fault (refused connections never reach the bus: not counted). */
  readonly faulted: number;
  /** Every announcement accepted, in order, with the bus's id of it. */
  readonly accepted: { readonly id: string; readonly body: Announcement }[];
  onAccept: (body: Announcement, id: string) => void;
  /**
   * Asked as each publish arrives, before anything else: true swallows it (never answered, never
   * accepted), for a test that kills the publishing function right there.
   */
  onPublish: () => boolean | Promise<boolean>;
  stop(): Promise<void>;
}

function announcementOf(value: unknown): Announcement {
  const v = value as Partial<Announcement>;
  if (typeof v?.asset !== "string" || typeof v.partition !== "string" || typeof v.dataVersion !== "string") {
    throw new Error(`fake bus: not an announcement: ${JSON.stringify(value)}`);
  }
  return { asset: v.asset, partition: v.partition, dataVersion: v.dataVersion };
}

/** Common state: the fault set, what was accepted, and a port that can be closed and opened again. */
abstract class Base implements FakeBus {
  abstract readonly cloud: Cloud;
  abstract readonly env: Readonly<Record<string, string>>;
  abstract readonly busName: string;
  fault: Fault | undefined;
  faulted = 0;
  readonly accepted: { id: string; body: Announcement }[] = [];
  onAccept: (body: Announcement, id: string) => void = () => {};
  onPublish: () => boolean | Promise<boolean> = () => false;
  protected port = 0;

  protected abstract open(): Promise<void>;
  protected abstract close(): Promise<void>;

  protected accept(body: Announcement, id: string): void {
    this.accepted.push({ id, body });
    this.onAccept(body, id);
  }

  async fail(fault: Fault): Promise<void> {
    if (this.fault === "refuse" && fault !== "refuse") await this.open();
    if (fault === "refuse" && this.fault !== "refuse") await this.close();
    this.fault = fault;
  }

  async heal(): Promise<void> {
    if (this.fault === "refuse") await this.open();
    this.fault = undefined;
  }

  async stop(): Promise<void> {
    if (this.fault !== "refuse") await this.close();
  }
}

/** EventBridge's PutEvents over HTTP, as the AWS SDK speaks it (JSON 1.1). */
class FakeEventBridge extends Base {
  readonly cloud = "aws" as const;
  readonly busName = "trib-faults-asset-events";
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  get env() {
    return {
      AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${this.port}`,
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "AKIDFAULTS",
      AWS_SECRET_ACCESS_KEY: "faults",
    };
  }

  async #answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const target = req.headers["x-amz-target"];
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify(value));
    };
    if (target !== "AWSEvents.PutEvents") {
      json(400, { __type: "UnknownOperationException", message: `fake EventBridge: ${target}` });
      return;
    }
    if (await this.onPublish()) return;
    if (this.fault) {
      this.faulted++;
      if (this.fault === "error") json(500, { __type: "InternalException", message: "Internal error" });
      else if (this.fault === "throttle")
        json(400, { __type: "ThrottlingException", message: "Rate exceeded" });
      return; // hang: never answered
    }
    const { Entries } = JSON.parse(body) as { Entries: { Detail: string }[] };
    const ids = Entries.map((e) => {
      const id = randomUUID();
      this.accept(announcementOf(JSON.parse(e.Detail)), id);
      return { EventId: id };
    });
    json(200, { FailedEntryCount: 0, Entries: ids });
  }

  protected async open(): Promise<void> {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => void this.#answer(req, res, body));
    });
    server.on("connection", (s) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
    await new Promise<void>((done) => server.listen(this.port, "127.0.0.1", done));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  protected async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((done) => server.close(() => done()));
  }

  static async start(): Promise<FakeEventBridge> {
    const bus = new FakeEventBridge();
    await bus.open();
    return bus;
  }
}

const require = createRequire(import.meta.url);
/** The client's own protos: the Publisher service as @google-cloud/pubsub calls it. */
function publisherService(): grpc.ServiceDefinition {
  const client = require.resolve("@google-cloud/pubsub/package.json");
  const pubsub = join(dirname(client), "build", "protos");
  // google-gax as the client resolves it: <gax>/build/src/index.js, beside <gax>/build/protos.
  const gax = join(dirname(dirname(createRequire(client).resolve("google-gax"))), "protos");
  const definition = protoLoader.loadSync("google/pubsub/v1/pubsub.proto", {
    includeDirs: [pubsub, gax],
    keepCase: false,
    longs: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { pubsub: { v1: { Publisher: { service: grpc.ServiceDefinition } } } };
  };
  return loaded.google.pubsub.v1.Publisher.service;
}

interface PublishRequest {
  readonly topic: string;
  readonly messages: { readonly data: Buffer; readonly attributes: Record<string, string> }[];
}

/** Pub/Sub's Publish over gRPC. */
class FakePubSub extends Base {
  readonly cloud = "gcp" as const;
  readonly busName = "projects/tributary-faults/topics/trib-faults-asset-events";
  #server: grpc.Server | undefined;
  readonly #service = publisherService();
  /** Calls left unanswered (hang), ended when the bus stops. */
  readonly #hung: grpc.sendUnaryData<unknown>[] = [];

  get env() {
    return {
      PUBSUB_EMULATOR_HOST: `127.0.0.1:${this.port}`,
      GOOGLE_CLOUD_PROJECT: "tributary-faults",
      // No metadata server here: the auth library would look for one on every cold start.
      METADATA_SERVER_DETECTION: "none",
    };
  }

  async #publish(
    call: grpc.ServerUnaryCall<PublishRequest, unknown>,
    done: grpc.sendUnaryData<unknown>,
  ): Promise<void> {
    if (await this.onPublish()) {
      this.#hung.push(done);
      return;
    }
    if (this.fault) {
      this.faulted++;
      if (this.fault === "hang") {
        this.#hung.push(done);
        return;
      }
      const code = this.fault === "error" ? grpc.status.INTERNAL : grpc.status.RESOURCE_EXHAUSTED;
      done({ code, details: this.fault === "error" ? "Internal error" : "Quota exceeded" });
      return;
    }
    if (call.request.topic !== this.busName) {
      done({ code: grpc.status.NOT_FOUND, details: `Resource not found (resource=${call.request.topic}).` });
      return;
    }
    const messageIds = call.request.messages.map((m) => {
      const id = String(this.accepted.length + 1);
      this.accept(announcementOf(JSON.parse(Buffer.from(m.data).toString("utf8"))), id);
      return id;
    });
    done(null, { messageIds });
  }

  protected async open(): Promise<void> {
    const server = new grpc.Server();
    server.addService(this.#service, {
      Publish: (call: grpc.ServerUnaryCall<PublishRequest, unknown>, done: grpc.sendUnaryData<unknown>) =>
        void this.#publish(call, done),
    });
    this.port = await new Promise<number>((done, fail) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (e, port) =>
        e ? fail(e) : done(port),
      ),
    );
    this.#server = server;
  }

  protected async close(): Promise<void> {
    this.#server?.forceShutdown();
    this.#server = undefined;
    this.#hung.length = 0;
  }

  static async start(): Promise<FakePubSub> {
    const bus = new FakePubSub();
    await bus.open();
    return bus;
  }
}

/** The `message_format` of a batch of messages in one transfer (Service Bus's batch sends). */
const BATCH_FORMAT = 0x80013700;

/** Service Bus over AMQP 1.0: claims-based authorisation, then a sender link per topic. */
class FakeServiceBus extends Base {
  readonly cloud = "azure" as const;
  readonly busName = "asset-events";
  #listener: ReturnType<ReturnType<typeof rhea.create_container>["listen"]> | undefined;
  readonly #connections = new Set<rhea.Connection>();
  readonly #sockets = new Set<Socket>();

  get env() {
    return {
      TRIBUTARY_BUS__fullyQualifiedNamespace: "tributary-faults.servicebus.windows.net",
      TRIBUTARY_BUS: `Endpoint=sb://127.0.0.1:${this.port};SharedAccessKeyName=faults;SharedAccessKey=faults;UseDevelopmentEmulator=true`,
    };
  }

  #container(): ReturnType<typeof rhea.create_container> {
    // Deliveries are settled by the bus itself, or never (hang).
    const c = rhea.create_container({ id: "fake-service-bus", autoaccept: false } as never);
    c.sasl_server_mechanisms.enable_anonymous();
    c.sasl_server_mechanisms.enable_plain(() => true);
    c.on("connection_open", (ctx) => {
      this.#connections.add(ctx.connection);
      ctx.connection.on("connection_close", () => this.#connections.delete(ctx.connection));
    });
    c.on("disconnected", (ctx) => this.#connections.delete(ctx.connection));
    // Links get the addresses they asked for; the broker settles what it receives itself.
    c.on("sender_open", (ctx) =>
      ctx.sender.set_source({ address: ctx.sender.remote.attach.source?.address }),
    );
    c.on("receiver_open", (ctx) => {
      ctx.receiver.set_target({ address: ctx.receiver.remote.attach.target?.address });
    });
    c.on("message", (ctx) => void this.#message(ctx));
    return c;
  }

  async #message(ctx: rhea.EventContext): Promise<void> {
    const receiver = ctx.receiver!;
    const delivery = ctx.delivery!;
    const target = receiver.target?.address;
    if (target === "$cbs") {
      const m = ctx.message!;
      let reply: rhea.Sender | undefined;
      ctx.connection.each_link((l: rhea.link) => {
        if (l.is_sender() && (l as rhea.Sender).source?.address === "$cbs") reply = l as rhea.Sender;
      });
      reply?.send({
        correlation_id: m.message_id,
        to: m.reply_to,
        application_properties: { "status-code": 202, "status-description": "Accepted" },
        body: "",
      });
      delivery.accept();
      return;
    }
    if (await this.onPublish()) return;
    if (this.fault) {
      this.faulted++;
      if (this.fault === "hang") return; // received, never settled
      delivery.reject({
        condition: this.fault === "error" ? "amqp:internal-error" : "com.microsoft:server-busy",
        description: this.fault === "error" ? "Internal error" : "The server is busy. Please retry.",
      });
      return;
    }
    if (target !== this.busName) {
      delivery.reject({
        condition: "amqp:not-found",
        description: `The messaging entity ${target} was not found.`,
      });
      return;
    }
    const format = (ctx as { format?: number }).format;
    const decode = (b: Buffer) => rhea.message.decode(b) as unknown as rhea.Message;
    const messages =
      format === BATCH_FORMAT
        ? sections(decode(ctx.message as unknown as Buffer)).map(decode)
        : [ctx.message!];
    for (const m of messages) {
      const body = sections(m)[0];
      this.accept(announcementOf(JSON.parse(Buffer.from(body ?? []).toString("utf8"))), String(m.message_id));
    }
    delivery.accept();
  }

  protected async open(): Promise<void> {
    const listener = this.#container().listen({ port: this.port, host: "127.0.0.1" });
    listener.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
    await new Promise<void>((done, fail) => {
      listener.once("listening", () => done());
      listener.once("error", fail);
    });
    this.port = (listener.address() as AddressInfo).port;
    this.#listener = listener;
  }

  protected async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    this.#connections.clear();
    for (const s of this.#sockets) s.destroy();
    if (listener) await new Promise<void>((done) => listener.close(() => done()));
  }

  static async start(): Promise<FakeServiceBus> {
    const bus = new FakeServiceBus();
    await bus.open();
    return bus;
  }
}

/** The data sections of a message's body, as buffers. */
function sections(m: rhea.Message): Buffer[] {
  const body = m.body as { multiple?: boolean; content?: unknown } | Buffer | undefined;
  if (body === undefined) return [];
  if (Buffer.isBuffer(body)) return [body];
  if (body && typeof body === "object" && "content" in body) {
    return (body.multiple ? (body.content as Buffer[]) : [body.content as Buffer]).map((b) => Buffer.from(b));
  }
  return [Buffer.from(typeof body === "string" ? body : JSON.stringify(body))];
}

export async function startBus(cloud: Cloud): Promise<FakeBus> {
  if (cloud === "aws") return FakeEventBridge.start();
  if (cloud === "gcp") return FakePubSub.start();
  return FakeServiceBus.start();
}
