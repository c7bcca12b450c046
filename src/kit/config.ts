/**
 * The project configuration a project declares in `tributary.config.ts`:
 *
 *   import { defineConfig } from "tributary";
 *   export default defineConfig({ graph: "assets/index.ts" });
 *
 * Paths are relative to the configuration file. Every command and the Pulumi program read the same
 * file, so what `tributary plan` shows is what `tributary synth` and `pulumi up` deploy.
 */
export interface ProjectConfig {
  /** The graph module: default export `defineGraph([...])`. Default `assets/index.ts`. */
  readonly graph?: string;
  /** The folder of the stacks' `Pulumi.<stack>.yaml` files. Default `stacks`. */
  readonly stacks?: string;
  /** The local store the commands read and write (`--store` and $TRIBUTARY_STORE come first). Default `.tributary`. */
  readonly store?: string;
  /** The folder of the functions' bundles, `<bundles>/<cloud>-<arch>/`. Default `dist/bundles`. */
  readonly bundles?: string;
  /**
   * Sample input for a first run: `tributary materialize` on a store with no data calls it and ingests
   * what it returns. Comes before a `sampleData` export of the graph module.
   */
  readonly sampleData?: SampleData;
}

/**
 * A sample-data hook: write sample input files into `dir` and return them by source key (NDJSON files or
 * folders of them), for a first run on a machine with no data.
 */
export type SampleData = (dir: string) => Promise<Readonly<Record<string, readonly string[]>>>;

/** Declares the project configuration (identity at run time; it types the object). */
export function defineConfig(config: ProjectConfig): ProjectConfig {
  return config;
}
