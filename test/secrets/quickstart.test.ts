/**
 * The acceptance of keyed tokens on the quick start's data: `tributary materialize` in a fresh store
 * makes an owner-only key file, no e-mail token is any unkeyed hash of the address (the reversal the
 * probe did with sha256(tenant:email) fails), the same key gives the same tokens in another store and
 * another run, and `tributary secrets rotate` gives new tokens with a new prefix, re-materialising
 * exactly the tokenising asset and its downstream.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyId, tokenKey } from "../../src/runtime/secrets/token.ts";
import { cli } from "../cli/in-process.ts";
import { tributary } from "../cli/run.ts";

const VARIABLE = "TRIBUTARY_SECRET_PII_TOKEN_KEY";
let dir: string;
const saved = process.env[VARIABLE];

beforeAll(async () => {
  delete process.env[VARIABLE];
  dir = await mkdtemp(join(tmpdir(), "tributary-tokens-"));
});
afterAll(async () => {
  if (saved !== undefined) process.env[VARIABLE] = saved;
  await rm(dir, { recursive: true, force: true });
});

interface Customer {
  tenant_id: string;
  customer_id: string;
  email_token: string;
  email: string;
}

/** Every customer's token beside the address it tokenises (its latest change's, by log position). */
async function customers(store: string): Promise<Customer[]> {
  const run = await cli(
    "query",
    "--store",
    store,
    "--json",
    `SELECT c.tenant_id, c.customer_id, c.email_token, lower(e.after.email) AS email
     FROM curated_customers c
     JOIN (SELECT after, row_number() OVER (PARTITION BY after.customer_id ORDER BY source.lsn DESC) AS n
           FROM customers_cdc WHERE after IS NOT NULL) e
       ON e.after.customer_id = c.customer_id AND e.n = 1
     ORDER BY c.tenant_id, c.customer_id`,
  );
  expect(run.stderr).toBe("");
  return JSON.parse(run.stdout) as Customer[];
}

/** The unkeyed hashes of an address an attacker with a list of addresses would try. */
function unkeyed(tenant: string, email: string): Set<string> {
  const out = new Set<string>();
  for (const text of [
    email,
    email.toUpperCase(),
    `${tenant}:${email}`,
    `${tenant}${email}`,
    `${email}:${tenant}`,
  ]) {
    for (const algorithm of ["md5", "sha1", "sha256", "sha512"]) {
      const digest = createHash(algorithm).update(text).digest();
      for (const encoding of ["hex", "base64", "base64url"] as const) out.add(digest.toString(encoding));
    }
  }
  return out;
}

const TOKEN = /^k([0-9a-f]{8}):([A-Za-z0-9_-]{43})$/;

describe("keyed e-mail tokens on the quick start's data", () => {
  const first = () => join(dir, "first");
  let before: Customer[];
  let key: string;

  it("tributary materialize makes one owner-only key and tokenises every e-mail with it", async () => {
    const run = await tributary(["materialize", "--store", first()]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect((await stat(join(first(), "_secrets"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(first(), "_secrets", "pii_token_key"))).mode & 0o777).toBe(0o600);
    key = (await readFile(join(first(), "_secrets", "pii_token_key"), "utf8")).trim();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);

    before = await customers(first());
    expect(before.length).toBe(194);
    const k = tokenKey("pii_token_key", key);
    for (const c of before) {
      expect(c.email_token).toMatch(TOKEN);
      expect(c.email_token.slice(1, 9)).toBe(keyId(key));
      // The token is the keyed HMAC of the address under the tenant's key: nothing else.
      expect(c.email_token).toBe(k.token(c.tenant_id, c.email));
    }
  }, 120_000);

  it("no token is an unkeyed hash of the address (sha256(tenant:email), md5, sha1, …)", () => {
    expect(before.length).toBe(194);
    const hashes = new Set(before.flatMap((c) => [...unkeyed(c.tenant_id, c.email)]));
    // The probe's reversal: sha256(tenant || ':' || lower(email)) for every known address.
    expect(
      hashes.has(createHash("sha256").update(`${before[0]!.tenant_id}:${before[0]!.email}`).digest("hex")),
    ).toBe(true);
    const matches = before.filter(
      (c) => hashes.has(c.email_token) || hashes.has(TOKEN.exec(c.email_token)![2]!),
    );
    expect(matches).toEqual([]);
    // And tenants do not share tokens: the same address in two tenants tokenises differently.
    const k = tokenKey("pii_token_key", key);
    expect(k.token("acme", before[0]!.email)).not.toBe(k.token("globex", before[0]!.email));
  });

  it("the same key gives the same tokens in another store, and in a forced rerun", async () => {
    const second = join(dir, "second");
    process.env[VARIABLE] = key;
    try {
      const run = await cli("materialize", "--store", second);
      expect(run.code).toBe(0);
    } finally {
      delete process.env[VARIABLE];
    }
    expect(await customers(second)).toEqual(before);
    const again = await cli("materialize", "curated_customers", "--force", "--store", first());
    expect(again.code).toBe(0);
    expect(await customers(first())).toEqual(before);
  }, 120_000);

  it("a rotated key gives new tokens with a new prefix, re-materialising the tokenising asset and its downstream only", async () => {
    const rotate = await cli("secrets", "rotate", "pii_token_key", "--store", first());
    const rotated = (await readFile(join(first(), "_secrets", "pii_token_key"), "utf8")).trim();
    expect(rotate).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `rotated pii_token_key: key k${keyId(key)} → k${keyId(rotated)} in ${join(first(), "_secrets", "pii_token_key")}\n` +
        "the next materialize re-materialises curated_customers and downstream customer_features, recommendation_features, recommendation_vectors\n",
    });
    expect((await stat(join(first(), "_secrets", "pii_token_key"))).mode & 0o777).toBe(0o600);
    const run = await cli("materialize", "--json", "--store", first());
    expect(run.code).toBe(0);
    const outcomes = (
      JSON.parse(run.stdout) as { outcomes: { asset: string; status: string; reason: string }[] }
    ).outcomes;
    const ran = outcomes.filter((o) => o.status === "materialized");
    expect([...new Set(ran.map((o) => o.asset))]).toEqual([
      "curated_customers",
      "customer_features",
      "recommendation_features",
      // Its texts are the same: it runs and embeds none of them again.
      "recommendation_vectors",
    ]);
    expect(ran.length).toBe(12);
    expect(
      (ran as { asset: string; vectors?: { embedded: number } }[])
        .filter((o) => o.asset === "recommendation_vectors")
        .map((o) => o.vectors?.embedded),
    ).toEqual([0, 0, 0]);
    expect(ran.filter((o) => o.asset === "curated_customers").map((o) => o.reason)).toEqual(
      Array(3).fill(`secret "pii_token_key" was rotated (key k${keyId(key)} → k${keyId(rotated)})`),
    );
    const after = await customers(first());
    expect(after.map((c) => c.customer_id)).toEqual(before.map((c) => c.customer_id));
    const k = tokenKey("pii_token_key", rotated);
    after.forEach((c, i) => {
      expect(c.email_token.slice(0, 10)).toBe(`k${keyId(rotated)}:`);
      expect(c.email_token).not.toBe(before[i]!.email_token);
      expect(c.email_token).toBe(k.token(c.tenant_id, c.email));
    });
    expect(keyId(rotated)).not.toBe(keyId(key));
  }, 120_000);
});
