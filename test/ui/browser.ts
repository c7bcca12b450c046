/**
 * Debian's Chromium, driven by playwright-core: never a downloaded browser. `CHROMIUM` names another
 * binary. Without one, browser tests are skipped on a developer's machine and fail in CI, where
 * `.ci/run` installs the package.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { REPO } from "../cli/run.ts";

export function chromiumPath(): string | undefined {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      return execFileSync("which", [name], { encoding: "utf8" }).trim() || undefined;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Skip on a machine without Chromium, but never in CI: there a missing browser is a failure. */
export const noBrowser = chromiumPath() === undefined && !process.env.CI;

export async function launch(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("no chromium: `apt-get install chromium` (Debian), or set CHROMIUM");
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Where the test run leaves screenshots for review. */
export function screenshotPath(name: string): string {
  const dir = path.join(REPO, "test-results", "ui");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}
