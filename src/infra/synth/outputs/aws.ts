/**
 * What AWS would answer for a new resource, offline: ARNs in the stack's region under a placeholder
 * account, ids and URLs as the provider shapes them.
 */
import { createHash } from "node:crypto";
import type { FakeOutputs, NewResource } from "./common.ts";

const digest = (text: string) => createHash("sha256").update(text).digest("hex");

/** A UUID made from a text: the same every run. */
function uuidOf(text: string): string {
  const h = digest(text);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The account id synthesised ARNs carry: AWS's documentation placeholder. */
export const OFFLINE_ACCOUNT = "123456789012";

/** AWS's answer for one `aws:` resource: its id and its state (inputs plus computed outputs). */
export function fakeAwsOutputs(r: NewResource, region: string): FakeOutputs {
  const { type, name, inputs } = r;
  const i = inputs as Record<string, string | undefined>;
  const acct = OFFLINE_ACCOUNT;
  // IAM is global: its ARNs name the account but no region.
  const arn = (service: string, resource: string, withRegion = true) =>
    `arn:aws:${service}:${withRegion ? region : ""}:${acct}:${resource}`;
  const named = i.name ?? name;
  const outputs = (id: string, extra: Record<string, unknown>): FakeOutputs => ({
    id,
    state: { ...inputs, ...extra },
  });
  switch (type) {
    case "aws:s3/bucket:Bucket":
      return outputs(name, { bucket: i.bucket ?? name, arn: `arn:aws:s3:::${i.bucket ?? name}` });
    case "aws:kms/key:Key":
      return outputs(`${name}-key-id`, { keyId: `${name}-key-id`, arn: arn("kms", `key/${name}-key-id`) });
    case "aws:kms/alias:Alias":
      return outputs(named, { arn: arn("kms", named) });
    case "aws:cloudwatch/eventBus:EventBus":
      return outputs(named, { name: named, arn: arn("events", `event-bus/${named}`) });
    case "aws:cloudwatch/eventRule:EventRule":
      return outputs(named, {
        name: named,
        arn: arn("events", `rule/${i.eventBusName ?? "default"}/${named}`),
      });
    case "aws:sqs/queue:Queue": {
      const url = `https://sqs.${region}.amazonaws.com/${acct}/${named}`;
      return outputs(url, { name: named, url, arn: arn("sqs", named) });
    }
    case "aws:iam/role:Role":
      return outputs(named, {
        name: named,
        arn: arn("iam", `role/${named}`, false),
        uniqueId: `${named}-unique-id`,
      });
    case "aws:cloudwatch/logGroup:LogGroup":
      return outputs(named, { name: named, arn: arn("logs", `log-group:${named}`) });
    case "aws:lambda/function:Function":
      return outputs(named, {
        name: named,
        arn: arn("lambda", `function:${named}`),
        invokeArn: `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn("lambda", `function:${named}`)}/invocations`,
      });
    case "aws:kinesis/stream:Stream": {
      // A Kinesis data stream's id is its ARN.
      const streamArn = arn("kinesis", `stream/${named}`);
      return outputs(streamArn, { name: named, arn: streamArn });
    }
    case "aws:lambda/eventSourceMapping:EventSourceMapping":
      return outputs(uuidOf(name), { uuid: uuidOf(name) });
    case "aws:sns/topic:Topic":
      return outputs(arn("sns", named), { name: named, arn: arn("sns", named) });
    case "aws:scheduler/schedule:Schedule":
      return outputs(named, { name: named, arn: arn("scheduler", `schedule/default/${named}`) });
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return outputs(named, { name: named, arn: arn("cloudwatch", `alarm:${named}`) });
    case "aws:secretsmanager/secret:Secret": {
      // Secrets Manager appends six random characters to a secret's ARN: these are made from its name.
      const secretArn = arn("secretsmanager", `secret:${named}-${digest(named).slice(0, 6)}`);
      return outputs(secretArn, { name: named, arn: secretArn });
    }
    case "aws:secretsmanager/secretVersion:SecretVersion": {
      const versionId = uuidOf(`${name}-version`);
      return outputs(`${i.secretId}|${versionId}`, {
        arn: i.secretId,
        versionId,
        versionStages: ["AWSCURRENT"],
      });
    }
    case "aws:glue/catalogDatabase:CatalogDatabase":
      return outputs(`${acct}:${named}`, { name: named, arn: arn("glue", `database/${named}`) });
    case "aws:glue/catalogTable:CatalogTable":
      return outputs(`${acct}:${i.databaseName}:${named}`, {
        name: named,
        arn: arn("glue", `table/${i.databaseName}/${named}`),
      });
    case "aws:athena/workgroup:Workgroup":
      return outputs(named, { name: named, arn: arn("athena", `workgroup/${named}`) });
    default:
      return outputs(`${name}-id`, {});
  }
}
