/**
 * The Pulumi program (`main` in Pulumi.yaml): stack config → deployment plan → cloud adapter.
 *
 * `pulumi up` runs it per stack; `tributary synth` runs the very same module offline under Pulumi's
 * mocks. The stack config arrives as Pulumi passes it (`pulumi.runtime.allConfig()`), and is validated
 * against `stacks/Pulumi.<stack>.yaml`'s keys before anything is registered.
 */

// First, before the user's graph module loads: see stack-traces.ts.
import "./stack-traces.ts";

import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { TributaryError, toLineage } from "tributary";
import graph from "../assets/index.ts";
import type { CloudAdapter } from "./adapter.ts";
import { configMap, readStackConfig, stackFile } from "./config.ts";
import { runError } from "./errors.ts";
import { planDeployment } from "./plan/build.ts";
import { configuredSecrets } from "./secrets.ts";
import { lean } from "./stack-traces.ts";

// Every module the program imports has loaded by now, the user's graph module among them: an error in
// the user's code has been reported with its file and line. What follows registers thousands of
// resources, and Pulumi's SDK pays for debugging aids on each.
lean();

const stack = pulumi.getStack();

function prepare() {
  try {
    const values = pulumi.runtime.allConfig();
    // The stack file must hold no secret in plain text (the CLI decrypts the encrypted ones for us).
    if (fs.existsSync(stackFile(stack))) configMap(process.cwd(), stack);
    const config = readStackConfig(values, stack);
    const plan = planDeployment(graph, config);
    return { plan, secrets: configuredSecrets(values, plan.secrets) };
  } catch (e) {
    // A user's mistake: Pulumi prints a RunError's message without a stack trace.
    if (e instanceof TributaryError) throw runError(e.message);
    throw e;
  }
}

const { plan, secrets } = prepare();

/** Each cloud's adapter is loaded only for its stacks: one cloud's SDK is all a deploy loads. */
async function adapter(cloud: string): Promise<CloudAdapter> {
  switch (cloud) {
    case "aws":
      return (await import("./aws/index.ts")).aws;
    case "gcp":
      return (await import("./gcp/index.ts")).gcp;
    case "azure":
      return (await import("./azure/index.ts")).azure;
    default:
      throw runError(
        `stacks/Pulumi.${stack}.yaml: tributary:cloud "${cloud}" has no adapter yet; this release deploys to aws.`,
      );
  }
}

const deployed = await (await adapter(plan.cloud)).deploy(plan, secrets);

/** Physical bucket name per store (raw, curated, quarantine). */
export const buckets = deployed.buckets;
/** The ARN (or address) of the source-events and asset-events buses. */
export const buses = deployed.buses;
/** Physical function name per asset or source key. */
export const functions = deployed.functions;
/** The static lineage of what this stack deploys (nodes, edges, columns, partition mappings). */
export const lineage = toLineage(
  graph,
  plan.functions.map((f) => f.id),
);
/** The stack this program ran for. */
export const stackName = stack;
