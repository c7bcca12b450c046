/**
 * The AWS adapter: DeploymentPlan → Pulumi components. One KMS key, four buckets (raw, curated,
 * quarantine, access logs), two EventBridge buses, a Kinesis data stream per CDC source, an SNS topic for
 * alarms, and one function component per asset or source with its own role, queue, trigger and alarms.
 */
import * as pulumi from "@pulumi/pulumi";
import { formatCatalogRef } from "../../contract/table-names.ts";
import {
  assertFreshnessWithin,
  type CloudAdapter,
  registerEach,
  type StackOutputs,
  type TablesOutputs,
} from "../adapter.ts";
import { bundleArch, type FunctionCodes } from "../bundle/locate.ts";
import { type DeploymentPlan, functionParts, protectsShared, type StoreId } from "../plan/types.ts";
import type { SecretValues } from "../secrets.ts";
import { Alerts } from "./alerts.ts";
import { Bus } from "./bus.ts";
import { Catalog } from "./catalog.ts";
import { AssetFunction, MAX_FRESHNESS_MINUTES } from "./function.ts";
import { foundationModelArn, type TableArns } from "./grants.ts";
import { DataKey } from "./key.ts";
import { Query } from "./query.ts";
import { Secret } from "./secret.ts";
import { Store } from "./store.ts";
import { Stream } from "./stream.ts";

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Function logs are kept as long as quarantined records, on the nearest period CloudWatch accepts. */
export function logRetention(days: number): number {
  return LOG_RETENTION_DAYS.find((d) => d >= days) ?? 3653;
}

