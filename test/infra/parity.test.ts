/**
 * One table, every cloud: each concept of a stack's deployment plan (store, bus, function, trigger,
 * schedule, grant, alarm) is realised by that cloud's adapter, found in what `synth` registers.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import type { DeploymentPlan, FunctionPlan, GrantPlan, TriggerPlan } from "../../src/infra/plan/types.ts";
import { type ResourceRecord, type Synthesis, synth } from "../../src/infra/synth/index.ts";

/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
const STACKS = { aws: "dev-aws", gcp: "staging-gcp", azure: "prod-azure" } as const;
type Cloud = keyof typeof STACKS;

interface Deployed {
  plan: DeploymentPlan;
  s: Synthesis;
}
const deployed = {} as Record<Cloud, Deployed>;

beforeAll(async () => {
  await Promise.all(
    (Object.keys(STACKS) as Cloud[]).map(async (cloud) => {
      const stack = STACKS[cloud];
      deployed[cloud] = {
        plan: planDeployment(graph, readStackConfig(configMap(example, stack), stack)),
        s: await synth({ root: example, stack }),
      };
    }),
  );
}, 180_000);

/** The resources of a function's component (the component and its children). */
function ofFunction(d: Deployed, fn: FunctionPlan): ResourceRecord[] {
  const components = d.s.resources.filter((r) => !r.custom && r.name === fn.name);
  expect(
    components.map((r) => r.type),
    `component of ${fn.id}`,
  ).toEqual([`tributary:${d.plan.cloud}:AssetFunction`]);
  const urn = components[0]!.urn;
  return d.s.resources.filter((r) => r.urn === urn || r.parent === urn);
}
const text = (rs: ResourceRecord[]) => JSON.stringify(rs.map((r) => r.inputs));
const ofType = (rs: ResourceRecord[], type: string) => rs.filter((r) => r.type === type);

/** How each cloud realises each concept: a check per plan item. */
const REALISE: Record<
  Cloud,
  {
    store: (d: Deployed, id: string) => boolean;
    function: (rs: ResourceRecord[]) => number;
    schedule: (rs: ResourceRecord[], t: Extract<TriggerPlan, { kind: "schedule" }>) => boolean;
    event: (rs: ResourceRecord[], keys: readonly string[]) => boolean;
    grant: (rs: ResourceRecord[], g: GrantPlan) => boolean;
    alarms: (rs: ResourceRecord[]) => number;
    /** The tags (or labels) of a resource naming its asset, pipeline and environment. */
    tags: (r: ResourceRecord) => Record<string, string> | undefined;
  }
> = {
  aws: {
    store: (d, id) =>
      d.s.resources.some((r) => r.type === "aws:s3/bucket:Bucket" && r.name === `${d.plan.prefix}-${id}`),
    function: (rs) => ofType(rs, "aws:lambda/function:Function").length,
    schedule: (rs, t) =>
      ofType(rs, "aws:scheduler/schedule:Schedule").some(
        (r) => r.inputs.scheduleExpressionTimezone === t.timezone,
      ),
    event: (rs, keys) =>
      ofType(rs, "aws:cloudwatch/eventRule:EventRule").some((r) =>
        keys.every((k) => String(r.inputs.eventPattern).includes(`"${k}"`)),
      ),
    grant: (rs, g) => text(ofType(rs, "aws:iam/rolePolicy:RolePolicy")).includes(`/${g.prefix}*`),
    alarms: (rs) => ofType(rs, "aws:cloudwatch/metricAlarm:MetricAlarm").length,
    tags: (r) => r.inputs.tags as Record<string, string> | undefined,
  },
  gcp: {
    store: (d, id) =>
      d.s.resources.some(
        (r) => r.type === "gcp:storage/bucket:Bucket" && r.name === `${d.plan.prefix}-${id}`,
      ),
    function: (rs) => ofType(rs, "gcp:cloudfunctionsv2/function:Function").length,
    schedule: (rs, t) =>
      ofType(rs, "gcp:cloudscheduler/job:Job").some((r) => r.inputs.timeZone === t.timezone),
    event: (rs, keys) =>
      ofType(rs, "gcp:pubsub/subscription:Subscription").some((r) =>
        keys.every((k) => String(r.inputs.filter).includes(`"${k}"`)),
      ),
    grant: (rs, g) =>
      text(ofType(rs, "gcp:storage/bucketIAMMember:BucketIAMMember")).includes(`/objects/${g.prefix}`),
    alarms: (rs) => ofType(rs, "gcp:monitoring/alertPolicy:AlertPolicy").length,
    tags: (r) => (r.inputs.labels ?? r.inputs.userLabels) as Record<string, string> | undefined,
  },
  azure: {
    store: (d, id) =>
      d.s.resources.some(
        (r) => r.type === "azure-native:storage:BlobContainer" && r.inputs.containerName === id,
      ),
    function: (rs) => ofType(rs, "azure-native:web:WebApp").length,
    schedule: (rs) => text(ofType(rs, "azure-native:web:WebApp")).includes("TRIBUTARY_SCHEDULE"),
    event: (rs, keys) =>
      ofType(rs, "azure-native:servicebus:Rule").some((r) => keys.every((k) => text([r]).includes(`'${k}'`))),
    grant: (rs, g) => text(ofType(rs, "azure-native:authorization:RoleAssignment")).includes(`'${g.prefix}`),
    alarms: (rs) =>
      ofType(rs, "azure-native:monitor:MetricAlert").length +
      ofType(rs, "azure-native:monitor:ScheduledQueryRule").length,
    tags: (r) => r.inputs.tags as Record<string, string> | undefined,
  },
};

