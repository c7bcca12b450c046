/**
 * Stack configuration: what `stacks/Pulumi.<stack>.yaml` says about one environment on one cloud.
 *
 * Pulumi hands a program its stack config as a flat map from "<namespace>:<key>" to strings (objects
 * and lists JSON-encoded): `PULUMI_CONFIG` under the CLI, `pulumi.runtime.allConfig()` inside the
 * program. `tributary plan` and `tributary synth` read the stack file and build the very same map
 * (`configMap`), so one validator (`readStackConfig`) sees the same input everywhere and names the file
 * and key of every mistake.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import { parseDocument } from "yaml";
import { EMBEDDING_PROVIDERS, type EmbeddingProvider, PROVIDER_CLOUD } from "../contract/embedding.ts";
import { TABLE_MAINTENANCE_CRON } from "../contract/function-env.ts";
import { DEFAULT_STACKS_DIR } from "../contract/project.ts";
import { TributaryError } from "../kit/errors.ts";
import { KEY_PATTERN } from "../kit/keys.ts";
import { scheduleProblem } from "../kit/schedule.ts";
import { didYouMean } from "../kit/suggest.ts";

export const CLOUDS = ["aws", "gcp", "azure"] as const;
export type Cloud = (typeof CLOUDS)[number];

/** The provider key that names where a cloud's resources go. */
export const REGION_KEY: Record<Cloud, string> = {
  aws: "aws:region",
  gcp: "gcp:region",
  azure: "azure-native:location",
};

// Tag values must survive every cloud: AWS allows letters, digits, spaces and `_.:/=+-@`.
const TAG_VALUE = "^[A-Za-z0-9 _.:/=+@-]{1,128}$";

const Retention = Type.Object(
  {
    raw: Type.Integer({ minimum: 1, description: "days raw events are kept" }),
    curated: Type.Optional(
      Type.Integer({ minimum: 1, description: "days a superseded curated file is kept; absent: forever" }),
    ),
    quarantine: Type.Integer({ minimum: 1, description: "days rejected records are kept" }),
  },
  { additionalProperties: false },
);

const Functions = Type.Object(
  {
    architecture: Type.Optional(Type.Union([Type.Literal("arm64"), Type.Literal("x86_64")])),
    memoryMb: Type.Optional(Type.Integer({ minimum: 128, maximum: 10240 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 900 })),
    sourceMaps: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

/** How often the stack's sweeper announces what commits still owe; when the outbox alarm fires. */
export const SWEEP_MINUTES = [1, 2, 3, 5, 10, 15, 30, 60] as const;
const Outbox = Type.Object(
  {
    sweepEveryMinutes: Type.Optional(
      Type.Unsafe<(typeof SWEEP_MINUTES)[number]>({ type: "integer", enum: [...SWEEP_MINUTES] }),
    ),
    alarmAfterMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 1440 })),
  },
  { additionalProperties: false },
);

/**
 * The stack's curated tables: when their nightly maintenance runs, and what one serverless SQL query may
 * cost (Athena's bytes-scanned cutoff) and how long its results are kept.
 */
const Tables = Type.Object(
  {
    maintenanceCron: Type.Optional(Type.String({ minLength: 1 })),
    scanLimitGb: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    queryResultsDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);

/** Requests in flight to the embedding model per function instance, unless the stack says. */
export const EMBEDDING_CONCURRENCY = 4;
/** An Azure OpenAI deployment's capacity (thousands of tokens a minute), unless the stack says. */
export const EMBEDDING_CAPACITY = 50;
const Embedding = Type.Object(
  {
    provider: Type.Union(EMBEDDING_PROVIDERS.map((p) => Type.Literal(p))),
    models: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }))),
    region: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{1,31}$" })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

/** What a stack's tables get when its file says nothing (docs/serverless-sql.md). */
export const TABLES_DEFAULTS = {
  maintenanceCron: TABLE_MAINTENANCE_CRON,
  /** 10 GB: at Athena's $5 per TB scanned, at most 5 cents a query. */
  scanLimitGb: 10,
  queryResultsDays: 7,
} as const;

