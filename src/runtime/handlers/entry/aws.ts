/**
 * The AWS Lambda entry point of a bundle (`tributary bundle --cloud aws`): the Lambda handler
 * `index.handler` of every function of the stack, each told by its environment which asset it runs.
 */
import * as mod from "tributary:graph";
import { graphOfModule } from "../../../contract/graph-module.ts";
import { awsHandler } from "../aws.ts";

export const handler = awsHandler(graphOfModule("tributary:graph", mod));
