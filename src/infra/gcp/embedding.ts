/**
 * The one right a GCP embedding function needs to call its Vertex AI model, as narrow as Vertex AI allows.
 *
 * Calling a Google publisher model's `predict` needs `aiplatform.endpoints.predict` on the project.
 * The predefined role that holds it, Vertex AI User (`roles/aiplatform.user`), also lets one create and
 * run datasets, training and pipeline jobs, endpoints and much more, so each stack has a custom role
 * with that one permission, granted on the project to the service accounts of its embedding functions
 * only. Vertex AI documents no IAM policy on a publisher model and no condition attribute naming one,
 * so the role cannot be narrowed to the model: the model a function calls is fixed by its
 * configuration (TRIBUTARY_VECTORS), and the policy pack checks that only embedding functions hold the
 * role and that it holds nothing else (docs/embedding-providers.md).
 */
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { Apis } from "./apis.ts";
import { EMBEDDING_ROLE_SUFFIX } from "./services.ts";

/** The custom role's only permission. */
export const EMBEDDING_PERMISSIONS = ["aiplatform.endpoints.predict"] as const;

export const EMBEDDING_ROLE_DESCRIPTION =
  "Calls Vertex AI models' predict (text embeddings): held by the stack's embedding functions only.";

/** The custom role's id in the project: `<prefix>` with underscores, then `_embedding_predict`. */
export function embeddingRoleId(prefix: string): string {
  return `${prefix.replaceAll("-", "_")}${EMBEDDING_ROLE_SUFFIX}`;
}

export interface EmbeddingRoleArgs {
  readonly project: string;
  /** The stack's name prefix, e.g. "trib-staging": the role's id derives from it. */
  readonly prefix: string;
  readonly stack: string;
  readonly apis: Apis;
}

/** `tributary:gcp:EmbeddingRole`: the stack's custom role of Vertex AI predictions. */
export class EmbeddingRole extends pulumi.ComponentResource {
  /** `projects/<project>/roles/<id>`: what a binding names. */
  readonly name: pulumi.Output<string>;

  constructor(name: string, args: EmbeddingRoleArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("tributary:gcp:EmbeddingRole", name, {}, opts);
    const role = new gcp.projects.IAMCustomRole(
      name,
      {
        project: args.project,
        roleId: embeddingRoleId(args.prefix),
        title: `Tributary ${args.stack}: embedding predictions`,
        description: EMBEDDING_ROLE_DESCRIPTION,
        permissions: [...EMBEDDING_PERMISSIONS],
        stage: "GA",
      },
      { parent: this, dependsOn: args.apis.of("iam") },
    );
    this.name = role.name;
    this.registerOutputs({ name: this.name });
  }
}
