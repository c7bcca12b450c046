/**
 * Tamper-evident commits: every commit records, for each object it names, its size, the SHA-256 of its
 * bytes (computed by Tributary as the bytes stream to the store) and the store's own checksum of it
 * (`ObjectInfo.checksum`, when the store keeps one). A reader checks an object against that record
 * before anything reads it, so bytes that changed under a commit are reported as corrupt and never
 * served.
 *
 * Two depths of check:
 * - "quick", for planning and `status`: a local file is hashed, once per process as long as it is not
 *   changed again (the memo below); a cloud object's size and store checksum are compared with a
 *   `head`, and its bytes are read and hashed only when the store's checksum is not the recorded one.
 * - "full", for `tributary verify`: every byte is read and hashed, whatever the store says.
 *
 * An object recorded before Tributary recorded checksums (no `sha256`) is "unverified": readable, since
 * refusing every old commit would break every existing store, but reported as such.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { appendFile, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import pLimit from "p-limit";
import { TributaryError } from "../../kit/errors.ts";
import type { ObjectStore } from "../storage/port.ts";

/** An object a commit names, with what the commit recorded of it. */
export interface CommittedObject {
  readonly key: string;
  /** Its size; absent only for a quarantine object of a batch committed before checksums. */
  readonly bytes?: number;
  /** SHA-256 of its bytes, hex; absent in commits written before Tributary recorded checksums. */
  readonly sha256?: string;
  /** The store's own checksum of it at commit (see `ObjectInfo.checksum`), when the store keeps one. */
  readonly checksum?: string;
}

/** What a commit records of an object it writes: `CommittedObject` without the key. */
export type ObjectRecord = Required<Pick<CommittedObject, "bytes" | "sha256">> &
  Pick<CommittedObject, "checksum">;

export type ObjectState = "ok" | "unverified" | "corrupt" | "missing";

export interface ObjectCheck {
  readonly key: string;
  readonly state: ObjectState;
  /** Why it is not "ok", in a phrase: "its SHA-256 (3f2a9c0d1e2f…) is not the one its commit recorded (…)". */
  readonly why?: string;
}

export type CheckDepth = "quick" | "full";

/** A committed object whose bytes are not the committed ones (or that is gone). */
export class CorruptObjectError extends TributaryError {
  override name = "CorruptObjectError";
  readonly check: ObjectCheck;
  constructor(check: ObjectCheck) {
    super(`${check.key} is ${check.state}: ${check.why}; ${remedy(check.key)}`);
    this.check = check;
  }
}

/** What to do about a damaged object, by its zone (see layout.ts). */
export function remedy(key: string): string {
  switch (key.split("/")[0]) {
    case "curated":
      return "tributary materialize re-materialises it";
    case "raw":
      return "raw data cannot be recomputed: restore the file from a backup, or ingest its events again into a new batch";
    default:
      return "it cannot be recomputed: restore it from a backup";
  }
}

/** SHA-256 and size of bytes as they pass. */
export class Sha256 {
  readonly #hash: Hash = createHash("sha256");
  bytes = 0;
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.bytes += chunk.byteLength;
  }
  /** The hex digest; call once, after the last chunk. */
  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** The chunks of `source`, unchanged, hashed into `into` as they pass. */
