/**
 * The AWS checks of the security rules (common.ts names and describes each rule), over the records of
 * `@pulumi/aws` resources.
 */
import { DISPOSABLE_TAG } from "../../plan/types.ts";
import type { ResourceRecord } from "../../synth/record.ts";
import { at, isObject, UNKNOWN, type Unknown } from "../read.ts";

import { KEY_LOSS, KEY_REMEDY, marker, STORE_LOSS, STORE_REMEDY, survivalProblems } from "../survive.ts";
import { type CloudCheck, type CloudChecks, REQUIRED_TAGS, type RuleName, type Violation } from "./common.ts";

/** One rule's AWS check, with the rule's name (common.ts describes it). */
interface AwsCheck {
  readonly name: RuleName;
  readonly check: CloudCheck;
}

/** The type tokens the rules read, as `@pulumi/aws` 7.x registers them. */
export const TYPES = {
  bucket: "aws:s3/bucket:Bucket",
  ownershipControls: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  kmsKey: "aws:kms/key:Key",
  eventBus: "aws:cloudwatch/eventBus:EventBus",
  eventRule: "aws:cloudwatch/eventRule:EventRule",
  eventTarget: "aws:cloudwatch/eventTarget:EventTarget",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  metricAlarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  queue: "aws:sqs/queue:Queue",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  function: "aws:lambda/function:Function",
  eventSourceMapping: "aws:lambda/eventSourceMapping:EventSourceMapping",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  iamPolicy: "aws:iam/policy:Policy",
  topic: "aws:sns/topic:Topic",
  topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
  schedule: "aws:scheduler/schedule:Schedule",
  glueDatabase: "aws:glue/catalogDatabase:CatalogDatabase",
  glueTable: "aws:glue/catalogTable:CatalogTable",
  workgroup: "aws:athena/workgroup:Workgroup",
} as const;

/** What a message calls a resource of each type. */
const KINDS: Record<string, string> = {
  [TYPES.bucket]: "bucket",
  [TYPES.ownershipControls]: "ownership controls",
  [TYPES.publicAccessBlock]: "public access block",
  [TYPES.encryption]: "encryption configuration",
  [TYPES.bucketPolicy]: "bucket policy",
  [TYPES.kmsKey]: "KMS key",
  [TYPES.eventBus]: "event bus",
  [TYPES.eventRule]: "event rule",
  [TYPES.eventTarget]: "event target",
  [TYPES.logGroup]: "log group",
  [TYPES.metricAlarm]: "alarm",
  [TYPES.queue]: "queue",
  [TYPES.queuePolicy]: "queue policy",
  [TYPES.function]: "function",
  [TYPES.eventSourceMapping]: "event source mapping",
  [TYPES.role]: "role",
  [TYPES.rolePolicy]: "role policy",
  [TYPES.iamPolicy]: "IAM policy",
  [TYPES.topic]: "topic",
  [TYPES.topicPolicy]: "topic policy",
  [TYPES.schedule]: "schedule",
  [TYPES.glueDatabase]: "Glue database",
  [TYPES.glueTable]: "Glue table",
  [TYPES.workgroup]: "Athena workgroup",
};

/** `bucket "trib-dev-raw"`: a resource as messages name it (the table rules' too). */
export const awsLabel = (r: ResourceRecord): string => label(r);

/** `bucket "trib-dev-raw"`: a resource as messages name it. */
function label(r: ResourceRecord): string {
  return `${KINDS[r.type] ?? r.type} "${r.name}"`;
}

const quote = (v: unknown): string => JSON.stringify(v) ?? String(v);
const quoteAll = (vs: readonly unknown[]): string => vs.map(quote).join(", ");

// ------------------------------------------------------------------------------------------------
// Reading inputs that may be absent or unknown.
// ------------------------------------------------------------------------------------------------

/** A string, array-or-single value as an array (IAM lets `Action`, `Resource`… be either). */
export function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** True for a non-empty string; UNKNOWN when not known. */
function present(v: unknown): boolean | Unknown {
  if (v === UNKNOWN) return UNKNOWN;
  return typeof v === "string" && v.trim() !== "";
}

/** A resource's tag value; UNKNOWN when the tags (or the tag) are not known. */
function tag(r: ResourceRecord, key: string): unknown {
  const tags = r.inputs["tags"];
  if (tags === UNKNOWN) return UNKNOWN;
  return at(tags, key);
}

