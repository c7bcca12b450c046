/**
 * The policy pack's rules for embedding models and vector tables, on every cloud:
 *
 *   - embedding-model-scoped: a grant to call an embedding model names one model and nothing broader: an
 *     IAM statement allowing `bedrock:InvokeModel` names exactly one foundation model's ARN (no wildcard
 *     action or resource); a custom GCP role with Vertex AI permissions holds only
 *     `aiplatform.endpoints.predict`, and no function gets Vertex AI's predefined roles; an Azure OpenAI
 *     role is assigned on one Cognitive Services account, not a resource group or subscription.
 *   - embedding-model-only-embedding-functions: only a function whose environment holds its vectors
 *     configuration (TRIBUTARY_VECTORS: an embedding asset's function) is granted a model, and on AWS the
 *     model it is granted is the one that configuration names.
 *   - vector-prefix-only-its-asset: a grant on an embedding asset's vector tables (`vectors/<asset>/`) is
 *     for that asset's function only.
 *   - azure-openai-local-auth-off: an Azure OpenAI account has local (key) authentication disabled and
 *     public network access disabled (its functions reach it through the stack's private endpoint).
 */
import type { ResourceRecord } from "../../synth/record.ts";
import { at, isObject, UNKNOWN } from "../read.ts";
import type { Rule } from "./common.ts";
import { asList, collect, environment, label, of, SECRET_TYPES, siblings, statements } from "./secrets.ts";

/** The function environment variables this file reads (contract/function-env.ts). */
const VECTORS = "TRIBUTARY_VECTORS";
const ASSET = "TRIBUTARY_ASSET";

export const EMBEDDING_TYPES = {
  gcpCustomRole: "gcp:projects/iAMCustomRole:IAMCustomRole",
  azureAccount: "azure-native:cognitiveservices:Account",
} as const;

/** Azure's built-in roles that call (or manage) Azure OpenAI deployments. */
const AZURE_OPENAI_ROLES: Record<string, string> = {
  "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
  "a001fd3d-188f-4b5d-821b-7da978bf7442": "Cognitive Services OpenAI Contributor",
  "a97b65f3-24c7-4388-baec-2e87135dc908": "Cognitive Services User",
  "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68": "Cognitive Services Contributor",
};
/** Vertex AI's predefined roles, every one broader than calling a model. */
const VERTEX_ROLES = /^roles\/aiplatform\./;

const invokes = (action: unknown) =>
  typeof action === "string" && /^bedrock:(InvokeModel|Invoke\*|\*)$|^\*$/i.test(action);

