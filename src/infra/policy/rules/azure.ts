/**
 * The security rules' checks of Azure resources, by rule name; `rules.ts` runs them with the AWS
 * checks of the same rule. As there: a value the engine does not know yet (a preview's computed output)
 * is skipped, an absent one is absent.
 *
 * Only types are imported from rules.ts: it imports this module, and evaluates `azureChecks` as it loads.
 */
import { TABLE_MAINTENANCE } from "../../../contract/function-env.ts";
import { TAGS } from "../../plan/build.ts";
import { DISPOSABLE_METADATA, DISPOSABLE_TAG } from "../../plan/types.ts";
import type { ResourceRecord } from "../../synth/record.ts";
import { at, UNKNOWN } from "../read.ts";
import { KEY_LOSS, KEY_REMEDY, marker, STORE_LOSS, STORE_REMEDY, survivalProblems } from "../survive.ts";
import type { CloudChecks, Violation } from "./common.ts";

/** The type tokens the checks read, as `@pulumi/azure-native` 3.x registers them. */
export const AZURE_TYPES = {
  resourceGroup: "azure-native:resources:ResourceGroup",
  storageAccount: "azure-native:storage:StorageAccount",
  blobContainer: "azure-native:storage:BlobContainer",
  vault: "azure-native:keyvault:Vault",
  key: "azure-native:keyvault:Key",
  identity: "azure-native:managedidentity:UserAssignedIdentity",
  namespace: "azure-native:servicebus:Namespace",
  subscription: "azure-native:servicebus:Subscription",
  plan: "azure-native:web:AppServicePlan",
  webApp: "azure-native:web:WebApp",
  component: "azure-native:applicationinsights:Component",
  workspace: "azure-native:operationalinsights:Workspace",
  roleAssignment: "azure-native:authorization:RoleAssignment",
  actionGroup: "azure-native:monitor:ActionGroup",
  metricAlert: "azure-native:monitor:MetricAlert",
  scheduledQueryRule: "azure-native:monitor:ScheduledQueryRule",
  networkRuleSet: "azure-native:servicebus:NamespaceNetworkRuleSet",
  virtualNetwork: "azure-native:network:VirtualNetwork",
  publicIp: "azure-native:network:PublicIPAddress",
  natGateway: "azure-native:network:NatGateway",
  privateEndpoint: "azure-native:network:PrivateEndpoint",
  privateZone: "azure-native:privatedns:PrivateZone",
  zoneLink: "azure-native:privatedns:VirtualNetworkLink",
} as const;

const KINDS: Record<string, string> = {
  [AZURE_TYPES.resourceGroup]: "resource group",
  [AZURE_TYPES.storageAccount]: "storage account",
  [AZURE_TYPES.blobContainer]: "blob container",
  [AZURE_TYPES.vault]: "key vault",
  [AZURE_TYPES.key]: "key",
  [AZURE_TYPES.identity]: "managed identity",
  [AZURE_TYPES.namespace]: "Service Bus namespace",
  [AZURE_TYPES.subscription]: "Service Bus subscription",
  [AZURE_TYPES.plan]: "App Service plan",
  [AZURE_TYPES.webApp]: "function app",
  [AZURE_TYPES.component]: "Application Insights component",
  [AZURE_TYPES.workspace]: "Log Analytics workspace",
  [AZURE_TYPES.roleAssignment]: "role assignment",
  [AZURE_TYPES.actionGroup]: "action group",
  [AZURE_TYPES.metricAlert]: "metric alert",
  [AZURE_TYPES.scheduledQueryRule]: "log alert",
  [AZURE_TYPES.networkRuleSet]: "Service Bus network rule set",
  [AZURE_TYPES.virtualNetwork]: "virtual network",
  [AZURE_TYPES.publicIp]: "public IP address",
  [AZURE_TYPES.natGateway]: "NAT gateway",
  [AZURE_TYPES.privateEndpoint]: "private endpoint",
  [AZURE_TYPES.privateZone]: "private DNS zone",
  [AZURE_TYPES.zoneLink]: "private DNS zone link",
};