/**
 * Where a cloud cannot realise a plan alarm, and why: an Azure timer trigger has no dead-letter
 * destination, so a scheduled function's failures surface through its errors alert only.
 */
function expectedAlarms(cloud: Cloud, d: Deployed, fn: FunctionPlan): number {
  const alarms = d.plan.alarms.filter((a) => a.function === fn.id);
  const scheduled = d.plan.triggers.some((t) => t.function === fn.id && t.kind === "schedule");
  return cloud === "azure" && scheduled
    ? alarms.filter((a) => a.kind !== "dead-letters").length
    : alarms.length;
}

describe.each(Object.keys(STACKS) as Cloud[])("plan concepts on %s", (cloud) => {
  it("every store, bus and function of the plan is deployed and output", () => {
    const d = deployed[cloud];
    for (const store of d.plan.stores) expect(REALISE[cloud].store(d, store.id), store.id).toBe(true);
    expect(Object.keys(d.s.outputs.buckets as object).sort()).toEqual(d.plan.stores.map((s) => s.id).sort());
    expect(Object.keys(d.s.outputs.buses as object).sort()).toEqual(d.plan.buses.map((b) => b.id).sort());
    expect(Object.keys(d.s.outputs.functions as object).sort()).toEqual(
      d.plan.functions.map((f) => f.id).sort(),
    );
    for (const fn of d.plan.functions) expect(REALISE[cloud].function(ofFunction(d, fn)), fn.id).toBe(1);
  });

  it("every trigger and schedule, every grant and every alarm is realised in the function's own resources", () => {
    const d = deployed[cloud];
    const r = REALISE[cloud];
    for (const fn of d.plan.functions) {
      const rs = ofFunction(d, fn);
      const t = d.plan.triggers.find((x) => x.function === fn.id);
      if (t?.kind === "schedule") expect(r.schedule(rs, t), `${fn.id} schedule`).toBe(true);
      if (t?.kind === "asset-materialised") expect(r.event(rs, t.upstream), `${fn.id} trigger`).toBe(true);
      if (t?.kind === "source-event") expect(r.event(rs, [t.source]), `${fn.id} trigger`).toBe(true);
      for (const g of d.plan.grants.filter((x) => x.function === fn.id)) {
        expect(r.grant(rs, g), `${fn.id} grant ${g.store}:${g.prefix}`).toBe(true);
      }
      expect(r.alarms(rs), `${fn.id} alarms`).toBe(expectedAlarms(cloud, d, fn));
    }
  });

  it("the function's resources carry its asset, pipeline and environment in their tags or labels", () => {
    const d = deployed[cloud];
    for (const fn of d.plan.functions) {
      const tagged = ofFunction(d, fn)
        .map((r) => REALISE[cloud].tags(r))
        .filter((t): t is Record<string, string> => t !== undefined);
      expect(tagged.length, fn.id).toBeGreaterThan(0);
      for (const t of tagged) {
        const values = Object.values(t);
        expect(values, fn.id).toContain(fn.id);
        expect(values, fn.id).toContain(fn.pipeline);
        expect(values, fn.id).toContain(d.plan.environment);
      }
    }
  });
});
