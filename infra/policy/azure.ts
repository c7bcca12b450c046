/**
 * The security rules' checks of Azure resources, by rule name; `rules.ts` runs them with the AWS
 * checks of the same rule.
 */
import type { CloudChecks } from "./rules.ts";

export const azureChecks: CloudChecks = {};
