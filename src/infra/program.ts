/**
 * This repository's Pulumi program (`main` in Pulumi.yaml): the project's stack, as a user's program
 * deploys it, through `deploy()` (infra/deploy.ts, the package's `tributary/pulumi`).
 *
 * `pulumi up` runs it per stack; `tributary synth` runs the very same module offline under Pulumi's
 * mocks.
 */
import { deploy } from "./deploy.ts";

export const { buckets, buses, functions, streams, tables, lineage, stackName } = await deploy();
