/**
 * The project's graph: every pipeline this repository ships, validated once at load.
 * `tributary` loads this module by default (`--graph <module>` loads another).
 */
import { defineGraph } from "tributary";
import { commerce } from "./pipelines/commerce/index.ts";

export default defineGraph([commerce]);
