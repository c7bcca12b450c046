/**
 * The policy pack's rules for the CDC streams (docs/streams.md), on every cloud:
 *
 *   - stream-encrypted-with-stack-key: a Kinesis data stream is KMS-encrypted with a customer-managed key,
 *     a stream's Pub/Sub topic with a Cloud KMS key (CMEK), an Event Hubs namespace with a Key Vault key.
 *   - stream-local-auth-off: an Event Hubs namespace takes Entra ID only (local, SAS, authentication off,
 *     no authorization rule), TLS 1.2 at least, and no traffic from the internet (public network access
 *     disabled, network rules that deny by default) but through a private endpoint.
 *   - stream-producer-sends-only: the producer identity of a stream (Debezium Server's) may send to that
 *     stream and do nothing else, and nobody else may send to it.
 *   - stream-consumer-reads-own: only the function of a stream's CDC source reads it, and that function
 *     reads no other stream.
 *   - stream-dead-letters: what a stream's function cannot land does not vanish: a Kinesis event source
 *     mapping reports batch item failures, bisects, retries a bounded number of times and sends what still
 *     fails to an encrypted on-failure destination; a stream's subscription is ordered and dead-letters
 *     to a topic under a Cloud KMS key; an Event Hubs function names a dead-letter queue of the stack and
 *     may send to it (Service Bus encrypts it at rest).
 */
import type { ResourceRecord } from "../../synth/record.ts";
import { at, isObject, UNKNOWN } from "../read.ts";
import type { Rule } from "./common.ts";
import { asList, collect, statements } from "./secrets.ts";

export const STREAM_TYPES = {
  awsStream: "aws:kinesis/stream:Stream",
  awsMapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
  awsQueue: "aws:sqs/queue:Queue",
  awsTopic: "aws:sns/topic:Topic",
  awsRolePolicy: "aws:iam/rolePolicy:RolePolicy",
  gcpTopic: "gcp:pubsub/topic:Topic",
  gcpSubscription: "gcp:pubsub/subscription:Subscription",
  gcpAccount: "gcp:serviceaccount/account:Account",
  gcpTopicMember: "gcp:pubsub/topicIAMMember:TopicIAMMember",
  azureNamespace: "azure-native:eventhub:Namespace",
  azureNetworkRules: "azure-native:eventhub:NamespaceNetworkRuleSet",
  azureNamespaceRule: "azure-native:eventhub:NamespaceAuthorizationRule",
  azureHubRule: "azure-native:eventhub:EventHubAuthorizationRule",
  azureEndpoint: "azure-native:network:PrivateEndpoint",
  azureRoleAssignment: "azure-native:authorization:RoleAssignment",
  azureWebApp: "azure-native:web:WebApp",
  azureQueue: "azure-native:servicebus:Queue",
} as const;

/** The components a stream, its producer and its consumer live in. */
const COMPONENTS = {
  awsStream: "tributary:aws:Stream",
  gcpStream: "tributary:gcp:Stream",
  azureStreams: "tributary:azure:Streams",
  awsFunction: "tributary:aws:AssetFunction",
  gcpFunction: "tributary:gcp:AssetFunction",
  azureFunction: "tributary:azure:AssetFunction",
} as const;

/** Azure's Event Hubs data roles (built-in role definition GUIDs). */
const EVENT_HUBS_ROLES = {
  sender: "2b629674-e913-4c01-ae53-ef4638d8f975",
  receiver: "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
  owner: "f526a384-b230-433a-b45c-95f59c4a2dec",
} as const;
const SERVICE_BUS_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2c88ae39";
/** Pub/Sub roles that publish. */
const PUBLISHING_ROLES = ["roles/pubsub.publisher", "roles/pubsub.editor", "roles/pubsub.admin"];
/** The app setting naming the event hub an Azure function reads, and its dead-letter queue. */
const HUB_SETTING = "TRIBUTARY_STREAM_HUB";
const DEAD_LETTER_SETTING = "TRIBUTARY_DEAD_LETTERS";

