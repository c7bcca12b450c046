/**
 * Before any test file: dist/ up to date with src/ (`npm run build`, incremental: half a second when
 * nothing changed). The tests import the sources, but what they start (the `tributary` bin, Pulumi's
 * runner with `--import tributary/register`, the example's program importing `tributary/pulumi`) runs
 * the compiled package, as a user's project does. Also the run's folder for the packed package
 * (TRIBUTARY_PACKED, see pack.ts), removed after the run.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

export default function setup(): () => void {
  const started = performance.now();
  execFileSync(process.execPath, ["scripts/build.mjs"], {
    cwd: REPO,
    stdio: ["ignore", "inherit", "inherit"],
  });
  console.info(`the package (dist/) built in ${Math.round(performance.now() - started)} ms`);
  const packed = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-packed-"));
  process.env.TRIBUTARY_PACKED = packed;
  return () => fs.rmSync(packed, { recursive: true, force: true });
}
