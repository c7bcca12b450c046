/**
 * The `tributary-security` policy pack: `pulumi preview --policy-pack infra/policy`.
 *
 * Each rule of `rules/index.ts` runs as a mandatory stack validation policy over the Pulumi engine's
 * resources, adapted to the {@link ResourceRecord}s the rules (and `tributary synth`) read. Importing this module constructs the
 * pack, which starts the analyzer's gRPC server (that is how `@pulumi/policy` serves a pack): tests import
 * `rules/index.ts`, or mock `PolicyPack`.
 */
import {
  PolicyPack,
  type PolicyResource,
  type StackValidationPolicy,
  UnknownValueError,
} from "@pulumi/policy";
import { explicitDependencies, type ResourceRecord } from "../synth/record.ts";
import { UNKNOWN } from "./read.ts";
import type { Rule } from "./rules/common.ts";
import { rules } from "./rules/index.ts";

// UnknownValueError is exported at runtime, but its declaration is stripped from @pulumi/policy's typings
// (proxy.d.ts is empty), so it types as any here.

/**
 * A copy of a policy resource's properties with every value the engine does not know yet (during a preview)
 * replaced by {@link UNKNOWN}, and object keys sorted. The engine's properties throw `UnknownValueError` when
 * an unknown value is read; the rules read plain data instead, and skip what is UNKNOWN.
 */
export function knownValues(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const read = (key: string | number): unknown => {
    try {
      return knownValues((value as Record<string | number, unknown>)[key]);
    } catch (e) {
      if (e instanceof UnknownValueError) return UNKNOWN;
      throw e;
    }
  };
  if (Array.isArray(value)) return Array.from({ length: value.length }, (_, i) => read(i));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = read(key);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * The options a record keeps, as far as the engine tells a policy: `protect` and `deleteBeforeReplace`.
 * It does not pass `retainOnDelete` (nor `replaceOnChanges`): that is UNKNOWN here, and the rules skip it.
 */
function knownOptions(resource: PolicyResource): Record<string, unknown> {
  return {
    ...(resource.opts?.protect ? { protect: true } : {}),
    ...(resource.opts?.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
    retainOnDelete: UNKNOWN,
  };
}

/** An engine resource as the record the rules read. */
export function toRecord(resource: PolicyResource): ResourceRecord {
  const parent = resource.parent?.urn;
  const dependsOn = explicitDependencies(
    (resource.dependencies ?? []).map((d) => d.urn),
    Object.values(resource.propertyDependencies ?? {}).map((ds) => ds.map((d) => d.urn)),
  );
  return {
    urn: resource.urn,
    type: resource.type,
    name: resource.name,
    ...(parent === undefined ? {} : { parent }),
    // Custom resources have a provider; components (and the stack) do not.
    custom: resource.provider !== undefined || resource.type.startsWith("pulumi:providers:"),
    inputs: knownValues(resource.props) as Record<string, unknown>,
    options: knownOptions(resource),
    ...(dependsOn.length > 0 ? { dependsOn } : {}),
  };
}

/** A rule as a mandatory stack validation policy that reports each violation on its resource. */
export function toPolicy(rule: Rule): StackValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
      for (const v of rule.check(args.resources.map(toRecord))) reportViolation(v.message, v.urn);
    },
  };
}

/** The pack's policies: one per rule, in rule order. */
export const policies: StackValidationPolicy[] = rules.map(toPolicy);

new PolicyPack("tributary-security", {
  description:
    "Tributary's AWS security rules: KMS-encrypted private stores, TLS only, no wildcard grants, dead-letter " +
    "queues, log retention and required tags.",
  enforcementLevel: "mandatory",
  policies,
});