export async function* hashed(
  source: AsyncIterable<Uint8Array>,
  into: Sha256,
): AsyncGenerator<Buffer, void, undefined> {
  for await (const chunk of source) {
    into.update(chunk);
    yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Files hashed, or heads and reads sent, at once by the checks of one process. */
const limit = pLimit(16);

/**
 * SHA-256 of local files already hashed in this process, by path, with the identity of the file they
 * were taken from: device, inode, size, and modification and change times in nanoseconds. Any write to
 * the file changes its times (and the change time cannot be set back by a user), so a file whose
 * identity is unchanged has the bytes that were hashed; a run hashes each input once, however many
 * downstream assets read it.
 */
const memo = new Map<string, { readonly id: string; readonly sha256: string }>();
const MEMO_LIMIT = 100_000;

async function identity(path: string): Promise<{ id: string; size: number } | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    if (!s.isFile()) return undefined;
    return { id: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`, size: Number(s.size) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * The memo of a local store, kept in the store (`_cache/sha256.ndjson`, one line per file hashed: its
 * key, identity and SHA-256), so that a later process does not hash every committed file again: a plan
 * or `status` of a large local store would otherwise read all of it on every command. It is no weaker
 * than the memo in memory: a line only vouches for a file whose identity (change time included) is the
 * one hashed, and whoever could forge a line could as well rewrite the commits themselves.
 */
const CACHE = "_cache/sha256.ndjson";
const loaded = new Map<string, Promise<void>>();

function loadCache(root: string): Promise<void> {
  let done = loaded.get(root);
  if (!done) {
    done = readCache(root);
    loaded.set(root, done);
  }
  return done;
}

async function readCache(root: string): Promise<void> {
  const file = join(root, CACHE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return;
  }
  const entries = new Map<string, { id: string; sha256: string }>();
  let lines = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    lines++;
    try {
      const e = JSON.parse(line) as { key?: unknown; id?: unknown; sha256?: unknown };
      if (typeof e.key === "string" && typeof e.id === "string" && typeof e.sha256 === "string") {
        entries.set(e.key, { id: e.id, sha256: e.sha256 });
      }
    } catch {
      // A line cut short by a crash: the file is hashed again when read.
    }
  }
  for (const [key, e] of entries) {
    if (memo.size >= MEMO_LIMIT) break;
    memo.set(join(root, key), e);
  }
  // Rewrite it once superseded lines outnumber the live ones (a rename, so a reader sees one or the other).
  if (lines > 2 * entries.size + 1000) {
    const temp = `${file}.${process.pid}.tmp`;
    const body = [...entries].map(([key, e]) => JSON.stringify({ key, ...e })).join("\n");
    await writeFile(temp, `${body}\n`).then(
      () => rename(temp, file),
      () => {},
    );
  }
}

function remember(
  root: string | undefined,
  path: string,
  entry: { id: string; sha256: string },
): Promise<void> {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(path, entry);
  if (!root) return Promise.resolve();
  const file = join(root, CACHE);
  const line = `${JSON.stringify({ key: path.slice(root.length + 1), ...entry })}\n`;
  // A cache that cannot be written (a read-only store) only costs hashing again next time.
  return mkdir(dirname(file), { recursive: true })
    .then(() => appendFile(file, line))
    .catch(() => {});
}

/**
 * SHA-256 and size of a local file, or undefined when there is none. `fresh` hashes it even when it was
 * hashed before (what `verify` does). `root`, the local store the file is in, keeps the hash in the
 * store's memo for later processes.
 */
export async function fileSha256(
  path: string,
  opts: { fresh?: boolean; root?: string } = {},
): Promise<{ sha256: string; bytes: number } | undefined> {
  if (opts.root) await loadCache(opts.root);
  const before = await identity(path);
  if (!before) return undefined;
  const known = memo.get(path);
  if (!opts.fresh && known?.id === before.id) return { sha256: known.sha256, bytes: before.size };
  const hash = new Sha256();
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  const sha256 = hash.digest();
  // Remember it only if nothing wrote to the file while it was read.
  const after = await identity(path);
  if (after?.id === before.id && hash.bytes === before.size) {
    await remember(opts.root, path, { id: before.id, sha256 });
  }
  return { sha256, bytes: hash.bytes };
}

const short = (hex: string) => `${hex.slice(0, 12)}…`;

/** What was read of an object (its SHA-256 and size) against what its commit recorded. */
export function judge(o: CommittedObject, sha256: string, bytes: number): ObjectCheck {
  const size = sizeCheck(o, bytes);
  if (size.state !== "ok") return size;
  if (sha256 !== o.sha256) {
    return {
      key: o.key,
      state: "corrupt",
      why: `its SHA-256 (${short(sha256)}) is not the one its commit recorded (${short(o.sha256!)})`,
    };
  }
  return size;
}

/** An object's size against its commit's record: "ok" so far, "corrupt", or "unverified" with no SHA-256 to go on. */
function sizeCheck(o: CommittedObject, bytes: number): ObjectCheck {
  if (o.bytes !== undefined && bytes !== o.bytes) {
    return { key: o.key, state: "corrupt", why: `it is ${bytes} bytes, its commit recorded ${o.bytes}` };
  }
  return o.sha256 ? { key: o.key, state: "ok" } : { key: o.key, state: "unverified", why: UNVERIFIED };
}

const UNVERIFIED = "it was committed before Tributary recorded checksums";
export const MISSING = "no object has its key";

/**
 * Check one committed object against its commit's record (see the module's comment for the depths).
 * Only "ok" and "unverified" objects may be read.
 */
export function checkObject(store: ObjectStore, o: CommittedObject, depth: CheckDepth): Promise<ObjectCheck> {
  return limit(async () => {
    const local = store.localPath?.(o.key);
    if (local && !o.sha256) {
      const file = await identity(local);
      return file ? sizeCheck(o, file.size) : { key: o.key, state: "missing", why: MISSING };
    }
    if (local) {
      // The store's folder: the object's path without its key.
      const root = local.endsWith(o.key) ? local.slice(0, local.length - o.key.length - 1) : undefined;
      const read = await fileSha256(local, { fresh: depth === "full", ...(root ? { root } : {}) });
      return read ? judge(o, read.sha256, read.bytes) : { key: o.key, state: "missing", why: MISSING };
    }
    if (depth === "quick" || !o.sha256) {
      const info = await store.head(o.key);
      if (!info) return { key: o.key, state: "missing", why: MISSING };
      const size = sizeCheck(o, info.size);
      if (size.state !== "ok") return size;
      // The same store checksum as at commit: the same bytes, without reading them. A different one
      // (or none) is not taken as proof of damage, since a store may spell a checksum differently in a
      // put's answer and a head's: the bytes decide.
      if (o.checksum && info.checksum === o.checksum) return { key: o.key, state: "ok" };
    }
    const body = await store.read(o.key);
    if (!body) return { key: o.key, state: "missing", why: MISSING };
    const hash = new Sha256();
    for await (const chunk of body) hash.update(chunk as Buffer);
    return judge(o, hash.digest(), hash.bytes);
  });
}

/** Whether a check found the bytes damaged or gone: what no reader may read, and what makes `verify` and `status` exit 1. */
export const damaged = (c: ObjectCheck): boolean => c.state === "corrupt" || c.state === "missing";

/** Throw CorruptObjectError unless the object may be read. */
export function assertReadable(check: ObjectCheck): void {
  if (damaged(check)) throw new CorruptObjectError(check);
}
