/**
 * The package as `npm pack` makes it, packed at most once per test run: the tarball a user installs
 * (`npm install <tarball>`). dist/ is already built (test/package/build.ts, before any test file), so
 * the pack skips `prepare`. The tarball goes to the run's folder named by TRIBUTARY_PACKED (made by
 * build.ts, removed after the run); test files share it.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { REPO } from "../cli/run.ts";

const run = promisify(execFile);

/** What `npm pack --json` says of the tarball. */
export interface Packed {
  /** The tarball's absolute path. */
  readonly tarball: string;
  /** Its size in bytes. */
  readonly size: number;
  /** The files in it, relative to the package's root, sorted. */
  readonly files: readonly string[];
}

let packing: Promise<Packed> | undefined;

/** The packed package (packed by the first caller of the run; later callers get the same tarball). */
export function packed(): Promise<Packed> {
  packing ??= pack();
  return packing;
}

async function pack(): Promise<Packed> {
  const dir = process.env.TRIBUTARY_PACKED;
  if (!dir) throw new Error("TRIBUTARY_PACKED is not set: test/package/build.ts makes it before the tests");
  const record = path.join(dir, "packed.json");
  if (fs.existsSync(record)) return JSON.parse(fs.readFileSync(record, "utf8")) as Packed;
  // Another test file may pack at the same time: each packs into a folder of its own, and the first
  // record written wins (the tarballs are the same).
  const own = fs.mkdtempSync(path.join(dir, "pack-"));
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", own], {
    cwd: REPO,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [info] = JSON.parse(stdout) as { filename: string; size: number; files: { path: string }[] }[];
  const result: Packed = {
    tarball: path.join(own, info!.filename),
    size: info!.size,
    files: info!.files.map((f) => f.path).sort(),
  };
  const partial = `${record}.${process.pid}`;
  fs.writeFileSync(partial, JSON.stringify(result));
  if (!fs.existsSync(record)) fs.renameSync(partial, record);
  return JSON.parse(fs.readFileSync(record, "utf8")) as Packed;
}
