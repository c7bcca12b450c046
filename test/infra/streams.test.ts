/**
 * The CDC streams on every cloud, for the reference graph with its two sources declared CDC sources
 * (fixtures/cdc-program.ts): the plan's streams and triggers; what `tributary synth` registers on each
 * cloud for them (by type and name, with their exact inputs); the stack outputs Debezium Server is
 * configured with; Pulumi's own runner registering the same; and each stream rule of the policy pack
 * failing on the variant that breaks it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { summary } from "../../src/cli/commands/plan.ts";
import { MAX_AZURE_STREAMS, PlanError, planDeployment } from "../../src/infra/plan/build.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { diffPlans } from "../../src/infra/preview/plan-diff.ts";
import type { ResourceRecord, Synthesis } from "../../src/infra/synth/index.ts";
import { defineGraph, Type } from "../../src/kit/index.ts";
import { CONFIG } from "./fixtures/config.ts";
import { cdcProject } from "./streamed.ts";
import { edited, lookup } from "./synthesised.ts";

const cdc = (table: string) => ({
  format: "debezium" as const,
  connector: "postgresql" as const,
  table,
  key: ["id"],
  row: Type.Object({ id: Type.String() }),
});
/** The reference graph with its sources capturing `tables` (by source key). */
const withCdc = (tables: Record<string, string>) =>
  defineGraph(
    graph
      .assets()
      .map((a) =>
        a.kind === "source" && tables[a.key] ? Object.freeze({ ...a, cdc: cdc(tables[a.key]!) }) : a,
      ),
  );
const TABLES = { orders_cdc: "shop.orders", customers_cdc: "shop.customers" };
/**
 * The reference graph with no CDC source: its sources take plain records from the source-events bus
 * (their ids and times named as plain fields of the envelope, which a plan does not read).
 */
const withoutCdc = defineGraph(
  graph.assets().map((a) => {
    if (a.kind !== "source" || !a.cdc) return a;
    const { cdc: _, tenant: __, ...plain } = a;
    return Object.freeze({ ...plain, eventId: "op", eventTime: "ts_ms" });
  }),
);

describe("the plan of a graph with CDC sources", () => {
  const plan = planDeployment(withCdc(TABLES), CONFIG);

  it("has a stream per CDC source, named as Debezium Server names the table's destination under the stack's prefix", () => {
    expect(plan.streams).toEqual([
      {
        source: "customers_cdc",
        name: "trib-dev.shop.customers",
        topicPrefix: "trib-dev",
        table: "shop.customers",
        format: "debezium",
        connector: "postgresql",
        retentionHours: 168,
      },
      {
        source: "orders_cdc",
        name: "trib-dev.shop.orders",
        topicPrefix: "trib-dev",
        table: "shop.orders",
        format: "debezium",
        connector: "postgresql",
        retentionHours: 168,
      },
    ]);
  });

  it("starts each CDC source's function on its stream, not on the source-events bus, which keeps no consumer", () => {
    const retry = { attempts: 5, maxEventAgeSeconds: 604800 };
    expect(plan.triggers.filter((t) => t.kind === "stream")).toEqual([
      {
        function: "customers_cdc",
        kind: "stream",
        stream: "trib-dev.shop.customers",
        table: "shop.customers",
        retry,
      },
      { function: "orders_cdc", kind: "stream", stream: "trib-dev.shop.orders", table: "shop.orders", retry },
    ]);
    expect(plan.buses.find((b) => b.id === "source-events")!.consumers).toEqual([]);
    // Its dead letters are watched, as every triggered function's.
    expect(plan.alarms.filter((a) => a.function === "orders_cdc").map((a) => a.kind)).toEqual([
      "dead-letters",
      "errors",
    ]);
  });

  it("shows its streams in `tributary plan` and in a pull request's plan changes", () => {
    const text = summary(plan);
    expect(text.slice(text.indexOf("streams"), text.indexOf("functions"))).toBe(
      [
        "streams (Debezium Server's topic.prefix: the stack's prefix)",
        "source         stream                   table           kept",
        "customers_cdc  trib-dev.shop.customers  shop.customers  7 days",
        "orders_cdc     trib-dev.shop.orders     shop.orders     7 days",
        "",
        "",
      ].join("\n"),
    );
    const changes = diffPlans("dev-aws", planDeployment(withoutCdc, CONFIG), plan).changes;
    expect(changes.filter((c) => c.section === "streams")).toEqual([
      { section: "streams", id: "customers_cdc", op: "add", asset: "customers_cdc" },
      { section: "streams", id: "orders_cdc", op: "add", asset: "orders_cdc" },
    ]);
    expect(changes.find((c) => c.section === "triggers" && c.id === "orders_cdc")).toEqual({
      section: "triggers",
      id: "orders_cdc",
      op: "change",
      asset: "orders_cdc",
      fields: [
        "bus: source-events → -",
        "kind: source-event → stream",
        "retry.attempts: 3 → 5",
        "retry.maxEventAgeSeconds: 3600 → 604800",
        "source: orders_cdc → -",
        "stream: - → trib-dev.shop.orders",
        "table: - → shop.orders",
      ],
    });
  });

  it("has no stream for a graph without CDC sources", () => {
    expect(planDeployment(withoutCdc, CONFIG).streams).toEqual([]);
  });

  it("refuses a table a stream cannot be named after, two sources of one table, and more streams than Azure's namespace holds", () => {
    expect(() => planDeployment(withCdc({ orders_cdc: "shop.or ders" }), CONFIG)).toThrow(
      new PlanError(
        'CDC source "orders_cdc" captures the table "shop.or ders", whose stream would be named "trib-dev.shop.or ders": a stream name is 2 to 128 letters, digits, ".", "_" and "-", ending in a letter or digit (Kinesis, Pub/Sub and Event Hubs all take it). Capture the table under a name of that kind.',
      ),
    );
    expect(() =>
      planDeployment(withCdc({ orders_cdc: "shop.orders", customers_cdc: "shop.orders" }), CONFIG),
    ).toThrow(
      new PlanError(
        'CDC sources "customers_cdc" and "orders_cdc" both capture shop.orders: one stream per table, read by one source; declare one source for it.',
      ),
    );
    const many = defineGraph(
      Array.from({ length: MAX_AZURE_STREAMS + 1 }, (_, i) =>
        Object.freeze({ ...graph.get("orders_cdc"), key: `t${i}`, cdc: cdc(`shop.t${i}`) }),
      ),
    );
    expect(() => planDeployment(many, { ...CONFIG, cloud: "azure", stack: "prod-azure" })).toThrow(
      new PlanError(
        'stack "prod-azure" deploys 101 CDC sources; its Event Hubs namespace (Premium, one processing unit) holds at most 100 event hubs. Split the pipelines over two stacks.',
      ),
    );
  });
});

