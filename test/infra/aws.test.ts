/**
 * The AWS adapter on the reference pipeline: `synth` runs infra/index.ts under Pulumi's mocks for the
 * dev-aws stack, and the exact resources and their key inputs are asserted here.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, inject, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { functionPolicy } from "../../src/infra/aws/grants.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type Synthesis, synth } from "../../src/infra/synth/index.ts";
import { normalise } from "../../src/infra/synth/record.ts";
import { toLineage } from "../../src/kit/index.ts";
import { disposableSynth, guarded, GUARDED as KEPT, lookup } from "./synthesised.ts";

/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
let s: Synthesis;

beforeAll(async () => {
  s = await synth({ root: example, stack: "dev-aws" });
}, 120_000);

const { one, inputs } = lookup(() => s);
const doc = (name: string) => JSON.parse(inputs(name).policy as string);
const arn = {
  bucket: (b: string) => `arn:aws:s3:::trib-dev-${b}`,
  queue: (q: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:trib-dev-${q}`,
  key: `arn:aws:kms:${REGION}:${ACCOUNT}:key/trib-dev-data-key-id`,
  assetBus: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/trib-dev-asset-events`,
  logs: (k: string) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/tributary/trib-dev/${k}:log-stream:*`,
  glue: (resource: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:${resource}`,
  /** Secrets Manager's six random characters, offline made from the name (infra/synth/outputs/index.ts). */
  secret: (n: string) => {
    const name = `trib-dev-secret-${n.replaceAll("_", "-")}`;
    return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${createHash("sha256").update(name).digest("hex").slice(0, 6)}`;
  },
};
const TAGS = {
  "cost-centre": "cc-1042",
  owner: "data-platform",
  "tributary:env": "dev",
  "tributary:pipeline": "commerce",
};

describe("the AWS stack of the reference pipeline", () => {
  it("registers these resources, in components per store, bus and asset", () => {
    const counts: Record<string, number> = {};
    for (const r of s.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      "tributary:aws:DataKey": 1,
      "aws:kms/key:Key": 1,
      "aws:kms/alias:Alias": 1,
      // Raw, curated, quarantine, access logs and the query results.
      "tributary:aws:Store": 5,
      "aws:s3/bucket:Bucket": 5,
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 5,
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 5,
      "aws:s3/bucketVersioning:BucketVersioning": 5,
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 5,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 5,
      "aws:s3/bucketPolicy:BucketPolicy": 5,
      "aws:s3/bucketLogging:BucketLogging": 3,
      "tributary:aws:Bus": 2,
      "aws:cloudwatch/eventBus:EventBus": 2,
      "tributary:aws:Alerts": 1,
      "aws:sns/topic:Topic": 1,
      "aws:sns/topicSubscription:TopicSubscription": 1,
      "aws:sns/topicPolicy:TopicPolicy": 1,
      // One per asset and source, the stack's outbox sweeper and its table maintenance.
      "tributary:aws:AssetFunction": 10,
      // Theirs, their schedules', the query role and each stream's producer role.
      "aws:iam/role:Role": 17,
      "aws:iam/rolePolicy:RolePolicy": 17,
      "aws:cloudwatch/logGroup:LogGroup": 10,
      "aws:lambda/function:Function": 10,
      // A dead-letter queue per function; a consumer queue per asset an upstream triggers.
      "aws:sqs/queue:Queue": 14,
      "aws:sqs/queuePolicy:QueuePolicy": 8,
      // Asset events only: the CDC sources read their streams.
      "aws:cloudwatch/eventRule:EventRule": 4,
      "aws:cloudwatch/eventTarget:EventTarget": 4,
      // Four from queues, two from the streams.
      "aws:lambda/eventSourceMapping:EventSourceMapping": 6,
      "aws:scheduler/schedule:Schedule": 4,
      "aws:cloudwatch/metricAlarm:MetricAlarm": 23,
      "tributary:aws:Secret": 1,
      "aws:secretsmanager/secret:Secret": 1,
      "aws:secretsmanager/secretVersion:SecretVersion": 1,
      "random:index/randomBytes:RandomBytes": 1,
      // The curated assets as Iceberg tables: the stack's Glue database, one table per asset, Athena.
      "tributary:aws:Catalog": 1,
      "aws:glue/catalogDatabase:CatalogDatabase": 1,
      "aws:glue/catalogTable:CatalogTable": 6,
      "tributary:aws:Query": 1,
      "aws:athena/workgroup:Workgroup": 1,
      // A Kinesis data stream per CDC source, which Debezium Server writes to.
      "tributary:aws:Stream": 2,
      "aws:kinesis/stream:Stream": 2,
    });
    // Every cloud resource sits in a component; every component at the top.
    expect(s.resources.filter((r) => !r.custom && r.parent)).toEqual([]);
    expect(s.resources.filter((r) => r.custom && !r.parent)).toEqual([]);
    expect(one("trib-dev-curated-orders", "aws:lambda/function:Function").parent).toBe(
      "urn:pulumi:dev-aws::tributary::tributary:aws:AssetFunction::trib-dev-curated-orders",
    );
  });

  it("encrypts data stores with the rotated customer key, blocks public access, keeps versions and the data", () => {
    expect(one("trib-dev-data", "aws:kms/key:Key")).toMatchObject({
      inputs: { enableKeyRotation: true, deletionWindowInDays: 30 },
    });
    for (const store of ["raw", "curated", "quarantine"]) {
      expect(inputs(`trib-dev-${store}-encryption`)).toEqual({
        bucket: `trib-dev-${store}`,
        rules: [
          {
            applyServerSideEncryptionByDefault: { kmsMasterKeyId: arn.key, sseAlgorithm: "aws:kms" },
            bucketKeyEnabled: true,
          },
        ],
      });
      expect(inputs(`trib-dev-${store}-public-access`)).toEqual({
        bucket: `trib-dev-${store}`,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
      expect(inputs(`trib-dev-${store}-versioning`)).toEqual({
        bucket: `trib-dev-${store}`,
        versioningConfiguration: { status: "Enabled" },
      });
      expect(inputs(`trib-dev-${store}`, "aws:s3/bucket:Bucket")).toEqual({
        forceDestroy: false,
        tags: { ...TAGS, "tributary:asset": "_shared", "tributary:store": store },
      });
      expect(doc(`trib-dev-${store}-policy`)).toEqual({
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [arn.bucket(store), `${arn.bucket(store)}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          },
        ],
      });
      expect(inputs(`trib-dev-access-logs-${store}`)).toEqual({
        bucket: `trib-dev-${store}`,
        targetBucket: "trib-dev-access-logs",
        targetPrefix: `${store}/`,
      });
    }
    // S3 server access logging cannot deliver to an SSE-KMS bucket: the log bucket uses SSE-S3.
    expect(inputs("trib-dev-access-logs-encryption").rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
    ]);
    expect(doc("trib-dev-access-logs-policy").Statement[1]).toEqual({
      Sid: "AllowAccessLogDelivery",
      Effect: "Allow",
      Principal: { Service: "logging.s3.amazonaws.com" },
      Action: "s3:PutObject",
      Resource: ["raw", "curated", "quarantine"].map((z) => `${arn.bucket("access-logs")}/${z}/*`),
      Condition: { ArnEquals: { "aws:SourceArn": ["raw", "curated", "quarantine"].map(arn.bucket) } },
    });
  });

  it("protects and keeps every bucket and the key (the data-loss guard), and nothing else", () => {
    expect(guarded(s)).toEqual([
      ["aws:kms/key:Key", "trib-dev-data", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-access-logs", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-curated", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-quarantine", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-raw", KEPT],
    ]);
    expect(inputs("trib-dev-access-logs", "aws:s3/bucket:Bucket")).toEqual({
      forceDestroy: false,
      tags: { ...TAGS, "tributary:asset": "_shared", "tributary:store": "access-logs" },
    });
    expect(inputs("trib-dev-data", "aws:kms/key:Key").tags).toEqual({
      ...TAGS,
      "tributary:asset": "_shared",
    });
  });

  it("expires raw events and quarantine after retention, curated only in superseded versions", () => {
    const base = [
      {
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        filter: {},
        id: "abort-incomplete-uploads",
        status: "Enabled",
      },
    ];
    const noncurrent = (days: number) => ({
      filter: {},
      id: "expire-noncurrent-versions",
      noncurrentVersionExpiration: { noncurrentDays: days },
      status: "Enabled",
    });
    const expire = (days: number) => ({
      expiration: { days },
      filter: {},
      id: "expire-after-retention",
      status: "Enabled",
    });
    expect(inputs("trib-dev-raw-lifecycle").rules).toEqual([...base, noncurrent(30), expire(30)]);
    expect(inputs("trib-dev-quarantine-lifecycle").rules).toEqual([...base, noncurrent(30), expire(14)]);
    expect(inputs("trib-dev-curated-lifecycle").rules).toEqual([...base, noncurrent(7)]);
  });

  it("routes asset events to exactly the consumers the graph names, through an encrypted queue with a dead letter", () => {
    expect(inputs("trib-dev-curated-orders-rule").eventPattern).toBe(
      JSON.stringify({
        source: ["tributary"],
        "detail-type": ["tributary.asset.materialised"],
        detail: { asset: ["orders_cdc"] },
      }),
    );
    expect(inputs("trib-dev-recommendation-features-rule")).toMatchObject({
      eventBusName: "trib-dev-asset-events",
      eventPattern: JSON.stringify({
        source: ["tributary"],
        "detail-type": ["tributary.asset.materialised"],
        detail: { asset: ["customer_features"] },
      }),
    });
    // A CDC source's function reads its stream (streams.test.ts): no rule delivers it source events.
    expect(s.resources.filter((r) => r.name === "trib-dev-orders-cdc-rule")).toEqual([]);
    expect(inputs("trib-dev-curated-orders-queue")).toEqual({
      messageRetentionSeconds: 345600,
      redrivePolicy: JSON.stringify({
        deadLetterTargetArn: arn.queue("curated-orders-dlq"),
        maxReceiveCount: 5,
      }),
      sqsManagedSseEnabled: true,
      tags: { ...TAGS, "tributary:asset": "curated_orders", "tributary:role": "consumer" },
      visibilityTimeoutSeconds: 1800,
    });
    expect(inputs("trib-dev-curated-orders-dlq")).toEqual({
      messageRetentionSeconds: 1209600,
      sqsManagedSseEnabled: true,
      tags: { ...TAGS, "tributary:asset": "curated_orders", "tributary:role": "dead-letter" },
    });
    expect(inputs("trib-dev-curated-orders-target")).toEqual({
      arn: arn.queue("curated-orders-queue"),
      deadLetterConfig: { arn: arn.queue("curated-orders-dlq") },
      eventBusName: "trib-dev-asset-events",
      retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 3 },
      rule: "trib-dev-curated-orders-rule",
    });
    const rule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/trib-dev-asset-events/trib-dev-curated-orders-rule`;
    for (const q of ["queue", "dlq"]) {
      expect(doc(`trib-dev-curated-orders-${q}-policy`).Statement).toEqual([
        {
          Sid: "AllowDelivery",
          Effect: "Allow",
          Principal: { Service: "events.amazonaws.com" },
          Action: "sqs:SendMessage",
          Resource: arn.queue(`curated-orders-${q}`),
          Condition: { ArnEquals: { "aws:SourceArn": rule } },
        },
      ]);
    }
    expect(inputs("trib-dev-curated-orders-events")).toMatchObject({
      batchSize: 10,
      eventSourceArn: arn.queue("curated-orders-queue"),
      functionName: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:trib-dev-curated-orders`,
      functionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("runs each asset in its own Node.js 24 arm64 Lambda, its code the arm64 bundle folder", () => {
    const fn = inputs("trib-dev-curated-orders", "aws:lambda/function:Function");
    expect({ ...fn, code: undefined, tags: undefined }).toEqual({
      architectures: ["arm64"],
      description: "The latest state of every order per tenant, deletes applied.",
      environment: {
        variables: {
          TRIBUTARY_ASSET: "curated_orders",
          TRIBUTARY_ASSET_EVENTS: "trib-dev-asset-events",
          TRIBUTARY_ENV: "dev",
          TRIBUTARY_KIND: "asset",
          TRIBUTARY_STORE_CURATED: "s3://trib-dev-curated",
          TRIBUTARY_STORE_QUARANTINE: "s3://trib-dev-quarantine",
          TRIBUTARY_STORE_RAW: "s3://trib-dev-raw",
          TRIBUTARY_TIMEOUT_SECONDS: "300",
          // 512 MB: under one vCPU, no ingest workers.
          TRIBUTARY_CPUS: "0",
          // Each commit moves the table's pointer in the stack's Glue database.
          TRIBUTARY_TABLE_CATALOG: '{"kind":"glue","region":"eu-west-1","database":"trib_dev"}',
        },
      },
      handler: "index.handler",
      loggingConfig: { logFormat: "JSON", logGroup: "/tributary/trib-dev/curated_orders" },
      memorySize: 512,
      role: `arn:aws:iam::${ACCOUNT}:role/trib-dev-curated-orders-role`,
      runtime: "nodejs24.x",
      timeout: 300,
    });
    // Every function runs the one bundle of its architecture, the folder as `tributary bundle` wrote it.
    const bundles = inject("bundles");
    expect(fn.code).toEqual({ $archive: { path: path.join(bundles.dir, "aws-arm64") } });
    const codes = s.resources
      .filter((r) => r.type === "aws:lambda/function:Function")
      .map((r) => r.inputs.code);
    expect(codes).toEqual(Array(10).fill(fn.code));
    expect(inputs("trib-dev-curated-orders-logs")).toMatchObject({
      name: "/tributary/trib-dev/curated_orders",
      retentionInDays: 14,
    });
    expect(inputs("trib-dev-recommendation-features", "aws:lambda/function:Function").memorySize).toBe(1024);
  });

  it("lets an ingest function append raw events and its quarantine, never delete them", () => {
    const statements = doc("trib-dev-orders-cdc-policy").Statement as { Sid: string; Resource: string[] }[];
    const of = (sid: string) => statements.find((st) => st.Sid === sid)?.Resource;
    expect(of("WriteObjects")).toContain(`${arn.bucket("raw")}/raw/orders_cdc/*`);
    expect(of("WriteObjects")).toContain(`${arn.bucket("quarantine")}/quarantine/orders_cdc/*`);
    // Deletes only its bookkeeping: attempt claims, the ingest lock and the announcements it made.
    expect(of("DeleteObjects")).toEqual([
      `${arn.bucket("curated")}/_index/orders_cdc/*`,
      `${arn.bucket("curated")}/_locks/orders_cdc/*`,
      `${arn.bucket("curated")}/_outbox/orders_cdc/*`,
    ]);
    expect(of("ReadObjects")?.filter((r) => r.includes("/raw/"))).toEqual([]);
  });

  it("gives each function's role exactly the policy its graph edges allow", () => {
    expect(doc("trib-dev-curated-orders-policy")).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "ReadObjects",
          Effect: "Allow",
          Action: "s3:GetObject",
          Resource: [
            // curated_customers: what its reference check reads.
            `${arn.bucket("curated")}/curated/curated_customers/*`,
            `${arn.bucket("curated")}/_manifests/curated_customers/*`,
            `${arn.bucket("raw")}/raw/orders_cdc/*`,
            `${arn.bucket("curated")}/_manifests/orders_cdc/*`,
            `${arn.bucket("curated")}/curated/curated_orders/*`,
            `${arn.bucket("curated")}/_manifests/curated_orders/*`,
            `${arn.bucket("curated")}/_failures/curated_orders/*`,
            `${arn.bucket("curated")}/_locks/curated_orders/*`,
            `${arn.bucket("curated")}/_outbox/curated_orders/*`,
          ],
        },
        {
          Sid: "WriteObjects",
          Effect: "Allow",
          Action: "s3:PutObject",
          Resource: [
            `${arn.bucket("curated")}/curated/curated_orders/*`,
            `${arn.bucket("curated")}/_manifests/curated_orders/*`,
            `${arn.bucket("curated")}/_failures/curated_orders/*`,
            `${arn.bucket("curated")}/_locks/curated_orders/*`,
            `${arn.bucket("curated")}/_outbox/curated_orders/*`,
            `${arn.bucket("quarantine")}/quarantine/curated_orders/*`,
          ],
        },
        {
          Sid: "DeleteObjects",
          Effect: "Allow",
          Action: "s3:DeleteObject",
          Resource: [
            `${arn.bucket("curated")}/curated/curated_orders/*`,
            `${arn.bucket("curated")}/_failures/curated_orders/*`,
            `${arn.bucket("curated")}/_locks/curated_orders/*`,
            `${arn.bucket("curated")}/_outbox/curated_orders/*`,
          ],
        },
        {
          Sid: "ListCurated",
          Effect: "Allow",
          Action: "s3:ListBucket",
          Resource: arn.bucket("curated"),
          Condition: {
            StringLike: {
              "s3:prefix": [
                "_manifests/curated_customers/*",
                "_manifests/orders_cdc/*",
                "curated/curated_orders/*",
                "_manifests/curated_orders/*",
                "_locks/curated_orders/*",
                "_outbox/curated_orders/*",
              ],
            },
          },
        },
        {
          Sid: "UseDataKey",
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: arn.key,
        },
        {
          Sid: "PublishAssetEvents",
          Effect: "Allow",
          Action: "events:PutEvents",
          Resource: arn.assetBus,
          Condition: {
            StringEquals: {
              "events:source": "tributary",
              "events:detail-type": "tributary.asset.materialised",
            },
          },
        },
        {
          Sid: "ConsumeQueue",
          Effect: "Allow",
          Action: [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
          ],
          Resource: arn.queue("curated-orders-queue"),
        },
        {
          Sid: "CommitTables",
          Effect: "Allow",
          Action: ["glue:CreateTable", "glue:GetTable", "glue:UpdateTable"],
          Resource: [
            arn.glue("catalog"),
            arn.glue("database/trib_dev"),
            arn.glue("table/trib_dev/curated_orders"),
          ],
        },
        {
          Sid: "WriteLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: arn.logs("curated_orders"),
        },
      ],
    });
    // Every other function's document is the one its plan grants give, with its own ARNs.
    const plan = planDeployment(graph, readStackConfig(configMap(example, "dev-aws"), "dev-aws"));
    for (const fn of plan.functions) {
      const name = fn.name.slice("trib-dev-".length);
      const trigger = plan.triggers.find((t) => t.function === fn.id);
      const scheduled = trigger?.kind === "schedule";
      const streamed = trigger?.kind === "stream" ? trigger.stream : undefined;
      expect(doc(`${fn.name}-policy`), fn.id).toEqual(
        functionPolicy(
          plan.grants.filter((g) => g.function === fn.id),
          {
            buckets: {
              raw: arn.bucket("raw"),
              curated: arn.bucket("curated"),
              quarantine: arn.bucket("quarantine"),
            },
            key: arn.key,
            assetBus: arn.assetBus,
            logGroup: arn.logs(fn.id).replace(":log-stream:*", ""),
            queue: scheduled || streamed ? undefined : arn.queue(`${name}-queue`),
            deadLetters: scheduled || streamed ? arn.queue(`${name}-dlq`) : undefined,
            ...(streamed ? { stream: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${streamed}` } : {}),
            secrets: (fn.secrets ?? []).map((n) => arn.secret(n)),
            ...(fn.embeddingModel
              ? { models: [`arn:aws:bedrock:${REGION}::foundation-model/${fn.embeddingModel}`] }
              : {}),
            // An asset's own table; every table of the database for the maintenance; none for the rest.
            ...(fn.kind === "asset" || fn.kind === "maintain"
              ? {
                  tables: {
                    catalog: arn.glue("catalog"),
                    database: arn.glue("database/trib_dev"),
                    tables: [arn.glue(`table/trib_dev/${fn.kind === "asset" ? fn.id : "*"}`)],
                  },
                }
              : {}),
          },
        ),
      );
    }
  });

  it("schedules with EventBridge Scheduler in the asset's time zone, with retries and a dead letter", () => {
    expect(inputs("trib-dev-customer-features-schedule")).toEqual({
      description: "customer_features: 0 3 * * * (Europe/Berlin)",
      flexibleTimeWindow: { mode: "OFF" },
      scheduleExpression: "cron(0 3 * * ? *)",
      scheduleExpressionTimezone: "Europe/Berlin",
      state: "ENABLED",
      target: {
        arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:trib-dev-customer-features`,
        deadLetterConfig: { arn: arn.queue("customer-features-dlq") },
        input: JSON.stringify({
          asset: "customer_features",
          scheduledTime: "<aws.scheduler.scheduled-time>",
        }),
        retryPolicy: { maximumEventAgeInSeconds: 3600, maximumRetryAttempts: 3 },
        roleArn: `arn:aws:iam::${ACCOUNT}:role/trib-dev-customer-features-scheduler`,
      },
    });
    expect(doc("trib-dev-customer-features-scheduler-policy").Statement).toEqual([
      {
        Sid: "InvokeFunction",
        Effect: "Allow",
        Action: "lambda:InvokeFunction",
        Resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:trib-dev-customer-features`,
      },
      {
        Sid: "DeadLetter",
        Effect: "Allow",
        Action: "sqs:SendMessage",
        Resource: arn.queue("customer-features-dlq"),
      },
    ]);
    expect(
      JSON.parse(
        inputs("trib-dev-customer-features-scheduler", "aws:iam/role:Role").assumeRolePolicy as string,
      ),
    ).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { Service: "scheduler.amazonaws.com" }, Action: "sts:AssumeRole" },
      ],
    });
    // A scheduled function's failed asynchronous invocations land in its dead-letter queue too.
    expect(inputs("trib-dev-customer-features", "aws:lambda/function:Function").deadLetterConfig).toEqual({
      targetArn: arn.queue("customer-features-dlq"),
    });
  });

  it("sweeps the outbox every five minutes with a small function that reads no data, and alarms on its age", () => {
    const sweeper = inputs("trib-dev-outbox-sweep", "aws:lambda/function:Function");
    expect([sweeper.memorySize, sweeper.timeout, sweeper.handler]).toEqual([256, 120, "index.handler"]);
    expect((sweeper.environment as { variables: Record<string, string> }).variables).toMatchObject({
      TRIBUTARY_ASSET: "outbox-sweep",
      TRIBUTARY_KIND: "sweep",
      TRIBUTARY_TIMEOUT_SECONDS: "120",
    });
    expect(inputs("trib-dev-outbox-sweep-schedule")).toMatchObject({
      scheduleExpression: "cron(0,5,10,15,20,25,30,35,40,45,50,55 * * * ? *)",
      scheduleExpressionTimezone: "UTC",
      target: {
        input: JSON.stringify({ asset: "outbox-sweep", scheduledTime: "<aws.scheduler.scheduled-time>" }),
      },
    });
    const statements = doc("trib-dev-outbox-sweep-policy").Statement as { Sid: string }[];
    expect(statements.filter((st) => /Objects|List/.test(st.Sid))).toEqual([
      {
        Sid: "ReadObjects",
        Effect: "Allow",
        Action: "s3:GetObject",
        Resource: [`${arn.bucket("curated")}/_outbox/*`, `${arn.bucket("curated")}/_manifests/*`],
      },
      {
        Sid: "DeleteObjects",
        Effect: "Allow",
        Action: "s3:DeleteObject",
        Resource: [`${arn.bucket("curated")}/_outbox/*`],
      },
      {
        Sid: "ListCurated",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: arn.bucket("curated"),
        Condition: { StringLike: { "s3:prefix": ["_outbox/*"] } },
      },
    ]);
    // The age of the oldest unannounced commit, set by every sweep: over 30 minutes, the alarm fires.
    expect(inputs("trib-dev-outbox-sweep-outbox-age")).toEqual({
      alarmDescription:
        "A commit has waited more than 30 minutes to be announced: the assets downstream of it wait too. Look at the sweeper's logs (tributary.outbox.swept) and the asset-events bus; tributary status lists what is unannounced.",
      namespace: "Tributary",
      metricName: "OutboxOldestSeconds",
      dimensions: { Environment: "dev" },
      statistic: "Maximum",
      comparisonOperator: "GreaterThanThreshold",
      threshold: 1800,
      period: 300,
      evaluationPeriods: 1,
      treatMissingData: "ignore",
      alarmActions: [`arn:aws:sns:${REGION}:${ACCOUNT}:trib-dev-alerts`],
      okActions: [`arn:aws:sns:${REGION}:${ACCOUNT}:trib-dev-alerts`],
      tags: { ...TAGS, "tributary:asset": "outbox-sweep" },
    });
  });

  it("alarms to the alert e-mail on dead letters, errors and staleness", () => {
    const topic = `arn:aws:sns:${REGION}:${ACCOUNT}:trib-dev-alerts`;
    expect(inputs("trib-dev-alerts-email")).toEqual({
      endpoint: "data-alerts@example.com",
      protocol: "email",
      topic,
    });
    expect(inputs("trib-dev-daily-revenue-dead-letters")).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: "trib-dev-daily-revenue-dlq" },
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
      alarmActions: [topic],
    });
    expect(inputs("trib-dev-daily-revenue-errors")).toMatchObject({
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: "trib-dev-daily-revenue" },
      alarmActions: [topic],
    });
    // 26 hours of hourly periods without a materialisation (CloudWatch looks back at most 7 days).
    expect(inputs("trib-dev-daily-revenue-freshness")).toMatchObject({
      namespace: "Tributary",
      metricName: "AssetMaterialized",
      dimensions: { Asset: "daily_revenue", Environment: "dev" },
      statistic: "Sum",
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      period: 3600,
      evaluationPeriods: 26,
      datapointsToAlarm: 26,
      treatMissingData: "breaching",
    });
  });

  it("tags every taggable resource with asset, pipeline, env, owner and cost centre", () => {
    const tagged = s.resources.filter((r) => r.custom && r.inputs.tags !== undefined);
    // Buckets, key, buses, topic, roles, log groups, functions, queues, rules, mappings, alarms, secret,
    // the Glue database and the Athena workgroup (Glue tables take no tags), the streams.
    expect(tagged).toHaveLength(5 + 1 + 2 + 1 + 17 + 10 + 10 + 14 + 4 + 6 + 23 + 1 + 1 + 1 + 2);
    for (const r of tagged) {
      expect(Object.keys(r.inputs.tags as object), r.urn).toEqual(
        expect.arrayContaining(["tributary:asset", ...Object.keys(TAGS)]),
      );
    }
    expect(
      (inputs("trib-dev-orders-cdc", "aws:lambda/function:Function").tags as Record<string, string>)[
        "tributary:asset"
      ],
    ).toBe("orders_cdc");
  });

  it("outputs bucket names, bus ARNs, function names and the lineage", async () => {
    expect(s.outputs.buckets).toEqual({
      raw: "trib-dev-raw",
      curated: "trib-dev-curated",
      quarantine: "trib-dev-quarantine",
    });
    expect(s.outputs.buses).toEqual({
      "asset-events": arn.assetBus,
      "source-events": `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/trib-dev-source-events`,
    });
    expect(s.outputs.functions).toEqual({
      curated_customers: "trib-dev-curated-customers",
      curated_orders: "trib-dev-curated-orders",
      customer_features: "trib-dev-customer-features",
      customers_cdc: "trib-dev-customers-cdc",
      daily_revenue: "trib-dev-daily-revenue",
      orders_cdc: "trib-dev-orders-cdc",
      recommendation_features: "trib-dev-recommendation-features",
      recommendation_vectors: "trib-dev-recommendation-vectors",
      "outbox-sweep": "trib-dev-outbox-sweep",
      "table-maintenance": "trib-dev-table-maintenance",
    });
    expect(JSON.stringify(s.outputs.lineage)).toBe(JSON.stringify(await normalise(toLineage(graph))));
    expect(s.outputs.stackName).toBe("dev-aws");
  });
});

describe("the curated assets as Iceberg tables on AWS", () => {
  const CURATED = [
    "curated_customers",
    "curated_orders",
    "customer_features",
    "daily_revenue",
    "recommendation_features",
    // An embedding asset's table is its ledger: each row's key, tenant, text and the text's hash.
    "recommendation_vectors",
  ];
  const shared = { ...TAGS, "tributary:asset": "_shared" };

  it("registers each in the stack's Glue database as an Iceberg table, its pointer and columns left to its function", () => {
    expect(inputs("trib-dev-tables", "aws:glue/catalogDatabase:CatalogDatabase")).toEqual({
      name: "trib_dev",
      description: "Tributary's curated assets as Iceberg tables",
      locationUri: "s3://trib-dev-curated/curated/",
      tags: shared,
    });
    const tables = s.resources.filter((r) => r.type === "aws:glue/catalogTable:CatalogTable");
    expect(tables.map((t) => t.inputs.name)).toEqual(CURATED);
    expect(one("trib-dev-tables-daily-revenue", "aws:glue/catalogTable:CatalogTable")).toMatchObject({
      inputs: {
        name: "daily_revenue",
        databaseName: "trib_dev",
        description: "Tributary asset daily_revenue (Iceberg; its function keeps metadata_location current)",
        tableType: "EXTERNAL_TABLE",
        parameters: { table_type: "ICEBERG", EXTERNAL: "TRUE", "tributary:asset": "daily_revenue" },
        storageDescriptor: { location: "s3://trib-dev-curated/curated/daily_revenue" },
      },
      options: {
        ignoreChanges: [
          "parameters.metadata_location",
          "parameters.previous_metadata_location",
          "storageDescriptor.columns",
        ],
      },
    });
    // The maintenance function commits every table: the database's, on a schedule, nightly.
    expect(inputs("trib-dev-table-maintenance-schedule")).toMatchObject({
      scheduleExpression: "cron(0 3 * * ? *)",
      scheduleExpressionTimezone: "UTC",
      target: {
        input: JSON.stringify({
          asset: "table-maintenance",
          scheduledTime: "<aws.scheduler.scheduled-time>",
        }),
      },
    });
    const maintenance = inputs("trib-dev-table-maintenance", "aws:lambda/function:Function");
    expect([
      maintenance.timeout,
      (maintenance.environment as { variables: Record<string, string> }).variables,
    ]).toEqual([
      900,
      expect.objectContaining({
        TRIBUTARY_ASSET: "table-maintenance",
        TRIBUTARY_KIND: "maintain",
        TRIBUTARY_TABLE_CATALOG: '{"kind":"glue","region":"eu-west-1","database":"trib_dev"}',
      }),
    ]);
    // Sources commit no table, so they have no catalog.
    const ingest = inputs("trib-dev-orders-cdc", "aws:lambda/function:Function");
    expect((ingest.environment as { variables: Record<string, string> }).variables).not.toHaveProperty(
      "TRIBUTARY_TABLE_CATALOG",
    );
  });

  it("queries them in an Athena workgroup that enforces encrypted results in their own bucket and a scan cutoff", () => {
    expect(inputs("trib-dev-query", "aws:athena/workgroup:Workgroup")).toEqual({
      name: "trib-dev-query",
      description: "Tributary: serverless SQL over the stack's curated tables",
      state: "ENABLED",
      forceDestroy: true,
      configuration: {
        enforceWorkgroupConfiguration: true,
        publishCloudwatchMetricsEnabled: true,
        // The default: 10 GB, 5 cents at Athena's $5 per TB.
        bytesScannedCutoffPerQuery: 10_000_000_000,
        engineVersion: { selectedEngineVersion: "Athena engine version 3" },
        resultConfiguration: {
          outputLocation: "s3://trib-dev-query-results/athena/",
          encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKeyArn: arn.key },
          expectedBucketOwner: ACCOUNT,
        },
      },
      tags: shared,
    });
    // Private, versioned, encrypted with the stack's key, TLS only, expiring: disposable, results can be rerun.
    expect(inputs("trib-dev-query-results", "aws:s3/bucket:Bucket")).toEqual({
      forceDestroy: true,
      tags: { ...shared, "tributary:store": "query-results", "tributary:disposable": "true" },
    });
    expect(inputs("trib-dev-query-results-encryption").rules).toEqual([
      {
        applyServerSideEncryptionByDefault: { kmsMasterKeyId: arn.key, sseAlgorithm: "aws:kms" },
        bucketKeyEnabled: true,
      },
    ]);
    expect(inputs("trib-dev-query-results-public-access")).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    expect(inputs("trib-dev-query-results-lifecycle").rules).toEqual([
      {
        id: "abort-incomplete-uploads",
        filter: {},
        status: "Enabled",
        abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      },
      {
        id: "expire-noncurrent-versions",
        filter: {},
        status: "Enabled",
        noncurrentVersionExpiration: { noncurrentDays: 1 },
      },
      { id: "expire-after-retention", filter: {}, status: "Enabled", expiration: { days: 7 } },
    ]);
  });

  it("names a read-only query role, which reads the curated tables and nothing of raw, quarantine or the records", () => {
    const role = one("trib-dev-query-reader", "aws:iam/role:Role");
    expect(JSON.parse(role.inputs.assumeRolePolicy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" },
      ],
    });
    const results = "arn:aws:s3:::trib-dev-query-results";
    expect(doc("trib-dev-query-reader-policy")).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "RunQueries",
          Effect: "Allow",
          Action: [
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:GetWorkGroup",
            "athena:StartQueryExecution",
            "athena:StopQueryExecution",
          ],
          Resource: `arn:aws:athena:${REGION}:${ACCOUNT}:workgroup/trib-dev-query`,
        },
        {
          Sid: "ReadCatalog",
          Effect: "Allow",
          Action: ["glue:GetDatabase", "glue:GetPartitions", "glue:GetTable", "glue:GetTables"],
          Resource: [arn.glue("catalog"), arn.glue("database/trib_dev"), arn.glue("table/trib_dev/*")],
        },
        {
          Sid: "ReadTables",
          Effect: "Allow",
          Action: "s3:GetObject",
          Resource: `${arn.bucket("curated")}/curated/*`,
        },
        {
          Sid: "ListTables",
          Effect: "Allow",
          Action: "s3:ListBucket",
          Resource: arn.bucket("curated"),
          Condition: { StringLike: { "s3:prefix": ["curated/*"] } },
        },
        {
          Sid: "WriteResults",
          Effect: "Allow",
          Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
          Resource: `${results}/athena/*`,
        },
        {
          Sid: "ListResults",
          Effect: "Allow",
          Action: ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
          Resource: results,
          Condition: { StringLike: { "s3:prefix": ["athena/*"] } },
        },
        {
          Sid: "LocateBuckets",
          Effect: "Allow",
          Action: "s3:GetBucketLocation",
          Resource: [arn.bucket("curated"), results],
        },
        {
          Sid: "UseDataKey",
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: arn.key,
        },
      ],
    });
    expect(s.outputs.tables).toEqual({
      catalog: "trib_dev",
      tables: Object.fromEntries(CURATED.map((k) => [k, `trib_dev.${k}`])),
      reader: `arn:aws:iam::${ACCOUNT}:role/trib-dev-query-reader`,
      workgroup: "trib-dev-query",
    });
  });
});

describe("the AWS stack of the reference graph declared disposable", () => {
  const shared = { ...TAGS, "tributary:asset": "_shared" };
  const disposable = { "tributary:disposable": "true" };

  it("with every asset and source disposable: nothing protected, every bucket force-destroyed, all tagged", async () => {
    const all = await disposableSynth("dev-aws", "all");
    const { inputs } = lookup(() => all);
    expect(guarded(all)).toEqual([]);
    for (const store of ["raw", "curated", "quarantine", "access-logs"]) {
      expect(inputs(`trib-dev-${store}`, "aws:s3/bucket:Bucket"), store).toEqual({
        forceDestroy: true,
        tags: { ...shared, ...disposable, "tributary:store": store },
      });
    }
    expect(inputs("trib-dev-data", "aws:kms/key:Key")).toEqual({
      description: "Tributary dev-aws: encrypts the raw, curated and quarantine stores",
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      tags: { ...shared, ...disposable },
    });
    // Same logical names as the protected stack: declaring disposable replaces nothing.
    expect(all.resources.map((r) => r.urn)).toEqual(s.resources.map((r) => r.urn));
    // What it lets go is marked disposable: the policy pack passes it.
    expect(evaluate(all.resources)).toEqual([]);
  }, 120_000);

  it("with only the sources disposable: the raw bucket goes, the rest (and the key) is kept", async () => {
    const sources = await disposableSynth("dev-aws", "sources");
    const { inputs } = lookup(() => sources);
    expect(evaluate(sources.resources)).toEqual([]);
    expect(guarded(sources)).toEqual([
      ["aws:kms/key:Key", "trib-dev-data", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-access-logs", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-curated", KEPT],
      ["aws:s3/bucket:Bucket", "trib-dev-quarantine", KEPT],
    ]);
    expect(inputs("trib-dev-raw", "aws:s3/bucket:Bucket")).toEqual({
      forceDestroy: true,
      tags: { ...shared, ...disposable, "tributary:store": "raw" },
    });
    expect(inputs("trib-dev-curated", "aws:s3/bucket:Bucket")).toEqual({
      forceDestroy: false,
      tags: { ...shared, "tributary:store": "curated" },
    });
  }, 120_000);
});
