/**
 * Reads what `pulumi preview --json` prints — the engine's PreviewDigest (Pulumi's
 * sdk/go/common/display/json.go): `{ config, steps, diagnostics, duration, changeSummary, maybeCorrupt }`,
 * each step `{ op, urn, provider, oldState, newState, diffReasons, replaceReasons, detailedDiff }` with
 * states in the checkpoint's resource shape (`urn, custom, type, inputs, outputs, parent, protect…`) —
 * and turns it into the same resource changes as the synthesis diff, grouped by asset.
 */

import { assetsByUrn, holdsData, replaceKeys, UNKNOWN_VALUE, widens } from "./classify.ts";
import { PreviewError } from "./git.ts";
import { risksOf, type StateOf } from "./resources.ts";
import type { ResourceChange, ResourceOp, Risk, StackPreview } from "./types.ts";

/** What an output or input not known until the deploy looks like in the JSON. */
export { UNKNOWN_VALUE };

export interface ResourceState {
  readonly urn: string;
  readonly type: string;
  readonly custom?: boolean;
  readonly parent?: string;
  readonly inputs?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
  readonly protect?: boolean;
  readonly retainOnDelete?: boolean;
}

export interface PropertyDiff {
  readonly kind: "add" | "add-replace" | "delete" | "delete-replace" | "update" | "update-replace";
  readonly inputDiff?: boolean;
}

export interface PreviewStep {
  readonly op: string;
  readonly urn: string;
  readonly provider?: string;
  readonly oldState?: ResourceState;
  readonly newState?: ResourceState;
  readonly diffReasons?: readonly string[];
  readonly replaceReasons?: readonly string[];
  readonly detailedDiff?: Readonly<Record<string, PropertyDiff>> | null;
}

export interface PreviewDigest {
  readonly config?: Record<string, string>;
  readonly steps?: readonly PreviewStep[];
  readonly diagnostics?: readonly { urn?: string; message?: string; severity?: string }[];
  readonly changeSummary?: Readonly<Record<string, number>>;
  readonly maybeCorrupt?: boolean;
}

/** Parse and check the shape of one `pulumi preview --json` output; errors name the file and the step. */
export function readPreviewDigest(text: string, file: string): PreviewDigest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PreviewError(
      `${file} is not JSON (${(e as Error).message}): give the output of \`pulumi preview --json\`, without other text.`,
    );
  }
  const d = doc as Record<string, unknown> | null;
  if (
    typeof d !== "object" ||
    d === null ||
    Array.isArray(d) ||
    (!("steps" in d) && !("changeSummary" in d))
  ) {
    throw new PreviewError(
      `${file} is not the output of \`pulumi preview --json\`: it has neither "steps" nor "changeSummary".`,
    );
  }
  if (d.steps !== undefined && !Array.isArray(d.steps)) {
    throw new PreviewError(`${file}: "steps" is not a list.`);
  }
  ((d.steps as unknown[] | undefined) ?? []).forEach((s, i) => {
    const step = s as Record<string, unknown> | null;
    if (typeof step?.op !== "string" || typeof step.urn !== "string") {
      throw new PreviewError(
        `${file}: step ${i + 1} has no ${typeof step?.op !== "string" ? '"op"' : '"urn"'}.`,
      );
    }
  });
  return d as PreviewDigest;
}

/** The stack named in a URN: `urn:pulumi:<stack>::<project>::…`. */
function stackOfUrn(urn: string): string | undefined {
  return /^urn:pulumi:([^:]+)::/.exec(urn)?.[1];
}

const isInfrastructure = (type: string) =>
  type === "pulumi:pulumi:Stack" || type.startsWith("pulumi:providers:") || type.startsWith("tributary:");

/** Every op `pulumi preview --json` prints (sdk/go/common/resource/deploy: StepOp). */
const KNOWN_OPS = new Set([
  "same",
  "create",
  "update",
  "delete",
  "replace",
  "create-replacement",
  "delete-replaced",
  "read",
  "read-replacement",
  "refresh",
  "discard",
  "discard-replaced",
  "remove-pending-replace",
  "import",
  "import-replacement",
]);

/**
 * What the steps of one URN do to the cloud resource. A replacement comes as up to three steps
 * (create-replacement, replace, delete-replaced; an import-replacement for an imported one). An import
 * adds an existing resource to the stack: a create, for the stack. Reads, refreshes, discards (a read
 * resource leaving the state, the cloud resource untouched) and pending-replace clean-ups change nothing.
 */
function opOf(ops: ReadonlySet<string>): ResourceOp | undefined {
  if (["replace", "create-replacement", "delete-replaced", "import-replacement"].some((o) => ops.has(o))) {
    return "replace";
  }
  if (ops.has("create") || ops.has("import")) return "create";
  if (ops.has("delete")) return "delete";
  if (ops.has("update")) return "update";
  return undefined;
}

function optionsOf(s: ResourceState): Record<string, unknown> {
  return {
    ...(s.protect === undefined ? {} : { protect: s.protect }),
    ...(s.retainOnDelete === undefined ? {} : { retainOnDelete: s.retainOnDelete }),
  };
}

/**
 * The paths, less those that a more precise one lies under: `diffReasons` name top-level inputs
 * (`rules`) and `detailedDiff` the paths below them (`rules[0].expiration.days`), and a reader needs
 * each change once.
 */
