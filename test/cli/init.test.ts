/**
 * `tributary init`: the files it writes, what it adds to a package.json already there, and its refusals
 * (each with its exact message, and nothing written). The project it writes is run for real, from the
 * packed package, in test/package/acceptance.test.ts.
 */
import * as fs from "node:fs";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { initCommand, namePrefix, projectName } from "../../src/cli/commands/init.ts";
import { NPM_PLACEHOLDER_TEST } from "../../src/cli/init/package-json.ts";
import { renderTemplate } from "../../src/cli/init/template.ts";
import { writeProject } from "../../src/cli/init/write.ts";
import { TributaryError } from "../../src/kit/errors.ts";
import { cli } from "./in-process.ts";
import { REPO } from "./run.ts";

const own = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  version: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Every file the template writes, in the order init lists them. */
const FILES = [
  ".github/workflows/pull-request.yml",
  ".gitignore",
  "Pulumi.yaml",
  "README.md",
  "assets/index.ts",
  "assets/sample-data.ts",
  "assets/site.ts",
  "deploy.ts",
  "stacks/Pulumi.dev-aws.yaml",
  "stacks/Pulumi.dev-azure.yaml",
  "stacks/Pulumi.dev-gcp.yaml",
  "test/pipeline.test.ts",
  "tributary.config.ts",
  "tsconfig.json",
];

const SCRIPTS = {
  test: "vitest run",
  typecheck: "tsc --noEmit",
  validate: "tributary validate",
  materialize: "tributary materialize",
  ui: "tributary ui",
};
const DEPENDENCIES = { "@pulumi/pulumi": own.dependencies["@pulumi/pulumi"] };
const DEV_DEPENDENCIES = {
  "@types/node": own.devDependencies["@types/node"],
  typescript: own.devDependencies.typescript,
  vitest: own.devDependencies.vitest,
};

const NEXT = `
Next:
  npm install                                  the project's packages (tests, type checks)
  npx tributary materialize                    materialise the sample week on this machine, in .tributary/
  npm test                                     the pipeline's tests
  npx tributary synth --stack dev-aws --check  what a deploy creates, offline, with the policy pack
  pulumi up --stack dev-aws                    deploy it (README.md: credentials and the stack's values first)
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "tributary-init-"));
  dirs.push(d);
  return d;
}

/** Every file under `dir`, relative and sorted. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** initCommand with its output captured, on 2026-12-07 (so the pipeline's first day is 2026-11-30). */
async function init(dir: string, opts: { tributary?: string; name?: string } = {}) {
  let stdout = "";
  let stderr = "";
  const io = {
    out: (t: string) => {
      stdout += t;
    },
    err: (t: string) => {
      stderr += t;
    },
    tty: false,
  };
  try {
    const code = await initCommand(dir, { ...opts, now: new Date("2026-12-07T10:00:00Z") }, io);
    return { code, stdout, stderr };
  } catch (e) {
    if (e instanceof TributaryError) return { code: 1, stdout, stderr: `tributary: ${e.message}\n` };
    throw e;
  }
}

describe("tributary init in a new folder", () => {
  it("writes the project, lists every file and says what to do next", async () => {
    const dir = join(tempDir(), "Web Analytics");
    const run = await init(dir);
    expect(run).toEqual({
      code: 0,
      stdout:
        `tributary init: project "web-analytics" in ${dir}\n  created  package.json\n` +
        FILES.map((f) => `  created  ${f}\n`).join("") +
        NEXT.replace("\nNext:\n", `\nNext:\n  cd ${JSON.stringify(dir)}\n`),
      stderr: "",
    });
    expect(tree(dir)).toEqual([...FILES, "package.json"].sort());
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toStrictEqual({
      name: "web-analytics",
      version: "0.1.0",
      private: true,
      type: "module",
      engines: { node: own.engines.node },
      scripts: SCRIPTS,
      dependencies: { ...DEPENDENCIES, tributary: `^${own.version}` },
      devDependencies: DEV_DEPENDENCIES,
    });
  });

  it("fills in the project's name, its resources' prefix and the sample week's first day", async () => {
    const dir = join(tempDir(), "analytics-pipelines");
    await init(dir);
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    expect(read("Pulumi.yaml")).toBe(`name: "analytics-pipelines"
description: The asset graph in assets/ deployed as a serverless data platform, one stack per environment and cloud.
runtime:
  name: nodejs
  options:
    # tributary/register loads the TypeScript of deploy.ts and the graph module (no build step), so
    # Pulumi's own loader (ts-node, with a TypeScript compiler) is turned off: it would only add time,
    # and fail on this tsconfig.json when the project has no TypeScript of its own installed.
    nodeargs: "--import tributary/register"
    typescript: false
    packagemanager: npm
