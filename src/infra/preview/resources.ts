/**
 * The resource-level difference of one stack between two syntheses: what `pulumi up` would create,
 * update, replace and delete if the base were deployed, resource by URN (logical names: a physical name
 * a deploy makes up never enters). Shared by the `pulumi preview --json` reader for what a change means.
 */
import type { ResourceRecord, Synthesis } from "../synth/record.ts";
import { assetsByUrn, gained, holdsData, replaceKeys, typeName, widens } from "./classify.ts";
import type { ResourceChange, ResourceOp, Risk } from "./types.ts";

export interface ResourceDiff {
  readonly resources: readonly ResourceChange[];
  /** Counts by op, and `same`. */
  readonly summary: Readonly<Record<string, number>>;
  readonly risks: readonly Risk[];
}

/**
 * The paths at which two input values differ: `rules[0].expiration.days`, `tags.owner`. Lists are
 * compared item by item; when each item of both is an object with its own `id` (or `name`), as
 * lifecycle rules are, items are matched by it, so a rule added in the middle is that rule's path
 * rather than a shift of every rule after it (head positions; a removed item's is its base position).
 * Two Pulumi assets or archives read from a path (`{ $archive: { path } }`) are the same when the path
 * is the same relative path (`sameFile`): the folder a synthesis read them from is not the code.
 */
export function changedPaths(before: unknown, after: unknown, at = ""): string[] {
  if (before === after) return [];
  if (Array.isArray(before) && Array.isArray(after)) {
    const key = itemKey(before, after);
    if (key) return keyedPaths(key, before, after, at);
    if (before.length === after.length) {
      return before.flatMap((b, i) => changedPaths(b, after[i], `${at}[${i}]`));
    }
  } else if (isRecord(before) && isRecord(after)) {
    if (sameFile(before, after)) return [];
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [at || "(value)"];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The field that names each item of both lists uniquely (`id`, else `name`), if one does. */
function itemKey(a: readonly unknown[], b: readonly unknown[]): "id" | "name" | undefined {
  const all = [...a, ...b];
  if (all.length === 0 || !all.every(isRecord)) return undefined;
  return (["id", "name"] as const).find((k) =>
    [a, b].every((list) => {
      const values = list.map((item) => (item as Record<string, unknown>)[k]);
      return values.every((v) => typeof v === "string") && new Set(values).size === values.length;
    }),
  );
}

function keyedPaths(
  key: string,
  before: readonly unknown[],
  after: readonly unknown[],
  at: string,
): string[] {
  const named = (list: readonly unknown[]) =>
    new Map(list.map((item, i) => [(item as Record<string, string>)[key], { item, i }]));
  const was = named(before);
  const is = named(after);
  const out = new Set<string>();
  for (const [name, { item, i }] of is) {
    const old = was.get(name);
    if (!old) out.add(`${at}[${i}]`);
    else for (const p of changedPaths(old.item, item, `${at}[${i}]`)) out.add(p);
  }
  for (const [name, { i }] of was) if (!is.has(name)) out.add(`${at}[${i}]`);
  return [...out].sort(byPath);
}

/** Paths in reading order: `rules[2]` before `rules[10]`. */
function byPath(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** A Pulumi asset or archive read from a file: `{ $asset: { path } }` or `{ $archive: { path } }`. */
function filePath(v: Record<string, unknown>): string | undefined {
  const keys = Object.keys(v);
  if (keys.length !== 1 || (keys[0] !== "$asset" && keys[0] !== "$archive")) return undefined;
  const body = v[keys[0]];
  if (!isRecord(body) || Object.keys(body).length !== 1 || typeof body.path !== "string") return undefined;
  return body.path;
}

/**
 * Two assets or archives of the same relative path: equal relative paths, or absolute paths that end in
 * the same file or folder (`/tmp/b/aws-arm64` and `/home/ci/bundles/aws-arm64`). What the file holds is
 * the caller's to compare (a diff compares function code through the assets' code versions).
 */
function sameFile(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const pa = filePath(a);
  const pb = filePath(b);
  if (pa === undefined || pb === undefined || Object.keys(a)[0] !== Object.keys(b)[0]) return false;
  const norm = (p: string) => p.replace(/\\/g, "/").replace(/\/+$/, "");
  const absolute = (p: string) => p.startsWith("/") || /^[A-Za-z]:\//.test(p);
  const [na, nb] = [norm(pa), norm(pb)];
  if (!absolute(na) || !absolute(nb)) return na === nb;
  return na.split("/").pop() === nb.split("/").pop();
}

/**
 * What a deploy of `head` over `base` does to each resource (either may be absent: a new or gone stack).
 * `stack` names the stack in the risks; by default, the syntheses'.
 */
export function diffSyntheses(
  base: Synthesis | undefined,
  head: Synthesis | undefined,
  stack: string = head?.stack ?? base?.stack ?? "",
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
  const widening = mayWiden && op !== "delete" && widens(r.type, old?.inputs, r.inputs);
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

/** A resource's inputs and options at one revision, as much as the risks need of them. */
export interface StateOf {
  readonly inputs?: Readonly<Record<string, unknown>>;
  readonly options?: Readonly<Record<string, unknown>>;
}

/**
 * What deleting or replacing a resource that holds data does, for a reader. The engine refuses to
 * delete a protected resource (the deployed state's `protect` for a delete; the program's for a
 * replacement, which the same update may lift), and leaves a retained one in the cloud, unmanaged.
 */
function lossMessage(c: ResourceChange, what: string, old?: StateOf, now?: StateOf): string {
  const retained = old?.options?.retainOnDelete === true;
  if (c.op === "delete") {
    if (old?.options?.protect === true) {
      return `deletes ${what}: it is protected, so \`pulumi up\` stops with an error; unprotected, the data it holds is lost`;
    }
    return retained
      ? `removes ${what} from the stack: it is retained in the cloud with its data, but no longer managed or used`
      : `deletes ${what}: the data it holds is lost`;
  }
  const why = c.replaceKeys?.length ? ` (${c.replaceKeys.join(", ")} changed)` : "";
  if (now?.options?.protect === true) {
    return `replaces ${what}${why}: it is protected, so \`pulumi up\` stops with an error; unprotected, a new, empty one takes its place and the old one is deleted with its data`;
  }
  return retained
    ? `replaces ${what}${why}: a new, empty one takes its place; the old one is retained with its data, but no longer used`
    : `replaces ${what}${why}: a new, empty one takes its place and the old one is deleted with its data`;
}

/** One risk per change that loses data or widens a privilege, and per data resource left unprotected. */
export function risksOf(
  changes: readonly ResourceChange[],
  stack: string,
  before: ReadonlyMap<string, StateOf>,
  after: ReadonlyMap<string, StateOf>,
): Risk[] {
  const risks: Risk[] = [];
  for (const c of changes) {
    const what = `${typeName(c.type)} ${c.name}`;
    const base = { stack, ...(c.asset ? { asset: c.asset } : {}), subject: c.urn };
    if (c.dataLoss) {
      risks.push({
        kind: "data-loss",
        ...base,
        message: lossMessage(c, what, before.get(c.urn), after.get(c.urn)),
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
