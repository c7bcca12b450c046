/**
 * The CLI's own error classes. Light on purpose: `main.ts` imports them for its top-level catch, and
 * `--help` must not load the kit's dependencies.
 */

export { GraphModuleCrash, GraphModuleError } from "../contract/errors.ts";