main: deploy.ts
stackConfigDir: stacks
`);
    expect(read("deploy.ts")).toContain(
      'import { deploy } from "tributary/pulumi";\n\nexport const { buckets, buses, functions, streams, tables } = await deploy();\n',
    );
    expect(read("assets/site.ts")).toContain('export const FIRST_DAY = "2026-11-30";\n');
    for (const cloud of ["aws", "gcp", "azure"]) {
      const stack = read(`stacks/Pulumi.dev-${cloud}.yaml`);
      expect(stack).toContain(`  tributary:cloud: ${cloud}\n  tributary:environment: dev\n`);
      expect(stack).toContain('  tributary:namePrefix: "analytics-pi"\n');
      expect(stack).toContain("  tributary:pipelines:\n    - site\n");
    }
    expect(read("README.md").startsWith("# analytics-pipelines\n")).toBe(true);
    expect(read(".gitignore")).toContain("\n.tributary/\n");
    // Nothing left to fill in (GitHub's own `${{ … }}` expressions are not the template's).
    for (const f of FILES) expect(read(f), f).not.toMatch(/\{\{\w+\}\}/);
  });

  it("writes the dependency it is given, e.g. a package published under a scope", async () => {
    const dir = join(tempDir(), "p");
    await init(dir, { tributary: "npm:@acme/tributary@^0.1.0", name: "acme-data" });
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.name).toBe("acme-data");
    expect(pkg.dependencies).toStrictEqual({ ...DEPENDENCIES, tributary: "npm:@acme/tributary@^0.1.0" });
  });

  it("runs in the current folder without a folder argument, and is registered on the command line", async () => {
    const dir = join(tempDir(), "here");
    fs.mkdirSync(dir);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const run = await cli("init");
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout.startsWith(`tributary init: project "here" in ${dir}\n`)).toBe(true);
      expect(run.stdout.endsWith(NEXT)).toBe(true);
    } finally {
      process.chdir(cwd);
    }
    expect(tree(dir)).toEqual([...FILES, "package.json"].sort());
  });
});

describe("tributary init where a package.json is", () => {
  /** What `npm init -y && npm install <tarball>` leaves (npm 11). */
  const NPM_INIT = {
    name: "shop-data",
    version: "1.0.0",
    description: "",
    main: "index.js",
    scripts: { test: NPM_PLACEHOLDER_TEST },
    keywords: [],
    author: "",
    license: "ISC",
    type: "commonjs",
    dependencies: { tributary: "file:../tributary-0.1.0.tgz" },
  };

  it("keeps what it says, makes it a module, adds the scripts and dependencies, and keeps the installed tributary", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "package.json"), JSON.stringify(NPM_INIT, null, 2));
    const run = await init(dir);
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n").slice(0, 3)).toEqual([
      `tributary init: project "shop-data" in ${dir}`,
      '  updated  package.json: type "module" (was "commonjs"); engines.node ">=22.12"; ' +
        "scripts test, typecheck, validate, materialize, ui; dependencies @pulumi/pulumi; " +
        "devDependencies @types/node, typescript, vitest",
      "  created  .github/workflows/pull-request.yml",
    ]);
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))).toStrictEqual({
      ...NPM_INIT,
      type: "module",
      engines: { node: own.engines.node },
      scripts: SCRIPTS,
      dependencies: { ...DEPENDENCIES, tributary: "file:../tributary-0.1.0.tgz" },
      devDependencies: DEV_DEPENDENCIES,
    });
  });

  it("keeps scripts of its own under the same names, and says what the project's would be", async () => {
    const dir = tempDir();
    const theirs = {
      name: "x",
      type: "module",
      scripts: { test: "jest", ui: "tributary ui" },
      devDependencies: { vitest: "^4.0.0" },
    };
    writeFileSync(join(dir, "package.json"), JSON.stringify(theirs));
    const run = await init(dir);
    expect(run.stdout).toContain(
      '  updated  package.json: engines.node ">=22.12"; scripts typecheck, validate, materialize; ' +
        `dependencies tributary "^${own.version}"; dependencies @pulumi/pulumi; devDependencies @types/node, typescript\n`,
    );
    expect(run.stdout).toContain(
      'package.json keeps its own scripts.test; the project\'s would be: "test": "vitest run"\n',
    );
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    expect(pkg.scripts).toStrictEqual({ ...SCRIPTS, test: "jest" });
    expect(pkg.devDependencies).toStrictEqual({ ...DEV_DEPENDENCIES, vitest: "^4.0.0" });
  });

  it("replaces the installed tributary only when --tributary asks", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "package.json"), JSON.stringify(NPM_INIT));
    const run = await init(dir, { tributary: "^0.2.0" });
    expect(run.stdout).toContain(`dependencies tributary "^0.2.0" (was "file:../tributary-0.1.0.tgz")`);
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies.tributary).toBe("^0.2.0");
  });
});

describe("tributary init --install", () => {
  /** Runs init with an `npm` of our own first on the PATH: it prints what it was asked and exits with `exit`. */
  async function withNpm(exit: number) {
    const bin = tempDir();
    writeFileSync(
      join(bin, "npm"),
      `#!/bin/sh\necho "npm $* in $(pwd)"\necho "npm says no" >&2\nexit ${exit}\n`,
      {
        mode: 0o755,
      },
    );
    const dir = join(tempDir(), "p");
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      let stdout = "";
      let stderr = "";
      const io = {
        out: (t: string) => {
          stdout += t;
        },
        err: (t: string) => {
          stderr += t;
        },
      };
      const code = await initCommand(dir, { install: true }, io);
      return { dir, code, stdout, stderr };
    } finally {
      process.env.PATH = path;
    }
  }

  it("runs npm install in the project once it is written, and leaves it out of the next steps", async () => {
    const run = await withNpm(0);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `  created  tsconfig.json\n\nnpm install\nnpm install in ${run.dir}\n\nNext:\n  cd ${run.dir}\n  npx tributary materialize  `,
    );
    expect(run.stderr).toBe("npm says no\n");
  });

  it("says so when npm install fails, and exits 1 with the project written", async () => {
    const run = await withNpm(3);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `npm says no\ntributary: npm install exited with 3 in ${run.dir}; the project is written: run npm install there.\n`,
    );
    expect(tree(run.dir)).toEqual([...FILES, "package.json"].sort());
  });
});

