import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../cli/in-process.ts";
import { EXAMPLE, REPO } from "../cli/run.ts";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-bundle-cli-"));
// In the example project's folder, as a user runs `tributary bundle` in theirs.
const cwd = process.cwd();
beforeAll(() => process.chdir(EXAMPLE));
afterAll(() => {
  process.chdir(cwd);
  fs.rmSync(scratch, { recursive: true, force: true });
});

const DUCKDB = (
  JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@duckdb/node-bindings/package.json"), "utf8")) as {
    version: string;
  }
).version;
const refused = (stderr: string) => ({ code: 1, stdout: "", stderr: `tributary: ${stderr}\n` });

describe("tributary bundle", () => {
  it("builds the stack's cloud and architecture and lists what it wrote", async () => {
    const out = path.join(scratch, "gcp");
    const r = await cli("bundle", "--stack", "staging-gcp", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout
      .replaceAll(out, "<out>")
      .replace(/\d+\.\d (MB|KB|s)\b/g, "<n> $1")
      .split("\n")
      .map((l) => l.trimEnd().replace(/ {2,}/g, "  "));
    expect(lines).toEqual([
      "gcp-x64 bundle of assets/index.ts (8 assets and sources) in <out>, built in <n> s:",
      "  index.mjs  <n> MB  bundle",
      "  ingest-worker.js  <n> KB  bundle",
      "  package.json  <n> KB  config",
      "  tributary-bundle.json  <n> KB  config",
      "",
      `bundle JS <n> MB, native binding not shipped (@duckdb/node-bindings-linux-x64@${DUCKDB}, installed by the Cloud Functions build), total <n> MB.`,
      "",
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(out, "tributary-bundle.json"), "utf8"))).toMatchObject({
      cloud: "gcp",
      arch: "x64",
      sourceMaps: false,
    });
  }, 120_000);

  it("ships source maps only when asked, and a stack that does not use them refuses them", async () => {
    const out = path.join(scratch, "maps");
    const r = await cli("bundle", "--cloud", "gcp", "--source-maps", "--out", out, "--json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { files: { path: string; role: string }[] };
    expect(report.files.filter((f) => f.role === "source map").map((f) => f.path)).toEqual([
      "index.mjs.map",
      "ingest-worker.js.map",
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(out, "tributary-bundle.json"), "utf8")).sourceMaps).toBe(
      true,
    );
    expect(await cli("bundle", "--stack", "staging-gcp", "--source-maps", "--out", out)).toEqual(
      refused(
        "--source-maps: stack staging-gcp deploys without source maps; set tributary:functions.sourceMaps: true in stacks/Pulumi.staging-gcp.yaml, or drop --source-maps.",
      ),
    );
  }, 120_000);

  it("says which cloud and architecture it cannot build", async () => {
    expect(await cli("bundle")).toEqual(
      refused("name the cloud to bundle for: --cloud aws|gcp|azure, or --stack <name>."),
    );
    expect(await cli("bundle", "--cloud", "gcp", "--arch", "arm64")).toEqual(
      refused("--arch arm64: Cloud Functions run on x64 only."),
    );
    expect(await cli("bundle", "--stack", "dev-aws", "--cloud", "azure")).toEqual(
      refused(
        "--cloud azure does not match stack dev-aws, which deploys to aws; drop --cloud or name a stack on azure.",
      ),
    );
    const r = await cli("bundle", "--cloud", "mars");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "tributary: option '--cloud <cloud>' argument 'mars' is invalid. Allowed choices are aws, gcp, azure.",
    );
  });

  it("leaves a folder that is not a bundle alone", async () => {
    const out = path.join(scratch, "mine");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "notes.txt"), "keep me\n");
    expect(await cli("bundle", "--cloud", "aws", "--out", out)).toEqual(
      refused(
        `--out ${out} holds files that are not a Tributary bundle; they are left alone: choose an empty or new folder.`,
      ),
    );
    expect(fs.readdirSync(out)).toEqual(["notes.txt"]);
  });
});