const project = cdcProject();
let aws: Synthesis;
let gcp: Synthesis;
let azure: Synthesis;
let runs: Record<string, Pick<Synthesis, "resources" | "outputs">>;
beforeAll(async () => {
  // One stack at a time, its synth and its run side by side: two programs at once on two cores.
  const stacks = ["dev-aws", "staging-gcp", "prod-azure"] as const;
  const synths: Synthesis[] = [];
  runs = {};
  for (const stack of stacks) {
    const [synthesised, real] = await Promise.all([project.synth(stack), project.run(stack)]);
    synths.push(synthesised);
    runs[stack] = real;
  }
  [aws, gcp, azure] = synths as [Synthesis, Synthesis, Synthesis];
}, 1_200_000);
afterAll(() => project.remove());

const TAGS = { "cost-centre": "cc-1042", owner: "data-platform", "tributary:pipeline": "commerce" };

describe("the synthesised stacks", () => {
  it.each([
    ["dev-aws", () => aws],
    ["staging-gcp", () => gcp],
    ["prod-azure", () => azure],
  ])(
    "%s: Pulumi's own runner registers exactly what synth prints, and the policy pack passes",
    (stack, s) => {
      expect(JSON.stringify(runs[stack]!.resources)).toBe(JSON.stringify(s().resources));
      expect(runs[stack]!.outputs).toEqual(s().outputs);
      expect(evaluate(s().resources)).toEqual([]);
    },
  );
});

