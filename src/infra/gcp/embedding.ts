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

/** The custom role's only permission. */
export const EMBEDDING_PERMISSIONS = ["aiplatform.endpoints.predict"] as const;

export const EMBEDDING_ROLE_DESCRIPTION =
  "Calls Vertex AI models' predict (text embeddings): held by the stack's embedding functions only.";

/** The custom role's id in the project: `<prefix>` with underscores, then `_embedding_predict`. */
export function embeddingRoleId(prefix: string): string {
  return `${prefix.replaceAll("-", "_")}_embedding_predict`;
}
