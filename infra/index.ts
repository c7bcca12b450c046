/**
 * The Pulumi program (`main` in Pulumi.yaml): stack config → deployment plan → cloud adapter.
 *
 * The deployment plan and the cloud adapters arrive with the infrastructure issues; until then the
 * program creates no cloud resource and exports what every stack will be built from: the validated
 * asset graph's keys and its static lineage.
 */
import * as pulumi from "@pulumi/pulumi";
import { toLineage } from "tributary";
import graph from "../assets/index.ts";

const stack = pulumi.getStack();

/** Every asset and source key, in topological order. */
export const assets = graph.order;
/** The static lineage document (nodes, edges, columns, partition mappings). */
export const lineage = toLineage(graph);
/** The stack this program ran for. */
export const stackName = stack;
