/**
 * A Pulumi project as Pulumi's language host starts it: `node [nodeargs] cmd/run … <main>` in the
 * project's folder, with what its Pulumi.yaml says (for the example, nodeargs "--import
 * tributary/register", so the program and the package it imports run as in a user's project).
 */
import { pulumiProject } from "../../src/infra/pulumi-project.ts";
import { EXAMPLE } from "../cli/run.ts";

export interface PulumiProjectRun {
  readonly cwd: string;
  readonly main: string;
  readonly project: string;
  readonly nodeargs: string[];
  /** `runtime.options.typescript` (Pulumi's default: true, which registers its own ts-node too). */
  readonly typescript: boolean;
}

/** How Pulumi starts the program of the project at `dir`, read by the package's own Pulumi.yaml reader. */
export function pulumiRun(dir: string): PulumiProjectRun {
  const { name, main, nodeargs, typescript } = pulumiProject(dir);
  return { cwd: dir, main, project: name, nodeargs, typescript };
}

/** The example's program, as Pulumi starts it. */
export function examplePulumiRun(): PulumiProjectRun {
  return pulumiRun(EXAMPLE);
}