describe("tributary init refuses, and writes nothing", () => {
  it("when files it would write exist: it names every one", async () => {
    const dir = tempDir();
    fs.mkdirSync(join(dir, "stacks"));
    writeFileSync(join(dir, "README.md"), "# mine\n");
    writeFileSync(join(dir, "stacks", "Pulumi.dev-aws.yaml"), "config: {}\n");
    const run = await init(dir);
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr:
        `tributary: init would overwrite 2 files in ${dir}: README.md, stacks/Pulumi.dev-aws.yaml. ` +
        "Nothing was written: move them away, or run tributary init in another folder.\n",
    });
    expect(tree(dir)).toEqual(["README.md", "stacks/Pulumi.dev-aws.yaml"]);
    expect(readFileSync(join(dir, "README.md"), "utf8")).toBe("# mine\n");
  });

  it("when a file stands where it writes a folder", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "assets"), "");
    writeFileSync(join(dir, "package.json"), "{}");
    const run = await init(dir);
    expect(run.stderr).toBe(
      `tributary: init would overwrite 1 file in ${dir}: assets. Nothing was written: move them away, or run tributary init in another folder.\n`,
    );
    expect(tree(dir)).toEqual(["assets", "package.json"]);
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe("{}");
  });

  it("through the command line too: exit 1, one line, no stack trace", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "deploy.ts"), "");
    const run = await cli("init", dir);
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr: `tributary: init would overwrite 1 file in ${dir}: deploy.ts. Nothing was written: move them away, or run tributary init in another folder.\n`,
    });
  });

  it("when package.json is not JSON", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "package.json"), '{ "name": "x", }');
    const run = await init(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^tributary: ${dir}/package\\.json is not valid JSON \\(.+\\); fix it, then run tributary init again\\. Nothing was written\\.\\n$`,
      ),
    );
    expect(tree(dir)).toEqual(["package.json"]);
  });

  it("when package.json holds something else than an object", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "package.json"), "[]");
    expect((await init(dir)).stderr).toBe(
      `tributary: ${dir}/package.json does not hold a JSON object; fix it, then run tributary init again. Nothing was written.\n`,
    );
    expect(tree(dir)).toEqual(["package.json"]);
  });

  it("when the folder is a file", async () => {
    const file = join(tempDir(), "notes.txt");
    writeFileSync(file, "");
    expect((await init(file)).stderr).toBe(
      `tributary: ${file} is a file; give tributary init a folder (new or existing).\n`,
    );
  });

  it("when --name cannot name a project", async () => {
    const dir = join(tempDir(), "p");
    expect((await init(dir, { name: "My Pipelines" })).stderr).toBe(
      'tributary: --name "My Pipelines" cannot name a project: use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit.\n',
    );
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe("a write that fails half-way", () => {
  it("removes what it wrote, folders included, and puts package.json back", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "package.json"), "{}");
    const files = [
      { path: "a.txt", text: "a" },
      { path: "deep/er/b.txt", text: "b" },
      { path: "package.json", text: '{"name":"new"}' },
      { path: "c/c.txt", text: "c" },
    ];
    let writes = 0;
    const failing: typeof fs.writeFileSync = (file, data, options) => {
      if (++writes === 4) {
        throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC", path: file });
      }
      fs.writeFileSync(file, data, options);
    };
    expect(() => writeProject(dir, files, failing)).toThrow(
      new TributaryError(`cannot write ${dir}/c/c.txt (ENOSPC); nothing was written.`),
    );
    expect(tree(dir)).toEqual(["package.json"]);
    expect(readdirSync(dir)).toEqual(["package.json"]);
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe("{}");
  });
});

describe("names", () => {
  it("a folder's name becomes a project name npm and Pulumi accept", () => {
    expect(projectName("Web Analytics")).toBe("web-analytics");
    expect(projectName("_data.Platform")).toBe("data.platform");
    expect(projectName("données")).toBe("donn-es");
    expect(projectName("!!!")).toBe("pipelines");
  });

  it("the stacks' name prefix: up to 12 characters, starting with a letter, no trailing dash", () => {
    expect(namePrefix("web-analytics")).toBe("web-analytic");
    expect(namePrefix("analytics-pipelines")).toBe("analytics-pi");
    expect(namePrefix("2024.data_x")).toBe("data-x");
    expect(namePrefix("42")).toBe("trib");
  });

  it("every template file renders, with nothing left to fill in", () => {
    const files = renderTemplate({ name: "n", namePrefix: "p", firstDay: "2026-01-01" });
    expect(files.map((f) => f.path)).toEqual(FILES);
  });
});