describe("AWS: a Kinesis data stream per CDC source, read through an event source mapping", () => {
  const { inputs } = lookup(() => aws);
  const KEY = "arn:aws:kms:eu-west-1:123456789012:key/trib-dev-data-key-id";
  const STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-dev.shop.orders";
  const DLQ = "arn:aws:sqs:eu-west-1:123456789012:trib-dev-orders-cdc-dlq";

  it("the stream: on demand, kept a week, encrypted with the stack's key", () => {
    expect(inputs("trib-dev-stream-orders-cdc", "aws:kinesis/stream:Stream")).toEqual({
      name: "trib-dev.shop.orders",
      streamModeDetails: { streamMode: "ON_DEMAND" },
      retentionPeriod: 168,
      encryptionType: "KMS",
      kmsKeyId: KEY,
      tags: {
        ...TAGS,
        "tributary:asset": "orders_cdc",
        "tributary:env": "dev",
        "tributary:stream": "trib-dev.shop.orders",
      },
    });
  });

  it("its producer role: trusted by the account, allowed to put records on this stream and make data keys through Kinesis", () => {
    expect(
      JSON.parse(
        inputs("trib-dev-stream-orders-cdc-producer", "aws:iam/role:Role").assumeRolePolicy as string,
      ),
    ).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "sts:AssumeRole" },
      ],
    });
    expect(JSON.parse(inputs("trib-dev-stream-orders-cdc-producer-policy").policy as string)).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "SendToStream",
          Effect: "Allow",
          Action: ["kinesis:PutRecord", "kinesis:PutRecords"],
          Resource: STREAM,
        },
        {
          Sid: "EncryptRecords",
          Effect: "Allow",
          Action: "kms:GenerateDataKey",
          Resource: KEY,
          Condition: { StringEquals: { "kms:ViaService": "kinesis.eu-west-1.amazonaws.com" } },
        },
      ],
    });
  });

  it("the mapping: from the oldest record, partial batch responses, bisect, bounded retries, on failure to the function's KMS-encrypted queue", () => {
    expect(inputs("trib-dev-orders-cdc-stream", "aws:lambda/eventSourceMapping:EventSourceMapping")).toEqual({
      eventSourceArn: STREAM,
      functionName: "arn:aws:lambda:eu-west-1:123456789012:function:trib-dev-orders-cdc",
      startingPosition: "TRIM_HORIZON",
      batchSize: 100,
      maximumBatchingWindowInSeconds: 1,
      functionResponseTypes: ["ReportBatchItemFailures"],
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 5,
      maximumRecordAgeInSeconds: 604800,
      destinationConfig: { onFailure: { destinationArn: DLQ } },
      tags: { ...TAGS, "tributary:asset": "orders_cdc", "tributary:env": "dev" },
    });
    expect(inputs("trib-dev-orders-cdc-dlq", "aws:sqs/queue:Queue")).toMatchObject({
      kmsMasterKeyId: KEY,
      kmsDataKeyReusePeriodSeconds: 300,
      messageRetentionSeconds: 1209600,
    });
    // No queue, bus rule or SQS mapping: the stream is its only trigger.
    expect(
      aws.resources.filter((r) => /^trib-dev-orders-cdc-(queue|rule|target|events)/.test(r.name)),
    ).toEqual([]);
  });

  it("the function reads exactly its stream, and sends to its on-failure queue", () => {
    const policy = JSON.parse(inputs("trib-dev-orders-cdc-policy").policy as string) as {
      Statement: { Sid: string }[];
    };
    expect(policy.Statement.filter((s) => ["ReadStream", "DeadLetter"].includes(s.Sid))).toEqual([
      {
        Sid: "ReadStream",
        Effect: "Allow",
        Action: [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
          "kinesis:ListShards",
        ],
        Resource: STREAM,
      },
      { Sid: "DeadLetter", Effect: "Allow", Action: "sqs:SendMessage", Resource: DLQ },
    ]);
    // No other function may read or send to a stream.
    const kinesis = aws.resources
      .filter(
        (r) => r.type === "aws:iam/rolePolicy:RolePolicy" && String(r.inputs.policy).includes("kinesis:"),
      )
      .map((r) => r.name);
    expect(kinesis).toEqual([
      "trib-dev-customers-cdc-policy",
      "trib-dev-orders-cdc-policy",
      "trib-dev-stream-customers-cdc-producer-policy",
      "trib-dev-stream-orders-cdc-producer-policy",
    ]);
  });

  it("outputs what Debezium Server's Kinesis sink is configured with", () => {
    expect(aws.outputs.streams).toEqual({
      customers_cdc: {
        stream: "trib-dev.shop.customers",
        arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-dev.shop.customers",
        region: "eu-west-1",
        topicPrefix: "trib-dev",
        producerRoleArn: "arn:aws:iam::123456789012:role/trib-dev-stream-customers-cdc-producer",
      },
      orders_cdc: {
        stream: "trib-dev.shop.orders",
        arn: STREAM,
        region: "eu-west-1",
        topicPrefix: "trib-dev",
        producerRoleArn: "arn:aws:iam::123456789012:role/trib-dev-stream-orders-cdc-producer",
      },
    });
  });
});

describe("GCP: a CMEK Pub/Sub topic per CDC source, pushed in order to its function", () => {
  const { one, inputs } = lookup(() => gcp);
  const KEY = "projects/tributary-staging/locations/europe-west1/keyRings/trib-staging-data/cryptoKeys/data";
  const LABELS = {
    "cost-centre": "cc-1042",
    owner: "data-platform",
    "tributary-env": "staging",
    "tributary-pipeline": "commerce",
  };
  const PRODUCER = "trib-staging-stream-ord-38c2b7@tributary-staging.iam.gserviceaccount.com";

  it("the topic: under the stack's key, which Pub/Sub's agent may use, messages kept a week", () => {
    expect(inputs("trib-staging-stream-orders-cdc", "gcp:pubsub/topic:Topic")).toEqual({
      name: "trib-staging.shop.orders",
      project: "tributary-staging",
      kmsKeyName: KEY,
      messageRetentionDuration: "604800s",
      labels: { ...LABELS, "tributary-asset": "orders_cdc", "tributary-role": "stream" },
    });
    expect(one("trib-staging-stream-orders-cdc", "gcp:pubsub/topic:Topic").dependsOn).toContain(
      one("trib-staging-data-encrypter-pubsub").urn,
    );
    expect(inputs("trib-staging-data-encrypter-pubsub")).toEqual({
      cryptoKeyId: KEY,
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
      member: "serviceAccount:service-202301715201@gcp-sa-pubsub.iam.gserviceaccount.com",
    });
  });

  it("its producer: a service account that may publish to this topic and nothing else", () => {
    expect(
      inputs("trib-staging-stream-orders-cdc-producer", "gcp:serviceaccount/account:Account"),
    ).toMatchObject({
      accountId: "trib-staging-stream-ord-38c2b7",
    });
    expect(
      gcp.resources
        .filter((r) => r.inputs.member === `serviceAccount:${PRODUCER}`)
        .map((r) => [r.type, r.name, r.inputs]),
    ).toEqual([
      [
        "gcp:pubsub/topicIAMMember:TopicIAMMember",
        "trib-staging-stream-orders-cdc-producer-publish",
        {
          project: "tributary-staging",
          topic: "trib-staging.shop.orders",
          role: "roles/pubsub.publisher",
          member: `serviceAccount:${PRODUCER}`,
        },
      ],
    ]);
  });

  it("the function's subscription: ordered push with OIDC, dead-lettering to a topic under the stack's key", () => {
    expect(inputs("trib-staging-orders-cdc-trigger", "gcp:pubsub/subscription:Subscription")).toEqual({
      project: "tributary-staging",
      topic: "projects/tributary-staging/topics/trib-staging.shop.orders",
      enableMessageOrdering: true,
      messageRetentionDuration: "604800s",
      ackDeadlineSeconds: 300,
      pushConfig: {
        pushEndpoint:
          "https://europe-west1-tributary-staging.cloudfunctions.net/trib-staging-orders-cdc/projects/tributary-staging/topics/trib-staging.shop.orders",
        oidcToken: {
          serviceAccountEmail: "trib-staging-orders-cdc-inv@tributary-staging.iam.gserviceaccount.com",
          audience: "https://europe-west1-tributary-staging.cloudfunctions.net/trib-staging-orders-cdc",
        },
      },
      retryPolicy: { minimumBackoff: "10s", maximumBackoff: "600s" },
      deadLetterPolicy: {
        deadLetterTopic: "projects/tributary-staging/topics/trib-staging-orders-cdc-dead-letters",
        maxDeliveryAttempts: 6,
      },
      expirationPolicy: { ttl: "" },
      labels: { ...LABELS, "tributary-asset": "orders_cdc", "tributary-role": "consumer" },
    });
    expect(inputs("trib-staging-orders-cdc-dead-letters", "gcp:pubsub/topic:Topic")).toEqual({
      project: "tributary-staging",
      kmsKeyName: KEY,
      labels: { ...LABELS, "tributary-asset": "orders_cdc", "tributary-role": "dead-letter" },
    });
    // The Pub/Sub agent dead-letters: it publishes to the dead-letter topic, acknowledges the subscription.
    expect(inputs("trib-staging-orders-cdc-dead-letters-publish")).toMatchObject({
      topic: "trib-staging-orders-cdc-dead-letters",
      role: "roles/pubsub.publisher",
      member: "serviceAccount:service-202301715201@gcp-sa-pubsub.iam.gserviceaccount.com",
    });
    expect(inputs("trib-staging-orders-cdc-trigger-subscribe")).toMatchObject({
      subscription: "trib-staging-orders-cdc-trigger",
      role: "roles/pubsub.subscriber",
    });
  });

  it("outputs what Debezium Server's Pub/Sub sink is configured with", () => {
    expect(gcp.outputs.streams).toMatchObject({
      orders_cdc: {
        topic: "trib-staging.shop.orders",
        id: "projects/tributary-staging/topics/trib-staging.shop.orders",
        project: "tributary-staging",
        topicPrefix: "trib-staging",
        producerServiceAccount: PRODUCER,
      },
    });
  });
});

