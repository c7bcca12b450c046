/**
 * One resource as the Pulumi program registered it, in a form that prints, diffs and compares: what
 * `tributary synth` prints, what the local monitor (monitor.ts) records, what the policy pack checks offline.
 */
import * as pulumi from "@pulumi/pulumi";

/** The type of the root resource every program registers. */
export const STACK_TYPE = "pulumi:pulumi:Stack";

export interface ResourceRecord {
  /** The resource's URN: `urn:pulumi:<stack>::<project>::<parent types$>type::name`. */
  readonly urn: string;
  /** Pulumi type token, e.g. `aws:s3/bucket:Bucket` or `tributary:aws:Store`. */
  readonly type: string;
  /** The logical name given to the constructor. */
  readonly name: string;
  /** The parent's URN; absent for children of the stack. */
  readonly parent?: string;
  /** True for a cloud resource, false for a component (which groups others). */
  readonly custom: boolean;
  /** The inputs as registered: outputs resolved, keys sorted, undefined dropped, assets described. */
  readonly inputs: Record<string, unknown>;
  /**
   * Resource options that change what a deploy does (protect, retainOnDelete, deleteBeforeReplace,
   * ignoreChanges).
   */
  readonly options?: Record<string, unknown>;
  /**
   * The URNs of the resources it waits for beyond those its inputs name (its `dependsOn`, a component
   * there standing for the cloud resources under it), sorted; absent when none.
   */
  readonly dependsOn?: string[];
}

/**
 * The dependencies a resource was given with `dependsOn`: all of its direct dependencies (what the SDK
 * sends the engine) but those its properties name. Sorted, without repeats.
 */
export function explicitDependencies(
  all: Iterable<string>,
  byProperty: Iterable<Iterable<string>>,
): string[] {
  const implied = new Set<string>();
  for (const urns of byProperty) for (const urn of urns) implied.add(urn);
  return [...new Set([...all].filter((urn) => !implied.has(urn)))].sort();
}

/** Stack outputs plus every registered resource, in registration order. */
export interface Synthesis {
  readonly project: string;
  readonly stack: string;
  readonly resources: ResourceRecord[];
  readonly outputs: Record<string, unknown>;
}

/**
 * What a secret value prints as: its place is shown, its value never. Secret config, generated keys and
 * anything computed from them are Pulumi secrets; the SDK hands them to the engine (and to the mocks)
 * wrapped, and the wrapping is all `tributary synth`, the runner's records and the preview ever show.
 */
export const SECRET_MARKER = Object.freeze({ $secret: true });

/** Whether a deserialised property is a Pulumi secret (the SDK's wrapper of a secret value). */
export function isSecretValue(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
  );
}

/**
 * A value as JSON with object keys sorted and undefined dropped, so two registrations of the same
 * inputs print byte-identically. Pulumi assets and archives (whose fields are promises) become
 * `{ "$asset": { text | path | uri } }` and `{ "$archive": { assets | path | uri } }`; a secret becomes
 * {@link SECRET_MARKER}, whatever it holds.
 */
export async function normalise(value: unknown): Promise<unknown> {
  if (value === null || value === undefined) return value;
  if (isSecretValue(value)) return { ...SECRET_MARKER };
  if (Array.isArray(value)) return Promise.all(value.map((v) => (v === undefined ? null : normalise(v))));
  if (pulumi.asset.Asset.isInstance(value)) return { $asset: await describe(value) };
  if (pulumi.asset.Archive.isInstance(value)) return { $archive: await describe(value) };
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = await normalise(v);
    }
    return out;
  }
  return value;
}

async function describe(a: object): Promise<Record<string, unknown>> {
  const o = a as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ["text", "path", "uri", "assets"]) {
    const v = await o[k];
    if (v !== undefined) out[k] = await normalise(v);
  }
  return out;
}

/**
 * A resource's URN as the Pulumi engine (and the SDK's `createUrn`) computes it: the qualified type is
 * the parent's whole qualified type chain, `$`-joined with the type, the root stack excluded. (The
 * SDK's MockMonitor prefixes only the parent's own type, so its URNs differ from two levels down.)
 */
export function resourceUrn(
  stack: string,
  project: string,
  parent: string,
  type: string,
  name: string,
): string {
  const parentType = parent ? (parent.split("::")[2] ?? "") : "";
  const qualified = parentType && parentType !== STACK_TYPE ? `${parentType}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/**
 * Records in tree order — each parent followed by its children, siblings (and roots) by URN — so that
 * the engine's records and the mocks' come in the same order. The order in which registrations arrive
 * depends on when earlier answers arrive (a resource registers once the outputs it takes are resolved),
 * so over gRPC it changes from run to run, and differs from the order the in-process MockMonitor sees.
 * URNs are unique, so this order is total and reproducible.
 */
export function inTreeOrder(records: readonly ResourceRecord[]): ResourceRecord[] {
  const byUrn = (a: ResourceRecord, b: ResourceRecord) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0);
  const urns = new Set(records.map((r) => r.urn));
  const children = new Map<string, ResourceRecord[]>();
  const roots: ResourceRecord[] = [];
  for (const r of records) {
    if (r.parent !== undefined && urns.has(r.parent))
      children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    else roots.push(r);
  }
  const out: ResourceRecord[] = [];
  const visit = (r: ResourceRecord): void => {
    out.push(r);
    for (const c of (children.get(r.urn) ?? []).sort(byUrn)) visit(c);
  };
  for (const r of roots.sort(byUrn)) visit(r);
  return out;
}
