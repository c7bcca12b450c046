/**
 * The reference pipeline's embedding asset (recommendation_vectors) on every cloud, under the project's
 * synth: the grant to call exactly the stack's one model, the vector prefix granted to its function
 * alone, its vectors configuration in its environment; the policy pack passing, and each embedding rule
 * failing on the variant that breaks it.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import graph from "../../examples/commerce/assets/index.ts";
import { configMap, readStackConfig } from "../../src/infra/config.ts";
import { apisOf } from "../../src/infra/gcp/services.ts";
import { planDeployment } from "../../src/infra/plan/build.ts";
import { evaluate } from "../../src/infra/policy/rules/index.ts";
import { type ResourceRecord, type Synthesis, synth } from "../../src/infra/synth/index.ts";
import { parseVectorsConfig } from "../../src/runtime/vectors/config.ts";
import { edited, lookup } from "./synthesised.ts";

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../examples/commerce");

let aws: Synthesis;
let gcp: Synthesis;
let azure: Synthesis;

beforeAll(async () => {
  [aws, gcp, azure] = await Promise.all([
    synth({ root: example, stack: "dev-aws" }),
    synth({ root: example, stack: "staging-gcp" }),
    synth({ root: example, stack: "prod-azure" }),
  ]);
}, 300_000);

const rules = (resources: readonly ResourceRecord[]) =>
  evaluate(resources)
    .filter(
      (v) =>
        v.policy.startsWith("embedding") ||
        v.policy.startsWith("vector") ||
        v.policy.startsWith("azure-openai"),
    )
    .map((v) => [v.policy, v.message]);

describe("the plan", () => {
  it("maps the declared model per stack, grants the vector prefix to its function, configures it", () => {
    const stacks = { "dev-aws": "bedrock", "staging-gcp": "vertex", "prod-azure": "azure-openai" } as const;
    const plans = Object.keys(stacks).map((s) =>
      planDeployment(graph, readStackConfig(configMap(example, s), s)),
    );
    expect(plans.map((p) => p.embedding)).toEqual([
      {
        provider: "bedrock",
        region: "eu-west-1",
        concurrency: 4,
        models: [
          { model: "amazon.titan-embed-text-v2:0", dimensions: [256], callers: ["recommendation_vectors"] },
        ],
      },
      {
        provider: "vertex",
        region: "europe-west1",
        concurrency: 4,
        models: [{ model: "text-embedding-005", dimensions: [256], callers: ["recommendation_vectors"] }],
      },
      {
        provider: "azure-openai",
        region: "westeurope",
        concurrency: 4,
        capacity: 50,
        models: [{ model: "text-embedding-3-small", dimensions: [256], callers: ["recommendation_vectors"] }],
      },
    ]);
    const [awsPlan] = plans;
    const fn = awsPlan!.functions.find((f) => f.id === "recommendation_vectors")!;
    expect(fn.embeddingModel).toBe("amazon.titan-embed-text-v2:0");
    expect(fn.environment.TRIBUTARY_VECTORS).toEqual({
      vectors: {
        provider: { kind: "bedrock", region: "eu-west-1", concurrency: 4 },
        models: { "text-embedding": "amazon.titan-embed-text-v2:0" },
      },
    });
    // What the function reads back is a configuration the runtime accepts.
    expect(
      parseVectorsConfig(
        (fn.environment.TRIBUTARY_VECTORS as { vectors: unknown }).vectors,
        "TRIBUTARY_VECTORS",
      ).provider,
    ).toEqual({ kind: "bedrock", region: "eu-west-1", concurrency: 4 });
    expect(awsPlan!.grants.filter((g) => g.prefix.startsWith("vectors/"))).toEqual([
      {
        function: "recommendation_vectors",
        store: "curated",
        prefix: "vectors/recommendation_vectors/",
        access: ["read", "list", "write", "delete"],
        reason: "own",
      },
    ]);
    // No other function has a vectors configuration or a model.
    for (const p of plans) {
      expect(
        p.functions.filter((f) => f.embeddingModel || "TRIBUTARY_VECTORS" in f.environment).map((f) => f.id),
      ).toEqual(["recommendation_vectors"]);
    }
  });

  it("refuses a model the provider does not serve at the declared dimension, and a stack with no provider", () => {
    const config = readStackConfig(configMap(example, "dev-aws"), "dev-aws");
    expect(() =>
      planDeployment(graph, {
        ...config,
        embedding: { ...config.embedding!, models: { "text-embedding": "cohere.embed-english-v3" } },
      }),
    ).toThrow(
      '"recommendation_vectors" embeds with "text-embedding" at dimension 256 (tributary:embedding.models maps "text-embedding" to it), but in stacks/Pulumi.dev-aws.yaml: cohere.embed-english-v3 returns vectors of 1024 numbers, not 256.',
    );
    const { embedding: _, ...none } = config;
    expect(() => planDeployment(graph, none)).toThrow(
      '"recommendation_vectors" embeds with the model "text-embedding", but stack "dev-aws" chooses no embedding provider: set tributary:embedding in stacks/Pulumi.dev-aws.yaml (e.g. { provider: bedrock, models: { text-embedding: <the provider\'s model> } }).',
    );
  });
});

describe("synth of each stack", () => {
  it("AWS: bedrock:InvokeModel on the one foundation model's ARN, for recommendation_vectors alone", () => {
    const { inputs } = lookup(() => aws);
    const policy = JSON.parse(
      inputs("trib-dev-recommendation-vectors-policy", "aws:iam/rolePolicy:RolePolicy").policy as string,
    ) as { Statement: { Sid: string; Action: unknown; Resource: unknown }[] };
    const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
    expect(bySid.InvokeEmbeddingModel).toEqual({
      Sid: "InvokeEmbeddingModel",
      Effect: "Allow",
      Action: "bedrock:InvokeModel",
      Resource: ["arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0"],
    });
    expect(bySid.ReadObjects!.Resource).toContain(
      "arn:aws:s3:::trib-dev-curated/vectors/recommendation_vectors/*",
    );
    expect(bySid.WriteObjects!.Resource).toContain(
      "arn:aws:s3:::trib-dev-curated/vectors/recommendation_vectors/*",
    );
    // No other function's policy names a model or the vector prefix.
    const others = aws.resources.filter(
      (r) =>
        r.type === "aws:iam/rolePolicy:RolePolicy" && r.name !== "trib-dev-recommendation-vectors-policy",
    );
    expect(
      others.filter((r) => /bedrock|vectors\//.test(String(r.inputs.policy))).map((r) => r.name),
    ).toEqual([]);
    const env = (
      inputs("trib-dev-recommendation-vectors", "aws:lambda/function:Function").environment as {
        variables: Record<string, string>;
      }
    ).variables;
    expect(JSON.parse(env.TRIBUTARY_VECTORS!)).toEqual({
      provider: { kind: "bedrock", region: "eu-west-1", concurrency: 4 },
      models: { "text-embedding": "amazon.titan-embed-text-v2:0" },
    });
  });

  it("GCP: a custom role holding aiplatform.endpoints.predict only, granted to recommendation_vectors' account alone", () => {
    const { inputs } = lookup(() => gcp);
    expect(inputs("trib-staging-embedding-predict", "gcp:projects/iAMCustomRole:IAMCustomRole")).toEqual({
      description:
        "Calls Vertex AI models' predict (text embeddings): held by the stack's embedding functions only.",
      permissions: ["aiplatform.endpoints.predict"],
      project: "tributary-staging",
      roleId: "trib_staging_embedding_predict",
      stage: "GA",
      title: "Tributary staging-gcp: embedding predictions",
    });
    // Project-wide bindings of a custom role: the embedding one only (the query reader's job user is predefined).
    const members = gcp.resources.filter(
      (r) =>
        r.type === "gcp:projects/iAMMember:IAMMember" &&
        String(r.inputs.role).startsWith("projects/tributary-staging/roles/"),
    );
    expect(members.map((m) => [m.name, m.inputs])).toEqual([
      [
        "trib-staging-recommendation-vectors-embedding",
        {
          member: expect.stringMatching(/^serviceAccount:.*@tributary-staging\.iam\.gserviceaccount\.com$/),
          project: "tributary-staging",
          role: "projects/tributary-staging/roles/trib_staging_embedding_predict",
        },
      ],
    ]);
    expect(inputs("trib-staging-apis-aiplatform", "gcp:projects/service:Service").service).toBe(
      "aiplatform.googleapis.com",
    );
  });

  it("GCP: a project binding waits for Vertex AI only when it grants the embedding role", () => {
    const member = "gcp:projects/iAMMember:IAMMember";
    const role = "projects/tributary-staging/roles/trib_staging_embedding_predict";
    expect(apisOf(member, { role })).toEqual(["iam", "aiplatform"]);
    // A stack without embedding assets does not enable Vertex AI: its other bindings must not need it.
    expect(apisOf(member, { role: "roles/logging.logWriter" })).toEqual(["iam"]);
  });

  it("Azure: an OpenAI account with local auth and public access off, its deployment, its private endpoint, the OpenAI User role on it", () => {
    const { inputs } = lookup(() => azure);
    const account = inputs("trib-prod-openai", "azure-native:cognitiveservices:Account");
    expect(account).toMatchObject({
      kind: "OpenAI",
      location: "westeurope",
      sku: { name: "S0" },
      properties: {
        disableLocalAuth: true,
        publicNetworkAccess: "Disabled",
        networkAcls: { defaultAction: "Deny" },
        restrictOutboundNetworkAccess: true,
      },
    });
    expect(account.accountName).toMatch(/^trib-prod-openai-[0-9a-f]{6}$/);
    expect(account.properties).toMatchObject({ customSubDomainName: account.accountName });
    expect(
      inputs("trib-prod-openai-text-embedding-3-small", "azure-native:cognitiveservices:Deployment"),
    ).toMatchObject({
      deploymentName: "text-embedding-3-small",
      properties: {
        model: { format: "OpenAI", name: "text-embedding-3-small", version: "1" },
        versionUpgradeOption: "NoAutoUpgrade",
      },
      sku: { name: "Standard", capacity: 50 },
    });
    expect(inputs("trib-prod-openai-endpoint", "azure-native:network:PrivateEndpoint")).toMatchObject({
      privateLinkServiceConnections: [{ groupIds: ["account"] }],
    });
    const assignment = inputs(
      "trib-prod-recommendation-vectors-embedding",
      "azure-native:authorization:RoleAssignment",
    );
    expect(String(assignment.roleDefinitionId)).toMatch(
      /\/roleDefinitions\/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd$/,
    );
    expect(String(assignment.scope)).toMatch(
      /\/providers\/Microsoft\.CognitiveServices\/accounts\/trib-prod-openai-[0-9a-f]{6}$/,
    );
    const openAIRoles = azure.resources.filter(
      (r) =>
        r.type === "azure-native:authorization:RoleAssignment" &&
        String(r.inputs.roleDefinitionId).endsWith("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"),
    );
    expect(openAIRoles.map((r) => r.name)).toEqual(["trib-prod-recommendation-vectors-embedding"]);
    const settings = inputs("trib-prod-recommendation-vectors", "azure-native:web:WebApp") as {
      siteConfig: { appSettings: { name: string; value: string }[] };
    };
    const vectors = settings.siteConfig.appSettings.find((s) => s.name === "TRIBUTARY_VECTORS")!;
    expect(JSON.parse(vectors.value)).toEqual({
      provider: {
        kind: "azure-openai",
        apiVersion: "2024-10-21",
        concurrency: 4,
        endpoint: `https://${account.accountName}.openai.azure.com/`,
      },
      models: { "text-embedding": "text-embedding-3-small" },
    });
  });

  it("passes the policy pack", () => {
    expect(evaluate(aws.resources)).toEqual([]);
    expect(evaluate(gcp.resources)).toEqual([]);
    expect(evaluate(azure.resources)).toEqual([]);
  });
});

describe("each embedding rule fails on the variant that breaks it", () => {
  const AWS_POLICY = "trib-dev-recommendation-vectors-policy";
  const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
  const withStatement = (extra: object) => (i: Record<string, unknown>) => {
    const doc = JSON.parse(i.policy as string) as { Statement: object[] };
    doc.Statement.push(extra);
    return { ...i, policy: JSON.stringify(doc) };
  };

  it("embedding-model-scoped: a wildcard model, two models, a broad Vertex role, an Azure role on the group", () => {
    const wild = edited(
      aws.resources,
      AWS_POLICY,
      ROLE_POLICY,
      withStatement({
        Sid: "AnyModel",
        Effect: "Allow",
        Action: "bedrock:InvokeModel",
        Resource: "arn:aws:bedrock:eu-west-1::foundation-model/*",
      }),
    );
    expect(rules(wild)).toEqual([
      [
        "embedding-model-scoped",
        'role policy "trib-dev-recommendation-vectors-policy" statement "AnyModel" lets its function invoke "arn:aws:bedrock:eu-west-1::foundation-model/*"; name the one foundation model\'s ARN (arn:aws:bedrock:<region>::foundation-model/<model id>)',
      ],
    ]);
    const two = edited(
      aws.resources,
      AWS_POLICY,
      ROLE_POLICY,
      withStatement({
        Sid: "TwoModels",
        Effect: "Allow",
        Action: "bedrock:InvokeModel",
        Resource: [
          "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0",
          "arn:aws:bedrock:eu-west-1::foundation-model/cohere.embed-english-v3",
        ],
      }),
    );
    expect(rules(two)).toEqual([
      [
        "embedding-model-scoped",
        'role policy "trib-dev-recommendation-vectors-policy" statement "TwoModels" lets its function invoke 2 models; an embedding function calls one',
      ],
      [
        "embedding-model-only-embedding-functions",
        'role policy "trib-dev-recommendation-vectors-policy" statement "TwoModels" lets its function invoke cohere.embed-english-v3, a model its configuration does not name (it names amazon.titan-embed-text-v2:0)',
      ],
    ]);
    const broad = edited(
      gcp.resources,
      "trib-staging-recommendation-vectors-embedding",
      "gcp:projects/iAMMember:IAMMember",
      (i) => ({ ...i, role: "roles/aiplatform.user" }),
    );
    expect(rules(broad)).toEqual([
      [
        "embedding-model-scoped",
        'project IAM member "trib-staging-recommendation-vectors-embedding" grants roles/aiplatform.user, which does far more than call a model; grant the stack\'s custom role holding aiplatform.endpoints.predict only',
      ],
    ]);
    const more = edited(
      gcp.resources,
      "trib-staging-embedding-predict",
      "gcp:projects/iAMCustomRole:IAMCustomRole",
      (i) => ({ ...i, permissions: ["aiplatform.endpoints.predict", "aiplatform.endpoints.deploy"] }),
    );
    expect(rules(more)).toEqual([
      [
        "embedding-model-scoped",
        'custom role "trib-staging-embedding-predict" holds aiplatform.endpoints.deploy beside aiplatform.endpoints.predict; an embedding function needs that one permission',
      ],
    ]);
    const group = edited(
      azure.resources,
      "trib-prod-recommendation-vectors-embedding",
      "azure-native:authorization:RoleAssignment",
      (i) => ({
        ...i,
        scope: String(i.scope).replace(/\/providers\/Microsoft\.CognitiveServices\/accounts\/.*$/, ""),
      }),
    );
    expect(rules(group).map(([p, m]) => [p, m!.replace(/on \S+;/, "on <group>;")])).toEqual([
      [
        "embedding-model-scoped",
        'role assignment "trib-prod-recommendation-vectors-embedding" assigns Cognitive Services OpenAI User on <group>; scope it to the stack\'s Azure OpenAI account',
      ],
    ]);
  });

  it("embedding-model-only-embedding-functions: a model granted to a function that embeds nothing", () => {
    const other = edited(
      aws.resources,
      "trib-dev-customer-features-policy",
      ROLE_POLICY,
      withStatement({
        Sid: "Model",
        Effect: "Allow",
        Action: "bedrock:InvokeModel",
        Resource: "arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0",
      }),
    );
    expect(rules(other)).toEqual([
      [
        "embedding-model-only-embedding-functions",
        'role policy "trib-dev-customer-features-policy" lets a function that embeds nothing invoke a model; grant models to embedding assets\' functions only',
      ],
    ]);
    const moved = gcp.resources.map((r) =>
      r.name === "trib-staging-recommendation-vectors-embedding"
        ? {
            ...r,
            parent: gcp.resources.find((c) => !c.custom && c.name === "trib-staging-customer-features")!.urn,
          }
        : r,
    );
    expect(rules(moved)).toEqual([
      [
        "embedding-model-only-embedding-functions",
        expect.stringMatching(
          /^project IAM member "trib-staging-recommendation-vectors-embedding" gives serviceAccount:.* Vertex AI predictions, but it is no embedding asset's function; grant the role to embedding functions only$/,
        ),
      ],
    ]);
  });

  it("vector-prefix-only-its-asset: another function granted the vector tables", () => {
    const leak = edited(
      aws.resources,
      "trib-dev-customer-features-policy",
      ROLE_POLICY,
      withStatement({
        Sid: "Vectors",
        Effect: "Allow",
        Action: "s3:GetObject",
        Resource: "arn:aws:s3:::trib-dev-curated/vectors/recommendation_vectors/*",
      }),
    );
    expect(rules(leak)).toEqual([
      [
        "vector-prefix-only-its-asset",
        "role policy \"trib-dev-customer-features-policy\" grants vectors/recommendation_vectors/ to a function that is not recommendation_vectors's embedding function; only the embedding asset's own function reads and writes its vector tables",
      ],
    ]);
  });

  it("azure-openai-local-auth-off: keys accepted, or the account public", () => {
    const keyed = edited(
      azure.resources,
      "trib-prod-openai",
      "azure-native:cognitiveservices:Account",
      (i) => ({
        ...i,
        properties: { ...(i.properties as object), disableLocalAuth: false, publicNetworkAccess: "Enabled" },
      }),
    );
    expect(rules(keyed)).toEqual([
      [
        "azure-openai-local-auth-off",
        'Azure OpenAI account "trib-prod-openai" accepts API keys; set properties.disableLocalAuth to true (functions use Entra ID)',
      ],
      [
        "azure-openai-local-auth-off",
        'Azure OpenAI account "trib-prod-openai" is reachable from the internet; set properties.publicNetworkAccess to Disabled (functions reach it through the stack\'s private endpoint)',
      ],
    ]);
  });
});
