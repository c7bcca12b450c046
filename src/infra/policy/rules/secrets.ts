/**
 * The policy pack's rules for secrets, on every cloud:
 *
 *   - secrets-encrypted-with-stack-key: a Secrets Manager secret names a customer-managed KMS key (not the
 *     AWS-managed one); a Secret Manager secret is encrypted with Cloud KMS keys in every replica (CMEK);
 *     a Key Vault secret lives in a vault of the stack with RBAC authorisation and purge protection.
 *   - secret-read-only-by-declaring-functions: read on a secret is granted per secret (no wildcard, no
 *     project- or vault-wide role) and only to a function whose environment names that secret (its
 *     `TRIBUTARY_SECRET_REFS`, which the plan writes for exactly the assets that declare it): the grant
 *     and the function are in the same component.
 *   - no-plain-secrets-in-environment: no function's environment holds a secret value: not a Pulumi
 *     secret, not a credential-shaped value (an access key, a private key, an account key or SAS
 *     signature), and a variable named like a secret holds references only.
 */

import type { ResourceRecord } from "../../synth/record.ts";
import { SECRET_MARKER } from "../../synth/record.ts";
import { at, isObject, UNKNOWN } from "../read.ts";
import type { Rule, Violation } from "./common.ts";

/** The function environment variable that names a function's secrets (contract/function-env.ts). */
const REFS = "TRIBUTARY_SECRET_REFS";

export const SECRET_TYPES = {
  awsSecret: "aws:secretsmanager/secret:Secret",
  awsRolePolicy: "aws:iam/rolePolicy:RolePolicy",
  awsFunction: "aws:lambda/function:Function",
  gcpSecret: "gcp:secretmanager/secret:Secret",
  gcpSecretMember: "gcp:secretmanager/secretIamMember:SecretIamMember",
  gcpSecretBinding: "gcp:secretmanager/secretIamBinding:SecretIamBinding",
  gcpProjectMember: "gcp:projects/iAMMember:IAMMember",
  gcpProjectBinding: "gcp:projects/iAMBinding:IAMBinding",
  gcpFunction: "gcp:cloudfunctionsv2/function:Function",
  azureSecret: "azure-native:keyvault:Secret",
  azureVault: "azure-native:keyvault:Vault",
  azureRoleAssignment: "azure-native:authorization:RoleAssignment",
  azureWebApp: "azure-native:web:WebApp",
} as const;

const KINDS: Record<string, string> = {
  [SECRET_TYPES.awsSecret]: "secret",
  [SECRET_TYPES.awsRolePolicy]: "role policy",
  [SECRET_TYPES.awsFunction]: "function",
  [SECRET_TYPES.gcpSecret]: "secret",
  [SECRET_TYPES.gcpSecretMember]: "secret IAM member",
  [SECRET_TYPES.gcpSecretBinding]: "secret IAM binding",
  [SECRET_TYPES.gcpProjectMember]: "project IAM member",
  [SECRET_TYPES.gcpProjectBinding]: "project IAM binding",
  [SECRET_TYPES.gcpFunction]: "function",
  [SECRET_TYPES.azureSecret]: "Key Vault secret",
  [SECRET_TYPES.azureRoleAssignment]: "role assignment",
  [SECRET_TYPES.azureWebApp]: "function app",
};

export const label = (r: ResourceRecord) => `${KINDS[r.type] ?? r.type} "${r.name}"`;

/** Secret Manager roles that read secret values. */
const GCP_READ_ROLES = ["roles/secretmanager.secretAccessor", "roles/secretmanager.admin"];
/** Key Vault roles that read secret values: Secrets User, Secrets Officer, Administrator. */
const AZURE_READ_ROLES: Record<string, string> = {
  "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
  "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
  "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
};

/** A rule's violations reported through `body`, in the order of the resources they are on. */
export function collect(
  policy: string,
  resources: readonly ResourceRecord[],
  body: (report: (r: ResourceRecord, message: string) => void) => void,
): Violation[] {
  const out: { index: number; seq: number; v: Violation }[] = [];
  const index = new Map(resources.map((r, i) => [r, i]));
  body((r, message) =>
    out.push({ index: index.get(r) ?? -1, seq: out.length, v: { policy, urn: r.urn, message } }),
  );
  return out.sort((a, b) => a.index - b.index || a.seq - b.seq).map((x) => x.v);
}

export const of = (resources: readonly ResourceRecord[], type: string) =>
  resources.filter((r) => r.type === type);
const present = (v: unknown) => typeof v === "string" && v.trim() !== "";

// ------------------------------------------------------------------------------------------------
// A function's environment, on each cloud.
// ------------------------------------------------------------------------------------------------

const FUNCTION_TYPES: readonly string[] = [
  SECRET_TYPES.awsFunction,
  SECRET_TYPES.gcpFunction,
  SECRET_TYPES.azureWebApp,
];