/** The stack's resources grouped by type, in registration order. */
class Stack {
  readonly #byType = new Map<string, ResourceRecord[]>();
  readonly #owners = new Map<ResourceRecord, ResourceRecord | undefined | Unknown>();

  readonly resources: readonly ResourceRecord[];

  constructor(resources: readonly ResourceRecord[]) {
    this.resources = resources;
    for (const r of resources) {
      const same = this.#byType.get(r.type);
      if (same) same.push(r);
      else this.#byType.set(r.type, [r]);
    }
  }

  of(type: string): readonly ResourceRecord[] {
    return this.#byType.get(type) ?? [];
  }

  /**
   * The bucket a bucket sub-resource (policy, encryption, public access block…) configures: by its `bucket`
   * input (the bucket's name), else by parent URN (a child of the bucket, or the one bucket of its
   * component). Undefined for a bucket outside the stack; UNKNOWN when it cannot be told.
   */
  owner(sub: ResourceRecord): ResourceRecord | undefined | Unknown {
    if (this.#owners.has(sub)) return this.#owners.get(sub);
    const owner = this.#findOwner(sub);
    this.#owners.set(sub, owner);
    return owner;
  }

  #findOwner(sub: ResourceRecord): ResourceRecord | undefined | Unknown {
    const buckets = this.of(TYPES.bucket);
    const ref = sub.inputs["bucket"];
    if (typeof ref === "string") {
      const named = buckets.filter((b) => b.inputs["bucket"] === ref);
      if (named.length === 1) return named[0];
      // A name no bucket here has, when every bucket's name is known: a bucket outside the stack.
      if (named.length === 0 && buckets.every((b) => typeof b.inputs["bucket"] === "string"))
        return undefined;
    }
    if (sub.parent !== undefined) {
      const parents = buckets.filter((b) => b.urn === sub.parent);
      if (parents.length === 1) return parents[0];
      const siblings = buckets.filter((b) => b.parent === sub.parent);
      if (siblings.length === 1) return siblings[0];
    }
    return UNKNOWN;
  }

  /** The sub-resources of `type` that configure `bucket`; `uncertain` when some cannot be placed. */
  bucketParts(bucket: ResourceRecord, type: string): { parts: ResourceRecord[]; uncertain: boolean } {
    const parts: ResourceRecord[] = [];
    let uncertain = false;
    for (const sub of this.of(type)) {
      const owner = this.owner(sub);
      if (owner === bucket) parts.push(sub);
      else if (owner === UNKNOWN) uncertain = true;
    }
    return { parts, uncertain };
  }
}

/**
 * Runs `body` over a stack and collects its violations under `policy`, ordered by the resource at fault (in
 * registration order), then in the order `body` reported them.
 */
function collect(
  policy: string,
  resources: readonly ResourceRecord[],
  body: (stack: Stack, report: (r: ResourceRecord, message: string) => void) => void,
): Violation[] {
  const found: { index: number; seq: number; violation: Violation }[] = [];
  const index = new Map(resources.map((r, i) => [r, i]));
  body(new Stack(resources), (r, message) =>
    found.push({ index: index.get(r) ?? -1, seq: found.length, violation: { policy, urn: r.urn, message } }),
  );
  return found.sort((a, b) => a.index - b.index || a.seq - b.seq).map((f) => f.violation);
}

// ------------------------------------------------------------------------------------------------
// Policy documents.
// ------------------------------------------------------------------------------------------------

export interface Statement {
  readonly body: Record<string, unknown>;
  /** `statement "Sid"` or `statement #n` (1-based). */
  readonly where: string;
}

export type Parsed =
  | { readonly kind: "unknown" }
  | { readonly kind: "absent" }
  | { readonly kind: "invalid"; readonly why: string }
  | { readonly kind: "ok"; readonly statements: readonly Statement[] };

