/**
 * A deployed function reads its secrets with its cloud's official SDK, from the references its
 * environment names, once per warm instance. Each SDK talks to a loopback fake of its service that
 * checks what it is asked: Secrets Manager's JSON protocol (the client's endpoint from the standard
 * environment, as a Lambda's), Secret Manager's REST transport (the client's `fallback` mode with an API
 * key: the gRPC transport a function uses by default asks the same method), and Key Vault's challenge,
 * token and read over HTTP (`allowInsecureConnection`: a real vault is HTTPS only). Last, an AWS
 * function materialises the tokenising asset with the key it read.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import { CRC32C } from "@google-cloud/storage";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateSample } from "../../examples/commerce/assets/commerce/sample-data.ts";
import type { SourceDef } from "../../src/kit/asset.ts";
import { secret } from "../../src/kit/secret.ts";
import { Duck } from "../../src/runtime/engine/duckdb.ts";
import { ingest } from "../../src/runtime/engine/ingest.ts";
import { awsHandler } from "../../src/runtime/handlers/aws.ts";
import { functionEnv, functionStore } from "../../src/runtime/handlers/core.ts";
import { awsSecretReader } from "../../src/runtime/secrets/aws.ts";
import { azureSecretReader, parseSecretUri } from "../../src/runtime/secrets/azure.ts";
import { forgetSecretValues, functionSecrets } from "../../src/runtime/secrets/cloud.ts";
import { gcpSecretReader } from "../../src/runtime/secrets/gcp.ts";
import { keyId, tokenKey } from "../../src/runtime/secrets/token.ts";
import { LocalStore } from "../../src/runtime/storage/local.ts";
import { graph, recorder, stack, tempDir } from "../handlers/helpers.ts";

const KEY = "a key the fake secret store holds, 32+ bytes";
const tokenSecret = secret("pii_token_key", { use: "tokenisation" });

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback HTTP server answering with `answer`, keeping every request it saw. */
async function fake(answer: (req: Seen, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (d: string) => (body += d));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
      seen.push(r);
      answer(r, res);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as AddressInfo).port;
  return { seen, port, close: () => new Promise<void>((done) => server.close(() => done())) };
}

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  forgetSecretValues();
});

const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:trib-dev-secret-pii-token-key-abc123";
const VERSION = "d47b7729-b058-48ff-8370-a835680e4145";

/** Secrets Manager's JSON protocol, for GetSecretValue of one secret version. */
async function secretsManager() {
  return fake((req, res) => {
    const ask = JSON.parse(req.body || "{}") as { SecretId?: string; VersionId?: string };
    res.setHeader("content-type", "application/x-amz-json-1.1");
    if (req.headers["x-amz-target"] !== "secretsmanager.GetSecretValue" || ask.SecretId !== ARN) {
      res.statusCode = 400;
      res.end(JSON.stringify({ __type: "ResourceNotFoundException", message: "no such secret" }));
      return;
    }
    res.end(
      JSON.stringify({
        ARN,
        Name: "trib-dev-secret-pii-token-key",
        VersionId: ask.VersionId,
        SecretString: KEY,
      }),
    );
  });
}

function awsEnvironment(port: number): void {
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = `http://127.0.0.1:${port}`;
  process.env.AWS_REGION = "eu-west-1";
  process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
  process.env.AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  delete process.env.AWS_PROFILE;
}

describe("AWS: Secrets Manager", () => {
  it("reads the version the environment names, with the client the environment configures, once per instance", async () => {
    const sm = await secretsManager();
    try {
      awsEnvironment(sm.port);
      const env = { TRIBUTARY_SECRET_REFS: JSON.stringify({ pii_token_key: `${ARN}#${VERSION}` }) };
      const secrets = functionSecrets(env, () => awsSecretReader());
      expect(await secrets.read(tokenSecret)).toBe(KEY);
      expect(await functionSecrets(env, () => awsSecretReader()).read(tokenSecret)).toBe(KEY);
      expect(sm.seen.map((r) => [r.method, r.headers["x-amz-target"], JSON.parse(r.body)])).toEqual([
        ["POST", "secretsmanager.GetSecretValue", { SecretId: ARN, VersionId: VERSION }],
      ]);
      expect(String(sm.seen[0]!.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
      await expect(functionSecrets({}, () => awsSecretReader()).read(tokenSecret)).rejects.toThrow(
        'handler: secret "pii_token_key" is not in TRIBUTARY_SECRET_REFS: the function was deployed without it (or with a stale plan). Deploy it with pulumi up.',
      );
    } finally {
      await sm.close();
    }
  });
});

describe("GCP: Secret Manager", () => {
  const NAME = "projects/tributary-staging/secrets/trib-staging-secret-pii-token-key/versions/1";
  const crc = (text: string) => {
    const c = new CRC32C();
    c.update(Buffer.from(text));
    return String(c.valueOf());
  };

  it("reads the version the environment names, its CRC32C checked", async () => {
    let checksum = crc(KEY);
    const sm = await fake((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          name: NAME,
          payload: { data: Buffer.from(KEY).toString("base64"), dataCrc32c: checksum },
        }),
      );
    });
    try {
      const client = new SecretManagerServiceClient({
        apiEndpoint: "127.0.0.1",
        port: sm.port,
        protocol: "http",
        fallback: true,
        apiKey: "test-key",
      } as ConstructorParameters<typeof SecretManagerServiceClient>[0]);
      const read = gcpSecretReader(client);
      const env = { TRIBUTARY_SECRET_REFS: JSON.stringify({ pii_token_key: NAME }) };
      expect(await functionSecrets(env, () => read).read(tokenSecret)).toBe(KEY);
      expect(sm.seen.map((r) => [r.method, r.url.split("?")[0], r.headers["x-goog-api-key"]])).toEqual([
        ["GET", `/v1/${NAME}:access`, "test-key"],
      ]);
      checksum = crc(`${KEY}!`);
      await expect(read(NAME)).rejects.toThrow(
        `secretmanager: ${NAME}: the payload does not match its CRC32C; it was corrupted on the way.`,
      );
    } finally {
      await sm.close();
    }
  });
});

