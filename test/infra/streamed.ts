/**
 * The reference graph with CDC sources (fixtures/cdc-program.ts), synthesised for a stack of the example
 * and run under Pulumi's own runner, from a throwaway project that shares the example's stack files and
 * this repository's packages.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { configMap } from "../../src/infra/config.ts";
import { type Synthesis, synth } from "../../src/infra/synth/index.ts";
import { runProgram } from "../../src/infra/synth/monitor.ts";
import { configRegion, fakeInvoke, fakeOutputs } from "../../src/infra/synth/outputs/index.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const PROGRAM = path.join(HERE, "fixtures", "cdc-program.ts");

export interface CdcProject {
  /** `tributary synth` of the program for `stack`. */
  synth(stack: string): Promise<Synthesis>;
  /** What the same program registers under Pulumi's own runner (`cmd/run` against the local monitor). */
  run(stack: string): Promise<Pick<Synthesis, "resources" | "outputs">>;
  remove(): void;
}

export function cdcProject(): CdcProject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-cdc-"));
  fs.writeFileSync(
    path.join(dir, "Pulumi.yaml"),
    [
      "name: tributary",
      "runtime:",
      "  name: nodejs",
      "  options:",
      '    nodeargs: "--import tributary/register"',
      "    typescript: false",
      `main: ${PROGRAM}`,
      "stackConfigDir: stacks",
      "",
    ].join("\n"),
  );
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  fs.symlinkSync(path.join(REPO, "examples", "commerce", "stacks"), path.join(dir, "stacks"), "dir");
  return {
    synth: (stack) => synth({ root: dir, stack }),
    run: async (stack) => {
      const config = configMap(dir, stack);
      const region = configRegion(config);
      return runProgram({
        cwd: dir,
        main: PROGRAM,
        project: "tributary",
        stack,
        config,
        nodeargs: ["--import", "tributary/register"],
        typescript: false,
        newResource: (r) => fakeOutputs(r, region),
        invoke: (token, args) => fakeInvoke(token, args, config),
        // A loaded machine runs several programs at once.
        timeoutMs: 600_000,
      });
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
