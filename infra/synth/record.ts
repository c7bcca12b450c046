/**
 * One resource as the Pulumi program registered it, in a form that prints, diffs and compares: what
 * `tributary synth` prints, what the local engine records, what the policy pack checks offline.
 */
import * as pulumi from "@pulumi/pulumi";

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
  /** Resource options that change what a deploy does (protect, retainOnDelete, deleteBeforeReplace…). */
  readonly options?: Record<string, unknown>;
}

/** Stack outputs plus every registered resource, in registration order. */
export interface Synthesis {
  readonly project: string;
  readonly stack: string;
  readonly resources: ResourceRecord[];
  readonly outputs: Record<string, unknown>;
}

/**
 * A value as JSON with object keys sorted and undefined dropped, so two registrations of the same
 * inputs print byte-identically. Pulumi assets and archives (whose fields are promises) become
 * `{ "$asset": { text | path | uri } }` and `{ "$archive": { assets | path | uri } }`.
 */
export async function normalise(value: unknown): Promise<unknown> {
  if (value === null || value === undefined) return value;
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