const KINDS: Record<string, string> = {
  [STREAM_TYPES.awsStream]: "Kinesis stream",
  [STREAM_TYPES.awsMapping]: "event source mapping",
  [STREAM_TYPES.awsRolePolicy]: "role policy",
  [STREAM_TYPES.gcpTopic]: "topic",
  [STREAM_TYPES.gcpSubscription]: "subscription",
  [STREAM_TYPES.gcpAccount]: "service account",
  [STREAM_TYPES.gcpTopicMember]: "topic IAM member",
  [STREAM_TYPES.azureNamespace]: "Event Hubs namespace",
  [STREAM_TYPES.azureNamespaceRule]: "Event Hubs authorization rule",
  [STREAM_TYPES.azureHubRule]: "event hub authorization rule",
  [STREAM_TYPES.azureRoleAssignment]: "role assignment",
  [STREAM_TYPES.azureWebApp]: "function app",
};
const label = (r: ResourceRecord) => `${KINDS[r.type] ?? r.type} "${r.name}"`;
const of = (resources: readonly ResourceRecord[], type: string) => resources.filter((r) => r.type === type);
const present = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";

/** The type of the component `r` belongs to (its parent's), if any. */
function componentOf(resources: readonly ResourceRecord[], r: ResourceRecord): ResourceRecord | undefined {
  return r.parent === undefined ? undefined : resources.find((p) => p.urn === r.parent);
}
const inComponent = (resources: readonly ResourceRecord[], r: ResourceRecord, type: string) =>
  componentOf(resources, r)?.type === type;
/** The resources of `type` in the same component as `r`. */
const siblings = (resources: readonly ResourceRecord[], r: ResourceRecord, type: string) =>
  resources.filter((x) => x.type === type && x.parent !== undefined && x.parent === r.parent);

// ------------------------------------------------------------------------------------------------
// AWS helpers

/** The name a Kinesis ARN names (`arn:aws:kinesis:<region>:<account>:stream/<name>`). */
const kinesisStreamName = (arn: string) => /:stream\/([^/]+)$/.exec(arn)?.[1];
const streamNameOf = (s: ResourceRecord) => (present(s.inputs.name) ? s.inputs.name : s.name);

const SEND_ACTIONS = ["kinesis:putrecord", "kinesis:putrecords"];
const sends = (action: unknown) => typeof action === "string" && /^kinesis:(put.*|\*)$|^\*$/i.test(action);
const reads = (action: unknown) =>
  typeof action === "string" && /^kinesis:(get.*|describe.*|list.*|subscribetoshard|\*)$/i.test(action);

// ------------------------------------------------------------------------------------------------
// GCP helpers

const topicName = (t: ResourceRecord) => (present(t.inputs.name) ? t.inputs.name : t.name);
/** The stream topics: the topics of the stack's Stream components. */
const streamTopics = (resources: readonly ResourceRecord[]) =>
  of(resources, STREAM_TYPES.gcpTopic).filter((t) => inComponent(resources, t, COMPONENTS.gcpStream));
/** The topic a subscription's `topic` (an id or a name) names. */
const topicOf = (ref: unknown, topics: readonly ResourceRecord[]) =>
  typeof ref === "string"
    ? topics.find((t) => ref === topicName(t) || ref.endsWith(`/topics/${topicName(t)}`))
    : undefined;
const labelOf = (r: ResourceRecord, key: string): unknown => at(r.inputs, "labels", key);

// ------------------------------------------------------------------------------------------------
// Azure helpers

const roleOf = (a: ResourceRecord): string | undefined => {
  const def = a.inputs.roleDefinitionId;
  return typeof def === "string" ? def.split("/").pop() : undefined;
};
/** The event hub a scope names, when it names one: its namespace and name. */
function hubOf(scope: unknown): { namespace: string; hub: string } | undefined {
  if (typeof scope !== "string") return undefined;
  const m = /\/providers\/Microsoft\.EventHub\/namespaces\/([^/]+)\/eventhubs\/([^/]+)$/i.exec(scope);
  return m ? { namespace: m[1]!, hub: m[2]! } : undefined;
}
function appSetting(app: ResourceRecord, name: string): unknown {
  const settings = at(app.inputs, "siteConfig", "appSettings");
  if (settings === UNKNOWN) return UNKNOWN;
  if (!Array.isArray(settings)) return undefined;
  const found = settings.find((s) => isObject(s) && s.name === name);
  return isObject(found) ? found.value : undefined;
}