/** The `tributary:*` keys of a stack file, as JSON values after decoding. */
const Schema = Type.Object(
  {
    cloud: Type.Union(CLOUDS.map((c) => Type.Literal(c))),
    environment: Type.String({ pattern: "^[a-z][a-z0-9-]{0,15}$" }),
    namePrefix: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,11}$" })),
    retentionDays: Retention,
    coldAfterDays: Type.Optional(Type.Integer({ minimum: 30 })),
    alertEmail: Type.String({ format: "email" }),
    owner: Type.String({ pattern: TAG_VALUE }),
    costCentre: Type.String({ pattern: TAG_VALUE }),
    pipelines: Type.Array(Type.String({ pattern: "^[A-Za-z0-9_-]+$" }), { minItems: 1, uniqueItems: true }),
    functions: Type.Optional(Functions),
    outbox: Type.Optional(Outbox),
    tables: Type.Optional(Tables),
    embedding: Type.Optional(Embedding),
    // Validated here; infra/bundle.ts reads it where the program deploys the functions' code.
    bundles: Type.Optional(Type.String({ minLength: 1 })),
    // The graph's secrets' values, each set with `pulumi config set --secret --path 'tributary:secrets.<name>'`.
    secrets: Type.Optional(
      Type.Record(Type.String({ pattern: KEY_PATTERN.source }), Type.String({ minLength: 1 }), {
        additionalProperties: false,
      }),
    ),
  },
  { additionalProperties: false },
);

/** What each key means, for messages. */
const EXPECT: Record<string, string> = {
  cloud: `one of ${CLOUDS.join(", ")}`,
  environment: "a lowercase name of up to 16 letters, digits and dashes, e.g. dev or prod",
  namePrefix: "a lowercase prefix of up to 12 letters, digits and dashes, e.g. trib",
  retentionDays: "an object { raw: days, quarantine: days, curated?: days }",
  coldAfterDays: "the number of days (at least 30) after which raw events move to a colder storage tier",
  alertEmail: "the e-mail address alarms are sent to",
  owner: "the owning team, as a tag value (letters, digits, spaces and _.:/=+-@)",
  costCentre: "the cost centre, as a tag value (letters, digits, spaces and _.:/=+-@)",
  pipelines: "a list of the pipelines (asset groups) to deploy, e.g. [commerce]",
  functions:
    "an object { architecture?: arm64 | x86_64, memoryMb?: 128-10240, timeoutSeconds?: 1-900, sourceMaps?: true | false }",
  outbox: `an object { sweepEveryMinutes?: ${SWEEP_MINUTES.join(", ")}, alarmAfterMinutes?: 5-1440 }`,
  tables:
    "an object { maintenanceCron?: five-field cron in UTC, scanLimitGb?: 1-1000000, queryResultsDays?: 1-3650 }",
  embedding: `an object { provider: ${EMBEDDING_PROVIDERS.join(" | ")}, models?: { <declared model>: <provider model> }, region?: where the model is called, concurrency?: 1-64, capacity?: 1-1000 (azure-openai) }`,
  bundles:
    "the folder holding the functions' code built by tributary bundle, relative to the project (default dist/bundles)",
  secrets:
    "a map from each secret's name (lowercase snake case) to its value, each set with `pulumi config set --secret --path 'tributary:secrets.<name>' <value>`",
};
const OBJECT_KEYS = new Set([
  "retentionDays",
  "functions",
  "pipelines",
  "secrets",
  "outbox",
  "tables",
  "embedding",
]);

/** What `tributary synth` and `tributary plan` see for an encrypted config value: they cannot decrypt it. */
export const SECRET_PLACEHOLDER = "[secret]";
const NUMBER_KEYS = new Set(["coldAfterDays"]);

export interface StackConfig {
  readonly stack: string;
  /** The stack file as messages name it, when not `stacks/Pulumi.<stack>.yaml` (see stackFileOf). */
  readonly file?: string;
  readonly cloud: Cloud;
  readonly region: string;
  readonly environment: string;
  readonly namePrefix: string;
  readonly retentionDays: { readonly raw: number; readonly curated?: number; readonly quarantine: number };
  readonly coldAfterDays: number;
  readonly alertEmail: string;
  readonly owner: string;
  readonly costCentre: string;
  readonly pipelines: readonly string[];
  readonly functions: {
    readonly architecture: "arm64" | "x86_64";
    readonly memoryMb: number;
    readonly timeoutSeconds: number;
    /** Ship source maps in the functions' bundle and use them in stack traces (default false). */
    readonly sourceMaps?: boolean;
  };
  /** The secrets given a value in `tributary:secrets`, by name, sorted; never their values. */
  readonly secrets?: readonly string[];
  /**
   * The outbox sweeper's schedule and the alarm on commits left unannounced (default: every 5
   * minutes; after 30 minutes). See docs/outbox.md.
   */
  readonly outbox?: { readonly sweepEveryMinutes: number; readonly alarmAfterMinutes: number };
  /**
   * The curated tables' nightly maintenance (cron in UTC) and serverless SQL limits (default:
   * TABLES_DEFAULTS). See docs/serverless-sql.md.
   */
  readonly tables?: {
    readonly maintenanceCron: string;
    readonly scanLimitGb: number;
    readonly queryResultsDays: number;
  };
  /** The embedding provider the stack's embedding assets call (see docs/embedding-providers.md). */
  readonly embedding?: EmbeddingChoice;
}