/** A policy document (JSON string or object) as its statements. */
export function parsePolicy(doc: unknown): Parsed {
  if (doc === UNKNOWN) return { kind: "unknown" };
  // AWS reports "no policy" as an empty string (a role's inlinePolicies, a bucket's policy output).
  if (doc === undefined || doc === null || (typeof doc === "string" && doc.trim() === "")) {
    return { kind: "absent" };
  }
  let value: unknown = doc;
  if (typeof doc === "string") {
    try {
      value = JSON.parse(doc);
    } catch {
      return { kind: "invalid", why: "is not valid JSON" };
    }
  }
  if (!isObject(value)) return { kind: "invalid", why: "is not a JSON object" };
  const raw = value["Statement"];
  if (raw === UNKNOWN) return { kind: "unknown" };
  if (raw === undefined) return { kind: "invalid", why: "has no Statement" };
  const statements: Statement[] = [];
  for (const [i, s] of list(raw).entries()) {
    if (s === UNKNOWN) return { kind: "unknown" };
    if (!isObject(s)) return { kind: "invalid", why: `has a statement #${i + 1} that is not an object` };
    const sid = s["Sid"];
    const where = typeof sid === "string" && sid !== "" ? `statement "${sid}"` : `statement #${i + 1}`;
    statements.push({ body: s, where });
  }
  return { kind: "ok", statements };
}

export const isAllow = (s: Statement): boolean => s.body["Effect"] !== "Deny";
const isDeny = (s: Statement): boolean => s.body["Effect"] === "Deny";

/** True when the statement's Principal is everyone: `"*"`, `{"AWS": "*"}` or any `"*"` principal. */
function isEveryone(principal: unknown): boolean {
  if (principal === "*") return true;
  if (!isObject(principal)) return false;
  return Object.values(principal).some((v) => list(v).includes("*"));
}

/** True when the statement's only principal is the S3 server access logging service. */
function isLogDelivery(principal: unknown): boolean {
  if (!isObject(principal)) return false;
  const keys = Object.keys(principal);
  if (keys.length !== 1 || keys[0] !== "Service") return false;
  const services = list(principal["Service"]);
  return services.length === 1 && services[0] === "logging.s3.amazonaws.com";
}

const WILDCARD = /[*?]/;

/**
 * Whether an Allow may name `resource`: a concrete ARN, or one whose only wildcard is a final `*` right after
 * a `/` or `:` that follows at least two concrete segments of the resource part (an object key prefix
 * `bucket/curated/orders/*`, a log group's streams `log-group:/x:log-stream:*`). A whole bucket's objects
 * (`bucket/*`) pass only for the S3 log delivery statement (`wholeBucket`).
 */
function scopedResource(resource: string, wholeBucket: boolean): boolean {
  if (!WILDCARD.test(resource)) return true;
  if (resource.includes("?") || resource.indexOf("*") !== resource.length - 1) return false;
  const prefix = resource.slice(0, -1);
  if (!prefix.endsWith("/") && !prefix.endsWith(":")) return false;
  const arn = /^arn:[^:]+:([^:]+):[^:]*:[^:]*:(.*)$/.exec(prefix);
  if (!arn) return false;
  const [, service, rest] = arn;
  const segments = (rest ?? "").split(/[/:]/).filter((s) => s !== "");
  if (segments.length >= 2) return true;
  return wholeBucket && service === "s3" && segments.length === 1 && prefix.endsWith("/");
}

/** IAM's wildcard match: `*` any run of characters, `?` any one character. */
export function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(value);
}

// ------------------------------------------------------------------------------------------------
// The rules.
// ------------------------------------------------------------------------------------------------

/** The `tributary:store` tag of the bucket that receives S3 server access logs. */
const ACCESS_LOGS = "access-logs";

/** The store a bucket holds (raw, curated, quarantine, access-logs); UNKNOWN when not known. */
function storeOf(bucket: ResourceRecord): unknown {
  return tag(bucket, "tributary:store");
}

