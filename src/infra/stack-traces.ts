/**
 * Stack traces, and Pulumi's other debugging aids, in the Pulumi program's process. `deploy()`
 * (deploy.ts) imports this module before it loads the user's graph module, and calls `lean` once every
 * module has loaded and the bundles are built.
 *
 * On import: Pulumi's runner (`@pulumi/pulumi/cmd/run`) installs source-map-support, which reads source
 * maps from the files on disk and so cannot see the ones tsx makes in memory: an error in the user's
 * graph module would name a line of the transpiled code. Without it, Node's own mapping (which tsx turns
 * on) names the user's file and line.
 */
import * as pulumi from "@pulumi/pulumi";

Object.assign(Error, { prepareStackTrace: undefined });

/** Set it (to anything) to keep the debugging aids `lean` turns off, to debug the program or the SDK. */
export const DEBUG_PROGRAM = "TRIBUTARY_DEBUG_PROGRAM";

/**
 * The program without the SDK's debugging aids, which were nearly all of a large program's time
 * (bench/synth-scale.ts); to be called once the user's modules have loaded (their errors reported):
 * - Pulumi's SDK takes `new Error().stack` for every promise it makes (a few dozen per resource), each
 *   frame mapped through the source maps. None of these traces is read unless the SDK finds a bug of
 *   its own: no frames, no mapping. A user's mistake is a RunError, printed by its message alone; the
 *   SDK still records each resource's source position (it lifts the frame limit for that capture).
 * - The SDK sends the engine three debug messages per resource, one RPC after the other, which the CLI
 *   shows only with `--debug` or `-v`: the engine logs each registration itself.
 */
export function lean(): void {
  if (process.env[DEBUG_PROGRAM]) return;
  process.setSourceMapsEnabled(false);
  Error.stackTraceLimit = 0;
  Object.assign(pulumi.log, { debug: () => Promise.resolve() });
}