/** `tributary:embedding` with its defaults filled in. */
export interface EmbeddingChoice {
  readonly provider: EmbeddingProvider;
  /** The provider's model for a declared model name; a name not listed is the provider's model itself. */
  readonly models: Readonly<Record<string, string>>;
  /** Where the model is called: Bedrock region, Vertex AI location, Azure OpenAI account (default: the stack's). */
  readonly region: string;
  /** Requests in flight to the model per function instance (default 4). */
  readonly concurrency: number;
  /** Azure OpenAI: each deployment's capacity in thousands of tokens a minute (default 50). */
  readonly capacity?: number;
}

/** The outbox settings a stack gets when its file says nothing. */
export const OUTBOX_DEFAULTS = { sweepEveryMinutes: 5, alarmAfterMinutes: 30 } as const;

/** A stack file or stack config that cannot be deployed. */
export class StackConfigError extends TributaryError {
  override name = "StackConfigError";
}

type AddFormats = (ajv: Ajv, formats: string[]) => Ajv;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ??
  (addFormatsModule as unknown as AddFormats);
let validator: ReturnType<Ajv["compile"]> | undefined;
function validate(value: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    addFormats(ajv, ["email"]);
    validator = ajv.compile(Schema);
  }
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/**
 * Where a stack's file lives, as messages name it: in `stacks`, the stacks folder relative to the
 * project's root (the project configuration's `stacks`, Pulumi.yaml's `stackConfigDir`).
 */
export function stackFile(stack: string, stacks: string = DEFAULT_STACKS_DIR): string {
  return `${stacks}/Pulumi.${stack}.yaml`;
}

/** The stacks folder `stacks` (absolute, or relative to `root`) as messages name it: relative to `root`. */
export function stacksShown(root: string, stacks: string = DEFAULT_STACKS_DIR): string {
  const rel = path.relative(path.resolve(root), path.resolve(root, stacks));
  if (rel === "") return ".";
  return rel.startsWith("..") && path.isAbsolute(stacks) ? stacks : rel.split(path.sep).join("/");
}

/** The file a stack config was read from, as messages name it. */
export function stackFileOf(config: Pick<StackConfig, "stack" | "file">): string {
  return config.file ?? stackFile(config.stack);
}

/**
 * The stacks of the project at `root`: the names of the `Pulumi.<stack>.yaml` files in its stacks folder
 * (`stacks`, absolute or relative to `root`), sorted.
 */
export function stackNames(root: string, stacks: string = DEFAULT_STACKS_DIR): string[] {
  const dir = path.resolve(root, stacks);
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort()
    : [];
}

/**
 * The stack's config as Pulumi passes it to the program: the stack file's `config:` map (in the stacks
 * folder `stacks`, absolute or relative to `root`), with namespace-less keys put in the project's
 * namespace ("tributary"), scalars as strings and objects and lists as JSON, as the CLI encodes them
 * into `PULUMI_CONFIG`.
 */
