/**
 * The Azure Functions (Node.js v4 model) entry point of a bundle (`tributary bundle --cloud azure`),
 * the package's `main`: it registers the function's triggers with `app` when the worker loads it.
 * `handlers` are the same functions, for running the bundle outside the Functions host.
 */
import * as mod from "tributary:graph";
import { graphOfModule } from "../../../contract/graph-module.ts";
import { azureHandlers, registerAzure } from "../azure.ts";

const graph = graphOfModule("tributary:graph", mod);
registerAzure(graph);
export const handlers = azureHandlers(graph);
