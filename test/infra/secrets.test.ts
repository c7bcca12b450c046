/**
 * The graph's secrets on every cloud, under the project's synth: the exact secret resources (encrypted
 * with the stack's key, valued from config or generated), read granted to exactly the declaring
 * functions, whose environment names the version they read; no configured value anywhere in the synth
 * output; and each secret rule of the policy pack failing on the variant that breaks it.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { configMap, readStackConfig, StackConfigError } from "../../src/infra/config.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type ResourceRecord, type Synthesis, synth } from "../../src/infra/synth/index.ts";
import { edited, lookup } from "./synthesised.ts";

/** The example project: its Pulumi.yaml, program and stacks. */
const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");
const MARKER = { $secret: true };
/** A configured value, to look for in everything synth prints. */
const VALUE = "configured-key-material-0123456789abcdefghij";

let aws: Synthesis;
let gcp: Synthesis;
let azure: Synthesis;
let configured: Synthesis;

beforeAll(async () => {
  [aws, gcp, azure, configured] = await Promise.all([
    synth({ root: example, stack: "dev-aws" }),
    synth({ root: example, stack: "staging-gcp" }),
    synth({ root: example, stack: "prod-azure" }),
    synth({
      root: example,
      stack: "dev-aws",
      override: { "tributary:secrets": JSON.stringify({ pii_token_key: VALUE }) },
    }),
  ]);
}, 240_000);

const children = (s: Synthesis, component: string) =>
  s.resources.filter((r) => r.parent === s.resources.find((c) => !c.custom && c.name === component)!.urn);
const shape = (rs: readonly ResourceRecord[]) => rs.map((r) => [r.type, r.name, r.inputs]);

