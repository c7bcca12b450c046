/**
 * The local monitor: a small stand-in for the Pulumi engine and its resource monitor (Tributary calls
 * it the monitor; "engine" is the materialisation engine, runtime/engine/). It runs the Pulumi program
 * exactly as the CLI's Node.js language host does
 * (`node [nodeargs] @pulumi/pulumi/cmd/run --monitor … --engine … <main>` with the stack config in
 * `PULUMI_CONFIG`), but answers the program's gRPC calls itself on 127.0.0.1 and records every
 * resource it registers. Nothing is created anywhere: custom resources get their id and outputs from
 * `MonitorHooks.newResource`, provider functions from `MonitorHooks.invoke`.
 *
 * It proves what mocks cannot: that the program loads under the real runner (ESM, TypeScript loader,
 * `nodeargs`) and that what it registers there is what the mocks-based synth sees. To that end the
 * records are built like `pulumi.runtime.setMocks` would see them: the engine claims the same features
 * as the SDK's MockMonitor (see FEATURES) and decodes inputs with the SDK's own `deserializeProperty`.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import type * as Grpc from "@grpc/grpc-js";
import * as pulumi from "@pulumi/pulumi";
import type * as AliasPb from "@pulumi/pulumi/proto/alias_pb.js";
import type * as CallbackGrpc from "@pulumi/pulumi/proto/callback_grpc_pb.js";
import type * as CallbackPb from "@pulumi/pulumi/proto/callback_pb.js";
import type * as EngineGrpc from "@pulumi/pulumi/proto/engine_grpc_pb.js";
import type * as EnginePb from "@pulumi/pulumi/proto/engine_pb.js";
import type * as ProviderPb from "@pulumi/pulumi/proto/provider_pb.js";
import type * as ResourceGrpc from "@pulumi/pulumi/proto/resource_grpc_pb.js";
import type * as ResourcePb from "@pulumi/pulumi/proto/resource_pb.js";
import type * as EmptyPb from "google-protobuf/google/protobuf/empty_pb.js";
import type * as StructPb from "google-protobuf/google/protobuf/struct_pb.js";
import {
  explicitDependencies,
  inTreeOrder,
  normalise,
  type ResourceRecord,
  resourceUrn,
  STACK_TYPE,
  type Synthesis,
} from "./record.ts";

// The gRPC and protobuf modules are loaded from @pulumi/pulumi's own dependencies, so the service
// definitions, messages and transport are the very instances the SDK uses.
const sdkRequire = createRequire(createRequire(import.meta.url).resolve("@pulumi/pulumi/package.json"));
const grpc = sdkRequire("@grpc/grpc-js") as typeof Grpc;
const resourceGrpc = sdkRequire("./proto/resource_grpc_pb.js") as typeof ResourceGrpc;
const resourcePb = sdkRequire("./proto/resource_pb.js") as typeof ResourcePb;
const engineGrpc = sdkRequire("./proto/engine_grpc_pb.js") as typeof EngineGrpc;
const enginePb = sdkRequire("./proto/engine_pb.js") as typeof EnginePb;
const aliasPb = sdkRequire("./proto/alias_pb.js") as typeof AliasPb;
const callbackGrpc = sdkRequire("./proto/callback_grpc_pb.js") as typeof CallbackGrpc;
const callbackPb = sdkRequire("./proto/callback_pb.js") as typeof CallbackPb;
const { Empty } = sdkRequire("google-protobuf/google/protobuf/empty_pb.js") as typeof EmptyPb;
const { Struct } = sdkRequire("google-protobuf/google/protobuf/struct_pb.js") as typeof StructPb;

type Struct = StructPb.Struct;
type Props = Record<string, unknown>;
type Awaitable<T> = T | Promise<T>;

export interface MonitorHooks {
  /** Outputs for a new custom resource: deterministic id and state (ARNs, names…). Default: id `${name}-id`, state = inputs. */
  newResource?(r: { type: string; name: string; inputs: Props }): Awaitable<{ id?: string; state?: Props }>;
  /** Result of a provider function invoke (e.g. `aws:index/getCallerIdentity:getCallerIdentity`). Default: a clear error naming the token. */
  invoke?(token: string, args: Props): Awaitable<Props>;
}

