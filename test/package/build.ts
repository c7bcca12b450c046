/**
 * Before any test file: dist/ up to date with src/ (`npm run build`, incremental: half a second when
 * nothing changed). The tests import the sources, but what they start (the `tributary` bin, Pulumi's
 * runner with `--import tributary/register`, the example's program importing `tributary/pulumi`) runs
 * the compiled package, as a user's project does.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

export default function setup(): void {
  const started = performance.now();
  execFileSync(process.execPath, ["scripts/build.mjs"], {
    cwd: REPO,
    stdio: ["ignore", "inherit", "inherit"],
  });
  console.info(`the package (dist/) built in ${Math.round(performance.now() - started)} ms`);
}
