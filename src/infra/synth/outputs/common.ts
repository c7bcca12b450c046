/** What the clouds' offline answers share: the resource asked about, and the answer's shape. */

export interface NewResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

export interface FakeOutputs {
  readonly id: string;
  readonly state: Record<string, unknown>;
}
