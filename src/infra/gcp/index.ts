/**
 * The GCP adapter: DeploymentPlan → Pulumi components. The APIs the stack uses, enabled first; one Cloud
 * KMS key, four buckets (raw, curated, quarantine, deploy artifacts), two Pub/Sub topics, a Pub/Sub topic
 * per CDC source (its stream), a BigQuery dataset of the curated tables and their read-only query
 * identity, an alert channel, and one function component per asset or source with its own service
 * account, conditional bucket bindings, trigger subscription, dead-letter topic and alert policies. Every
 * resource waits for the APIs it needs.
 */
import * as google from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { formatCatalogRef } from "../../contract/table-names.ts";
import { type CloudAdapter, registerEach, type StackOutputs, type TablesOutputs } from "../adapter.ts";
import type { FunctionCodes } from "../bundle/locate.ts";
import { type DeploymentPlan, functionParts, protectsShared, type StoreId } from "../plan/types.ts";
import type { SecretValues } from "../secrets.ts";
import { Alerts } from "./alerts.ts";
import { Apis } from "./apis.ts";
import { Bus } from "./bus.ts";
import { Catalog } from "./catalog.ts";
import { EmbeddingRole } from "./embedding.ts";
import { AssetFunction } from "./function.ts";
import { DataKey } from "./key.ts";
import { labelsOf } from "./labels.ts";
import { Query } from "./query.ts";
import { Secret } from "./secret.ts";
import { EMBEDDING_APIS, STACK_APIS } from "./services.ts";
import { Store } from "./store.ts";
import { Stream } from "./stream.ts";

