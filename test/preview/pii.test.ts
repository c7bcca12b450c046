/**
 * The pull-request preview flags new flows of personal data (an asset that outputs or holds it in a
 * column it did not) and a function that may now read a secret; it lists secrets by name, never a value.
 */
import { describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import type { DeploymentPlan } from "../../src/infra/plan/types.ts";
import { diffGraph } from "../../src/infra/preview/graph-diff.ts";
import { renderMarkdown } from "../../src/infra/preview/markdown.ts";
import { diffPlans } from "../../src/infra/preview/plan-diff.ts";
import { snapshotOf, withPii } from "../../src/infra/preview/snapshot.ts";
import { PREVIEW_VERSION } from "../../src/infra/preview/types.ts";
import { asset, defineGraph, type GraphInput, secret, source, Type } from "../../src/kit/index.ts";
import { piiColumns, piiFlows } from "../../src/runtime/lineage/pii.ts";
import { EXAMPLE } from "../cli/run.ts";

const NOW = new Date("2026-11-28T12:00:00Z");
const signups = source("signups", {
  schema: Type.Object({
    id: Type.String(),
    at: Type.String(),
    tenant: Type.String(),
    person: Type.Object({ email: Type.String(), country: Type.String() }),
  }),
  eventId: "id",
  eventTime: "at",
  pii: ["person.email"],
});
const key = secret("pii_token_key", { use: "tokenisation" });

async function snapshot(items: GraphInput) {
  const g = defineGraph(items);
  return withPii(snapshotOf(g, NOW), piiColumns(await piiFlows(g)));
}

describe("new personal-data flows in the preview", () => {
  it("flag an asset that now holds personal data, and an added one that does; tokens are no flow", async () => {
    const tokenised = asset("leads", {
      deps: [signups],
      schema: Type.Object({ token: Type.String(), country: Type.String() }),
      sql: "SELECT pii_token(tenant, person.email) AS token, person.country AS country FROM signups",
      secrets: [key],
    });
    const holding = asset("leads", {
      deps: [signups],
      schema: Type.Object({ email: Type.String(), country: Type.String() }),
      sql: "SELECT person.email AS email, person.country AS country FROM signups",
      pii: ["email"],
    });
    const mailing = asset("mailing", {
      deps: [signups],
      schema: Type.Object({ address: Type.String() }),
      sql: "SELECT lower(person.email) AS address FROM signups",
    });
    const base = await snapshot([signups, tokenised]);
    expect(base.assets.find((a) => a.key === "leads")?.pii).toBeUndefined();
    const head = await snapshot([signups, holding, mailing]);
    expect(diffGraph(base, head).risks).toEqual([
      {
        // The token column became the address: a column its Iceberg table cannot take as required.
        kind: "breaking-schema",
        asset: "leads",
        subject: "table leads",
        message:
          'Iceberg cannot evolve the table of leads: required column "email" is added without a default, which Iceberg cannot evolve',
      },
      {
        kind: "pii-flow",
        asset: "leads",
        subject: "leads",
        message: "leads now holds personal data: email ← signups.person.email",
      },
      {
        kind: "pii-flow",
        asset: "mailing",
        subject: "mailing",
        message: "mailing holds personal data: address ← signups.person.email",
      },
    ]);
    expect(diffGraph(head, head).risks).toEqual([]);
  });

  it("the reference pipeline holds no personal data past its CDC source", async () => {
    const s = withPii(snapshotOf(graph, NOW), piiColumns(await piiFlows(graph)));
    expect(s.assets.filter((a) => a.pii).map((a) => a.key)).toEqual([]);
    expect(s.assets.find((a) => a.key === "curated_customers")?.other).toMatchObject({
      secrets: "pii_token_key",
    });
  });
});

describe("secrets in a stack's plan diff", () => {
  const config = readStackConfig(configMap(EXAMPLE, "dev-aws"), "dev-aws");
  const plan = planDeployment(graph, config);
  const withReader = (p: DeploymentPlan, reader: string): DeploymentPlan => ({
    ...p,
    secrets: p.secrets.map((s) => ({ ...s, readers: [...s.readers, reader] })),
  });

  it("lists a secret added by name and flags a function that may now read one", () => {
    const none: DeploymentPlan = { ...plan, secrets: [] };
    // An existing function that gains a secret may read more than before.
    expect(diffPlans("dev-aws", none, plan).risks).toEqual([
      {
        kind: "privilege-widening",
        stack: "dev-aws",
        asset: "curated_customers",
        subject: "secret pii_token_key",
        message: "curated_customers may now read the secret pii_token_key (tokenisation)",
      },
    ]);
    expect(diffPlans("dev-aws", none, plan).changes.filter((c) => c.section === "secrets")).toEqual([
      { section: "secrets", id: "pii_token_key", op: "add" },
    ]);
    const wider = diffPlans("dev-aws", plan, withReader(plan, "daily_revenue"));
    expect(wider).toEqual({
      changes: [
        {
          section: "secrets",
          id: "pii_token_key",
          op: "change",
          fields: ["readers: curated_customers → curated_customers, daily_revenue"],
        },
      ],
      risks: [
        {
          kind: "privilege-widening",
          stack: "dev-aws",
          asset: "daily_revenue",
          subject: "secret pii_token_key",
          message: "daily_revenue may now read the secret pii_token_key (tokenisation)",
        },
      ],
    });
    const markdown = renderMarkdown({
      version: PREVIEW_VERSION,
      stacks: [{ stack: "dev-aws", source: "plan", plan: wider.changes, summary: { change: 1 } }],
      risks: wider.risks,
    });
    expect(markdown).toContain(
      "- `dev-aws` · `daily_revenue` · `secret pii_token_key`: daily_revenue may now read the secret pii_token_key (tokenisation)",
    );
    expect(markdown).toContain(
      "Secrets:\n\n- change secret `pii_token_key`: readers: curated\\_customers → curated\\_customers, daily\\_revenue **widens privilege**",
    );
  });
});
