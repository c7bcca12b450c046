/** What Google Cloud would answer for a new resource, made up deterministically (see outputs.ts). */
import * as crypto from "node:crypto";
import type { FakeOutputs, NewResource } from "./common.ts";

/** The project resources name when they name none (the adapter always passes `project`). */
const OFFLINE_PROJECT = "offline-project";

/** A project's number, made up from its id: twelve digits, the same every run. */
export function offlineProjectNumber(project: string): string {
  const n = BigInt(`0x${crypto.createHash("sha256").update(project).digest("hex").slice(0, 12)}`);
  return String(100_000_000_000n + (n % 900_000_000_000n));
}

export function fakeGcpOutputs(r: NewResource, region: string): FakeOutputs {
  const { type, name, inputs } = r;
  const i = inputs as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const project = str(i.project) ?? OFFLINE_PROJECT;
  const location = str(i.location) ?? region;
  const named = str(i.name) ?? name;
  const outputs = (id: string, extra: Record<string, unknown> = {}): FakeOutputs => ({
    id,
    state: { ...inputs, ...extra },
  });
  switch (type) {
    case "gcp:storage/bucket:Bucket":
      return outputs(named, {
        name: named,
        url: `gs://${named}`,
        selfLink: `https://www.googleapis.com/storage/v1/b/${named}`,
      });
    case "gcp:storage/bucketObject:BucketObject": {
      const bucket = str(i.bucket) ?? "";
      return outputs(`${bucket}-${named}`, {
        name: named,
        generation: "1",
        selfLink: `https://www.googleapis.com/storage/v1/b/${bucket}/o/${encodeURIComponent(named)}`,
        mediaLink: `https://storage.googleapis.com/download/storage/v1/b/${bucket}/o/${encodeURIComponent(named)}?generation=1&alt=media`,
      });
    }
    case "gcp:kms/keyRing:KeyRing":
      return outputs(`projects/${project}/locations/${location}/keyRings/${named}`, { name: named });
    case "gcp:kms/cryptoKey:CryptoKey":
      return outputs(`${str(i.keyRing) ?? ""}/cryptoKeys/${named}`, { name: named });
    case "gcp:pubsub/topic:Topic":
      return outputs(`projects/${project}/topics/${named}`, { name: named });
    case "gcp:pubsub/subscription:Subscription":
      return outputs(`projects/${project}/subscriptions/${named}`, { name: named });
    case "gcp:serviceaccount/account:Account": {
      const email = `${str(i.accountId) ?? name}@${project}.iam.gserviceaccount.com`;
      const id = `projects/${project}/serviceAccounts/${email}`;
      return outputs(id, {
        name: id,
        email,
        member: `serviceAccount:${email}`,
        uniqueId: `${name}-unique-id`,
      });
    }
    case "gcp:cloudfunctionsv2/function:Function": {
      const id = `projects/${project}/locations/${location}/functions/${named}`;
      const service = `projects/${project}/locations/${location}/services/${named}`;
      const serviceConfig =
        typeof i.serviceConfig === "object" && i.serviceConfig !== null ? i.serviceConfig : {};
      return outputs(id, {
        name: named,
        url: `https://${location}-${project}.cloudfunctions.net/${named}`,
        state: "ACTIVE",
        environment: "GEN_2",
        serviceConfig: { ...serviceConfig, service, uri: `https://${named}-offline.a.run.app` },
      });
    }
    case "gcp:projects/iAMCustomRole:IAMCustomRole": {
      const id = `projects/${project}/roles/${str(i.roleId) ?? name}`;
      return outputs(id, { name: id, deleted: false });
    }
    case "gcp:cloudscheduler/job:Job": {
      const jobRegion = str(i.region) ?? region;
      return outputs(`projects/${project}/locations/${jobRegion}/jobs/${named}`, { name: named });
    }
    case "gcp:monitoring/notificationChannel:NotificationChannel":
      return outputs(`projects/${project}/notificationChannels/${name}`, {
        name: `projects/${project}/notificationChannels/${name}`,
      });
    case "gcp:monitoring/alertPolicy:AlertPolicy":
      return outputs(`projects/${project}/alertPolicies/${name}`, {
        name: `projects/${project}/alertPolicies/${name}`,
      });
    case "gcp:logging/metric:Metric":
      return outputs(named, { name: named });
    case "gcp:secretmanager/secret:Secret": {
      const id = `projects/${project}/secrets/${str(i.secretId) ?? name}`;
      return outputs(id, { name: id });
    }
    case "gcp:secretmanager/secretVersion:SecretVersion": {
      const id = `${str(i.secret) ?? ""}/versions/1`;
      return outputs(id, { name: id, version: "1", enabled: true });
    }
    case "gcp:projects/serviceIdentity:ServiceIdentity": {
      // A Google service's agent: service-<project number>@gcp-sa-<service>.iam.gserviceaccount.com.
      const service = (str(i.service) ?? "").replace(/\.googleapis\.com$/, "");
      const email = `service-${offlineProjectNumber(project)}@gcp-sa-${service}.iam.gserviceaccount.com`;
      return outputs(`projects/${project}/services/${str(i.service) ?? ""}`, {
        email,
        member: `serviceAccount:${email}`,
      });
    }
    case "gcp:bigquery/dataset:Dataset": {
      const dataset = str(i.datasetId) ?? name;
      return outputs(`projects/${project}/datasets/${dataset}`, {
        datasetId: dataset,
        selfLink: `https://bigquery.googleapis.com/bigquery/v2/projects/${project}/datasets/${dataset}`,
      });
    }
    case "gcp:bigquery/table:Table": {
      const id = `projects/${project}/datasets/${str(i.datasetId) ?? ""}/tables/${str(i.tableId) ?? name}`;
      return outputs(id, { etag: "BwOfflineEtag=" });
    }
    case "gcp:bigquery/connection:Connection": {
      // A Cloud resource connection's service account: bqcx-<project number>-<four characters>@gcp-sa-bigquery-condel.
      const id = str(i.connectionId) ?? name;
      const suffix = crypto.createHash("sha256").update(id).digest("hex").slice(0, 4);
      const email = `bqcx-${offlineProjectNumber(project)}-${suffix}@gcp-sa-bigquery-condel.iam.gserviceaccount.com`;
      const cloudResource =
        typeof i.cloudResource === "object" && i.cloudResource !== null ? i.cloudResource : {};
      return outputs(`projects/${project}/locations/${location}/connections/${id}`, {
        name: `projects/${project}/locations/${location}/connections/${id}`,
        connectionId: id,
        cloudResource: { ...cloudResource, serviceAccountId: email },
      });
    }
    default:
      return outputs(`${name}-id`, { etag: "BwOfflineEtag=" });
  }
}

