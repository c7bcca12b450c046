/**
 * The Pulumi program (`main` in Pulumi.yaml): `pulumi up --stack <stack>` runs it, and `tributary synth
 * --stack <stack>` runs the same module offline under Pulumi's mocks. deploy() reads tributary.config.ts
 * and stacks/Pulumi.<stack>.yaml, plans the graph for the stack and registers its resources.
 */
import { deploy } from "tributary/pulumi";

export const { buckets, buses, functions, streams, tables, lineage, stackName } = await deploy();