describe("Azure: a Premium Event Hubs namespace, a hub and a consumer group per CDC source", () => {
  const { one, inputs } = lookup(() => azure);
  const SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/trib-prod/providers";
  const HUB = `${SUB}/Microsoft.EventHub/namespaces/trib-prod-streams-1127c7/eventhubs/trib-prod.shop.orders`;
  const role = (guid: string) =>
    `/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

  it("the namespace: local auth off, TLS 1.2, the stack's key, no public network, a private endpoint", () => {
    const identity = `${SUB}/Microsoft.ManagedIdentity/userAssignedIdentities/trib-prod-data-identity`;
    expect(inputs("trib-prod-streams", "azure-native:eventhub:Namespace")).toEqual({
      resourceGroupName: "trib-prod",
      namespaceName: "trib-prod-streams-1127c7",
      sku: { name: "Premium", tier: "Premium", capacity: 1 },
      identity: { type: "UserAssigned", userAssignedIdentities: [identity] },
      encryption: {
        keySource: "Microsoft.KeyVault",
        keyVaultProperties: [
          {
            keyName: "trib-prod-data",
            keyVaultUri: "https://trib-prod-kv-1127c7.vault.azure.net/",
            identity: { userAssignedIdentity: identity },
          },
        ],
        requireInfrastructureEncryption: false,
      },
      minimumTlsVersion: "1.2",
      disableLocalAuth: true,
      publicNetworkAccess: "Disabled",
      tags: { ...TAGS, "tributary:asset": "_shared", "tributary:env": "prod" },
    });
    expect(one("trib-prod-streams", "azure-native:eventhub:Namespace").dependsOn).toEqual([
      one("trib-prod-data-use").urn,
    ]);
    expect(inputs("trib-prod-streams-network")).toEqual({
      resourceGroupName: "trib-prod",
      namespaceName: "trib-prod-streams-1127c7",
      publicNetworkAccess: "Disabled",
      defaultAction: "Deny",
      ipRules: [],
      virtualNetworkRules: [],
      trustedServiceAccessEnabled: false,
    });
    expect(inputs("trib-prod-streams-namespace-endpoint")).toMatchObject({
      privateLinkServiceConnections: [
        {
          groupIds: ["namespace"],
          privateLinkServiceId: `${SUB}/Microsoft.EventHub/namespaces/trib-prod-streams-1127c7`,
        },
      ],
    });
  });

  it("the hub, its function's consumer group, and its producer identity with Data Sender on that hub alone", () => {
    expect(inputs("trib-prod-streams-orders-cdc", "azure-native:eventhub:EventHub")).toEqual({
      resourceGroupName: "trib-prod",
      namespaceName: "trib-prod-streams-1127c7",
      eventHubName: "trib-prod.shop.orders",
      partitionCount: 4,
      retentionDescription: { cleanupPolicy: "Delete", retentionTimeInHours: 168 },
    });
    expect(inputs("trib-prod-streams-orders-cdc-consumer")).toEqual({
      resourceGroupName: "trib-prod",
      namespaceName: "trib-prod-streams-1127c7",
      eventHubName: "trib-prod.shop.orders",
      consumerGroupName: "orders_cdc",
      userMetadata: "The function of orders_cdc",
    });
    const send = inputs("trib-prod-streams-orders-cdc-producer-send");
    expect(send).toMatchObject({
      scope: HUB,
      roleDefinitionId: role("2b629674-e913-4c01-ae53-ef4638d8f975"),
    });
    expect(
      azure.resources.filter((r) => r.inputs.principalId === send.principalId).map((r) => r.name),
    ).toEqual(["trib-prod-streams-orders-cdc-producer-send"]);
  });

  it("the function: the trigger's settings, Data Receiver on its hub, its checkpoints under its own prefix, a dead-letter queue it may send to", () => {
    const settings = (
      inputs("trib-prod-orders-cdc", "azure-native:web:WebApp").siteConfig as {
        appSettings: { name: string; value: string }[];
      }
    ).appSettings.filter((s) => /STREAM|DEAD_LETTERS/.test(s.name));
    expect(settings).toEqual([
      {
        name: "TRIBUTARY_STREAM__fullyQualifiedNamespace",
        value: "trib-prod-streams-1127c7.servicebus.windows.net",
      },
      { name: "TRIBUTARY_STREAM_HUB", value: "trib-prod.shop.orders" },
      { name: "TRIBUTARY_STREAM_CONSUMER_GROUP", value: "orders_cdc" },
      { name: "TRIBUTARY_STREAM_RETRIES", value: "5" },
      { name: "TRIBUTARY_DEAD_LETTERS", value: "orders_cdc-dead-letters" },
    ]);
    expect(inputs("trib-prod-orders-cdc-stream")).toMatchObject({
      scope: HUB,
      roleDefinitionId: role("a638d3c7-ab3a-418d-83e6-5f17a39d4fde"),
    });
    const prefix = "trib-prod-streams-1127c7.servicebus.windows.net/trib-prod.shop.orders/orders_cdc/";
    const checkpoints = inputs("trib-prod-orders-cdc-checkpoints");
    expect(checkpoints).toMatchObject({
      scope: `${SUB}/Microsoft.Storage/storageAccounts/tribprodhost1127c7/blobServices/default/containers/azure-webjobs-eventhub`,
      roleDefinitionId: role("ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
      conditionVersion: "2.0",
    });
    expect(
      String(checkpoints.condition)
        .match(/'[^']+'/g)!
        .filter((q) => q.includes("/") && !q.includes("Microsoft.Storage")),
    ).toEqual(Array(3).fill(`'${prefix}'`));
    expect(inputs("trib-prod-orders-cdc-dead-letter")).toMatchObject({
      scope: `${SUB}/Microsoft.ServiceBus/namespaces/trib-prod-bus-1127c7/queues/orders_cdc-dead-letters`,
      roleDefinitionId: role("69a216fc-b8fb-44d8-bc22-1f3c2c88ae39"),
    });
    expect(inputs("trib-prod-host-azure-webjobs-eventhub")).toMatchObject({
      containerName: "azure-webjobs-eventhub",
    });
    // No Service Bus subscription: the event hub is its only trigger.
    expect(azure.resources.filter((r) => r.name === "trib-prod-orders-cdc-subscription")).toEqual([]);
  });

  it("outputs what Debezium Server's Event Hubs sink signs in as and sends to", () => {
    expect(azure.outputs.streams).toMatchObject({
      orders_cdc: {
        namespace: "trib-prod-streams-1127c7.servicebus.windows.net",
        hub: "trib-prod.shop.orders",
        topicPrefix: "trib-prod",
        producerClientId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        producerIdentityId: `${SUB}/Microsoft.ManagedIdentity/userAssignedIdentities/trib-prod-streams-orders-cdc-producer`,
      },
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// The stream rules of the policy pack, each broken

const violations = (resources: readonly ResourceRecord[]) =>
  evaluate(resources).map((v) => [v.policy, resources.find((r) => r.urn === v.urn)!.name, v.message]);
const policy = (rs: readonly ResourceRecord[], name: string) => {
  const p = rs.find((r) => r.name === name && r.type === "aws:iam/rolePolicy:RolePolicy")!;
  return JSON.parse(p.inputs.policy as string) as { Statement: Record<string, unknown>[] };
};
const withPolicy = (
  rs: readonly ResourceRecord[],
  name: string,
  change: (statements: Record<string, unknown>[]) => void,
) =>
  edited(rs, name, "aws:iam/rolePolicy:RolePolicy", (i) => {
    const doc = JSON.parse(i.policy as string) as { Statement: Record<string, unknown>[] };
    change(doc.Statement);
    return { ...i, policy: JSON.stringify(doc) };
  });

describe("stream-encrypted-with-stack-key", () => {
  it("fails a Kinesis stream without KMS, or under the AWS-managed key", () => {
    expect(
      violations(
        edited(aws.resources, "trib-dev-stream-orders-cdc", "aws:kinesis/stream:Stream", (i) => ({
          ...i,
          encryptionType: "NONE",
        })),
      ),
    ).toEqual([
      [
        "stream-encrypted-with-stack-key",
        "trib-dev-stream-orders-cdc",
        'Kinesis stream "trib-dev-stream-orders-cdc" is not encrypted; set encryptionType "KMS" and kmsKeyId to the stack\'s KMS key',
      ],
    ]);
    expect(
      violations(
        edited(aws.resources, "trib-dev-stream-orders-cdc", "aws:kinesis/stream:Stream", (i) => ({
          ...i,
          kmsKeyId: "alias/aws/kinesis",
        })),
      ),
    ).toEqual([
      [
        "stream-encrypted-with-stack-key",
        "trib-dev-stream-orders-cdc",
        'Kinesis stream "trib-dev-stream-orders-cdc" is encrypted with an AWS-managed key; set encryptionType "KMS" and kmsKeyId to the stack\'s KMS key',
      ],
    ]);
  });

  it("fails a stream topic without CMEK, and an Event Hubs namespace with Microsoft-managed keys", () => {
    expect(
      violations(
        edited(
          gcp.resources,
          "trib-staging-stream-orders-cdc",
          "gcp:pubsub/topic:Topic",
          ({ kmsKeyName: _, ...i }) => i,
        ),
      ),
    ).toEqual([
      [
        "stream-encrypted-with-stack-key",
        "trib-staging-stream-orders-cdc",
        'topic "trib-staging-stream-orders-cdc" is a stream encrypted with a Google-managed key; set kmsKeyName to the stack\'s Cloud KMS key',
      ],
    ]);
    expect(
      violations(
        edited(
          azure.resources,
          "trib-prod-streams",
          "azure-native:eventhub:Namespace",
          ({ encryption: _, ...i }) => i,
        ),
      ),
    ).toEqual([
      [
        "stream-encrypted-with-stack-key",
        "trib-prod-streams",
        'Event Hubs namespace "trib-prod-streams" is encrypted with Microsoft-managed keys; set encryption.keySource "Microsoft.KeyVault" with the stack\'s key (keyVaultProperties), which takes the Premium tier',
      ],
    ]);
  });
});

describe("stream-local-auth-off", () => {
  const NS = "azure-native:eventhub:Namespace";
  it("fails SAS keys, old TLS, a public namespace, a missing private endpoint, an authorization rule", () => {
    expect(
      violations(
        edited(azure.resources, "trib-prod-streams", NS, (i) => ({
          ...i,
          disableLocalAuth: false,
          minimumTlsVersion: "1.0",
        })),
      ),
    ).toEqual([
      [
        "stream-local-auth-off",
        "trib-prod-streams",
        'Event Hubs namespace "trib-prod-streams" accepts SAS keys; set disableLocalAuth to true (producers and functions sign in with Entra ID)',
      ],
      [
        "stream-local-auth-off",
        "trib-prod-streams",
        'Event Hubs namespace "trib-prod-streams" accepts TLS below 1.2; set minimumTlsVersion "1.2"',
      ],
    ]);
    expect(
      violations(
        edited(
          azure.resources,
          "trib-prod-streams-network",
          "azure-native:eventhub:NamespaceNetworkRuleSet",
          (i) => ({ ...i, defaultAction: "Allow" }),
        ),
      ),
    ).toEqual([
      [
        "stream-local-auth-off",
        "trib-prod-streams",
        'Event Hubs namespace "trib-prod-streams" takes traffic from the internet; set publicNetworkAccess "Disabled" and a network rule set that denies by default with no IP rule',
      ],
    ]);
    expect(
      violations(
        azure.resources.filter(
          (r) =>
            r.name !== "trib-prod-streams-namespace-endpoint" ||
            r.type !== "azure-native:network:PrivateEndpoint",
        ),
      ),
    ).toContainEqual([
      "stream-local-auth-off",
      "trib-prod-streams",
      'Event Hubs namespace "trib-prod-streams" has no private endpoint; give it one in the stack\'s network (group "namespace")',
    ]);
    const sas: ResourceRecord = {
      ...azure.resources.find((r) => r.name === "trib-prod-streams-orders-cdc")!,
      urn: "urn:pulumi:prod-azure::tributary::tributary:azure:Streams$azure-native:eventhub:EventHubAuthorizationRule::trib-prod-streams-orders-cdc-send",
      type: "azure-native:eventhub:EventHubAuthorizationRule",
      name: "trib-prod-streams-orders-cdc-send",
      inputs: { rights: ["Send"] },
    };
    expect(violations([...azure.resources, sas])).toEqual([
      [
        "stream-local-auth-off",
        "trib-prod-streams-orders-cdc-send",
        'event hub authorization rule "trib-prod-streams-orders-cdc-send" makes a SAS key; remove it: the namespace\'s local authentication is off, and access is granted by role',
      ],
    ]);
  });
});

describe("stream-producer-sends-only", () => {
  it("AWS: fails a producer allowed more, on another stream, and a function allowed to send", () => {
    expect(
      violations(
        withPolicy(aws.resources, "trib-dev-stream-orders-cdc-producer-policy", (s) => {
          s[0]!.Resource = "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-dev.shop.customers";
        }),
      ),
    ).toEqual([
      [
        "stream-producer-sends-only",
        "trib-dev-stream-orders-cdc-producer-policy",
        'role policy "trib-dev-stream-orders-cdc-producer-policy" statement "SendToStream" lets the producer send with kinesis:PutRecord, kinesis:PutRecords to "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-dev.shop.customers"; allow kinesis:PutRecord and kinesis:PutRecords on its own stream alone',
      ],
    ]);
    expect(
      violations(
        withPolicy(aws.resources, "trib-dev-stream-orders-cdc-producer-policy", (s) => {
          s.push({
            Sid: "Read",
            Effect: "Allow",
            Action: "s3:GetObject",
            Resource: "arn:aws:s3:::trib-dev-raw/raw/orders_cdc/*",
          });
        }),
      ),
    ).toEqual([
      [
        "stream-producer-sends-only",
        "trib-dev-stream-orders-cdc-producer-policy",
        'role policy "trib-dev-stream-orders-cdc-producer-policy" statement "Read" lets the producer do s3:GetObject; a producer role sends to its stream and makes data keys through Kinesis, nothing else',
      ],
    ]);
    const stream = "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-dev.shop.orders";
    expect(
      violations(
        withPolicy(aws.resources, "trib-dev-curated-orders-policy", (s) => {
          s.push({ Sid: "Forge", Effect: "Allow", Action: "kinesis:PutRecords", Resource: stream });
        }),
      ),
    ).toEqual([
      [
        "stream-producer-sends-only",
        "trib-dev-curated-orders-policy",
        `role policy "trib-dev-curated-orders-policy" statement "Forge" lets a role that is no stream's producer send to "${stream}"; only a stream's producer sends to it`,
      ],
    ]);
  });

  it("GCP: fails a producer given another role, and another member publishing to a stream", () => {
    const producer =
      "serviceAccount:trib-staging-stream-ord-38c2b7@tributary-staging.iam.gserviceaccount.com";
    const member = gcp.resources.find((r) => r.name === "trib-staging-orders-cdc-publish")!;
    const extra: ResourceRecord = {
      ...member,
      urn: `${member.urn}-extra`,
      name: "trib-staging-extra",
      inputs: { ...member.inputs, member: producer },
    };
    expect(violations([...gcp.resources, extra])).toEqual([
      [
        "stream-producer-sends-only",
        "trib-staging-extra",
        `topic IAM member "trib-staging-extra" gives the producer of trib-staging.shop.orders (${producer}) roles/pubsub.publisher; a producer may publish to its own stream and nothing else`,
      ],
    ]);
    expect(
      violations(
        edited(
          gcp.resources,
          "trib-staging-stream-orders-cdc-producer-publish",
          "gcp:pubsub/topicIAMMember:TopicIAMMember",
          (i) => ({
            ...i,
            member: "serviceAccount:trib-staging-curated-orders@tributary-staging.iam.gserviceaccount.com",
          }),
        ),
      ),
    ).toEqual([
      [
        "stream-producer-sends-only",
        "trib-staging-stream-orders-cdc-producer-publish",
        'topic IAM member "trib-staging-stream-orders-cdc-producer-publish" lets serviceAccount:trib-staging-curated-orders@tributary-staging.iam.gserviceaccount.com publish to stream "trib-staging.shop.orders"; only its producer publishes to it',
      ],
    ]);
  });

  it("Azure: fails a sender on the namespace, and a producer given another role", () => {
    const ns =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/trib-prod/providers/Microsoft.EventHub/namespaces/trib-prod-streams-1127c7";
    expect(
      violations(
        edited(
          azure.resources,
          "trib-prod-streams-orders-cdc-producer-send",
          "azure-native:authorization:RoleAssignment",
          (i) => ({ ...i, scope: ns }),
        ),
      ),
    ).toEqual([
      [
        "stream-producer-sends-only",
        "trib-prod-streams-orders-cdc-producer-send",
        `role assignment "trib-prod-streams-orders-cdc-producer-send" lets an identity send on "${ns}"; only a stream's producer identity sends, as Azure Event Hubs Data Sender on its own event hub`,
      ],
    ]);
    const send = azure.resources.find((r) => r.name === "trib-prod-streams-orders-cdc-producer-send")!;
    const extra = edited(
      azure.resources,
      "trib-prod-orders-cdc-stream",
      "azure-native:authorization:RoleAssignment",
      (i) => ({
        ...i,
        principalId: send.inputs.principalId,
      }),
    );
    expect(violations(extra)).toEqual([
      [
        "stream-producer-sends-only",
        "trib-prod-orders-cdc-stream",
        `role assignment "trib-prod-orders-cdc-stream" gives the producer identity of trib-prod.shop.orders another role (/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/a638d3c7-ab3a-418d-83e6-5f17a39d4fde on "${String(extra.find((r) => r.name === "trib-prod-orders-cdc-stream")!.inputs.scope)}"); a producer sends to its own stream and does nothing else`,
      ],
    ]);
  });
});