export const aws = {
  cloud: "aws",
  async deploy(plan: DeploymentPlan, values: SecretValues, code: FunctionCodes): Promise<StackOutputs> {
    assertFreshnessWithin(plan, MAX_FRESHNESS_MINUTES, "CloudWatch alarms look back at most 7 days");
    const p = plan.prefix;
    const retention = logRetention(plan.logRetentionDays);
    const shared = plan.tags;
    const keepShared = protectsShared(plan);
    const key = new DataKey(`${p}-data`, {
      description: `Tributary ${plan.stack}: encrypts the raw, curated and quarantine stores`,
      alias: `alias/${p}-data`,
      tags: shared,
      protect: keepShared,
    });
    const stores = {} as Record<StoreId, Store>;
    for (const s of plan.stores)
      stores[s.id] = new Store(s.name, { store: s, keyArn: key.arn, tags: shared });
    new Store(`${p}-access-logs`, {
      store: { id: "access-logs", retentionDays: retention, protect: keepShared },
      logged: plan.stores.map((s) => ({ id: s.id, name: stores[s.id].name, arn: stores[s.id].arn })),
      tags: shared,
    });
    const buses = Object.fromEntries(
      plan.buses.map((b) => [b.id, new Bus(b.name, { bus: b, tags: shared })]),
    ) as Record<"source-events" | "asset-events", Bus>;
    const streams = Object.fromEntries(
      plan.streams.map((st) => [
        st.source,
        new Stream(`${p}-stream-${st.source.replaceAll("_", "-")}`, {
          stream: st,
          keyArn: key.arn,
          region: plan.region,
          tags: shared,
        }),
      ]),
    );
    const alerts = new Alerts(`${p}-alerts`, { email: plan.alertEmail, tags: shared });
    const secrets = Object.fromEntries(
      plan.secrets.map((s) => [
        s.name,
        new Secret(`${p}-secret-${s.name.replaceAll("_", "-")}`, {
          secret: s,
          values,
          keyArn: key.arn,
          tags: shared,
        }),
      ]),
    );

    const tables = plan.tables;
    const catalog =
      tables.tables.length > 0
        ? new Catalog(`${p}-tables`, { tables, bucket: stores.curated.name, tags: shared })
        : undefined;
    const results = catalog
      ? new Store(`${p}-query-results`, {
          store: { id: "query-results", retentionDays: tables.queryResultsDays, protect: false },
          keyArn: key.arn,
          tags: shared,
        })
      : undefined;
    const query =
      catalog && results
        ? new Query(`${p}-query`, {
            tables,
            keyArn: key.arn,
            curatedBucketArn: stores.curated.arn,
            catalogArn: catalog.catalogArn,
            databaseArn: catalog.databaseArn,
            results: { name: results.name, arn: results.arn },
            tags: shared,
          })
        : undefined;
    /** The Glue entries a function commits: its asset's table, or every table of the database (maintenance). */
    const tableArns = (id: string): pulumi.Output<TableArns> | undefined => {
      const mine = tables.tables.filter((t) => t.writers.includes(id));
      if (!catalog || mine.length === 0) return undefined;
      const every = id === tables.maintenance;
      return pulumi
        .all([
          catalog.catalogArn,
          catalog.databaseArn,
          pulumi.all(mine.map((t) => catalog.tableArns[t.asset]!)),
        ])
        .apply(([c, database, arns]) => ({
          catalog: c,
          database,
          tables: every ? [database.replace(/:database\/([^/]+)$/, ":table/$1/*")] : arns,
        }));
    };
    const catalogRef = formatCatalogRef({ kind: "glue", region: plan.region, database: tables.namespace });

    const functions: Record<string, pulumi.Output<string>> = {};
    await registerEach(plan.functions, (fn, opts) => {
      const commits = tableArns(fn.id);
      const f = new AssetFunction(
        fn.name,
        {
          ...functionParts(plan, fn),
          logGroup: `/tributary/${p}/${fn.id}`,
          logRetentionDays: retention,
          buckets: {
            raw: { name: stores.raw.name, arn: stores.raw.arn },
            curated: { name: stores.curated.name, arn: stores.curated.arn },
            quarantine: { name: stores.quarantine.name, arn: stores.quarantine.arn },
          },
          keyArn: key.arn,
          assetBus: buses["asset-events"],
          sourceBus: buses["source-events"],
          ...(streams[fn.id] ? { streamArn: streams[fn.id]!.arn } : {}),
          alertTopicArn: alerts.topicArn,
          // The bundle of the function's architecture, the folder as Lambda runs it (index.handler).
          code: code(bundleArch(fn)).archive,
          environment: plan.environment,
          ...(fn.secrets ? { secrets: Object.fromEntries(fn.secrets.map((n) => [n, secrets[n]!])) } : {}),
          ...(fn.embeddingModel && plan.embedding
            ? { modelArn: foundationModelArn(plan.embedding.region, fn.embeddingModel) }
            : {}),
          ...(commits ? { tables: commits, catalog: catalogRef } : {}),
        },
        opts,
      );
      functions[fn.id] = f.functionName;
      return f;
    });
    return {
      buckets: { raw: stores.raw.name, curated: stores.curated.name, quarantine: stores.quarantine.name },
      buses: { "source-events": buses["source-events"].arn, "asset-events": buses["asset-events"].arn },
      functions,
      streams: Object.fromEntries(
        plan.streams.map((st) => {
          const s = streams[st.source]!;
          return [
            st.source,
            {
              stream: s.name,
              arn: s.arn,
              region: pulumi.output(plan.region),
              topicPrefix: pulumi.output(st.topicPrefix),
              producerRoleArn: s.producerRoleArn,
            },
          ];
        }),
      ),
      ...(catalog && query
        ? {
            tables: {
              catalog: catalog.databaseName,
              tables: Object.fromEntries(
                tables.tables.map((t) => [t.asset, pulumi.interpolate`${catalog.databaseName}.${t.name}`]),
              ),
              reader: query.roleArn,
              workgroup: query.workgroupName,
            } satisfies TablesOutputs,
          }
        : {}),
    };
  },
} satisfies CloudAdapter;