/** The Azure types that take `tags`, all of which must carry the required tags. */
export const AZURE_TAGGABLE_TYPES: readonly string[] = [
  AZURE_TYPES.resourceGroup,
  AZURE_TYPES.storageAccount,
  AZURE_TYPES.vault,
  AZURE_TYPES.key,
  "azure-native:keyvault:Secret",
  AZURE_TYPES.identity,
  AZURE_TYPES.namespace,
  // The CDC streams' namespace (an event hub itself takes no tags).
  "azure-native:eventhub:Namespace",
  AZURE_TYPES.plan,
  AZURE_TYPES.webApp,
  AZURE_TYPES.component,
  AZURE_TYPES.workspace,
  AZURE_TYPES.actionGroup,
  AZURE_TYPES.metricAlert,
  AZURE_TYPES.scheduledQueryRule,
  AZURE_TYPES.virtualNetwork,
  AZURE_TYPES.publicIp,
  AZURE_TYPES.natGateway,
  AZURE_TYPES.privateEndpoint,
  AZURE_TYPES.privateZone,
  AZURE_TYPES.zoneLink,
  // The Azure OpenAI account of a stack whose assets embed, and its deployments.
  "azure-native:cognitiveservices:Account",
  "azure-native:cognitiveservices:Deployment",
];

/** The built-in storage data roles (role definition GUIDs). */
const BLOB_DATA_ROLES: Record<string, string> = {
  "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
  "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
};
/** The `tributary:store` tag of the Functions runtime's account, which holds no data of the plan. */
const FUNCTIONS_HOST = "functions-host";
const BLOB_PATH = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]";
/** The storage data roles whose data actions include deleting blobs. */
const DELETING_BLOB_ROLES = new Set([
  "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
]);
/** The ABAC clause that denies deleting blobs whatever their path (infra/azure/grants.ts writes it). */
const DELETE_DENIED =
  "(!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'}))";

const label = (r: ResourceRecord): string => `${KINDS[r.type] ?? r.type} "${r.name}"`;

function present(v: unknown): boolean {
  return typeof v === "string" && v.trim() !== "";
}

/** Runs `body` and returns its violations under `policy`, in registration order of the resource at fault. */
function collect(
  policy: string,
  resources: readonly ResourceRecord[],
  body: (report: (r: ResourceRecord, message: string) => void) => void,
): Violation[] {
  const found: { index: number; seq: number; violation: Violation }[] = [];
  const index = new Map(resources.map((r, i) => [r, i]));
  body((r, message) =>
    found.push({ index: index.get(r) ?? -1, seq: found.length, violation: { policy, urn: r.urn, message } }),
  );
  return found.sort((a, b) => a.index - b.index || a.seq - b.seq).map((f) => f.violation);
}

const of = (resources: readonly ResourceRecord[], type: string) => resources.filter((r) => r.type === type);

/** Reports `message` unless `value` is exactly `expected` (or unknown). */
function expect(
  report: (r: ResourceRecord, message: string) => void,
  r: ResourceRecord,
  value: unknown,
  expected: unknown,
  message: string,
): void {
  if (value !== UNKNOWN && value !== expected) report(r, `${label(r)} ${message}`);
}

