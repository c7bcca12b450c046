/**
 * What a change does to one stack's deployment plan, item by logical id: stores, buses, functions,
 * triggers, grants and alarms added, removed or changed, field by field. The plan is cloud-neutral and
 * carries no physical names that a deploy makes up, so this is the infrastructure difference without
 * noise, and it takes milliseconds where a synthesis takes seconds.
 */
import type { DeploymentPlan, GrantPlan, StorePlan } from "../plan/types.ts";
import type { PlanItemChange, Risk } from "./types.ts";

export interface PlanDiff {
  readonly changes: readonly PlanItemChange[];
  /** Data loss (a store removed, unprotected or keeping data for less time) and privilege widening. */
  readonly risks: readonly Risk[];
}

type Item = { readonly id: string; readonly asset?: string; readonly value: Record<string, unknown> };

export function diffPlans(stack: string, base?: DeploymentPlan, head?: DeploymentPlan): PlanDiff {
  const changes: PlanItemChange[] = [];
  const risks: Risk[] = [];
  const section = (name: PlanItemChange["section"], before: readonly Item[], after: readonly Item[]) => {
    const b = new Map(before.map((i) => [i.id, i]));
    const a = new Map(after.map((i) => [i.id, i]));
    for (const i of before) {
      if (!a.has(i.id)) changes.push({ section: name, id: i.id, op: "remove", ...asset(i) });
    }
    for (const i of after) {
      const old = b.get(i.id);
      if (!old) {
        changes.push({ section: name, id: i.id, op: "add", ...asset(i) });
        continue;
      }
      // Most items of a plan are the same at both revisions: one comparison of their text first.
      if (JSON.stringify(old.value) === JSON.stringify(i.value)) continue;
      const fields = fieldChanges(old.value, i.value);
      if (fields.length > 0) changes.push({ section: name, id: i.id, op: "change", ...asset(i), fields });
    }
  };

  const stackItem = (p: DeploymentPlan | undefined): Item[] =>
    p
      ? [
          {
            id: "stack",
            value: {
              cloud: p.cloud,
              region: p.region,
              environment: p.environment,
              prefix: p.prefix,
              pipelines: p.pipelines,
              alertEmail: p.alertEmail,
              tags: p.tags,
              logRetentionDays: p.logRetentionDays,
            },
          },
        ]
      : [];
  section("stack", stackItem(base), stackItem(head));
  section("stores", storeItems(base), storeItems(head));
  section(
    "buses",
    (base?.buses ?? []).map((b) => ({ id: b.id, value: { ...b } })),
    (head?.buses ?? []).map((b) => ({ id: b.id, value: { ...b } })),
  );
  // A plan of a release before the streams has none.
  const streamItems = (p?: DeploymentPlan): Item[] =>
    (p?.streams ?? []).map((s) => ({ id: s.source, asset: s.source, value: { ...s } }));
  section("streams", streamItems(base), streamItems(head));
  const fnItems = (p?: DeploymentPlan): Item[] =>
    (p?.functions ?? []).map((f) => ({ id: f.id, asset: f.id, value: { ...f } }));
  section("functions", fnItems(base), fnItems(head));
  const triggerItems = (p?: DeploymentPlan): Item[] =>
    (p?.triggers ?? []).map((t) => ({ id: t.function, asset: t.function, value: { ...t } }));
  section("triggers", triggerItems(base), triggerItems(head));
  const grantsBefore = grantItems(base);
  const grantsAfter = grantItems(head);
  section("grants", grantsBefore, grantsAfter);
  // Secrets by name: never a value, only what it is for, where its value comes from and who reads it.
  const secretItems = (p?: DeploymentPlan): Item[] =>
    (p?.secrets ?? []).map((s) => ({ id: s.name, value: { ...s } }));
  section("secrets", secretItems(base), secretItems(head));
  const alarmItems = (p?: DeploymentPlan): Item[] =>
    (p?.alarms ?? []).map((a) => ({ id: a.id, asset: a.function, value: { ...a } }));
  section("alarms", alarmItems(base), alarmItems(head));

  risks.push(...storeRisks(stack, base, head));
  if (base && head) risks.push(...grantRisks(stack, base, grantsBefore, grantsAfter));
  if (base && head) risks.push(...secretRisks(stack, base, head));
  return { changes, risks };
}

/** A function that existed before and may now read a secret it could not. */
function secretRisks(stack: string, base: DeploymentPlan, head: DeploymentPlan): Risk[] {
  const existed = new Set(base.functions.map((f) => f.id));
  const before = new Map((base.secrets ?? []).map((s) => [s.name, new Set(s.readers)]));
  const risks: Risk[] = [];
  for (const s of head.secrets ?? []) {
    for (const reader of s.readers) {
      if (!existed.has(reader) || before.get(s.name)?.has(reader)) continue;
      risks.push({
        kind: "privilege-widening",
        stack,
        asset: reader,
        subject: `secret ${s.name}`,
        message: `${reader} may now read the secret ${s.name} (${s.use})`,
      });
    }
  }
  return risks;
}

