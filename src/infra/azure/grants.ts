/**
 * Role assignments of a function, built from the plan's grants. Pure: names in, role ids and ABAC
 * conditions out, so the exact conditions are unit-tested without Pulumi.
 *
 * Azure RBAC cannot scope a role below a container; an ABAC condition (conditionVersion 2.0) does: every
 * data action of the assigned role is allowed only on blob paths that start with a granted prefix, and
 * the actions the plan does not grant are not allowed at all. Listing is matched on the request's
 * `prefix` (List Blobs has no blob path), reading, writing and deleting on the blob's path.
 */
import type { Access, GrantPlan, StoreId } from "../plan/types.ts";

/** Azure's built-in role definitions (the same GUIDs in every tenant). */
export const ROLES = {
  storageBlobDataReader: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  storageBlobDataContributor: "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  storageBlobDataOwner: "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  serviceBusDataSender: "69a216fc-b8fb-44d8-bc22-1f3c2c88ae39",
  serviceBusDataReceiver: "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
  eventHubsDataSender: "2b629674-e913-4c01-ae53-ef4638d8f975",
  eventHubsDataReceiver: "a638d3c7-ab3a-418d-83e6-5f17a39d4fde",
  keyVaultCryptoServiceEncryptionUser: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
  keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
  /** Cognitive Services OpenAI User: call a deployment's inference (embeddings), nothing of the account's management. */
  cognitiveServicesOpenAIUser: "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
  monitoringMetricsPublisher: "3913510d-42f4-4e42-8a64-420c390055eb",
} as const;
export type Role = keyof typeof ROLES;

