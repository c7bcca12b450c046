/**
 * The project configuration: every `tributary` command and the Pulumi program (deploy.ts) read it, so
 * what `tributary plan` shows is what `pulumi up` deploys. Paths are relative to this file.
 */
import { defineConfig } from "tributary";
import { writeSampleData } from "./assets/sample-data.ts";

export default defineConfig({
  graph: "assets/index.ts",
  stacks: "stacks",
  // The local store `tributary materialize` writes to (default .tributary).
  store: ".tributary",
  // A store with no data yet gets a seeded week of page views: delete this line when real data lands.
  sampleData: writeSampleData,
});
