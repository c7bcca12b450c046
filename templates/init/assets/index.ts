/**
 * The project's graph module (tributary.config.ts names it): every pipeline of the project, validated
 * once at load. Add a pipeline by importing its assets and listing them here.
 */
import { defineGraph } from "tributary";
import { site } from "./site.ts";

export default defineGraph([site]);
