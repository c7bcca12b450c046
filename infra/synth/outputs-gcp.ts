/** What Google Cloud would answer for a new resource, made up deterministically (see outputs.ts). */
import type { FakeOutputs, NewResource } from "./outputs.ts";

export function fakeGcpOutputs(r: NewResource, _region: string): FakeOutputs {
  return { id: `${r.name}-id`, state: { ...r.inputs } };
}

/** The answer of a provider function, or undefined when there is none offline. */
export function fakeGcpInvoke(
  _token: string,
  _args: Record<string, unknown>,
  _config: Record<string, string>,
): Record<string, unknown> | undefined {
  return undefined;
}