/** `/subscriptions/<sub>/providers/Microsoft.Authorization/roleDefinitions/<guid>`. */
export function roleDefinitionId(subscriptionId: string, role: Role): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ROLES[role]}`;
}

const BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
export const BLOB_ACTIONS = {
  read: `${BLOBS}/read`,
  write: `${BLOBS}/write`,
  add: `${BLOBS}/add/action`,
  delete: `${BLOBS}/delete`,
  move: `${BLOBS}/move/action`,
} as const;
/** The attribute a blob path condition tests. */
export const BLOB_PATH = `@Resource[${BLOBS}:path]`;
/** The attribute a List Blobs condition tests. */
export const LIST_PREFIX = `@Request[${BLOBS}:prefix]`;

/** One role assignment on one container: which role, under which condition. */
export interface ContainerAccess {
  readonly store: StoreId;
  readonly role: "storageBlobDataReader" | "storageBlobDataContributor";
  readonly condition: string;
  /** The prefixes per access, for descriptions and tests. */
  readonly prefixes: Readonly<Record<Access, readonly string[]>>;
}

/**
 * One assignment per container the function touches: Storage Blob Data Reader when it only reads or
 * lists there, Storage Blob Data Contributor when it writes or deletes; both under a condition that
 * limits each of the role's data actions to the granted prefixes (and denies the ones not granted).
 */
export function containerAccess(grants: readonly GrantPlan[]): ContainerAccess[] {
  for (const g of grants) {
    if (!g.prefix.endsWith("/") || g.prefix === "/") {
      throw new Error(`grant prefix ${JSON.stringify(g.prefix)} must be a non-empty path ending in "/"`);
    }
  }
  const out: ContainerAccess[] = [];
  for (const store of ["raw", "curated", "quarantine"] as const) {
    const mine = grants.filter((g) => g.store === store);
    if (mine.length === 0) continue;
    const prefixes = Object.fromEntries(
      (["read", "list", "write", "delete"] as const).map((a) => [
        a,
        [...new Set(mine.filter((g) => g.access.includes(a)).map((g) => g.prefix))],
      ]),
    ) as Record<Access, string[]>;
    const writes = prefixes.write.length > 0 || prefixes.delete.length > 0;
    out.push({
      store,
      role: writes ? "storageBlobDataContributor" : "storageBlobDataReader",
      condition: blobCondition(prefixes, writes),
      prefixes,
    });
  }
  return out;
}

/**
 * The ABAC condition: one clause per data action of the role, each `(!(action) OR the path is one of the
 * allowed)`; a clause with none denies its action. An allowed path ending in "/" is a prefix (every blob
 * under it); one that does not is a single blob.
 */
export function blobCondition(
  prefixes: Readonly<Record<Access, readonly string[]>>,
  writes: boolean,
): string {
  for (const [access, paths] of Object.entries(prefixes)) {
    for (const p of paths) {
      if (p === "" || p.startsWith("/") || p.includes("'") || (access === "list" && !p.endsWith("/"))) {
        throw new Error(
          `${access} path ${JSON.stringify(p)} must be a non-empty relative path${access === "list" ? ' ending in "/"' : ""}, without quotes`,
        );
      }
    }
  }
  const term = (attribute: string, p: string) =>
    p.endsWith("/") ? `${attribute} StringStartsWith '${p}'` : `${attribute} StringEquals '${p}'`;
  const clause = (action: string, attribute: string, allowed: readonly string[]) =>
    allowed.length === 0
      ? `(!(${action}))`
      : `(!(${action}) OR ${allowed.map((p) => term(attribute, p)).join(" OR ")})`;
  const clauses = [
    clause(
      `ActionMatches{'${BLOB_ACTIONS.read}'} AND NOT SubOperationMatches{'Blob.List'}`,
      BLOB_PATH,
      prefixes.read,
    ),
    clause(
      `ActionMatches{'${BLOB_ACTIONS.read}'} AND SubOperationMatches{'Blob.List'}`,
      LIST_PREFIX,
      prefixes.list,
    ),
  ];
  if (writes) {
    clauses.push(
      clause(
        `ActionMatches{'${BLOB_ACTIONS.write}'} OR ActionMatches{'${BLOB_ACTIONS.add}'}`,
        BLOB_PATH,
        prefixes.write,
      ),
      clause(`ActionMatches{'${BLOB_ACTIONS.delete}'}`, BLOB_PATH, prefixes.delete),
      clause(`ActionMatches{'${BLOB_ACTIONS.move}'}`, BLOB_PATH, []),
    );
  }
  return clauses.join(" AND ");
}

/**
 * What a function app's Functions host may do in the shared host storage account, as Storage Blob Data
 * Contributor (never Owner) under a condition that keeps it to its own paths: in `azure-webjobs-hosts`
 * its singleton and timer locks (`locks/<host id>/`), its timers' schedule status (`timers/<host id>/`)
 * and its host id's usage record (`ids/usage/<host id>`); in `azure-webjobs-secrets` its host and
 * function keys (`<site name>/`, the app's name in lowercase). Read, write and list there; no delete
 * (the host deletes nothing of these), no rename. Every other app's paths are out of reach.
 */
export function hostAccess(hostId: string, site: string): { locks: string; secrets: string } {
  if (!/^[a-z0-9](?:-?[a-z0-9])*$/.test(hostId) || hostId.length > 32) {
    throw new Error(
      `host id ${JSON.stringify(hostId)} must be 1-32 lowercase letters, digits and single dashes`,
    );
  }
  if (!/^[a-z0-9](?:-?[a-z0-9])*$/.test(site)) {
    throw new Error(`site name ${JSON.stringify(site)} must be lowercase letters, digits and single dashes`);
  }
  const own = [`locks/${hostId}/`, `timers/${hostId}/`];
  return {
    locks: blobCondition(
      {
        read: [...own, `ids/usage/${hostId}`],
        list: own,
        write: [...own, `ids/usage/${hostId}`],
        delete: [],
      },
      true,
    ),
    secrets: blobCondition({ read: [`${site}/`], list: [`${site}/`], write: [`${site}/`], delete: [] }, true),
  };
}

/**
 * Where the Event Hubs trigger of a function keeps its partitions' checkpoints and ownership in the
 * Functions host storage (container `azure-webjobs-eventhub`): `<namespace>/<event hub>/<consumer
 * group>/checkpoint/<partition>` and `…/ownership/<partition>`, each part in lowercase (the Event Hubs
 * extension's blob checkpoint store), under one prefix per consumer group. Every stream's consumer group
 * is its function's own, so the prefix is the function's alone.
 */
export function checkpointPrefix(namespace: string, hub: string, consumerGroup: string): string {
  return `${namespace}/${hub}/${consumerGroup}/`.toLowerCase();
}

/**
 * What a function app's Event Hubs trigger may do in the host storage's checkpoint container, as Storage
 * Blob Data Contributor under a condition: read, write and list its own consumer group's checkpoints and
 * ownership ({@link checkpointPrefix}); no delete, no rename, nobody else's.
 */
export function checkpointAccess(prefix: string): string {
  return blobCondition({ read: [prefix], list: [prefix], write: [prefix], delete: [] }, true);
}

/** A Service Bus SQL filter's string literal. */
function literal(v: string): string {
  return `'${v.replaceAll("'", "''")}'`;
}

/**
 * The SQL filter of a consumer's subscription. Service Bus filters see message properties only, not the
 * body: publishers set the application properties `producer`, `type` and `asset` (asset events) or
 * `type` and `source` (source events) besides the body of {@link MESSAGES}.
 */
export function assetFilter(producer: string, type: string, upstream: readonly string[]): string {
  return `producer = ${literal(producer)} AND type = ${literal(type)} AND asset IN (${upstream.map(literal).join(", ")})`;
}

export function sourceFilter(type: string, source: string): string {
  return `type = ${literal(type)} AND source = ${literal(source)}`;
}