describe("the reference pipeline's tokenisation key on every cloud", () => {
  it("AWS: a Secrets Manager secret under the stack's KMS key, a generated value, read by curated_customers alone", () => {
    const { inputs } = lookup(() => aws);
    const arn =
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:trib-dev-secret-pii-token-key-" +
      createHash("sha256").update("trib-dev-secret-pii-token-key").digest("hex").slice(0, 6);
    expect(shape(children(aws, "trib-dev-secret-pii-token-key"))).toEqual([
      [
        "aws:secretsmanager/secret:Secret",
        "trib-dev-secret-pii-token-key",
        {
          description:
            "Keys the e-mail tokens of curated_customers; rotating it re-materialises them and their downstream. (read by curated_customers)",
          kmsKeyId: "arn:aws:kms:eu-west-1:123456789012:key/trib-dev-data-key-id",
          recoveryWindowInDays: 30,
          tags: {
            "cost-centre": "cc-1042",
            owner: "data-platform",
            "tributary:asset": "_shared",
            "tributary:env": "dev",
            "tributary:pipeline": "commerce",
            "tributary:secret": "pii_token_key",
          },
        },
      ],
      [
        "aws:secretsmanager/secretVersion:SecretVersion",
        "trib-dev-secret-pii-token-key-value",
        { secretId: arn, secretString: MARKER },
      ],
      ["random:index/randomBytes:RandomBytes", "trib-dev-secret-pii-token-key-generated", { length: 32 }],
    ]);
    const readers = aws.resources
      .filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy")
      .filter((r) => (r.inputs.policy as string).includes("secretsmanager"))
      .map((r) => [
        r.name,
        JSON.parse(r.inputs.policy as string).Statement.find((s: { Sid: string }) => s.Sid === "ReadSecrets"),
      ]);
    expect(readers).toEqual([
      [
        "trib-dev-curated-customers-policy",
        { Sid: "ReadSecrets", Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [arn] },
      ],
    ]);
    const version = "d47b7729-b058-48ff-8370-a835680e4145";
    expect(
      (
        inputs("trib-dev-curated-customers", "aws:lambda/function:Function").environment as {
          variables: object;
        }
      ).variables,
    ).toMatchObject({ TRIBUTARY_SECRET_REFS: JSON.stringify({ pii_token_key: `${arn}#${version}` }) });
    const withRefs = aws.resources.filter((r) => JSON.stringify(r.inputs).includes("TRIBUTARY_SECRET_REFS"));
    expect(withRefs.map((r) => r.name)).toEqual(["trib-dev-curated-customers"]);
  });

  it("GCP: a Secret Manager secret in the region under the stack's key (CMEK), its agent granted the key, read by curated_customers alone", () => {
    const { inputs } = lookup(() => gcp);
    const key =
      "projects/tributary-staging/locations/europe-west1/keyRings/trib-staging-data/cryptoKeys/data";
    expect(shape(children(gcp, "trib-staging-secret-pii-token-key"))).toEqual([
      [
        "gcp:secretmanager/secret:Secret",
        "trib-staging-secret-pii-token-key",
        {
          labels: {
            "cost-centre": "cc-1042",
            owner: "data-platform",
            "tributary-asset": "_shared",
            "tributary-env": "staging",
            "tributary-pipeline": "commerce",
            "tributary-secret": "pii_token_key",
          },
          project: "tributary-staging",
          replication: {
            userManaged: {
              replicas: [{ customerManagedEncryption: { kmsKeyName: key }, location: "europe-west1" }],
            },
          },
          secretId: "trib-staging-secret-pii-token-key",
        },
      ],
      [
        "gcp:secretmanager/secretVersion:SecretVersion",
        "trib-staging-secret-pii-token-key-value",
        {
          secret: "projects/tributary-staging/secrets/trib-staging-secret-pii-token-key",
          secretData: MARKER,
        },
      ],
      ["random:index/randomBytes:RandomBytes", "trib-staging-secret-pii-token-key-generated", { length: 32 }],
    ]);
    const agent = inputs(
      "trib-staging-data-secretmanager-agent",
      "gcp:projects/serviceIdentity:ServiceIdentity",
    );
    expect(agent).toEqual({ project: "tributary-staging", service: "secretmanager.googleapis.com" });
    expect(inputs("trib-staging-data-encrypter-2")).toEqual({
      cryptoKeyId: key,
      member: "serviceAccount:service-202301715201@gcp-sa-secretmanager.iam.gserviceaccount.com",
      role: "roles/cloudkms.cryptoKeyEncrypterDecrypter",
    });
    expect(
      gcp.resources
        .filter((r) => r.type === "gcp:secretmanager/secretIamMember:SecretIamMember")
        .map((r) => [r.name, r.inputs]),
    ).toEqual([
      [
        "trib-staging-curated-customers-secret-pii-token-key",
        {
          member: "serviceAccount:trib-staging-curated-customers@tributary-staging.iam.gserviceaccount.com",
          project: "tributary-staging",
          role: "roles/secretmanager.secretAccessor",
          secretId: "trib-staging-secret-pii-token-key",
        },
      ],
    ]);
    expect(
      (
        inputs("trib-staging-curated-customers", "gcp:cloudfunctionsv2/function:Function").serviceConfig as {
          environmentVariables: object;
        }
      ).environmentVariables,
    ).toMatchObject({
      TRIBUTARY_SECRET_REFS: JSON.stringify({
        pii_token_key: "projects/tributary-staging/secrets/trib-staging-secret-pii-token-key/versions/1",
      }),
    });
  });

  it("Azure: a secret in the stack's vault, Key Vault Secrets User on that secret for curated_customers alone", () => {
    const { inputs } = lookup(() => azure);
    const vault = "trib-prod-kv-1127c7";
    const scope = `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/trib-prod/providers/Microsoft.KeyVault/vaults/${vault}/secrets/pii-token-key`;
    expect(shape(children(azure, "trib-prod-secret-pii-token-key"))).toEqual([
      [
        "azure-native:keyvault:Secret",
        "trib-prod-secret-pii-token-key",
        {
          // The properties carry the value, so all of them are a secret.
          properties: MARKER,
          resourceGroupName: "trib-prod",
          secretName: "pii-token-key",
          tags: {
            "cost-centre": "cc-1042",
            owner: "data-platform",
            "tributary:asset": "_shared",
            "tributary:env": "prod",
            "tributary:pipeline": "commerce",
            "tributary:secret": "pii_token_key",
          },
          vaultName: vault,
        },
      ],
      ["random:index/randomBytes:RandomBytes", "trib-prod-secret-pii-token-key-generated", { length: 32 }],
    ]);
    const secretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
    const assignments = azure.resources.filter(
      (r) =>
        r.type === "azure-native:authorization:RoleAssignment" &&
        String(r.inputs.roleDefinitionId).endsWith(secretsUser),
    );
    expect(assignments.map((r) => [r.name, r.inputs.scope, r.inputs.description])).toEqual([
      [
        "trib-prod-curated-customers-secret-pii-token-key",
        scope,
        "curated_customers reads the secret pii_token_key",
      ],
    ]);
    const app = inputs("trib-prod-curated-customers", "azure-native:web:WebApp") as {
      siteConfig: { appSettings: { name: string; value: string }[] };
    };
    expect(app.siteConfig.appSettings.find((s) => s.name === "TRIBUTARY_SECRET_REFS")).toEqual({
      name: "TRIBUTARY_SECRET_REFS",
      value: JSON.stringify({
        pii_token_key: `https://${vault}.vault.azure.net/secrets/pii-token-key/5e4554274d3150548a03407cedf8281f`,
      }),
    });
  });

  it("a configured value generates nothing and appears nowhere in the synth output", () => {
    const { inputs } = lookup(() => configured);
    expect(configured.resources.filter((r) => r.type.startsWith("random:"))).toEqual([]);
    expect(inputs("trib-dev-secret-pii-token-key-value").secretString).toEqual(MARKER);
    const printed = JSON.stringify(configured);
    for (const form of [VALUE, Buffer.from(VALUE).toString("base64"), Buffer.from(VALUE).toString("hex")]) {
      expect(printed.includes(form), form).toBe(false);
    }
    // The generated key's stand-in is no deployed value either, and is not printed.
    expect(JSON.stringify(aws)).not.toContain(Buffer.alloc(32, 0x5a).toString("base64"));
  });
});

