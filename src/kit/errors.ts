/**
 * Typed errors of the declaration kit. Callers match on the class, never on the message text.
 * Every message names the asset(s) involved and says what to do.
 */

/** A mistake in what the user wrote: the CLI prints the message without a stack trace and exits 1. */
export class TributaryError extends Error {
  override name = "TributaryError";
}

/** A problem in one asset or source declaration, found when it is declared or when the graph is built. */
export class GraphError extends TributaryError {
  override name = "GraphError";
  /** The asset keys the problem concerns, in the order the message names them. */
  readonly assets: readonly string[];
  constructor(message: string, assets: readonly string[]) {
    super(message);
    this.assets = assets;
  }
}

export class InvalidKeyError extends GraphError {
  override name = "InvalidKeyError";
}
export class DuplicateKeyError extends GraphError {
  override name = "DuplicateKeyError";
}
export class UnknownDependencyError extends GraphError {
  override name = "UnknownDependencyError";
}
export class CycleError extends GraphError {
  override name = "CycleError";
  /** The cycle as a path whose first and last keys are the same, e.g. [a, b, c, a]. */
  readonly path: readonly string[];
  constructor(path: readonly string[]) {
    super(`graph: cycle between assets: ${path.join(" -> ")}. Remove one of these dependencies.`, path);
    this.path = path;
  }
}
export class PartitionMappingError extends GraphError {
  override name = "PartitionMappingError";
}
export class ColumnError extends GraphError {
  override name = "ColumnError";
}
export class ScheduleError extends GraphError {
  override name = "ScheduleError";
}
export class CheckError extends GraphError {
  override name = "CheckError";
}
/** A secret named but not declared, declared twice differently, or used where it cannot be. */
export class SecretError extends GraphError {
  override name = "SecretError";
}
/** Any other invalid option of a declaration (a bad field name, conflicting options). */
export class DeclarationError extends GraphError {
  override name = "DeclarationError";
}

/** Everything wrong with a graph, found in one pass so the user sees all of it at once. */
export class GraphValidationError extends TributaryError {
  override name = "GraphValidationError";
  readonly errors: readonly GraphError[];
  constructor(errors: readonly GraphError[]) {
    const lines = errors.map((e) => `  - ${e.message.replace(/^graph: /, "")}`);
    super(`graph: ${errors.length} error${errors.length === 1 ? "" : "s"}:\n${lines.join("\n")}`);
    this.errors = errors;
  }
}

export class SelectionError extends TributaryError {
  override name = "SelectionError";
}