/** The answer of a provider function, or undefined when there is none offline. */
export function fakeGcpInvoke(
  token: string,
  args: Record<string, unknown>,
  config: Record<string, string>,
): Record<string, unknown> | undefined {
  switch (token) {
    case "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": {
      const project = (args.project as string | undefined) ?? config["gcp:project"] ?? OFFLINE_PROJECT;
      const email = `service-${offlineProjectNumber(project)}@gs-project-accounts.iam.gserviceaccount.com`;
      return { id: email, project, emailAddress: email, member: `serviceAccount:${email}` };
    }
    case "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount": {
      // BigQuery's encryption agent, which uses the keys of CMEK datasets.
      const project = (args.project as string | undefined) ?? config["gcp:project"] ?? OFFLINE_PROJECT;
      const email = `bq-${offlineProjectNumber(project)}@bigquery-encryption.iam.gserviceaccount.com`;
      return { id: email, project, email, member: `serviceAccount:${email}` };
    }
    case "gcp:organizations/getProject:getProject": {
      const project = (args.projectId as string | undefined) ?? config["gcp:project"] ?? OFFLINE_PROJECT;
      return {
        id: `projects/${project}`,
        projectId: project,
        name: project,
        number: offlineProjectNumber(project),
        labels: {},
      };
    }
    default:
      return undefined;
  }
}
