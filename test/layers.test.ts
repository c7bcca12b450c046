import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importCycles, importsOf, layerViolations, readSources, selfExports } from "./layers.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  name: string;
  exports: unknown;
};

describe("the layers of src/", () => {
  const sources = readSources(root);
  const self = selfExports(pkg);

  it("reads every file of every layer", () => {
    const layers = new Set(sources.map((s) => s.file.split("/")[1]));
    expect([...layers].sort()).toEqual(["cli", "contract", "infra", "kit", "runtime"]);
    expect(self.get("tributary")).toBe("src/kit/index.ts");
  });

  it("has no import that crosses a layer the wrong way", () => {
    expect(layerViolations(sources, self)).toEqual([]);
  });

  it("has no import cycle anywhere", () => {
    expect(importCycles(sources, self)).toEqual([]);
  });
});

describe("layerViolations", () => {
  it("names the file, the import and the rule it breaks", () => {
    const self = new Map([["tributary", "src/kit/index.ts"]]);
    expect(
      layerViolations(
        [
          { file: "src/kit/graph.ts", imports: ["./asset.ts", "../contract/project.ts", "graphology"] },
          {
            file: "src/contract/storage-layout.ts",
            imports: ["../kit/errors.ts", "../runtime/storage/port.ts"],
          },
          {
            file: "src/runtime/handlers/core.ts",
            imports: ["../../contract/function-env.ts", "../../infra/plan/types.ts", "tributary"],
          },
          { file: "src/infra/preview/diff.ts", imports: ["../../runtime/lineage/pii.ts", "../../cli/io.ts"] },
          {
            file: "src/infra/bundle/build.ts",
            imports: ["../../../package.json", "../../../test/helpers.ts"],
          },
          {
            file: "src/cli/main.ts",
            imports: ["../infra/program.ts", "../runtime/engine/steps.ts", "tributary"],
          },
          { file: "src/tools/x.ts", imports: [] },
        ],
        self,
      ),
    ).toEqual([
      'src/kit/graph.ts: imports "../contract/project.ts" (contract/): kit/ may import nothing outside kit/',
      'src/contract/storage-layout.ts: imports "../runtime/storage/port.ts" (runtime/): contract/ may import only kit/',
      'src/runtime/handlers/core.ts: imports "../../infra/plan/types.ts" (infra/): runtime/ may import only kit and contract/',
      'src/infra/preview/diff.ts: imports "../../runtime/lineage/pii.ts" (runtime/): infra/ may import only kit and contract/',
      'src/infra/preview/diff.ts: imports "../../cli/io.ts" (cli/): infra/ may import only kit and contract/',
      'src/infra/bundle/build.ts: imports "../../../test/helpers.ts" (test/helpers.ts), outside src/',
      "src/tools/x.ts: is in no layer (src/kit|contract|runtime|infra|cli/)",
    ]);
  });

  it("reads the package's own entry points as the files they stand for", () => {
    const self = selfExports({
      name: "tributary",
      exports: {
        ".": {
          types: "./dist/kit/index.d.ts",
          "tributary:source": "./src/kit/index.ts",
          default: "./dist/kit/index.js",
        },
        "./pulumi": { types: "./dist/infra/deploy.d.ts", "tributary:source": "./src/infra/deploy.ts" },
        "./package.json": "./package.json",
      },
    });
    expect([...self]).toEqual([
      ["tributary", "src/kit/index.ts"],
      ["tributary/pulumi", "src/infra/deploy.ts"],
    ]);
    expect(
      layerViolations([{ file: "src/runtime/x.ts", imports: ["tributary", "tributary/pulumi"] }], self),
    ).toEqual([
      'src/runtime/x.ts: imports "tributary/pulumi" (infra/): runtime/ may import only kit and contract/',
    ]);
  });
});

describe("importsOf", () => {
  it("finds static, type-only, re-exported and dynamic imports of a string literal", () => {
    const text = [
      'import { a } from "./a.ts";',
      'import type { B } from "../b.ts";',
      'export { c } from "./c.ts";',
      'export * from "./d.ts";',
      'const e = await import("./e.ts");',
      // A template literal is no string literal: not read.
      "const f = await import(`./$" + "{name}.ts`);",
      '// import { g } from "./g.ts";',
      "const h = \"import x from './h.ts'\";",
    ].join("\n");
    expect(importsOf(text)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts"]);
  });
});

describe("importCycles", () => {
  it("finds each cycle once, as a path from its first file back to it", () => {
    expect(
      importCycles([
        { file: "src/infra/policy/rules.ts", imports: ["./gcp.ts", "./read.ts"] },
        { file: "src/infra/policy/gcp.ts", imports: ["./rules.ts", "./read.ts"] },
        { file: "src/infra/policy/read.ts", imports: [] },
        { file: "src/runtime/handlers/core.ts", imports: ["./outbox.ts"] },
        { file: "src/runtime/handlers/outbox.ts", imports: ["./events.ts"] },
        { file: "src/runtime/handlers/events.ts", imports: ["./core.ts", "node:fs"] },
        { file: "src/kit/self.ts", imports: ["./self.ts"] },
      ]),
    ).toEqual([
      "src/infra/policy/gcp.ts -> src/infra/policy/rules.ts -> src/infra/policy/gcp.ts",
      "src/kit/self.ts -> src/kit/self.ts",
      "src/runtime/handlers/core.ts -> src/runtime/handlers/outbox.ts -> src/runtime/handlers/events.ts -> src/runtime/handlers/core.ts",
    ]);
  });

  it("finds none in a graph without one", () => {
    expect(
      importCycles([
        { file: "src/infra/policy/rules/index.ts", imports: ["./aws.ts", "./gcp.ts", "./common.ts"] },
        { file: "src/infra/policy/rules/aws.ts", imports: ["./common.ts"] },
        { file: "src/infra/policy/rules/gcp.ts", imports: ["./common.ts"] },
        { file: "src/infra/policy/rules/common.ts", imports: [] },
      ]),
    ).toEqual([]);
  });
});