export function configMap(
  root: string,
  stack: string,
  stacks: string = DEFAULT_STACKS_DIR,
): Record<string, string> {
  const file = stackFile(stack, stacksShown(root, stacks));
  const full = path.join(path.resolve(root, stacks), `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(full)) {
    const names = stackNames(root, stacks);
    throw new StackConfigError(
      `${file}: no such stack file.${didYouMean(stack, names)} Stacks here: ${names.join(", ") || "none"}.`,
    );
  }
  const doc = parseDocument(fs.readFileSync(full, "utf8"));
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e?.linePos?.[0];
    throw new StackConfigError(
      `${file}${line ? `:${line.line}:${line.col}` : ""}: ${e?.message.split("\n")[0]}`,
    );
  }
  const body = doc.toJS() as { config?: Record<string, unknown> } | null;
  const config = body?.config ?? {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw new StackConfigError(`${file}: "config" must be a map of keys to values.`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    const full = key.includes(":") ? key : `tributary:${key}`;
    if (full === "tributary:secrets") {
      out[full] = JSON.stringify(encryptedSecrets(file, value));
      continue;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
      // Encrypted values need the stack's secrets provider; Tributary's own keys are never secret.
      out[full] = "[secret]";
      continue;
    }
    out[full] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

const isSecure = (v: unknown): boolean =>
  v !== null && typeof v === "object" && !Array.isArray(v) && "secure" in v && Object.keys(v).length === 1;

/**
 * `tributary:secrets` as a stack file holds it: every value encrypted on its own (`secure:`), so its names
 * stay readable. A plain value in the file is refused: it would be a secret committed in plain text.
 */
function encryptedSecrets(file: string, value: unknown): Record<string, string> {
  const how = (name: string) => `pulumi config set --secret --path 'tributary:secrets.${name}' <value>`;
  if (isSecure(value)) {
    throw new StackConfigError(
      `${file}: tributary:secrets is encrypted as a whole, which hides the secrets' names: set each with \`${how("<name>")}\`.`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new StackConfigError(`${file}: tributary:secrets must be ${EXPECT.secrets}.`);
  }
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!isSecure(v)) {
      throw new StackConfigError(
        `${file}: tributary:secrets.${name} is in plain text: remove it from the file and set it with \`${how(name)}\`.`,
      );
    }
    out[name] = SECRET_PLACEHOLDER;
  }
  return out;
}

/**
 * The validated stack config from Pulumi's flat config map. Every problem is reported at once, each
 * naming `file` (the stack file as messages name it, default `stacks/Pulumi.<stack>.yaml`) and the key,
 * e.g. `stacks/Pulumi.dev-aws.yaml: tributary:retentionDays.raw must be …`.
 */
