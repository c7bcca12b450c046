/** Tokens and the local secrets: exact tokens for a fixed key, key files made once and owner-only. */
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { secret } from "../../src/kit/secret.ts";
import { LocalSecrets } from "../../src/runtime/secrets/local.ts";
import { environmentSecrets, SecretMissingError } from "../../src/runtime/secrets/source.ts";
import { keyId, SecretValueError, tokenKey } from "../../src/runtime/secrets/token.ts";

const KEY = "a fixed key of at least thirty-two bytes";
const tokenSecret = secret("pii_token_key", { use: "tokenisation" });
const apiToken = secret("api_token");

describe("tokens", () => {
  it("are HMAC-SHA256 under a per-tenant key, prefixed with the key's id: exact for a fixed key", () => {
    const k = tokenKey("pii_token_key", KEY);
    expect(k.kid).toBe(keyId(KEY));
    expect(k.kid).toMatch(/^[0-9a-f]{8}$/);
    // Fixed vectors, computed apart from this code (Python's hmac, HKDF written out from RFC 5869): a change
    // of derivation would change every token in every store, so it must be deliberate.
    expect([k.kid, k.token("acme", "ada@example.com"), k.token("globex", "ada@example.com")]).toEqual([
      "3c5f65d1",
      "k3c5f65d1:wR9u27zlitksn2fzjsngAq99ao8G0uWqxizbYMGbyoY",
      "k3c5f65d1:QKybAQIXWLwgnvWfv8RK6EUXlq9wK4ztaCttmK2iKXo",
    ]);
    expect(tokenKey("pii_token_key", `${KEY}!`).token("acme", "ada@example.com")).not.toContain(k.kid);
  });

  it("refuse key material shorter than 32 bytes", () => {
    expect(() => tokenKey("pii_token_key", "short")).toThrow(
      new SecretValueError(
        'secret "pii_token_key" is 5 bytes long; a tokenisation key needs at least 32 (e.g. `openssl rand -base64 32`).',
      ),
    );
  });
});

describe("local secrets", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tributary-local-secrets-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("make a tokenisation key once, owner-only, even when many runs ask at once", async () => {
    const values = await Promise.all(
      Array.from({ length: 8 }, () => new LocalSecrets(dir, { env: {} }).read(tokenSecret)),
    );
    expect(new Set(values).size).toBe(1);
    expect(values[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await readdir(join(dir, "_secrets"))).toEqual(["pii_token_key"]);
    expect((await stat(join(dir, "_secrets"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "_secrets", "pii_token_key"))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, "_secrets", "pii_token_key"), "utf8")).toBe(`${values[0]}\n`);
  });

  it("take TRIBUTARY_SECRET_<NAME> over the key file, and say where each value comes from", async () => {
    const env = { TRIBUTARY_SECRET_PII_TOKEN_KEY: KEY };
    const s = new LocalSecrets(dir, { env });
    expect(await s.read(tokenSecret)).toBe(KEY);
    expect(await s.origin(tokenSecret)).toEqual({
      kind: "environment",
      variable: "TRIBUTARY_SECRET_PII_TOKEN_KEY",
    });
    expect(await s.origin(apiToken)).toEqual({ kind: "missing", path: join(dir, "_secrets", "api_token") });
    await expect(readdir(dir)).resolves.toEqual([]);
  });

  it("never make a value secret, nor any key when told not to; never use a key file others may read", async () => {
    const s = new LocalSecrets(dir, { env: {} });
    await expect(s.read(apiToken)).rejects.toThrow(
      new SecretMissingError(
        'secret "api_token" is not set: set TRIBUTARY_SECRET_API_TOKEN, or store it with `tributary secrets set api_token` (reads the value from standard input).',
      ),
    );
    await expect(new LocalSecrets(dir, { env: {}, create: false }).read(tokenSecret)).rejects.toThrow(
      new SecretMissingError(
        `secret "pii_token_key" has no key yet: the next tributary materialize makes one in ${join(dir, "_secrets", "pii_token_key")} (or set TRIBUTARY_SECRET_PII_TOKEN_KEY).`,
      ),
    );
    const key = await s.read(tokenSecret);
    const file = join(dir, "_secrets", "pii_token_key");
    await chmod(file, 0o644);
    await expect(s.read(tokenSecret)).rejects.toThrow(
      new SecretMissingError(`key file ${file} may be read by others (mode 0644): run chmod 600 ${file}.`),
    );
    await chmod(file, 0o600);
    expect(await s.read(tokenSecret)).toBe(key);
  });

  it("set refuses to replace a key file unless told; rotate replaces it and reports both ids", async () => {
    const s = new LocalSecrets(dir, { env: {} });
    expect(await s.set(apiToken, "token-1", false)).toEqual({
      path: join(dir, "_secrets", "api_token"),
      replaced: false,
    });
    await expect(s.set(apiToken, "token-2", false)).rejects.toThrow(
      `secret "api_token" already has a key file (${join(dir, "_secrets", "api_token")}); pass --replace to replace it.`,
    );
    expect(await s.set(apiToken, "token-2", true)).toMatchObject({ replaced: true });
    expect(await s.read(apiToken)).toBe("token-2");
    expect((await stat(join(dir, "_secrets", "api_token"))).mode & 0o777).toBe(0o600);

    await writeFile(join(dir, "_secrets", "pii_token_key"), `${KEY}\n`, { mode: 0o600 });
    const r = await new LocalSecrets(dir, { env: { TRIBUTARY_SECRET_PII_TOKEN_KEY: "x" } }).rotate(
      tokenSecret,
    );
    const now = await s.read(tokenSecret);
    expect(r).toEqual({
      before: keyId(KEY),
      after: keyId(now),
      path: join(dir, "_secrets", "pii_token_key"),
      shadowed: "TRIBUTARY_SECRET_PII_TOKEN_KEY",
    });
    expect(now).not.toBe(KEY);
    expect((await readdir(join(dir, "_secrets"))).sort()).toEqual(["api_token", "pii_token_key"]);
  });

  it("the engine's default, the environment, says where to set a missing secret", async () => {
    await expect(environmentSecrets({}).read(tokenSecret)).rejects.toThrow(
      'secret "pii_token_key" is not set: set TRIBUTARY_SECRET_PII_TOKEN_KEY, or run through tributary materialize, which keeps a generated key in the store\'s _secrets/ folder.',
    );
  });
});
