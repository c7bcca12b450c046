/**
 * The Pulumi program (Pulumi.yaml's `main`): `pulumi up --stack dev-aws` runs it with the stack's
 * configuration from stacks/Pulumi.dev-aws.yaml. deploy() reads tributary.config.ts, loads the graph,
 * builds the functions' code when it is missing or stale, and registers the stack's resources.
 */
import { deploy } from "tributary/pulumi";

export const { buckets, buses, functions, streams, tables } = await deploy();
