/**
 * The child process of `synth()`: run one stack's program under mocks and write the synthesis (or the
 * user's error) to the file the parent named. Mocks keep global state, hence one process per stack.
 */
import * as fs from "node:fs";

// Pulumi's SDK captures \`new Error().stack\` for every promise it makes (one per output property), and
// tsx turns source maps on, so each capture maps every frame: 70% of a large synth's time. Nothing
// here reads those stacks (user errors are reported by message), so source maps stay off.
process.setSourceMapsEnabled(false);
process.setSourceMapsEnabled = () => {};

import * as pulumi from "@pulumi/pulumi";
import { TributaryError } from "../../kit/errors.ts";
import { runUnderMocks } from "./mocks.ts";

const request = JSON.parse(process.env.TRIBUTARY_SYNTH ?? "{}") as {
  main: string;
  project: string;
  stack: string;
  config: Record<string, string>;
  out: string;
};

try {
  const synthesis = await runUnderMocks(request);
  fs.writeFileSync(request.out, JSON.stringify(synthesis));
} catch (e) {
  // A RunError (what the program throws for a user's mistake) or a Tributary error: a message, no stack.
  if (pulumi.RunError.isInstance(e) || e instanceof TributaryError) {
    fs.writeFileSync(request.out, JSON.stringify({ error: (e as Error).message }));
    process.exit(1);
  }
  throw e;
}