const storeEncrypted: AwsCheck = {
  name: "store-encrypted-with-customer-key",
  check: (resources) =>
    collect(storeEncrypted.name, resources, (stack, report) => {
      for (const bucket of stack.of(TYPES.bucket)) {
        const store = storeOf(bucket);
        const accessLogs = store === ACCESS_LOGS;
        const { parts, uncertain } = stack.bucketParts(bucket, TYPES.encryption);
        if (parts.length === 0) {
          if (uncertain) continue;
          const fix = accessLogs
            ? "encrypt it with SSE-S3 (sseAlgorithm AES256)"
            : "encrypt it with the stack's KMS key";
          report(bucket, `${label(bucket)} has no server-side encryption configuration; ${fix}`);
          continue;
        }
        if (parts.length > 1) {
          const names = quoteAll(parts.map((p) => p.name));
          report(
            bucket,
            `${label(bucket)} has ${parts.length} server-side encryption configurations (${names}); keep exactly one`,
          );
          continue;
        }
        const config = parts[0]!;
        const rules = config.inputs["rules"];
        if (rules === UNKNOWN) continue;
        const defaults = list(rules).map((r) => at(r, "applyServerSideEncryptionByDefault"));
        if (defaults.includes(UNKNOWN)) continue;
        const set = defaults.filter(isObject);
        if (set.length === 0) {
          report(
            bucket,
            `${label(bucket)} encryption configuration "${config.name}" sets no default encryption; ` +
              `set applyServerSideEncryptionByDefault`,
          );
          continue;
        }
        for (const byDefault of set) {
          const algorithm = byDefault["sseAlgorithm"];
          if (algorithm === UNKNOWN || store === UNKNOWN) continue;
          const kms = algorithm === "aws:kms" || algorithm === "aws:kms:dsse";
          if (accessLogs) {
            if (!kms && algorithm !== "AES256") {
              report(
                bucket,
                `${label(bucket)} is encrypted with ${quote(algorithm ?? null)}; set sseAlgorithm "AES256"`,
              );
            }
            continue;
          }
          if (!kms) {
            report(
              bucket,
              `${label(bucket)} is encrypted with ${quote(algorithm ?? null)}, not a customer-managed KMS key; ` +
                `set sseAlgorithm "aws:kms" and kmsMasterKeyId to the stack's KMS key`,
            );
            continue;
          }
          if (present(byDefault["kmsMasterKeyId"]) === false) {
            report(
              bucket,
              `${label(bucket)} uses aws:kms without a kmsMasterKeyId (the AWS-managed key); ` +
                `set kmsMasterKeyId to the stack's KMS key`,
            );
          }
        }
      }
    }),
};

const PUBLIC_ACCESS_FLAGS = [
  "blockPublicAcls",
  "blockPublicPolicy",
  "ignorePublicAcls",
  "restrictPublicBuckets",
] as const;

const PUBLIC_ACLS = new Set(["public-read", "public-read-write", "authenticated-read"]);

/** Allow statements of a parsed document whose principal is everyone. */
function publicGrants(doc: unknown): Statement[] {
  const parsed = parsePolicy(doc);
  if (parsed.kind !== "ok") return [];
  return parsed.statements.filter((s) => isAllow(s) && isEveryone(s.body["Principal"]));
}

const noPublicAccess: AwsCheck = {
  name: "no-public-access",
  check: (resources) =>
    collect(noPublicAccess.name, resources, (stack, report) => {
      for (const bucket of stack.of(TYPES.bucket)) {
        const blocks = stack.bucketParts(bucket, TYPES.publicAccessBlock);
        if (blocks.parts.length === 0 && !blocks.uncertain) {
          report(
            bucket,
            `${label(bucket)} has no public access block; add one with ${PUBLIC_ACCESS_FLAGS.join(", ")} all true`,
          );
        }
        for (const block of blocks.parts) {
          const off = PUBLIC_ACCESS_FLAGS.filter(
            (f) => block.inputs[f] !== UNKNOWN && block.inputs[f] !== true,
          );
          if (off.length > 0) {
            report(
              bucket,
              `${label(bucket)} public access block "${block.name}" does not set ${off.join(", ")} to true; ` +
                `set all four flags to true`,
            );
          }
        }
        const ownership = stack.bucketParts(bucket, TYPES.ownershipControls);
        if (ownership.parts.length === 0 && !ownership.uncertain) {
          report(
            bucket,
            `${label(bucket)} has no ownership controls; add them with objectOwnership "BucketOwnerEnforced" ` +
              `to turn ACLs off`,
          );
        }
        for (const controls of ownership.parts) {
          const setting = at(controls.inputs, "rule", "objectOwnership");
          if (setting !== UNKNOWN && setting !== "BucketOwnerEnforced") {
            report(
              bucket,
              `${label(bucket)} ownership controls "${controls.name}" set objectOwnership ${quote(setting ?? null)}; ` +
                `set it to "BucketOwnerEnforced" to turn ACLs off`,
            );
          }
        }
        const acl = bucket.inputs["acl"];
        if (typeof acl === "string" && PUBLIC_ACLS.has(acl)) {
          report(bucket, `${label(bucket)} has the public ACL ${quote(acl)}; remove it`);
        }
        for (const s of publicGrants(bucket.inputs["policy"])) {
          report(
            bucket,
            `${label(bucket)} policy ${s.where} allows everyone (Principal "*"); name the principals`,
          );
        }
      }
      for (const policy of stack.of(TYPES.bucketPolicy)) {
        for (const s of publicGrants(policy.inputs["policy"])) {
          report(policy, `${label(policy)} ${s.where} allows everyone (Principal "*"); name the principals`);
        }
      }
    }),
};