export function readStackConfig(
  values: Record<string, string>,
  stack: string,
  file: string = stackFile(stack),
): StackConfig {
  const problems: string[] = [];
  const raw: Record<string, unknown> = {};
  const unreadable = new Set<string>();
  const known = Object.keys(Schema.properties);
  for (const [full, text] of Object.entries(values)) {
    if (!full.startsWith("tributary:")) continue;
    const key = full.slice("tributary:".length);
    if (!known.includes(key)) {
      problems.push(`tributary:${key} is not a Tributary setting.${didYouMean(key, known)}`);
      continue;
    }
    if (OBJECT_KEYS.has(key) || NUMBER_KEYS.has(key)) {
      try {
        raw[key] = JSON.parse(text);
      } catch {
        unreadable.add(key);
        const got = key === "secrets" ? "" : ` (got ${JSON.stringify(text)})`;
        problems.push(`tributary:${key} must be ${EXPECT[key]}${got}`);
      }
    } else {
      raw[key] = text;
    }
  }
  for (const e of validate(raw)) {
    const missing = e.keyword === "required" ? (e.params as { missingProperty: string }).missingProperty : "";
    if (!(e.instancePath === "" && unreadable.has(missing))) problems.push(describe(e, raw));
  }
  const cloud = raw.cloud as Cloud | undefined;
  const regionKey = cloud && CLOUDS.includes(cloud) ? REGION_KEY[cloud] : undefined;
  const region = regionKey ? values[regionKey] : undefined;
  if (regionKey && !region)
    problems.push(`${regionKey} is missing: set the ${cloud} region the stack deploys to`);
  const outbox = raw.outbox as { sweepEveryMinutes?: number; alarmAfterMinutes?: number } | undefined;
  const sweep = outbox?.sweepEveryMinutes ?? OUTBOX_DEFAULTS.sweepEveryMinutes;
  const alarm = outbox?.alarmAfterMinutes ?? OUTBOX_DEFAULTS.alarmAfterMinutes;
  if (typeof sweep === "number" && typeof alarm === "number" && alarm <= sweep) {
    problems.push(
      `tributary:outbox.alarmAfterMinutes must be more than sweepEveryMinutes (got ${alarm} and ${sweep}): a commit waits up to one sweep before it is announced`,
    );
  }
  const maintenanceCron = (raw.tables as { maintenanceCron?: unknown } | undefined)?.maintenanceCron;
  if (typeof maintenanceCron === "string") {
    const wrong = scheduleProblem({ cron: maintenanceCron, timezone: "UTC" });
    if (wrong) problems.push(`tributary:tables.maintenanceCron: ${wrong}`);
  }
  const embedding = raw.embedding as { provider?: EmbeddingProvider; capacity?: number } | undefined;
  if (cloud && embedding?.provider && EMBEDDING_PROVIDERS.includes(embedding.provider)) {
    const serves = PROVIDER_CLOUD[embedding.provider];
    if (serves !== cloud) {
      const own = EMBEDDING_PROVIDERS.find((p) => PROVIDER_CLOUD[p] === cloud);
      problems.push(
        `tributary:embedding.provider is ${embedding.provider}, which ${cloud} functions cannot call with their own identity: use ${own} on a ${cloud} stack`,
      );
    }
    if (embedding.capacity !== undefined && embedding.provider !== "azure-openai") {
      problems.push(`tributary:embedding.capacity is a setting of azure-openai deployments only`);
    }
  }
  if (problems.length > 0) {
    const unique = [...new Set(problems)];
    throw new StackConfigError(
      unique.length === 1
        ? `${file}: ${unique[0]}.`
        : `${file}: ${unique.length} problems:\n${unique.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  const c = raw as Static<typeof Schema>;
  return {
    stack,
    cloud: c.cloud,
    region: region as string,
    environment: c.environment,
    namePrefix: c.namePrefix ?? "trib",
    retentionDays: c.retentionDays,
    coldAfterDays: c.coldAfterDays ?? 30,
    alertEmail: c.alertEmail,
    owner: c.owner,
    costCentre: c.costCentre,
    pipelines: c.pipelines,
    functions: {
      architecture: c.functions?.architecture ?? "arm64",
      memoryMb: c.functions?.memoryMb ?? 1024,
      timeoutSeconds: c.functions?.timeoutSeconds ?? 300,
      ...(c.functions?.sourceMaps ? { sourceMaps: true } : {}),
    },
    outbox: {
      sweepEveryMinutes: c.outbox?.sweepEveryMinutes ?? OUTBOX_DEFAULTS.sweepEveryMinutes,
      alarmAfterMinutes: c.outbox?.alarmAfterMinutes ?? OUTBOX_DEFAULTS.alarmAfterMinutes,
    },
    tables: {
      maintenanceCron: c.tables?.maintenanceCron ?? TABLES_DEFAULTS.maintenanceCron,
      scanLimitGb: c.tables?.scanLimitGb ?? TABLES_DEFAULTS.scanLimitGb,
      queryResultsDays: c.tables?.queryResultsDays ?? TABLES_DEFAULTS.queryResultsDays,
    },
    ...(c.secrets === undefined ? {} : { secrets: Object.keys(c.secrets).sort() }),
    ...(c.embedding === undefined
      ? {}
      : {
          embedding: {
            provider: c.embedding.provider,
            models: c.embedding.models ?? {},
            region: c.embedding.region ?? (region as string),
            concurrency: c.embedding.concurrency ?? EMBEDDING_CONCURRENCY,
            ...(c.embedding.provider === "azure-openai"
              ? { capacity: c.embedding.capacity ?? EMBEDDING_CAPACITY }
              : {}),
          },
        }),
    ...(file === stackFile(stack) ? {} : { file }),
  };
}

function describe(e: ErrorObject, raw: Record<string, unknown>): string {
  const parts = e.instancePath.split("/").filter(Boolean);
  if (e.keyword === "required") parts.push((e.params as { missingProperty: string }).missingProperty);
  if (e.keyword === "additionalProperties")
    parts.push((e.params as { additionalProperty: string }).additionalProperty);
  const top = parts[0] ?? "";
  const key = `tributary:${parts.join(".")}`;
  if (e.keyword === "required" && parts.length === 1) return `${key} is missing: set it to ${EXPECT[top]}`;
  if (e.keyword === "required") return `${key} is missing (${`tributary:${top}`} must be ${EXPECT[top]})`;
  if (e.keyword === "additionalProperties")
    return `${key} is not a setting of tributary:${top}, which is ${EXPECT[top]}`;
  let value: unknown = raw;
  for (const p of parts) value = (value as Record<string, unknown> | undefined)?.[p];
  // A secret's value is never printed, not even a wrong one.
  const got = top === "secrets" ? "" : ` (got ${JSON.stringify(value)})`;
  if (parts.length === 1) return `tributary:${top} must be ${EXPECT[top]}${got}`;
  if (e.keyword === "enum") {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
    return `${key} must be one of ${allowed.join(", ")}${got}`;
  }
  return `${key} ${e.message}${got}`;
}