// ------------------------------------------------------------------------------------------------
// stream-encrypted-with-stack-key

const encrypted: Rule = {
  name: "stream-encrypted-with-stack-key",
  description:
    "Every CDC stream is encrypted with the stack's customer-managed key: a Kinesis data stream with KMS and a " +
    "key of the stack's (not aws/kinesis), a stream's Pub/Sub topic with a Cloud KMS key (CMEK), an Event Hubs " +
    "namespace with a Key Vault key (customer-managed keys: the Premium tier).",
  check: (resources) =>
    collect(encrypted.name, resources, (report) => {
      for (const s of of(resources, STREAM_TYPES.awsStream)) {
        const { encryptionType: type, kmsKeyId: key } = s.inputs;
        if (type === UNKNOWN || key === UNKNOWN) continue;
        if (type !== "KMS" || !present(key) || /alias\/aws\//.test(key)) {
          report(
            s,
            `${label(s)} is ${type === "KMS" ? "encrypted with an AWS-managed key" : "not encrypted"}; set encryptionType "KMS" and kmsKeyId to the stack's KMS key`,
          );
        }
      }
      for (const t of streamTopics(resources)) {
        const key = t.inputs.kmsKeyName;
        if (key !== UNKNOWN && !present(key)) {
          report(
            t,
            `${label(t)} is a stream encrypted with a Google-managed key; set kmsKeyName to the stack's Cloud KMS key`,
          );
        }
      }
      for (const n of of(resources, STREAM_TYPES.azureNamespace)) {
        const source = at(n.inputs, "encryption", "keySource");
        const vault = at(n.inputs, "encryption", "keyVaultProperties");
        if (source === UNKNOWN || vault === UNKNOWN) continue;
        const keys = Array.isArray(vault) ? vault : [];
        const named =
          keys.length > 0 && keys.every((k) => present(at(k, "keyName")) || at(k, "keyName") === UNKNOWN);
        if (source !== "Microsoft.KeyVault" || !named) {
          report(
            n,
            `${label(n)} is encrypted with Microsoft-managed keys; set encryption.keySource "Microsoft.KeyVault" with the stack's key (keyVaultProperties), which takes the Premium tier`,
          );
        }
      }
    }),
};

// ------------------------------------------------------------------------------------------------
// stream-local-auth-off