describe("Azure: Key Vault", () => {
  it("answers the vault's challenge with a token for the vault, then reads the version the settings name", async () => {
    const vault = await fake((req, res) => {
      if (!req.headers.authorization) {
        res.statusCode = 401;
        res.setHeader(
          "WWW-Authenticate",
          'Bearer authorization="https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111", resource="https://vault.azure.net"',
        );
        res.end();
        return;
      }
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          value: KEY,
          id: `http://${req.headers.host}/secrets/pii-token-key/5e4554274d3150548a03407cedf8281f`,
          attributes: { enabled: true },
        }),
      );
    });
    try {
      const scopes: string[][] = [];
      const credential = {
        getToken: async (scope: string | string[]) => {
          scopes.push([scope].flat());
          return { token: "managed-identity-token", expiresOnTimestamp: Date.now() + 3_600_000 };
        },
      };
      const ref = `http://127.0.0.1:${vault.port}/secrets/pii-token-key/5e4554274d3150548a03407cedf8281f`;
      expect(parseSecretUri(ref)).toEqual({
        vaultUrl: `http://127.0.0.1:${vault.port}`,
        name: "pii-token-key",
        version: "5e4554274d3150548a03407cedf8281f",
      });
      const read = azureSecretReader(credential, {
        allowInsecureConnection: true,
        disableChallengeResourceVerification: true,
      });
      const env = { TRIBUTARY_SECRET_REFS: JSON.stringify({ pii_token_key: ref }) };
      expect(await functionSecrets(env, () => read).read(tokenSecret)).toBe(KEY);
      expect(scopes).toEqual([["https://vault.azure.net/.default"]]);
      expect(vault.seen.map((r) => [r.method, r.url.split("?")[0], r.headers.authorization ?? null])).toEqual(
        [
          ["GET", "/secrets/pii-token-key/5e4554274d3150548a03407cedf8281f", null],
          ["GET", "/secrets/pii-token-key/5e4554274d3150548a03407cedf8281f", "Bearer managed-identity-token"],
        ],
      );
    } finally {
      await vault.close();
    }
  });
});

describe("an AWS function of a tokenising asset", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    dir = await tempDir("secret-function");
  });
  afterAll(() => dir.remove());

  it("materialises with the key it read from Secrets Manager, recording the key's id", async () => {
    const sm = await secretsManager();
    try {
      awsEnvironment(sm.port);
      const s = stack(dir.path, { raw: "s3://raw", curated: "s3://curated", quarantine: "s3://quarantine" });
      const extra = { TRIBUTARY_SECRET_REFS: JSON.stringify({ pii_token_key: `${ARN}#${VERSION}` }) };
      const store = functionStore(functionEnv(s.env("customers_cdc")), (u) => s.openStore(u));
      const lines = [
        ...generateSample({ seed: 3, from: "2026-11-01", to: "2026-11-01", customersPerTenant: 2 }),
      ]
        .filter((l) => l.source === "customers_cdc")
        .map((l) => l.line);
      await ingest(store, graph.get("customers_cdc") as SourceDef, [
        { name: "sample", stream: Readable.from([`${lines.join("\n")}\n`]) },
      ]);
      const rec = recorder();
      const handler = awsHandler(graph, rec.deps(s, "curated_customers", extra));
      await handler({ asset: "curated_customers", scheduledTime: "2026-11-02T03:00:00Z" });
      expect(rec.published.map((a) => a.asset)).toEqual([
        "curated_customers",
        "curated_customers",
        "curated_customers",
      ]);
      expect(sm.seen).toHaveLength(1);
      const manifest = JSON.parse(
        await new LocalStore(join(dir.path, "curated"))
          .get("_manifests/curated_customers/acme/manifest.json")
          .then(String),
      ) as { keys: Record<string, string>; files: { key: string }[] };
      expect(manifest.keys).toEqual({ pii_token_key: keyId(KEY) });
      const duck = await Duck.open();
      try {
        const path = join(dir.path, "curated", ...manifest.files[0]!.key.split("/"));
        const rows = await duck.rows(`SELECT tenant_id, email_token FROM read_parquet('${path}')`);
        expect(rows.length).toBeGreaterThan(0);
        const k = tokenKey("pii_token_key", KEY);
        for (const r of rows) expect(String(r.email_token).startsWith(`k${k.kid}:`)).toBe(true);
      } finally {
        duck.close();
      }
    } finally {
      await sm.close();
    }
  }, 60_000);
});
