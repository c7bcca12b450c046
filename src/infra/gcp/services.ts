/**
 * The Google APIs a GCP stack uses, and which resource types need which: pure data, read by the adapter
 * (apis.ts enables them, every component waits for the ones its resources need) and by the policy pack
 * (infra/policy/rules/gcp.ts checks that it is so). A new project has few APIs enabled, and a resource whose
 * API is off fails to create: the first `pulumi up` of a stack on a new project would stop there.
 */

/** The services of the APIs, by a short name. */
export const APIS = {
  aiplatform: "aiplatform.googleapis.com",
  artifactregistry: "artifactregistry.googleapis.com",
  bigquery: "bigquery.googleapis.com",
  bigqueryconnection: "bigqueryconnection.googleapis.com",
  cloudbuild: "cloudbuild.googleapis.com",
  cloudfunctions: "cloudfunctions.googleapis.com",
  cloudkms: "cloudkms.googleapis.com",
  cloudscheduler: "cloudscheduler.googleapis.com",
  eventarc: "eventarc.googleapis.com",
  iam: "iam.googleapis.com",
  logging: "logging.googleapis.com",
  monitoring: "monitoring.googleapis.com",
  pubsub: "pubsub.googleapis.com",
  run: "run.googleapis.com",
  secretmanager: "secretmanager.googleapis.com",
  storage: "storage.googleapis.com",
} as const;
export type Api = keyof typeof APIS;

/**
 * The APIs every stack enables, whatever its graph: all of {@link APIS} but Eventarc, which only a
 * function with an event trigger needs (Tributary's functions are called by push subscriptions), and
 * Secret Manager included, for the secrets functions declare, and BigQuery with its connections, for the
 * curated tables.
 */
export const STACK_APIS: readonly Api[] = (Object.keys(APIS) as Api[]).filter(
  (a) => a !== "eventarc" && a !== "aiplatform",
);
/** Vertex AI, which a stack whose assets embed calls (and only such a stack enables). */
export const EMBEDDING_APIS: readonly Api[] = ["aiplatform"];

/** The APIs a resource type needs enabled before it can be created, by type token. */
export const APIS_OF_TYPE: Readonly<Record<string, readonly Api[]>> = {
  "gcp:kms/keyRing:KeyRing": ["cloudkms"],
  "gcp:kms/cryptoKey:CryptoKey": ["cloudkms"],
  "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": ["cloudkms"],
  "gcp:storage/bucket:Bucket": ["storage"],
  "gcp:storage/bucketObject:BucketObject": ["storage"],
  "gcp:storage/bucketIAMMember:BucketIAMMember": ["storage"],
  "gcp:pubsub/topic:Topic": ["pubsub"],
  "gcp:pubsub/subscription:Subscription": ["pubsub"],
  "gcp:pubsub/topicIAMMember:TopicIAMMember": ["pubsub"],
  "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": ["pubsub"],
  "gcp:serviceaccount/account:Account": ["iam"],
  "gcp:projects/iAMCustomRole:IAMCustomRole": ["iam"],
  "gcp:projects/iAMMember:IAMMember": ["iam"],
  // A gen2 function is built by Cloud Build into Artifact Registry and runs as a Cloud Run service.
  "gcp:cloudfunctionsv2/function:Function": ["cloudfunctions", "run", "cloudbuild", "artifactregistry"],
  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ["run"],
  "gcp:cloudscheduler/job:Job": ["cloudscheduler"],
  "gcp:monitoring/notificationChannel:NotificationChannel": ["monitoring"],
  "gcp:monitoring/alertPolicy:AlertPolicy": ["monitoring"],
  "gcp:logging/metric:Metric": ["logging"],
  "gcp:secretmanager/secret:Secret": ["secretmanager"],
  "gcp:secretmanager/secretVersion:SecretVersion": ["secretmanager"],
  "gcp:secretmanager/secretIamMember:SecretIamMember": ["secretmanager"],
  "gcp:bigquery/dataset:Dataset": ["bigquery"],
  "gcp:bigquery/datasetIamMember:DatasetIamMember": ["bigquery"],
  "gcp:bigquery/table:Table": ["bigquery"],
  "gcp:bigquery/iamMember:IamMember": ["bigquery"],
  "gcp:bigquery/connection:Connection": ["bigqueryconnection"],
  "gcp:bigquery/connectionIamMember:ConnectionIamMember": ["bigqueryconnection"],
};

/** How the id of a stack's custom role of Vertex AI predictions ends (gcp/embedding.ts). */
export const EMBEDDING_ROLE_SUFFIX = "_embedding_predict";

/**
 * The APIs one resource needs: its type's, Eventarc for a function with an event trigger, and Vertex AI
 * for a project binding of the embedding role (the function it lets call a model fails until the API is
 * on). Other project bindings do not need Vertex AI, which only a stack whose assets embed enables.
 */
export function apisOf(type: string, inputs: Readonly<Record<string, unknown>>): Api[] {
  const apis = [...(APIS_OF_TYPE[type] ?? [])];
  if (type === "gcp:cloudfunctionsv2/function:Function" && inputs.eventTrigger !== undefined) {
    apis.push("eventarc");
  }
  const role = inputs.role;
  if (
    type === "gcp:projects/iAMMember:IAMMember" &&
    typeof role === "string" &&
    role.endsWith(EMBEDDING_ROLE_SUFFIX)
  ) {
    apis.push("aiplatform");
  }
  return apis;
}