describe("stream-consumer-reads-own", () => {
  const customers = "arn:aws:kinesis:eu-west-1:123456789012:stream/trib-dev.shop.customers";
  it("AWS: fails a function reading another stream than its mapping's", () => {
    expect(
      violations(
        withPolicy(aws.resources, "trib-dev-orders-cdc-policy", (s) => {
          s.find((x) => x.Sid === "ReadStream")!.Resource = customers;
        }),
      ),
    ).toEqual([
      [
        "stream-consumer-reads-own",
        "trib-dev-orders-cdc-policy",
        `role policy "trib-dev-orders-cdc-policy" statement "ReadStream" lets a role read "${customers}"; a stream is read by its source's function alone, which reads exactly the stream its event source mapping names`,
      ],
    ]);
    expect(
      policy(aws.resources, "trib-dev-orders-cdc-policy").Statement.some((s) => s.Sid === "ReadStream"),
    ).toBe(true);
  });

  it("GCP: fails a subscription to a stream outside its source's function", () => {
    expect(
      violations(
        edited(
          gcp.resources,
          "trib-staging-customers-cdc-trigger",
          "gcp:pubsub/subscription:Subscription",
          (i) => ({
            ...i,
            topic: "projects/tributary-staging/topics/trib-staging.shop.orders",
          }),
        ),
      ),
    ).toEqual([
      [
        "stream-consumer-reads-own",
        "trib-staging-customers-cdc-trigger",
        'subscription "trib-staging-customers-cdc-trigger" reads stream "trib-staging.shop.orders" of "orders_cdc"; a stream has one subscription, its source\'s function\'s',
      ],
      [
        "stream-consumer-reads-own",
        "trib-staging-orders-cdc-trigger",
        'subscription "trib-staging-orders-cdc-trigger" reads stream "trib-staging.shop.orders" of "orders_cdc"; a stream has one subscription, its source\'s function\'s',
      ],
    ]);
  });

  it("Azure: fails a receiver on a hub its function's settings do not name", () => {
    const other =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/trib-prod/providers/Microsoft.EventHub/namespaces/trib-prod-streams-1127c7/eventhubs/trib-prod.shop.customers";
    expect(
      violations(
        edited(
          azure.resources,
          "trib-prod-orders-cdc-stream",
          "azure-native:authorization:RoleAssignment",
          (i) => ({ ...i, scope: other }),
        ),
      ),
    ).toEqual([
      [
        "stream-consumer-reads-own",
        "trib-prod-orders-cdc-stream",
        `role assignment "trib-prod-orders-cdc-stream" lets an identity read "${other}"; a stream's event hub is read by its source's function alone, whose TRIBUTARY_STREAM_HUB names it`,
      ],
    ]);
  });
});

