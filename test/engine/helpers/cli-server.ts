/**
 * A long-lived `tributary` for tests, started with `node --import tsx` like the bin: it runs the CLI
 * commands it receives over IPC one after another and sends back the exit code and what they printed.
 * The graph module is loaded by tsx, as in `node bin/tributary.js`, and each command is spared the start
 * of a new process.
 */
import { run } from "../../../src/cli/main.ts";

export interface CliRequest {
  readonly id: number;
  readonly argv: readonly string[];
}

export interface CliReply {
  readonly id: number;
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

let queue = Promise.resolve();

process.on("message", (request: CliRequest) => {
  queue = queue.then(async () => {
    let out = "";
    let err = "";
    let code: number;
    try {
      code = await run(["node", "tributary", ...request.argv], {
        out: (t) => {
          out += t;
        },
        err: (t) => {
          err += t;
        },
        tty: false,
      });
    } catch (e) {
      code = 99;
      err += `cli-server: ${(e as Error).stack ?? String(e)}\n`;
    }
    const reply: CliReply = { id: request.id, code, out, err };
    process.send!(reply);
  });
});