const localAuthOff: Rule = {
  name: "stream-local-auth-off",
  description:
    "Azure: an Event Hubs namespace takes Entra ID only (disableLocalAuth, no SAS authorization rule), TLS 1.2 " +
    "at least, and no traffic from the internet: public network access disabled, network rules that deny by " +
    "default with no IP rule, and a private endpoint the stack's functions and producers reach it by.",
  check: (resources) =>
    collect(localAuthOff.name, resources, (report) => {
      const endpoints = of(resources, STREAM_TYPES.azureEndpoint);
      const ruleSets = of(resources, STREAM_TYPES.azureNetworkRules);
      for (const n of of(resources, STREAM_TYPES.azureNamespace)) {
        const i = n.inputs;
        if (i.disableLocalAuth !== UNKNOWN && i.disableLocalAuth !== true) {
          report(
            n,
            `${label(n)} accepts SAS keys; set disableLocalAuth to true (producers and functions sign in with Entra ID)`,
          );
        }
        if (i.minimumTlsVersion !== UNKNOWN && i.minimumTlsVersion !== "1.2") {
          report(n, `${label(n)} accepts TLS below 1.2; set minimumTlsVersion "1.2"`);
        }
        const name = i.namespaceName;
        if (name === UNKNOWN) continue;
        const rules = ruleSets.filter((r) => r.inputs.namespaceName === name);
        const denies =
          rules.length > 0 &&
          rules.every(
            (r) =>
              r.inputs.defaultAction === "Deny" &&
              r.inputs.publicNetworkAccess !== "Enabled" &&
              asList(r.inputs.ipRules).length === 0,
          );
        if (i.publicNetworkAccess !== UNKNOWN && (i.publicNetworkAccess !== "Disabled" || !denies)) {
          report(
            n,
            `${label(n)} takes traffic from the internet; set publicNetworkAccess "Disabled" and a network rule set that denies by default with no IP rule`,
          );
        }
        const reached = endpoints.some((e) =>
          asList(e.inputs.privateLinkServiceConnections).some((c) => {
            const id = at(c, "privateLinkServiceId");
            return (
              id === UNKNOWN ||
              (typeof id === "string" && id.endsWith(`/Microsoft.EventHub/namespaces/${String(name)}`))
            );
          }),
        );
        if (!reached) {
          report(
            n,
            `${label(n)} has no private endpoint; give it one in the stack's network (group "namespace")`,
          );
        }
      }
      for (const r of [
        ...of(resources, STREAM_TYPES.azureNamespaceRule),
        ...of(resources, STREAM_TYPES.azureHubRule),
      ]) {
        report(
          r,
          `${label(r)} makes a SAS key; remove it: the namespace's local authentication is off, and access is granted by role`,
        );
      }
    }),
};

// ------------------------------------------------------------------------------------------------
// stream-producer-sends-only

