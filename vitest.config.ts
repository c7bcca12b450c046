import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The functions' bundles, built once: the stacks deploy them, test/bundle/ runs them.
    globalSetup: ["test/bundle/global-setup.ts"],
    // CLI and DuckDB tests start processes; two cores are all we have.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