const storeEncrypted = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("store-encrypted-with-customer-key", resources, (report) => {
    for (const a of of(resources, AZURE_TYPES.storageAccount)) {
      const encryption = a.inputs["encryption"];
      if (encryption === UNKNOWN) continue;
      const source = at(encryption, "keySource");
      if (source !== UNKNOWN && source !== "Microsoft.Keyvault") {
        report(
          a,
          `${label(a)} is encrypted with ${JSON.stringify(source ?? "Microsoft.Storage")} (Microsoft-managed keys), ` +
            `not a customer-managed key; set encryption.keySource "Microsoft.Keyvault" with the stack's key`,
        );
      } else if (source === "Microsoft.Keyvault") {
        const vault = at(encryption, "keyVaultProperties");
        const missing = ["keyVaultUri", "keyName"].filter((k) => {
          const v = at(vault, k);
          return v !== UNKNOWN && !present(v);
        });
        if (missing.length > 0)
          report(
            a,
            `${label(a)} uses a customer-managed key without ${missing.join(" and ")}; name the stack's key`,
          );
        const identity = at(encryption, "encryptionIdentity", "encryptionUserAssignedIdentity");
        if (identity !== UNKNOWN && !present(identity))
          report(a, `${label(a)} names no identity to use its key with; set encryption.encryptionIdentity`);
      }
      expect(
        report,
        a,
        at(encryption, "requireInfrastructureEncryption"),
        true,
        "is not double-encrypted; set encryption.requireInfrastructureEncryption true (it can only be set at creation)",
      );
    }
  });

const noPublicAccess = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("no-public-access", resources, (report) => {
    for (const a of of(resources, AZURE_TYPES.storageAccount)) {
      expect(
        report,
        a,
        a.inputs["allowBlobPublicAccess"],
        false,
        "allows anonymous blob access; set allowBlobPublicAccess false",
      );
      expect(
        report,
        a,
        a.inputs["allowSharedKeyAccess"],
        false,
        "accepts shared keys, which bypass RBAC; set allowSharedKeyAccess false",
      );
    }
    for (const c of of(resources, AZURE_TYPES.blobContainer)) {
      const access = c.inputs["publicAccess"];
      if (access !== UNKNOWN && access !== undefined && access !== "None")
        report(c, `${label(c)} is public (${JSON.stringify(access)}); set publicAccess "None"`);
    }
    for (const n of of(resources, AZURE_TYPES.namespace)) {
      expect(
        report,
        n,
        n.inputs["disableLocalAuth"],
        true,
        "accepts SAS keys, which bypass RBAC; set disableLocalAuth true",
      );
    }
  });

const TLS_12 = new Set(["TLS1_2", "TLS1_3"]);
const TLS_12_SHORT = new Set(["1.2", "1.3"]);

const tlsOnly = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("tls-only", resources, (report) => {
    for (const a of of(resources, AZURE_TYPES.storageAccount)) {
      expect(
        report,
        a,
        a.inputs["enableHttpsTrafficOnly"],
        true,
        "accepts plain HTTP; set enableHttpsTrafficOnly true",
      );
      const tls = a.inputs["minimumTlsVersion"];
      if (tls !== UNKNOWN && !TLS_12.has(tls as string))
        report(
          a,
          `${label(a)} accepts TLS below 1.2 (${JSON.stringify(tls ?? null)}); set minimumTlsVersion "TLS1_2"`,
        );
    }
    for (const n of of(resources, AZURE_TYPES.namespace)) {
      const tls = n.inputs["minimumTlsVersion"];
      if (tls !== UNKNOWN && !TLS_12_SHORT.has(tls as string))
        report(
          n,
          `${label(n)} accepts TLS below 1.2 (${JSON.stringify(tls ?? null)}); set minimumTlsVersion "1.2"`,
        );
    }
    for (const w of of(resources, AZURE_TYPES.webApp)) {
      expect(report, w, w.inputs["httpsOnly"], true, "accepts plain HTTP; set httpsOnly true");
      const tls = at(w.inputs["siteConfig"], "minTlsVersion");
      if (tls !== UNKNOWN && !TLS_12_SHORT.has(tls as string))
        report(
          w,
          `${label(w)} accepts TLS below 1.2 (${JSON.stringify(tls ?? null)}); set siteConfig.minTlsVersion "1.2"`,
        );
    }
  });

