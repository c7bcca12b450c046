import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "./in-process.ts";
import { EXAMPLE } from "./run.ts";

// In the project's folder, as a user runs them: its tributary.config.ts, Pulumi.yaml and stacks/.
const cwd = process.cwd();
beforeAll(() => process.chdir(EXAMPLE));
afterAll(() => process.chdir(cwd));

describe("tributary plan", () => {
  it("prints where data lives, what runs when and what each function reads", async () => {
    const r = await cli("plan", "--stack", "dev-aws");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("stack dev-aws: aws eu-west-1, environment dev, pipelines commerce");
    expect(lines).toContain(
      "customer_features        asset     cron 0 3 * * * (Europe/Berlin)  512 MB   300 s    curated_customers, curated_orders  dead-letters, errors",
    );
    expect(lines).toContain(
      "orders_cdc               ingest    changes of public.orders        512 MB   300 s    -                                  dead-letters, errors",
    );
    expect(lines).toContain("orders_cdc     trib-dev.public.orders     public.orders     7 days");
    expect(lines).toContain(
      "outbox-sweep             sweep     cron */5 * * * * (UTC)          256 MB   120 s    -                                  dead-letters, errors, outbox-age",
    );
    expect(lines).toContain(
      "table-maintenance        maintain  cron 0 3 * * * (UTC)            512 MB   900 s    -                                  dead-letters, errors",
    );
    expect(lines).toContain(
      "tables (Glue database trib_dev, Athena stops a query after 10 GB scanned): curated_customers, curated_orders, customer_features, daily_revenue, recommendation_features, recommendation_vectors",
    );
    expect(lines).toContain(
      "raw         trib-dev-raw         raw                                                                         30 days    -            protected",
    );
  });

  it("prints the whole plan as JSON", async () => {
    const r = await cli("plan", "--stack", "prod-aws", "--json");
    const plan = JSON.parse(r.stdout) as {
      stack: string;
      region: string;
      stores: { coldAfterDays?: number }[];
    };
    expect([plan.stack, plan.region, plan.stores[0]?.coldAfterDays]).toEqual([
      "prod-aws",
      "eu-central-1",
      90,
    ]);
  });

  it("names a stack that does not exist, with the ones that do", async () => {
    const r = await cli("plan", "--stack", "dev-asw");
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        'tributary: stacks/Pulumi.dev-asw.yaml: no such stack file. Did you mean "dev-aws"? Stacks here: dev-aws, prod-aws, prod-azure, staging-gcp.\n',
    });
  });

  it("requires --stack", async () => {
    const r = await cli("plan");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("tributary: required option '--stack <name>' not specified");
  });
});

describe("tributary synth", () => {
  it("prints the resources as a tree under their components, and checks them with the policy pack", async () => {
    const r = await cli("synth", "--stack", "dev-aws", "--check");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines.slice(0, 3)).toEqual([
      "tributary:aws:Alerts  trib-dev-alerts",
      "  aws:sns/topic:Topic  trib-dev-alerts",
      "  aws:sns/topicPolicy:TopicPolicy  trib-dev-alerts-policy",
    ]);
    expect(lines).toContain("  aws:s3/bucket:Bucket  trib-dev-raw [protect, retainOnDelete]");
    expect(lines).toContain("  aws:scheduler/schedule:Schedule  trib-dev-daily-revenue-schedule");
    expect(lines.at(-3)).toMatch(/^stack dev-aws: 175 resources in 24 components\. /);
    expect(lines.at(-2)).toBe("policy pack tributary-security: no violations");
  }, 60_000);

  it("prints every resource's inputs as JSON", async () => {
    const r = await cli("synth", "--stack", "dev-aws", "--json");
    const s = JSON.parse(r.stdout) as { resources: { name: string; inputs: Record<string, unknown> }[] };
    expect(s.resources.find((x) => x.name === "trib-dev-raw-versioning")?.inputs).toEqual({
      bucket: "trib-dev-raw",
      versioningConfiguration: { status: "Enabled" },
    });
  }, 60_000);
});
