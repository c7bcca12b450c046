/**
 * The checks of the rules about the curated tables and their serverless SQL (common.ts describes each):
 * query-workgroup-guarded, query-reads-curated-only, catalog-writers-scoped and
 * dataset-encrypted-with-customer-key, for each cloud that has something of the kind. Who is who comes
 * from what the adapters put beside each grant: the function's tags or labels (`tributary:asset`), and the
 * query identity's `tributary:role: query` (AWS, Azure) or its `tributary:gcp:Query` component (GCP).
 */
import { TABLE_MAINTENANCE } from "../../../contract/function-env.ts";
import type { ResourceRecord } from "../../synth/record.ts";
import { at, UNKNOWN } from "../read.ts";
import { awsLabel, globMatches, isAllow, list, parsePolicy, type Statement, TYPES } from "./aws.ts";
import { CONTAINER_SCOPE, holderOf } from "./azure.ts";
import type { CloudChecks, RuleName, Violation } from "./common.ts";

type Report = (r: ResourceRecord, message: string) => void;

/** The violations `body` reports under `policy`, in registration order of the resource at fault. */
function collect(
  policy: RuleName,
  resources: readonly ResourceRecord[],
  body: (report: Report) => void,
): Violation[] {
  const found: { index: number; seq: number; violation: Violation }[] = [];
  const index = new Map(resources.map((r, i) => [r, i]));
  body((r, message) =>
    found.push({ index: index.get(r) ?? -1, seq: found.length, violation: { policy, urn: r.urn, message } }),
  );
  return found.sort((a, b) => a.index - b.index || a.seq - b.seq).map((f) => f.violation);
}

const of = (resources: readonly ResourceRecord[], type: string) => resources.filter((r) => r.type === type);
const quote = (v: unknown): string => JSON.stringify(v) ?? String(v);
/** The component type of a record's parent, from its URN (`…::parentType$type::name`). */
const parentType = (r: ResourceRecord): string | undefined => r.parent?.split("::")[2]?.split("$").pop();

// ------------------------------------------------------------------------------------------------
// AWS
// ------------------------------------------------------------------------------------------------

/** Athena's smallest bytes-scanned cutoff: 10 MB. */
export const MIN_SCAN_CUTOFF = 10_000_000;

const queryWorkgroupGuarded = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("query-workgroup-guarded", resources, (report) => {
    for (const w of of(resources, TYPES.workgroup)) {
      const config = w.inputs["configuration"];
      if (config === UNKNOWN) continue;
      const name = awsLabel(w);
      const enforce = at(config, "enforceWorkgroupConfiguration");
      if (enforce !== UNKNOWN && enforce !== true) {
        report(
          w,
          `${name} does not enforce its configuration, so a query may set its own result location and encryption; ` +
            "set configuration.enforceWorkgroupConfiguration true",
        );
      }
      const result = at(config, "resultConfiguration");
      const location = at(result, "outputLocation");
      if (location !== UNKNOWN && !(typeof location === "string" && location.startsWith("s3://"))) {
        report(
          w,
          `${name} names no result location; set configuration.resultConfiguration.outputLocation to the stack's results bucket`,
        );
      }
      const option = at(result, "encryptionConfiguration", "encryptionOption");
      const key = at(result, "encryptionConfiguration", "kmsKeyArn");
      if (option !== UNKNOWN && option !== "SSE_KMS" && option !== "CSE_KMS") {
        report(
          w,
          `${name} encrypts query results with ${quote(option ?? null)}, not the stack's KMS key; set ` +
            'configuration.resultConfiguration.encryptionConfiguration to { encryptionOption: "SSE_KMS", kmsKeyArn }',
        );
      } else if (key !== UNKNOWN && !(typeof key === "string" && key.startsWith("arn:"))) {
        report(
          w,
          `${name} encrypts query results with ${quote(option)} but names no key; set ` +
            "configuration.resultConfiguration.encryptionConfiguration.kmsKeyArn to the stack's KMS key",
        );
      }
      const cutoff = at(config, "bytesScannedCutoffPerQuery");
      if (cutoff !== UNKNOWN && !(typeof cutoff === "number" && cutoff >= MIN_SCAN_CUTOFF)) {
        report(
          w,
          `${name} has no bytes-scanned cutoff (${quote(cutoff ?? null)}), so one query may scan (and bill) every ` +
            `table whole; set configuration.bytesScannedCutoffPerQuery (at least ${MIN_SCAN_CUTOFF}, tributary:tables.scanLimitGb)`,
        );
      }
    }
  });