export interface RunOptions extends MonitorHooks {
  /** `--pwd`, and the child's working directory. */
  cwd: string;
  /** The program, relative to `cwd` (Pulumi.yaml's `main`, e.g. "infra/index.ts"). */
  main: string;
  project: string;
  stack: string;
  /** Stack config, "<namespace>:<key>" → string (objects and lists JSON-encoded); becomes PULUMI_CONFIG. */
  config: Record<string, string>;
  /** Node arguments, as Pulumi.yaml's `runtime.options.nodeargs` says (e.g. ["--import", "tsx"]). */
  nodeargs?: string[];
  /** Pass `--dry-run` (a preview). */
  dryRun?: boolean;
  /** Pulumi.yaml's `runtime.options.typescript`; the CLI's default is true (sets PULUMI_NODEJS_TYPESCRIPT). */
  typescript?: boolean;
  /** `--organization`; "organization" is what the CLI passes for a self-managed backend. */
  organization?: string;
  /** Kill the program after this long (default 120 s). */
  timeoutMs?: number;
  /** Environment variables over this process's, as a user sets them before `pulumi up`. */
  env?: Readonly<Record<string, string>>;
}

/**
 * The features this engine advertises (`DeploymentInfo.supportedFeatures`, which the SDK reads first,
 * and `supportsFeature`, which older SDKs probe), by their `ResourceMonitorFeature` names: exactly the
 * list the SDK's MockMonitor advertises, so the program serialises its inputs (secrets, resource
 * references, plain values instead of output values) as it does under mocks. Transforms are served as
 * the CLI serves them: by calling the program's callback server.
 */
const FEATURES: Readonly<Record<string, boolean>> = {
  SECRETS: true,
  RESOURCE_REFERENCES: true,
  // Off under mocks too: with it, inputs would arrive as Output objects rather than values.
  OUTPUT_VALUES: false,
  ALIAS_SPECS: true,
  REPLACEMENT_TRIGGER: true,
  DELETED_WITH: true,
  REPLACE_WITH: true,
  TRANSFORMS: true,
  INVOKE_TRANSFORMS: true,
  PARAMETERIZATION: true,
  // Hooks are accepted (registerResourceHook) but never run: nothing is created or deleted here.
  RESOURCE_HOOKS: true,
  ERROR_HOOKS: true,
  STATE_MIGRATIONS: true,
};

/** A feature as an older SDK names it in `supportsFeature` (`invokeTransforms`) → its FEATURES name. */
const featureName = (id: string) => id.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/**
 * Wire properties → JS values, as the SDK's MockMonitor decodes them (`deserializeProperty`), with one
 * deliberate difference that keeps records independent of the modules the engine's own process has
 * loaded: a resource reference (a Resource passed as an input) becomes the referenced resource's id
 * (custom) or URN (component) — what a provider that does not accept references is given — where
 * MockMonitor would construct a live Resource object, which `normalise` cannot print.
 */
function decode(struct: Struct | undefined, dryRun: boolean): Props {
  const raw = (struct?.toJavaScript() ?? {}) as Props;
  const out: Props = {};
  for (const [k, v] of Object.entries(raw)) {
    const plain = downgrade(v, dryRun);
    // keepUnknowns = dryRun: an unknown decodes as it does under mocks for the same preview flag.
    if (plain !== undefined) out[k] = pulumi.runtime.deserializeProperty(plain, dryRun);
  }
  return out;
}

