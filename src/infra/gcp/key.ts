/**
 * `tributary:gcp:DataKey`: the stack's customer-managed Cloud KMS key for its buckets, in a key ring of
 * the stack's region (a bucket's key must be in the bucket's location), rotated yearly. Cloud Storage
 * encrypts and decrypts with it through the project's Cloud Storage service agent, Secret Manager (the
 * stack's secrets, when it has any), Pub/Sub (the CDC streams' topics, when it has any) and BigQuery (the
 * curated tables' dataset, when it has one) through theirs: those agents are the only principals granted
 * the key; functions read objects, secrets, messages and tables through those services and never call KMS.
 *
 * Deleting the key makes every object it encrypted unreadable, so the key (and its ring) is `protect` and
 * `retainOnDelete` while any store holds data worth keeping; in a stack whose stores are all disposable
 * neither is, and the key is labelled `tributary-disposable`. (Cloud KMS never deletes a key ring or a
 * key: Pulumi forgets the ring, and destroys the key's versions.)
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { DISPOSABLE_TAG } from "../plan/types.ts";
import type { Apis } from "./apis.ts";
import { labelKey } from "./labels.ts";

export interface DataKeyArgs {
  readonly project: string;
  readonly location: string;
  /** Members (e.g. the Cloud Storage service agent) that encrypt and decrypt with the key. */
  readonly encrypters: readonly pulumi.Input<string>[];
  /**
   * Google services whose service agents encrypt and decrypt with the key too, made to exist first
   * (a service's agent is created on demand): `secretmanager.googleapis.com` when the stack has secrets.
   */
  readonly agents?: readonly string[];
  /**
   * The project's Pub/Sub service agent, when the stack has CDC streams: it encrypts and decrypts their
   * topics' messages (CMEK) with the key.
   */
  readonly pubsubAgent?: pulumi.Input<string>;
  /** BigQuery's encryption agent, when the stack has a dataset (its curated tables'): it encrypts it with the key. */
  readonly bigquery?: pulumi.Input<string>;
  readonly labels: Record<string, string>;
  /** Whether the key and its ring are protected and kept: while any store is (`protectsShared`). */
  readonly protect: boolean;
  /** The stack's enabled APIs: the ring, key and grants wait for Cloud KMS's. */
  readonly apis: Apis;
}

/** A year, as KMS writes durations. */
export const ROTATION_PERIOD = `${365 * 24 * 3600}s`;
/** Thirty days between destroying a key version and its material being gone. */
export const DESTROY_SCHEDULED = `${30 * 24 * 3600}s`;

export class DataKey extends pulumi.ComponentResource {
  /** The key's resource id (`projects/…/cryptoKeys/…`), a bucket's `defaultKmsKeyName`. */
  readonly id: pulumi.Output<string>;
  /** The key grants: buckets must wait for them, or their creation fails. */
  readonly grants: pulumi.Resource[];
  /** The Pub/Sub agent's grant: the streams' topics must wait for it. */
  readonly streamGrants: pulumi.Resource[];

  constructor(name: string, args: DataKeyArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:DataKey", name, {}, opts);
    const keep = args.protect;
    const guard = keep ? { protect: true, retainOnDelete: true } : {};
    const kms = { parent: this, dependsOn: args.apis.of("cloudkms") };
    const ring = new gcp.kms.KeyRing(
      `${name}-ring`,
      { name, project: args.project, location: args.location },
      { ...kms, ...guard },
    );
    const key = new gcp.kms.CryptoKey(
      name,
      {
        name: "data",
        keyRing: ring.id,
        purpose: "ENCRYPT_DECRYPT",
        rotationPeriod: ROTATION_PERIOD,
        destroyScheduledDuration: DESTROY_SCHEDULED,
        labels: keep ? args.labels : { ...args.labels, [labelKey(DISPOSABLE_TAG)]: "true" },
      },
      { ...kms, ...guard },
    );
    const agents = (args.agents ?? []).map(
      (service) =>
        new gcp.projects.ServiceIdentity(
          `${name}-${service.split(".")[0]}-agent`,
          { project: args.project, service },
          { parent: this, dependsOn: args.apis.of(service.split(".")[0] as Parameters<Apis["of"]>[0]) },
        ).member,
    );
    this.grants = [...args.encrypters, ...agents].map(
      (member, i) =>
        new gcp.kms.CryptoKeyIAMMember(
          `${name}-encrypter${i === 0 ? "" : `-${i + 1}`}`,
          { cryptoKeyId: key.id, role: "roles/cloudkms.cryptoKeyEncrypterDecrypter", member },
          kms,
        ),
    );
    this.streamGrants =
      args.pubsubAgent === undefined
        ? []
        : [
            new gcp.kms.CryptoKeyIAMMember(
              `${name}-encrypter-pubsub`,
              {
                cryptoKeyId: key.id,
                role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member: args.pubsubAgent,
              },
              kms,
            ),
          ];
    if (args.bigquery !== undefined) {
      this.grants.push(
        new gcp.kms.CryptoKeyIAMMember(
          `${name}-bigquery`,
          { cryptoKeyId: key.id, role: "roles/cloudkms.cryptoKeyEncrypterDecrypter", member: args.bigquery },
          kms,
        ),
      );
    }
    this.id = key.id;
    this.registerOutputs({ id: this.id });
  }
}
