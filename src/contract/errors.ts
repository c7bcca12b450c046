/**
 * Errors of loading a user's project: light on purpose (the CLI's top-level catch imports them, and
 * `--help` must not load the kit's dependencies).
 */
import { TributaryError } from "../kit/errors.ts";

/** The graph module could not be loaded: missing, wrong export, or an invalid graph. A user error. */
export class GraphModuleError extends TributaryError {
  override name = "GraphModuleError";
}

/**
 * Tributary's own code threw while the graph module was imported (a frame of this package is where it
 * was thrown; what the user's code throws is a UserCodeError, see user-code.ts). A bug: the CLI prints
 * the stack of `cause` and exits 2.
 */
export class GraphModuleCrash extends Error {
  override name = "GraphModuleCrash";
  /** The module as the user named it. */
  readonly module: string;
  constructor(module: string, cause: unknown) {
    super(`the graph module ${module} threw while loading`, { cause });
    this.module = module;
  }
}
