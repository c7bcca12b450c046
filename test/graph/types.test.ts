import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = fileURLToPath(new URL("../fixtures/types/wrong-row.ts", import.meta.url));

/** Type-check one file with the project's compiler options; return its diagnostics as "line: TSxxxx". */
function diagnostics(file: string): string[] {
  const config = ts.readConfigFile(`${root}tsconfig.json`, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file)
    .map((d) => {
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start!);
      return `${line + 1}: TS${d.code}`;
    });
}

describe("typed declarations", () => {
  it("refuse wrong rows, unknown inputs and unknown columns at compile time", () => {
    // Lines of test/fixtures/types/wrong-row.ts: each mistake is an error; the correct asset at the end is not.
    expect(diagnostics(fixture)).toEqual([
      "14: TS2322", // compute returns { totl } where the schema says { total }
      "22: TS2322", // compute returns a string where the schema says integer
      "30: TS2339", // compute reads an input that is not a dependency
      "39: TS2322", // a check on a column the schema does not declare
      "44: TS2322", // a dependency column its producer does not declare
      "51: TS2769", // a source's eventId that is not a field (no overload of source() takes it)
      "65: TS2345", // a compute asset without a codeVersion
    ]);
  });
});
