/**
 * The security rules' checks of Google Cloud resources, by rule name; `rules.ts` runs them with the AWS
 * checks of the same rule.
 */
import type { CloudChecks } from "./rules.ts";

export const gcpChecks: CloudChecks = {};
