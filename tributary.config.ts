/**
 * This repository's project configuration: at its root, the commands work on the reference pipeline,
 * the project in examples/commerce (whose own configuration is examples/commerce/tributary.config.ts).
 */
import { defineConfig } from "tributary";

export default defineConfig({
  graph: "examples/commerce/assets/index.ts",
  stacks: "examples/commerce/stacks",
});
