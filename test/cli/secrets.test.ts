import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretsSet } from "../../src/cli/commands/secrets.ts";
import { keyId } from "../../src/runtime/secrets/token.ts";
import { cli } from "./in-process.ts";

const VARIABLE = "TRIBUTARY_SECRET_PII_TOKEN_KEY";
const KEY = "a key set by hand, at least 32 bytes long";
let dir: string;
const saved = process.env[VARIABLE];
beforeAll(async () => {
  delete process.env[VARIABLE];
  dir = await mkdtemp(join(tmpdir(), "tributary-secrets-cli-"));
});
afterAll(async () => {
  if (saved !== undefined) process.env[VARIABLE] = saved;
  await rm(dir, { recursive: true, force: true });
});

const io = () => {
  const out: string[] = [];
  return { out, io: { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) } };
};

describe("tributary secrets", () => {
  it("lists each secret with its use, who needs it and where its value comes from, never the value", async () => {
    const store = join(dir, "a");
    expect(await cli("secrets", "--store", store)).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "secret         use           needed by          value from                                    key\n" +
        "pii_token_key  tokenisation  curated_customers  not made yet (the next materialize makes it)  -\n",
    });
    const set = io();
    expect(await secretsSet("pii_token_key", { store }, set.io, [`${KEY}\n`])).toBe(0);
    expect(set.out).toEqual([
      `stored pii_token_key (key k${keyId(KEY)}) in ${join(store, "_secrets", "pii_token_key")}\n`,
    ]);
    const listed = await cli("secrets", "list", "--json", "--store", store);
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        name: "pii_token_key",
        use: "tokenisation",
        description:
          "Keys the e-mail tokens of curated_customers; rotating it re-materialises them and their downstream.",
        neededBy: ["curated_customers"],
        origin: { kind: "file", path: join(store, "_secrets", "pii_token_key") },
        keyId: keyId(KEY),
      },
    ]);
    expect(listed.stdout).not.toContain(KEY);
  });

  it("refuses, in one line each: an unknown secret, a key too short, replacing without --replace", async () => {
    const store = join(dir, "b");
    expect(await cli("secrets", "rotate", "pii_tokn_key", "--store", store)).toEqual({
      code: 1,
      stdout: "",
      stderr: 'tributary: the graph declares no secret "pii_tokn_key". Did you mean "pii_token_key"?\n',
    });
    await expect(secretsSet("pii_token_key", { store }, io().io, ["short\n"])).rejects.toThrow(
      'secret "pii_token_key" is 5 bytes long; a tokenisation key needs at least 32 (e.g. `openssl rand -base64 32`).',
    );
    await secretsSet("pii_token_key", { store }, io().io, [KEY]);
    await expect(secretsSet("pii_token_key", { store }, io().io, [`${KEY}!`])).rejects.toThrow(
      `secret "pii_token_key" already has a key file (${join(store, "_secrets", "pii_token_key")}); pass --replace to replace it.`,
    );
    const replaced = io();
    await secretsSet("pii_token_key", { store, replace: true }, replaced.io, [`${KEY}!`]);
    expect(replaced.out).toEqual([
      `replaced pii_token_key (key k${keyId(`${KEY}!`)}) in ${join(store, "_secrets", "pii_token_key")}\n`,
    ]);
  });
});
