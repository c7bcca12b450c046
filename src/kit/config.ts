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
}

/** Declares the project configuration (identity at run time; it types the object). */
export function defineConfig(config: ProjectConfig): ProjectConfig {
  return config;
}