/** True when a Deny statement refuses every S3 action to everyone over plain HTTP. */
function deniesInsecureTransport(s: Statement): boolean {
  if (!isDeny(s) || !isEveryone(s.body["Principal"])) return false;
  if (!list(s.body["Action"]).some((a) => a === "*" || a === "s3:*")) return false;
  const bool = at(s.body, "Condition", "Bool");
  if (!isObject(bool)) return false;
  return Object.entries(bool).some(
    ([key, value]) =>
      key.toLowerCase() === "aws:securetransport" &&
      list(value).length > 0 &&
      list(value).every((v) => v === "false" || v === false),
  );
}

/** Whether the statement's resources cover `target` (a bucket name, or `name/*` for its objects). */
function covers(s: Statement, target: string): boolean {
  return list(s.body["Resource"]).some((r) => {
    if (r === "*") return true;
    if (typeof r !== "string") return false;
    const m = /^arn:[^:]+:s3:::(.*)$/.exec(r);
    return m !== null && globMatches(m[1] ?? "", target);
  });
}

const tlsOnly: AwsCheck = {
  name: "tls-only",
  check: (resources) =>
    collect(tlsOnly.name, resources, (stack, report) => {
      for (const bucket of stack.of(TYPES.bucket)) {
        const { parts, uncertain } = stack.bucketParts(bucket, TYPES.bucketPolicy);
        const docs = parts.map((p) => p.inputs["policy"]);
        const inline = bucket.inputs["policy"];
        if (inline !== undefined && inline !== "") docs.push(inline);
        const name = bucket.inputs["bucket"];
        const arn = typeof name === "string" ? `arn:aws:s3:::${name}` : "the bucket ARN";
        const fix =
          `deny s3:* to every principal on ${arn} and ${arn}/* with Condition ` +
          `{"Bool": {"aws:SecureTransport": "false"}}`;
        if (docs.length === 0) {
          if (!uncertain)
            report(bucket, `${label(bucket)} has no bucket policy; attach one that must ${fix}`);
          continue;
        }
        const parsed = docs.map(parsePolicy);
        // Unknown documents cannot be judged; invalid ones are no-wildcard-grants' to report.
        if (parsed.some((p) => p.kind === "unknown" || p.kind === "invalid")) continue;
        const denies = parsed
          .flatMap((p) => (p.kind === "ok" ? p.statements : []))
          .filter(deniesInsecureTransport);
        const missing: string[] = [];
        if (typeof name === "string") {
          if (!denies.some((s) => covers(s, name))) missing.push(`arn:aws:s3:::${name}`);
          if (!denies.some((s) => covers(s, `${name}/*`))) missing.push(`arn:aws:s3:::${name}/*`);
        } else if (denies.length === 0) {
          // Without the bucket's name the resources cannot be checked, only that such a Deny exists.
          missing.push("the bucket and its objects");
        }
        if (missing.length > 0) {
          report(
            bucket,
            `${label(bucket)} accepts requests without TLS on ${missing.join(" and ")}; its bucket policy must ${fix}`,
          );
        }
      }
    }),
};