const producerOnly: Rule = {
  name: "stream-producer-sends-only",
  description:
    "A CDC stream's producer identity (Debezium Server's IAM role, service account or user-assigned identity) " +
    "may send to that stream and do nothing else (on AWS, beside sending, make data keys through Kinesis), and " +
    "no other identity may send to a stream.",
  check: (resources) =>
    collect(producerOnly.name, resources, (report) => {
      // AWS: who may put records, and what a producer role may do.
      for (const p of of(resources, STREAM_TYPES.awsRolePolicy)) {
        const stmts = statements(p.inputs.policy);
        if (stmts === UNKNOWN) continue;
        const producer = inComponent(resources, p, COMPONENTS.awsStream);
        const own = siblings(resources, p, STREAM_TYPES.awsStream).map(streamNameOf);
        for (const s of stmts) {
          if (s.body.Effect !== "Allow") continue;
          const actions = asList(s.body.Action);
          if (actions.some(sends)) {
            const targets = asList(s.body.Resource);
            const names = targets.map((t) => (typeof t === "string" ? kinesisStreamName(t) : undefined));
            if (!producer) {
              report(
                p,
                `${label(p)} ${s.where} lets a role that is no stream's producer send to ${targets.map((t) => JSON.stringify(t)).join(", ")}; only a stream's producer sends to it`,
              );
            } else if (
              !actions.every((a) => typeof a === "string" && SEND_ACTIONS.includes(a.toLowerCase())) ||
              targets.length !== 1 ||
              !own.includes(names[0] ?? "")
            ) {
              report(
                p,
                `${label(p)} ${s.where} lets the producer send with ${actions.map(String).join(", ")} to ${targets.map((t) => JSON.stringify(t)).join(", ")}; allow kinesis:PutRecord and kinesis:PutRecords on its own stream alone`,
              );
            }
            continue;
          }
          if (!producer) continue;
          const keyUse =
            actions.length === 1 &&
            String(actions[0]).toLowerCase() === "kms:generatedatakey" &&
            /kinesis\./.test(JSON.stringify(at(s.body, "Condition", "StringEquals", "kms:ViaService") ?? ""));
          if (!keyUse) {
            report(
              p,
              `${label(p)} ${s.where} lets the producer do ${actions.map(String).join(", ")}; a producer role sends to its stream and makes data keys through Kinesis, nothing else`,
            );
          }
        }
      }
      // GCP: a producer account's one binding, and who may publish to a stream.
      const topics = streamTopics(resources);
      for (const account of of(resources, STREAM_TYPES.gcpAccount)) {
        if (!inComponent(resources, account, COMPONENTS.gcpStream)) continue;
        const { accountId, project } = account.inputs;
        if (!present(accountId) || !present(project)) continue;
        const member = `serviceAccount:${accountId}@${project}.iam.gserviceaccount.com`;
        const own = siblings(resources, account, STREAM_TYPES.gcpTopic).map(topicName);
        for (const r of resources) {
          const members = [r.inputs.member, ...asList(r.inputs.members)];
          if (!members.includes(member)) continue;
          const publishesOwn =
            r.type === STREAM_TYPES.gcpTopicMember &&
            r.inputs.role === "roles/pubsub.publisher" &&
            typeof r.inputs.topic === "string" &&
            own.some((t) => r.inputs.topic === t || String(r.inputs.topic).endsWith(`/topics/${t}`));
          if (!publishesOwn) {
            report(
              r,
              `${label(r)} gives the producer of ${own.join(", ")} (${member}) ${String(r.inputs.role)}; a producer may publish to its own stream and nothing else`,
            );
          }
        }
      }
      for (const m of of(resources, STREAM_TYPES.gcpTopicMember)) {
        const topic = topicOf(m.inputs.topic, topics);
        if (!topic || !PUBLISHING_ROLES.includes(String(m.inputs.role))) continue;
        const producer = siblings(resources, topic, STREAM_TYPES.gcpAccount)[0];
        const expected = producer
          ? `serviceAccount:${String(producer.inputs.accountId)}@${String(producer.inputs.project)}.iam.gserviceaccount.com`
          : undefined;
        if (m.inputs.member !== UNKNOWN && m.inputs.member !== expected) {
          report(
            m,
            `${label(m)} lets ${String(m.inputs.member)} publish to stream ${JSON.stringify(topicName(topic))}; only its producer publishes to it`,
          );
        }
      }
      // Azure: sender assignments are producers', on one hub each, and a producer has nothing else.
      const assignments = of(resources, STREAM_TYPES.azureRoleAssignment);
      for (const a of assignments) {
        const role = roleOf(a);
        if (role !== EVENT_HUBS_ROLES.sender && role !== EVENT_HUBS_ROLES.owner) continue;
        const scope = a.inputs.scope;
        if (scope === UNKNOWN) continue;
        if (
          !inComponent(resources, a, COMPONENTS.azureStreams) ||
          role !== EVENT_HUBS_ROLES.sender ||
          !hubOf(scope)
        ) {
          report(
            a,
            `${label(a)} lets an identity send on ${JSON.stringify(scope)}; only a stream's producer identity sends, as Azure Event Hubs Data Sender on its own event hub`,
          );
          continue;
        }
        const principal = a.inputs.principalId;
        if (typeof principal !== "string") continue;
        for (const other of assignments) {
          if (other !== a && other.inputs.principalId === principal) {
            report(
              other,
              `${label(other)} gives the producer identity of ${hubOf(scope)!.hub} another role (${String(other.inputs.roleDefinitionId)} on ${JSON.stringify(other.inputs.scope)}); a producer sends to its own stream and does nothing else`,
            );
          }
        }
      }
    }),
};

// ------------------------------------------------------------------------------------------------
// stream-consumer-reads-own