/** A function's environment variables as [name, value] pairs; UNKNOWN when they are not known. */
export function environment(fn: ResourceRecord): [string, unknown][] | typeof UNKNOWN {
  const pairs = (vars: unknown): [string, unknown][] | typeof UNKNOWN =>
    vars === UNKNOWN ? UNKNOWN : isObject(vars) ? Object.entries(vars) : [];
  if (fn.type === SECRET_TYPES.awsFunction) return pairs(at(fn.inputs, "environment", "variables"));
  if (fn.type === SECRET_TYPES.gcpFunction) {
    const service = pairs(at(fn.inputs, "serviceConfig", "environmentVariables"));
    const build = pairs(at(fn.inputs, "buildConfig", "environmentVariables"));
    return service === UNKNOWN || build === UNKNOWN ? UNKNOWN : [...service, ...build];
  }
  const settings = at(fn.inputs, "siteConfig", "appSettings");
  if (settings === UNKNOWN) return UNKNOWN;
  if (!Array.isArray(settings)) return [];
  return settings.flatMap((s): [string, unknown][] =>
    isObject(s) && typeof s.name === "string" ? [[s.name, s.value]] : [],
  );
}

/** The secret references a function's environment names (the values of its TRIBUTARY_SECRET_REFS). */
function references(fn: ResourceRecord): string[] | typeof UNKNOWN {
  const env = environment(fn);
  if (env === UNKNOWN) return UNKNOWN;
  const refs = env.find(([name]) => name === REFS)?.[1];
  if (refs === undefined) return [];
  if (typeof refs !== "string") return UNKNOWN;
  try {
    const parsed: unknown = JSON.parse(refs);
    return isObject(parsed) ? Object.values(parsed).filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** The functions in the same component as a grant: those it may be for. */
export function siblings(resources: readonly ResourceRecord[], grant: ResourceRecord): ResourceRecord[] {
  return resources.filter(
    (r) => FUNCTION_TYPES.includes(r.type) && r.parent !== undefined && r.parent === grant.parent,
  );
}

// ------------------------------------------------------------------------------------------------
// secrets-encrypted-with-stack-key
// ------------------------------------------------------------------------------------------------

const encrypted: Rule = {
  name: "secrets-encrypted-with-stack-key",
  description:
    "Every secret is encrypted with the stack's customer-managed key: a Secrets Manager secret names a KMS " +
    "key of its own (not aws/secretsmanager), a Secret Manager secret uses CMEK in every replica, a Key " +
    "Vault secret lives in a vault of the stack with RBAC authorisation and purge protection.",
  check: (resources) =>
    collect(encrypted.name, resources, (report) => {
      for (const s of of(resources, SECRET_TYPES.awsSecret)) {
        const key = s.inputs.kmsKeyId;
        if (key === UNKNOWN) continue;
        if (!present(key) || /alias\/aws\//.test(String(key))) {
          report(
            s,
            `${label(s)} is encrypted with the AWS-managed key; set kmsKeyId to the stack's KMS key (its ARN)`,
          );
        }
      }
      for (const s of of(resources, SECRET_TYPES.gcpSecret)) {
        const replication = s.inputs.replication;
        if (replication === UNKNOWN) continue;
        const auto = at(replication, "auto");
        const replicas = at(replication, "userManaged", "replicas");
        if (auto === UNKNOWN || replicas === UNKNOWN) continue;
        const keys = isObject(auto)
          ? [at(auto, "customerManagedEncryption", "kmsKeyName")]
          : Array.isArray(replicas)
            ? replicas.map((r) => at(r, "customerManagedEncryption", "kmsKeyName"))
            : [];
        if (keys.includes(UNKNOWN)) continue;
        if (keys.length === 0 || !keys.every(present)) {
          report(
            s,
            `${label(s)} is encrypted with a Google-managed key in some replica; set customerManagedEncryption.kmsKeyName to the stack's Cloud KMS key in every replica (userManaged, the stack's region)`,
          );
        }
      }
      const vaults = of(resources, SECRET_TYPES.azureVault);
      for (const s of of(resources, SECRET_TYPES.azureSecret)) {
        const name = s.inputs.vaultName;
        if (name === UNKNOWN) continue;
        const vault = vaults.find((v) => v.inputs.vaultName === name);
        if (!vault) {
          if (vaults.some((v) => v.inputs.vaultName === UNKNOWN)) continue;
          report(
            s,
            `${label(s)} is in vault ${JSON.stringify(name)}, which is not the stack's; keep it in the stack's vault`,
          );
          continue;
        }
        const rbac = at(vault.inputs, "properties", "enableRbacAuthorization");
        const purge = at(vault.inputs, "properties", "enablePurgeProtection");
        if ((rbac !== UNKNOWN && rbac !== true) || (purge !== UNKNOWN && purge !== true)) {
          report(
            s,
            `${label(s)} is in vault "${vault.name}", which lacks ${[rbac !== true && rbac !== UNKNOWN ? "RBAC authorisation" : "", purge !== true && purge !== UNKNOWN ? "purge protection" : ""].filter(Boolean).join(" and ")}; set enableRbacAuthorization and enablePurgeProtection on it`,
          );
        }
      }
    }),
};

// ------------------------------------------------------------------------------------------------
// secret-read-only-by-declaring-functions
// ------------------------------------------------------------------------------------------------

export interface Stmt {
  readonly body: Record<string, unknown>;
  readonly where: string;
}

/** The statements of an IAM policy document (JSON text or object), each with where it is for messages. */
export function statements(doc: unknown): Stmt[] | typeof UNKNOWN {
  if (doc === UNKNOWN) return UNKNOWN;
  let value: unknown = doc;
  if (typeof doc === "string") {
    try {
      value = JSON.parse(doc);
    } catch {
      return [];
    }
  }
  const raw = at(value, "Statement");
  if (raw === UNKNOWN) return UNKNOWN;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.flatMap((s, i) => {
    if (!isObject(s)) return [];
    const sid = s.Sid;
    return [
      {
        body: s,
        where: typeof sid === "string" && sid !== "" ? `statement "${sid}"` : `statement #${i + 1}`,
      },
    ];
  });
}

export const asList = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const readsSecrets = (action: unknown) =>
  typeof action === "string" && /^secretsmanager:(GetSecretValue|\*)$/i.test(action);

const onlyDeclared: Rule = {
  name: "secret-read-only-by-declaring-functions",
  description:
    "Read on a secret is granted per secret (no wildcard resource, no project- or vault-wide role) and only to " +
    "a function whose environment names that secret, as the plan gives the functions whose asset declares it.",
  check: (resources) =>
    collect(onlyDeclared.name, resources, (report) => {
      // AWS: role policies.
      for (const p of of(resources, SECRET_TYPES.awsRolePolicy)) {
        const stmts = statements(p.inputs.policy);
        if (stmts === UNKNOWN) continue;
        for (const s of stmts) {
          if (s.body.Effect === "Deny" || !asList(s.body.Action).some(readsSecrets)) continue;
          const targets = asList(s.body.Resource);
          const wild = targets.filter((t) => typeof t === "string" && /[*?]/.test(t));
          if (wild.length > 0) {
            report(
              p,
              `${label(p)} ${s.where} lets a function read secrets ${wild.map((w) => JSON.stringify(w)).join(", ")}; name each secret's ARN`,
            );
            continue;
          }
          const fns = siblings(resources, p);
          const named = fns.map(references);
          if (named.includes(UNKNOWN)) continue;
          const refs = (named as string[][]).flat().map((r) => r.split("#")[0]);
          for (const t of targets) {
            if (typeof t === "string" && !refs.includes(t)) {
              report(
                p,
                `${label(p)} ${s.where} lets its function read ${JSON.stringify(t)}, a secret its environment does not name (its asset does not declare it); grant only the secrets the asset declares`,
              );
            }
          }
        }
      }
      // GCP: per-secret members and bindings; nothing project-wide.
      for (const m of [
        ...of(resources, SECRET_TYPES.gcpSecretMember),
        ...of(resources, SECRET_TYPES.gcpSecretBinding),
      ]) {
        const role = m.inputs.role;
        if (role === UNKNOWN || !GCP_READ_ROLES.includes(String(role))) continue;
        const members =
          m.type === SECRET_TYPES.gcpSecretBinding ? asList(m.inputs.members) : [m.inputs.member];
        const secretId = m.inputs.secretId;
        if (members.includes(UNKNOWN) || secretId === UNKNOWN) continue;
        const fns = siblings(resources, m);
        for (const member of members) {
          const fn = fns.find(
            (f) =>
              `serviceAccount:${String(at(f.inputs, "serviceConfig", "serviceAccountEmail"))}` === member,
          );
          const refs = fn ? references(fn) : [];
          if (refs === UNKNOWN) continue;
          const names = refs.some((r) =>
            new RegExp(`/secrets/${escapeRegExp(String(secretId))}(/|$)`).test(r),
          );
          if (!fn || !names) {
            report(
              m,
              `${label(m)} lets ${String(member)} read secret ${JSON.stringify(secretId)}, which is not the service account of a function whose environment names it; grant each secret to exactly the functions whose asset declares it`,
            );
          }
        }
      }
      for (const m of [
        ...of(resources, SECRET_TYPES.gcpProjectMember),
        ...of(resources, SECRET_TYPES.gcpProjectBinding),
      ]) {
        const role = m.inputs.role;
        if (typeof role === "string" && GCP_READ_ROLES.includes(role)) {
          report(
            m,
            `${label(m)} grants ${role} on the whole project, every secret in it; grant it on each secret instead`,
          );
        }
      }
      // Azure: role assignments scoped to one secret, for the function app beside them.
      for (const a of of(resources, SECRET_TYPES.azureRoleAssignment)) {
        const def = a.inputs.roleDefinitionId;
        if (typeof def !== "string") continue;
        const role = AZURE_READ_ROLES[def.split("/").pop() ?? ""];
        if (role === undefined) continue;
        const scope = a.inputs.scope;
        if (scope === UNKNOWN) continue;
        const secret = /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/secrets\/([^/]+)$/i.exec(
          String(scope),
        );
        if (!secret) {
          report(
            a,
            `${label(a)} gives ${role} on ${JSON.stringify(scope)}, not on one secret: every secret there becomes readable; scope it to the secret`,
          );
          continue;
        }
        const [, vault, name] = secret;
        const fns = siblings(resources, a);
        const named = fns.map(references);
        if (named.includes(UNKNOWN)) continue;
        const uri = `https://${vault}.vault.azure.net/secrets/${name}/`.toLowerCase();
        if (!(named as string[][]).flat().some((r) => `${r.toLowerCase()}/`.startsWith(uri))) {
          report(
            a,
            `${label(a)} gives ${role} on secret "${name}" to an identity whose function does not name it in its settings (its asset does not declare it); assign it to exactly the functions whose asset declares it`,
          );
        }
      }
    }),
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ------------------------------------------------------------------------------------------------
// no-plain-secrets-in-environment
// ------------------------------------------------------------------------------------------------

/** A variable whose name says it holds a secret. */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY)/i;

/** A reference to a secret in a cloud's secret store: what such a variable may hold instead. */
const REFERENCE = [
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+(#[A-Za-z0-9-]+)?$/,
  /^projects\/[^/]+\/secrets\/[A-Za-z0-9_-]+(\/versions\/(\d+|latest))?$/,
  /^https:\/\/[a-z0-9-]+\.vault\.azure\.net\/secrets\/[A-Za-z0-9-]+(\/[0-9a-f]+)?$/,
  /^@Microsoft\.KeyVault\(.+\)$/,
];

/** Values shaped like credentials, whatever the variable is called. */
const CREDENTIALS: readonly [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/"private_key"\s*:/, "a service account key"],
  [/(^|;)\s*AccountKey=/i, "a storage account key"],
  [/(^|;)\s*SharedAccessKey=/i, "a shared access key"],
  [/[?&]sig=[A-Za-z0-9%+/=]{20,}/, "a SAS signature"],
];

const isReference = (v: string) => REFERENCE.some((r) => r.test(v));

/** Whether a value is references only: one reference, or a JSON object of them. */
function referencesOnly(value: string): boolean {
  if (isReference(value)) return true;
  try {
    const parsed: unknown = JSON.parse(value);
    return isObject(parsed) && Object.values(parsed).every((v) => typeof v === "string" && isReference(v));
  } catch {
    return false;
  }
}

const isMarker = (v: unknown) => isObject(v) && v.$secret === SECRET_MARKER.$secret;

const plainEnvironment: Rule = {
  name: "no-plain-secrets-in-environment",
  description:
    "No function's environment holds a secret's value: no Pulumi secret, nothing shaped like a credential, and a " +
    "variable named like a secret holds references to the cloud's secret store only.",
  check: (resources) =>
    collect(plainEnvironment.name, resources, (report) => {
      for (const fn of resources.filter((r) => FUNCTION_TYPES.includes(r.type))) {
        const env = environment(fn);
        if (env === UNKNOWN) continue;
        const fix = "name the secret in the asset's secrets and let the function read it by reference";
        for (const [name, value] of env) {
          if (value === UNKNOWN) continue;
          if (isMarker(value)) {
            report(fn, `${label(fn)} has a secret value in its environment variable ${name}; ${fix}`);
            continue;
          }
          if (typeof value !== "string") continue;
          const shape = CREDENTIALS.find(([pattern]) => pattern.test(value));
          if (shape) {
            report(fn, `${label(fn)} has ${shape[1]} in its environment variable ${name}; ${fix}`);
            continue;
          }
          if (SECRET_NAME.test(name) && !referencesOnly(value)) {
            report(
              fn,
              `${label(fn)} environment variable ${name} is named like a secret and holds a value, not a reference to the cloud's secret store; ${fix}`,
            );
          }
        }
      }
    }),
};

/** The secret rules, in the order the pack reports them. */
export const secretRules: readonly Rule[] = [encrypted, onlyDeclared, plainEnvironment];