/** Where each policy-holding type keeps its documents. */
const POLICY_DOCUMENTS: readonly {
  readonly type: string;
  readonly documents: (r: ResourceRecord) => { doc: unknown; label: string }[] | Unknown;
}[] = [
  { type: TYPES.rolePolicy, documents: (r) => [{ doc: r.inputs["policy"], label: label(r) }] },
  {
    type: TYPES.role,
    documents: (r) => {
      const inline = r.inputs["inlinePolicies"];
      if (inline === UNKNOWN) return UNKNOWN;
      return list(inline).map((p, i) => {
        const name = at(p, "name");
        const which = typeof name === "string" && name !== "" ? quote(name) : `#${i + 1}`;
        return { doc: at(p, "policy"), label: `${label(r)} inline policy ${which}` };
      });
    },
  },
  { type: TYPES.iamPolicy, documents: (r) => [{ doc: r.inputs["policy"], label: label(r) }] },
  { type: TYPES.bucketPolicy, documents: (r) => [{ doc: r.inputs["policy"], label: label(r) }] },
  { type: TYPES.queuePolicy, documents: (r) => [{ doc: r.inputs["policy"], label: label(r) }] },
  { type: TYPES.topicPolicy, documents: (r) => [{ doc: r.inputs["policy"], label: label(r) }] },
];

const noWildcardGrants: AwsCheck = {
  name: "no-wildcard-grants",
  check: (resources) =>
    collect(noWildcardGrants.name, resources, (stack, report) => {
      for (const r of stack.resources) {
        const holder = POLICY_DOCUMENTS.find((d) => d.type === r.type);
        if (!holder) continue;
        const documents = holder.documents(r);
        if (documents === UNKNOWN) continue;
        for (const { doc, label: where } of documents) {
          const parsed = parsePolicy(doc);
          if (parsed.kind === "invalid") {
            report(
              r,
              `${where} has a policy document that ${parsed.why}; write it as a JSON IAM policy document`,
            );
            continue;
          }
          if (parsed.kind !== "ok") continue;
          for (const s of parsed.statements) {
            if (s.body["Effect"] === UNKNOWN || !isAllow(s)) continue;
            const head = `${where} ${s.where}`;
            const actions = list(s.body["Action"]).filter((a) => typeof a === "string" && WILDCARD.test(a));
            if (actions.length > 0) {
              report(r, `${head} allows wildcard actions ${quoteAll(actions)}; list the actions it needs`);
            }
            for (const [key, what, instead] of [
              ["NotAction", "every action but the listed ones", "the allowed actions under Action"],
              ["NotResource", "every resource but the listed ones", "the allowed resources under Resource"],
              [
                "NotPrincipal",
                "every principal but the listed ones",
                "the allowed principals under Principal",
              ],
            ] as const) {
              if (s.body[key] !== undefined) report(r, `${head} allows by ${key} (${what}); list ${instead}`);
            }
            const wholeBucket = r.type === TYPES.bucketPolicy && isLogDelivery(s.body["Principal"]);
            const wild = list(s.body["Resource"]).filter(
              (x) => typeof x === "string" && !scopedResource(x, wholeBucket),
            );
            if (wild.length > 0) {
              report(
                r,
                `${head} grants on wildcard resources ${quoteAll(wild)}; name concrete ARNs (a final "*" is ` +
                  `allowed only after a concrete prefix, such as an object key prefix or a log group's streams)`,
              );
            }
          }
        }
      }
    }),
};

/** A JSON-string-or-object input as an object; UNKNOWN, undefined (absent) or "invalid". */
function jsonObject(v: unknown): Record<string, unknown> | Unknown | undefined | "invalid" {
  if (v === UNKNOWN || v === undefined || v === null) return v === null ? undefined : v;
  if (isObject(v)) return v;
  if (typeof v !== "string") return "invalid";
  if (v.trim() === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(v);
    return isObject(parsed) ? parsed : "invalid";
  } catch {
    return "invalid";
  }
}