const consumerOwn: Rule = {
  name: "stream-consumer-reads-own",
  description:
    "Only the function of a stream's CDC source reads the stream, and it reads no other: a function's Kinesis " +
    "read rights name exactly the stream of its event source mapping; a stream topic's one subscription is in " +
    "its source's function; an Event Hubs receiver role is its function's, on the event hub its settings name.",
  check: (resources) =>
    collect(consumerOwn.name, resources, (report) => {
      // AWS: read rights name the stream the same component's mapping reads.
      for (const p of of(resources, STREAM_TYPES.awsRolePolicy)) {
        const stmts = statements(p.inputs.policy);
        if (stmts === UNKNOWN) continue;
        const mapped = siblings(resources, p, STREAM_TYPES.awsMapping)
          .map((m) => m.inputs.eventSourceArn)
          .filter((arn): arn is string => typeof arn === "string" && arn.includes(":kinesis:"));
        for (const s of stmts) {
          if (s.body.Effect !== "Allow" || !asList(s.body.Action).some(reads)) continue;
          const targets = asList(s.body.Resource);
          if (
            !inComponent(resources, p, COMPONENTS.awsFunction) ||
            targets.length !== 1 ||
            !mapped.includes(String(targets[0]))
          ) {
            report(
              p,
              `${label(p)} ${s.where} lets a role read ${targets.map((t) => JSON.stringify(t)).join(", ")}; a stream is read by its source's function alone, which reads exactly the stream its event source mapping names`,
            );
          }
        }
      }
      // GCP: a stream topic's subscriptions are its source's function's, one.
      const topics = streamTopics(resources);
      for (const sub of of(resources, STREAM_TYPES.gcpSubscription)) {
        const topic = topicOf(sub.inputs.topic, topics);
        if (!topic) continue;
        const source = labelOf(topic, "tributary-asset");
        const others = of(resources, STREAM_TYPES.gcpSubscription).filter(
          (x) => x !== sub && topicOf(x.inputs.topic, topics) === topic,
        );
        if (
          !inComponent(resources, sub, COMPONENTS.gcpFunction) ||
          labelOf(sub, "tributary-asset") !== source ||
          others.length > 0
        ) {
          report(
            sub,
            `${label(sub)} reads stream ${JSON.stringify(topicName(topic))} of "${String(source)}"; a stream has one subscription, its source's function's`,
          );
        }
      }
      // Azure: receivers are functions, each on the hub its settings name.
      for (const a of of(resources, STREAM_TYPES.azureRoleAssignment)) {
        const role = roleOf(a);
        if (role !== EVENT_HUBS_ROLES.receiver) continue;
        const scope = a.inputs.scope;
        if (scope === UNKNOWN) continue;
        const hub = hubOf(scope);
        const app = siblings(resources, a, STREAM_TYPES.azureWebApp)[0];
        const setting = app ? appSetting(app, HUB_SETTING) : undefined;
        if (setting === UNKNOWN) continue;
        if (!hub || !app || !inComponent(resources, a, COMPONENTS.azureFunction) || setting !== hub.hub) {
          report(
            a,
            `${label(a)} lets an identity read ${JSON.stringify(scope)}; a stream's event hub is read by its source's function alone, whose ${HUB_SETTING} names it`,
          );
        }
      }
    }),
};

// ------------------------------------------------------------------------------------------------
// stream-dead-letters