/** `storageAccounts/<account>/blobServices/default/containers/<container>` at the end of a scope. */
export const CONTAINER_SCOPE =
  /\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)\/blobServices\/default\/containers\/([^/]+)$/i;
/** Scopes wider than one resource: a subscription, a resource group, a storage account or a namespace. */
const WIDE_SCOPE = /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?$/i;

/** The storage accounts of the Functions runtime (tag `tributary:store` = functions-host), by name. */
function hostAccountNames(resources: readonly ResourceRecord[]): Set<unknown> {
  const names = new Set<unknown>();
  for (const a of of(resources, AZURE_TYPES.storageAccount)) {
    if (at(a.inputs["tags"], "tributary:store") === FUNCTIONS_HOST) names.add(a.inputs["accountName"]);
  }
  return names;
}

/**
 * On Azure a wildcard grant is a role assigned wider than the plan's rights: storage data roles must be
 * assigned on one container, and on a data account's container only under an ABAC condition (version
 * 2.0) that limits blob paths to prefixes (`StringStartsWith '<zone>/<key>/'`; the outbox sweeper may read,
 * list and delete the whole `_outbox/` and read the whole `_manifests/`, the table maintenance and the
 * query identity what HOLDER_ZONES say, no more); the Functions runtime's
 * host account holds no data of the plan, and its containers need no path condition. No role is assigned
 * on a whole subscription or resource group.
 */
const noWildcardGrants = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("no-wildcard-grants", resources, (report) => {
    const hostAccounts = hostAccountNames(resources);
    for (const r of of(resources, AZURE_TYPES.roleAssignment)) {
      const scope = r.inputs["scope"];
      const role = r.inputs["roleDefinitionId"];
      if (scope === UNKNOWN || role === UNKNOWN) continue;
      if (typeof scope === "string" && WIDE_SCOPE.test(scope)) {
        report(
          r,
          `${label(r)} is assigned on ${scope}, a whole subscription or resource group; assign it on one resource`,
        );
        continue;
      }
      const guid = typeof role === "string" ? role.split("/").pop()?.toLowerCase() : undefined;
      const roleName = guid ? BLOB_DATA_ROLES[guid] : undefined;
      if (!roleName) continue;
      const container = typeof scope === "string" ? CONTAINER_SCOPE.exec(scope) : null;
      if (!container) {
        report(
          r,
          `${label(r)} grants ${roleName} on ${JSON.stringify(scope)}, not on one container; scope it to a container`,
        );
        continue;
      }
      if (hostAccounts.has(container[1])) continue;
      // An Owner role is no-owner-roles' to report; here it is judged like any data role.
      const condition = r.inputs["condition"];
      if (condition === UNKNOWN) continue;
      const version = r.inputs["conditionVersion"];
      const prefixes =
        typeof condition === "string"
          ? [...condition.matchAll(/StringStartsWith\s+'([^']*)'/g)].map((m) => m[1] ?? "")
          : [];
      if (typeof condition !== "string" || !condition.includes(BLOB_PATH) || prefixes.length === 0) {
        report(
          r,
          `${label(r)} grants ${roleName} on the whole container "${container[2]}"; add an ABAC condition ` +
            `(conditionVersion "2.0") that limits ${BLOB_PATH} to the granted prefixes`,
        );
        continue;
      }
      if (version !== UNKNOWN && version !== "2.0")
        report(
          r,
          `${label(r)} has an ABAC condition of version ${JSON.stringify(version ?? null)}; set conditionVersion "2.0"`,
        );
      const broad = broadPrefixes(condition, HOLDER_ZONES[holderOf(r, resources) ?? ""] ?? {});
      if (broad.length > 0)
        report(
          r,
          `${label(r)} allows the prefixes ${broad.map((p) => JSON.stringify(p)).join(", ")}; grant only "<zone>/<key>/" prefixes`,
        );
    }
  });

