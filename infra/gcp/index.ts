/**
 * The GCP adapter: DeploymentPlan → Pulumi components. One Cloud KMS key, four buckets (raw, curated,
 * quarantine, deploy artifacts), two Pub/Sub topics, an alert channel, and one function component per
 * asset or source with its own service account, conditional bucket bindings, trigger subscription,
 * dead-letter topic and alert policies.
 */
import * as google from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { CloudAdapter, StackOutputs } from "../adapter.ts";
import { PLACEHOLDER_SOURCE } from "../placeholder.ts";
import { type DeploymentPlan, functionParts, type StoreId } from "../plan/types.ts";
import { Alerts } from "./alerts.ts";
import { Bus } from "./bus.ts";
import { AssetFunction } from "./function.ts";
import { DataKey } from "./key.ts";
import { labelsOf } from "./labels.ts";
import { Store } from "./store.ts";

/**
 * PLACEHOLDER function source: the shared placeholder handler, with the package.json Cloud Functions
 * needs to find an ES module. Every function is built from it until the handler bundles exist.
 */
export const PLACEHOLDER_ARCHIVE = new pulumi.asset.AssetArchive({
  "index.mjs": new pulumi.asset.StringAsset(PLACEHOLDER_SOURCE),
  "package.json": new pulumi.asset.StringAsset(
    `${JSON.stringify({ name: "tributary-placeholder", private: true, type: "module", main: "index.mjs" }, null, 2)}\n`,
  ),
});
export const PLACEHOLDER_OBJECT = "placeholder/tributary-placeholder-handler.zip";

export const gcp = {
  cloud: "gcp",
  deploy(plan: DeploymentPlan): StackOutputs {
    const p = plan.prefix;
    const project = new pulumi.Config("gcp").require("project");
    const region = plan.region;
    const shared = labelsOf(plan.tags);

    const storageAgent = google.storage.getProjectServiceAccountOutput({ project });
    const projectInfo = google.organizations.getProjectOutput({ projectId: project });
    const pubsubAgent = pulumi.interpolate`serviceAccount:service-${projectInfo.number}@gcp-sa-pubsub.iam.gserviceaccount.com`;

    const key = new DataKey(`${p}-data`, {
      project,
      location: region,
      encrypters: [storageAgent.member],
      labels: shared,
    });
    const storeArgs = { project, location: region, keyId: key.id, dependsOn: key.grants };
    const stores = {} as Record<StoreId, Store>;
    for (const s of plan.stores)
      stores[s.id] = new Store(s.name, {
        ...storeArgs,
        store: s,
        labels: labelsOf(plan.tags, { "tributary:store": s.id }),
      });
    const artifacts = new Store(`${p}-deploy-artifacts`, {
      ...storeArgs,
      store: { id: "deploy-artifacts" },
      labels: labelsOf(plan.tags, { "tributary:store": "deploy-artifacts" }),
    });
    const placeholder = new google.storage.BucketObject(
      `${p}-placeholder-source`,
      {
        bucket: artifacts.name,
        name: PLACEHOLDER_OBJECT,
        source: PLACEHOLDER_ARCHIVE,
        contentType: "application/zip",
        metadata: { "tributary-placeholder": "true" },
      },
      { parent: artifacts },
    );

    const buses = Object.fromEntries(
      plan.buses.map((b) => [b.id, new Bus(b.name, { bus: b, project, tags: plan.tags })]),
    ) as Record<"source-events" | "asset-events", Bus>;
    const alerts = new Alerts(`${p}-alerts`, {
      project,
      email: plan.alertEmail,
      prefix: p,
      labels: shared,
    });

    const functions: Record<string, pulumi.Output<string>> = {};
    for (const fn of plan.functions) {
      const f = new AssetFunction(fn.name, {
        ...functionParts(plan, fn),
        project,
        region,
        prefix: p,
        buckets: { raw: stores.raw.name, curated: stores.curated.name, quarantine: stores.quarantine.name },
        assetBus: buses["asset-events"],
        sourceBus: buses["source-events"],
        pubsubAgent,
        channel: alerts.channel,
        source: { bucket: artifacts.name, object: placeholder.name },
      });
      functions[fn.id] = f.functionName;
    }
    return {
      buckets: { raw: stores.raw.name, curated: stores.curated.name, quarantine: stores.quarantine.name },
      buses: { "source-events": buses["source-events"].id, "asset-events": buses["asset-events"].id },
      functions,
    };
  },
} satisfies CloudAdapter;
