import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configMap, readStackConfig, StackConfigError } from "../../src/infra/config.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-config-"));
fs.mkdirSync(path.join(root, "stacks"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function stackFile(stack: string, body: string): void {
  fs.writeFileSync(path.join(root, "stacks", `Pulumi.${stack}.yaml`), body);
}

const GOOD = `config:
  aws:region: eu-west-1
  tributary:cloud: aws
  tributary:environment: dev
  tributary:retentionDays:
    raw: 30
    quarantine: 14
  tributary:alertEmail: alerts@example.com
  tributary:owner: data-platform
  tributary:costCentre: cc-1
  tributary:pipelines: [commerce]
`;

function problem(stack: string, body: string): string {
  stackFile(stack, body);
  try {
    readStackConfig(configMap(root, stack), stack);
  } catch (e) {
    expect(e).toBeInstanceOf(StackConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a StackConfigError");
}

describe("stack config", () => {
  it("encodes the stack file the way the Pulumi CLI fills PULUMI_CONFIG", () => {
    stackFile("good", `${GOOD}  plain: 3\n  secretThing:\n    secure: AAABAxyz\n`);
    expect(configMap(root, "good")).toEqual({
      "aws:region": "eu-west-1",
      "tributary:cloud": "aws",
      "tributary:environment": "dev",
      "tributary:retentionDays": '{"raw":30,"quarantine":14}',
      "tributary:alertEmail": "alerts@example.com",
      "tributary:owner": "data-platform",
      "tributary:costCentre": "cc-1",
      "tributary:pipelines": '["commerce"]',
      "tributary:plain": "3",
      "tributary:secretThing": "[secret]",
    });
  });

  it("fills the defaults", () => {
    stackFile("good", GOOD);
    expect(readStackConfig(configMap(root, "good"), "good")).toEqual({
      stack: "good",
      cloud: "aws",
      region: "eu-west-1",
      environment: "dev",
      namePrefix: "trib",
      retentionDays: { raw: 30, quarantine: 14 },
      coldAfterDays: 30,
      alertEmail: "alerts@example.com",
      owner: "data-platform",
      costCentre: "cc-1",
      pipelines: ["commerce"],
      functions: { architecture: "arm64", memoryMb: 1024, timeoutSeconds: 300 },
      outbox: { sweepEveryMinutes: 5, alarmAfterMinutes: 30 },
      tables: { maintenanceCron: "0 3 * * *", scanLimitGb: 10, queryResultsDays: 7 },
    });
  });

  it("reads the curated tables' settings, and names a maintenance cron or a limit it cannot take", () => {
    const body = `${GOOD}  tributary:tables:\n    maintenanceCron: "30 1 * * 1"\n    scanLimitGb: 50\n`;
    stackFile("tables", body);
    expect(readStackConfig(configMap(root, "tables"), "tables").tables).toEqual({
      maintenanceCron: "30 1 * * 1",
      scanLimitGb: 50,
      queryResultsDays: 7,
    });
    expect(problem("cron", `${GOOD}  tributary:tables:\n    maintenanceCron: "nightly"\n`)).toBe(
      'stacks/Pulumi.cron.yaml: tributary:tables.maintenanceCron: cron "nightly" has 1 field; write five: minute hour day-of-month month day-of-week.',
    );
    expect(problem("scan", `${GOOD}  tributary:tables:\n    scanLimitGb: 0\n    athena: true\n`)).toBe(
      "stacks/Pulumi.scan.yaml: 2 problems:\n" +
        "  - tributary:tables.athena is not a setting of tributary:tables, which is an object { maintenanceCron?: five-field cron in UTC, scanLimitGb?: 1-1000000, queryResultsDays?: 1-3650 }\n" +
        "  - tributary:tables.scanLimitGb must be >= 1 (got 0)",
    );
  });

  it("names an outbox alarm that would fire before the sweep could announce", () => {
    const body = `${GOOD}  tributary:outbox:\n    sweepEveryMinutes: 15\n    alarmAfterMinutes: 10\n`;
    expect(problem("outbox", body)).toBe(
      "stacks/Pulumi.outbox.yaml: tributary:outbox.alarmAfterMinutes must be more than sweepEveryMinutes (got 10 and 15): a commit waits up to one sweep before it is announced.",
    );
    expect(problem("sweep", `${GOOD}  tributary:outbox:\n    sweepEveryMinutes: 7\n`)).toBe(
      "stacks/Pulumi.sweep.yaml: tributary:outbox.sweepEveryMinutes must be one of 1, 2, 3, 5, 10, 15, 30, 60 (got 7).",
    );
  });

  it("reads tributary:embedding with its defaults, and refuses another cloud's provider", () => {
    stackFile(
      "emb",
      `${GOOD}  tributary:embedding:\n    provider: bedrock\n    models:\n      text-embedding: amazon.titan-embed-text-v2:0\n`,
    );
    expect(readStackConfig(configMap(root, "emb"), "emb").embedding).toEqual({
      provider: "bedrock",
      models: { "text-embedding": "amazon.titan-embed-text-v2:0" },
      region: "eu-west-1",
      concurrency: 4,
    });
    expect(problem("emb-gcp", `${GOOD}  tributary:embedding:\n    provider: vertex\n`)).toBe(
      "stacks/Pulumi.emb-gcp.yaml: tributary:embedding.provider is vertex, which aws functions cannot call with their own identity: use bedrock on a aws stack.",
    );
    expect(
      problem(
        "emb-cap",
        `${GOOD}  tributary:embedding:\n    provider: bedrock\n    capacity: 10\n    concurrency: 0\n`,
      ),
    ).toBe(
      "stacks/Pulumi.emb-cap.yaml: 2 problems:\n  - tributary:embedding.concurrency must be >= 1 (got 0)\n  - tributary:embedding.capacity is a setting of azure-openai deployments only",
    );
  });

  it("names the file and the missing key", () => {
    expect(problem("no-email", GOOD.replace("  tributary:alertEmail: alerts@example.com\n", ""))).toBe(
      "stacks/Pulumi.no-email.yaml: tributary:alertEmail is missing: set it to the e-mail address alarms are sent to.",
    );
  });

  it("names a wrong value with what was expected and what it got", () => {
    expect(problem("bad-raw", GOOD.replace("raw: 30", "raw: ninety"))).toBe(
      'stacks/Pulumi.bad-raw.yaml: tributary:retentionDays.raw must be integer (got "ninety").',
    );
    expect(problem("bad-cloud", GOOD.replace("tributary:cloud: aws", "tributary:cloud: aws2"))).toBe(
      'stacks/Pulumi.bad-cloud.yaml: tributary:cloud must be one of aws, gcp, azure (got "aws2").',
    );
    expect(problem("bad-mail", GOOD.replace("alerts@example.com", "alerts"))).toBe(
      'stacks/Pulumi.bad-mail.yaml: tributary:alertEmail must be the e-mail address alarms are sent to (got "alerts").',
    );
    expect(
      problem("bad-type", GOOD.replace("tributary:pipelines: [commerce]", "tributary:pipelines: commerce")),
    ).toBe(
      'stacks/Pulumi.bad-type.yaml: tributary:pipelines must be a list of the pipelines (asset groups) to deploy, e.g. [commerce] (got "commerce").',
    );
  });

  it("reports every problem at once, unknown keys with a suggestion", () => {
    const body = GOOD.replace("tributary:owner:", "tributary:ownr:").replace("  aws:region: eu-west-1\n", "");
    expect(problem("many", body)).toBe(
      [
        "stacks/Pulumi.many.yaml: 3 problems:",
        '  - tributary:ownr is not a Tributary setting. Did you mean "owner"?',
        "  - tributary:owner is missing: set it to the owning team, as a tag value (letters, digits, spaces and _.:/=+-@)",
        "  - aws:region is missing: set the aws region the stack deploys to",
      ].join("\n"),
    );
  });

  it("names a key nested in an object", () => {
    const body = `${GOOD}  tributary:functions:\n    memoryMb: 64\n    arch: arm64\n`;
    expect(problem("nested", body)).toBe(
      [
        "stacks/Pulumi.nested.yaml: 2 problems:",
        "  - tributary:functions.arch is not a setting of tributary:functions, which is an object { architecture?: arm64 | x86_64, memoryMb?: 128-10240, timeoutSeconds?: 1-900, sourceMaps?: true | false }",
        "  - tributary:functions.memoryMb must be >= 128 (got 64)",
      ].join("\n"),
    );
  });

  it("points at a YAML syntax error and at a missing stack file", () => {
    expect(problem("broken", "config:\n  tributary:cloud: [aws\n")).toMatch(
      /^stacks\/Pulumi\.broken\.yaml:\d+:\d+: /,
    );
    expect(() => configMap(root, "good-x")).toThrow(
      /^stacks\/Pulumi\.good-x\.yaml: no such stack file\. Did you mean "good"\? Stacks here: /,
    );
  });
});