/** The policy documents of a role: its inline policies, and the role policies attached to it by name. */
function roleDocuments(
  role: ResourceRecord,
  resources: readonly ResourceRecord[],
): { doc: unknown; holder: ResourceRecord }[] {
  const names = [role.name, role.inputs["name"]].filter((n) => typeof n === "string");
  const attached = of(resources, TYPES.rolePolicy)
    .filter((p) => names.includes(p.inputs["role"] as string))
    .map((p) => ({ doc: p.inputs["policy"], holder: p }));
  const inline = list(role.inputs["inlinePolicies"]).map((p) => ({ doc: at(p, "policy"), holder: role }));
  return [...attached, ...inline];
}

/** The Allow statements of a role's documents, each with the record that holds it. */
function allows(role: ResourceRecord, resources: readonly ResourceRecord[]) {
  return roleDocuments(role, resources).flatMap(({ doc, holder }) => {
    const parsed = parsePolicy(doc);
    return parsed.kind === "ok"
      ? parsed.statements
          .filter((s) => s.body["Effect"] !== UNKNOWN && isAllow(s))
          .map((s) => ({ s, holder }))
      : [];
  });
}

/** Object-key prefixes the query role may reach: the tables and its own query results. */
const QUERY_KEYS = ["curated/", "athena/"];

/** Whether an S3 resource of the query role's statement `s` stays within the tables and its results. */
function queryScoped(resource: string, s: Statement, rawBuckets: readonly string[]): boolean {
  const m = /^arn:[^:]+:s3:::([^/]+)(?:\/(.*))?$/.exec(resource);
  if (!m) return !/^arn:[^:]+:s3:/.test(resource) && resource !== "*";
  const [, bucket = "", key] = m;
  if (rawBuckets.some((b) => globMatches(bucket, b))) return false;
  if (key !== undefined) return QUERY_KEYS.some((p) => key.startsWith(p));
  // A bucket itself: locating it, or listing it under those prefixes only.
  const actions = list(s.body["Action"]).map((a) => String(a).toLowerCase());
  if (actions.every((a) => a === "s3:getbucketlocation")) return true;
  const prefixes = list(at(s.body, "Condition", "StringLike", "s3:prefix"));
  return prefixes.length > 0 && prefixes.every((p) => QUERY_KEYS.some((q) => String(p).startsWith(q)));
}

const awsQueryReadsCurated = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("query-reads-curated-only", resources, (report) => {
    const rawBuckets = of(resources, TYPES.bucket)
      .filter((b) => ["raw", "quarantine"].includes(at(b.inputs["tags"], "tributary:store") as string))
      .map((b) => b.inputs["bucket"])
      .filter((n): n is string => typeof n === "string");
    for (const role of of(resources, TYPES.role)) {
      if (at(role.inputs["tags"], "tributary:role") !== "query") continue;
      for (const { s, holder } of allows(role, resources)) {
        const s3 = list(s.body["Action"]).some((a) => typeof a === "string" && /^s3:|^\*$/i.test(a));
        if (!s3) continue;
        const outside = list(s.body["Resource"]).filter(
          (x) => x !== UNKNOWN && !(typeof x === "string" && queryScoped(x, s, rawBuckets)),
        );
        if (outside.length > 0) {
          report(
            holder,
            `${awsLabel(holder)} ${s.where} lets the query role ${awsLabel(role)} reach ${outside.map(quote).join(", ")}, ` +
              "beyond the curated tables (curated/…) and its query results (athena/…); grant only those",
          );
        }
      }
    }
  });