describe("stream-dead-letters", () => {
  it("AWS: fails a mapping without partial batch responses, bisection, bounded retries or an encrypted on-failure queue", () => {
    const ESM = "aws:lambda/eventSourceMapping:EventSourceMapping";
    expect(
      violations(
        edited(
          aws.resources,
          "trib-dev-orders-cdc-stream",
          ESM,
          ({ destinationConfig: _, functionResponseTypes: __, ...i }) => ({
            ...i,
            bisectBatchOnFunctionError: false,
            maximumRetryAttempts: -1,
          }),
        ),
      ),
    ).toContainEqual([
      "stream-dead-letters",
      "trib-dev-orders-cdc-stream",
      'event source mapping "trib-dev-orders-cdc-stream" of trib-dev.shop.orders needs functionResponseTypes ["ReportBatchItemFailures"], bisectBatchOnFunctionError true, a maximumRetryAttempts of 0 or more (it retries forever without), an on-failure destination (destinationConfig.onFailure), an SQS queue or SNS topic of the stack',
    ]);
    expect(
      violations(
        edited(
          aws.resources,
          "trib-dev-orders-cdc-dlq",
          "aws:sqs/queue:Queue",
          ({ kmsMasterKeyId: _, kmsDataKeyReusePeriodSeconds: __, ...i }) => i,
        ),
      ),
    ).toEqual([
      [
        "stream-dead-letters",
        "trib-dev-orders-cdc-stream",
        'event source mapping "trib-dev-orders-cdc-stream" of trib-dev.shop.orders needs an on-failure destination encrypted with a KMS key (trib-dev-orders-cdc-dlq has no kmsMasterKeyId)',
      ],
    ]);
  });

  it("GCP: fails an unordered stream subscription, and a dead-letter topic without the stack's key", () => {
    expect(
      violations(
        edited(
          gcp.resources,
          "trib-staging-orders-cdc-trigger",
          "gcp:pubsub/subscription:Subscription",
          (i) => ({
            ...i,
            enableMessageOrdering: false,
          }),
        ),
      ),
    ).toEqual([
      [
        "stream-dead-letters",
        "trib-staging-orders-cdc-trigger",
        'subscription "trib-staging-orders-cdc-trigger" of stream "trib-staging.shop.orders" needs enableMessageOrdering true (the record key orders a table\'s rows)',
      ],
    ]);
    expect(
      violations(
        edited(
          gcp.resources,
          "trib-staging-orders-cdc-dead-letters",
          "gcp:pubsub/topic:Topic",
          ({ kmsKeyName: _, ...i }) => i,
        ),
      ),
    ).toEqual([
      [
        "stream-dead-letters",
        "trib-staging-orders-cdc-trigger",
        'subscription "trib-staging-orders-cdc-trigger" of stream "trib-staging.shop.orders" needs a dead-letter topic under a Cloud KMS key (trib-staging-orders-cdc-dead-letters has no kmsKeyName)',
      ],
    ]);
  });

  it("Azure: fails a function reading a hub with no dead-letter queue it may send to", () => {
    const noSender = azure.resources.filter((r) => r.name !== "trib-prod-orders-cdc-dead-letter");
    expect(violations(noSender)).toEqual([
      [
        "stream-dead-letters",
        "trib-prod-orders-cdc",
        'function app "trib-prod-orders-cdc" reads event hub "trib-prod.shop.orders" but may not send to its dead-letter queue; give it a dead-letter queue and Azure Service Bus Data Sender on it',
      ],
    ]);
  });
});