/** A function's vectors configuration, parsed; undefined when it has none; UNKNOWN when not known. */
function vectorsOf(fn: ResourceRecord): Record<string, unknown> | undefined | typeof UNKNOWN {
  const env = environment(fn);
  if (env === UNKNOWN) return UNKNOWN;
  const value = env.find(([name]) => name === VECTORS)?.[1];
  if (value === undefined) return undefined;
  if (typeof value !== "string") return UNKNOWN;
  try {
    const parsed: unknown = JSON.parse(value);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** The provider models a function's vectors configuration names. */
function modelsOf(vectors: Record<string, unknown>): string[] {
  const models = vectors.models;
  return isObject(models) ? Object.values(models).filter((m): m is string => typeof m === "string") : [];
}

const FUNCTION_TYPES: readonly string[] = [
  SECRET_TYPES.awsFunction,
  SECRET_TYPES.gcpFunction,
  SECRET_TYPES.azureWebApp,
];

/** The embedding functions beside a grant; UNKNOWN when some sibling's environment is not known. */
function embeddingSiblings(
  resources: readonly ResourceRecord[],
  grant: ResourceRecord,
): { fn: ResourceRecord; vectors: Record<string, unknown> }[] | typeof UNKNOWN {
  const out: { fn: ResourceRecord; vectors: Record<string, unknown> }[] = [];
  for (const fn of siblings(resources, grant)) {
    const v = vectorsOf(fn);
    if (v === UNKNOWN) return UNKNOWN;
    if (v) out.push({ fn, vectors: v });
  }
  return out;
}

/** `bedrock:InvokeModel` statements of a role policy: their resources, and where they are. */
function invokeStatements(p: ResourceRecord) {
  const list = statements(p.inputs.policy);
  if (list === UNKNOWN) return UNKNOWN;
  return list
    .filter((s) => s.body.Effect === "Allow" && asList(s.body.Action).some(invokes))
    .map((s) => ({ ...s, actions: asList(s.body.Action), resources: asList(s.body.Resource) }));
}

const FOUNDATION_MODEL = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]+::foundation-model\/([^*?]+)$/;

/** Role assignments of an Azure OpenAI role, with the role's name. */
function openAIAssignments(resources: readonly ResourceRecord[]) {
  return of(resources, SECRET_TYPES.azureRoleAssignment).flatMap((a) => {
    const id = a.inputs.roleDefinitionId;
    if (typeof id !== "string") return [];
    const role = AZURE_OPENAI_ROLES[id.split("/").at(-1)!.toLowerCase()];
    return role ? [{ a, role }] : [];
  });
}

const scoped: Rule = {
  name: "embedding-model-scoped",
  description:
    "A grant to call an embedding model names one model and nothing broader: bedrock:InvokeModel on exactly " +
    "one foundation model's ARN; a Vertex AI custom role holding only aiplatform.endpoints.predict and no " +
    "predefined Vertex AI role; an Azure OpenAI role on one Cognitive Services account.",
  check: (resources) =>
    collect(scoped.name, resources, (report) => {
      for (const p of of(resources, SECRET_TYPES.awsRolePolicy)) {
        const list = invokeStatements(p);
        if (list === UNKNOWN) continue;
        for (const s of list) {
          const wild = s.actions.filter((a) => typeof a === "string" && a.includes("*"));
          if (wild.length > 0) {
            report(p, `${label(p)} ${s.where} allows ${wild.join(", ")}; allow bedrock:InvokeModel only`);
          }
          if (s.resources.includes(UNKNOWN)) continue;
          const bad = s.resources.filter((r) => typeof r !== "string" || !FOUNDATION_MODEL.test(r));
          if (bad.length > 0) {
            report(
              p,
              `${label(p)} ${s.where} lets its function invoke ${bad.map((b) => JSON.stringify(b)).join(", ")}; name the one foundation model's ARN (arn:aws:bedrock:<region>::foundation-model/<model id>)`,
            );
          } else if (s.resources.length > 1) {
            report(
              p,
              `${label(p)} ${s.where} lets its function invoke ${s.resources.length} models; an embedding function calls one`,
            );
          }
        }
      }
      for (const r of of(resources, EMBEDDING_TYPES.gcpCustomRole)) {
        const permissions = r.inputs.permissions;
        if (permissions === UNKNOWN || !Array.isArray(permissions)) continue;
        if (!permissions.some((x) => typeof x === "string" && x.startsWith("aiplatform."))) continue;
        const more = permissions.filter((x) => x !== "aiplatform.endpoints.predict");
        if (more.length > 0) {
          report(
            r,
            `custom role "${r.name}" holds ${more.join(", ")} beside aiplatform.endpoints.predict; an embedding function needs that one permission`,
          );
        }
      }
      for (const m of of(resources, SECRET_TYPES.gcpProjectMember)) {
        const role = m.inputs.role;
        if (typeof role === "string" && VERTEX_ROLES.test(role)) {
          report(
            m,
            `${label(m)} grants ${role}, which does far more than call a model; grant the stack's custom role holding aiplatform.endpoints.predict only`,
          );
        }
      }
      for (const { a, role } of openAIAssignments(resources)) {
        const scope = a.inputs.scope;
        if (scope === UNKNOWN || typeof scope !== "string") continue;
        if (!/\/providers\/Microsoft\.CognitiveServices\/accounts\/[^/]+$/i.test(scope)) {
          report(a, `${label(a)} assigns ${role} on ${scope}; scope it to the stack's Azure OpenAI account`);
        }
      }
    }),
};

const onlyEmbedding: Rule = {
  name: "embedding-model-only-embedding-functions",
  description:
    "Only an embedding asset's function (its environment holds TRIBUTARY_VECTORS) is granted an embedding " +
    "model, and on AWS only the model its configuration names.",
  check: (resources) =>
    collect(onlyEmbedding.name, resources, (report) => {
      for (const p of of(resources, SECRET_TYPES.awsRolePolicy)) {
        const list = invokeStatements(p);
        if (list === UNKNOWN || list.length === 0) continue;
        const fns = embeddingSiblings(resources, p);
        if (fns === UNKNOWN) continue;
        if (fns.length === 0) {
          report(
            p,
            `${label(p)} lets a function that embeds nothing invoke a model; grant models to embedding assets' functions only`,
          );
          continue;
        }
        const named = new Set(fns.flatMap((f) => modelsOf(f.vectors)));
        for (const s of list) {
          for (const r of s.resources) {
            const model = typeof r === "string" ? FOUNDATION_MODEL.exec(r)?.[1] : undefined;
            if (model && !named.has(model)) {
              report(
                p,
                `${label(p)} ${s.where} lets its function invoke ${model}, a model its configuration does not name (it names ${[...named].join(", ") || "none"})`,
              );
            }
          }
        }
      }
      const predictRoles = new Set(
        of(resources, EMBEDDING_TYPES.gcpCustomRole)
          .filter((r) => asList(r.inputs.permissions).includes("aiplatform.endpoints.predict"))
          .map((r) => `projects/${String(r.inputs.project)}/roles/${String(r.inputs.roleId)}`),
      );
      for (const m of of(resources, SECRET_TYPES.gcpProjectMember)) {
        const role = m.inputs.role;
        if (typeof role !== "string" || !(predictRoles.has(role) || VERTEX_ROLES.test(role))) continue;
        const fns = embeddingSiblings(resources, m);
        if (fns === UNKNOWN) continue;
        if (fns.length === 0) {
          report(
            m,
            `${label(m)} gives ${String(m.inputs.member)} Vertex AI predictions, but it is no embedding asset's function; grant the role to embedding functions only`,
          );
        }
      }
      for (const { a, role } of openAIAssignments(resources)) {
        const fns = embeddingSiblings(resources, a);
        if (fns === UNKNOWN) continue;
        if (fns.length === 0) {
          report(
            a,
            `${label(a)} assigns ${role} to an identity whose function embeds nothing; assign it to embedding assets' functions only`,
          );
        }
      }
    }),
};

/** The assets whose vector prefix a grant names (`vectors/<asset>/`), from its inputs. */
function vectorPrefixes(grant: ResourceRecord): string[] {
  const text = JSON.stringify(grant.inputs);
  return [
    ...new Set([...text.matchAll(/(?:^|[^A-Za-z0-9_])vectors\/([a-z][a-z0-9_]*)\//g)].map((m) => m[1]!)),
  ];
}

const GRANT_TYPES: readonly string[] = [
  SECRET_TYPES.awsRolePolicy,
  "gcp:storage/bucketIAMMember:BucketIAMMember",
  SECRET_TYPES.azureRoleAssignment,
];

const vectorPrefix: Rule = {
  name: "vector-prefix-only-its-asset",
  description:
    "A grant on an embedding asset's vector tables (vectors/<asset>/ in the curated store) is for that " +
    "asset's own function only.",
  check: (resources) =>
    collect(vectorPrefix.name, resources, (report) => {
      for (const g of resources.filter((r) => GRANT_TYPES.includes(r.type))) {
        const assets = vectorPrefixes(g);
        if (assets.length === 0) continue;
        const fns = siblings(resources, g).filter((f) => FUNCTION_TYPES.includes(f.type));
        const envs = fns.map((f) => environment(f));
        if (envs.includes(UNKNOWN)) continue;
        const own = envs.flatMap((env) =>
          env === UNKNOWN
            ? []
            : env.some(([n]) => n === VECTORS)
              ? env.filter(([n]) => n === ASSET).map(([, v]) => v)
              : [],
        );
        for (const asset of assets) {
          if (!own.includes(asset)) {
            report(
              g,
              `${label(g)} grants vectors/${asset}/ to a function that is not ${asset}'s embedding function; only the embedding asset's own function reads and writes its vector tables`,
            );
          }
        }
      }
    }),
};

const localAuthOff: Rule = {
  name: "azure-openai-local-auth-off",
  description:
    "An Azure OpenAI account has local (key) authentication disabled (Entra ID only) and public network " +
    "access disabled (the stack's functions reach it through a private endpoint).",
  check: (resources) =>
    collect(localAuthOff.name, resources, (report) => {
      for (const a of of(resources, EMBEDDING_TYPES.azureAccount)) {
        const local = at(a.inputs, "properties", "disableLocalAuth");
        if (local !== UNKNOWN && local !== true) {
          report(
            a,
            `Azure OpenAI account "${a.name}" accepts API keys; set properties.disableLocalAuth to true (functions use Entra ID)`,
          );
        }
        const network = at(a.inputs, "properties", "publicNetworkAccess");
        if (network !== UNKNOWN && network !== "Disabled") {
          report(
            a,
            `Azure OpenAI account "${a.name}" is reachable from the internet; set properties.publicNetworkAccess to Disabled (functions reach it through the stack's private endpoint)`,
          );
        }
      }
    }),
};

export const embeddingRules: readonly Rule[] = [scoped, onlyEmbedding, vectorPrefix, localAuthOff];
