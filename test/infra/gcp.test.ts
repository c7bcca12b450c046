/**
 * The GCP adapter on the reference pipeline: `synth` runs infra/index.ts under Pulumi's mocks for the
 * staging-gcp stack, and the exact resources and their key inputs are asserted here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { accountId, bucketBindings, subscriptionFilter } from "../../src/infra/gcp/grants.ts";
import { labelsOf, labelValue } from "../../src/infra/gcp/labels.ts";
import type { GrantPlan } from "../../src/infra/plan/types.ts";
import { LABELLED_TYPES } from "../../src/infra/policy/rules/gcp.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type Synthesis, synth } from "../../src/infra/synth/index.ts";
import { offlineProjectNumber } from "../../src/infra/synth/outputs/gcp.ts";
import { disposableSynth, guarded, GUARDED as KEPT, lookup } from "./synthesised.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
const VERSION = (JSON.parse(fs.readFileSync(path.join(repo, "package.json"), "utf8")) as { version: string })
  .version;
const PROJECT = "tributary-staging";
const REGION = "europe-west1";
const NUMBER = offlineProjectNumber(PROJECT);
const KEY = `projects/${PROJECT}/locations/${REGION}/keyRings/trib-staging-data/cryptoKeys/data`;
const topic = (t: string) => `projects/${PROJECT}/topics/trib-staging-${t}`;
const sa = (id: string) => `serviceAccount:${id}@${PROJECT}.iam.gserviceaccount.com`;
const PUBSUB_AGENT = `serviceAccount:service-${NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`;
const GCS_AGENT = `serviceAccount:service-${NUMBER}@gs-project-accounts.iam.gserviceaccount.com`;
const LABELS = {
  "cost-centre": "cc-1042",
  owner: "data-platform",
  "tributary-env": "staging",
  "tributary-pipeline": "commerce",
};
let s: Synthesis;

beforeAll(async () => {
  s = await synth({ root: example, stack: "staging-gcp" });
}, 120_000);

const { one, inputs } = lookup(() => s);
const T = {
  bucket: "gcp:storage/bucket:Bucket",
  member: "gcp:storage/bucketIAMMember:BucketIAMMember",
  subscription: "gcp:pubsub/subscription:Subscription",
  topic: "gcp:pubsub/topic:Topic",
  topicMember: "gcp:pubsub/topicIAMMember:TopicIAMMember",
  fn: "gcp:cloudfunctionsv2/function:Function",
  job: "gcp:cloudscheduler/job:Job",
  alert: "gcp:monitoring/alertPolicy:AlertPolicy",
} as const;

describe("the GCP stack of the reference pipeline", () => {
  it("registers these resources, in components per store, bus and asset", () => {
    const counts: Record<string, number> = {};
    for (const r of s.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      "tributary:gcp:Apis": 1,
      // Every API the stack uses but Eventarc (no function has an event trigger), Vertex AI included.
      "gcp:projects/service:Service": 15,
      // The embedding function's one-permission role and its binding.
      "tributary:gcp:EmbeddingRole": 1,
      "tributary:gcp:DataKey": 1,
      "gcp:kms/keyRing:KeyRing": 1,
      "gcp:kms/cryptoKey:CryptoKey": 1,
      // Cloud Storage's, Secret Manager's, BigQuery's and Pub/Sub's (the streams') agents use the key.
      "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": 4,
      "gcp:projects/serviceIdentity:ServiceIdentity": 1,
      "tributary:gcp:Secret": 1,
      "gcp:secretmanager/secret:Secret": 1,
      "gcp:secretmanager/secretVersion:SecretVersion": 1,
      "gcp:secretmanager/secretIamMember:SecretIamMember": 1,
      "random:index/randomBytes:RandomBytes": 1,
      "tributary:gcp:Store": 4,
      "gcp:storage/bucket:Bucket": 4,
      "gcp:storage/bucketObject:BucketObject": 1,
      "tributary:gcp:Bus": 2,
      "tributary:gcp:Alerts": 1,
      "gcp:monitoring/notificationChannel:NotificationChannel": 1,
      // Materialisations by asset; the age of the oldest unannounced commit at each outbox sweep.
      "gcp:logging/metric:Metric": 2,
      // One per asset and source, the stack's outbox sweeper and its table maintenance.
      "tributary:gcp:AssetFunction": 10,
      // Each function's and its invoker's, the query reader and each stream's producer.
      "gcp:serviceaccount/account:Account": 23,
      "gcp:cloudfunctionsv2/function:Function": 10,
      "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": 10,
      // The functions', and the BigLake connection's two on the curated zone.
      "gcp:storage/bucketIAMMember:BucketIAMMember": 53,
      // Two buses, four schedule topics, ten dead-letter topics, a stream per CDC source.
      "gcp:pubsub/topic:Topic": 18,
      // Per triggered function: its push subscription and its dead-letter subscription.
      "gcp:pubsub/subscription:Subscription": 20,
      // Ten asset-event publishers, ten dead-letter publishers (the Pub/Sub service agent), each
      // stream's producer.
      "gcp:pubsub/topicIAMMember:TopicIAMMember": 22,
      "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": 10,
      "gcp:cloudscheduler/job:Job": 4,
      "gcp:monitoring/alertPolicy:AlertPolicy": 23,
      // The curated assets as Iceberg tables: a dataset, its connection, a table per asset; each asset's
      // function may move its own table's pointer, the maintenance every table's; the query reader.
      "tributary:gcp:Catalog": 1,
      "gcp:bigquery/dataset:Dataset": 1,
      "gcp:bigquery/connection:Connection": 1,
      "gcp:bigquery/table:Table": 6,
      "gcp:projects/iAMCustomRole:IAMCustomRole": 2,
      "gcp:bigquery/iamMember:IamMember": 12,
      "gcp:bigquery/connectionIamMember:ConnectionIamMember": 7,
      "tributary:gcp:Query": 1,
      "gcp:bigquery/datasetIamMember:DatasetIamMember": 1,
      "gcp:projects/iAMMember:IAMMember": 2,
      "tributary:gcp:Stream": 2,
    });
    expect(s.resources.filter((r) => !r.custom && r.parent)).toEqual([]);
    expect(s.resources.filter((r) => r.custom && !r.parent)).toEqual([]);
    expect(one("trib-staging-curated-orders", T.fn).parent).toBe(
      "urn:pulumi:staging-gcp::tributary::tributary:gcp:AssetFunction::trib-staging-curated-orders",
    );
  });

  it("enables the APIs it uses, kept on when the stack goes, and every resource waits for its own", () => {
    const services = s.resources.filter((r) => r.type === "gcp:projects/service:Service");
    expect(services.map((r) => r.inputs)).toEqual(
      [
        // Vertex AI: the stack's assets embed (recommendation_vectors).
        "aiplatform",
        "artifactregistry",
        "bigquery",
        "bigqueryconnection",
        "cloudbuild",
        "cloudfunctions",
        "cloudkms",
        "cloudscheduler",
        "iam",
        "logging",
        "monitoring",
        "pubsub",
        "run",
        "secretmanager",
        "storage",
      ].map((api) => ({
        project: PROJECT,
        service: `${api}.googleapis.com`,
        disableOnDestroy: false,
        disableDependentServices: false,
      })),
    );
    const urn = (api: string) =>
      `urn:pulumi:staging-gcp::tributary::tributary:gcp:Apis$gcp:projects/service:Service::trib-staging-apis-${api}`;
    expect(one("trib-staging-curated-orders", T.fn).dependsOn).toEqual(
      [
        urn("artifactregistry"),
        urn("cloudbuild"),
        urn("cloudfunctions"),
        urn("run"),
        ...s.resources
          .filter((r) => r.type === T.member && r.name.startsWith("trib-staging-curated-orders-"))
          .map((r) => r.urn),
        one("trib-staging-curated-orders-publish", T.topicMember).urn,
        // Its rights on its own table and on the tables' connection.
        one("trib-staging-curated-orders-table-curated-orders").urn,
        one("trib-staging-curated-orders-tables-connection").urn,
      ].sort(),
    );
    expect(one("trib-staging-data-ring", "gcp:kms/keyRing:KeyRing").dependsOn).toEqual([urn("cloudkms")]);
    expect(one("trib-staging-daily-revenue-schedule", T.job).dependsOn).toEqual([urn("cloudscheduler")]);
    // Nothing of the stack's is created before the APIs it needs are on (the policy pack's rule).
    expect(evaluate(s.resources).filter((v) => v.policy === "apis-enabled")).toEqual([]);
  });

  it("encrypts every bucket with the rotated customer key the Cloud Storage agent may use", () => {
    expect(one("trib-staging-data", "gcp:kms/cryptoKey:CryptoKey")).toMatchObject({
      inputs: { rotationPeriod: "31536000s", purpose: "ENCRYPT_DECRYPT", name: "data" },
    });
    expect(inputs("trib-staging-data-encrypter", "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")).toEqual({
      cryptoKeyId: KEY,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: GCS_AGENT,
    });
    const base = {
      project: PROJECT,
      location: "EUROPE-WEST1",
      storageClass: "STANDARD",
      forceDestroy: false,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      versioning: { enabled: true },
      encryption: { defaultKmsKeyName: KEY },
    };
    const abort = { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: 1 } };
    const noncurrent = (days: number) => ({
      action: { type: "Delete" },
      condition: { withState: "ARCHIVED", daysSinceNoncurrentTime: days },
    });
    const rules: Record<string, unknown[]> = {
      raw: [
        abort,
        noncurrent(30),
        {
          action: { type: "SetStorageClass", storageClass: "NEARLINE" },
          condition: { age: 30, withState: "LIVE", matchesStorageClasses: ["STANDARD"] },
        },
        { action: { type: "Delete" }, condition: { age: 90, withState: "LIVE" } },
      ],
      // Current curated objects are never deleted.
      curated: [abort, noncurrent(14)],
      quarantine: [
        abort,
        noncurrent(30),
        { action: { type: "Delete" }, condition: { age: 30, withState: "LIVE" } },
      ],
      "deploy-artifacts": [abort, noncurrent(30)],
    };
    for (const [store, lifecycleRules] of Object.entries(rules)) {
      const bucket = one(`trib-staging-${store}`, T.bucket);
      expect(bucket.inputs).toEqual({
        ...base,
        lifecycleRules,
        labels: { ...LABELS, "tributary-asset": "_shared", "tributary-store": store },
      });
    }
    expect(evaluate(s.resources)).toEqual([]);
  });

  it("protects and keeps every bucket, the key and its ring (the data-loss guard), and nothing else", () => {
    expect(guarded(s)).toEqual([
      ["gcp:kms/cryptoKey:CryptoKey", "trib-staging-data", KEPT],
      ["gcp:kms/keyRing:KeyRing", "trib-staging-data-ring", KEPT],
      [T.bucket, "trib-staging-curated", KEPT],
      [T.bucket, "trib-staging-deploy-artifacts", KEPT],
      [T.bucket, "trib-staging-quarantine", KEPT],
      [T.bucket, "trib-staging-raw", KEPT],
    ]);
    expect(inputs("trib-staging-data", "gcp:kms/cryptoKey:CryptoKey").labels).toEqual({
      ...LABELS,
      "tributary-asset": "_shared",
    });
  });

  it("builds every function from the GCP bundle, uploaded under a name that changes with its content", () => {
    const bundles = inject("bundles");
    const sha256 = bundles.reports["gcp-x64"]!.sha256;
    const object = `functions/gcp-x64-${sha256.slice(0, 16)}.zip`;
    expect(inputs("trib-staging-function-source", "gcp:storage/bucketObject:BucketObject")).toEqual({
      bucket: "trib-staging-deploy-artifacts",
      name: object,
      source: { $archive: { path: path.join(bundles.dir, "gcp-x64") } },
      contentType: "application/zip",
      metadata: { "tributary-bundle-sha256": sha256, "tributary-version": VERSION },
    });
    expect(inputs("trib-staging-curated-orders", T.fn)).toEqual({
      name: "trib-staging-curated-orders",
      project: PROJECT,
      location: REGION,
      description: expect.any(String),
      buildConfig: {
        runtime: "nodejs24",
        entryPoint: "handler",
        source: {
          storageSource: {
            bucket: "trib-staging-deploy-artifacts",
            object,
          },
        },
      },
      serviceConfig: {
        availableMemory: "512Mi",
        timeoutSeconds: 300,
        ingressSettings: "ALLOW_INTERNAL_ONLY",
        allTrafficOnLatestRevision: true,
        serviceAccountEmail: `trib-staging-curated-orders@${PROJECT}.iam.gserviceaccount.com`,
        environmentVariables: {
          TRIBUTARY_ASSET: "curated_orders",
          TRIBUTARY_KIND: "asset",
          TRIBUTARY_ENV: "staging",
          TRIBUTARY_STORE_RAW: "gs://trib-staging-raw",
          TRIBUTARY_STORE_CURATED: "gs://trib-staging-curated",
          TRIBUTARY_STORE_QUARANTINE: "gs://trib-staging-quarantine",
          TRIBUTARY_ASSET_EVENTS: topic("asset-events"),
          TRIBUTARY_TIMEOUT_SECONDS: "300",
          TRIBUTARY_CPUS: "0",
          TRIBUTARY_TABLE_CATALOG: `{"kind":"bigquery","project":"${PROJECT}","dataset":"trib_staging"}`,
        },
      },
      labels: { ...LABELS, "tributary-asset": "curated_orders" },
    });
  });

  it("pushes filtered asset events to the function, with retries and a dead-letter topic", () => {
    const url = `https://${REGION}-${PROJECT}.cloudfunctions.net/trib-staging-curated-orders`;
    const invoker = `trib-staging-curated-or-${"79f01e"}@${PROJECT}.iam.gserviceaccount.com`;
    expect(inputs("trib-staging-curated-orders-trigger", T.subscription)).toEqual({
      project: PROJECT,
      topic: topic("asset-events"),
      filter: 'attributes.type = "tributary.asset.materialised" AND attributes.asset = "orders_cdc"',
      ackDeadlineSeconds: 300,
      pushConfig: {
        pushEndpoint: `${url}/${topic("asset-events")}`,
        oidcToken: { serviceAccountEmail: invoker, audience: url },
      },
      retryPolicy: { minimumBackoff: "10s", maximumBackoff: "600s" },
      deadLetterPolicy: { deadLetterTopic: topic("curated-orders-dead-letters"), maxDeliveryAttempts: 5 },
      expirationPolicy: { ttl: "" },
      labels: { ...LABELS, "tributary-asset": "curated_orders", "tributary-role": "consumer" },
    });
    // A CDC source's function is pushed its stream, in order per record key, unfiltered (streams.test.ts).
    const stream = inputs("trib-staging-orders-cdc-trigger", T.subscription);
    expect([stream.topic, stream.enableMessageOrdering, stream.filter]).toEqual([
      "projects/tributary-staging/topics/trib-staging.public.orders",
      true,
      undefined,
    ]);
    // The dead letters are kept a week in a pull subscription; the Pub/Sub agent may dead-letter.
    expect(inputs("trib-staging-curated-orders-dead-letters", T.subscription)).toMatchObject({
      topic: topic("curated-orders-dead-letters"),
      messageRetentionDuration: "604800s",
      expirationPolicy: { ttl: "" },
    });
    expect(inputs("trib-staging-curated-orders-dead-letters-publish", T.topicMember)).toEqual({
      project: PROJECT,
      topic: "trib-staging-curated-orders-dead-letters",
      role: "roles/pubsub.publisher",
      member: PUBSUB_AGENT,
    });
    expect(
      inputs(
        "trib-staging-curated-orders-trigger-subscribe",
        "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
      ),
    ).toEqual({
      project: PROJECT,
      subscription: "trib-staging-curated-orders-trigger",
      role: "roles/pubsub.subscriber",
      member: PUBSUB_AGENT,
    });
    // Only its invoker may invoke the function.
    const invokers = s.resources.filter((r) => r.type === "gcp:cloudrunv2/serviceIamMember:ServiceIamMember");
    expect(invokers.map((r) => r.inputs.role)).toEqual(Array(10).fill("roles/run.invoker"));
    expect(
      inputs("trib-staging-curated-orders-invoke", "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"),
    ).toEqual({
      project: PROJECT,
      location: REGION,
      name: `projects/${PROJECT}/locations/${REGION}/services/trib-staging-curated-orders`,
      role: "roles/run.invoker",
      member: `serviceAccount:${invoker}`,
    });
  });

  it("grants curated_orders exactly its upstream's and its own prefixes, each under a condition", () => {
    const member = sa("trib-staging-curated-orders");
    const obj = (b: string, p: string) =>
      `resource.name.startsWith("projects/_/buckets/trib-staging-${b}/objects/${p}")`;
    const list = (p: string) =>
      `api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("${p}")`;
    const bindings = s.resources
      .filter((r) => r.type === T.member && r.inputs.member === member)
      .map(({ name, inputs: { member: _, ...rest } }) => ({ name, ...rest }));
    expect(bindings).toEqual(
      [
        {
          name: "trib-staging-curated-orders-curated-create",
          bucket: "trib-staging-curated",
          role: "roles/storage.objectCreator",
          condition: {
            title: "create curated prefixes",
            expression: obj("curated", "_manifests/curated_orders/"),
          },
        },
        {
          name: "trib-staging-curated-orders-curated-list",
          bucket: "trib-staging-curated",
          role: "roles/storage.objectViewer",
          condition: {
            title: "list curated prefixes",
            expression: [
              "_manifests/curated_customers/",
              "_manifests/orders_cdc/",
              "curated/curated_orders/",
              "_manifests/curated_orders/",
              "_locks/curated_orders/",
              "_outbox/curated_orders/",
            ]
              .map(list)
              .join(" || "),
          },
        },
        {
          name: "trib-staging-curated-orders-curated-modify",
          bucket: "trib-staging-curated",
          role: "roles/storage.objectUser",
          condition: {
            title: "modify curated prefixes",
            expression: [
              "curated/curated_orders/",
              "_failures/curated_orders/",
              "_locks/curated_orders/",
              "_outbox/curated_orders/",
            ]
              .map((p) => obj("curated", p))
              .join(" || "),
          },
        },
        {
          name: "trib-staging-curated-orders-curated-read",
          bucket: "trib-staging-curated",
          role: "roles/storage.objectViewer",
          condition: {
            title: "read curated prefixes",
            expression: [
              // curated_customers: what its reference check reads.
              obj("curated", "curated/curated_customers/"),
              obj("curated", "_manifests/curated_customers/"),
              obj("curated", "_manifests/orders_cdc/"),
              obj("curated", "_manifests/curated_orders/"),
            ].join(" || "),
          },
        },
        {
          name: "trib-staging-curated-orders-quarantine-create",
          bucket: "trib-staging-quarantine",
          role: "roles/storage.objectCreator",
          condition: {
            title: "create quarantine prefixes",
            expression: obj("quarantine", "quarantine/curated_orders/"),
          },
        },
        {
          name: "trib-staging-curated-orders-raw-read",
          bucket: "trib-staging-raw",
          role: "roles/storage.objectViewer",
          condition: { title: "read raw prefixes", expression: obj("raw", "raw/orders_cdc/") },
        },
      ].sort((a, b) => (a.name < b.name ? -1 : 1)),
    );
    // It publishes asset events, and nothing else on Pub/Sub.
    const publishes = s.resources.filter((r) => r.type === T.topicMember && r.inputs.member === member);
    expect(publishes.map((r) => r.inputs)).toEqual([
      { project: PROJECT, topic: "trib-staging-asset-events", role: "roles/pubsub.publisher", member },
    ]);
    // No member anywhere is public; every object-level binding has a condition.
    for (const r of s.resources.filter((x) => /IAMMember|IamMember/.test(x.type))) {
      expect(String(r.inputs.member)).not.toMatch(/^all(Authenticated)?Users$/);
      if (r.type !== T.member) continue;
      // Every term of the condition names one exact prefix: of object names, or of a list request. The
      // outbox sweeper's are the two bookkeeping zones it reads whole (see its own test).
      const condition = r.inputs.condition as { title: string; expression: string };
      expect(Object.keys(condition).sort(), r.name).toEqual(["expression", "title"]);
      // So are the table maintenance's and the BigLake connection's (the curated zone), see theirs.
      if (/^trib-staging-(outbox-sweep|table-maintenance|tables)-/.test(r.name)) continue;
      for (const term of condition.expression.split(" || ")) {
        expect(term, r.name).toMatch(
          /^(resource\.name\.startsWith\("projects\/_\/buckets\/[a-z0-9-]+\/objects\/[a-z_]+\/[a-z0-9_]+\/"\)|api\.getAttribute\("storage\.googleapis\.com\/objectListPrefix", ""\)\.startsWith\("[a-z_]+\/[a-z0-9_]+\/"\))$/,
        );
      }
    }
  });

  it("sweeps the outbox from a schedule with a small function that may read outbox entries and manifests only", () => {
    const member = sa("trib-staging-outbox-sweep");
    const bindings = s.resources
      .filter((r) => r.type === T.member && r.inputs.member === member)
      .map((r) => [r.name, r.inputs.role, (r.inputs.condition as { expression: string }).expression]);
    expect(bindings).toEqual([
      [
        "trib-staging-outbox-sweep-curated-list",
        "roles/storage.objectViewer",
        'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("_outbox/")',
      ],
      [
        "trib-staging-outbox-sweep-curated-modify",
        "roles/storage.objectUser",
        'resource.name.startsWith("projects/_/buckets/trib-staging-curated/objects/_outbox/")',
      ],
      [
        "trib-staging-outbox-sweep-curated-read",
        "roles/storage.objectViewer",
        'resource.name.startsWith("projects/_/buckets/trib-staging-curated/objects/_manifests/")',
      ],
    ]);
    expect(inputs("trib-staging-outbox-sweep", T.fn)).toMatchObject({
      serviceConfig: { availableMemory: "256Mi", timeoutSeconds: 120 },
    });
    expect(inputs("trib-staging-outbox-sweep-schedule", T.job)).toMatchObject({
      schedule: "0,5,10,15,20,25,30,35,40,45,50,55 * * * *",
      timeZone: "UTC",
      pubsubTarget: { attributes: { type: "tributary.asset.scheduled", asset: "outbox-sweep" } },
    });
    // Each sweep logs how long the oldest unannounced commit has waited: a distribution, alerted over 30 min.
    expect(inputs("trib-staging-alerts-outbox", "gcp:logging/metric:Metric")).toEqual({
      project: PROJECT,
      name: "trib_staging_outbox_oldest_seconds",
      description:
        "How long the oldest commit of trib-staging has waited to be announced, at each outbox sweep",
      filter:
        'resource.type = "cloud_run_revision" AND resource.labels.service_name =~ "^trib-staging-" AND jsonPayload.event = "tributary.outbox.swept"',
      metricDescriptor: { metricKind: "DELTA", valueType: "DISTRIBUTION", unit: "s" },
      valueExtractor: "EXTRACT(jsonPayload.oldestSeconds)",
      bucketOptions: { exponentialBuckets: { numFiniteBuckets: 24, growthFactor: 2, scale: 1 } },
    });
    expect(inputs("trib-staging-outbox-sweep-outbox-age", T.alert)).toMatchObject({
      displayName: "trib-staging-outbox-sweep outbox-age",
      conditions: [
        {
          displayName: "A commit unannounced for more than 30 minutes",
          conditionThreshold: {
            filter:
              'resource.type = "cloud_run_revision" AND metric.type = "logging.googleapis.com/user/trib_staging_outbox_oldest_seconds"',
            aggregations: [{ alignmentPeriod: "300s", perSeriesAligner: "ALIGN_PERCENTILE_99" }],
            comparison: "COMPARISON_GT",
            thresholdValue: 1800,
            duration: "0s",
            evaluationMissingData: "EVALUATION_MISSING_DATA_NO_OP",
          },
        },
      ],
    });
  });

  it("publishes daily_revenue's schedule to its own topic, retried and dead-lettered like any trigger", () => {
    expect(inputs("trib-staging-daily-revenue-schedule", T.job)).toEqual({
      project: PROJECT,
      region: REGION,
      description: "daily_revenue: 30 2 * * * (UTC)",
      schedule: "30 2 * * *",
      timeZone: "UTC",
      pubsubTarget: {
        topicName: topic("daily-revenue-schedule"),
        attributes: { type: "tributary.asset.scheduled", asset: "daily_revenue" },
        data: Buffer.from('{"asset":"daily_revenue"}').toString("base64"),
      },
      retryConfig: { retryCount: 3, maxRetryDuration: "3600s" },
    });
    expect(inputs("trib-staging-daily-revenue-trigger", T.subscription)).toMatchObject({
      topic: topic("daily-revenue-schedule"),
      deadLetterPolicy: { deadLetterTopic: topic("daily-revenue-dead-letters"), maxDeliveryAttempts: 5 },
    });
    expect(inputs("trib-staging-daily-revenue-trigger", T.subscription).filter).toBeUndefined();
  });

  it("alerts on dead letters, errors and freshness", () => {
    const channel = `projects/${PROJECT}/notificationChannels/trib-staging-alerts-email`;
    const policies = s.resources.filter((r) => r.type === T.alert);
    for (const p of policies) expect(p.inputs.notificationChannels).toEqual([channel]);
    expect(inputs("trib-staging-curated-orders-dead-letters", T.alert).conditions).toEqual([
      {
        displayName: "Dead-lettered messages",
        conditionThreshold: {
          filter:
            'resource.type = "pubsub_subscription" AND resource.labels.subscription_id = "trib-staging-curated-orders-dead-letters" AND metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"',
          aggregations: [{ alignmentPeriod: "300s", perSeriesAligner: "ALIGN_MAX" }],
          comparison: "COMPARISON_GT",
          thresholdValue: 0,
          duration: "0s",
        },
      },
    ]);
    expect(inputs("trib-staging-daily-revenue-freshness", T.alert).conditions).toEqual([
      {
        displayName: "Not materialised in 1560 minutes",
        conditionPrometheusQueryLanguage: {
          query:
            'absent_over_time(logging_googleapis_com:user_trib_staging_asset_materialised{asset="daily_revenue"}[1560m])',
          duration: "0s",
          evaluationInterval: "300s",
        },
      },
    ]);
    expect(inputs("trib-staging-alerts-materialised", "gcp:logging/metric:Metric")).toMatchObject({
      name: "trib_staging_asset_materialised",
      labelExtractors: { asset: "EXTRACT(jsonPayload.asset)" },
    });
  });

  it("labels every labelled resource with the five required labels", () => {
    const labelled = s.resources.filter((r) => LABELLED_TYPES[r.type]);
    // Buckets, key, topics (the streams' too), subscriptions, functions, alert policies, secret, the
    // dataset and its tables.
    expect(labelled.length).toBe(4 + 1 + 18 + 20 + 10 + 23 + 1 + 1 + 6);
    for (const r of labelled) {
      expect(r.inputs[LABELLED_TYPES[r.type]!], r.name).toMatchObject({
        ...LABELS,
        "tributary-asset": expect.stringMatching(/^[a-z0-9_-]+$/),
      });
    }
  });

  it("outputs the buckets, topics and functions", () => {
    expect(s.outputs.buckets).toEqual({
      raw: "trib-staging-raw",
      curated: "trib-staging-curated",
      quarantine: "trib-staging-quarantine",
    });
    expect(s.outputs.buses).toEqual({
      "source-events": topic("source-events"),
      "asset-events": topic("asset-events"),
    });
    expect(Object.keys(s.outputs.functions as object).sort()).toEqual([
      "curated_customers",
      "curated_orders",
      "customer_features",
      "customers_cdc",
      "daily_revenue",
      "orders_cdc",
      "outbox-sweep",
      "recommendation_features",
      "recommendation_vectors",
      "table-maintenance",
    ]);
    expect((s.outputs.functions as Record<string, string>).daily_revenue).toBe("trib-staging-daily-revenue");
  });
});

describe("the curated assets as Iceberg tables on GCP", () => {
  const CURATED = [
    "curated_customers",
    "curated_orders",
    "customer_features",
    "daily_revenue",
    "recommendation_features",
    // An embedding asset's table is its ledger: each row's key, tenant, text and the text's hash.
    "recommendation_vectors",
  ];
  const shared = { ...LABELS, "tributary-asset": "_shared" };
  const CONNECTION = `projects/${PROJECT}/locations/${REGION}/connections/trib-staging-tables`;
  const ROLE = `projects/${PROJECT}/roles/tributary_trib_staging_committer`;
  const BQ_AGENT = `serviceAccount:bq-${NUMBER}@bigquery-encryption.iam.gserviceaccount.com`;

  it("keeps them in a dataset encrypted with the stack's key, as BigLake metastore tables read through one connection", () => {
    expect(inputs("trib-staging-tables", "gcp:bigquery/dataset:Dataset")).toEqual({
      project: PROJECT,
      datasetId: "trib_staging",
      location: REGION,
      description: "Tributary's curated assets as Iceberg tables (BigLake metastore)",
      defaultEncryptionConfiguration: { kmsKeyName: KEY },
      labels: shared,
    });
    // BigQuery's encryption agent may use the key, and the dataset waits for that grant.
    expect(inputs("trib-staging-data-bigquery")).toEqual({
      cryptoKeyId: KEY,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: BQ_AGENT,
    });
    expect(one("trib-staging-tables", "gcp:bigquery/dataset:Dataset").dependsOn).toContain(
      "urn:pulumi:staging-gcp::tributary::tributary:gcp:DataKey$gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember::trib-staging-data-bigquery",
    );
    expect(inputs("trib-staging-tables-connection")).toEqual({
      project: PROJECT,
      location: REGION,
      connectionId: "trib-staging-tables",
      friendlyName: "trib-staging-tables",
      description: "Tributary: BigQuery reads the curated tables' files through this connection",
      cloudResource: {},
    });
    const tables = s.resources.filter((r) => r.type === "gcp:bigquery/table:Table");
    expect(tables.map((t) => t.inputs.tableId)).toEqual(CURATED);
    expect(one("trib-staging-tables-daily-revenue", "gcp:bigquery/table:Table")).toMatchObject({
      inputs: {
        project: PROJECT,
        datasetId: "trib_staging",
        tableId: "daily_revenue",
        description: "Tributary asset daily_revenue (Iceberg; its function keeps metadata_location current)",
        deletionProtection: false,
        labels: { ...shared, "tributary-asset": "daily_revenue" },
        externalCatalogTableOptions: {
          connectionId: CONNECTION,
          parameters: { table_type: "ICEBERG", EXTERNAL: "TRUE" },
          storageDescriptor: {
            locationUri: "gs://trib-staging-curated/curated/daily_revenue",
            inputFormat: "org.apache.hadoop.mapred.FileInputFormat",
            outputFormat: "org.apache.hadoop.mapred.FileOutputFormat",
            serdeInfo: { serializationLibrary: "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe" },
          },
        },
      },
      options: {
        ignoreChanges: [
          "externalCatalogTableOptions.parameters.metadata_location",
          "externalCatalogTableOptions.parameters.previous_metadata_location",
          "schema",
        ],
      },
    });
    // The connection reads (and lists) the curated zone of the curated bucket, and nothing else.
    const agent = one("trib-staging-tables-read").inputs.member;
    // The connection's own service account, which BigQuery made for it.
    expect(agent).toMatch(
      new RegExp(
        `^serviceAccount:bqcx-${NUMBER}-[0-9a-f]{4}@gcp-sa-bigquery-condel\\.iam\\.gserviceaccount\\.com$`,
      ),
    );
    expect(
      s.resources
        .filter((r) => r.type === T.member && r.inputs.member === agent)
        .map((r) => [r.name, r.inputs])
        .sort(),
    ).toEqual([
      [
        "trib-staging-tables-list",
        {
          bucket: "trib-staging-curated",
          role: "roles/storage.objectViewer",
          member: agent,
          condition: {
            title: "list the curated tables",
            expression:
              'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("curated/")',
          },
        },
      ],
      [
        "trib-staging-tables-read",
        {
          bucket: "trib-staging-curated",
          role: "roles/storage.objectViewer",
          member: agent,
          condition: {
            title: "read the curated tables",
            expression:
              'resource.name.startsWith("projects/_/buckets/trib-staging-curated/objects/curated/")',
          },
        },
      ],
    ]);
  });

  it("lets an asset's function move its own table's pointer only; the maintenance every table's", () => {
    expect(inputs("trib-staging-tables-committer")).toEqual({
      project: PROJECT,
      roleId: "tributary_trib_staging_committer",
      title: "Tributary trib_staging: commit a curated table",
      description:
        "Moves an Iceberg table's metadata_location in BigQuery: bound on one table and its connection",
      permissions: ["bigquery.connections.delegate", "bigquery.tables.get", "bigquery.tables.update"],
    });
    const commits = (who: string) =>
      s.resources
        .filter(
          (r) => /gcp:bigquery\/(iamMember|connectionIamMember)/.test(r.type) && r.inputs.member === sa(who),
        )
        .map((r) => r.inputs);
    expect(commits("trib-staging-curated-orders")).toEqual([
      {
        project: PROJECT,
        location: REGION,
        connectionId: "trib-staging-tables",
        role: ROLE,
        member: sa("trib-staging-curated-orders"),
      },
      {
        project: PROJECT,
        datasetId: "trib_staging",
        tableId: "curated_orders",
        role: ROLE,
        member: sa("trib-staging-curated-orders"),
      },
    ]);
    expect(commits("trib-staging-table-maintenance").map((b) => b.tableId ?? b.connectionId)).toEqual([
      "trib-staging-tables",
      ...CURATED,
    ]);
    // Sources and the sweeper commit no table.
    expect(commits("trib-staging-orders-cdc")).toEqual([]);
    expect(commits("trib-staging-outbox-sweep")).toEqual([]);
    // The maintenance runs every night, and its function waits for its rights.
    expect(inputs("trib-staging-table-maintenance-schedule", T.job)).toMatchObject({
      schedule: "0 3 * * *",
      timeZone: "UTC",
    });
  });

  it("names a read-only query identity: data viewer on the dataset, job user, no bucket anywhere", () => {
    const reader = `serviceAccount:trib-staging-query-reader@${PROJECT}.iam.gserviceaccount.com`;
    expect(inputs("trib-staging-query-reader-tables")).toEqual({
      project: PROJECT,
      datasetId: "trib_staging",
      role: "roles/bigquery.dataViewer",
      member: reader,
    });
    expect(inputs("trib-staging-query-reader-jobs")).toEqual({
      project: PROJECT,
      role: "roles/bigquery.jobUser",
      member: reader,
    });
    expect(s.resources.filter((r) => r.inputs.member === reader).map((r) => r.name)).toEqual([
      "trib-staging-query-reader-tables",
      "trib-staging-query-reader-jobs",
    ]);
    expect(s.outputs.tables).toEqual({
      catalog: `${PROJECT}.trib_staging`,
      tables: Object.fromEntries(CURATED.map((k) => [k, `${PROJECT}.trib_staging.${k}`])),
      reader: `trib-staging-query-reader@${PROJECT}.iam.gserviceaccount.com`,
    });
  });
});

describe("the GCP stack of the reference graph declared disposable", () => {
  const shared = { ...LABELS, "tributary-asset": "_shared" };
  const disposable = { "tributary-disposable": "true" };
  const protectedInputs = inputs;

  it("with every asset and source disposable: nothing protected, every bucket force-destroyed, all labelled", async () => {
    const all = await disposableSynth("staging-gcp", "all");
    const { inputs } = lookup(() => all);
    expect(guarded(all)).toEqual([]);
    // The same buckets as the protected stack's but for these two inputs.
    for (const store of ["raw", "curated", "quarantine", "deploy-artifacts"]) {
      expect(inputs(`trib-staging-${store}`, T.bucket), store).toEqual({
        ...protectedInputs(`trib-staging-${store}`, T.bucket),
        forceDestroy: true,
        labels: { ...shared, ...disposable, "tributary-store": store },
      });
    }
    expect(inputs("trib-staging-data", "gcp:kms/cryptoKey:CryptoKey")).toEqual({
      name: "data",
      keyRing: `projects/${PROJECT}/locations/${REGION}/keyRings/trib-staging-data`,
      purpose: "ENCRYPT_DECRYPT",
      rotationPeriod: "31536000s",
      destroyScheduledDuration: "2592000s",
      labels: { ...shared, ...disposable },
    });
    expect(all.resources.map((r) => r.urn)).toEqual(s.resources.map((r) => r.urn));
    // What it lets go is marked disposable: the policy pack passes it.
    expect(evaluate(all.resources)).toEqual([]);
  }, 120_000);

  it("with only the sources disposable: the raw bucket goes, the rest (and the key) is kept", async () => {
    const sources = await disposableSynth("staging-gcp", "sources");
    const { inputs } = lookup(() => sources);
    expect(evaluate(sources.resources)).toEqual([]);
    expect(guarded(sources)).toEqual([
      ["gcp:kms/cryptoKey:CryptoKey", "trib-staging-data", KEPT],
      ["gcp:kms/keyRing:KeyRing", "trib-staging-data-ring", KEPT],
      [T.bucket, "trib-staging-curated", KEPT],
      [T.bucket, "trib-staging-deploy-artifacts", KEPT],
      [T.bucket, "trib-staging-quarantine", KEPT],
    ]);
    expect(inputs("trib-staging-raw", T.bucket)).toEqual({
      ...protectedInputs("trib-staging-raw", T.bucket),
      forceDestroy: true,
      labels: { ...shared, ...disposable, "tributary-store": "raw" },
    });
    for (const store of ["curated", "quarantine", "deploy-artifacts"]) {
      expect(inputs(`trib-staging-${store}`, T.bucket)).toEqual(
        protectedInputs(`trib-staging-${store}`, T.bucket),
      );
    }
  }, 120_000);
});

describe("the GCP adapter's pure parts", () => {
  it("maps tags to GCP labels", () => {
    expect(labelValue("team:growth")).toBe("team_growth");
    expect(labelValue("_shared")).toBe("_shared");
    expect(labelValue("Data Platform")).toBe("data_platform");
    expect(labelsOf({ "tributary:asset": "x", owner: "A/B" })).toEqual({
      owner: "a_b",
      "tributary-asset": "x",
    });
    expect(labelValue("x".repeat(80))).toHaveLength(63);
  });

  it("splits a long prefix list into conditions of at most 12 terms", () => {
    const grants: GrantPlan[] = Array.from({ length: 13 }, (_, i) => ({
      function: "f",
      store: "curated",
      prefix: `_manifests/u${i}/`,
      access: ["read"],
      reason: `upstream:u${i}`,
    }));
    const b = bucketBindings(grants, { raw: "r", curated: "c", quarantine: "q" });
    expect(b.map((x) => [x.suffix, x.condition.expression.split(" || ").length])).toEqual([
      ["curated-read", 12],
      ["curated-read-2", 1],
    ]);
  });

  it("keeps service account ids within 30 characters", () => {
    const hash = () => "abcdef123";
    expect(accountId("trib-staging-orders-cdc", hash)).toBe("trib-staging-orders-cdc");
    expect(accountId("trib-staging-recommendation-features", hash)).toBe("trib-staging-recommenda-abcdef");
    expect(accountId("trib-staging-recommendation-features", hash).length).toBeLessThanOrEqual(30);
  });

  it("filters on the message type and every upstream", () => {
    expect(subscriptionFilter("t", "asset", ["a", "b"])).toBe(
      'attributes.type = "t" AND (attributes.asset = "a" OR attributes.asset = "b")',
    );
  });
});