/** Glue actions that change the catalog. */
const GLUE_WRITES = /^glue:(\*|(Batch)?(Create|Update|Delete)\w*)$/i;

const awsCatalogWritersScoped = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("catalog-writers-scoped", resources, (report) => {
    for (const role of of(resources, TYPES.role)) {
      const asset = at(role.inputs["tags"], "tributary:asset");
      if (asset === UNKNOWN) continue;
      for (const { s, holder } of allows(role, resources)) {
        const writes = list(s.body["Action"]).filter((a) => typeof a === "string" && GLUE_WRITES.test(a));
        if (writes.length === 0) continue;
        for (const resource of list(s.body["Resource"])) {
          if (resource === UNKNOWN) continue;
          const r = String(resource);
          const table = /^arn:[^:]+:glue:[^:]+:[^:]+:table\/([^/*?]+)\/(.+)$/.exec(r)?.[2];
          const fine =
            /^arn:[^:]+:glue:[^:]+:[^:]+:(catalog|database\/[^/*?]+)$/.test(r) ||
            table === asset ||
            (table === "*" && asset === TABLE_MAINTENANCE);
          if (!fine) {
            report(
              holder,
              `${awsLabel(holder)} ${s.where} lets ${quote(asset ?? null)} ${writes.join(", ")} on ${quote(r)}; ` +
                `a function moves only its own table's pointer (table/<database>/${asset ?? "<asset>"})`,
            );
          }
        }
      }
    }
  });

// ------------------------------------------------------------------------------------------------
// GCP
// ------------------------------------------------------------------------------------------------

const GCP = {
  account: "gcp:serviceaccount/account:Account",
  dataset: "gcp:bigquery/dataset:Dataset",
  tableMember: "gcp:bigquery/iamMember:IamMember",
  datasetMember: "gcp:bigquery/datasetIamMember:DatasetIamMember",
  projectMember: "gcp:projects/iAMMember:IAMMember",
  customRole: "gcp:projects/iAMCustomRole:IAMCustomRole",
  function: "gcp:cloudfunctionsv2/function:Function",
} as const;
const GCP_KINDS: Readonly<Record<string, string>> = {
  "gcp:storage/bucketIAMMember:BucketIAMMember": "bucket IAM member",
  "gcp:storage/bucketIAMBinding:BucketIAMBinding": "bucket IAM binding",
  [GCP.tableMember]: "BigQuery table IAM member",
  [GCP.datasetMember]: "BigQuery dataset IAM member",
  [GCP.projectMember]: "project IAM member",
};
const gcpLabel = (r: ResourceRecord) => `${GCP_KINDS[r.type] ?? r.type} "${r.name}"`;
/** Roles that read BigQuery data without changing it. */
const BIGQUERY_READ_ROLES = ["roles/bigquery.dataViewer", "roles/bigquery.metadataViewer"];
/** Roles that write BigQuery tables, at whatever level they are bound. */
const BIGQUERY_WRITE_ROLE = /^roles\/bigquery\.(admin|dataEditor|dataOwner|user)$/;
const CUSTOM_ROLE = /^projects\/[^/]+\/roles\/([^/]+)$/;

/**
 * Whether a role may change BigQuery tables: a predefined role that does, or a custom role with a
 * `bigquery.tables.*` permission other than reading (one the synthesis does not define counts as one).
 */
function writesTables(role: string, resources: readonly ResourceRecord[]): boolean {
  if (BIGQUERY_WRITE_ROLE.test(role)) return true;
  const custom = CUSTOM_ROLE.exec(role)?.[1];
  if (custom === undefined) return false;
  const defined = of(resources, GCP.customRole).find((c) => c.inputs["roleId"] === custom);
  const permissions = defined?.inputs["permissions"];
  if (!Array.isArray(permissions)) return true;
  return permissions.some(
    (p) => typeof p === "string" && p.startsWith("bigquery.tables.") && !/\.(get|list|getData)$/.test(p),
  );
}

const datasetEncrypted = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("dataset-encrypted-with-customer-key", resources, (report) => {
    for (const d of of(resources, GCP.dataset)) {
      const key = at(d.inputs["defaultEncryptionConfiguration"], "kmsKeyName");
      if (key === UNKNOWN) continue;
      if (!(typeof key === "string" && /\/cryptoKeys\//.test(key))) {
        report(
          d,
          `BigQuery dataset "${d.name}" is not encrypted with the stack's customer-managed key; set ` +
            "defaultEncryptionConfiguration.kmsKeyName to the Cloud KMS key (and grant BigQuery's encryption agent " +
            "roles/cloudkms.cryptoKeyEncrypterDecrypter on it)",
        );
      }
    }
  });

/** The members of the service accounts under a `tributary:gcp:Query` component. */
function queryMembers(resources: readonly ResourceRecord[]): Set<string> {
  const out = new Set<string>();
  for (const a of of(resources, GCP.account)) {
    if (parentType(a) !== "tributary:gcp:Query") continue;
    const id = a.inputs["accountId"];
    const project = a.inputs["project"];
    if (typeof id === "string" && typeof project === "string")
      out.add(`serviceAccount:${id}@${project}.iam.gserviceaccount.com`);
  }
  return out;
}

/** The prefixes a Cloud Storage IAM condition names (object names and list requests). */
function conditionPrefixes(condition: unknown): string[] {
  const expression = at(condition, "expression");
  if (typeof expression !== "string") return [];
  return [
    ...[...expression.matchAll(/\/objects\/([^"]*)"\)/g)].map((m) => m[1] ?? ""),
    ...[...expression.matchAll(/objectListPrefix", ""\)\.startsWith\("([^"]*)"\)/g)].map((m) => m[1] ?? ""),
  ];
}

const gcpQueryReadsCurated = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("query-reads-curated-only", resources, (report) => {
    const readers = queryMembers(resources);
    for (const r of resources) {
      if (!/^gcp:storage\/bucketIAM(Member|Binding):/.test(r.type)) continue;
      const members = [r.inputs["member"], ...list(r.inputs["members"])];
      if (members.some((m) => typeof m === "string" && readers.has(m))) {
        report(
          r,
          `${gcpLabel(r)} grants the query identity ${quote(r.inputs["role"])} on a bucket; it reads the tables ` +
            "through the BigLake connection and holds no storage role",
        );
        continue;
      }
      // The BigLake connection's account reads the curated zone, nothing else.
      if (parentType(r) !== "tributary:gcp:Catalog") continue;
      const condition = r.inputs["condition"];
      if (condition === UNKNOWN) continue;
      const prefixes = conditionPrefixes(condition);
      if (
        r.inputs["role"] !== "roles/storage.objectViewer" ||
        prefixes.length === 0 ||
        prefixes.some((p) => p !== "curated/")
      ) {
        report(
          r,
          `${gcpLabel(r)} lets the tables' connection ${quote(r.inputs["role"])} on ${prefixes.length > 0 ? prefixes.map(quote).join(", ") : "the whole bucket"}; ` +
            'grant roles/storage.objectViewer under a condition on "curated/" only',
        );
      }
    }
    for (const r of [...of(resources, GCP.datasetMember), ...of(resources, GCP.projectMember)]) {
      const member = r.inputs["member"];
      if (typeof member !== "string" || !readers.has(member)) continue;
      const role = r.inputs["role"];
      const allowed = r.type === GCP.datasetMember ? BIGQUERY_READ_ROLES : ["roles/bigquery.jobUser"];
      if (role !== UNKNOWN && !allowed.includes(role as string)) {
        report(
          r,
          `${gcpLabel(r)} grants the query identity ${quote(role)}; it may hold ${allowed.join(" or ")} there, to read`,
        );
      }
    }
  });

/** The asset of each AssetFunction component, by its URN: its function's `tributary-asset` label. */
function gcpAssets(resources: readonly ResourceRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of of(resources, GCP.function)) {
    const asset = at(f.inputs["labels"], "tributary-asset");
    if (f.parent && typeof asset === "string") out.set(f.parent, asset.replaceAll("-", "_"));
  }
  return out;
}

const gcpCatalogWritersScoped = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("catalog-writers-scoped", resources, (report) => {
    const assets = gcpAssets(resources);
    const maintenance = TABLE_MAINTENANCE.replaceAll("-", "_");
    for (const r of of(resources, GCP.tableMember)) {
      const role = r.inputs["role"];
      if (role === UNKNOWN || BIGQUERY_READ_ROLES.includes(role as string)) continue;
      const table = r.inputs["tableId"];
      const asset = r.parent ? assets.get(r.parent) : undefined;
      if (table === UNKNOWN || asset === maintenance || (asset !== undefined && table === asset)) continue;
      // A function whose asset cannot be told (its labels are missing: required-tags says so) is not judged.
      if (asset === undefined && parentType(r) === "tributary:gcp:AssetFunction") continue;
      report(
        r,
        `${gcpLabel(r)} grants ${quote(role)} on table ${quote(table)} to ${asset ? `the function of ${quote(asset)}` : quote(r.inputs["member"])}; ` +
          "a function moves only its own table's pointer",
      );
    }
    for (const r of [...of(resources, GCP.datasetMember), ...of(resources, GCP.projectMember)]) {
      const role = r.inputs["role"];
      if (typeof role === "string" && writesTables(role, resources)) {
        report(
          r,
          `${gcpLabel(r)} grants ${quote(role)} on a whole ${r.type === GCP.datasetMember ? "dataset" : "project"}, ` +
            "which writes every table in it; bind table writers on their own table",
        );
      }
    }
  });

// ------------------------------------------------------------------------------------------------
// Azure
// ------------------------------------------------------------------------------------------------

const STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";

const azureQueryReadsCurated = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("query-reads-curated-only", resources, (report) => {
    for (const r of of(resources, "azure-native:authorization:RoleAssignment")) {
      if (holderOf(r, resources) !== "query") continue;
      const role = r.inputs["roleDefinitionId"];
      const scope = r.inputs["scope"];
      const condition = r.inputs["condition"];
      if (role === UNKNOWN || scope === UNKNOWN || condition === UNKNOWN) continue;
      const container = typeof scope === "string" ? CONTAINER_SCOPE.exec(scope)?.[2] : undefined;
      const prefixes =
        typeof condition === "string"
          ? [...new Set([...condition.matchAll(/StringStartsWith\s+'([^']*)'/g)].map((m) => m[1] ?? ""))]
          : [];
      const reader = typeof role === "string" && role.toLowerCase().endsWith(STORAGE_BLOB_DATA_READER);
      if (
        !reader ||
        container !== "curated" ||
        prefixes.length === 0 ||
        prefixes.some((p) => p !== "curated/")
      ) {
        report(
          r,
          `role assignment "${r.name}" gives the query identity ${quote(role)} on ${quote(scope)} over ` +
            `${prefixes.length > 0 ? prefixes.map(quote).join(", ") : "every blob"}; assign Storage Blob Data Reader on ` +
            'the curated container under a condition on "curated/" only',
        );
      }
    }
  });

export const awsTableChecks: CloudChecks = {
  "query-workgroup-guarded": queryWorkgroupGuarded,
  "query-reads-curated-only": awsQueryReadsCurated,
  "catalog-writers-scoped": awsCatalogWritersScoped,
};

export const gcpTableChecks: CloudChecks = {
  "query-reads-curated-only": gcpQueryReadsCurated,
  "catalog-writers-scoped": gcpCatalogWritersScoped,
  "dataset-encrypted-with-customer-key": datasetEncrypted,
};

export const azureTableChecks: CloudChecks = {
  "query-reads-curated-only": azureQueryReadsCurated,
};
