/**
 * What a cloud provider would answer for a new resource, made up deterministically, so references
 * between resources (ARNs, names, URLs) resolve offline exactly as they would after a deploy, apart from
 * the random suffix Pulumi's auto-naming adds to physical names. Used by the mocks (`tributary synth`)
 * and by the local monitor (monitor.ts) the tests run the program against, so both see the same values.
 */

import { fakeAwsOutputs } from "./aws.ts";
import { fakeAzureInvoke, fakeAzureOutputs } from "./azure.ts";
import type { FakeOutputs, NewResource } from "./common.ts";
import { fakeGcpInvoke, fakeGcpOutputs } from "./gcp.ts";

/** The region (or location) a stack's config names, whichever cloud it is for. */
export function configRegion(config: Record<string, string>): string {
  return config["aws:region"] ?? config["gcp:region"] ?? config["azure-native:location"] ?? "us-east-1";
}

/** The provider's answer for one resource: its id and its state (inputs plus computed outputs). */
export function fakeOutputs(r: NewResource, region: string): FakeOutputs {
  if (r.type === "random:index/randomBytes:RandomBytes") {
    // The value of a generated key is the deploy's to make: offline it is a fixed stand-in (never deployed).
    const bytes = Buffer.alloc(Number(r.inputs.length ?? 32), 0x5a);
    return {
      id: `${r.name}-id`,
      state: { ...r.inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") },
    };
  }
  if (r.type.startsWith("gcp:")) return fakeGcpOutputs(r, region);
  if (r.type.startsWith("azure-native:")) return fakeAzureOutputs(r, region);
  return fakeAwsOutputs(r, region);
}

/**
 * What a provider function (an invoke, e.g. the project's storage service account) answers offline.
 * The AWS adapter calls none; each other cloud's file answers its own.
 */
export function fakeInvoke(
  token: string,
  args: Record<string, unknown>,
  config: Record<string, string>,
): Record<string, unknown> {
  const answer = token.startsWith("gcp:")
    ? fakeGcpInvoke(token, args, config)
    : token.startsWith("azure-native:")
      ? fakeAzureInvoke(token, args, config)
      : undefined;
  if (!answer)
    throw new Error(
      `no offline answer for the provider function ${token}; add one in infra/synth/outputs/<cloud>.ts.`,
    );
  return answer;
}
