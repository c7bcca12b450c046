/**
 * Least privilege, for any graph: the policy document each function gets reads exactly its upstreams'
 * prefixes, writes exactly its own, and loses a grant when the edge behind it is removed.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { functionPolicy, type PolicyDocument } from "../../src/infra/aws/grants.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import type { DeploymentPlan } from "../../src/infra/plan/types.ts";
import { type AnyAsset, asset, defineGraph, onUpstream, source, Type } from "../../src/kit/index.ts";
import { CONFIG } from "./fixtures/config.ts";

const BUCKET = {
  raw: "arn:aws:s3:::raw",
  curated: "arn:aws:s3:::curated",
  quarantine: "arn:aws:s3:::quarantine",
};
const row = Type.Object({ id: Type.String(), at_time: Type.String({ format: "date-time" }) });

/** A graph of `sources` sources then assets, each asset reading the earlier nodes `deps[i]` names. */
function build(sources: number, deps: number[][]): AnyAsset[] {
  const nodes: AnyAsset[] = [];
  for (let i = 0; i < sources; i++) {
    nodes.push(source(`s${i}`, { schema: row, eventId: "id", eventTime: "at_time", group: "commerce" }));
  }
  deps.forEach((d, j) => {
    nodes.push(
      asset(`a${j}`, {
        deps: d.map((i) => nodes[i]!.key),
        schema: row,
        compute: () => [],
        codeVersion: "1",
        trigger: onUpstream(),
        group: "commerce",
      }) as AnyAsset,
    );
  });
  return nodes;
}

const arbGraph = fc
  .record({ sources: fc.integer({ min: 1, max: 4 }), assets: fc.integer({ min: 1, max: 10 }) })
  .chain(({ sources, assets }) =>
    fc.record({
      sources: fc.constant(sources),
      deps: fc.tuple(
        ...Array.from({ length: assets }, (_, j) =>
          fc.uniqueArray(fc.integer({ min: 0, max: sources + j - 1 }), { minLength: 1, maxLength: 4 }),
        ),
      ),
    }),
  );

function policyOf(plan: DeploymentPlan, fn: string): PolicyDocument {
  return functionPolicy(
    plan.grants.filter((g) => g.function === fn),
    {
      buckets: BUCKET,
      key: "arn:aws:kms:eu-west-1:1:key/k",
      assetBus: "arn:aws:events:eu-west-1:1:event-bus/b",
      logGroup: "arn:aws:logs:eu-west-1:1:log-group:/l",
      queue: "arn:aws:sqs:eu-west-1:1:q",
    },
  );
}

/** The asset keys an action's object resources name, from `arn:aws:s3:::<bucket>/<zone>/<key>/*`. */
function keysFor(doc: PolicyDocument, action: string): Set<string> {
  const keys = new Set<string>();
  for (const s of doc.Statement) {
    if (s.Action !== action) continue;
    for (const r of [s.Resource ?? []].flat()) {
      const m = /^arn:aws:s3:::[a-z]+\/[a-z_]+\/([a-z0-9_]+)\/\*$/.exec(r);
      expect(m, `object resource ${r}`).not.toBeNull();
      keys.add(m![1]!);
    }
  }
  return keys;
}

describe("grants from graph edges", () => {
  it("read exactly the upstreams (and own state), write exactly its own prefixes", () => {
    fc.assert(
      fc.property(arbGraph, ({ sources, deps }) => {
        const graph = defineGraph(build(sources, deps));
        const plan = planDeployment(graph, CONFIG);
        for (const fn of plan.functions) {
          if (fn.kind === "sweep" || fn.kind === "maintain") continue;
          const doc = policyOf(plan, fn.id);
          const upstream = new Set(graph.inputs(fn.id).map((e) => e.from));
          expect(keysFor(doc, "s3:GetObject")).toEqual(new Set([...upstream, fn.id]));
          expect(keysFor(doc, "s3:PutObject")).toEqual(new Set([fn.id]));
          expect(keysFor(doc, "s3:DeleteObject")).toEqual(new Set([fn.id]));
          // Raw history is append-only: no function deletes under raw/ (the lifecycle expires it).
          const deletes = doc.Statement.filter((s) => s.Action === "s3:DeleteObject");
          expect(
            deletes.flatMap((s) => [s.Resource ?? []].flat()).filter((r) => r.includes("/raw/")),
          ).toEqual([]);
          // Every object resource is under a prefix; no action or resource is a wildcard.
          for (const s of doc.Statement) {
            for (const a of [s.Action].flat()) expect(a).not.toContain("*");
            for (const r of [s.Resource ?? []].flat())
              expect(r).toMatch(/^arn:aws:[a-z0-9]+:[^*]*[^*/:](\/\*|:log-stream:\*)?$/);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it("removing an edge removes the grant, and nothing else changes", () => {
    fc.assert(
      fc.property(
        arbGraph.filter(({ deps }) => deps.some((d) => d.length >= 2)),
        ({ sources, deps }) => {
          const j = deps.findIndex((d) => d.length >= 2);
          const removed = deps[j]![0]!;
          const before = planDeployment(defineGraph(build(sources, deps)), CONFIG);
          const fewer = deps.map((d, k) => (k === j ? d.slice(1) : d));
          const after = planDeployment(defineGraph(build(sources, fewer)), CONFIG);
          const fn = `a${j}`;
          const gone = removed < sources ? `s${removed}` : `a${removed - sources}`;
          expect(keysFor(policyOf(before, fn), "s3:GetObject").has(gone)).toBe(true);
          expect(keysFor(policyOf(after, fn), "s3:GetObject").has(gone)).toBe(false);
          // The order of functions may change with the graph's levels: compare the sets of grants.
          const sorted = (gs: readonly object[]) => gs.map((g) => JSON.stringify(g)).sort();
          expect(sorted(after.grants)).toEqual(
            sorted(before.grants.filter((g) => !(g.function === fn && g.reason === `upstream:${gone}`))),
          );
        },
      ),
      { numRuns: 60 },
    );
  });
});
