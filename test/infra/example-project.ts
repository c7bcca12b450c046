/**
 * The example's Pulumi project as Pulumi's language host starts it: `node [nodeargs] cmd/run … <main>`
 * in the project's folder, with what its Pulumi.yaml says (nodeargs "--import tributary/register", so
 * the program and the package it imports run as in a user's project).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { EXAMPLE } from "../cli/run.ts";

export interface PulumiProjectRun {
  readonly cwd: string;
  readonly main: string;
  readonly project: string;
  readonly nodeargs: string[];
  /** `runtime.options.typescript` (Pulumi's default: true, which registers its own ts-node too). */
  readonly typescript: boolean;
}

export function examplePulumiRun(): PulumiProjectRun {
  const project = parse(fs.readFileSync(path.join(EXAMPLE, "Pulumi.yaml"), "utf8")) as {
    name: string;
    main: string;
    runtime: { options: { nodeargs: string; typescript?: boolean } };
  };
  return {
    cwd: EXAMPLE,
    main: project.main,
    project: project.name,
    nodeargs: project.runtime.options.nodeargs.split(/\s+/),
    typescript: project.runtime.options.typescript ?? true,
  };
}
