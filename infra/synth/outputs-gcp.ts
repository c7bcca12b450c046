/** What Google Cloud would answer for a new resource, made up deterministically (see outputs.ts). */
import type { FakeOutputs, NewResource } from "./outputs.ts";

export function fakeGcpOutputs(r: NewResource, _region: string): FakeOutputs {
  return { id: `${r.name}-id`, state: { ...r.inputs } };
}