/**
 * Whole bookkeeping zones the stack's outbox sweeper may have (infra/plan/build.ts `sweeperPlan`): the
 * outbox entries, which hold announcements only (keys and versions, no data), to read, list and delete;
 * the manifests, to read. Every other prefix is one key's, `<zone>/<key>/`.
 */
const WHOLE_ZONES: Readonly<Record<string, readonly string[]>> = {
  "_outbox/": ["read", "list", "delete"],
  "_manifests/": ["read"],
};

/**
 * Whole zones some holders may have besides: the stack's table maintenance commits every curated table (its
 * data and metadata files, the partitions' locks, Tributary's records of them: infra/plan/build.ts
 * `maintenancePlan`); the read-only query identity reads the tables (infra/azure/query.ts).
 */
const HOLDER_ZONES: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  [TABLE_MAINTENANCE]: {
    "curated/": ["read", "list", "write", "delete"],
    "_locks/": ["read", "list", "write", "delete"],
    "_manifests/": ["read", "list", "write"],
  },
  query: { "curated/": ["read", "list"] },
};

/**
 * Who a role assignment is for, by what its component holds beside it: the function (the `tributary:asset`
 * tag of its function app), or "query" (an identity tagged `tributary:role: query`).
 */
export function holderOf(r: ResourceRecord, resources: readonly ResourceRecord[]): string | undefined {
  if (r.parent === undefined) return undefined;
  for (const sibling of resources) {
    if (sibling.parent !== r.parent) continue;
    if (sibling.type === AZURE_TYPES.identity && at(sibling.inputs["tags"], "tributary:role") === "query")
      return "query";
    if (sibling.type === AZURE_TYPES.webApp) {
      const asset = at(sibling.inputs["tags"], TAGS.asset);
      return typeof asset === "string" ? asset : undefined;
    }
  }
  return undefined;
}

/** The data action an ABAC clause's action expression is about. */
function clauseAction(action: string): string {
  if (action.includes("SubOperationMatches{'Blob.List'}")) return action.includes("NOT") ? "read" : "list";
  if (action.includes("/write'") || action.includes("/add/action'")) return "write";
  if (action.includes("/delete'")) return "delete";
  if (action.includes("/read'")) return "read";
  return "other";
}

/**
 * The prefixes of a path condition wider than one key's, except the whole zones allowed for the action, to
 * everyone (WHOLE_ZONES) or to this holder (`extra`).
 */
