/**
 * The resource-level difference of one stack between two syntheses: what `pulumi up` would create,
 * update, replace and delete if the base were deployed, resource by URN (logical names: a physical name
 * a deploy makes up never enters). Shared by the `pulumi preview --json` reader for what a change means.
 */
import type { ResourceRecord, Synthesis } from "../synth/record.ts";
import { assetsByUrn, gained, holdsData, replaceKeys, typeName } from "./classify.ts";
import type { ResourceChange, ResourceOp, Risk } from "./types.ts";

export interface ResourceDiff {
  readonly resources: readonly ResourceChange[];
  /** Counts by op, and `same`. */
  readonly summary: Readonly<Record<string, number>>;
  readonly risks: readonly Risk[];
}

/** The paths at which two input values differ: `rules[0].expiration.days`, `tags.owner`. */
export function changedPaths(before: unknown, after: unknown, at = ""): string[] {
  if (before === after) return [];
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => changedPaths(b, after[i], `${at}[${i}]`));
  }
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [at || "(value)"];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What a deploy of `head` over `base` does to each resource (either may be absent: a new or gone stack). */
export function diffSyntheses(
  base: Synthesis | undefined,
  head: Synthesis | undefined,
  stack: string,
): ResourceDiff {
  const before = new Map((base?.resources ?? []).filter((r) => r.custom).map((r) => [r.urn, r]));
  const after = new Map((head?.resources ?? []).filter((r) => r.custom).map((r) => [r.urn, r]));
  const assets = new Map([...assetsByUrn(base?.resources ?? []), ...assetsByUrn(head?.resources ?? [])]);
  // A new asset's grants come with it (as in the plan diff): privilege widens when an asset that was
  // already deployed, or the stack as a whole, may do more.
  const deployed = new Set([...before.keys()].map((u) => assets.get(u)));
  const changes: ResourceChange[] = [];
  let same = 0;
  for (const [urn, r] of after) {
    const old = before.get(urn);
    if (!old) {
      const asset = assets.get(urn);
      changes.push(
        change(
          "create",
          r,
          asset,
          undefined,
          undefined,
          undefined,
          base !== undefined && deployed.has(asset),
        ),
      );
      continue;
    }
    const changed = [
      ...changedPaths(old.inputs, r.inputs),
      ...changedPaths(old.options ?? {}, r.options ?? {}).map((p) => `options.${p}`),
    ];
    if (changed.length === 0) {
      same++;
      continue;
    }
    const keys = replaceKeys(r.type, changed);
    changes.push(change(keys.length > 0 ? "replace" : "update", r, assets.get(urn), old, changed, keys));
  }
  for (const [urn, r] of before) {
    if (!after.has(urn)) changes.push(change("delete", r, assets.get(urn), r));
  }
  changes.sort(
    (a, b) => (a.asset ?? "").localeCompare(b.asset ?? "") || (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0),
  );
  const summary: Record<string, number> = {};
  for (const c of changes) summary[c.op] = (summary[c.op] ?? 0) + 1;
  summary.same = same;
  return { resources: changes, summary, risks: risksOf(changes, stack, before, after) };
}

function change(
  op: ResourceOp,
  r: ResourceRecord,
  asset: string | undefined,
  old?: ResourceRecord,
  changed?: readonly string[],
  keys?: readonly string[],
  mayWiden = true,
): ResourceChange {
  const loses = (op === "delete" || op === "replace") && holdsData(r.type);
  const widening = mayWiden && op !== "delete" && gained(r.type, old?.inputs, r.inputs).length > 0;
  return {
    op,
    urn: r.urn,
    type: r.type,
    name: r.name,
    ...(asset === undefined ? {} : { asset }),
    ...(changed && changed.length > 0 ? { changed } : {}),
    ...(keys && keys.length > 0 ? { replaceKeys: keys } : {}),
    ...(loses ? { dataLoss: true } : {}),
    ...(widening ? { widensPrivilege: true } : {}),
  };
}

/** One risk per change that loses data or widens a privilege, and per data resource left unprotected. */
export function risksOf(
  changes: readonly ResourceChange[],
  stack: string,
  before: ReadonlyMap<string, { inputs?: Record<string, unknown>; options?: Record<string, unknown> }>,
  after: ReadonlyMap<string, { inputs?: Record<string, unknown>; options?: Record<string, unknown> }>,
): Risk[] {
  const risks: Risk[] = [];
  for (const c of changes) {
    const what = `${typeName(c.type)} ${c.name}`;
    const base = { stack, ...(c.asset ? { asset: c.asset } : {}), subject: c.urn };
    if (c.dataLoss) {
      risks.push({
        kind: "data-loss",
        ...base,
        message:
          c.op === "delete"
            ? `deletes ${what}: the data it holds is lost`
            : `replaces ${what}${c.replaceKeys?.length ? ` (${c.replaceKeys.join(", ")} changed)` : ""}: a new, empty one takes its place and the old one is deleted with its data`,
      });
    } else if (
      c.op === "update" &&
      holdsData(c.type) &&
      before.get(c.urn)?.options?.protect === true &&
      after.get(c.urn)?.options?.protect !== true
    ) {
      risks.push({
        kind: "data-loss",
        ...base,
        message: `${what} is no longer protected: a later change or \`pulumi destroy\` deletes it with its data`,
      });
    }
    if (c.widensPrivilege) {
      const more = gained(c.type, before.get(c.urn)?.inputs, after.get(c.urn)?.inputs);
      const shown = more.slice(0, 3).join("; ");
      risks.push({
        kind: "privilege-widening",
        ...base,
        message: `${c.op === "create" ? "creates" : c.op === "replace" ? "replaces" : "changes"} ${what}, which grants ${shown}${more.length > 3 ? ` and ${more.length - 3} more` : ""}`,
      });
    }
  }
  return risks;
}