const deadLetterQueue: AwsCheck = {
  name: "dead-letter-queue",
  check: (resources) =>
    collect(deadLetterQueue.name, resources, (stack, report) => {
      for (const queue of stack.of(TYPES.queue)) {
        const role = tag(queue, "tributary:role");
        if (role === UNKNOWN || role === "dead-letter") continue;
        const fix = "set redrivePolicy with a deadLetterTargetArn and a maxReceiveCount of at least 1";
        const redrive = jsonObject(queue.inputs["redrivePolicy"]);
        if (redrive === UNKNOWN) continue;
        if (redrive === undefined) {
          report(queue, `${label(queue)} has no redrive policy; ${fix}`);
          continue;
        }
        if (redrive === "invalid") {
          report(queue, `${label(queue)} has a redrive policy that is not a JSON object; ${fix}`);
          continue;
        }
        const target = redrive["deadLetterTargetArn"];
        if (present(target) === false) {
          report(queue, `${label(queue)} redrive policy names no deadLetterTargetArn; ${fix}`);
        }
        const count = redrive["maxReceiveCount"];
        if (count !== UNKNOWN) {
          const n = typeof count === "string" && count.trim() !== "" ? Number(count) : count;
          if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
            report(
              queue,
              `${label(queue)} redrive policy has maxReceiveCount ${quote(count ?? null)}; set it to at least 1`,
            );
          }
        }
      }
      for (const target of stack.of(TYPES.eventTarget)) {
        if (present(at(target.inputs, "deadLetterConfig", "arn")) === false) {
          report(
            target,
            `${label(target)} has no dead-letter queue; set deadLetterConfig.arn to an SQS queue for the ` +
              `events it cannot deliver`,
          );
        }
      }
      for (const schedule of stack.of(TYPES.schedule)) {
        if (present(at(schedule.inputs, "target", "deadLetterConfig", "arn")) === false) {
          report(
            schedule,
            `${label(schedule)} has no dead-letter queue; set target.deadLetterConfig.arn to an SQS queue for ` +
              `the invocations it cannot deliver`,
          );
        }
      }
      for (const mapping of stack.of(TYPES.eventSourceMapping)) {
        const source = mapping.inputs["eventSourceArn"];
        if (typeof source !== "string" || !/^arn:[^:]+:sqs:/.test(source)) continue;
        const types = mapping.inputs["functionResponseTypes"];
        if (types === UNKNOWN) continue;
        if (!list(types).includes("ReportBatchItemFailures")) {
          report(
            mapping,
            `${label(mapping)} does not report batch item failures; set functionResponseTypes to ` +
              `["ReportBatchItemFailures"] so one failed message does not retry its whole batch`,
          );
        }
      }
    }),
};

/** True, false, or UNKNOWN: whether a log group keeps its logs for a bounded time. */
function hasRetention(group: ResourceRecord): boolean | Unknown {
  const days = group.inputs["retentionInDays"];
  if (days === UNKNOWN) return UNKNOWN;
  return typeof days === "number" && days > 0;
}

const logRetention: AwsCheck = {
  name: "log-retention",
  check: (resources) =>
    collect(logRetention.name, resources, (stack, report) => {
      const groups = stack.of(TYPES.logGroup);
      for (const group of groups) {
        if (hasRetention(group) === false) {
          report(group, `${label(group)} keeps its logs forever; set retentionInDays (for example 30)`);
        }
      }
      for (const fn of stack.of(TYPES.function)) {
        const name = at(fn.inputs, "loggingConfig", "logGroup");
        if (name === UNKNOWN) continue;
        if (typeof name !== "string" || name === "") {
          report(
            fn,
            `${label(fn)} names no log group, so Lambda logs to one that keeps logs forever; set ` +
              `loggingConfig.logGroup to a log group of this stack that has retentionInDays`,
          );
          continue;
        }
        const group = groups.find((g) => g.inputs["name"] === name);
        if (!group) {
          if (groups.some((g) => typeof g.inputs["name"] !== "string")) continue;
          report(
            fn,
            `${label(fn)} logs to ${quote(name)}, which is not a log group of this stack; create it with ` +
              `retentionInDays or point loggingConfig.logGroup at one`,
          );
          continue;
        }
        if (hasRetention(group) === false) {
          report(
            fn,
            `${label(fn)} logs to ${label(group)}, which has no retention; set retentionInDays on it`,
          );
        }
      }
    }),
};

/** The types {@link requiredTags} checks: all take `tags`. */
export const TAGGABLE_TYPES: readonly string[] = [
  TYPES.bucket,
  TYPES.glueDatabase,
  TYPES.workgroup,
  TYPES.kmsKey,
  TYPES.eventBus,
  TYPES.eventRule,
  TYPES.queue,
  TYPES.function,
  TYPES.role,
  TYPES.logGroup,
  TYPES.metricAlarm,
  TYPES.topic,
  TYPES.eventSourceMapping,
];

