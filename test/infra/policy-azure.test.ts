/**
 * The Azure checks of the security rules (infra/policy/rules/azure.ts), on the synthesised prod-azure stack and
 * on broken variants of it: each break fails exactly its rule, on the resource at fault, with a message
 * that says what to fix; values a preview does not know yet are skipped.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { blobCondition } from "../../src/infra/azure/grants.ts";
import { UNKNOWN } from "../../src/infra/policy/read.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type ResourceRecord, synth } from "../../src/infra/synth/index.ts";
import { edited, GUARDED, reoptioned } from "./synthesised.ts";

/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
let base: ResourceRecord[];

beforeAll(async () => {
  base = (await synth({ root: example, stack: "prod-azure" })).resources;
}, 120_000);

const T = {
  account: "azure-native:storage:StorageAccount",
  container: "azure-native:storage:BlobContainer",
  assignment: "azure-native:authorization:RoleAssignment",
  subscription: "azure-native:servicebus:Subscription",
  namespace: "azure-native:servicebus:Namespace",
  workspace: "azure-native:operationalinsights:Workspace",
  component: "azure-native:applicationinsights:Component",
  app: "azure-native:web:WebApp",
  metricAlert: "azure-native:monitor:MetricAlert",
};
const VAULT = "azure-native:keyvault:Vault";

const edit = (
  name: string,
  type: string,
  change: (inputs: Record<string, unknown>) => Record<string, unknown>,
) => edited(base, name, type, change);

const urn = (rs: readonly ResourceRecord[], name: string, type: string) =>
  rs.find((r) => r.name === name && r.type === type)!.urn;

function only(
  rs: readonly ResourceRecord[],
  name: string,
  type: string,
  policy: string,
  message: string | RegExp,
) {
  const found = evaluate(rs);
  expect(found).toEqual([
    {
      policy,
      urn: urn(rs, name, type),
      message: typeof message === "string" ? message : expect.stringMatching(message),
    },
  ]);
}

describe("the Azure checks", () => {
  it("pass on the synthesised stack", () => {
    expect(evaluate(base)).toEqual([]);
  });

  it("store-encrypted-with-customer-key: Microsoft-managed keys, no double encryption", () => {
    only(
      edit("trib-prod-data", T.account, (i) => ({
        ...i,
        encryption: { ...(i.encryption as object), keySource: "Microsoft.Storage" },
      })),
      "trib-prod-data",
      T.account,
      "store-encrypted-with-customer-key",
      /^storage account "trib-prod-data" is encrypted with "Microsoft.Storage" \(Microsoft-managed keys\), not a customer-managed key/,
    );
    only(
      edit("trib-prod-data", T.account, (i) => ({
        ...i,
        encryption: { ...(i.encryption as object), requireInfrastructureEncryption: false },
      })),
      "trib-prod-data",
      T.account,
      "store-encrypted-with-customer-key",
      /is not double-encrypted; set encryption.requireInfrastructureEncryption true/,
    );
    only(
      edit("trib-prod-host", T.account, (i) => ({
        ...i,
        encryption: {
          ...(i.encryption as object),
          keyVaultProperties: { keyVaultUri: "https://v.vault.azure.net/" },
        },
      })),
      "trib-prod-host",
      T.account,
      "store-encrypted-with-customer-key",
      /uses a customer-managed key without keyName/,
    );
  });

  it("no-public-access: anonymous blobs, shared keys, a public container, SAS keys on the bus", () => {
    only(
      edit("trib-prod-data", T.account, (i) => ({ ...i, allowBlobPublicAccess: true })),
      "trib-prod-data",
      T.account,
      "no-public-access",
      /allows anonymous blob access/,
    );
    only(
      edit("trib-prod-data", T.account, ({ allowSharedKeyAccess: _, ...i }) => i),
      "trib-prod-data",
      T.account,
      "no-public-access",
      /accepts shared keys, which bypass RBAC; set allowSharedKeyAccess false/,
    );
    only(
      edit("trib-prod-data-raw", T.container, (i) => ({ ...i, publicAccess: "Blob" })),
      "trib-prod-data-raw",
      T.container,
      "no-public-access",
      'blob container "trib-prod-data-raw" is public ("Blob"); set publicAccess "None"',
    );
    only(
      edit("trib-prod-bus", T.namespace, (i) => ({ ...i, disableLocalAuth: false })),
      "trib-prod-bus",
      T.namespace,
      "no-public-access",
      /accepts SAS keys/,
    );
  });

  it("tls-only: plain HTTP or old TLS on the account, the bus or an app", () => {
    only(
      edit("trib-prod-data", T.account, (i) => ({ ...i, minimumTlsVersion: "TLS1_0" })),
      "trib-prod-data",
      T.account,
      "tls-only",
      'storage account "trib-prod-data" accepts TLS below 1.2 ("TLS1_0"); set minimumTlsVersion "TLS1_2"',
    );
    only(
      edit("trib-prod-data", T.account, (i) => ({ ...i, enableHttpsTrafficOnly: false })),
      "trib-prod-data",
      T.account,
      "tls-only",
      /accepts plain HTTP/,
    );
    only(
      edit("trib-prod-bus", T.namespace, (i) => ({ ...i, minimumTlsVersion: "1.0" })),
      "trib-prod-bus",
      T.namespace,
      "tls-only",
      /accepts TLS below 1.2/,
    );
    only(
      edit("trib-prod-orders-cdc", T.app, (i) => ({ ...i, httpsOnly: false })),
      "trib-prod-orders-cdc",
      T.app,
      "tls-only",
      /function app "trib-prod-orders-cdc" accepts plain HTTP/,
    );
  });

  it("no-wildcard-grants: a data container without a path condition, a whole-zone prefix, a wide scope", () => {
    only(
      edit(
        "trib-prod-curated-orders-curated",
        T.assignment,
        ({ condition: _, conditionVersion: __, ...i }) => i,
      ),
      "trib-prod-curated-orders-curated",
      T.assignment,
      "no-wildcard-grants",
      /grants Storage Blob Data Contributor on the whole container "curated"; add an ABAC condition/,
    );
    only(
      edit("trib-prod-curated-orders-raw", T.assignment, (i) => ({
        ...i,
        condition: (i.condition as string).replace("'raw/orders_cdc/'", "'raw/'"),
      })),
      "trib-prod-curated-orders-raw",
      T.assignment,
      "no-wildcard-grants",
      /allows the prefixes "raw\/"; grant only "<zone>\/<key>\/" prefixes/,
    );
    only(
      edit("trib-prod-curated-orders-raw", T.assignment, (i) => ({
        ...i,
        scope: (i.scope as string).replace(/\/blobServices\/.*$/, ""),
      })),
      "trib-prod-curated-orders-raw",
      T.assignment,
      "no-wildcard-grants",
      /grants Storage Blob Data Reader on ".*storageAccounts\/tribproddata1127c7", not on one container/,
    );
    only(
      edit("trib-prod-curated-orders-publish", T.assignment, (i) => ({
        ...i,
        scope: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/trib-prod",
      })),
      "trib-prod-curated-orders-publish",
      T.assignment,
      "no-wildcard-grants",
      /a whole subscription or resource group/,
    );
    // The outbox sweeper reads, lists and deletes outbox entries and reads manifests, in every key's
    // prefix; writing there, or deleting a manifest, is a whole-zone grant like any other.
    const sweeper = base.find((r) => r.name === "trib-prod-outbox-sweep-curated")!;
    const granted = {
      read: ["_outbox/", "_manifests/"],
      list: ["_outbox/"],
      write: [],
      delete: ["_outbox/"],
    };
    expect(sweeper.inputs.condition).toBe(blobCondition(granted, true));
    for (const [more, prefix] of [
      [{ ...granted, write: ["_outbox/"] }, "_outbox/"],
      [{ ...granted, delete: ["_outbox/", "_manifests/"] }, "_manifests/"],
    ] as const) {
      only(
        edit("trib-prod-outbox-sweep-curated", T.assignment, (i) => ({
          ...i,
          condition: blobCondition(more, true),
        })),
        "trib-prod-outbox-sweep-curated",
        T.assignment,
        "no-wildcard-grants",
        new RegExp(`allows the prefixes "${prefix}"; grant only "<zone>/<key>/" prefixes`),
      );
    }
    // The runtime's host containers hold no data of the plan (no zone prefixes), but they are shared: each
    // app's roles there are held to its own paths (storage-roles-isolated).
    const host = base.find((r) => r.name === "trib-prod-curated-orders-host-locks")!;
    expect(host.inputs.condition).toContain("'locks/trib-prod-curated-orders-1127c7/'");
  });

  it("no-owner-roles and storage-roles-isolated: the shared host containers as the probe found them", () => {
    const OWNER =
      "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    // Storage Blob Data Owner, unconditioned, on the keys every app shares.
    const name = "trib-prod-curated-orders-host-secrets";
    const probed = edit(name, T.assignment, ({ condition: _, conditionVersion: __, ...i }) => ({
      ...i,
      roleDefinitionId: OWNER,
    }));
    expect(evaluate(probed)).toEqual([
      {
        policy: "no-owner-roles",
        urn: urn(probed, name, T.assignment),
        message:
          'role assignment "trib-prod-curated-orders-host-secrets" assigns Storage Blob Data Owner, full control of ' +
          "its scope; assign the least role that works (for blobs, Storage Blob Data Reader or Contributor under " +
          "an ABAC path condition)",
      },
      {
        policy: "storage-roles-isolated",
        urn: urn(probed, name, T.assignment),
        message:
          'role assignment "trib-prod-curated-orders-host-secrets" grants Storage Blob Data Owner on ' +
          '"azure-webjobs-secrets" with no path condition, where 9 other identities hold storage roles: it can ' +
          "read and rewrite their blobs; condition it to its own paths " +
          "(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]) or give it a " +
          "container of its own",
      },
    ]);
    // Contributor without the condition is still one app reaching into every other's keys.
    const unconditioned = edit(name, T.assignment, ({ condition: _, conditionVersion: __, ...i }) => i);
    expect(evaluate(unconditioned).map((v) => v.policy)).toEqual(["storage-roles-isolated"]);
    // A container of its own (the app's package container) needs no condition.
    const pkg = base.find((r) => r.name === "trib-prod-curated-orders-package" && r.type === T.assignment)!;
    expect(pkg.inputs.condition).toBeUndefined();
  });

  it("private-network: a vault or a namespace open to every network, or closed with no private endpoint", () => {
    const VAULT_NAME = "trib-prod-data-vault";
    const open = edit(VAULT_NAME, VAULT, (i) => ({
      ...i,
      properties: {
        ...(i.properties as object),
        networkAcls: { bypass: "AzureServices", defaultAction: "Allow" },
      },
    }));
    only(
      open,
      VAULT_NAME,
      VAULT,
      "private-network",
      'key vault "trib-prod-data-vault" accepts traffic from every network (networkAcls.defaultAction "Allow"); ' +
        'set networkAcls.defaultAction "Deny" (bypass "AzureServices" keeps the storage accounts\' key working) ' +
        'and reach it by a private endpoint, or set publicNetworkAccess "Disabled"',
    );
    const everyone = edit(VAULT_NAME, VAULT, (i) => ({
      ...i,
      properties: {
        ...(i.properties as object),
        networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [{ value: "0.0.0.0/0" }] },
      },
    }));
    only(
      everyone,
      VAULT_NAME,
      VAULT,
      "private-network",
      'key vault "trib-prod-data-vault" lets every address in by its IP rule "0.0.0.0/0"; remove it',
    );
    // The namespace as it was: public access on, no rule set.
    const publicBus = edit("trib-prod-bus", T.namespace, (i) => ({
      ...i,
      publicNetworkAccess: "Enabled",
    })).filter((r) => r.type !== "azure-native:servicebus:NamespaceNetworkRuleSet");
    only(
      publicBus,
      "trib-prod-bus",
      T.namespace,
      "private-network",
      'Service Bus namespace "trib-prod-bus" accepts traffic from every network (publicNetworkAccess "Enabled", no ' +
        'network rule set that denies by default); set publicNetworkAccess "Disabled" and reach it by a private ' +
        "endpoint (Premium tier), or deny by default in its network rule set",
    );
    // Closed, but without its private endpoint the functions could not consume their subscriptions.
    const unreachable = base.filter((r) => r.name !== "trib-prod-bus-namespace-endpoint");
    only(
      unreachable,
      "trib-prod-bus",
      T.namespace,
      "private-network",
      'Service Bus namespace "trib-prod-bus" is closed to every network but has no private endpoint: the stack\'s ' +
        "functions cannot reach its topics; add one in the stack network's endpoints subnet, with its private DNS zone",
    );
  });

  it("raw-append-only: an ingest function's role on the raw container that may delete", () => {
    const name = "trib-prod-orders-cdc-raw";
    const DELETE =
      "(!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'}))";
    expect(base.find((r) => r.name === name && r.type === T.assignment)!.inputs.condition).toContain(DELETE);
    const deleting = edit(name, T.assignment, (i) => ({
      ...i,
      condition: (i.condition as string).replace(
        DELETE,
        "(!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'}) OR " +
          "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'raw/orders_cdc/')",
      ),
    }));
    only(
      deleting,
      name,
      T.assignment,
      "raw-append-only",
      'role assignment "trib-prod-orders-cdc-raw" grants Storage Blob Data Contributor on the raw container without ' +
        "denying delete; ingest only appends: its ABAC condition must include " +
        `${DELETE} (the lifecycle policy expires old events)`,
    );
  });

  it("dead-letter-queue: a subscription that drops expired messages or never dead-letters", () => {
    only(
      edit("trib-prod-curated-orders-subscription", T.subscription, (i) => ({
        ...i,
        deadLetteringOnMessageExpiration: false,
      })),
      "trib-prod-curated-orders-subscription",
      T.subscription,
      "dead-letter-queue",
      /drops expired messages/,
    );
    only(
      edit("trib-prod-curated-orders-subscription", T.subscription, ({ maxDeliveryCount: _, ...i }) => i),
      "trib-prod-curated-orders-subscription",
      T.subscription,
      "dead-letter-queue",
      /has maxDeliveryCount null; set the plan's maxReceiveCount/,
    );
  });

  it("log-retention: a workspace without retention, telemetry outside the workspace", () => {
    only(
      edit("trib-prod-alerts-logs", T.workspace, ({ retentionInDays: _, ...i }) => i),
      "trib-prod-alerts-logs",
      T.workspace,
      "log-retention",
      /has no retention of at least 30 days/,
    );
    only(
      edit("trib-prod-daily-revenue-insights", T.component, ({ workspaceResourceId: _, ...i }) => i),
      "trib-prod-daily-revenue-insights",
      T.component,
      "log-retention",
      /is not workspace-based/,
    );
  });

  it("required-tags: a missing tag", () => {
    only(
      edit("trib-prod-daily-revenue-errors", T.metricAlert, (i) => {
        const { owner: _, ...tags } = i.tags as Record<string, string>;
        return { ...i, tags };
      }),
      "trib-prod-daily-revenue-errors",
      T.metricAlert,
      "required-tags",
      'metric alert "trib-prod-daily-revenue-errors" is missing the required tag "owner"; tag it with tributary:asset, tributary:pipeline, tributary:env, owner, cost-centre (none empty)',
    );
  });

  it("stores-survive-changes: an unprotected data container, an unretained account, a replaced vault", () => {
    const fix =
      "declare the assets and sources whose data it holds disposable: true if that data can be rebuilt or " +
      "thrown away";
    only(
      reoptioned(base, "trib-prod-data-raw", T.container, undefined),
      "trib-prod-data-raw",
      T.container,
      "stores-survive-changes",
      'blob container "trib-prod-data-raw" is not protected, so a stack change may delete or replace it and ' +
        `lose its data; keep protect: true and retainOnDelete: true on it, or ${fix}`,
    );
    only(
      reoptioned(base, "trib-prod-host", T.account, { protect: true }),
      "trib-prod-host",
      T.account,
      "stores-survive-changes",
      'storage account "trib-prod-host" is not retained on delete, so removing it from the stack deletes it ' +
        `and loses its data; set retainOnDelete: true on it, or ${fix}`,
    );
    only(
      reoptioned(base, "trib-prod-data-vault", VAULT, { ...GUARDED, deleteBeforeReplace: true }),
      "trib-prod-data-vault",
      VAULT,
      "stores-survive-changes",
      'key vault "trib-prod-data-vault" sets deleteBeforeReplace, so a replacement deletes it, and every ' +
        "store's data it encrypts, before its successor exists; remove deleteBeforeReplace",
    );
  });

  it("stores-survive-changes: lets go what is marked disposable, a container by its metadata", () => {
    let rs = reoptioned(base, "trib-prod-data-raw", T.container, undefined);
    rs = edited(rs, "trib-prod-data-raw", T.container, (i) => ({
      ...i,
      metadata: { tributary_disposable: "true" },
    }));
    rs = reoptioned(rs, "trib-prod-data", T.account, undefined);
    rs = edited(rs, "trib-prod-data", T.account, (i) => ({
      ...i,
      tags: { ...(i.tags as object), "tributary:disposable": "true" },
    }));
    expect(evaluate(rs)).toEqual([]);
    // A container's tag-like marker is its metadata, not a tag it cannot have.
    const tagged = edited(
      reoptioned(base, "trib-prod-data-curated", T.container, undefined),
      "trib-prod-data-curated",
      T.container,
      (i) => ({ ...i, tags: { "tributary:disposable": "true" } }),
    );
    expect(evaluate(tagged).map((v) => [v.policy, v.urn])).toEqual([
      ["stores-survive-changes", urn(tagged, "trib-prod-data-curated", T.container)],
    ]);
  });

  it("skip what a preview does not know yet", () => {
    const unknown = base.map((r) =>
      r.type === T.assignment
        ? { ...r, inputs: { ...r.inputs, scope: UNKNOWN, condition: UNKNOWN } }
        : r.type === T.account
          ? {
              ...r,
              inputs: { ...r.inputs, encryption: UNKNOWN, minimumTlsVersion: UNKNOWN, tags: UNKNOWN },
              options: undefined,
            }
          : r.type === T.container
            ? {
                ...r,
                inputs: { ...r.inputs, metadata: UNKNOWN },
                options: { protect: true, retainOnDelete: UNKNOWN },
              }
            : r,
    );
    expect(evaluate(unknown)).toEqual([]);
  });
});