function broadPrefixes(condition: string, extra: Readonly<Record<string, readonly string[]>>): string[] {
  const out: string[] = [];
  for (const clause of condition.matchAll(/\(!\(([^()]*)\)((?: OR [^()']*'[^']*')*)\)/g)) {
    const action = clauseAction(clause[1] ?? "");
    for (const m of (clause[2] ?? "").matchAll(/StringStartsWith\s+'([^']*)'/g)) {
      const p = m[1] ?? "";
      if (/^[^/*?]+\/[^/*?]+\/$/.test(p) || WHOLE_ZONES[p]?.includes(action) || extra[p]?.includes(action))
        continue;
      out.push(p);
    }
  }
  return [...new Set(out)];
}

const deadLetterQueue = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("dead-letter-queue", resources, (report) => {
    for (const s of of(resources, AZURE_TYPES.subscription)) {
      expect(
        report,
        s,
        s.inputs["deadLetteringOnMessageExpiration"],
        true,
        "drops expired messages; set deadLetteringOnMessageExpiration true",
      );
      const count = s.inputs["maxDeliveryCount"];
      if (count !== UNKNOWN && !(typeof count === "number" && count >= 1 && count <= 10))
        report(
          s,
          `${label(s)} has maxDeliveryCount ${JSON.stringify(count ?? null)}; set the plan's maxReceiveCount (1 to 10) ` +
            `so failing messages are dead-lettered`,
        );
    }
  });

const logRetention = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("log-retention", resources, (report) => {
    for (const w of of(resources, AZURE_TYPES.workspace)) {
      const days = w.inputs["retentionInDays"];
      if (days !== UNKNOWN && !(typeof days === "number" && days >= 30))
        report(
          w,
          `${label(w)} has no retention of at least 30 days (${JSON.stringify(days ?? null)}); set retentionInDays`,
        );
    }
    for (const c of of(resources, AZURE_TYPES.component)) {
      const workspace = c.inputs["workspaceResourceId"];
      if (workspace !== UNKNOWN && !present(workspace))
        report(c, `${label(c)} is not workspace-based, so no retention applies; set workspaceResourceId`);
    }
  });

const REQUIRED = Object.values(TAGS);

const requiredTags = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("required-tags", resources, (report) => {
    for (const r of resources) {
      if (!AZURE_TAGGABLE_TYPES.includes(r.type)) continue;
      const tags = r.inputs["tags"];
      if (tags === UNKNOWN) continue;
      const missing = REQUIRED.filter((k) => {
        const v = at(tags, k);
        return v !== UNKNOWN && !present(v);
      });
      if (missing.length === 0) continue;
      const what = missing.length === 1 ? "the required tag" : "the required tags";
      report(
        r,
        `${label(r)} is missing ${what} ${missing.map((m) => JSON.stringify(m)).join(", ")}; tag it with ` +
          `${REQUIRED.join(", ")} (none empty)`,
      );
    }
  });

/**
 * The storage accounts, their blob containers, the key vault and its key: protected and retained on
 * delete, and not deleted before their replacement, unless marked disposable (an account, vault or key by
 * its tag `tributary:disposable`, a container, which takes no tags, by its metadata `tributary_disposable`).
 */
const storesSurvive = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("stores-survive-changes", resources, (report) => {
    for (const r of resources) {
      const container = r.type === AZURE_TYPES.blobContainer;
      const key = r.type === AZURE_TYPES.vault || r.type === AZURE_TYPES.key;
      if (!container && !key && r.type !== AZURE_TYPES.storageAccount) continue;
      const mark = container ? marker(r, "metadata", DISPOSABLE_METADATA) : marker(r, "tags", DISPOSABLE_TAG);
      const loss = key ? KEY_LOSS : STORE_LOSS;
      for (const problem of survivalProblems(r, mark, label(r), loss, key ? KEY_REMEDY : STORE_REMEDY))
        report(r, problem);
    }
  });

/** Roles that are full control (and, for Owner and User Access Administrator, the power to grant roles). */
const OWNER_ROLES: Record<string, string> = {
  "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
  "090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner",
  "f526a384-b230-433a-b45c-95f59c4a2dec": "Azure Event Hubs Data Owner",
  "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
};

const roleGuid = (role: unknown): string | undefined =>
  typeof role === "string" ? role.split("/").pop()?.toLowerCase() : undefined;

/** No role assignment of the stack hands out an Owner role: each identity gets the least role that works. */
const noOwnerRoles = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("no-owner-roles", resources, (report) => {
    for (const r of of(resources, AZURE_TYPES.roleAssignment)) {
      const role = r.inputs["roleDefinitionId"];
      if (role === UNKNOWN) continue;
      const name = OWNER_ROLES[roleGuid(role) ?? ""];
      if (name) {
        report(
          r,
          `${label(r)} assigns ${name}, full control of its scope; assign the least role that works (for blobs, ` +
            "Storage Blob Data Reader or Contributor under an ABAC path condition)",
        );
      }
    }
  });

/**
 * A storage data role either carries an ABAC condition on blob paths or is on a container no other
 * principal holds a storage data role on: no identity reads or rewrites another's blobs (the Functions
 * runtime's shared containers, above all, where each app's host keys live).
 */
const storageRolesIsolated = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("storage-roles-isolated", resources, (report) => {
    // The data accounts' containers are no-wildcard-grants' to judge: every role there needs a condition.
    const hosts = hostAccountNames(resources);
    const data = of(resources, AZURE_TYPES.roleAssignment).filter((r) => {
      const guid = roleGuid(r.inputs["roleDefinitionId"]);
      const scope = r.inputs["scope"];
      if (guid === undefined || BLOB_DATA_ROLES[guid] === undefined || typeof scope !== "string")
        return false;
      const container = CONTAINER_SCOPE.exec(scope);
      return container !== null && hosts.has(container[1]);
    });
    for (const r of data) {
      const condition = r.inputs["condition"];
      if (condition === UNKNOWN || (typeof condition === "string" && condition.includes(BLOB_PATH))) continue;
      const principal = r.inputs["principalId"];
      const others = data.filter((o) => o.inputs["scope"] === r.inputs["scope"] && o !== r);
      if (principal === UNKNOWN || others.some((o) => o.inputs["principalId"] === UNKNOWN)) continue;
      const strangers = new Set(others.map((o) => o.inputs["principalId"]).filter((p) => p !== principal));
      if (strangers.size === 0) continue;
      const container = CONTAINER_SCOPE.exec(r.inputs["scope"] as string)?.[2] ?? String(r.inputs["scope"]);
      report(
        r,
        `${label(r)} grants ${BLOB_DATA_ROLES[roleGuid(r.inputs["roleDefinitionId"])!]} on "${container}" with no ` +
          `path condition, where ${strangers.size} other ${strangers.size === 1 ? "identity holds" : "identities hold"} ` +
          "storage roles: it can read and rewrite their blobs; condition it to its own paths " +
          `(${BLOB_PATH}) or give it a container of its own`,
      );
    }
  });

/** An IP rule that lets every address in. */
const OPEN_RANGES = new Set(["0.0.0.0/0", "0.0.0.0", "::/0"]);
const openRules = (rules: unknown, key: string): string[] =>
  (Array.isArray(rules) ? rules : [])
    .map((x) => at(x, key))
    .filter((v): v is string => typeof v === "string" && OPEN_RANGES.has(v));
const disabled = (v: unknown) => typeof v === "string" && v.toLowerCase() === "disabled";

/**
 * The Key Vault and the Service Bus namespace take no traffic from the internet: public network access
 * is disabled, or network rules deny by default (with no rule that lets every address in); and a closed
 * one has a private endpoint, without which the stack's functions could not reach it.
 */
const privateNetwork = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("private-network", resources, (report) => {
    const endpoints = of(resources, AZURE_TYPES.privateEndpoint);
    const linked = (path: string) =>
      endpoints.some((e) => {
        const connections = e.inputs["privateLinkServiceConnections"];
        if (connections === UNKNOWN) return true;
        return (Array.isArray(connections) ? connections : []).some((c) => {
          const target = at(c, "privateLinkServiceId");
          return target === UNKNOWN || (typeof target === "string" && target.toLowerCase().endsWith(path));
        });
      });
    const reachable = (r: ResourceRecord, path: string, what: string) => {
      if (!linked(path.toLowerCase())) {
        report(
          r,
          `${label(r)} is closed to every network but has no private endpoint: the stack's functions cannot reach ` +
            `${what}; add one in the stack network's endpoints subnet, with its private DNS zone`,
        );
      }
    };
    for (const v of of(resources, AZURE_TYPES.vault)) {
      const props = v.inputs["properties"];
      const access = at(props, "publicNetworkAccess");
      const acls = at(props, "networkAcls");
      const action = at(acls, "defaultAction");
      if ([props, access, acls, action].includes(UNKNOWN)) continue;
      const name = v.inputs["vaultName"];
      if (!disabled(access)) {
        const open = openRules(at(acls, "ipRules"), "value");
        if (action !== "Deny") {
          report(
            v,
            `${label(v)} accepts traffic from every network (networkAcls.defaultAction ${JSON.stringify(action ?? "Allow")}); ` +
              'set networkAcls.defaultAction "Deny" (bypass "AzureServices" keeps the storage accounts\' key working) ' +
              'and reach it by a private endpoint, or set publicNetworkAccess "Disabled"',
          );
          continue;
        }
        if (open.length > 0) {
          report(
            v,
            `${label(v)} lets every address in by its IP rule ${open.map((o) => JSON.stringify(o)).join(", ")}; remove it`,
          );
          continue;
        }
      }
      if (typeof name === "string") reachable(v, `/vaults/${name}`, "its secrets");
    }
    const ruleSets = of(resources, AZURE_TYPES.networkRuleSet);
    for (const n of of(resources, AZURE_TYPES.namespace)) {
      const access = n.inputs["publicNetworkAccess"];
      const name = n.inputs["namespaceName"];
      if (access === UNKNOWN || name === UNKNOWN) continue;
      if (!disabled(access)) {
        const rules = ruleSets.filter((s) => s.inputs["namespaceName"] === name);
        if (
          rules.some(
            (s) => s.inputs["defaultAction"] === UNKNOWN || s.inputs["publicNetworkAccess"] === UNKNOWN,
          )
        )
          continue;
        const closed = rules.some(
          (s) =>
            disabled(s.inputs["publicNetworkAccess"]) ||
            (s.inputs["defaultAction"] === "Deny" && openRules(s.inputs["ipRules"], "ipMask").length === 0),
        );
        if (!closed) {
          report(
            n,
            `${label(n)} accepts traffic from every network (publicNetworkAccess ${JSON.stringify(access ?? "Enabled")}, ` +
              'no network rule set that denies by default); set publicNetworkAccess "Disabled" and reach it by a ' +
              "private endpoint (Premium tier), or deny by default in its network rule set",
          );
          continue;
        }
      }
      if (typeof name === "string") reachable(n, `/namespaces/${name}`, "its topics");
    }
  });

/**
 * Raw history is append-only: a role that may delete blobs, assigned on the raw container, carries a
 * condition that denies delete on every path.
 */
const rawAppendOnly = (resources: readonly ResourceRecord[]): Violation[] =>
  collect("raw-append-only", resources, (report) => {
    for (const r of of(resources, AZURE_TYPES.roleAssignment)) {
      const scope = r.inputs["scope"];
      const role = r.inputs["roleDefinitionId"];
      const condition = r.inputs["condition"];
      if (scope === UNKNOWN || role === UNKNOWN || condition === UNKNOWN) continue;
      const guid = typeof role === "string" ? role.split("/").pop()?.toLowerCase() : undefined;
      if (!guid || !DELETING_BLOB_ROLES.has(guid)) continue;
      const container = typeof scope === "string" ? CONTAINER_SCOPE.exec(scope) : null;
      if (container?.[2] !== "raw") continue;
      if (typeof condition === "string" && condition.includes(DELETE_DENIED)) continue;
      report(
        r,
        `${label(r)} grants ${BLOB_DATA_ROLES[guid]} on the raw container without denying delete; ingest only ` +
          `appends: its ABAC condition must include ${DELETE_DENIED} (the lifecycle policy expires old events)`,
      );
    }
  });

export const azureChecks: CloudChecks = {
  "store-encrypted-with-customer-key": storeEncrypted,
  "no-public-access": noPublicAccess,
  "tls-only": tlsOnly,
  "no-wildcard-grants": noWildcardGrants,
  "dead-letter-queue": deadLetterQueue,
  "log-retention": logRetention,
  "required-tags": requiredTags,
  "stores-survive-changes": storesSurvive,
  "raw-append-only": rawAppendOnly,
  "no-owner-roles": noOwnerRoles,
  "storage-roles-isolated": storageRolesIsolated,
  "private-network": privateNetwork,
};
