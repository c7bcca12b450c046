/**
 * The project configuration: every `tributary` command run in this folder, and the Pulumi program
 * (deploy.ts), read it.
 */
import { defineConfig } from "tributary";

export default defineConfig({ graph: "assets/index.ts", stacks: "stacks" });
