import { defineConfig } from "vitest/config";

/**
 * `import "tributary"` (the tests', the example's, the package's own) resolves to the TypeScript
 * sources, so the tests load one copy of the kit: an AssetGraph of two copies is two classes. Processes
 * the tests start run the package as a user's project does: dist/, built first (test/package/build.ts).
 */
// Setting the list replaces vitest's own, which follow ours ("module" is not one of them: it selects
// builds meant for bundlers). Vitest also starts its workers with these as --conditions.
const conditions = ["tributary:source", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    // dist/ up to date (the CLI the tests start is the compiled package); then the functions' bundles,
    // built once: the stacks deploy them, test/bundle/ runs them.
    globalSetup: ["test/package/build.ts", "test/bundle/global-setup.ts"],
    // CLI and DuckDB tests start processes; two cores are all we have.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