describe("secrets in the deployment plan", () => {
  it("lists each secret by name, where its value comes from and exactly who reads it", () => {
    const config = readStackConfig(configMap(example, "dev-aws"), "dev-aws");
    const plan = planDeployment(graph, config);
    expect(plan.secrets).toEqual([
      {
        name: "pii_token_key",
        use: "tokenisation",
        description:
          "Keys the e-mail tokens of curated_customers; rotating it re-materialises them and their downstream.",
        value: "generated",
        readers: ["curated_customers"],
      },
    ]);
    expect(
      plan.functions
        .filter((f) => f.secrets)
        .map((f) => [f.id, f.secrets, f.environment.TRIBUTARY_SECRET_REFS]),
    ).toEqual([["curated_customers", ["pii_token_key"], { secrets: ["pii_token_key"] }]]);
    expect(planDeployment(graph, { ...config, secrets: ["pii_token_key"] }).secrets[0]!.value).toBe("config");
    expect(() => planDeployment(graph, { ...config, secrets: ["pii_tokn_key"] })).toThrow(
      'stacks/Pulumi.dev-aws.yaml: tributary:secrets.pii_tokn_key is no secret of the functions stack "dev-aws" deploys. Did you mean "pii_token_key"? Remove it with `pulumi config rm --path \'tributary:secrets.pii_tokn_key\'`.',
    );
  });
});