const requiredTags: AwsCheck = {
  name: "required-tags",
  check: (resources) =>
    collect(requiredTags.name, resources, (_stack, report) => {
      for (const r of resources) {
        if (!TAGGABLE_TYPES.includes(r.type)) continue;
        const tags = r.inputs["tags"];
        // Provider default tags land in tagsAll; when that is not known yet, a missing tag may be there.
        const all = r.inputs["tagsAll"];
        if (tags === UNKNOWN) continue;
        const missing = REQUIRED_TAGS.filter((key) => {
          const own = present(at(tags, key));
          const inherited = present(at(all, key));
          if (own === true || inherited === true) return false;
          return own !== UNKNOWN && inherited !== UNKNOWN;
        });
        if (missing.length === 0) continue;
        const what = missing.length === 1 ? "the required tag" : "the required tags";
        report(
          r,
          `${label(r)} is missing ${what} ${quoteAll(missing)}; tag it with ${REQUIRED_TAGS.join(", ")} ` +
            `(none empty)`,
        );
      }
    }),
};

const storesSurvive: AwsCheck = {
  name: "stores-survive-changes",
  check: (resources) =>
    collect(storesSurvive.name, resources, (stack, report) => {
      for (const r of [...stack.of(TYPES.bucket), ...stack.of(TYPES.kmsKey)]) {
        const key = r.type === TYPES.kmsKey;
        for (const problem of survivalProblems(
          r,
          marker(r, "tags", DISPOSABLE_TAG),
          label(r),
          key ? KEY_LOSS : STORE_LOSS,
          key ? KEY_REMEDY : STORE_REMEDY,
        ))
          report(r, problem);
      }
    }),
};

/** The actions that delete an object (or one of its versions), lowercase as IAM compares them. */
const DELETE_ACTIONS = ["s3:deleteobject", "s3:deleteobjectversion"];

/**
 * Whether an S3 resource of an Allow may name an object of the raw zone: `*`, a bucket part that matches
 * a raw bucket (`trib-dev-raw/*`, `trib-*`), or a key part under `raw/`.
 */
function onRaw(resource: string, rawBuckets: readonly string[]): boolean {
  if (resource === "*") return true;
  const m = /^arn:[^:]+:s3:::(.*)$/.exec(resource);
  if (!m) return false;
  const rest = m[1] ?? "";
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? "" : rest.slice(slash + 1);
  const objects = slash >= 0 || WILDCARD.test(bucket);
  return objects && (rawBuckets.some((b) => globMatches(bucket, b)) || key.startsWith("raw/"));
}

const rawAppendOnly: AwsCheck = {
  name: "raw-append-only",
  check: (resources) =>
    collect(rawAppendOnly.name, resources, (stack, report) => {
      // The raw buckets whose names are known; `raw/` keys are raw history in any bucket.
      const rawBuckets = stack
        .of(TYPES.bucket)
        .filter((b) => storeOf(b) === "raw")
        .map((b) => b.inputs["bucket"])
        .filter((n): n is string => typeof n === "string");
      for (const r of stack.resources) {
        const holder = POLICY_DOCUMENTS.find((d) => d.type === r.type && d.type !== TYPES.bucketPolicy);
        if (!holder) continue;
        const documents = holder.documents(r);
        if (documents === UNKNOWN) continue;
        for (const { doc, label: where } of documents) {
          const parsed = parsePolicy(doc);
          if (parsed.kind !== "ok") continue;
          for (const s of parsed.statements) {
            if (s.body["Effect"] === UNKNOWN || !isAllow(s)) continue;
            const deletes = list(s.body["Action"]).filter(
              (a) => typeof a === "string" && DELETE_ACTIONS.some((d) => globMatches(a.toLowerCase(), d)),
            );
            if (deletes.length === 0) continue;
            const targets = list(s.body["Resource"]).filter(
              (x) => typeof x === "string" && onRaw(x, rawBuckets),
            );
            if (targets.length > 0) {
              report(
                r,
                `${where} ${s.where} allows ${quoteAll(deletes)} on raw history ${quoteAll(targets)}; ingest only ` +
                  "appends (s3:PutObject), and the raw bucket's lifecycle rule expires old events",
              );
            }
          }
        }
      }
    }),
};

/** The AWS checks of the rules, by rule name. */
export const awsChecks: CloudChecks = Object.fromEntries(
  [
    storeEncrypted,
    noPublicAccess,
    tlsOnly,
    noWildcardGrants,
    deadLetterQueue,
    logRetention,
    requiredTags,
    storesSurvive,
    rawAppendOnly,
  ].map((c) => [c.name, c.check]),
);