function asset(i: Item): { asset?: string } {
  return i.asset === undefined ? {} : { asset: i.asset };
}

function storeItems(p?: DeploymentPlan): Item[] {
  return (p?.stores ?? []).map((s) => ({ id: s.id, value: { ...s } }));
}

/** A grant's identity: who may do it where. What it may do there (access) is its value. */
function grantId(g: GrantPlan): string {
  return `${g.function} on ${g.store}:${g.prefix}`;
}

function grantItems(p?: DeploymentPlan): Item[] {
  const byId = new Map<string, { grant: GrantPlan; access: Set<string>; reasons: Set<string> }>();
  for (const g of p?.grants ?? []) {
    const id = grantId(g);
    const item = byId.get(id) ?? { grant: g, access: new Set<string>(), reasons: new Set<string>() };
    for (const a of g.access) item.access.add(a);
    item.reasons.add(g.reason);
    byId.set(id, item);
  }
  return [...byId].map(([id, { grant, access, reasons }]) => ({
    id,
    asset: grant.function,
    value: { access: [...access].sort(), reason: [...reasons].sort() },
  }));
}

/** "field: before → after" for every field that differs, nested objects by dotted path. */
export function fieldChanges(before: unknown, after: unknown, at = ""): string[] {
  if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => fieldChanges(before[k], after[k], at ? `${at}.${k}` : k));
  }
  const b = text(before);
  const a = text(after);
  return b === a ? [] : [`${at}: ${b} → ${a}`];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function text(v: unknown): string {
  if (v === undefined) return "-";
  if (Array.isArray(v))
    return v.length === 0 ? "[]" : v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(", ");
  return typeof v === "string" ? v : JSON.stringify(v);
}

function days(s: StorePlan): string {
  return s.retentionDays === undefined ? "for ever" : `${s.retentionDays} days`;
}

function storeRisks(stack: string, base?: DeploymentPlan, head?: DeploymentPlan): Risk[] {
  if (!base) return [];
  const after = new Map((head?.stores ?? []).map((s) => [s.id, s]));
  const risks: Risk[] = [];
  for (const s of base.stores) {
    const now = after.get(s.id);
    const subject = `store ${s.id} (${s.name})`;
    if (!now) {
      risks.push({
        kind: "data-loss",
        stack,
        subject,
        message: `the ${s.id} store leaves the plan: its bucket and the data in it are deleted unless protected`,
      });
      continue;
    }
    const protectedBefore = (s as { protect?: boolean }).protect;
    const protectedNow = (now as { protect?: boolean }).protect;
    if (protectedBefore === true && protectedNow === false) {
      risks.push({
        kind: "data-loss",
        stack,
        subject,
        message: `the ${s.id} store is no longer protected: a later change or \`pulumi destroy\` deletes it with its data`,
      });
    }
    const shorter =
      now.retentionDays !== undefined &&
      (s.retentionDays === undefined || now.retentionDays < s.retentionDays);
    if (shorter) {
      risks.push({
        kind: "data-loss",
        stack,
        subject,
        message: `the ${s.id} store keeps objects ${days(now)} instead of ${days(s)}: objects older than that are deleted by the next lifecycle run`,
      });
    }
  }
  return risks;
}

/** A function that existed before and may now do more: a new (store, prefix) or more access there. */
function grantRisks(
  stack: string,
  base: DeploymentPlan,
  grantsBefore: readonly Item[],
  grantsAfter: readonly Item[],
): Risk[] {
  const existed = new Set(base.functions.map((f) => f.id));
  const before = new Map(grantsBefore.map((i) => [i.id, new Set(i.value.access as string[])]));
  const risks: Risk[] = [];
  for (const item of grantsAfter) {
    if (!existed.has(item.asset!)) continue;
    const access = item.value.access as string[];
    const had = before.get(item.id);
    const gained = access.filter((a) => !had?.has(a));
    if (gained.length === 0) continue;
    risks.push({
      kind: "privilege-widening",
      stack,
      asset: item.asset!,
      subject: `grant ${item.id}`,
      message: had
        ? `${item.asset} may now also ${gained.join(", ")} ${item.id.slice(item.asset!.length + 4)} (${(item.value.reason as string[]).join(", ")})`
        : `${item.asset} may now ${gained.join(", ")} ${item.id.slice(item.asset!.length + 4)} (${(item.value.reason as string[]).join(", ")})`,
    });
  }
  return risks;
}