function downgrade(v: unknown, dryRun: boolean): unknown {
  if (v === pulumi.runtime.unknownValue) return dryRun ? v : undefined;
  if (Array.isArray(v)) return v.map((e) => downgrade(e, dryRun) ?? null);
  if (v === null || typeof v !== "object") return v;
  const o = v as Props;
  if (o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialResourceSig) {
    return o["id"] ? downgrade(o["id"], dryRun) : o["urn"];
  }
  const out: Props = {};
  for (const [k, e] of Object.entries(o)) {
    const d = downgrade(e, dryRun);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

async function encode(props: Props): Promise<Struct> {
  return Struct.fromJavaScript((await pulumi.runtime.serializeProperties("engine", props)) as never);
}

/** A gRPC error carrying `message` to the program (which prints it as the RPC's failure). */
function rpcError(message: string, code: Grpc.status = grpc.status.UNKNOWN): Grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

/** Answer a unary call from an async function: its value, or its error as a gRPC error. */
function unary<Req, Res>(
  fn: (req: Req) => Promise<Res> | Res,
): (call: Grpc.ServerUnaryCall<Req, Res>, cb: Grpc.sendUnaryData<Res>) => void {
  return (call, cb) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then(
        (res) => cb(null, res),
        (err: unknown) =>
          cb(isServiceError(err) ? err : rpcError(err instanceof Error ? err.message : String(err))),
      );
  };
}

function isServiceError(e: unknown): e is Grpc.ServiceError {
  return e instanceof Error && typeof (e as Partial<Grpc.ServiceError>).code === "number";
}

interface Registered {
  readonly parent: string;
  readonly transforms: CallbackPb.Callback[];
  id: string;
  state: unknown;
}

/** One run's engine: the ResourceMonitor and Engine services, and what the program registered. */
class LocalEngine {
  readonly log: string[] = [];
  readonly errors: string[] = [];
  /** One slot per registration, in the order the registrations arrived (which varies: see inTreeOrder). */
  readonly records: Promise<ResourceRecord>[] = [];
  stackUrn = "";
  stackOutputs: Struct | undefined;
  private rootUrn = "";
  private readonly registered = new Map<string, Registered>();
  private readonly stackTransforms: CallbackPb.Callback[] = [];
  private readonly invokeTransforms: CallbackPb.Callback[] = [];
  private readonly callbackClients = new Map<string, CallbackGrpc.CallbacksClient>();

  private readonly opts: RunOptions;

  constructor(opts: RunOptions) {
    this.opts = opts;
  }

  get dryRun(): boolean {
    return this.opts.dryRun === true;
  }

  monitor(): ResourceGrpc.IResourceMonitorServer {
    return {
      getDeploymentInfo: unary(() => {
        const info = new resourcePb.DeploymentInfo();
        info.setProject(this.opts.project).setStack(this.opts.stack);
        info.setOrganization(this.opts.organization ?? "organization").setDryrun(this.dryRun);
        for (const [k, v] of Object.entries(this.opts.config)) info.getConfigMap().set(k, v);
        const features = resourcePb.ResourceMonitorFeature as unknown as Record<string, number>;
        info.setSupportedfeaturesList(
          Object.keys(FEATURES)
            .filter((name) => FEATURES[name])
            .map((name) => features[`RESOURCE_MONITOR_FEATURE_${name}`] as ResourcePb.ResourceMonitorFeature),
        );
        return info;
      }),
      supportsFeature: unary((req: ResourcePb.SupportsFeatureRequest) =>
        new resourcePb.SupportsFeatureResponse().setHassupport(FEATURES[featureName(req.getId())] === true),
      ),
      invoke: unary((req: ResourcePb.ResourceInvokeRequest) => this.invoke(req)),
      call: unary((req: ResourcePb.ResourceCallRequest): ProviderPb.CallResponse => {
        throw rpcError(
          `the local monitor cannot call ${req.getTok()}: methods of remote components need their provider`,
          grpc.status.UNIMPLEMENTED,
        );
      }),
      readResource: unary((req: ResourcePb.ReadResourceRequest) => this.readResource(req)),
      // `Resource.exists(id)`, answered as the SDK's MockMonitor does: a resource of that type and id
      // was registered or read in this run. Nothing is looked up anywhere.
      existsResource: unary((req: ResourcePb.ExistsResourceRequest) => {
        const exists = [...this.registered].some(
          ([urn, r]) => r.id === req.getId() && urn.split("::")[2]?.split("$").pop() === req.getType(),
        );
        return new resourcePb.ExistsResourceResponse().setExists(exists);
      }),
      registerResource: (call, cb) => this.registerResource(call.request, cb),
      registerResourceOutputs: unary((req: ResourcePb.RegisterResourceOutputsRequest) => {
        if (req.getUrn() === this.stackUrn) this.stackOutputs = req.getOutputs();
        const r = this.registered.get(req.getUrn());
        if (r) r.state = req.getOutputs()?.toJavaScript() ?? {};
        return new Empty();
      }),
      registerStackTransform: unary((cb: CallbackPb.Callback) => {
        this.stackTransforms.push(cb);
        return new Empty();
      }),
      registerStackInvokeTransform: unary((cb: CallbackPb.Callback) => {
        this.invokeTransforms.push(cb);
        return new Empty();
      }),
      registerResourceHook: unary(() => new Empty()),
      registerErrorHook: unary(() => new Empty()),
      registerPackage: unary((req: ResourcePb.RegisterPackageRequest) =>
        new resourcePb.RegisterPackageResponse().setRef(`${req.getName()}@${req.getVersion()}`),
      ),
      signalAndWaitForShutdown: unary(() => new Empty()),
    };
  }

  engine(): EngineGrpc.IEngineServer {
    const severities = ["debug", "info", "warning", "error"];
    return {
      log: unary((req: EnginePb.LogRequest) => {
        const severity = req.getSeverity();
        // Debug messages are the SDK's own tracing (one per RPC): not worth keeping.
        if (severity !== enginePb.LogSeverity.DEBUG) {
          const line = `${severities[severity] ?? severity}: ${req.getMessage()}`;
          this.log.push(req.getUrn() ? `${line} (${req.getUrn()})` : line);
        }
        if (severity === enginePb.LogSeverity.ERROR) this.errors.push(req.getMessage());
        return new Empty();
      }),
      getRootResource: unary(() => new enginePb.GetRootResourceResponse().setUrn(this.rootUrn)),
      setRootResource: unary((req: EnginePb.SetRootResourceRequest) => {
        this.rootUrn = req.getUrn();
        return new enginePb.SetRootResourceResponse();
      }),
      startDebugging: unary(() => new Empty()),
      requirePulumiVersion: unary(() => new enginePb.RequirePulumiVersionResponse()),
    };
  }

  close(): void {
    for (const client of this.callbackClients.values()) client.close();
  }

  private registerResource(
    req: ResourcePb.RegisterResourceRequest,
    cb: Grpc.sendUnaryData<ResourcePb.RegisterResourceResponse>,
  ): void {
    const type = req.getType();
    const name = req.getName();
    const parent = req.getParent();
    const custom = req.getCustom();
    const urn = resourceUrn(this.opts.stack, this.opts.project, parent, type, name);
    if (type === STACK_TYPE && !parent) {
      // The root stack resource: its outputs are the stack outputs; it is not a record.
      this.stackUrn = urn;
      this.registered.set(urn, { parent, transforms: [], id: "", state: {} });
      cb(null, new resourcePb.RegisterResourceResponse().setUrn(urn).setObject(new Struct()));
      return;
    }
    const work = (async () => {
      const { props, options, dependencies } = await this.transform(req);
      const byProperty: string[][] = [];
      req.getPropertydependenciesMap().forEach((deps) => void byProperty.push(deps.getUrnsList()));
      const dependsOn = explicitDependencies(dependencies, byProperty);
      const inputs = decode(props, this.dryRun);
      let id = "";
      let state: Props = {};
      if (custom) {
        const out = (await this.opts.newResource?.({ type, name, inputs })) ?? {};
        id = out.id ?? `${name}-id`;
        state = out.state ?? inputs;
      }
      const object = await encode(state);
      this.registered.set(urn, {
        parent,
        transforms: req.getTransformsList(),
        id,
        state: object.toJavaScript(),
      });
      const record: ResourceRecord = {
        urn,
        type,
        name,
        ...(parent && parent !== this.stackUrn ? { parent } : {}),
        custom,
        inputs: (await normalise(inputs)) as Props,
        ...(Object.keys(options).length > 0 ? { options } : {}),
        ...(dependsOn.length > 0 ? { dependsOn } : {}),
      };
      return {
        record,
        response: new resourcePb.RegisterResourceResponse().setUrn(urn).setId(id).setObject(object),
      };
    })();
    const record = work.then((w) => w.record);
    // Awaited only when the program succeeds; a failed registration fails the program anyway.
    record.catch(() => undefined);
    this.records.push(record);
    work.then(
      (w) => cb(null, w.response),
      (err: unknown) => cb(rpcError(`${urn}: ${err instanceof Error ? err.message : String(err)}`)),
    );
  }

  /**
   * Runs the resource's transforms as the engine does: its own, then each ancestor's, then the stack's,
   * each through the program's callback server. Returns the final properties and the options a record
   * keeps (protect, retainOnDelete, deleteBeforeReplace — only when true).
   */
  private async transform(
    req: ResourcePb.RegisterResourceRequest,
  ): Promise<{ props: Struct | undefined; options: Props; dependencies: string[] }> {
    const chain = [...req.getTransformsList()];
    for (let p = req.getParent(); p; p = this.registered.get(p)?.parent ?? "") {
      chain.push(...(this.registered.get(p)?.transforms ?? []));
    }
    chain.push(...this.stackTransforms);
    let props = req.getObject();
    if (chain.length === 0) {
      return {
        props,
        dependencies: req.getDependenciesList(),
        options: keptOptions(
          req.getProtect(),
          req.getRetainondelete(),
          req.getDeletebeforereplacedefined() || req.getDeletebeforereplace()
            ? req.getDeletebeforereplace()
            : undefined,
          req.getIgnorechangesList(),
        ),
      };
    }
    let opts = transformOptionsOf(req);
    for (const callback of chain) {
      const tr = new resourcePb.TransformRequest();
      tr.setType(req.getType()).setName(req.getName()).setCustom(req.getCustom()).setParent(req.getParent());
      tr.setProperties(props ?? new Struct()).setOptions(opts);
      const bytes = await this.callBack(callback, tr.serializeBinary());
      const res = resourcePb.TransformResponse.deserializeBinary(bytes);
      props = res.getProperties() ?? props;
      opts = res.getOptions() ?? opts;
    }
    return {
      props,
      // A transform may change what the resource depends on, as the engine would take it.
      dependencies: opts.getDependsOnList(),
      options: keptOptions(
        opts.hasProtect() ? opts.getProtect() : undefined,
        opts.hasRetainOnDelete() ? opts.getRetainOnDelete() : undefined,
        opts.hasDeleteBeforeReplace() ? opts.getDeleteBeforeReplace() : undefined,
        opts.getIgnoreChangesList(),
      ),
    };
  }

  private async invoke(req: ResourcePb.ResourceInvokeRequest): Promise<ResourcePb.ResourceInvokeResponse> {
    const token = req.getTok();
    if (token === "pulumi:pulumi:getResource") {
      // How the SDK reads a resource it only knows by URN (a deserialised resource reference).
      const urn = String(req.getArgs()?.toJavaScript()["urn"] ?? "");
      const r = this.registered.get(urn);
      if (!r) throw rpcError(`unknown resource ${urn}`, grpc.status.NOT_FOUND);
      return new resourcePb.ResourceInvokeResponse().setReturn(
        Struct.fromJavaScript({ urn, id: r.id || null, state: r.state } as never),
      );
    }
    let args = req.getArgs();
    for (const callback of this.invokeTransforms) {
      const tr = new resourcePb.TransformInvokeRequest().setToken(token).setArgs(args ?? new Struct());
      const options = new resourcePb.TransformInvokeOptions();
      options.setProvider(req.getProvider()).setVersion(req.getVersion());
      options.setPluginDownloadUrl(req.getPlugindownloadurl());
      tr.setOptions(options);
      const res = resourcePb.TransformInvokeResponse.deserializeBinary(
        await this.callBack(callback, tr.serializeBinary()),
      );
      args = res.getArgs() ?? args;
    }
    if (!this.opts.invoke) {
      throw rpcError(
        `the local monitor has no result for ${token}: pass an invoke hook to runProgram that answers it`,
        grpc.status.UNIMPLEMENTED,
      );
    }
    const result = await this.opts.invoke(token, decode(args, this.dryRun));
    return new resourcePb.ResourceInvokeResponse().setReturn(await encode(result));
  }

  /** `Resource.get(name, id)`: answered from `newResource` like the SDK's MockMonitor; not a record. */
  private async readResource(req: ResourcePb.ReadResourceRequest): Promise<ResourcePb.ReadResourceResponse> {
    const type = req.getType();
    const name = req.getName();
    const urn = resourceUrn(this.opts.stack, this.opts.project, req.getParent(), type, name);
    const inputs = decode(req.getProperties(), this.dryRun);
    const out = (await this.opts.newResource?.({ type, name, inputs })) ?? {};
    const state = await encode(out.state ?? inputs);
    const id = out.id ?? req.getId();
    this.registered.set(urn, { parent: req.getParent(), transforms: [], id, state: state.toJavaScript() });
    return new resourcePb.ReadResourceResponse().setUrn(urn).setProperties(state);
  }

  /** Invoke one of the program's callbacks (a transform) on its callback server. */
  private callBack(callback: CallbackPb.Callback, request: Uint8Array): Promise<Uint8Array> {
    const target = callback.getTarget();
    let client = this.callbackClients.get(target);
    if (!client) {
      client = new callbackGrpc.CallbacksClient(target, grpc.credentials.createInsecure());
      this.callbackClients.set(target, client);
    }
    const req = new callbackPb.CallbackInvokeRequest().setToken(callback.getToken()).setRequest(request);
    const c = client;
    return new Promise((resolve, reject) => {
      c.invoke(req, (err, res) => {
        if (err) reject(new Error(`transform callback failed: ${err.details || err.message}`));
        else resolve(res.getResponse_asU8());
      });
    });
  }
}

function transformOptionsOf(req: ResourcePb.RegisterResourceRequest): ResourcePb.TransformResourceOptions {
  const o = new resourcePb.TransformResourceOptions();
  o.setDependsOnList(req.getDependenciesList());
  if (req.hasProtect()) o.setProtect(req.getProtect() === true);
  o.setIgnoreChangesList(req.getIgnorechangesList());
  o.setReplaceOnChangesList(req.getReplaceonchangesList());
  o.setVersion(req.getVersion());
  const urnAliases = req.getAliasurnsList().map((urn) => new aliasPb.Alias().setUrn(urn));
  o.setAliasesList([...urnAliases, ...req.getAliasesList()]);
  o.setProvider(req.getProvider());
  for (const [k, v] of req.getProvidersMap().entries()) o.getProvidersMap().set(k, v);
  if (req.hasCustomtimeouts()) o.setCustomTimeouts(req.getCustomtimeouts());
  o.setPluginDownloadUrl(req.getPlugindownloadurl());
  if (req.hasRetainondelete()) o.setRetainOnDelete(req.getRetainondelete() === true);
  o.setDeletedWith(req.getDeletedwith());
  if (req.getDeletebeforereplacedefined() || req.getDeletebeforereplace()) {
    o.setDeleteBeforeReplace(req.getDeletebeforereplace());
  }
  o.setAdditionalSecretOutputsList(req.getAdditionalsecretoutputsList());
  if (req.hasHooks()) o.setHooks(req.getHooks());
  o.setImport(req.getImportid());
  o.setHideDiffList(req.getHidediffsList());
  o.setReplaceWithList(req.getReplaceWithList());
  if (req.hasReplacementTrigger()) o.setReplacementTrigger(req.getReplacementTrigger());
  return o;
}

function keptOptions(
  protect: boolean | undefined,
  retainOnDelete: boolean | undefined,
  deleteBeforeReplace: boolean | undefined,
  ignoreChanges: readonly string[],
): Props {
  // In this key order, as the mocks-based synth (infra/synth/mocks.ts) writes them.
  return {
    ...(protect ? { protect: true } : {}),
    ...(retainOnDelete ? { retainOnDelete: true } : {}),
    ...(deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
    ...(ignoreChanges.length > 0 ? { ignoreChanges: [...ignoreChanges] } : {}),
  };
}

/**
 * Runs the Pulumi program under the real `@pulumi/pulumi/cmd/run` runner against the local monitor, and
 * returns every resource it registered (root stack excluded) in tree order (see inTreeOrder) and the
 * stack outputs. Rejects with the program's own error text (error logs and stderr) if it exits
 * non-zero or logs an error.
 */
export async function runProgram(opts: RunOptions): Promise<Synthesis & { log: string[] }> {
  const engine = new LocalEngine(opts);
  const server = new grpc.Server();
  server.addService(resourceGrpc.ResourceMonitorService, engine.monitor());
  server.addService(engineGrpc.EngineService, engine.engine());
  try {
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const addr = `127.0.0.1:${port}`;
    const run = await spawnRunner(opts, addr);
    engine.log.push(...run.output);
    if (run.failure !== undefined || run.code !== 0 || engine.errors.length > 0) {
      const why = run.failure ?? (run.code !== 0 ? `exited with ${run.code}` : "logged an error");
      const text = [...engine.errors, run.stderr.trim()].filter((s) => s !== "").join("\n");
      // The runner colours stack traces (util.inspect with colors); a test failure reads better plain.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences
      const plain = text.replace(/\u001b\[[0-9;]*m/g, "");
      throw new Error(`Pulumi program ${opts.main} ${why}:\n${plain}`);
    }
    const resources = inTreeOrder(await Promise.all(engine.records));
    const outputs = (await normalise(decode(engine.stackOutputs, engine.dryRun))) as Props;
    return { project: opts.project, stack: opts.stack, resources, outputs, log: engine.log };
  } finally {
    engine.close();
    server.forceShutdown();
  }
}

interface RunnerExit {
  code: number | null;
  /** Set when the runner never ran to its own end (spawn error, timeout). */
  failure?: string;
  stderr: string;
  /** stdout and stderr lines, prefixed, for the log. */
  output: string[];
}

/** Start the runner as the language host does and wait for it to exit (killing it on timeout). */
function spawnRunner(opts: RunOptions, addr: string): Promise<RunnerExit> {
  const cwd = path.resolve(opts.cwd);
  // The language host resolves the runner from the program's directory.
  const runner = createRequire(path.join(cwd, "index.js")).resolve("@pulumi/pulumi/cmd/run");
  const args = [
    ...(opts.nodeargs ?? []),
    runner,
    ...["--monitor", addr, "--engine", addr],
    ...["--organization", opts.organization ?? "organization"],
    ...["--project", opts.project, "--root-directory", cwd, "--stack", opts.stack, "--pwd", cwd],
    ...(opts.dryRun ? ["--dry-run"] : []),
    ...["--parallel", "16"],
    opts.main,
  ];
  // The language host passes config keys in their legacy "<namespace>:config:<key>" form.
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config)) {
    const i = k.indexOf(":");
    config[i > 0 ? `${k.slice(0, i)}:config:${k.slice(i + 1)}` : k] = v;
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: "[]",
  };
  if (opts.typescript !== false) env["PULUMI_NODEJS_TYPESCRIPT"] = "true";
  else delete env["PULUMI_NODEJS_TYPESCRIPT"];

  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let failure: string | undefined;
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      failure = `did not finish within ${timeoutMs} ms`;
      child.kill("SIGKILL");
    }, timeoutMs);
    const done = (code: number | null) => {
      clearTimeout(timer);
      const lines = (prefix: string, s: string) =>
        s
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => `${prefix}: ${l}`);
      resolve({
        code,
        stderr,
        output: [...lines("stdout", stdout), ...lines("stderr", stderr)],
        ...(failure !== undefined ? { failure } : {}),
      });
    };
    child.on("error", (err) => {
      failure ??= `could not start: ${err.message}`;
      if (child.pid === undefined) done(null);
    });
    child.on("close", done);
  });
}
