/**
 * `node --import tributary/register`: a project's own TypeScript (its Pulumi program, graph module and
 * tributary.config.ts) loads without a build step of its own. It registers tsx's loaders, ESM and
 * CommonJS, exactly as `node --import tsx` does, with the tsx this package depends on (a project need not
 * install it). A project's `Pulumi.yaml` names it:
 *
 * ```yaml
 * runtime:
 *   name: nodejs
 *   options:
 *     nodeargs: "--import tributary/register"
 * ```
 *
 * Why not Node.js's own type stripping: Node 22.12 to 22.17 strip no types without a flag, and Node 24
 * strips only erasable syntax (no enums, no parameter properties). Why not Pulumi's ts-node: it
 * type-checks the three cloud SDKs on every run (about 9 s and 1 GB) and cannot load ESM TypeScript.
 */
import "tsx";