function precise(paths: readonly string[]): string[] {
  const all = [...new Set(paths)];
  const under = (q: string, p: string) => q.startsWith(`${p}.`) || q.startsWith(`${p}[`);
  return all.filter((p) => !all.some((q) => under(q, p))).sort();
}

/** Paths of unknown values in a state's inputs and outputs. */
function unknownPaths(value: unknown, at = ""): string[] {
  if (value === UNKNOWN_VALUE) return [at];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownPaths(v, `${at}[${i}]`));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => unknownPaths(v, at ? `${at}.${k}` : k));
  }
  return [];
}

/**
 * One stack's changes from its preview. `stack` names it (else the steps' URNs do). Replacements come
 * as up to three steps for one URN (create-replacement, replace, delete-replaced) and become one
 * `replace`; reads, refreshes and steps that change nothing count as "same".
 */
export function previewOfDigest(
  digest: PreviewDigest,
  stack?: string,
): { stack: StackPreview; risks: Risk[] } {
  const steps = digest.steps ?? [];
  const name = stack ?? steps.map((s) => stackOfUrn(s.urn)).find((s) => s !== undefined) ?? "stack";
  const states = steps.flatMap((s) =>
    [s.oldState, s.newState].filter((x): x is ResourceState => x !== undefined),
  );
  const assets = assetsByUrn(states.map((s) => ({ urn: s.urn, parent: s.parent, inputs: s.inputs })));
  // Assets already deployed: a new asset's grants come with it, as in the synthesis diff.
  const deployed = new Set(steps.filter((s) => s.oldState).map((s) => assets.get(s.urn)));
  const byUrn = new Map<string, PreviewStep[]>();
  for (const s of steps) byUrn.set(s.urn, [...(byUrn.get(s.urn) ?? []), s]);

  const changes: ResourceChange[] = [];
  const before = new Map<string, StateOf>();
  const after = new Map<string, StateOf>();
  let same = 0;
  const unknownOps = new Set<string>();
  for (const [urn, group] of byUrn) {
    const ops = new Set(group.map((s) => s.op));
    const old = group.find((s) => s.oldState)?.oldState;
    const now = [...group].reverse().find((s) => s.newState)?.newState;
    const type = now?.type ?? old?.type ?? urn.split("::")[2]?.split("$").pop() ?? "";
    if (isInfrastructure(type) || (now?.custom === false && old?.custom !== true)) continue;
    const op = opOf(ops);
    for (const o of ops) if (!KNOWN_OPS.has(o)) unknownOps.add(o);
    if (!op) {
      same++;
      continue;
    }
    const detailed = Object.assign({}, ...group.map((s) => s.detailedDiff ?? {})) as Record<
      string,
      PropertyDiff
    >;
    const changed = precise([...Object.keys(detailed), ...group.flatMap((s) => s.diffReasons ?? [])]);
    const fromReasons = group.flatMap((s) => s.replaceReasons ?? []);
    const fromDetail = Object.entries(detailed)
      .filter(([, d]) => d.kind.endsWith("-replace"))
      .map(([k]) => k);
    // Without reasons from Pulumi (a `--replace`, a `replaceOnChanges`), the table's; else none.
    const keys =
      op !== "replace"
        ? []
        : fromReasons.length + fromDetail.length > 0
          ? precise([...fromReasons, ...fromDetail])
          : replaceKeys(type, changed);
    const unknown = now
      ? [...new Set([...unknownPaths(now.inputs), ...unknownPaths(now.outputs)])].sort()
      : [];
    const asset = assets.get(urn);
    if (old) before.set(urn, { inputs: old.inputs, options: optionsOf(old) });
    if (now) after.set(urn, { inputs: now.inputs, options: optionsOf(now) });
    const loses = (op === "delete" || op === "replace") && holdsData(type);
    const widening =
      op !== "delete" && widens(type, old?.inputs, now?.inputs) && (op !== "create" || deployed.has(asset));
    changes.push({
      op,
      urn,
      type,
      name: urn.split("::").pop() ?? urn,
      ...(asset === undefined ? {} : { asset }),
      ...(changed.length > 0 ? { changed } : {}),
      ...(keys.length > 0 ? { replaceKeys: keys } : {}),
      ...(unknown.length > 0 ? { unknown } : {}),
      ...(loses ? { dataLoss: true } : {}),
      ...(widening ? { widensPrivilege: true } : {}),
    });
  }
  changes.sort(
    (a, b) => (a.asset ?? "").localeCompare(b.asset ?? "") || (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0),
  );
  const summary: Record<string, number> = {};
  for (const c of changes) summary[c.op] = (summary[c.op] ?? 0) + 1;
  summary.same = digest.changeSummary?.same ?? same;
  const notes: string[] = [];
  for (const d of digest.diagnostics ?? []) {
    if (d.severity === "error" && d.message) notes.push(`error: ${d.message.trim()}`);
  }
  if (digest.maybeCorrupt) notes.push("Pulumi reports that the stack's state may be corrupt");
  if (unknownOps.size > 0) {
    notes.push(`steps of an op this reader does not know, left out: ${[...unknownOps].sort().join(", ")}`);
  }
  return {
    stack: {
      stack: name,
      source: "pulumi-preview",
      resources: changes,
      summary,
      ...(notes.length > 0 ? { notes } : {}),
    },
    risks: risksOf(changes, name, before, after),
  };
}
