/**
 * The Cloud Functions (2nd gen) entry point of a bundle (`tributary bundle --cloud gcp`). The function
 * is registered with the Functions Framework as the CloudEvent function "handler", the entry point
 * infra/gcp/function.ts deploys. The framework is not bundled: the framework that starts the function
 * (installed by the Cloud Functions build from the bundle's package.json) must be the very module the
 * function registers with, or it would not find it.
 */

import * as mod from "tributary:graph";
import * as functions from "@google-cloud/functions-framework";
import { graphOfModule } from "../../../contract/graph-module.ts";
import { gcpHandler } from "../gcp.ts";

export const handler = gcpHandler(graphOfModule("tributary:graph", mod));
functions.cloudEvent("handler", handler);
