/**
 * `tributary/pulumi`: the Pulumi side of the package, called by a project's own Pulumi program.
 *
 * ```ts
 * import { deploy } from "tributary/pulumi";
 * export const { buckets, buses, functions } = await deploy();
 * ```
 *
 * Placeholder of the package's layout (issue 16): deploy() runs today's program (program.ts), which
 * reads the project's configuration and the stack, plans and registers everything when imported.
 */
export async function deploy() {
  return await import("./program.ts");
}
