/**
 * The security rules of the `tributary-security` policy pack, as pure functions over resource records:
 * each rule of common.ts runs every cloud's check of its name, then come the secrets', the streams', the
 * embedding models' and the vector tables' rules.
 *
 * The same rules run in two places: offline, over what `tributary synth` (or a test) registered, through
 * {@link evaluate}; and under `pulumi preview --policy-pack infra/policy`, where `../index.ts` adapts the
 * engine's resources to {@link ResourceRecord}s. During a preview some values are not known yet (an ARN
 * of a resource still to be created); the adapter marks them `UNKNOWN` (../read.ts), and every rule skips
 * what it cannot know instead of reporting it. A value that is absent (undefined) is absent: offline
 * records drop undefined inputs, so a rule treats a missing input as missing.
 */
import type { ResourceRecord } from "../../synth/record.ts";
import { awsChecks } from "./aws.ts";
import { azureChecks } from "./azure.ts";
import { type CloudCheck, type CloudChecks, RULES, type Rule, type Violation } from "./common.ts";
import { embeddingRules } from "./embedding.ts";
import { gcpChecks } from "./gcp.ts";
import { secretRules } from "./secrets.ts";
import { streamRules } from "./streams.ts";
import { awsTableChecks, azureTableChecks, gcpTableChecks } from "./tables.ts";

const CLOUDS: readonly CloudChecks[] = [
  awsChecks,
  awsTableChecks,
  gcpChecks,
  gcpTableChecks,
  azureChecks,
  azureTableChecks,
];

/** The rules, in the order {@link evaluate} reports them. */
export const rules: readonly Rule[] = [
  ...RULES.map(({ name, description }): Rule => {
    const checks = CLOUDS.map((c) => c[name]).filter((c): c is CloudCheck => c !== undefined);
    return { name, description, check: (resources) => checks.flatMap((c) => c(resources)) };
  }),
  ...secretRules,
  ...streamRules,
  ...embeddingRules,
];

/**
 * Every violation of every rule over a stack's resources: by rule (in {@link rules} order), then by cloud
 * (AWS, GCP, Azure), then by resource (in registration order). Empty for a compliant stack.
 */
export function evaluate(resources: readonly ResourceRecord[]): Violation[] {
  return rules.flatMap((rule) => rule.check(resources));
}
