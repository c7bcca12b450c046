import { evaluate } from "../../infra/policy/rules/index.ts";
import { pulumiRoot } from "../../infra/pulumi-project.ts";
import { type ResourceRecord, type Synthesis, synth as synthesise } from "../../infra/synth/index.ts";
import { checkPii } from "../../runtime/lineage/pii.ts";
import type { Io } from "../io.ts";
import { commandGraph, commandProject } from "../project.ts";

export interface SynthOptions {
  stack: string;
  graph?: string;
  config?: string;
  json?: boolean;
  check?: boolean;
}

/**
 * `tributary synth --stack <name>`: every resource `pulumi up` would register for the stack, offline.
 * The program is the project's (Pulumi.yaml's `main`), given the project configuration and graph module
 * this command reads; like `pulumi up` it builds the functions' bundles when they are missing or stale,
 * saying so on standard error. With `--check`, the security policy pack runs on the resources too and
 * any violation fails the command.
 */
export async function synth(opts: SynthOptions, io: Io): Promise<number> {
  const project = await commandProject(opts);
  // The program deploys the project's graph: its personal data must be accounted for.
  await checkPii(await commandGraph(opts));
  const s = await synthesise({
    root: pulumiRoot(project),
    stack: opts.stack,
    ...(project.configFile ? { config: project.configFile } : {}),
    ...(opts.graph === undefined ? {} : { graph: project.graph }),
    progress: (line) => io.err(`${line}\n`),
  });
  const violations = opts.check ? evaluate(s.resources) : [];
  if (opts.json) {
    io.out(`${JSON.stringify(opts.check ? { ...s, violations } : s, null, 2)}\n`);
  } else {
    io.out(tree(s));
    if (opts.check && violations.length === 0) io.out("policy pack tributary-security: no violations\n");
  }
  for (const v of violations) io.err(`tributary: [${v.policy}] ${v.message} (${v.urn})\n`);
  return violations.length > 0 ? 1 : 0;
}

/** The resources as a tree under their components: `type  name`, children indented. */
export function tree(s: Synthesis): string {
  const children = new Map<string | undefined, ResourceRecord[]>();
  for (const r of s.resources) {
    const list = children.get(r.parent) ?? [];
    list.push(r);
    children.set(r.parent, list);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const r of children.get(parent) ?? []) {
      const flags = r.options ? ` [${Object.keys(r.options).join(", ")}]` : "";
      lines.push(`${"  ".repeat(depth)}${r.type}  ${r.name}${flags}`);
      walk(r.urn, depth + 1);
    }
  };
  walk(undefined, 0);
  const custom = s.resources.filter((r) => r.custom).length;
  lines.push(
    "",
    `stack ${s.stack}: ${custom} resources in ${s.resources.length - custom} components. ` +
      "`--json` prints every input; physical names get a random suffix when deployed.",
  );
  return `${lines.join("\n")}\n`;
}