export const gcp = {
  cloud: "gcp",
  async deploy(plan: DeploymentPlan, values: SecretValues, codes: FunctionCodes): Promise<StackOutputs> {
    // Every function's code: the one x64 bundle.
    const code = codes("x64");
    const p = plan.prefix;
    const project = new pulumi.Config("gcp").require("project");
    const region = plan.region;
    const shared = labelsOf(plan.tags);
    const keepShared = protectsShared(plan);

    const apis = new Apis(`${p}-apis`, {
      project,
      apis: plan.embedding ? [...STACK_APIS, ...EMBEDDING_APIS] : STACK_APIS,
    });
    const predict = plan.embedding
      ? new EmbeddingRole(`${p}-embedding-predict`, { project, prefix: p, stack: plan.stack, apis })
      : undefined;
    const storageAgent = google.storage.getProjectServiceAccountOutput({ project });
    const projectInfo = google.organizations.getProjectOutput({ projectId: project });
    const pubsubAgent = pulumi.interpolate`serviceAccount:service-${projectInfo.number}@gcp-sa-pubsub.iam.gserviceaccount.com`;

    const tables = plan.tables;
    const hasTables = tables.tables.length > 0;
    // BigQuery encrypts the stack's dataset with the stack's key, through its own encryption agent.
    const bigqueryAgent = hasTables ? google.bigquery.getDefaultServiceAccountOutput({ project }) : undefined;
    const key = new DataKey(`${p}-data`, {
      project,
      location: region,
      encrypters: [storageAgent.member],
      ...(bigqueryAgent ? { bigquery: bigqueryAgent.member } : {}),
      // Secret Manager encrypts the stack's secrets with the same key, through its own service agent.
      ...(plan.secrets.length > 0 ? { agents: ["secretmanager.googleapis.com"] } : {}),
      // Pub/Sub encrypts the streams' topics with the same key, through its service agent.
      ...(plan.streams.length > 0 ? { pubsubAgent } : {}),
      labels: shared,
      protect: keepShared,
      apis,
    });
    const storeArgs = { project, location: region, keyId: key.id, dependsOn: key.grants, apis };
    const stores = {} as Record<StoreId, Store>;
    for (const s of plan.stores)
      stores[s.id] = new Store(s.name, {
        ...storeArgs,
        store: s,
        labels: labelsOf(plan.tags, { "tributary:store": s.id }),
      });
    const artifacts = new Store(`${p}-deploy-artifacts`, {
      ...storeArgs,
      store: { id: "deploy-artifacts", protect: keepShared },
      labels: labelsOf(plan.tags, { "tributary:store": "deploy-artifacts" }),
    });
    // Every function is built from the one bundle, named by its content: a new bundle is a new object,
    // which changes each function's build source and so rebuilds it (one replaced in place would not).
    const source = new google.storage.BucketObject(
      `${p}-function-source`,
      {
        bucket: artifacts.name,
        name: `functions/gcp-x64-${code.manifest.sha256.slice(0, 16)}.zip`,
        source: code.archive,
        contentType: "application/zip",
        metadata: {
          "tributary-bundle-sha256": code.manifest.sha256,
          "tributary-version": code.manifest.tributary,
        },
      },
      { parent: artifacts, dependsOn: apis.of("storage") },
    );

    const buses = Object.fromEntries(
      plan.buses.map((b) => [b.id, new Bus(b.name, { bus: b, project, tags: plan.tags, apis })]),
    ) as Record<"source-events" | "asset-events", Bus>;
    const streams = Object.fromEntries(
      plan.streams.map((st) => [
        st.source,
        new Stream(`${p}-stream-${st.source.replaceAll("_", "-")}`, {
          stream: st,
          project,
          keyId: key.id,
          dependsOn: key.streamGrants,
          tags: plan.tags,
          apis,
        }),
      ]),
    );
    const alerts = new Alerts(`${p}-alerts`, {
      project,
      email: plan.alertEmail,
      prefix: p,
      labels: shared,
      apis,
    });

    const secrets = Object.fromEntries(
      plan.secrets.map((s) => [
        s.name,
        new Secret(`${p}-secret-${s.name.replaceAll("_", "-")}`, {
          secret: s,
          values,
          project,
          location: region,
          keyId: key.id,
          tags: plan.tags,
          dependsOn: key.grants,
          apis,
        }),
      ]),
    );

    const catalog = hasTables
      ? new Catalog(`${p}-tables`, {
          tables,
          project,
          location: region,
          bucket: stores.curated.name,
          keyId: key.id,
          dependsOn: key.grants,
          labels: shared,
          apis,
        })
      : undefined;
    const query = catalog
      ? new Query(`${p}-query`, { project, datasetId: catalog.datasetId, apis })
      : undefined;
    const catalogRef = formatCatalogRef({ kind: "bigquery", project, dataset: tables.namespace });

    const functions: Record<string, pulumi.Output<string>> = {};
    await registerEach(plan.functions, (fn, opts) => {
      const mine = tables.tables.filter((t) => t.writers.includes(fn.id)).map((t) => t.name);
      const f = new AssetFunction(
        fn.name,
        {
          ...functionParts(plan, fn),
          project,
          region,
          prefix: p,
          buckets: { raw: stores.raw.name, curated: stores.curated.name, quarantine: stores.quarantine.name },
          assetBus: buses["asset-events"],
          sourceBus: buses["source-events"],
          ...(streams[fn.id]
            ? {
                streamTopic: {
                  topic: { name: streams[fn.id]!.name, id: streams[fn.id]!.id },
                  keyId: key.id,
                  keyGrants: key.streamGrants,
                },
              }
            : {}),
          pubsubAgent,
          channel: alerts.channel,
          source: { bucket: artifacts.name, object: source.name },
          apis,
          ...(fn.secrets ? { secrets: Object.fromEntries(fn.secrets.map((n) => [n, secrets[n]!])) } : {}),
          ...(fn.embeddingModel && predict ? { embeddingRole: predict.name } : {}),
          ...(catalog && mine.length > 0
            ? {
                catalog: catalogRef,
                tables: {
                  dataset: catalog.datasetId,
                  names: mine,
                  connection: { location: region, connectionId: catalog.connectionId },
                  role: catalog.committerRole,
                },
              }
            : {}),
        },
        opts,
      );
      functions[fn.id] = f.functionName;
      return f;
    });
    return {
      buckets: { raw: stores.raw.name, curated: stores.curated.name, quarantine: stores.quarantine.name },
      buses: { "source-events": buses["source-events"].id, "asset-events": buses["asset-events"].id },
      functions,
      streams: Object.fromEntries(
        plan.streams.map((st) => {
          const s = streams[st.source]!;
          return [
            st.source,
            {
              topic: s.name,
              id: s.id,
              project: pulumi.output(project),
              topicPrefix: pulumi.output(st.topicPrefix),
              producerServiceAccount: s.producer,
            },
          ];
        }),
      ),
      ...(catalog && query
        ? {
            tables: {
              catalog: pulumi.interpolate`${project}.${catalog.datasetId}`,
              tables: Object.fromEntries(
                tables.tables.map((t) => [
                  t.asset,
                  pulumi.interpolate`${project}.${catalog.datasetId}.${t.name}`,
                ]),
              ),
              reader: query.email,
            } satisfies TablesOutputs,
          }
        : {}),
    };
  },
} satisfies CloudAdapter;
