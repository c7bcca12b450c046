/**
 * The graph module of a cloud function's bundle. `tributary bundle` resolves this specifier to the
 * project's graph module (`--graph`, default assets/index.ts), so each entry point imports the graph the
 * way `tributary` loads it, without knowing its path.
 */
declare module "tributary:graph" {
  /** The asset graph (`defineGraph([...])`), or the list of its assets and sources. */
  const graph: unknown;
  export default graph;
}