const deadLetters: Rule = {
  name: "stream-dead-letters",
  description:
    "What a stream's function cannot land is kept: a Kinesis event source mapping reports batch item failures, " +
    "bisects failing batches, retries a bounded number of times and has an on-failure destination (an SQS queue " +
    "or SNS topic encrypted with a KMS key); a stream's push subscription is ordered and dead-letters to a topic " +
    "under a Cloud KMS key; a function reading an event hub names a dead-letter queue of the stack's Service Bus " +
    "namespace (encrypted at rest by Service Bus) and may send to it.",
  check: (resources) =>
    collect(deadLetters.name, resources, (report) => {
      const queues = [...of(resources, STREAM_TYPES.awsQueue), ...of(resources, STREAM_TYPES.awsTopic)];
      for (const m of of(resources, STREAM_TYPES.awsMapping)) {
        const source = m.inputs.eventSourceArn;
        if (typeof source !== "string" || !source.includes(":kinesis:")) continue;
        const i = m.inputs;
        const problems: string[] = [];
        if (
          i.functionResponseTypes !== UNKNOWN &&
          !asList(i.functionResponseTypes).includes("ReportBatchItemFailures")
        ) {
          problems.push('functionResponseTypes ["ReportBatchItemFailures"]');
        }
        if (i.bisectBatchOnFunctionError !== UNKNOWN && i.bisectBatchOnFunctionError !== true) {
          problems.push("bisectBatchOnFunctionError true");
        }
        const retries = i.maximumRetryAttempts;
        if (retries !== UNKNOWN && !(typeof retries === "number" && retries >= 0)) {
          problems.push("a maximumRetryAttempts of 0 or more (it retries forever without)");
        }
        const destination = at(i, "destinationConfig", "onFailure", "destinationArn");
        if (destination !== UNKNOWN) {
          const target = typeof destination === "string" ? destination.split(":").pop() : undefined;
          const found = queues.find((q) => (present(q.inputs.name) ? q.inputs.name : q.name) === target);
          if (!found)
            problems.push(
              "an on-failure destination (destinationConfig.onFailure), an SQS queue or SNS topic of the stack",
            );
          else if (!present(found.inputs.kmsMasterKeyId) && found.inputs.kmsMasterKeyId !== UNKNOWN) {
            problems.push(
              `an on-failure destination encrypted with a KMS key (${found.name} has no kmsMasterKeyId)`,
            );
          }
        }
        if (problems.length > 0)
          report(m, `${label(m)} of ${kinesisStreamName(source) ?? source} needs ${problems.join(", ")}`);
      }
      const topics = streamTopics(resources);
      const allTopics = of(resources, STREAM_TYPES.gcpTopic);
      for (const sub of of(resources, STREAM_TYPES.gcpSubscription)) {
        const topic = topicOf(sub.inputs.topic, topics);
        if (!topic) continue;
        const problems: string[] = [];
        if (sub.inputs.enableMessageOrdering !== UNKNOWN && sub.inputs.enableMessageOrdering !== true) {
          problems.push("enableMessageOrdering true (the record key orders a table's rows)");
        }
        const dlt = at(sub.inputs, "deadLetterPolicy", "deadLetterTopic");
        if (dlt !== UNKNOWN) {
          const target = topicOf(dlt, allTopics);
          if (!target) problems.push("a dead-letter topic of the stack (deadLetterPolicy)");
          else if (!present(target.inputs.kmsKeyName) && target.inputs.kmsKeyName !== UNKNOWN) {
            problems.push(`a dead-letter topic under a Cloud KMS key (${target.name} has no kmsKeyName)`);
          }
        }
        if (problems.length > 0)
          report(
            sub,
            `${label(sub)} of stream ${JSON.stringify(topicName(topic))} needs ${problems.join(", ")}`,
          );
      }
      const sbQueues = of(resources, STREAM_TYPES.azureQueue);
      for (const app of of(resources, STREAM_TYPES.azureWebApp)) {
        const hub = appSetting(app, HUB_SETTING);
        if (hub === undefined || hub === UNKNOWN) continue;
        const queue = appSetting(app, DEAD_LETTER_SETTING);
        if (queue === UNKNOWN) continue;
        const found = sbQueues.find((q) => q.inputs.queueName === queue);
        const sender = of(resources, STREAM_TYPES.azureRoleAssignment).some(
          (a) =>
            a.parent === app.parent &&
            roleOf(a) === SERVICE_BUS_SENDER &&
            // A scope a preview does not know yet is given the benefit of the doubt, as elsewhere.
            (a.inputs.scope === UNKNOWN ||
              (typeof a.inputs.scope === "string" && a.inputs.scope.endsWith(`/queues/${String(queue)}`))),
        );
        if (!found || !sender) {
          report(
            app,
            `${label(app)} reads event hub ${JSON.stringify(hub)} ${!found ? `but ${DEAD_LETTER_SETTING} names no queue of the stack (${JSON.stringify(queue ?? null)})` : "but may not send to its dead-letter queue"}; give it a dead-letter queue and Azure Service Bus Data Sender on it`,
          );
        }
      }
    }),
};

/** The stream rules, in the order the pack reports them. */
export const streamRules: readonly Rule[] = [encrypted, localAuthOff, producerOnly, consumerOwn, deadLetters];