describe("the secret rules of the policy pack, each broken", () => {
  const rules = (rs: readonly ResourceRecord[]) => evaluate(rs).map((v) => [v.policy, v.message]);

  it("pass on every cloud's stack", () => {
    expect([evaluate(aws.resources), evaluate(gcp.resources), evaluate(azure.resources)]).toEqual([
      [],
      [],
      [],
    ]);
  });

  it("secrets-encrypted-with-stack-key: the AWS-managed key, Google's key, a vault without purge protection", () => {
    const a = edited(
      aws.resources,
      "trib-dev-secret-pii-token-key",
      "aws:secretsmanager/secret:Secret",
      (i) => ({
        ...i,
        kmsKeyId: "alias/aws/secretsmanager",
      }),
    );
    expect(rules(a)).toEqual([
      [
        "secrets-encrypted-with-stack-key",
        'secret "trib-dev-secret-pii-token-key" is encrypted with the AWS-managed key; set kmsKeyId to the stack\'s KMS key (its ARN)',
      ],
    ]);
    const g = edited(
      gcp.resources,
      "trib-staging-secret-pii-token-key",
      "gcp:secretmanager/secret:Secret",
      (i) => ({
        ...i,
        replication: { auto: {} },
      }),
    );
    expect(rules(g)).toEqual([
      [
        "secrets-encrypted-with-stack-key",
        "secret \"trib-staging-secret-pii-token-key\" is encrypted with a Google-managed key in some replica; set customerManagedEncryption.kmsKeyName to the stack's Cloud KMS key in every replica (userManaged, the stack's region)",
      ],
    ]);
    const z = edited(azure.resources, "trib-prod-data-vault", "azure-native:keyvault:Vault", (i) => ({
      ...i,
      properties: { ...(i.properties as object), enableRbacAuthorization: false },
    }));
    expect(rules(z).filter(([p]) => p === "secrets-encrypted-with-stack-key")).toEqual([
      [
        "secrets-encrypted-with-stack-key",
        'Key Vault secret "trib-prod-secret-pii-token-key" is in vault "trib-prod-data-vault", which lacks RBAC authorisation; set enableRbacAuthorization and enablePurgeProtection on it',
      ],
    ]);
  });

  it("secret-read-only-by-declaring-functions: a wildcard, another function, a project-wide role, a vault-wide role", () => {
    const readOf = (rs: readonly ResourceRecord[]) =>
      rules(rs).filter(([p]) => p === "secret-read-only-by-declaring-functions");
    const policy = (name: string, change: (statements: Record<string, unknown>[]) => void) =>
      edited(aws.resources, name, "aws:iam/rolePolicy:RolePolicy", (i) => {
        const doc = JSON.parse(i.policy as string);
        change(doc.Statement);
        return { ...i, policy: JSON.stringify(doc) };
      });
    const arn = aws.resources.find((r) => r.type === "aws:secretsmanager/secretVersion:SecretVersion")!.inputs
      .secretId;
    expect(
      readOf(
        policy("trib-dev-curated-customers-policy", (s) => {
          s.find((x) => x.Sid === "ReadSecrets")!.Resource =
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*";
        }),
      ),
    ).toEqual([
      [
        "secret-read-only-by-declaring-functions",
        'role policy "trib-dev-curated-customers-policy" statement "ReadSecrets" lets a function read secrets "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"; name each secret\'s ARN',
      ],
    ]);
    expect(
      readOf(
        policy("trib-dev-daily-revenue-policy", (s) => {
          s.push({
            Sid: "ReadSecrets",
            Effect: "Allow",
            Action: "secretsmanager:GetSecretValue",
            Resource: [arn],
          });
        }),
      ),
    ).toEqual([
      [
        "secret-read-only-by-declaring-functions",
        `role policy "trib-dev-daily-revenue-policy" statement "ReadSecrets" lets its function read ${JSON.stringify(arn)}, a secret its environment does not name (its asset does not declare it); grant only the secrets the asset declares`,
      ],
    ]);
    const member = "gcp:secretmanager/secretIamMember:SecretIamMember";
    const other = edited(
      gcp.resources,
      "trib-staging-curated-customers-secret-pii-token-key",
      member,
      (i) => ({
        ...i,
        member: "serviceAccount:trib-staging-daily-revenue@tributary-staging.iam.gserviceaccount.com",
      }),
    );
    const projectWide: ResourceRecord = {
      urn: "urn:pulumi:staging-gcp::tributary::gcp:projects/iAMMember:IAMMember::everyone-reads",
      type: "gcp:projects/iAMMember:IAMMember",
      name: "everyone-reads",
      custom: true,
      inputs: {
        project: "tributary-staging",
        role: "roles/secretmanager.secretAccessor",
        member: "group:data@example.com",
      },
    };
    expect(readOf([...other, projectWide])).toEqual([
      [
        "secret-read-only-by-declaring-functions",
        'secret IAM member "trib-staging-curated-customers-secret-pii-token-key" lets serviceAccount:trib-staging-daily-revenue@tributary-staging.iam.gserviceaccount.com read secret "trib-staging-secret-pii-token-key", which is not the service account of a function whose environment names it; grant each secret to exactly the functions whose asset declares it',
      ],
      [
        "secret-read-only-by-declaring-functions",
        'project IAM member "everyone-reads" grants roles/secretmanager.secretAccessor on the whole project, every secret in it; grant it on each secret instead',
      ],
    ]);
    const vaultWide = edited(
      azure.resources,
      "trib-prod-curated-customers-secret-pii-token-key",
      "azure-native:authorization:RoleAssignment",
      (i) => ({ ...i, scope: String(i.scope).replace(/\/secrets\/.*$/, "") }),
    );
    expect(readOf(vaultWide)).toEqual([
      [
        "secret-read-only-by-declaring-functions",
        'role assignment "trib-prod-curated-customers-secret-pii-token-key" gives Key Vault Secrets User on "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/trib-prod/providers/Microsoft.KeyVault/vaults/trib-prod-kv-1127c7", not on one secret: every secret there becomes readable; scope it to the secret',
      ],
    ]);
  });

  it("no-plain-secrets-in-environment: a secret value, a credential, a value named like a secret", () => {
    const env = (variables: Record<string, unknown>) =>
      edited(aws.resources, "trib-dev-daily-revenue", "aws:lambda/function:Function", (i) => ({
        ...i,
        environment: { variables: { ...(i.environment as { variables: object }).variables, ...variables } },
      }));
    const fix = "name the secret in the asset's secrets and let the function read it by reference";
    expect(
      rules(env({ PROVIDER_KEY_VALUE: MARKER, AWS_KEY: "AKIAIOSFODNN7EXAMPLE", OPENAI_API_KEY: "sk-12345" })),
    ).toEqual([
      [
        "no-plain-secrets-in-environment",
        `function "trib-dev-daily-revenue" has a secret value in its environment variable PROVIDER_KEY_VALUE; ${fix}`,
      ],
      [
        "no-plain-secrets-in-environment",
        `function "trib-dev-daily-revenue" has an AWS access key id in its environment variable AWS_KEY; ${fix}`,
      ],
      [
        "no-plain-secrets-in-environment",
        `function "trib-dev-daily-revenue" environment variable OPENAI_API_KEY is named like a secret and holds a value, not a reference to the cloud's secret store; ${fix}`,
      ],
    ]);
    const app = edited(azure.resources, "trib-prod-daily-revenue", "azure-native:web:WebApp", (i) => {
      const site = i.siteConfig as { appSettings: { name: string; value: string }[] };
      return {
        ...i,
        siteConfig: {
          ...site,
          appSettings: [
            ...site.appSettings,
            { name: "STORE", value: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc==;" },
          ],
        },
      };
    });
    expect(rules(app)).toEqual([
      [
        "no-plain-secrets-in-environment",
        `function app "trib-prod-daily-revenue" has a storage account key in its environment variable STORE; ${fix}`,
      ],
    ]);
  });
});

describe("secrets in a stack file", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-secret-config-"));
  fs.mkdirSync(path.join(root, "stacks"));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const file = (stack: string, secrets: string) => {
    const base = fs.readFileSync(path.join(example, "stacks", "Pulumi.dev-aws.yaml"), "utf8");
    fs.writeFileSync(
      path.join(root, "stacks", `Pulumi.${stack}.yaml`),
      `${base}  tributary:secrets:${secrets}\n`,
    );
  };

  it("are each encrypted: their names are read, their values never", () => {
    file("ok", "\n    pii_token_key:\n      secure: v1:AAAABBBBCCCC\n");
    const config = configMap(root, "ok");
    expect(config["tributary:secrets"]).toBe(JSON.stringify({ pii_token_key: "[secret]" }));
    expect(readStackConfig(config, "ok").secrets).toEqual(["pii_token_key"]);
  });

  it("refuses a value in plain text, or the whole map encrypted (its names hidden), without printing a value", () => {
    file("plain", "\n    pii_token_key: hunter2-is-not-a-key\n");
    expect(() => configMap(root, "plain")).toThrow(
      new StackConfigError(
        "stacks/Pulumi.plain.yaml: tributary:secrets.pii_token_key is in plain text: remove it from the file and set it with `pulumi config set --secret --path 'tributary:secrets.pii_token_key' <value>`.",
      ),
    );
    file("whole", "\n    secure: v1:AAAABBBBCCCC\n");
    expect(() => configMap(root, "whole")).toThrow(
      "stacks/Pulumi.whole.yaml: tributary:secrets is encrypted as a whole, which hides the secrets' names: set each with `pulumi config set --secret --path 'tributary:secrets.<name>' <value>`.",
    );
    // Decrypted by the CLI, a bad value is named by key only.
    const values = {
      ...configMap(example, "dev-aws"),
      "tributary:secrets": JSON.stringify({ Bad: "hunter2-is-not-a-key", ok_name: "" }),
    };
    let message = "";
    try {
      readStackConfig(values, "dev-aws");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("tributary:secrets");
    expect(message).not.toContain("hunter2");
  });
});
